package device

import (
	"errors"
	"syscall"
)

// isErrno says whether err wraps one of errnos.
func isErrno(err error, errnos ...syscall.Errno) bool {
	var e syscall.Errno
	if !errors.As(err, &e) {
		return false
	}
	for _, x := range errnos {
		if e == x {
			return true
		}
	}
	return false
}

// goneErrnos: what drivers return for a device that went away.
var goneErrnos = []syscall.Errno{syscall.EIO, syscall.ENODEV, syscall.ENXIO}
