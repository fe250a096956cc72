// Package pixsim is a Pix PSP simulator: it serves the subset of the Banco Central's API Pix
// (v2.9.0) the kiosk uses, over HTTPS with client-certificate checking and OAuth2 client
// credentials, so the same client code runs against it and against a real PSP (Sicredi, Efí,
// any BCB-compliant one). `totemd run --demo` and the tests use it.
//
// Served (at "/", and under "/v2" and "/api/v2" so any PSP base-URL style works):
//
//	POST   /oauth/token                   client credentials, HTTP Basic; form (BCB/Sicredi) or JSON (Efí) body
//	PUT    /cob/{txid}                    create an immediate charge (idempotent on txid and body)
//	GET    /cob/{txid}                    the charge, with its pix once paid (?revisao=N for an older revision)
//	PATCH  /cob/{txid}                    revise it, or {"status":"REMOVIDA_PELO_USUARIO_RECEBEDOR"}
//	GET    /pix?inicio&fim                Pix received in a time window (paginated)
//	GET    /pix/{e2eid}                   one Pix, with its refunds
//	PUT    /pix/{e2eid}/devolucao/{id}    refund (idempotent on id)
//	GET    /pix/{e2eid}/devolucao/{id}
//	PUT|GET|DELETE /webhook/{chave}
//	GET    /loc/{id}/qrcode               Efí's extra: {"qrcode","imagemQrcode"} (the image is left empty)
//
// and, for a simulator driven from another process, the control API (same mTLS, no token):
// POST /_sim/pay, POST /_sim/fault, POST /_sim/expire-tokens, GET /_sim/ledger.
//
// Payments only happen when something calls Pay (the demo UI's "simular pagamento", a test).
package pixsim

