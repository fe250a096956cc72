// Package ui is totemd's local API: a loopback-only HTTP server with REST under /api/v1, the
// WebSocket protocol at /ws (see docs/api.md), /healthz, /metrics, and the kiosk web app.
// Every request's Host and Origin are checked against exact allowlists (DNS rebinding,
// cross-site requests); non-browser clients authenticate with a bearer token.
package ui

import (
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/totemd/totemd/device"
	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/printer/virtual"
	"github.com/totemd/totemd/sync/journal"
	"github.com/totemd/totemd/ui/web"
)

// ProtocolVersion is the version of the WebSocket protocol and the REST API.
const ProtocolVersion = 1

// Demo is what demo mode lets the UI and tests do to the simulated devices.
type Demo interface {
	// PixPay makes the simulated customer pay the charge txid.
	PixPay(ctx context.Context, txid string) error
	// SetPaperOut empties (true) or refills (false) the simulated printer.
	SetPaperOut(out bool)
	// Printed returns the jobs the simulated printer printed, oldest first.
	Printed() [][]byte
}

// Options wires a Server.
type Options struct {
	Config  Config
	Service *payment.Service
	Store   *journal.Store
	Health  *device.Health
	Token   string // the bearer token of non-browser clients
	Version string
	// KioskName is the kiosk's name for people (kiosk.name), shown on the attract screen.
	KioskName string
	Demo      Demo // nil outside demo mode
	Logger    *slog.Logger
}

// Server is the local API.
type Server struct {
	o       Options
	log     *slog.Logger
	hosts   map[string]bool
	origins map[string]bool
	http    *http.Server
	metrics *metrics

	mu     sync.Mutex
	conns  map[*wsConn]struct{}
	closed bool
}

// New returns a Server; Listen binds it.
func New(o Options) *Server {
	if o.Logger == nil {
		o.Logger = slog.Default()
	}
	s := &Server{o: o, log: o.Logger, metrics: newMetrics(), conns: map[*wsConn]struct{}{}}
	s.http = &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		ReadTimeout:       30 * time.Second,
		WriteTimeout:      60 * time.Second,
		IdleTimeout:       120 * time.Second,
		MaxHeaderBytes:    32 << 10,
		ErrorLog:          slog.NewLogLogger(o.Logger.Handler(), slog.LevelWarn),
	}
	return s
}

// Listen binds the configured loopback address and fixes the allowlists for its port.
func (s *Server) Listen() (net.Listener, error) {
	if _, _, err := LoopbackAddr(s.o.Config.Listen); err != nil {
		return nil, err
	}
	ln, err := net.Listen("tcp", s.o.Config.Listen)
	if err != nil {
		return nil, fmt.Errorf("listening on %s (is another totemd running?): %w", s.o.Config.Listen, err)
	}
	s.hosts, s.origins = s.o.Config.allowlists(ln.Addr().(*net.TCPAddr).Port)
	return ln, nil
}

