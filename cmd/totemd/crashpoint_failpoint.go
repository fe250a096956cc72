//go:build failpoint

package main

import (
	"log/slog"
	"os"
	"syscall"
)

// crashPoint, in binaries built with -tags failpoint (the crash tests' binary only), kills the
// process with SIGKILL at the card-flow point named by TOTEMD_CRASH_AT: no deferred code, no
// flush, exactly as a power cut or kill -9 at that instant.
func crashPoint(log *slog.Logger) func(string) {
	at := os.Getenv("TOTEMD_CRASH_AT")
	if at == "" {
		return nil
	}
	return func(point string) {
		if point == at {
			log.Warn("failpoint: SIGKILL", "point", point)
			syscall.Kill(os.Getpid(), syscall.SIGKILL)
			select {} // the signal is on its way
		}
	}
}
