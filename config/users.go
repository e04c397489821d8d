package config

import (
	"fmt"
	"strings"
	"unicode"

	"golang.org/x/crypto/bcrypt"
)

// Role is what a dashboard user may do.
type Role string

// Roles of a dashboard user.
const (
	// RoleAdmin may do everything the dashboard offers, as the admin
	// token does.
	RoleAdmin Role = "admin"
	// RoleStaff sees the inbox, the contacts and the messages, and may
	// answer, send and close handoffs; not cancel, start, import, reload or
	// pause.
	RoleStaff Role = "staff"
)

// TokenActor is the name the admin token acts under: what a session opened
// with it and the admin API record as who did a thing. No user may take it.
const TokenActor = "admin"

// maxUserName bounds a user name, which shows on every record it made.
const maxUserName = 64

// User is a person who logs in to the dashboard with a name and a password:
//
//	admin:
//	  users:
//	    - { name: "Ann", password_hash: "$2a$10$...", role: admin }
//	    - { name: "Bob", password_hash: "$2a$10$...", role: staff }
//
// PasswordHash is a bcrypt hash, as `keyway hash-password` prints it.
type User struct {
	Name         string `yaml:"name"`
	PasswordHash string `yaml:"password_hash"`
	Role         Role   `yaml:"role"`
}

// User returns the user called name, whatever its case ("ann" is the user
// written "Ann": names are unique so), or nil.
func (a Admin) User(name string) *User {
	folded := FoldUserName(name)
	for i := range a.Users {
		if FoldUserName(a.Users[i].Name) == folded {
			return &a.Users[i]
		}
	}
	return nil
}

// FoldUserName is a user name as names are compared: in lower case, so
// that a person typing their name at the login need not remember how the
// file wrote it, and no two users differ by case alone.
func FoldUserName(name string) string { return strings.ToLower(name) }

// DashboardOn reports whether the dashboard takes logins: with the admin
// token or with at least one user.
func (a Admin) DashboardOn() bool { return a.Token != "" || len(a.Users) > 0 }

// users checks admin.users: each a name (unique, whatever its case; the
// admin token's is only warned about), a bcrypt hash and a known role.
func (k *checker) users() {
	seen := map[string]string{} // folded name → path of the first
	for i, u := range k.c.Admin.Users {
		path := fmt.Sprintf("admin.users[%d]", i)
		folded := FoldUserName(u.Name)
		first, dup := seen[folded]
		switch {
		case u.Name == "":
			k.errorf(path, "%s: missing name", path)
		case u.Name != strings.TrimSpace(u.Name) || strings.IndexFunc(u.Name, unicode.IsControl) >= 0:
			k.errorf(path+".name", "%s: name %q has spaces at an end or control characters", path, u.Name)
		case len(u.Name) > maxUserName:
			k.errorf(path+".name", "%s: name is %d bytes long; at most %d", path, len(u.Name), maxUserName)
		case dup:
			k.errorf(path+".name", "%s: duplicate user name %q (first at %s)", path, u.Name, k.at(first))
		default:
			seen[folded] = path + ".name"
			if folded == TokenActor {
				// Allowed (they log in by name, the token with none), but
				// what either does is recorded under the same name.
				k.warnf(path+".name", "%s: the name %q is also what the admin token is recorded as: what this user and the token do will read alike (\"by %s\"); give this user a name of its own to tell them apart", path, u.Name, TokenActor)
			}
		}
		if u.PasswordHash == "" {
			k.errorf(path, "%s: missing password_hash: make one with `keyway hash-password`", path)
		} else if cost, err := bcrypt.Cost([]byte(u.PasswordHash)); err != nil {
			k.errorf(path+".password_hash", "%s: password_hash is not a bcrypt hash (%v): make one with `keyway hash-password`, never write the password itself", path, err)
		} else if cost < bcrypt.DefaultCost {
			k.warnf(path+".password_hash", "%s: password_hash has bcrypt cost %d, cheap to guess; make a new one with `keyway hash-password` (cost %d)", path, cost, bcrypt.DefaultCost)
		}
		switch u.Role {
		case RoleAdmin, RoleStaff:
		case "":
			k.errorf(path, "%s: missing role: write admin or staff", path)
		default:
			k.errorf(path+".role", "%s: unknown role %q: write admin or staff", path, u.Role)
		}
	}
}