import (
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"io"
	"log"
	"log/slog"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options configure a simulator. The zero value is a usable in-memory simulator on a random
// loopback port.
type Options struct {
	Addr         string        // listen address, default "127.0.0.1:0"
	Dir          string        // state directory: certificates (generated once, reused) and ledger.json; "" = memory only, fresh certificates
	ClientID     string        // default "totemd-demo"
	ClientSecret string        // default "demo-secret"
	PixKey       string        // the receiver's key (chave), default an EVP
	MerchantName string        // default "TOTEMD DEMO"
	MerchantCity string        // default "SAO PAULO"
	TokenTTL     time.Duration // access token lifetime, default 1h
	Dialect      string        // "bcb" (RFC 7807 problems) or "efi" (errors as {"nome","mensagem"}); default "bcb"
	Now          func() time.Time
	Logger       *slog.Logger
}

// Defaults of Options.
const (
	DefaultClientID     = "totemd-demo"
	DefaultClientSecret = "demo-secret"
	DefaultPixKey       = "5f84a4c5-c5cb-4599-9f13-7eb4d419dacc"
	DefaultMerchantName = "TOTEMD DEMO"
	DefaultMerchantCity = "SAO PAULO"
)

// Charge is a copy of a charge (cob) in the ledger. The JSON form is what GET /_sim/ledger
// answers (Expiry in nanoseconds, as time.Duration encodes).
type Charge struct {
	TxID          string        `json:"txid"`
	AmountCents   int64         `json:"amount_cents"`
	Status        string        `json:"status"` // ATIVA, CONCLUIDA, REMOVIDA_PELO_USUARIO_RECEBEDOR
	Created       time.Time     `json:"created"`
	Expiry        time.Duration `json:"expiry"`
	Revision      int           `json:"revision"`
	Location      string        `json:"location"`
	PixCopiaECola string        `json:"pix_copia_e_cola"`
	Payments      []Payment     `json:"payments"`
	Puts          int           `json:"puts"` // PUT /cob calls that reached the PSP for this txid (faults answered before handling do not count)
}

// Payment is a Pix received for a charge.
type Payment struct {
	E2EID       string    `json:"e2eid"`
	AmountCents int64     `json:"amount_cents"`
	Time        time.Time `json:"time"`
	TxID        string    `json:"txid"`
}

// Refund is a devolução of a received Pix.
type Refund struct {
	E2EID       string    `json:"e2eid"`
	ID          string    `json:"id"`
	RtrID       string    `json:"rtr_id"`
	Status      string    `json:"status"` // EM_PROCESSAMENTO until the API shows it, then DEVOLVIDO (NAO_REALIZADO after FailRefunds)
	AmountCents int64     `json:"amount_cents"`
	Time        time.Time `json:"time"` // when it was requested
}

// Certs are the simulator's certificates, PEM-encoded. One CA signs the server and the client
// certificate.
type Certs struct {
	CAPEM, ClientCertPEM, ClientKeyPEM []byte
	ServerCertPEM                      []byte
	// Dir is where the files are when Options.Dir is set (ca.pem, client.pem, client.key,
	// server.pem, server.key, ca.key); "" for an in-memory simulator.
	Dir string
}

// Fault is an injected failure. It applies to API calls (not to the control API), to the next
// Times calls matching Path and Method. POST /_sim/fault takes it as JSON, with "delay" as a
// Go duration string ("1.5s").
type Fault struct {
	Path          string        `json:"path"`           // path prefix ("/cob", "/pix", "/oauth/token"; "" = any), matched with and without the /v2, /api/v2 prefix
	Method        string        `json:"method"`         // "" = any
	Times         int           `json:"times"`          // how many calls it hits (default 1)
	Status        int           `json:"status"`         // answer this status (500, 502, 503, 429...) with an error body
	RetryAfter    int           `json:"retry_after"`    // seconds, sent as Retry-After
	Delay         time.Duration `json:"-"`              // answer this late; with Status 0 the real answer comes after the delay
	AfterHandling bool          `json:"after_handling"` // process the request first, then delay and/or fail: the charge exists but the answer is late or lost
}

// Errors of the control methods.
var (
	ErrNoCharge   = errors.New("pixsim: no such charge")
	ErrNotPayable = errors.New("pixsim: the charge cannot be paid")
)

// Sim is a running simulator.
type Sim struct {
	o       Options
	log     *slog.Logger
	host    string // "127.0.0.1:PORT", what locations start with
	baseURL string
	certs   Certs
	srv     *http.Server
	served  chan struct{}

	mu          sync.Mutex
	led         *ledger
	tokens      map[string]token
	faults      []*pendingFault
	failRefunds int // the next refunds asked for end NAO_REALIZADO
	closed      bool
	inflight    sync.WaitGroup // handlers running; Add only under mu while !closed

	closing   chan struct{}
	closeOnce sync.Once
	closeErr  error
}

// Start opens the state directory (if any), listens and serves.
func Start(o Options) (*Sim, error) {
	if o.Addr == "" {
		o.Addr = "127.0.0.1:0"
	}
	if o.ClientID == "" {
		o.ClientID = DefaultClientID
	}
	if o.ClientSecret == "" {
		o.ClientSecret = DefaultClientSecret
	}
	if o.PixKey == "" {
		o.PixKey = DefaultPixKey
	}
	if len(o.PixKey) > 77 {
		return nil, fmt.Errorf("pixsim: the Pix key %q is longer than 77 characters", o.PixKey)
	}
	if o.MerchantName == "" {
		o.MerchantName = DefaultMerchantName
	}
	if o.MerchantCity == "" {
		o.MerchantCity = DefaultMerchantCity
	}
	if o.TokenTTL <= 0 {
		o.TokenTTL = time.Hour
	}
	switch o.Dialect {
	case "":
		o.Dialect = "bcb"
	case "bcb", "efi":
	default:
		return nil, fmt.Errorf("pixsim: dialect %q: use bcb or efi", o.Dialect)
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	s := &Sim{o: o, log: o.Logger, tokens: map[string]token{}, closing: make(chan struct{}), served: make(chan struct{})}

	led, err := loadLedger(o.Dir)
	if err != nil {
		return nil, err
	}
	s.led = led

	ln, err := net.Listen("tcp", o.Addr)
	if err != nil {
		return nil, fmt.Errorf("pixsim: %w", err)
	}
	host, extraIP := advertised(ln.Addr())
	s.host = host
	s.baseURL = "https://" + host

	bundle, err := loadOrCreateCerts(o.Dir, o.ClientID, extraIP, time.Now())
	if err != nil {
		ln.Close()
		return nil, err
	}
	s.certs = bundle.public(o.Dir)
	pool := x509.NewCertPool()
	pool.AddCert(bundle.ca)
	tc := &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{bundle.server},
		ClientAuth:   tls.RequireAndVerifyClientCert,
		ClientCAs:    pool,
	}
	s.srv = &http.Server{
		Handler:           s,
		TLSConfig:         tc,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(logWriter{s.log}, "", 0),
	}
	go func() {
		defer close(s.served)
		if err := s.srv.ServeTLS(ln, "", ""); err != nil && !errors.Is(err, http.ErrServerClosed) {
			s.log.Error("pixsim: serving stopped", "err", err)
		}
	}()
	s.log.Info("pixsim: listening", "base_url", s.baseURL, "dir", o.Dir, "dialect", o.Dialect, "pix_key", o.PixKey)
	return s, nil
}

// advertised is the host:port clients use for a listener, and the listen IP when it is a
// specific, non-loopback one (the server certificate must then name it too).
func advertised(a net.Addr) (string, net.IP) {
	ta, ok := a.(*net.TCPAddr)
	if !ok {
		return a.String(), nil
	}
	port := fmt.Sprint(ta.Port)
	switch {
	case ta.IP == nil || ta.IP.IsUnspecified():
		return net.JoinHostPort("127.0.0.1", port), nil
	case ta.IP.IsLoopback():
		return net.JoinHostPort(ta.IP.String(), port), nil
	default:
		return net.JoinHostPort(ta.IP.String(), port), ta.IP
	}
}

// BaseURL is "https://127.0.0.1:PORT": the API is at the root (/oauth/token, /cob/...), and
// also under /v2 and /api/v2.
func (s *Sim) BaseURL() string { return s.baseURL }

// Certs returns the CA, server and client certificates (and the client key).
func (s *Sim) Certs() Certs {
	c := s.certs
	c.CAPEM = slices.Clone(c.CAPEM)
	c.ClientCertPEM = slices.Clone(c.ClientCertPEM)
	c.ClientKeyPEM = slices.Clone(c.ClientKeyPEM)
	c.ServerCertPEM = slices.Clone(c.ServerCertPEM)
	return c
}

// Options returns the options in effect (defaults filled in).
func (s *Sim) Options() Options { return s.o }

// Close stops serving, drops every connection and waits for the handlers to return. Answers
// delayed by a fault are not sent. The ledger is already on disk (it is written at each change).
func (s *Sim) Close() error {
	s.closeOnce.Do(func() {
		s.mu.Lock()
		s.closed = true
		s.mu.Unlock()
		close(s.closing)
		s.closeErr = s.srv.Close()
		<-s.served
		s.inflight.Wait()
		s.log.Info("pixsim: closed", "base_url", s.baseURL)
	})
	return s.closeErr
}

// now is the simulator's clock, to the millisecond (what the API shows) and without a
// monotonic reading (so values survive the ledger file unchanged).
func (s *Sim) now() time.Time { return s.o.Now().Round(0).Truncate(time.Millisecond) }

// Pay makes the customer pay txid with amountCents (which may differ from the charge's amount:
// the wrong-amount scenario). It fails with ErrNoCharge for an unknown txid and ErrNotPayable
// FailRefunds makes the next n refunds asked for end NAO_REALIZADO (the payer's account
// closed, say) once read, as a PSP reports a devolução it could not make.
func (s *Sim) FailRefunds(n int) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.failRefunds = n
}

