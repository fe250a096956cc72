//go:build !cgo

package device

import (
	"context"
	"errors"
)

var errNoCgo = errors.New("this totemd was built without cgo: USB links need libusb")

func openUSB(_ context.Context, ep Endpoint) (Link, error) {
	return nil, newLinkError("open", ep.URI, ErrUnsupported, errNoCgo)
}

// ListUSBPrinters lists USB devices with a printer-class (7) interface; this build (no cgo)
// cannot: it returns an empty list and an error wrapping ErrUnsupported.
func ListUSBPrinters() ([]Found, error) {
	return []Found{}, newLinkError("list", "usb", ErrUnsupported, errNoCgo)
}