// Serve answers requests on ln until Shutdown.
func (s *Server) Serve(ln net.Listener) error {
	err := s.http.Serve(ln)
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Shutdown stops accepting requests, tells WebSocket clients the server is going away and
// waits for requests in progress, until ctx ends.
func (s *Server) Shutdown(ctx context.Context) error {
	s.mu.Lock()
	s.closed = true
	conns := make([]*wsConn, 0, len(s.conns))
	for c := range s.conns {
		conns = append(conns, c)
	}
	s.mu.Unlock()
	for _, c := range conns {
		c.goAway()
	}
	err := s.http.Shutdown(ctx)
	for _, c := range conns {
		c.wait(ctx)
	}
	return err
}

// access says who may call a route.
type access int

const (
	public   access = iota // anyone on loopback passing the Host/Origin checks: health, metrics, the UI files
	kiosk                  // the kiosk page (same origin) or a token holder: the customer flow
	operator               // token holders only: lists, the event log, administration
)

// Handler returns the routed handler with its checks.
func (s *Server) Handler() http.Handler {
	mux := http.NewServeMux()
	route := func(pattern string, acc access, h http.HandlerFunc) {
		mux.Handle(pattern, s.metrics.instrument(pattern, s.guard(acc, h)))
	}
	route("GET /healthz", public, s.healthz)
	route("GET /metrics", public, s.serveMetrics)
	route("GET /api/v1/status", kiosk, s.status)
	route("GET /api/v1/catalog", kiosk, s.catalog)
	route("POST /api/v1/sessions", kiosk, s.createSession)
	route("GET /api/v1/sessions", operator, s.listSessions)
	route("GET /api/v1/sessions/{id}", kiosk, s.getSession)
	route("POST /api/v1/sessions/{id}/pay", kiosk, s.paySession)
	route("POST /api/v1/sessions/{id}/cancel", kiosk, s.cancelSession)
	route("GET /api/v1/sessions/{id}/pix", kiosk, s.sessionPixQR)
	route("POST /api/v1/sessions/{id}/card-result", kiosk, s.cardResult)
	route("GET /api/v1/tef/pending", operator, s.tefPending)
	route("POST /api/v1/tef/pending/{id}/{n}", operator, s.tefResolve)
	route("GET /api/v1/events", operator, s.events)
	route("POST /api/v1/pix/hint", operator, s.pixHint)
	route("POST /api/v1/demo/pix/{txid}/pay", kiosk, s.demoPixPay)
	route("POST /api/v1/demo/printer", kiosk, s.demoPrinter)
	route("GET /api/v1/demo/printer/jobs", kiosk, s.demoJobs)
	route("GET /api/v1/demo/printer/jobs/{n}", kiosk, s.demoJob)
	route("GET /ws", kiosk, s.serveWS)
	static, _ := fs.Sub(web.Files, "static")
	files := http.FileServerFS(static)
	route("/", public, func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/api/") {
			writeError(w, http.StatusNotFound, "api.not_found", fmt.Sprintf("No route %s %s in API v%d: see docs/api.md.", r.Method, r.URL.Path, ProtocolVersion))
			return
		}
		if r.Method != http.MethodGet && r.Method != http.MethodHead {
			writeError(w, http.StatusMethodNotAllowed, "api.method_not_allowed", "Only GET for the kiosk UI files.")
			return
		}
		w.Header().Set("Cache-Control", "no-cache")
		w.Header().Set("X-Content-Type-Options", "nosniff")
		w.Header().Set("X-Frame-Options", "DENY")
		w.Header().Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; connect-src 'self'; style-src 'self' 'unsafe-inline'")
		files.ServeHTTP(w, r)
	})
	return mux
}

// guard applies the Host and Origin allowlists to every request, and the route's access.
func (s *Server) guard(acc access, h http.HandlerFunc) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		if !s.hosts[strings.ToLower(r.Host)] {
			writeError(w, http.StatusForbidden, "api.host_forbidden", fmt.Sprintf("Host %q is not allowed: open the kiosk at http://127.0.0.1:<port> or add it to api.allowed_hosts.", r.Host))
			return
		}
		origin := r.Header.Get("Origin")
		if origin != "" && !s.origins[strings.ToLower(origin)] {
			writeError(w, http.StatusForbidden, "api.origin_forbidden", fmt.Sprintf("Origin %q is not allowed: add it to api.allowed_origins if it is a trusted kiosk page.", origin))
			return
		}
		if acc == public {
			h(w, r)
			return
		}
		if s.bearerOK(r) {
			h(w, r)
			return
		}
		// A browser proves it is the kiosk page by an allowed Origin or, for same-origin
		// requests that carry none (GET fetches), by Sec-Fetch-Site. Web pages cannot forge
		// either; local processes can, which is why operator routes take the token only.
		browser := origin != "" || r.Header.Get("Sec-Fetch-Site") == "same-origin"
		if acc == kiosk && browser {
			h(w, r)
			return
		}
		writeError(w, http.StatusUnauthorized, "api.unauthorized", "Send Authorization: Bearer <token>; the token is in the file api.token of the state directory.")
	}
}