// when the charge is not ATIVA or is past its expiry.
func (s *Sim) Pay(txid string, amountCents int64) (string, error) {
	if amountCents <= 0 || amountCents > maxCents {
		return "", fmt.Errorf("%w: amount %d centavos", ErrNotPayable, amountCents)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.led.byTxID[txid]
	if c == nil {
		return "", fmt.Errorf("%w: txid %q", ErrNoCharge, txid)
	}
	now := s.now()
	if c.Cob.Status != statusAtiva {
		return "", fmt.Errorf("%w: %s is %s", ErrNotPayable, txid, c.Cob.Status)
	}
	if !now.Before(c.expiresAt()) {
		return "", fmt.Errorf("%w: %s expired at %s", ErrNotPayable, txid, fmtTime(c.expiresAt()))
	}
	p := &payment{E2EID: s.led.newE2E(now), TxID: txid, AmountCents: amountCents, Time: now}
	c.Payments = append(c.Payments, p)
	c.Cob.Status = statusConcluida
	s.led.byE2E[p.E2EID] = p
	if err := s.led.save(); err != nil {
		return "", err
	}
	s.log.Info("pixsim: paid", "txid", txid, "e2eid", p.E2EID, "amount", fmtCents(amountCents),
		"charge_amount", fmtCents(c.Cob.AmountCents))
	return p.E2EID, nil
}

// Charge returns a copy of the charge txid.
func (s *Sim) Charge(txid string) (Charge, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	c := s.led.byTxID[txid]
	if c == nil {
		return Charge{}, false
	}
	return c.export(), true
}

// Charges returns copies of every charge, in creation order.
func (s *Sim) Charges() []Charge {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := make([]Charge, 0, len(s.led.Charges))
	for _, c := range s.led.Charges {
		out = append(out, c.export())
	}
	return out
}

// Refunds returns every refund, in request order.
func (s *Sim) Refunds() []Refund {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []Refund
	for _, c := range s.led.Charges {
		for _, p := range c.Payments {
			for _, r := range p.Refunds {
				out = append(out, Refund{E2EID: p.E2EID, ID: r.ID, RtrID: r.RtrID, Status: r.Status,
					AmountCents: r.AmountCents, Time: r.Requested})
			}
		}
	}
	slices.SortStableFunc(out, func(a, b Refund) int { return a.Time.Compare(b.Time) })
	return out
}

// Fail queues a fault. Faults are tried in the order they were queued; a call takes the first
// that matches.
func (s *Sim) Fail(f Fault) {
	if f.Times <= 0 {
		f.Times = 1
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.faults = append(s.faults, &pendingFault{Fault: f, left: f.Times})
}

// ExpireTokens invalidates every access token issued so far: the next API call with one of
// them gets 401.
func (s *Sim) ExpireTokens() {
	s.mu.Lock()
	defer s.mu.Unlock()
	clear(s.tokens)
}

type pendingFault struct {
	Fault
	left int
}

// takeFault returns the first queued fault matching the request (consuming one of its
// times), or nil.
func (s *Sim) takeFault(method, rawPath, apiPath string) *Fault {
	s.mu.Lock()
	defer s.mu.Unlock()
	for i, f := range s.faults {
		if f.Method != "" && !strings.EqualFold(f.Method, method) {
			continue
		}
		if f.Path != "" && !strings.HasPrefix(apiPath, f.Path) && !strings.HasPrefix(rawPath, f.Path) {
			continue
		}
		f.left--
		if f.left <= 0 {
			s.faults = slices.Delete(s.faults, i, i+1)
		}
		out := f.Fault
		return &out
	}
	return nil
}

// logWriter sends the http.Server's own messages (TLS handshake failures, mostly) to the
// logger at debug level: a client without a certificate is a test case, not an incident.
type logWriter struct{ l *slog.Logger }

func (w logWriter) Write(p []byte) (int, error) {
	w.l.Debug("pixsim: http: " + strings.TrimSpace(string(p)))
	return len(p), nil
}

var _ io.Writer = logWriter{}
