package pix_test

import (
	"bytes"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/totemd/totemd/internal/config"
	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/payment/pix/pixsim"
)

func validConfig() pix.Config {
	return pix.Config{
		Profile: "bcb", BaseURL: "https://pix.example.com/api/v2", ClientID: "kiosk-7",
		ClientSecretFile: "/run/secrets/pix_client_secret", Cert: "/etc/totemd/pix.pem", Key: "/etc/totemd/pix.key",
		PixKey: pixsim.DefaultPixKey, MerchantName: "LOJA DO TOTEM", MerchantCity: "SAO PAULO", Timeout: 15 * time.Second,
	}
}

// fieldErrors flattens what Validate returned into its *config.FieldError.
func fieldErrors(t *testing.T, err error) []*config.FieldError {
	t.Helper()
	var out []*config.FieldError
	var walk func(error)
	walk = func(e error) {
		if j, ok := e.(interface{ Unwrap() []error }); ok {
			for _, x := range j.Unwrap() {
				walk(x)
			}
			return
		}
		var fe *config.FieldError
		if !errors.As(e, &fe) {
			t.Errorf("%v (%T) is not a *config.FieldError", e, e)
			return
		}
		out = append(out, fe)
	}
	if err != nil {
		walk(err)
	}
	return out
}

func TestValidate(t *testing.T) {
	cases := []struct {
		name       string
		mod        func(c *pix.Config)
		path, want string // "" path: valid
	}{
		{"valid", func(c *pix.Config) {}, "", ""},
		{"sicredi defaults its base_url", func(c *pix.Config) { c.Profile, c.BaseURL = "sicredi", "" }, "", ""},
		{"efi defaults its base_url, .p12 without key", func(c *pix.Config) { c.Profile, c.BaseURL, c.Cert, c.Key = "efi", "", "/etc/efi.p12", "" }, "", ""},
		{"secret from the environment", func(c *pix.Config) { c.ClientSecretFile, c.ClientSecretEnv = "", "PIX_SECRET" }, "", ""},
		{"timeout 1s", func(c *pix.Config) { c.Timeout = time.Second }, "", ""},
		{"timeout 2m", func(c *pix.Config) { c.Timeout = 2 * time.Minute }, "", ""},
		{"https token_url", func(c *pix.Config) { c.TokenURL = "https://auth.example.com/oauth/token" }, "", ""},
		{"pix_key 77", func(c *pix.Config) { c.PixKey = strings.Repeat("k", 77) }, "", ""},

		{"bad profile", func(c *pix.Config) { c.Profile = "itau" }, "profile", `"itau" is not a PSP profile`},
		{"bcb without base_url", func(c *pix.Config) { c.BaseURL = "" }, "base_url", "required for profile bcb"},
		{"http base_url", func(c *pix.Config) { c.BaseURL = "http://pix.example.com/v2" }, "base_url", "must be an https:// URL"},
		{"base_url without host", func(c *pix.Config) { c.BaseURL = "https:///v2" }, "base_url", "must be an https:// URL"},
		{"base_url not a URL", func(c *pix.Config) { c.BaseURL = "pix.example.com" }, "base_url", "must be an https:// URL"},
		{"http base_url on sicredi", func(c *pix.Config) { c.Profile, c.BaseURL = "sicredi", "http://api-pix-h.sicredi.com.br/api/v2" }, "base_url", "https://"},
		{"http token_url", func(c *pix.Config) { c.TokenURL = "http://auth.example.com/oauth/token" }, "token_url", "must be an https:// URL"},
		{"missing client_id", func(c *pix.Config) { c.ClientID = "" }, "client_id", "required"},
		{"no secret source", func(c *pix.Config) { c.ClientSecretFile = "" }, "client_secret_file", "required"},
		{"both secret sources", func(c *pix.Config) { c.ClientSecretEnv = "PIX_SECRET" }, "client_secret_env", "not both"},
		{"missing cert", func(c *pix.Config) { c.Cert = "" }, "cert", "required"},
		{".p12 with a key", func(c *pix.Config) { c.Cert = "/etc/efi.p12" }, "key", ".p12 certificate holds its own key"},
		{".PFX with a key", func(c *pix.Config) { c.Cert = "/etc/EFI.PFX" }, "key", "remove key"},
		{"PEM cert without key", func(c *pix.Config) { c.Key = "" }, "key", "required with a /etc/totemd/pix.pem certificate"},
		{"DER cert without key", func(c *pix.Config) { c.Cert, c.Key = "/etc/sicredi.cer", "" }, "key", "required"},
		{"missing pix_key", func(c *pix.Config) { c.PixKey = "" }, "pix_key", "required"},
		{"pix_key 78", func(c *pix.Config) { c.PixKey = strings.Repeat("k", 78) }, "pix_key", "at most 77"},
		{"missing merchant_name", func(c *pix.Config) { c.MerchantName = "" }, "merchant_name", "required"},
		{"missing merchant_city", func(c *pix.Config) { c.MerchantCity = "" }, "merchant_city", "required"},
		{"timeout 0", func(c *pix.Config) { c.Timeout = 0 }, "timeout", "between 1s and 2m (got 0s)"},
		{"timeout 999ms", func(c *pix.Config) { c.Timeout = 999 * time.Millisecond }, "timeout", "between 1s and 2m"},
		{"timeout 2m1s", func(c *pix.Config) { c.Timeout = 2*time.Minute + time.Second }, "timeout", "(got 2m1s)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c := validConfig()
			tc.mod(&c)
			err := c.Validate()
			if tc.path == "" {
				if err != nil {
					t.Fatalf("Validate: %v", err)
				}
				return
			}
			fes := fieldErrors(t, err)
			if len(fes) != 1 {
				t.Fatalf("Validate = %v, want one problem at %s", err, tc.path)
			}
			if fes[0].Path != tc.path || !strings.Contains(fes[0].Msg, tc.want) {
				t.Errorf("problem %q: %q, want %q containing %q", fes[0].Path, fes[0].Msg, tc.path, tc.want)
			}
			if !strings.HasPrefix(err.Error(), tc.path+": ") {
				t.Errorf("message %q does not start with the field path", err)
			}
		})
	}
	t.Run("disabled", func(t *testing.T) {
		if err := (pix.Config{}).Validate(); err != nil {
			t.Errorf("an empty section: %v", err)
		}
		d := pix.DefaultConfig()
		if d.Enabled() || d.Validate() != nil || d.Timeout != 15*time.Second {
			t.Errorf("DefaultConfig %+v", d)
		}
		if _, err := pix.New(d, pix.Options{}); err == nil || !strings.Contains(err.Error(), "no PSP configured") {
			t.Errorf("New of a disabled config: %v", err)
		}
	})
	t.Run("every problem at once", func(t *testing.T) {
		var paths []string
		for _, fe := range fieldErrors(t, pix.Config{Profile: "bcb"}.Validate()) {
			paths = append(paths, fe.Path)
		}
		want := []string{"base_url", "client_id", "client_secret_file", "cert", "pix_key", "merchant_name", "merchant_city", "timeout"}
		if !slices.Equal(paths, want) {
			t.Errorf("paths %v, want %v", paths, want)
		}
	})
	t.Run("New reports Validate's problems", func(t *testing.T) {
		c := validConfig()
		c.ClientID = ""
		_, err := pix.New(c, pix.Options{})
		var fe *config.FieldError
		if !errors.As(err, &fe) || fe.Path != "client_id" {
			t.Errorf("New: %v", err)
		}
	})
}

