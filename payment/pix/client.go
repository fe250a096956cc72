package pix

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// Client speaks the BCB Pix API to one PSP over mTLS, with OAuth2 client credentials.
// Every call has a timeout; idempotent calls are retried with backoff on network errors,
// 5xx and 429 (honouring Retry-After); a 401 is retried once with a fresh token.
type Client struct {
	base     string // no trailing slash
	tokenURL string
	profile  Profile
	clientID string
	secret   string
	scopes   []string
	http     *http.Client
	timeout  time.Duration
	log      *slog.Logger
	cert     tls.Certificate

	// MaxRetries is how many times a failed idempotent call is tried again (default 2).
	MaxRetries int
	// MaxRetryWait caps a Retry-After the client waits itself; longer ones are returned in the
	// error for the caller to schedule (default 10s).
	MaxRetryWait time.Duration

	lock    chan struct{} // held (full) during a token request: one refresh at a time
	token   string
	expires time.Time
	now     func() time.Time
}

// Options are what New needs beyond the config.
type Options struct {
	Logger *slog.Logger
	Now    func() time.Time
	// Secret and Cert override reading them from the config's files (tests, the demo).
	Secret *string
	Cert   *tls.Certificate
	// RootCAs overrides the config's CA bundle.
	RootCAs *tls.Config
}

// New builds a client from the config: it reads the secret and the certificates now, so a
// broken file is reported at start, not at the first payment.
func New(cfg Config, o Options) (*Client, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if !cfg.Enabled() {
		return nil, errors.New("pix: no PSP configured")
	}
	p := Profiles[cfg.Profile]
	c := &Client{profile: p, clientID: cfg.ClientID, scopes: cfg.Scopes, timeout: cfg.Timeout,
		log: o.Logger, now: o.Now, MaxRetries: 2, MaxRetryWait: 10 * time.Second, lock: make(chan struct{}, 1)}
	if c.log == nil {
		c.log = slog.Default()
	}
	if c.now == nil {
		c.now = time.Now
	}
	if len(c.scopes) == 0 {
		c.scopes = p.Scopes
	}
	c.base = strings.TrimRight(cfg.BaseURL, "/")
	if c.base == "" {
		c.base = p.BaseURL
	}
	c.tokenURL = cfg.TokenURL
	if c.tokenURL == "" {
		u, _ := url.Parse(c.base)
		c.tokenURL = u.Scheme + "://" + u.Host + "/oauth/token"
	}
	var err error
	if o.Secret != nil {
		c.secret = *o.Secret
	} else if c.secret, err = secret("client secret", cfg.ClientSecretFile, cfg.ClientSecretEnv); err != nil {
		return nil, err
	}
	if strings.TrimSpace(c.secret) == "" {
		return nil, errors.New("pix: the client secret is empty: put it on the first line of client_secret_file (or in the client_secret_env variable)")
	}
	if o.Cert != nil {
		c.cert = *o.Cert
	} else {
		pw, err := secret(".p12 password", cfg.P12PasswordFile, cfg.P12PasswordEnv)
		if err != nil {
			return nil, err
		}
		if c.cert, err = LoadClientCert(cfg.Cert, cfg.Key, pw); err != nil {
			return nil, err
		}
	}
	tc := &tls.Config{MinVersion: tls.VersionTLS12, Certificates: []tls.Certificate{c.cert}}
	if o.RootCAs != nil {
		tc.RootCAs = o.RootCAs.RootCAs
	} else if cfg.CA != "" {
		if tc.RootCAs, err = LoadCAPool(cfg.CA); err != nil {
			return nil, err
		}
	}
	tr := &http.Transport{TLSClientConfig: tc, ForceAttemptHTTP2: true, MaxIdleConns: 4,
		IdleConnTimeout: 90 * time.Second, TLSHandshakeTimeout: 10 * time.Second, ResponseHeaderTimeout: cfg.Timeout}
	c.http = &http.Client{Transport: tr, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse // a redirect is an error answer here: the token never travels
	}}
	return c, nil
}

// Certificate returns the client certificate in use.
func (c *Client) Certificate() tls.Certificate { return c.cert }

// BaseURL returns the API base.
func (c *Client) BaseURL() string { return c.base }

