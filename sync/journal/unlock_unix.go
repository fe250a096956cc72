//go:build unix

package journal

import (
	"os"
	"syscall"
)

// unlockFile releases bbolt's flock on f explicitly. Closing f is not enough
// after bbolt mapped the file: the mapping keeps the open file description,
// and so the lock, alive.
func unlockFile(f *os.File) {
	_ = syscall.Flock(int(f.Fd()), syscall.LOCK_UN)
}
