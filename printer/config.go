package printer

import (
	"errors"
	"time"

	"github.com/totemd/totemd/device"
	"github.com/totemd/totemd/internal/config"
	"github.com/totemd/totemd/printer/profile"
	"github.com/totemd/totemd/printer/ticket"
)

// Config is the `printer` section.
type Config struct {
	// Device is the link URI: usb://04b8:0e15, serial:///dev/ttyUSB0?baud=115200,
	// tcp://10.0.0.5:9100, file:///dev/usb/lp0. Empty: no printer (payments are refused).
	Device string `yaml:"device"`
	// Profile is the model: generic-80, generic-58, epson-tm-t20, epson-tm-t88,
	// bematech-mp4200th, elgin-i9, custom-vkp80, or any escpos-printer-db model name.
	Profile string `yaml:"profile"`
	// Ticket is the layout of the customer ticket.
	Ticket ticket.Layout `yaml:"ticket"`
	// PollInterval is how often status is read while idle.
	PollInterval time.Duration `yaml:"poll_interval"`
	// StatusTimeout is how long to wait for the answer to one status request.
	StatusTimeout time.Duration `yaml:"status_timeout"`
	// JobTimeout bounds one job: sending it and the end-of-job check.
	JobTimeout time.Duration `yaml:"job_timeout"`
	// KeepJobs is how long finished jobs stay in the journal (for reprints).
	KeepJobs time.Duration `yaml:"keep_jobs"`
}

// DefaultConfig returns the defaults.
func DefaultConfig() Config {
	return Config{Profile: "generic-80", Ticket: ticket.DefaultLayout(), PollInterval: 2 * time.Second,
		StatusTimeout: time.Second, JobTimeout: 30 * time.Second, KeepJobs: 7 * 24 * time.Hour}
}

// Enabled reports whether a printer is configured.
func (c Config) Enabled() bool { return c.Device != "" }

// Validate checks the section.
func (c Config) Validate() error {
	var errs []error
	if c.Device != "" {
		if _, err := device.ParseURI(c.Device); err != nil {
			errs = append(errs, config.Errorf("device", "%v", err))
		}
	}
	if _, err := profile.Get(c.Profile); err != nil {
		errs = append(errs, config.Errorf("profile", "%v", err))
	}
	between := func(path string, d, lo, hi time.Duration) {
		if d < lo || d > hi {
			errs = append(errs, config.Errorf(path, "must be between %s and %s (got %s)", lo, hi, d))
		}
	}
	between("poll_interval", c.PollInterval, 200*time.Millisecond, time.Minute)
	between("status_timeout", c.StatusTimeout, 50*time.Millisecond, 10*time.Second)
	between("job_timeout", c.JobTimeout, time.Second, 5*time.Minute)
	between("keep_jobs", c.KeepJobs, time.Hour, 365*24*time.Hour)
	errs = append(errs, config.Within("ticket", c.Ticket.Validate()))
	return errors.Join(errs...)
}
