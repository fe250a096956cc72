package journal

import (
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	if err := DefaultConfig().Validate(); err != nil {
		t.Fatalf("DefaultConfig().Validate() = %v", err)
	}
	if d := DefaultConfig(); d.Retention != 720*time.Hour || d.OpenTimeout != 5*time.Second {
		t.Errorf("DefaultConfig() = %+v", d)
	}
	tests := []struct {
		name string
		cfg  Config
		want []string // substrings of the error; none: valid
	}{
		{"minimums", Config{Retention: time.Hour, OpenTimeout: 100 * time.Millisecond}, nil},
		{"maximum timeout", Config{Retention: time.Hour, OpenTimeout: time.Minute}, nil},
		{"short retention", Config{Retention: 10 * time.Minute, OpenTimeout: time.Second},
			[]string{"retention: must be at least 1h (got 10m); events the cloud has acknowledged are kept this long"}},
		{"zero retention", Config{OpenTimeout: time.Second}, []string{"retention: ", "(got 0s)"}},
		{"short timeout", Config{Retention: time.Hour, OpenTimeout: 50 * time.Millisecond},
			[]string{"open_timeout: must be between 100ms and 60s (got 50ms)"}},
		{"long timeout", Config{Retention: time.Hour, OpenTimeout: 2 * time.Minute}, []string{"open_timeout: ", "(got 2m)"}},
		{"both", Config{}, []string{"retention: ", "open_timeout: "}},
	}
	for _, tc := range tests {
		err := tc.cfg.Validate()
		if len(tc.want) == 0 {
			if err != nil {
				t.Errorf("%s: Validate = %v", tc.name, err)
			}
			continue
		}
		if err == nil {
			t.Errorf("%s: Validate accepted %+v", tc.name, tc.cfg)
			continue
		}
		for _, w := range tc.want {
			if !strings.Contains(err.Error(), w) {
				t.Errorf("%s: %q lacks %q", tc.name, err, w)
			}
		}
		for _, line := range strings.Split(err.Error(), "\n") {
			if !strings.HasPrefix(line, "retention: ") && !strings.HasPrefix(line, "open_timeout: ") {
				t.Errorf("%s: line %q does not start with the field name", tc.name, line)
			}
		}
	}
}

func TestShortDuration(t *testing.T) {
	for d, want := range map[time.Duration]string{
		10 * time.Minute:              "10m",
		time.Hour:                     "1h",
		90 * time.Minute:              "1h30m",
		50 * time.Millisecond:         "50ms",
		0:                             "0s",
		time.Hour + 30*time.Second:    "1h0m30s",
		2*time.Minute + 5*time.Second: "2m5s",
	} {
		if got := shortDuration(d); got != want {
			t.Errorf("shortDuration(%v) = %q, want %q", d, got, want)
		}
	}
}
