package device

import (
	"bytes"
	"context"
	"errors"
	"io"
	"reflect"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// slack is how late a deadline may end an operation in these tests: "promptly", allowing for
// the race detector on a loaded machine (a missed deadline blocks until data, seconds more).
const slack = 1500 * time.Millisecond

func mustOpen(t *testing.T, uri string) Link {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	l, err := Open(ctx, uri)
	if err != nil {
		t.Fatalf("Open(%s): %v", uri, err)
	}
	t.Cleanup(func() { l.Close() })
	return l
}

// readFull reads len(want) bytes with a deadline and compares.
func expectRead(t *testing.T, l Link, want []byte) {
	t.Helper()
	l.SetReadDeadline(time.Now().Add(5 * time.Second))
	got := make([]byte, len(want))
	if _, err := io.ReadFull(l, got); err != nil {
		t.Fatalf("reading %d bytes: %v (got %q)", len(want), err, got)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("read %q, want %q", got, want)
	}
}

func TestParseURI(t *testing.T) {
	tests := []struct {
		uri  string
		want Endpoint // compared on the fields set in the case
		err  []string // substrings of the error; nil: no error
	}{
		{uri: "serial:///dev/ttyUSB0", want: Endpoint{Scheme: "serial", Path: "/dev/ttyUSB0", Baud: 9600, DataBits: 8, Parity: "none", StopBits: 1, Flow: "none"}},
		{uri: "serial:///dev/ttyUSB0?baud=115200&parity=even&databits=7&stopbits=2&flow=rtscts",
			want: Endpoint{Scheme: "serial", Path: "/dev/ttyUSB0", Baud: 115200, DataBits: 7, Parity: "even", StopBits: 2, Flow: "rtscts"}},
		{uri: "SERIAL://COM3?baud=19200&flow=xonxoff", want: Endpoint{Scheme: "serial", Path: "COM3", Baud: 19200, DataBits: 8, Parity: "none", StopBits: 1, Flow: "xonxoff"}},
		{uri: "serial:///dev/serial/by-id/usb-Prolific%20Tech-if00", want: Endpoint{Scheme: "serial", Path: "/dev/serial/by-id/usb-Prolific Tech-if00", Baud: 9600, DataBits: 8, Parity: "none", StopBits: 1, Flow: "none"}},
		{uri: "usb://04b8:0e15", want: Endpoint{Scheme: "usb", VID: 0x04b8, PID: 0x0e15, Interface: -1}},
		{uri: "usb://04B8:E15?serial=ABC123&interface=1", want: Endpoint{Scheme: "usb", VID: 0x04b8, PID: 0x0e15, Serial: "ABC123", Interface: 1}},
		{uri: "tcp://10.0.0.5:9100", want: Endpoint{Scheme: "tcp", Host: "10.0.0.5:9100", KeepAlive: 30 * time.Second, DialTimeout: 5 * time.Second}},
		{uri: "tcp://[::1]:9100?keepalive=10s&timeout=2s", want: Endpoint{Scheme: "tcp", Host: "[::1]:9100", KeepAlive: 10 * time.Second, DialTimeout: 2 * time.Second}},
		{uri: "tcp://printer.local:9100?keepalive=0", want: Endpoint{Scheme: "tcp", Host: "printer.local:9100", KeepAlive: 0, DialTimeout: 5 * time.Second}},
		{uri: "file:///dev/usb/lp0", want: Endpoint{Scheme: "file", Path: "/dev/usb/lp0"}},

		{uri: "", err: []string{"empty", "serial:///dev/ttyUSB0"}},
		{uri: "/dev/ttyUSB0", err: []string{"missing scheme", "serial:///dev/ttyUSB0?baud=115200"}},
		{uri: "10.0.0.5:9100", err: []string{"missing scheme", "tcp://10.0.0.5:9100"}},
		{uri: "localhost:9100", err: []string{"missing scheme"}},
		{uri: "lpt://1", err: []string{`unknown scheme "lpt"`, "usb://04b8:0e15"}},
		{uri: "serial:/dev/ttyUSB0", err: []string{"must be followed by //", "serial:///dev/ttyUSB0?baud=115200"}},
		{uri: "serial://dev/ttyUSB0", err: []string{"three slashes", "serial:///dev/ttyUSB0"}},
		{uri: "serial:///dev/ttyUSB0?baud=fast", err: []string{`bad baud "fast"`, "9600", "serial:///dev/ttyUSB0?baud=115200"}},
		{uri: "serial:///dev/ttyUSB0?baud=0", err: []string{`bad baud "0"`}},
		{uri: "serial:///dev/ttyUSB0?baud=", err: []string{`option "baud" has no value`}},
		{uri: "serial:///dev/ttyUSB0?baud=9600&baud=19200", err: []string{`option "baud" given 2 times`}},
		{uri: "serial:///dev/ttyUSB0?parity=mark", err: []string{`bad parity "mark"`, "none, even or odd"}},
		{uri: "serial:///dev/ttyUSB0?stopbits=1.5", err: []string{`bad stopbits "1.5"`}},
		{uri: "serial:///dev/ttyUSB0?databits=9", err: []string{`bad databits "9"`}},
		{uri: "serial:///dev/ttyUSB0?flow=hardware", err: []string{`bad flow "hardware"`, "rtscts"}},
		{uri: "serial:///dev/ttyUSB0?speed=9600", err: []string{`unknown option "speed" for serial`, "known: baud, parity, databits, stopbits, flow"}},
		{uri: "usb://04b8", err: []string{`bad VID:PID "04b8"`, "usb://04b8:0e15"}},
		{uri: "usb://epson:tm20", err: []string{`bad VID:PID "epson:tm20"`, "hex"}},
		{uri: "usb://104b8:0e15", err: []string{`bad VID:PID`}},
		{uri: "usb://04b8:0e15?interface=x", err: []string{`bad interface "x"`}},
		{uri: "usb://04b8:0e15?baud=9600", err: []string{`unknown option "baud" for usb`, "known: serial, interface"}},
		{uri: "tcp://10.0.0.5", err: []string{`bad address "10.0.0.5"`, "host:port", "tcp://10.0.0.5:9100"}},
		{uri: "tcp://10.0.0.5:0", err: []string{`bad port "0"`}},
		{uri: "tcp://10.0.0.5:9100?keepalive=often", err: []string{`bad keepalive "often"`}},
		{uri: "tcp://10.0.0.5:9100?timeout=-1s", err: []string{`bad timeout "-1s"`}},
		{uri: "file://lp0", err: []string{"not absolute", "file:///dev/usb/lp0"}},
		{uri: "file:///dev/usb/lp0?baud=9600", err: []string{`unknown option "baud" for file (known: none)`}},
	}
	for _, tc := range tests {
		t.Run(tc.uri, func(t *testing.T) {
			ep, err := ParseURI(tc.uri)
			if tc.err != nil {
				if err == nil {
					t.Fatalf("ParseURI(%q) = %+v, want an error", tc.uri, ep)
				}
				if !errors.Is(err, ErrBadURI) {
					t.Errorf("error %v does not wrap ErrBadURI", err)
				}
				for _, s := range tc.err {
					if !strings.Contains(err.Error(), s) {
						t.Errorf("error %q lacks %q", err, s)
					}
				}
				// Open says the same.
				if _, oerr := Open(context.Background(), tc.uri); oerr == nil || oerr.Error() != err.Error() {
					t.Errorf("Open error %v, want %v", oerr, err)
				}
				return
			}
			if err != nil {
				t.Fatalf("ParseURI(%q): %v", tc.uri, err)
			}
			ep.Options, ep.URI = nil, ""
			if tc.want.Scheme != "usb" {
				tc.want.Interface = -1 // not a usb URI: the default
			}
			if !reflect.DeepEqual(ep, tc.want) {
				t.Errorf("ParseURI(%q)\n got %+v\nwant %+v", tc.uri, ep, tc.want)
			}
			// The canonical form parses to the same endpoint.
			again, err := ParseURI(ep.String())
			if err != nil {
				t.Fatalf("ParseURI(String() = %q): %v", ep.String(), err)
			}
			again.Options, again.URI = nil, ""
			if !reflect.DeepEqual(again, ep) {
				t.Errorf("round trip through %q: got %+v", ep.String(), again)
			}
		})
	}
}

func TestDisconnected(t *testing.T) {
	for _, tc := range []struct {
		err  error
		want bool
	}{
		{newLinkError("read", "x", ErrNotFound, errors.New("EIO")), true},
		{newLinkError("write", "x", errors.ErrUnsupported, nil), false},
		{deadlineError("read", "x"), false},
		{closedError("read", "x"), false},
		{nil, false},
	} {
		if got := Disconnected(tc.err); got != tc.want {
			t.Errorf("Disconnected(%v) = %v", tc.err, got)
		}
	}
}
