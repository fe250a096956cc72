package pix

import (
	"errors"
	"fmt"
	"net/url"
	"os"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/totemd/totemd/internal/config"
)

// Profiles are the PSP dialects totemd knows. They differ in the token request, the error
// shape, the certificate format they hand out, and their default URLs.
var Profiles = map[string]Profile{
	"sicredi": {Name: "sicredi", BaseURL: "https://api-pix.sicredi.com.br/api/v2", TokenDialect: "form",
		Scopes: []string{"cob.write", "cob.read", "pix.read", "pix.write", "webhook.read", "webhook.write"}},
	"efi": {Name: "efi", BaseURL: "https://pix.api.efipay.com.br/v2", TokenDialect: "json"},
	"bcb": {Name: "bcb", TokenDialect: "form",
		Scopes: []string{"cob.write", "cob.read", "pix.read", "pix.write", "webhook.read", "webhook.write"}},
}

// Profile is what a PSP dialect implies.
type Profile struct {
	Name         string
	BaseURL      string   // production API base; homologação is set with base_url
	TokenDialect string   // "form" (grant_type + scope in a form body) or "json" (Efí)
	Scopes       []string // requested in the form dialect
}

// Config is the `pix` section: the receiving PSP and the kiosk's Pix identity.
type Config struct {
	// Profile: sicredi, efi or bcb (any other BCB-compliant PSP).
	Profile string `yaml:"profile"`
	// BaseURL of the Pix API (e.g. https://api-pix-h.sicredi.com.br/api/v2 for homologação).
	// Default: the profile's production URL; required for bcb.
	BaseURL string `yaml:"base_url"`
	// TokenURL of the OAuth2 token endpoint. Default: <scheme://host of base_url>/oauth/token.
	TokenURL string `yaml:"token_url"`
	// ClientID of the OAuth2 client credentials.
	ClientID string `yaml:"client_id"`
	// The client secret, read from a file (first line) or an environment variable. Never in
	// this file, never logged.
	ClientSecretFile string `yaml:"client_secret_file"`
	ClientSecretEnv  string `yaml:"client_secret_env"`
	// Scopes to request (form dialect). Default: the profile's.
	Scopes []string `yaml:"scopes"`
	// Cert is the client certificate: PEM (.pem/.crt), DER (.cer), or PKCS#12 (.p12/.pfx).
	Cert string `yaml:"cert"`
	// Key is the private key for a PEM or DER certificate (PEM or DER). Not used with .p12.
	Key string `yaml:"key"`
	// The .p12 password, from a file or an environment variable (empty if it has none).
	P12PasswordFile string `yaml:"p12_password_file"`
	P12PasswordEnv  string `yaml:"p12_password_env"`
	// CA is an optional PEM bundle of the PSP's CA chain (Sicredi hands one out); default: the
	// system roots.
	CA string `yaml:"ca"`
	// PixKey is the kiosk's receiving key (chave): e-mail, phone, CPF/CNPJ or EVP.
	PixKey string `yaml:"pix_key"`
	// MerchantName and MerchantCity as registered at the PSP (they go on BR Codes we build).
	MerchantName string `yaml:"merchant_name"`
	MerchantCity string `yaml:"merchant_city"`
	// Timeout of every single call to the PSP. Default 15s.
	Timeout time.Duration `yaml:"timeout"`
}

// DefaultConfig returns the defaults (no PSP: Pix is off until profile is set).
// The charge expiry is the kiosk's policy: payment.pix_expiry.
func DefaultConfig() Config { return Config{Timeout: 15 * time.Second} }

// Enabled reports whether a PSP is configured.
func (c Config) Enabled() bool { return c.Profile != "" }

// Validate checks the section. An empty section (no profile) is valid: Pix is off.
func (c Config) Validate() error {
	if !c.Enabled() {
		return nil
	}
	var errs []error
	add := func(path, f string, a ...any) { errs = append(errs, config.Errorf(path, f, a...)) }
	p, ok := Profiles[c.Profile]
	if !ok {
		add("profile", "%q is not a PSP profile; use sicredi, efi or bcb (any other BCB-compliant PSP)", c.Profile)
	}
	base := c.BaseURL
	if base == "" {
		base = p.BaseURL
	}
	if base == "" && ok {
		add("base_url", "required for profile %s: the PSP's Pix API URL, e.g. https://pix.example.com/api/v2", c.Profile)
	} else if base != "" {
		if u, err := url.Parse(base); err != nil || u.Scheme != "https" || u.Host == "" {
			add("base_url", "%q must be an https:// URL", base)
		}
	}
	if c.TokenURL != "" {
		if u, err := url.Parse(c.TokenURL); err != nil || u.Scheme != "https" || u.Host == "" {
			add("token_url", "%q must be an https:// URL", c.TokenURL)
		}
	}
	if c.ClientID == "" {
		add("client_id", "required: the OAuth2 client id the PSP gave you")
	}
	switch {
	case c.ClientSecretFile == "" && c.ClientSecretEnv == "":
		add("client_secret_file", "required: a file holding the client secret (or set client_secret_env to the name of an environment variable)")
	case c.ClientSecretFile != "" && c.ClientSecretEnv != "":
		add("client_secret_env", "set client_secret_file or client_secret_env, not both")
	}
	if c.Cert == "" {
		add("cert", "required: the client certificate the PSP issued (.pem, .cer or .p12)")
	} else if isP12(c.Cert) && c.Key != "" {
		add("key", "a .p12 certificate holds its own key: remove key")
	} else if !isP12(c.Cert) && c.Key == "" {
		add("key", "required with a %s certificate: the private key file", c.Cert)
	}
	if c.PixKey == "" || utf8.RuneCountInString(c.PixKey) > 77 {
		add("pix_key", "required: the receiving Pix key (chave) registered at the PSP, at most 77 characters")
	}
	if c.MerchantName == "" {
		add("merchant_name", "required: the receiver's name as registered at the PSP")
	}
	if c.MerchantCity == "" {
		add("merchant_city", "required: the receiver's city as registered at the PSP")
	}
	if c.Timeout < time.Second || c.Timeout > 2*time.Minute {
		add("timeout", "must be between 1s and 2m (got %s)", c.Timeout)
	}
	return errors.Join(errs...)
}

func isP12(path string) bool {
	p := strings.ToLower(path)
	return strings.HasSuffix(p, ".p12") || strings.HasSuffix(p, ".pfx")
}

// secret reads a secret from a file (first line) or an environment variable.
func secret(what, file, env string) (string, error) {
	if file != "" {
		b, err := os.ReadFile(file)
		if err != nil {
			return "", fmt.Errorf("reading the %s: %w", what, err)
		}
		s, _, _ := strings.Cut(string(b), "\n")
		return strings.TrimRight(s, "\r"), nil
	}
	if env != "" {
		v, ok := os.LookupEnv(env)
		if !ok {
			return "", fmt.Errorf("the %s: environment variable %s is not set", what, env)
		}
		return v, nil
	}
	return "", nil
}
