//go:build cgo

package device

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"slices"
	"strings"

	"github.com/google/gousb"
)

// gousbDevice is a claimed printer interface of a device opened with gousb. Each link has its
// own libusb context (and so its own event goroutine), closed with the link.
type gousbDevice struct {
	ctx  *gousb.Context
	dev  *gousb.Device
	cfg  *gousb.Config
	intf *gousb.Interface
	out  *gousb.OutEndpoint
	in   *gousb.InEndpoint // nil: no status
}

func (d *gousbDevice) Write(ctx context.Context, p []byte) (int, error) {
	n, err := d.out.WriteContext(ctx, p)
	return n, usbIOError(err)
}

func (d *gousbDevice) Read(ctx context.Context, p []byte) (int, error) {
	n, err := d.in.ReadContext(ctx, p)
	return n, usbIOError(err)
}

func (d *gousbDevice) CanRead() bool { return d.in != nil }

func (d *gousbDevice) PacketSize() int {
	if d.in == nil {
		return 0
	}
	return d.in.Desc.MaxPacketSize
}

func (d *gousbDevice) Close() error {
	var errs []error
	if d.intf != nil {
		d.intf.Close() // releases the interface; autodetach re-attaches usblp
	}
	if d.cfg != nil {
		errs = append(errs, d.cfg.Close())
	}
	if d.dev != nil {
		errs = append(errs, d.dev.Close())
	}
	errs = append(errs, d.ctx.Close())
	return errors.Join(errs...)
}

// usbIOError marks libusb's "the device went away" as ErrNotFound (goneError).
func usbIOError(err error) error {
	if err != nil && usbKind(err) == ErrNotFound {
		return goneError{err}
	}
	return err
}

// usbKind classifies a gousb error. gousb wraps some libusb errors with %v (claiming an
// interface, setting a config), so their text is matched too.
func usbKind(err error) error {
	is := func(e gousb.Error) bool { return errors.Is(err, e) || strings.Contains(err.Error(), e.Error()) }
	switch {
	case errors.Is(err, gousb.TransferNoDevice), is(gousb.ErrorNoDevice):
		return ErrNotFound
	case is(gousb.ErrorBusy):
		return ErrBusy
	case is(gousb.ErrorAccess):
		return os.ErrPermission
	}
	return nil
}

// newGousbContext is gousb.NewContext without its panic: libusb_init fails where there is no
// USB at all (a container without /dev/bus/usb).
func newGousbContext() (c *gousb.Context, err error) {
	defer func() {
		if r := recover(); r != nil {
			if e, ok := r.(error); ok {
				err = fmt.Errorf("no USB: libusb_init: %w", e)
			} else {
				err = fmt.Errorf("no USB: libusb_init: %v", r)
			}
		}
	}()
	return gousb.NewContext(), nil
}

func isPrinter(d *gousb.DeviceDesc) bool {
	for _, c := range d.Configs {
		for _, i := range c.Interfaces {
			for _, a := range i.AltSettings {
				if a.Class == gousb.ClassPrinter {
					return true
				}
			}
		}
	}
	return false
}

