package ui

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/totemd/totemd/internal/config"
)

// Config is the `api` section of the config.
type Config struct {
	// Listen is the loopback address the kiosk browser and the CLI reach: 127.0.0.1:8787.
	Listen string `yaml:"listen"`
	// AllowedHosts are extra exact Host header values accepted besides the defaults derived
	// from Listen (127.0.0.1:PORT, localhost:PORT, [::1]:PORT).
	AllowedHosts []string `yaml:"allowed_hosts"`
	// AllowedOrigins are extra exact Origin values accepted besides the daemon's own
	// (http://127.0.0.1:PORT, http://localhost:PORT).
	AllowedOrigins []string `yaml:"allowed_origins"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config { return Config{Listen: "127.0.0.1:8787"} }

// Validate checks the section: the API never listens beyond loopback.
func (c Config) Validate() error {
	var errs []error
	if _, _, err := LoopbackAddr(c.Listen); err != nil {
		errs = append(errs, config.Errorf("listen", "%v", err))
	}
	for i, h := range c.AllowedHosts {
		if h == "" || strings.ContainsAny(h, "/ ") || strings.Contains(h, "://") {
			errs = append(errs, config.Errorf(fmt.Sprintf("allowed_hosts[%d]", i), "%q must be a bare host:port as browsers send it, e.g. kiosk.local:8787", h))
		}
	}
	for i, o := range c.AllowedOrigins {
		u, err := url.Parse(o)
		if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" {
			errs = append(errs, config.Errorf(fmt.Sprintf("allowed_origins[%d]", i), "%q must be an origin like http://127.0.0.1:8787 (scheme and host, no path)", o))
		}
	}
	return errors.Join(errs...)
}

// LoopbackAddr checks that addr is host:port on loopback and returns them.
func LoopbackAddr(addr string) (host string, port int, err error) {
	h, p, err := net.SplitHostPort(addr)
	if err != nil {
		return "", 0, fmt.Errorf("%q is not host:port; use e.g. 127.0.0.1:8787", addr)
	}
	port, err = strconv.Atoi(p)
	if err != nil || port < 0 || port > 65535 {
		return "", 0, fmt.Errorf("%q has no valid port; use e.g. 127.0.0.1:8787", addr)
	}
	if h == "localhost" {
		return h, port, nil
	}
	ip := net.ParseIP(h)
	if ip == nil || !ip.IsLoopback() {
		return "", 0, fmt.Errorf("%q is not a loopback address: the local API must only be reachable from this machine; use 127.0.0.1:%s", addr, p)
	}
	return h, port, nil
}

// allowlists derives the exact Host and Origin values accepted for the bound port.
func (c Config) allowlists(port int) (hosts, origins map[string]bool) {
	hosts, origins = map[string]bool{}, map[string]bool{}
	for _, h := range []string{"127.0.0.1", "localhost", "[::1]"} {
		hp := h + ":" + strconv.Itoa(port)
		hosts[hp] = true
		origins["http://"+hp] = true
	}
	for _, h := range c.AllowedHosts {
		hosts[strings.ToLower(h)] = true
	}
	for _, o := range c.AllowedOrigins {
		origins[strings.ToLower(o)] = true
	}
	return hosts, origins
}
