// Package device holds what totemd knows of its hardware: byte links to printers and
// terminals (serial, USB, TCP, device file, opened by URI) and the health registry of named
// conditions the UI shows as banners and the cloud receives as telemetry.
package device

import (
	"slices"
	"strings"
	"sync"
	"time"
)

// Severity ranks a condition.
type Severity string

// Severities.
const (
	Info     Severity = "info"     // worth knowing, nothing blocked
	Warning  Severity = "warning"  // degraded: e.g. paper near end
	Critical Severity = "critical" // something cannot be done: e.g. paper out
)

// Condition is one named thing wrong (or worth knowing) now, e.g. printer.paper_out.
type Condition struct {
	Name     string    `json:"name"`
	Severity Severity  `json:"severity"`
	Message  string    `json:"message"` // pt-BR, for the customer or the technician
	Since    time.Time `json:"since"`
}

// Change is a condition raised (Active) or cleared.
type Change struct {
	Condition
	Active bool `json:"active"`
}

// Health is the registry of active conditions. It is safe for concurrent use; observers are
// called after the registry changed, outside its lock, in the order of changes.
type Health struct {
	mu    sync.Mutex
	conds map[string]Condition
	obs   []func(Change)
	now   func() time.Time
	emit  sync.Mutex // serialises observer calls so they see changes in order
}

// NewHealth returns an empty registry; now may be nil (time.Now).
func NewHealth(now func() time.Time) *Health {
	if now == nil {
		now = time.Now
	}
	return &Health{conds: map[string]Condition{}, now: now}
}

// OnChange registers fn to be told of every change. Register before the daemon starts.
func (h *Health) OnChange(fn func(Change)) {
	h.mu.Lock()
	defer h.mu.Unlock()
	h.obs = append(h.obs, fn)
}

// Set raises a condition, or updates its severity and message. Setting the same condition
// again with the same severity and message is not a change.
func (h *Health) Set(name string, sev Severity, msg string) {
	h.emit.Lock()
	defer h.emit.Unlock()
	h.mu.Lock()
	old, ok := h.conds[name]
	if ok && old.Severity == sev && old.Message == msg {
		h.mu.Unlock()
		return
	}
	c := Condition{Name: name, Severity: sev, Message: msg, Since: h.now()}
	if ok {
		c.Since = old.Since
	}
	h.conds[name] = c
	obs := slices.Clone(h.obs)
	h.mu.Unlock()
	for _, fn := range obs {
		fn(Change{Condition: c, Active: true})
	}
}

// Clear removes a condition; clearing an absent one is not a change.
func (h *Health) Clear(name string) {
	h.emit.Lock()
	defer h.emit.Unlock()
	h.mu.Lock()
	c, ok := h.conds[name]
	if !ok {
		h.mu.Unlock()
		return
	}
	delete(h.conds, name)
	obs := slices.Clone(h.obs)
	h.mu.Unlock()
	for _, fn := range obs {
		fn(Change{Condition: c, Active: false})
	}
}

// List returns the active conditions, most severe first, then by name.
func (h *Health) List() []Condition {
	h.mu.Lock()
	out := make([]Condition, 0, len(h.conds))
	for _, c := range h.conds {
		out = append(out, c)
	}
	h.mu.Unlock()
	rank := map[Severity]int{Critical: 0, Warning: 1, Info: 2}
	slices.SortFunc(out, func(a, b Condition) int {
		if d := rank[a.Severity] - rank[b.Severity]; d != 0 {
			return d
		}
		return strings.Compare(a.Name, b.Name)
	})
	return out
}

// Get returns one condition.
func (h *Health) Get(name string) (Condition, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	c, ok := h.conds[name]
	return c, ok
}