// Close drops idle connections.
func (c *Client) Close() { c.http.CloseIdleConnections() }

// Token returns a valid access token, requesting one when the cached one is (nearly) expired.
// Concurrent callers wait for a single request.
func (c *Client) Token(ctx context.Context) (string, error) {
	select {
	case c.lock <- struct{}{}:
	case <-ctx.Done():
		return "", ctx.Err()
	}
	defer func() { <-c.lock }()
	if c.token != "" && c.now().Before(c.expires) {
		return c.token, nil
	}
	return c.fetchToken(ctx)
}

// invalidate drops token tok (a 401 said it is no longer good), unless another caller has
// replaced it already.
func (c *Client) invalidate(tok string) {
	c.lock <- struct{}{}
	defer func() { <-c.lock }()
	if c.token == tok {
		c.token = ""
	}
}

type tokenAnswer struct {
	AccessToken string          `json:"access_token"`
	TokenType   string          `json:"token_type"`
	ExpiresIn   json.RawMessage `json:"expires_in"` // a number; some PSPs send a string
	Scope       string          `json:"scope"`
}

func (c *Client) fetchToken(ctx context.Context) (string, error) {
	const op = "POST /oauth/token"
	var body []byte
	var ctype string
	if c.profile.TokenDialect == "json" {
		body, ctype = []byte(`{"grant_type":"client_credentials"}`), "application/json"
	} else {
		f := url.Values{"grant_type": {"client_credentials"}}
		if len(c.scopes) > 0 {
			f.Set("scope", strings.Join(c.scopes, " "))
		}
		body, ctype = []byte(f.Encode()), "application/x-www-form-urlencoded"
	}
	var ans tokenAnswer
	err := c.retry(ctx, op, func(ctx context.Context) (int, error) {
		req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.tokenURL, bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		req.SetBasicAuth(c.clientID, c.secret)
		req.Header.Set("Content-Type", ctype)
		req.Header.Set("Accept", "application/json")
		return c.send(req, op, &ans)
	})
	if err != nil {
		return "", err
	}
	if ans.AccessToken == "" {
		return "", &Error{Op: op, Status: 200, Body: "no access_token in the answer"}
	}
	secs, err := strconv.ParseFloat(strings.Trim(string(ans.ExpiresIn), `"`), 64)
	if err != nil || secs <= 0 {
		secs = 300 // unknown lifetime: be conservative
	}
	life := time.Duration(secs * float64(time.Second))
	margin := min(life/10, time.Minute)
	c.token, c.expires = ans.AccessToken, c.now().Add(life-margin)
	c.log.Debug("pix token obtained", "expires_in", life, "scope", ans.Scope)
	return c.token, nil
}

// call sends an API request with the bearer token: a 401 gets one retry with a new token;
// network errors, 5xx and 429 are retried (every call we make is idempotent).
func (c *Client) call(ctx context.Context, method, path, op string, in, out any) error {
	var body []byte
	if in != nil {
		var err error
		if body, err = json.Marshal(in); err != nil {
			return err
		}
	}
	return c.retry(ctx, op, func(ctx context.Context) (int, error) {
		for attempt := 0; ; attempt++ {
			tok, err := c.Token(ctx)
			if err != nil {
				return 0, final{err} // the token request had its own retries
			}
			req, err := http.NewRequestWithContext(ctx, method, c.base+path, bytes.NewReader(body))
			if err != nil {
				return 0, err
			}
			if in != nil {
				req.Header.Set("Content-Type", "application/json")
			}
			req.Header.Set("Accept", "application/json")
			req.Header.Set("Authorization", "Bearer "+tok)
			status, err := c.send(req, op, out)
			if status == http.StatusUnauthorized && attempt == 0 {
				c.invalidate(tok)
				continue
			}
			return status, err
		}
	})
}

