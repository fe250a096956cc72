package main

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"regexp"

	"github.com/totemd/totemd/configs"
	"github.com/totemd/totemd/internal/config"
	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/payment/tef"
	"github.com/totemd/totemd/printer"
	"github.com/totemd/totemd/sync/journal"
	"github.com/totemd/totemd/ui"
)

// Config is the whole configuration file: each section belongs to its package.
type Config struct {
	Kiosk    KioskConfig     `yaml:"kiosk"`
	StateDir string          `yaml:"state_dir"`
	Log      LogConfig       `yaml:"log"`
	API      ui.Config       `yaml:"api"`
	Payment  payment.Config  `yaml:"payment"`
	Catalog  payment.Catalog `yaml:"catalog"`
	Journal  journal.Config  `yaml:"journal"`
	Pix      pix.Config      `yaml:"pix"`
	Printer  printer.Config  `yaml:"printer"`
	TEF      tef.Config      `yaml:"tef"`
}

// KioskConfig identifies the kiosk.
type KioskConfig struct {
	ID   string `yaml:"id"`
	Name string `yaml:"name"`
}

// LogConfig sets up log/slog.
type LogConfig struct {
	Level  string `yaml:"level"`
	Format string `yaml:"format"`
}

var kioskIDRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$`)

// Validate checks the kiosk section.
func (k KioskConfig) Validate() error {
	if k.ID == "" {
		return config.Errorf("id", "required: set this kiosk's unique id, e.g. totem-01")
	}
	if !kioskIDRe.MatchString(k.ID) {
		return config.Errorf("id", "%q must be 1-64 letters, digits, '-', '_' or '.', starting with a letter or digit", k.ID)
	}
	return nil
}

// Validate checks the log section.
func (l LogConfig) Validate() error {
	var errs []error
	if _, err := parseLevel(l.Level); err != nil {
		errs = append(errs, config.Errorf("level", "%q is not a level; use debug, info, warn or error", l.Level))
	}
	if l.Format != "text" && l.Format != "json" {
		errs = append(errs, config.Errorf("format", "%q is not a format; use text or json", l.Format))
	}
	return errors.Join(errs...)
}

func parseLevel(s string) (slog.Level, error) {
	var l slog.Level
	err := l.UnmarshalText([]byte(s))
	return l, err
}

func defaultConfig() Config {
	return Config{
		StateDir: "/var/lib/totemd",
		Log:      LogConfig{Level: "info", Format: "text"},
		API:      ui.DefaultConfig(),
		Payment:  payment.DefaultConfig(),
		Journal:  journal.DefaultConfig(),
		Pix:      pix.DefaultConfig(),
		Printer:  printer.DefaultConfig(),
		TEF:      tef.DefaultConfig(),
	}
}

// Validate checks every section; errors carry the full path of the field.
func (c Config) Validate() error {
	var stateErr error
	if c.StateDir == "" {
		stateErr = config.Errorf("state_dir", "required: the directory for the journal and the API token, e.g. /var/lib/totemd")
	}
	return errors.Join(
		config.Within("kiosk", c.Kiosk.Validate()),
		stateErr,
		config.Within("log", c.Log.Validate()),
		config.Within("api", c.API.Validate()),
		config.Within("payment", c.Payment.Validate()),
		config.Within("catalog", c.Catalog.Validate()),
		config.Within("journal", c.Journal.Validate()),
		config.Within("pix", c.Pix.Validate()),
		config.Within("printer", c.Printer.Validate()),
		config.Within("tef", c.TEF.Validate()),
	)
}

// parseConfig decodes and validates one config file's bytes.
func parseConfig(name string, data []byte) (Config, error) {
	cfg := defaultConfig()
	pos, err := config.Decode(name, data, &cfg)
	if err != nil {
		return cfg, err
	}
	return cfg, pos.Annotate(name, cfg.Validate())
}

// loadConfig reads the config for a command: the file given, or the demo config.
func loadConfig(path string, demo bool) (Config, error) {
	if path == "" && demo {
		return parseConfig("configs/demo.yaml", configs.Demo)
	}
	if path == "" {
		return Config{}, fmt.Errorf("no config file: pass --config /etc/totemd/totemd.yaml " +
			"(start from configs/totemd.example.yaml), or --demo to try totemd with simulated devices")
	}
	data, err := os.ReadFile(path)
	if err != nil {
		return Config{}, fmt.Errorf("reading config: %w", err)
	}
	return parseConfig(path, data)
}