// basicSecret is a fake PSP recording the client secret of each token request.
func basicSecretPSP(t *testing.T) (*psp, func() []string) {
	p := fakePSP(t, func(w http.ResponseWriter, r *http.Request, _ []byte) { writeBody(w, 200, "application/json", `{}`) })
	return p, func() []string {
		var out []string
		for _, r := range p.matching(http.MethodPost, "/oauth/token") {
			_, s, _ := r.basicAuth()
			out = append(out, s)
		}
		return out
	}
}

func TestClientSecretSources(t *testing.T) {
	files := []struct{ name, content, want string }{
		{"first line of a file", "s3cret-line\nsecond line\n", "s3cret-line"},
		{"CRLF file", "s3cret-crlf\r\nignored\r\n", "s3cret-crlf"},
		{"no final newline", "s3cret-bare", "s3cret-bare"},
		{"spaces are part of it", " with spaces ", " with spaces "},
	}
	for _, tc := range files {
		t.Run(tc.name, func(t *testing.T) {
			p, secrets := basicSecretPSP(t)
			cfg := p.config(t, "bcb", "")
			cfg.ClientSecretFile = writeFile(t, t.TempDir(), "secret", []byte(tc.content))
			c := newClient(t, cfg, pix.Options{})
			if _, err := c.GetCob(testCtx(t), newTxID()); err != nil {
				t.Fatal(err)
			}
			if got := secrets(); !slices.Equal(got, []string{tc.want}) {
				t.Errorf("secrets sent %q, want %q", got, tc.want)
			}
		})
	}
	t.Run("environment variable", func(t *testing.T) {
		p, secrets := basicSecretPSP(t)
		cfg := p.config(t, "bcb", "")
		t.Setenv("TOTEMD_TEST_PIX_SECRET", "from-the-env")
		cfg.ClientSecretFile, cfg.ClientSecretEnv = "", "TOTEMD_TEST_PIX_SECRET"
		c := newClient(t, cfg, pix.Options{})
		if _, err := c.GetCob(testCtx(t), newTxID()); err != nil {
			t.Fatal(err)
		}
		if got := secrets(); !slices.Equal(got, []string{"from-the-env"}) {
			t.Errorf("secrets sent %q", got)
		}
	})
	t.Run("environment variable unset", func(t *testing.T) {
		p, _ := basicSecretPSP(t)
		cfg := p.config(t, "bcb", "")
		t.Setenv("TOTEMD_TEST_PIX_SECRET_UNSET", "x")
		os.Unsetenv("TOTEMD_TEST_PIX_SECRET_UNSET")
		cfg.ClientSecretFile, cfg.ClientSecretEnv = "", "TOTEMD_TEST_PIX_SECRET_UNSET"
		_, err := pix.New(cfg, pix.Options{})
		if err == nil || !strings.Contains(err.Error(), "TOTEMD_TEST_PIX_SECRET_UNSET is not set") || !strings.Contains(err.Error(), "client secret") {
			t.Errorf("New: %v, want a clear error naming the variable", err)
		}
	})
	t.Run("missing file", func(t *testing.T) {
		p, _ := basicSecretPSP(t)
		cfg := p.config(t, "bcb", "")
		cfg.ClientSecretFile = t.TempDir() + "/nope"
		_, err := pix.New(cfg, pix.Options{})
		if err == nil || !strings.Contains(err.Error(), "reading the client secret") || !strings.Contains(err.Error(), "nope") {
			t.Errorf("New: %v", err)
		}
	})
	t.Run("Options.Secret overrides the file", func(t *testing.T) {
		p, secrets := basicSecretPSP(t)
		cfg := p.config(t, "bcb", "")
		cfg.ClientSecretFile = t.TempDir() + "/nope" // not read
		s := "override"
		c := newClient(t, cfg, pix.Options{Secret: &s})
		if _, err := c.GetCob(testCtx(t), newTxID()); err != nil {
			t.Fatal(err)
		}
		if got := secrets(); !slices.Equal(got, []string{"override"}) {
			t.Errorf("secrets sent %q", got)
		}
	})
}

