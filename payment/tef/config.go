package tef

import (
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/totemd/totemd/internal/config"
)

// Config is the `tef` section: where the TEF manager (GP) is and how totemd presents itself to it.
type Config struct {
	// Device is the GP: tcp://host:port, or file:///path (file://C:/PAYGO on Windows), a root
	// holding the req/ and resp/ folders (REQ/ and RESP/ are found too). "" turns TEF off.
	Device string `yaml:"device"`
	// AutomationName, AutomationVersion and Certification go in 735-000, 736-000 and 738-000
	// of every request (PayGo requires them; other GPs ignore them).
	AutomationName    string `yaml:"automation_name"`
	AutomationVersion string `yaml:"automation_version"`
	Certification     string `yaml:"certification"`
	// Capabilities is the 706-000 bitmask (PayGo). Default DefaultCapabilities.
	Capabilities int `yaml:"capabilities"`
	// MaxInstallments is the most installments a credit sale may ask (017/018); 0 or 1: none.
	MaxInstallments int `yaml:"max_installments"`
	// StatusTimeout is how long the GP has to acknowledge a request; after it the GP is down
	// ("TEF não responde"). Default 7s.
	StatusTimeout time.Duration `yaml:"status_timeout"`
	// CheckInterval is how often the daemon asks the GP whether it is up (ATV) between sales,
	// so the kiosk stops offering cards while it is down (and six times as often while it is
	// down, to notice it is back). Default 1m.
	CheckInterval time.Duration `yaml:"check_interval"`
	// CutResponseTimeout is how long, on the file exchange, a response file may stay cut (no
	// 999-999 trailer) without growing before the GP is taken to have died writing it: the
	// sale's outcome is then unknown and resolved as a pending transaction. Default 10s; more
	// for a GP writing to a slow network share.
	CutResponseTimeout time.Duration `yaml:"cut_response_timeout"`
}

// DefaultCapabilities is 706-000 for an automation that prints the receipts itself (PayGo's
// bits): 4 (fixed value, always set) + 8 (separate customer and merchant copies, 712..715) +
// 16 (reduced customer copy, 710/711).
const DefaultCapabilities = 4 | 8 | 16

// DefaultStatusTimeout is the 7 seconds TEF Dial gives a GP to acknowledge a request.
const DefaultStatusTimeout = 7 * time.Second

// DefaultConfig returns the defaults (no device: TEF is off).
func DefaultConfig() Config {
	return Config{
		AutomationName:     "TOTEMD",
		AutomationVersion:  "1.0",
		Capabilities:       DefaultCapabilities,
		StatusTimeout:      DefaultStatusTimeout,
		CheckInterval:      time.Minute,
		CutResponseTimeout: partialTimeout,
	}
}

// Enabled reports whether a GP is configured.
func (c Config) Enabled() bool { return c.Device != "" }

// Validate checks the section. An empty device is valid: TEF is off.
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	add := func(path, f string, a ...any) { errs = append(errs, config.Errorf(path, f, a...)) }
	if _, err := parseDevice(c.Device); err != nil {
		add("device", "%v", err)
	}
	for _, f := range []struct {
		path, v  string
		required bool
	}{
		{"automation_name", c.AutomationName, true},
		{"automation_version", c.AutomationVersion, true},
		{"certification", c.Certification, false},
	} {
		switch {
		case f.v == "" && f.required:
			add(f.path, "required: it goes in every request to the TEF manager")
		case !printableASCII(f.v) || len(f.v) > 40:
			add(f.path, "%q must be printable ASCII of at most 40 characters", f.v)
		}
	}
	if c.Capabilities < 0 || c.Capabilities > 0xFFFF {
		add("capabilities", "must be a bitmask between 0 and 65535 (default %d), got %d", DefaultCapabilities, c.Capabilities)
	}
	if c.MaxInstallments < 0 || c.MaxInstallments > 99 {
		add("max_installments", "must be between 0 and 99 (0 or 1: no installments), got %d", c.MaxInstallments)
	}
	if c.CutResponseTimeout < 100*time.Millisecond || c.CutResponseTimeout > 10*time.Minute {
		add("cut_response_timeout", "must be between 100ms and 10m (default %s), got %s", partialTimeout, c.CutResponseTimeout)
	}
	if c.CheckInterval < time.Second || c.CheckInterval > time.Hour {
		add("check_interval", "must be between 1s and 1h (default 1m), got %s", c.CheckInterval)
	}
	if c.StatusTimeout < 100*time.Millisecond || c.StatusTimeout > time.Minute {
		add("status_timeout", "must be between 100ms and 1m (TEF Dial says 7s), got %s", c.StatusTimeout)
	}
	return errors.Join(errs...)
}

// device is a parsed Config.Device.
type device struct {
	tcp  string // host:port
	root string // file exchange root
}

// parseDevice reads tcp://host:port, file:///path or file://C:/path.
func parseDevice(s string) (device, error) {
	scheme, rest, ok := strings.Cut(s, "://")
	switch {
	case !ok:
		return device{}, fmt.Errorf("%q: use tcp://host:port or file:///path/to/root (file://C:/PAYGO on Windows)", s)
	case strings.EqualFold(scheme, "tcp"):
		host, port, err := net.SplitHostPort(strings.TrimSuffix(rest, "/"))
		if err != nil || host == "" {
			return device{}, fmt.Errorf("%q: tcp needs host:port, e.g. tcp://127.0.0.1:60906", s)
		}
		if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
			return device{}, fmt.Errorf("%q: port %q is not 1 to 65535", s, port)
		}
		return device{tcp: net.JoinHostPort(host, port)}, nil
	case strings.EqualFold(scheme, "file"):
		p := rest
		if len(p) >= 3 && isLetter(p[0]) && p[1] == ':' && (p[2] == '/' || p[2] == '\\') {
			return device{root: p}, nil // file://C:/PAYGO
		}
		if len(p) >= 4 && p[0] == '/' && isLetter(p[1]) && p[2] == ':' && (p[3] == '/' || p[3] == '\\') {
			return device{root: p[1:]}, nil // file:///C:/PAYGO
		}
		if !strings.HasPrefix(p, "/") || len(p) < 2 {
			return device{}, fmt.Errorf("%q: file needs an absolute path, e.g. file:///var/lib/tef or file://C:/PAYGO", s)
		}
		return device{root: filepath.Clean(p)}, nil
	}
	return device{}, fmt.Errorf("%q: unknown scheme %q; use tcp:// or file://", s, scheme)
}

func isLetter(b byte) bool { return 'a' <= b && b <= 'z' || 'A' <= b && b <= 'Z' }

func printableASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] < 0x20 || s[i] > 0x7e {
			return false
		}
	}
	return true
}
