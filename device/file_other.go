//go:build !unix

package device

import "os"

const openNonblock = 0

func setBlocking(*os.File) {}
