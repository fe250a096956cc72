//go:build unix

package device

import (
	"os"
	"syscall"
)

const openNonblock = syscall.O_NONBLOCK

func setBlocking(f *os.File) {
	if rc, err := f.SyscallConn(); err == nil {
		_ = rc.Control(func(fd uintptr) { _ = syscall.SetNonblock(int(fd), false) })
	}
}
