//go:build unix

package postgres

import (
	"errors"
	"syscall"
)

// peek reports whether the socket fd, non-blocking as Go keeps it, has
// bytes, its end or an error waiting, reading nothing.
func peek(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK)
		switch {
		case errors.Is(err, syscall.EINTR):
			continue
		case errors.Is(err, syscall.EAGAIN), errors.Is(err, syscall.EWOULDBLOCK):
			return false // nothing to read: alive as far as anyone can tell
		}
		return true // bytes, the end (none read, no error) or an error
	}
}