func (s *Server) bearerOK(r *http.Request) bool {
	auth := r.Header.Get("Authorization")
	tok, ok := strings.CutPrefix(auth, "Bearer ")
	return ok && s.o.Token != "" && subtle.ConstantTimeCompare([]byte(strings.TrimSpace(tok)), []byte(s.o.Token)) == 1
}

// apiError is the JSON of every error answer.
type apiError struct {
	Code    string `json:"code"`
	Message string `json:"message"`
}

func writeError(w http.ResponseWriter, status int, code, msg string) {
	writeJSON(w, status, apiError{Code: code, Message: msg})
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	_ = enc.Encode(v)
}

// httpStatus maps a payment error kind to a status code.
func httpStatus(k payment.Kind) int {
	switch k {
	case payment.KindInvalid:
		return http.StatusBadRequest
	case payment.KindNotFound:
		return http.StatusNotFound
	case payment.KindConflict:
		return http.StatusConflict
	case payment.KindUnavailable:
		return http.StatusServiceUnavailable
	}
	return http.StatusInternalServerError
}

func (s *Server) fail(w http.ResponseWriter, r *http.Request, err error) {
	e := payment.AsError(err)
	if e.Kind == payment.KindInternal {
		s.log.Error("request failed", "method", r.Method, "path", r.URL.Path, "err", err)
	}
	writeError(w, httpStatus(e.Kind), e.Code, e.Message)
}

// decodeBody reads a JSON body strictly: at most 64 KiB, no unknown fields, one value.
func decodeBody(r *http.Request, v any) error {
	if ct := r.Header.Get("Content-Type"); ct != "" && !strings.HasPrefix(ct, "application/json") {
		return payment.Errf(payment.KindInvalid, "api.bad_body", "Content-Type %q: send application/json.", ct)
	}
	dec := json.NewDecoder(io.LimitReader(r.Body, 64<<10+1))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return payment.Errf(payment.KindInvalid, "api.bad_body", "Invalid JSON body: %s.", jsonProblem(err))
	}
	if dec.More() {
		return payment.Errf(payment.KindInvalid, "api.bad_body", "Invalid JSON body: more than one value.")
	}
	return nil
}

// jsonProblem says what is wrong with a JSON document in words.
func jsonProblem(err error) string {
	var se *json.SyntaxError
	var te *json.UnmarshalTypeError
	switch {
	case errors.Is(err, io.EOF):
		return "the body is empty"
	case errors.As(err, &se):
		return fmt.Sprintf("syntax error at byte %d: %v", se.Offset, se)
	case errors.As(err, &te):
		return fmt.Sprintf("field %q must be %s, not %s", te.Field, te.Type, te.Value)
	}
	return strings.TrimPrefix(err.Error(), "json: ")
}

type createBody struct {
	Items []payment.Item `json:"items"`
}

type payBody = payment.PayRequest

// Status is the answer of GET /api/v1/status and of the WebSocket status command.
type Status struct {
	KioskID   string                 `json:"kiosk_id"`
	KioskName string                 `json:"kiosk_name,omitempty"`
	Version   string                 `json:"version"`
	Protocol  int                    `json:"protocol"`
	Demo      bool                   `json:"demo"`
	Time      time.Time              `json:"time"`
	LastSeq   uint64                 `json:"last_seq"`
	Methods   []payment.MethodStatus `json:"methods"`
	Health    []device.Condition     `json:"health"`
	Catalog   payment.Catalog        `json:"catalog"`
}