// send does one HTTP exchange with the per-call timeout and decodes the answer.
func (c *Client) send(req *http.Request, op string, out any) (int, error) {
	ctx, cancel := context.WithTimeout(req.Context(), c.timeout)
	defer cancel()
	resp, err := c.http.Do(req.WithContext(ctx))
	if err != nil {
		return 0, fmt.Errorf("pix: %s: %w", op, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return resp.StatusCode, fmt.Errorf("pix: %s: reading the answer: %w", op, err)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, decodeError(op, resp.StatusCode, data, parseRetryAfter(resp.Header.Get("Retry-After"), c.now()))
	}
	if out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, out); err != nil {
			return resp.StatusCode, final{fmt.Errorf("pix: %s: the PSP answered %d with a body that is not the expected JSON: %w", op, resp.StatusCode, err)}
		}
	}
	return resp.StatusCode, nil
}

func parseRetryAfter(v string, now time.Time) time.Duration {
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(strings.TrimSpace(v)); err == nil && s >= 0 {
		return time.Duration(s) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// retry runs fn until it succeeds, fails for good, or MaxRetries retries were spent.
func (c *Client) retry(ctx context.Context, op string, fn func(context.Context) (int, error)) error {
	for try := 0; ; try++ {
		_, err := fn(ctx)
		if err == nil {
			return nil
		}
		if try >= c.MaxRetries || ctx.Err() != nil || !retryable(err) {
			var f final
			if errors.As(err, &f) {
				return f.err
			}
			return err
		}
		wait := time.Duration(200<<try)*time.Millisecond + time.Duration(rand.Int64N(int64(100*time.Millisecond)))
		var pe *Error
		if errors.As(err, &pe) && pe.Retry > 0 {
			if pe.Retry > c.MaxRetryWait {
				return err // the caller schedules a retry that long
			}
			wait = pe.Retry
		}
		c.log.Warn("pix call failed, retrying", "op", op, "wait", wait, "err", err)
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			return fmt.Errorf("pix: %s: %w (after: %v)", op, ctx.Err(), err)
		case <-t.C:
		}
	}
}

func retryable(err error) bool {
	var f final
	if errors.As(err, &f) {
		return false
	}
	var pe *Error
	if errors.As(err, &pe) {
		return pe.Temporary()
	}
	var (
		re  *RequestError
		cv  *tls.CertificateVerificationError
		ua  x509.UnknownAuthorityError
		he  x509.HostnameError
		ci  x509.CertificateInvalidError
		ale tls.AlertError
	)
	switch {
	case errors.As(err, &re), errors.As(err, &cv), errors.As(err, &ua),
		errors.As(err, &he), errors.As(err, &ci), errors.As(err, &ale):
		return false // trying again cannot help: a certificate, a refused handshake, our request
	}
	return true // network errors, timeouts
}

// final marks an error no retry can fix.
type final struct{ err error }

func (f final) Error() string { return f.err.Error() }
func (f final) Unwrap() error { return f.err }

// The request checks of the spec, applied before a request leaves.
var (
	txidRe   = regexp.MustCompile(`^[a-zA-Z0-9]{26,35}$`)
	valorRe  = regexp.MustCompile(`^\d{1,10}\.\d{2}$`)
	e2eRe    = regexp.MustCompile(`^[a-zA-Z0-9]{32}$`)
	devIDRe  = regexp.MustCompile(`^[a-zA-Z0-9]{1,35}$`)
	statusRm = "REMOVIDA_PELO_USUARIO_RECEBEDOR"
)

func check(op string, ok bool, field, rule string) error {
	if ok {
		return nil
	}
	return &RequestError{Op: op, Field: field, Rule: rule}
}

// FormatValor formats centavos as the API's money string: 1234 -> "12.34".
// Negative amounts do not exist in the API; they format with a leading minus on the whole value.
func FormatValor(cents int64) string {
	if cents < 0 {
		return "-" + FormatValor(-cents)
	}
	return fmt.Sprintf("%d.%02d", cents/100, cents%100)
}

// positive reports whether v is a well-formed amount above zero.
func positive(v string) bool {
	c, err := ParseValor(v)
	return err == nil && c > 0
}

// ParseValor reads the API's money string into centavos.
func ParseValor(s string) (int64, error) {
	if !valorRe.MatchString(s) {
		return 0, fmt.Errorf("pix: %q is not an amount like 12.34", s)
	}
	i := strings.IndexByte(s, '.')
	r, _ := strconv.ParseInt(s[:i], 10, 64)
	c, _ := strconv.ParseInt(s[i+1:], 10, 64)
	return r*100 + c, nil
}
