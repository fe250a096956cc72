package journal

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Config is the journal section of the totemd configuration file.
type Config struct {
	// Retention is how long events the cloud has acknowledged are kept
	// before Compact may remove them.
	Retention time.Duration `yaml:"retention"`
	// OpenTimeout is how long Open waits for the file lock (Options.Timeout).
	OpenTimeout time.Duration `yaml:"open_timeout"`
}

// DefaultConfig returns the default journal configuration: 30 days of
// retention and a 5 s open timeout.
func DefaultConfig() Config {
	return Config{Retention: 720 * time.Hour, OpenTimeout: defaultOpenTimeout}
}

// Validate reports every invalid field; each message starts with the yaml
// field name.
func (c Config) Validate() error {
	var errs []error
	if c.Retention < time.Hour {
		errs = append(errs, fmt.Errorf("retention: must be at least 1h (got %s); events the cloud has acknowledged are kept this long",
			shortDuration(c.Retention)))
	}
	if c.OpenTimeout < 100*time.Millisecond || c.OpenTimeout > time.Minute {
		errs = append(errs, fmt.Errorf("open_timeout: must be between 100ms and 60s (got %s); how long to wait for the journal file held by another process",
			shortDuration(c.OpenTimeout)))
	}
	return errors.Join(errs...)
}

// shortDuration formats d without trailing zero units: 10m, 1h, 1h30m.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}
