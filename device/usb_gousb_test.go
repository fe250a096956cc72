//go:build cgo

package device

import (
	"context"
	"errors"
	"fmt"
	"os"
	"testing"

	"github.com/google/gousb"
)

func TestListUSBPrinters(t *testing.T) {
	found, err := ListUSBPrinters()
	if err != nil {
		t.Fatalf("ListUSBPrinters: %v", err)
	}
	if found == nil {
		t.Error("nil list, want an empty one")
	}
	for _, f := range found {
		t.Logf("%+v", f)
		ep, err := ParseURI(f.URI)
		if err != nil || f.Kind != "usb" || ep.VID != f.VID || ep.PID != f.PID || ep.Serial != f.Serial {
			t.Errorf("found %+v: %+v, %v", f, ep, err)
		}
	}
}

func TestOpenUSBAbsent(t *testing.T) {
	// No device ffff:fffe anywhere (and maybe no USB at all): ErrNotFound, not a panic.
	_, err := Open(context.Background(), "usb://ffff:fffe?serial=nope")
	if !errors.Is(err, ErrNotFound) {
		t.Fatalf("Open of an absent USB device: %v, want ErrNotFound", err)
	}
	t.Log(err)
}

func TestUSBKind(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want error
	}{
		{gousb.ErrorNoDevice, ErrNotFound},
		{gousb.TransferNoDevice, ErrNotFound},
		{fmt.Errorf("failed to claim interface 0 on vid=04b8,pid=0e15: %v", gousb.ErrorBusy), ErrBusy},
		{fmt.Errorf("Can't detach kernel driver: %v", gousb.ErrorAccess), os.ErrPermission},
		{gousb.TransferStall, nil},
	} {
		if got := usbKind(tc.err); got != tc.want {
			t.Errorf("usbKind(%v) = %v, want %v", tc.err, got, tc.want)
		}
	}
	if err := usbIOError(gousb.TransferNoDevice); !errors.Is(err, ErrNotFound) || err.Error() != gousb.TransferNoDevice.Error() {
		t.Errorf("usbIOError = %v", err)
	}
}