func (s *Server) statusOf(ctx context.Context) Status {
	st := Status{KioskID: s.o.Store.KioskID(), KioskName: s.o.KioskName, Version: s.o.Version, Protocol: ProtocolVersion,
		Demo: s.o.Demo != nil, Time: time.Now().UTC(), LastSeq: s.o.Store.LastSeq(),
		Methods: s.o.Service.Methods(ctx), Health: []device.Condition{}, Catalog: s.o.Service.Catalog()}
	if s.o.Health != nil {
		st.Health = s.o.Health.List()
	}
	return st
}

func (s *Server) status(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.statusOf(r.Context()))
}

func (s *Server) catalog(w http.ResponseWriter, r *http.Request) {
	writeJSON(w, http.StatusOK, s.o.Service.Catalog())
}

func (s *Server) createSession(w http.ResponseWriter, r *http.Request) {
	var body createBody
	if err := decodeBody(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	sess, err := s.o.Service.Create(r.Context(), body.Items)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Location", "/api/v1/sessions/"+sess.ID)
	writeJSON(w, http.StatusCreated, sess)
}

func (s *Server) listSessions(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	o := payment.ListOptions{Before: q.Get("before"), State: payment.State(q.Get("state"))}
	if l := q.Get("limit"); l != "" {
		n, err := strconv.Atoi(l)
		if err != nil || n < 1 || n > 1000 {
			writeError(w, http.StatusBadRequest, "api.bad_query", "limit must be a number from 1 to 1000.")
			return
		}
		o.Limit = n
	}
	list, err := s.o.Service.List(r.Context(), o)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]any{"sessions": list})
}