// syncBuffer is a bytes.Buffer safe for a logger and a reader.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func TestSecretNeverInErrorsOrLogs(t *testing.T) {
	const secret = "Zq9-very-secret-Value-7731"
	forbidden := []string{secret, base64.StdEncoding.EncodeToString([]byte("kiosk-client:" + secret)), "Zq9-very"}
	check := func(t *testing.T, what, s string) {
		t.Helper()
		for _, f := range forbidden {
			if strings.Contains(s, f) {
				t.Errorf("%s contains the secret (%q): %s", what, f, s)
			}
		}
	}
	var buf syncBuffer
	logger := slog.New(slog.NewJSONHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug}))

	// Token: two 503s, then a token; the API: a 503, then 401s (refused token, refused again).
	p := newPSP(t, nil, func(w http.ResponseWriter, r *http.Request, body []byte, n int) bool {
		switch {
		case apiPath(r.URL.Path) == "/oauth/token" && n <= 2:
			writeBody(w, 503, "text/plain", "token service unavailable")
		case apiPath(r.URL.Path) == "/oauth/token" && n == 3:
			writeBody(w, 200, "application/json", `{"access_token":"tok-ok","token_type":"Bearer","expires_in":600,"scope":"cob.read"}`)
		case apiPath(r.URL.Path) == "/oauth/token":
			writeBody(w, 401, "application/json", `{"error":"invalid_client","error_description":"bad client credentials"}`)
		case n == 4:
			writeBody(w, 503, "application/problem+json", `{"title":"Serviço Indisponível","status":503}`)
		default:
			writeBody(w, 401, "application/problem+json", `{"title":"Não autorizado","status":401}`)
		}
		return true
	})
	cfg := p.config(t, "bcb", "")
	cfg.ClientSecretFile = secretFile(t, secret)
	c := newClient(t, cfg, pix.Options{Logger: logger})
	_, err := c.GetCob(testCtx(t), newTxID())
	if err == nil {
		t.Fatal("GetCob succeeded")
	}
	check(t, "the error", err.Error())
	logs := buf.String()
	if !strings.Contains(logs, "retrying") || !strings.Contains(logs, "pix token obtained") {
		t.Fatalf("the scenario did not log what it should have (retries, the token): %s", logs)
	}
	check(t, "the log", logs)
	// The secret did go out (so the test is not vacuous).
	if _, s, _ := p.requests()[0].basicAuth(); s != secret {
		t.Fatalf("the token request carried %q", s)
	}

	// Nor in New's errors when something after the secret fails.
	cfg.Key = t.TempDir() + "/absent.key"
	_, err = pix.New(cfg, pix.Options{Logger: logger})
	if err == nil {
		t.Fatal("New with a missing key succeeded")
	}
	check(t, "New's error", err.Error())
	check(t, "the log", buf.String())
}
