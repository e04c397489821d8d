package mem

import (
	"math/rand/v2"
	"strings"
)

// memTree is an ordered map from string keys, a treap whose nodes are
// shared between versions: a node belongs to the transaction that made
// it, which alone may change it in place; any other copies it first.
type memTree[V any] struct {
	root *memNode[V]
}

type memNode[V any] struct {
	key         string
	val         V
	prio        uint64 // a heap on prio keeps the tree balanced, expected
	owner       uint64
	left, right *memNode[V]
}

// own returns n itself if owner may change it, else a copy that it may.
func (n *memNode[V]) own(owner uint64) *memNode[V] {
	if n.owner == owner {
		return n
	}
	c := *n
	c.owner = owner
	return &c
}

func (t *memTree[V]) get(key string) (V, bool) {
	for n := t.root; n != nil; {
		switch c := strings.Compare(key, n.key); {
		case c < 0:
			n = n.left
		case c > 0:
			n = n.right
		default:
			return n.val, true
		}
	}
	var zero V
	return zero, false
}

func (t *memTree[V]) set(owner uint64, key string, val V) {
	t.root = memInsert(t.root, owner, key, val)
}

// del removes key and reports whether it was there.
func (t *memTree[V]) del(owner uint64, key string) bool {
	var ok bool
	t.root, ok = memRemove(t.root, owner, key)
	return ok
}

// memInsert returns n with key set to val. Every node it returns on the
// path is owned by owner, so rotations may change them in place.
func memInsert[V any](n *memNode[V], owner uint64, key string, val V) *memNode[V] {
	if n == nil {
		return &memNode[V]{key: key, val: val, prio: rand.Uint64(), owner: owner}
	}
	switch c := strings.Compare(key, n.key); {
	case c < 0:
		l := memInsert(n.left, owner, key, val)
		n = n.own(owner)
		n.left = l
		if l.prio > n.prio { // rotate right
			n.left, l.right = l.right, n
			return l
		}
	case c > 0:
		r := memInsert(n.right, owner, key, val)
		n = n.own(owner)
		n.right = r
		if r.prio > n.prio { // rotate left
			n.right, r.left = r.left, n
			return r
		}
	default:
		n = n.own(owner)
		n.val = val
	}
	return n
}

func memRemove[V any](n *memNode[V], owner uint64, key string) (*memNode[V], bool) {
	if n == nil {
		return nil, false
	}
	switch c := strings.Compare(key, n.key); {
	case c < 0:
		l, ok := memRemove(n.left, owner, key)
		if !ok {
			return n, false
		}
		n = n.own(owner)
		n.left = l
	case c > 0:
		r, ok := memRemove(n.right, owner, key)
		if !ok {
			return n, false
		}
		n = n.own(owner)
		n.right = r
	default:
		return memMerge(n.left, n.right, owner), true
	}
	return n, true
}

// memMerge joins two treaps whose keys are all in a before all in b.
func memMerge[V any](a, b *memNode[V], owner uint64) *memNode[V] {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	case a.prio > b.prio:
		a = a.own(owner)
		a.right = memMerge(a.right, b, owner)
		return a
	default:
		b = b.own(owner)
		b.left = memMerge(a, b.left, owner)
		return b
	}
}

// ascend calls fn with each key at or after from, in order, until fn
// returns false.
func (t *memTree[V]) ascend(from string, fn func(k string, v V) bool) {
	memAscend(t.root, from, fn)
}

func memAscend[V any](n *memNode[V], from string, fn func(string, V) bool) bool {
	for n != nil {
		if n.key >= from {
			if !memAscend(n.left, from, fn) || !fn(n.key, n.val) {
				return false
			}
		}
		n = n.right
	}
	return true
}

// descend calls fn with each key before below, last first, until fn
// returns false.
func (t *memTree[V]) descend(below string, fn func(k string, v V) bool) {
	memDescend(t.root, func(k string) bool { return k < below }, fn)
}

// descendAll calls fn with every key, last first, until fn returns false.
func (t *memTree[V]) descendAll(fn func(k string, v V) bool) {
	memDescend(t.root, func(string) bool { return true }, fn)
}

func memDescend[V any](n *memNode[V], in func(string) bool, fn func(string, V) bool) bool {
	for n != nil {
		if in(n.key) {
			if !memDescend(n.right, in, fn) || !fn(n.key, n.val) {
				return false
			}
		}
		n = n.left
	}
	return true
}