func openUSB(ctx context.Context, ep Endpoint) (Link, error) {
	id := fmt.Sprintf("%04x:%04x", ep.VID, ep.PID)
	fail := func(kind, cause error) (Link, error) { return nil, newLinkError("open", ep.URI, kind, cause) }
	uctx, err := newGousbContext()
	if err != nil {
		return fail(ErrNotFound, err)
	}
	d := &gousbDevice{ctx: uctx}
	ok := false
	defer func() {
		if !ok {
			d.Close()
		}
	}()
	devs, err := uctx.OpenDevices(func(desc *gousb.DeviceDesc) bool {
		return uint16(desc.Vendor) == ep.VID && uint16(desc.Product) == ep.PID
	})
	if len(devs) == 0 {
		if err != nil {
			return fail(usbKind(err), fmt.Errorf("opening USB device %s: %w", id, err))
		}
		return fail(ErrNotFound, fmt.Errorf("no USB device %s", id))
	}
	var serials []string
	for _, dev := range devs {
		s, _ := dev.SerialNumber()
		if d.dev == nil && (ep.Serial == "" && len(devs) == 1 || ep.Serial != "" && s == ep.Serial) {
			d.dev = dev
			continue
		}
		serials = append(serials, fmt.Sprintf("%q", s))
		dev.Close()
	}
	if d.dev == nil {
		if ep.Serial == "" {
			return fail(nil, fmt.Errorf("%d USB devices %s (serials %s): choose one with ?serial=", len(devs), id, strings.Join(serials, ", ")))
		}
		return fail(ErrNotFound, fmt.Errorf("no USB device %s with serial %q (found serials %s)", id, ep.Serial, strings.Join(serials, ", ")))
	}
	if err := ctx.Err(); err != nil {
		return fail(err, nil)
	}
	// Detach usblp (or another kernel driver) while we hold the interface; not supported off
	// Linux, where there is nothing to detach.
	_ = d.dev.SetAutoDetach(true)
	cfgNum, err := d.dev.ActiveConfigNum()
	if err != nil {
		return fail(usbKind(err), err)
	}
	if d.cfg, err = d.dev.Config(cfgNum); err != nil {
		return fail(usbKind(err), err)
	}
	num, alt := -1, 0
	for _, i := range d.cfg.Desc.Interfaces {
		for _, a := range i.AltSettings {
			if num < 0 && (ep.Interface >= 0 && i.Number == ep.Interface || ep.Interface < 0 && a.Class == gousb.ClassPrinter) {
				num, alt = i.Number, a.Alternate
			}
		}
	}
	switch {
	case num < 0 && ep.Interface >= 0:
		return fail(ErrNotFound, fmt.Errorf("USB device %s has no interface %d", id, ep.Interface))
	case num < 0:
		return fail(ErrNotFound, fmt.Errorf("USB device %s has no printer-class (7) interface: name one with ?interface=N", id))
	case num >= len(d.cfg.Desc.Interfaces): // gousb indexes interfaces by number
		return fail(ErrUnsupported, fmt.Errorf("USB device %s numbers its interfaces non-contiguously", id))
	}
	if d.intf, err = d.cfg.Interface(num, alt); err != nil {
		return fail(usbKind(err), err)
	}
	eps := make([]gousb.EndpointDesc, 0, len(d.intf.Setting.Endpoints))
	for _, e := range d.intf.Setting.Endpoints {
		eps = append(eps, e)
	}
	slices.SortFunc(eps, func(a, b gousb.EndpointDesc) int { return cmp.Compare(a.Address, b.Address) })
	for _, e := range eps {
		if e.TransferType != gousb.TransferTypeBulk {
			continue
		}
		switch {
		case e.Direction == gousb.EndpointDirectionOut && d.out == nil:
			if d.out, err = d.intf.OutEndpoint(e.Number); err != nil {
				return fail(nil, err)
			}
		case e.Direction == gousb.EndpointDirectionIn && d.in == nil:
			if d.in, err = d.intf.InEndpoint(e.Number); err != nil {
				return fail(nil, err)
			}
		}
	}
	if d.out == nil {
		return fail(ErrUnsupported, fmt.Errorf("interface %d of USB device %s has no bulk OUT endpoint", num, id))
	}
	ok = true
	return newUSBLink(ep.URI, d), nil
}

// ListUSBPrinters lists USB devices with a printer-class (7) interface. On a machine without
// USB devices, or without USB at all (a container), the list is empty and the error nil.
// Serial numbers and names need the device opened: where that is not permitted they are left
// out.
func ListUSBPrinters() ([]Found, error) {
	out := []Found{}
	uctx, err := newGousbContext()
	if err != nil {
		return out, nil
	}
	defer uctx.Close()
	var descs []*gousb.DeviceDesc
	devs, err := uctx.OpenDevices(func(desc *gousb.DeviceDesc) bool {
		if isPrinter(desc) {
			descs = append(descs, desc)
			return true
		}
		return false
	})
	if err != nil && len(descs) == 0 && usbKind(err) != os.ErrPermission {
		return out, fmt.Errorf("device: listing USB devices: %w", err)
	}
	for _, desc := range descs {
		f := Found{Kind: "usb", VID: uint16(desc.Vendor), PID: uint16(desc.Product)}
		var names []string
		for _, dev := range devs {
			if dev.Desc.Bus == desc.Bus && dev.Desc.Address == desc.Address {
				f.Serial, _ = dev.SerialNumber()
				for _, get := range []func() (string, error){dev.Manufacturer, dev.Product} {
					if s, err := get(); err == nil && strings.TrimSpace(s) != "" {
						names = append(names, strings.TrimSpace(s))
					}
				}
			}
		}
		if len(names) == 0 {
			names = []string{"USB printer"}
		}
		f.Description = fmt.Sprintf("%s (bus %d, address %d)", strings.Join(names, " "), desc.Bus, desc.Address)
		f.URI = Endpoint{Scheme: "usb", VID: f.VID, PID: f.PID, Serial: f.Serial, Interface: -1}.String()
		out = append(out, f)
	}
	for _, dev := range devs {
		dev.Close()
	}
	slices.SortFunc(out, func(a, b Found) int { return cmp.Compare(a.URI, b.URI) })
	return out, nil
}
