//go:build !failpoint

package main

import "log/slog"

// crashPoint is nil in release builds: the card flow's crash points do nothing.
func crashPoint(*slog.Logger) func(string) { return nil }
