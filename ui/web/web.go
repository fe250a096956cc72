// Package web is the reference kiosk UI (pt-BR), embedded in the binary so the kiosk needs no
// network and the browser never leaves the daemon's origin.
package web

import "embed"

// Files holds the UI under static/.
//
//go:embed static
var Files embed.FS