func (s *Server) getSession(w http.ResponseWriter, r *http.Request) {
	sess, err := s.o.Service.Get(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) paySession(w http.ResponseWriter, r *http.Request) {
	var body payBody
	if err := decodeBody(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	sess, err := s.o.Service.Pay(r.Context(), r.PathValue("id"), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, sess)
}

func (s *Server) cardResult(w http.ResponseWriter, r *http.Request) {
	var body payment.ExternalCardResult
	if err := decodeBody(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	sess, err := s.o.Service.RecordCardResult(r.Context(), r.PathValue("id"), body)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) tefPending(w http.ResponseWriter, r *http.Request) {
	p, err := s.o.Service.PendingCards(r.Context())
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if p == nil {
		p = []payment.PendingCard{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"pending": p, "recovered": s.o.Service.CardRecovered()})
}

func (s *Server) tefResolve(w http.ResponseWriter, r *http.Request) {
	var body struct {
		Action string `json:"action"`
	}
	if err := decodeBody(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	n, err := strconv.Atoi(r.PathValue("n"))
	if err != nil || n < 1 {
		writeError(w, http.StatusBadRequest, "api.bad_path", fmt.Sprintf("Tentativa %q inválida: use o número da tentativa (1, 2, ...).", r.PathValue("n")))
		return
	}
	sess, err := s.o.Service.ResolveCard(r.Context(), r.PathValue("id"), n, body.Action)
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) cancelSession(w http.ResponseWriter, r *http.Request) {
	sess, err := s.o.Service.Cancel(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, sess)
}

func (s *Server) events(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	after, err := strconv.ParseUint(q.Get("after"), 10, 64)
	if q.Get("after") == "" {
		after, err = 0, nil
	}
	limit, lerr := strconv.Atoi(q.Get("limit"))
	if q.Get("limit") == "" {
		limit, lerr = 100, nil
	}
	if err != nil || lerr != nil || limit < 1 || limit > 1000 {
		writeError(w, http.StatusBadRequest, "api.bad_query", "after must be a sequence number and limit a number from 1 to 1000.")
		return
	}
	evs, err := s.o.Store.Events(after, limit)
	if errors.Is(err, journal.ErrCompacted) {
		writeError(w, http.StatusGone, "events.compacted", fmt.Sprintf("Events after %d were compacted; the oldest kept is %d: reload the sessions.", after, s.o.Store.FirstSeq()))
		return
	}
	if err != nil {
		s.fail(w, r, err)
		return
	}
	if evs == nil {
		evs = []journal.Event{}
	}
	writeJSON(w, http.StatusOK, map[string]any{"events": evs, "last_seq": s.o.Store.LastSeq()})
}

func (s *Server) sessionPixQR(w http.ResponseWriter, r *http.Request) {
	qr, err := s.o.Service.PixQR(r.Context(), r.PathValue("id"))
	if err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, qr)
}

// pixHint takes a relayed notice that a Pix charge may have been paid (the cloud owns the
// PSP's webhook). The charge is read again from the PSP before anything is believed.
func (s *Server) pixHint(w http.ResponseWriter, r *http.Request) {
	var body struct {
		TxID string `json:"txid"`
	}
	if err := decodeBody(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	if err := s.o.Service.PixHint(r.Context(), body.TxID); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusAccepted, map[string]bool{"accepted": true})
}

// demoOnly answers 404 outside demo mode.
func (s *Server) demoOnly(w http.ResponseWriter) bool {
	if s.o.Demo == nil {
		writeError(w, http.StatusNotFound, "api.not_found", "Demo controls exist only in demo mode (totemd run --demo).")
		return false
	}
	return true
}

func (s *Server) demoPixPay(w http.ResponseWriter, r *http.Request) {
	if !s.demoOnly(w) {
		return
	}
	if err := s.o.Demo.PixPay(r.Context(), r.PathValue("txid")); err != nil {
		s.fail(w, r, err)
		return
	}
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) demoPrinter(w http.ResponseWriter, r *http.Request) {
	if !s.demoOnly(w) {
		return
	}
	var body struct {
		PaperOut bool `json:"paper_out"`
	}
	if err := decodeBody(r, &body); err != nil {
		s.fail(w, r, err)
		return
	}
	s.o.Demo.SetPaperOut(body.PaperOut)
	writeJSON(w, http.StatusOK, map[string]bool{"ok": true})
}

func (s *Server) demoJobs(w http.ResponseWriter, r *http.Request) {
	if !s.demoOnly(w) {
		return
	}
	writeJSON(w, http.StatusOK, map[string]int{"count": len(s.o.Demo.Printed())})
}

// demoJob renders a job of the demo printer: /jobs/last.png, /jobs/0.txt, ...
func (s *Server) demoJob(w http.ResponseWriter, r *http.Request) {
	if !s.demoOnly(w) {
		return
	}
	jobs := s.o.Demo.Printed()
	name, ext, _ := strings.Cut(r.PathValue("n"), ".")
	i, err := strconv.Atoi(name)
	if name == "last" {
		i, err = len(jobs)-1, nil
	}
	if err != nil || i < 0 || i >= len(jobs) || (ext != "png" && ext != "txt") {
		writeError(w, http.StatusNotFound, "printer.job_not_found", fmt.Sprintf("No job %q: ask for 0..%d or last, as .png or .txt.", r.PathValue("n"), len(jobs)-1))
		return
	}
	res, err := virtual.Render(jobs[i], virtual.Options{Dots: 576})
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Cache-Control", "no-store")
	if ext == "txt" {
		w.Header().Set("Content-Type", "text/plain; charset=utf-8")
		_, _ = io.WriteString(w, res.Text)
		return
	}
	png, err := res.PNG()
	if err != nil {
		s.fail(w, r, err)
		return
	}
	w.Header().Set("Content-Type", "image/png")
	_, _ = w.Write(png)
}

func (s *Server) healthz(w http.ResponseWriter, r *http.Request) {
	if _, err := s.o.Store.Events(s.o.Store.LastSeq(), 1); err != nil && !errors.Is(err, journal.ErrCompacted) {
		writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "journal": err.Error()})
		return
	}
	critical := 0
	if s.o.Health != nil {
		for _, c := range s.o.Health.List() {
			if c.Severity == device.Critical {
				critical++
			}
		}
	}
	writeJSON(w, http.StatusOK, map[string]any{"status": "ok", "critical_conditions": critical, "last_seq": s.o.Store.LastSeq()})
}
