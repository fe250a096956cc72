package ui

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// metrics are the counters behind /metrics, written in the Prometheus text format by hand:
// a handful of series do not justify a client library.
type metrics struct {
	mu         sync.Mutex
	requests   map[[2]string]uint64 // {route, code} -> count
	durSum     map[string]float64   // route -> seconds
	wsClients  atomic.Int64
	wsDropped  atomic.Uint64
	eventsSent atomic.Uint64
}

func newMetrics() *metrics {
	return &metrics{requests: map[[2]string]uint64{}, durSum: map[string]float64{}}
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(code int) {
	if r.code == 0 {
		r.code = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *statusRecorder) Write(b []byte) (int, error) {
	if r.code == 0 {
		r.code = http.StatusOK
	}
	return r.ResponseWriter.Write(b)
}

// Hijack hands the connection to the WebSocket upgrade (gorilla asserts http.Hijacker).
func (r *statusRecorder) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	r.code = http.StatusSwitchingProtocols
	return http.NewResponseController(r.ResponseWriter).Hijack()
}

// Unwrap lets http.ResponseController (and the WebSocket upgrade) reach the connection.
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (m *metrics) instrument(route string, h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		h.ServeHTTP(rec, r)
		if rec.code == 0 {
			rec.code = http.StatusSwitchingProtocols // hijacked by the WebSocket upgrade
		}
		m.mu.Lock()
		m.requests[[2]string{route, fmt.Sprint(rec.code)}]++
		m.durSum[route] += time.Since(start).Seconds()
		m.mu.Unlock()
	})
}

func (s *Server) serveMetrics(w http.ResponseWriter, r *http.Request) {
	m := s.metrics
	var b strings.Builder
	gauge := func(name, help string, v any) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s gauge\n%s %v\n", name, help, name, name, v)
	}
	fmt.Fprintf(&b, "# HELP totemd_build_info Version of the running totemd.\n# TYPE totemd_build_info gauge\ntotemd_build_info{version=%q,kiosk_id=%q} 1\n", s.o.Version, s.o.Store.KioskID())
	gauge("totemd_journal_last_seq", "Highest committed event sequence number.", s.o.Store.LastSeq())
	gauge("totemd_journal_first_seq", "Oldest event sequence number still stored.", s.o.Store.FirstSeq())
	gauge("totemd_ws_clients", "Connected WebSocket clients.", m.wsClients.Load())
	fmt.Fprintf(&b, "# HELP totemd_ws_dropped_total WebSocket clients dropped for being too slow or broken.\n# TYPE totemd_ws_dropped_total counter\ntotemd_ws_dropped_total %d\n", m.wsDropped.Load())
	fmt.Fprintf(&b, "# HELP totemd_ws_events_sent_total Events written to WebSocket clients.\n# TYPE totemd_ws_events_sent_total counter\ntotemd_ws_events_sent_total %d\n", m.eventsSent.Load())

	m.mu.Lock()
	keys := make([][2]string, 0, len(m.requests))
	for k := range m.requests {
		keys = append(keys, k)
	}
	slices.SortFunc(keys, func(a, b [2]string) int { return strings.Compare(a[0]+a[1], b[0]+b[1]) })
	b.WriteString("# HELP totemd_http_requests_total HTTP requests by route and status code.\n# TYPE totemd_http_requests_total counter\n")
	for _, k := range keys {
		fmt.Fprintf(&b, "totemd_http_requests_total{route=%q,code=%q} %d\n", k[0], k[1], m.requests[k])
	}
	routes := make([]string, 0, len(m.durSum))
	for r := range m.durSum {
		routes = append(routes, r)
	}
	sort.Strings(routes)
	b.WriteString("# HELP totemd_http_request_seconds_sum Time spent answering, by route.\n# TYPE totemd_http_request_seconds_sum counter\n")
	for _, r := range routes {
		fmt.Fprintf(&b, "totemd_http_request_seconds_sum{route=%q} %g\n", r, m.durSum[r])
	}
	m.mu.Unlock()

	if s.o.Health != nil {
		b.WriteString("# HELP totemd_health_condition Active health conditions (1 while active).\n# TYPE totemd_health_condition gauge\n")
		for _, c := range s.o.Health.List() {
			fmt.Fprintf(&b, "totemd_health_condition{name=%q,severity=%q} 1\n", c.Name, c.Severity)
		}
	}
	w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
	_, _ = w.Write([]byte(b.String()))
}
