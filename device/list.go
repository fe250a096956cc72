package device

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"

	"go.bug.st/serial"
	"go.bug.st/serial/enumerator"
)

// Found is a device that a link could be opened to, for `totemd printer list`.
type Found struct {
	URI, Kind, Description string
	VID, PID               uint16 // 0 when unknown
	Serial                 string
}

// ListSerial lists serial ports (go.bug.st/serial/enumerator), with VID/PID, serial number and
// product for USB serial adapters when the system tells them.
func ListSerial() ([]Found, error) {
	out := []Found{}
	names, err := serial.GetPortsList()
	if err != nil {
		return out, fmt.Errorf("device: listing serial ports: %w", err)
	}
	details := map[string]*enumerator.PortDetails{}
	if ds, err := enumerator.GetDetailedPortsList(); err == nil { // details are optional
		for _, d := range ds {
			if d != nil && d.Name != "" {
				details[d.Name] = d
			}
		}
	}
	for _, name := range names {
		f := Found{Kind: "serial", Description: "serial port", URI: "serial://" + name} // /dev/x: serial:///dev/x
		if d := details[name]; d != nil && d.IsUSB {
			vid, _ := strconv.ParseUint(d.VID, 16, 16)
			pid, _ := strconv.ParseUint(d.PID, 16, 16)
			f.VID, f.PID, f.Serial = uint16(vid), uint16(pid), d.SerialNumber
			desc := strings.TrimSpace(strings.Join([]string{d.Manufacturer, d.Product}, " "))
			if desc == "" {
				desc = "USB serial adapter"
			}
			f.Description = fmt.Sprintf("%s (%04x:%04x)", desc, f.VID, f.PID)
		}
		out = append(out, f)
	}
	slices.SortFunc(out, func(a, b Found) int { return cmp.Compare(a.URI, b.URI) })
	return out, nil
}
