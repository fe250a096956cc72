package device

import (
	"fmt"
	"net"
	"net/url"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"time"
)

// Endpoint is a parsed device URI: what Open will open. Options absent from the URI hold their
// defaults.
type Endpoint struct {
	URI    string // as given
	Scheme string // "serial", "usb", "tcp", "file"
	Path   string // serial: port (/dev/ttyUSB0, COM3); file: path (/dev/usb/lp0)
	Host   string // tcp: host:port

	// usb
	VID, PID  uint16
	Serial    string // "" = the only device with that VID:PID
	Interface int    // -1 = the first printer-class (7) interface

	// serial
	Baud     int    // default 9600
	DataBits int    // 5..8, default 8
	Parity   string // "none" (default), "even", "odd"
	StopBits int    // 1 (default) or 2
	Flow     string // "none" (default), "rtscts", "xonxoff"

	// tcp
	KeepAlive   time.Duration // TCP keepalive period, default 30s; 0 = off
	DialTimeout time.Duration // default 5s

	// Options are the URI's options as given (validated), for display.
	Options map[string]string
}

// Defaults.
const (
	DefaultBaud        = 9600
	DefaultKeepAlive   = 30 * time.Second
	DefaultDialTimeout = 5 * time.Second
)

var examples = map[string]string{
	"serial": "serial:///dev/ttyUSB0?baud=115200&flow=rtscts (Windows: serial://COM3?baud=9600)",
	"usb":    "usb://04b8:0e15?serial=ABC123",
	"tcp":    "tcp://10.0.0.5:9100?keepalive=30s",
	"file":   "file:///dev/usb/lp0",
}

const anyExample = "serial:///dev/ttyUSB0?baud=115200, usb://04b8:0e15, tcp://10.0.0.5:9100 or file:///dev/usb/lp0"

var knownOptions = map[string][]string{
	"serial": {"baud", "parity", "databits", "stopbits", "flow"},
	"usb":    {"serial", "interface"},
	"tcp":    {"keepalive", "timeout"},
	"file":   {},
}

func badURI(uri, problem, example string) error {
	return fmt.Errorf("%w %q: %s; for example %s", ErrBadURI, uri, problem, example)
}

// ParseURI parses and validates a device URI (see Open) without opening anything, for
// validating configs. Errors wrap ErrBadURI, say what is wrong and show a correct example.
func ParseURI(uri string) (Endpoint, error) {
	if strings.TrimSpace(uri) == "" {
		return Endpoint{}, badURI(uri, "empty", anyExample)
	}
	if strings.TrimSpace(uri) != uri {
		return Endpoint{}, badURI(uri, "leading or trailing spaces", anyExample)
	}
	scheme, rest, ok := strings.Cut(uri, ":")
	scheme = strings.ToLower(scheme)
	ex, known := examples[scheme]
	if !ok || !validScheme(scheme) || len(scheme) < 2 || (!known && !strings.HasPrefix(rest, "//")) {
		// /dev/ttyUSB0, 10.0.0.5:9100, localhost:9100, C:\x
		return Endpoint{}, badURI(uri, "missing scheme (serial://, usb://, tcp:// or file://)", anyExample)
	}
	if !known {
		return Endpoint{}, badURI(uri, fmt.Sprintf("unknown scheme %q (want serial, usb, tcp or file)", scheme), anyExample)
	}
	if !strings.HasPrefix(rest, "//") {
		return Endpoint{}, badURI(uri, fmt.Sprintf("%s: must be followed by //", scheme), ex)
	}
	rest = rest[2:]
	if strings.Contains(rest, "#") {
		return Endpoint{}, badURI(uri, "unexpected '#'", ex)
	}
	body, query, _ := strings.Cut(rest, "?")
	ep := Endpoint{URI: uri, Scheme: scheme, Options: map[string]string{}, Interface: -1}
	vals, err := url.ParseQuery(query)
	if err != nil {
		return Endpoint{}, badURI(uri, "bad options: "+err.Error(), ex)
	}
	for k, v := range vals {
		if !slices.Contains(knownOptions[scheme], k) {
			known := "none"
			if len(knownOptions[scheme]) > 0 {
				known = strings.Join(knownOptions[scheme], ", ")
			}
			return Endpoint{}, badURI(uri, fmt.Sprintf("unknown option %q for %s (known: %s)", k, scheme, known), ex)
		}
		if len(v) != 1 {
			return Endpoint{}, badURI(uri, fmt.Sprintf("option %q given %d times", k, len(v)), ex)
		}
		if v[0] == "" {
			return Endpoint{}, badURI(uri, fmt.Sprintf("option %q has no value", k), ex)
		}
		ep.Options[k] = v[0]
	}
	body, err = url.PathUnescape(body)
	if err != nil {
		return Endpoint{}, badURI(uri, "bad %-escape in the path", ex)
	}
	var problem string
	switch scheme {
	case "serial":
		problem = parseSerial(&ep, body)
	case "usb":
		problem = parseUSB(&ep, body)
	case "tcp":
		problem = parseTCP(&ep, body)
	case "file":
		problem = parseFile(&ep, body)
	}
	if problem != "" {
		return Endpoint{}, badURI(uri, problem, ex)
	}
	return ep, nil
}

func validScheme(s string) bool {
	for i, c := range s {
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z':
		case i > 0 && (c >= '0' && c <= '9' || c == '+' || c == '-' || c == '.'):
		default:
			return false
		}
	}
	return true
}

// windowsPort says whether s names a Windows COM port (COM3, \\.\COM10).
func windowsPort(s string) bool {
	s = strings.TrimPrefix(s, `\\.\`)
	if len(s) < 4 || !strings.EqualFold(s[:3], "COM") {
		return false
	}
	_, err := strconv.Atoi(s[3:])
	return err == nil
}

func parseSerial(ep *Endpoint, body string) string {
	switch {
	case body == "":
		return "missing the port"
	case strings.HasPrefix(body, "/"):
		if windowsPort(body[1:]) { // serial:///COM3
			body = body[1:]
		}
	case windowsPort(body):
	default:
		// serial://dev/ttyUSB0 or serial://ttyUSB0: the path needs three slashes.
		return fmt.Sprintf("the port %q is not an absolute path or a COM port: use three slashes (serial:///dev/...)", body)
	}
	ep.Path = body
	ep.Baud, ep.DataBits, ep.Parity, ep.StopBits, ep.Flow = DefaultBaud, 8, "none", 1, "none"
	o := ep.Options
	if v, ok := o["baud"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 50 || n > 4_000_000 {
			return fmt.Sprintf("bad baud %q (want a rate such as 9600, 19200, 38400, 57600 or 115200)", v)
		}
		ep.Baud = n
	}
	if v, ok := o["databits"]; ok {
		n, err := strconv.Atoi(v)
		if err != nil || n < 5 || n > 8 {
			return fmt.Sprintf("bad databits %q (want 5, 6, 7 or 8)", v)
		}
		ep.DataBits = n
	}
	if v, ok := o["parity"]; ok {
		v = strings.ToLower(v)
		if v != "none" && v != "even" && v != "odd" {
			return fmt.Sprintf("bad parity %q (want none, even or odd)", o["parity"])
		}
		ep.Parity = v
	}
	if v, ok := o["stopbits"]; ok {
		if v != "1" && v != "2" {
			return fmt.Sprintf("bad stopbits %q (want 1 or 2)", v)
		}
		ep.StopBits = int(v[0] - '0')
	}
	if v, ok := o["flow"]; ok {
		v = strings.ToLower(v)
		if v != "none" && v != "rtscts" && v != "xonxoff" {
			return fmt.Sprintf("bad flow %q (want none, rtscts or xonxoff)", o["flow"])
		}
		ep.Flow = v
	}
	return ""
}

func parseUSB(ep *Endpoint, body string) string {
	body = strings.TrimSuffix(body, "/")
	v, p, ok := strings.Cut(body, ":")
	if !ok {
		return fmt.Sprintf("bad VID:PID %q (want two hex numbers such as 04b8:0e15)", body)
	}
	vid, err1 := strconv.ParseUint(v, 16, 16)
	pid, err2 := strconv.ParseUint(p, 16, 16)
	if err1 != nil || err2 != nil || len(v) > 4 || len(p) > 4 {
		return fmt.Sprintf("bad VID:PID %q (want two hex numbers of up to 4 digits such as 04b8:0e15)", body)
	}
	ep.VID, ep.PID = uint16(vid), uint16(pid)
	ep.Serial = ep.Options["serial"]
	if s, ok := ep.Options["interface"]; ok {
		n, err := strconv.Atoi(s)
		if err != nil || n < 0 || n > 255 {
			return fmt.Sprintf("bad interface %q (want an interface number, 0..255)", s)
		}
		ep.Interface = n
	}
	return ""
}

func parseTCP(ep *Endpoint, body string) string {
	body = strings.TrimSuffix(body, "/")
	host, port, err := net.SplitHostPort(body)
	if err != nil || host == "" {
		return fmt.Sprintf("bad address %q (want host:port)", body)
	}
	if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return fmt.Sprintf("bad port %q (want 1..65535; raw printing is usually 9100)", port)
	}
	ep.Host = body
	ep.KeepAlive, ep.DialTimeout = DefaultKeepAlive, DefaultDialTimeout
	if s, ok := ep.Options["keepalive"]; ok {
		d, err := time.ParseDuration(s)
		if s == "0" || s == "off" {
			d, err = 0, nil
		}
		if err != nil || d < 0 || (d > 0 && d < time.Second) {
			return fmt.Sprintf("bad keepalive %q (want a duration of at least 1s such as 30s, or 0 for none)", s)
		}
		ep.KeepAlive = d
	}
	if s, ok := ep.Options["timeout"]; ok {
		d, err := time.ParseDuration(s)
		if err != nil || d <= 0 {
			return fmt.Sprintf("bad timeout %q (want a duration such as 5s)", s)
		}
		ep.DialTimeout = d
	}
	return ""
}

func parseFile(ep *Endpoint, body string) string {
	if body == "" {
		return "missing the path"
	}
	if runtime.GOOS == "windows" && len(body) > 3 && body[0] == '/' && body[2] == ':' { // file:///C:/x
		body = body[1:]
	}
	if !strings.HasPrefix(body, "/") && !(runtime.GOOS == "windows" && len(body) > 2 && body[1] == ':') {
		return fmt.Sprintf("the path %q is not absolute: use three slashes (file:///dev/...)", body)
	}
	ep.Path = body
	return ""
}

// String returns the endpoint's canonical URI: defaults omitted, options sorted.
func (e Endpoint) String() string {
	var base string
	q := url.Values{}
	switch e.Scheme {
	case "serial":
		base = "serial://" + e.Path
		if e.Baud != 0 && e.Baud != DefaultBaud {
			q.Set("baud", strconv.Itoa(e.Baud))
		}
		if e.DataBits != 0 && e.DataBits != 8 {
			q.Set("databits", strconv.Itoa(e.DataBits))
		}
		if e.Parity != "" && e.Parity != "none" {
			q.Set("parity", e.Parity)
		}
		if e.StopBits == 2 {
			q.Set("stopbits", "2")
		}
		if e.Flow != "" && e.Flow != "none" {
			q.Set("flow", e.Flow)
		}
	case "usb":
		base = fmt.Sprintf("usb://%04x:%04x", e.VID, e.PID)
		if e.Serial != "" {
			q.Set("serial", e.Serial)
		}
		if e.Interface >= 0 {
			q.Set("interface", strconv.Itoa(e.Interface))
		}
	case "tcp":
		base = "tcp://" + e.Host
		if e.KeepAlive != DefaultKeepAlive {
			q.Set("keepalive", e.KeepAlive.String())
		}
		if e.DialTimeout != 0 && e.DialTimeout != DefaultDialTimeout {
			q.Set("timeout", e.DialTimeout.String())
		}
	case "file":
		if strings.HasPrefix(e.Path, "/") {
			base = "file://" + e.Path
		} else {
			base = "file:///" + e.Path
		}
	default:
		return e.URI
	}
	if len(q) > 0 {
		return base + "?" + q.Encode()
	}
	return base
}
