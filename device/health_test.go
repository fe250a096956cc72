package device

import (
	"testing"
	"time"
)

func TestHealth(t *testing.T) {
	now := time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)
	h := NewHealth(func() time.Time { return now })
	var got []Change
	h.OnChange(func(c Change) { got = append(got, c) })

	h.Set("printer.paper_near_end", Warning, "Papel acabando")
	h.Set("printer.paper_near_end", Warning, "Papel acabando") // same: no change
	now = now.Add(time.Minute)
	h.Set("printer.paper_out", Critical, "Sem papel")
	h.Set("printer.paper_near_end", Critical, "Papel no fim") // escalated: a change, Since kept
	h.Clear("tef.unreachable")                                // absent: no change
	h.Clear("printer.paper_out")

	steps := []struct {
		name   string
		active bool
		sev    Severity
	}{
		{"printer.paper_near_end", true, Warning},
		{"printer.paper_out", true, Critical},
		{"printer.paper_near_end", true, Critical},
		{"printer.paper_out", false, Critical},
	}
	if len(got) != len(steps) {
		t.Fatalf("got %d changes, want %d: %+v", len(got), len(steps), got)
	}
	for i, s := range steps {
		if got[i].Name != s.name || got[i].Active != s.active || got[i].Severity != s.sev {
			t.Errorf("change %d = %+v, want %+v", i, got[i], s)
		}
	}
	c, ok := h.Get("printer.paper_near_end")
	if !ok || !c.Since.Equal(now.Add(-time.Minute)) {
		t.Errorf("Since not kept across an update: %+v", c)
	}
	h.Set("a.info", Info, "i")
	h.Set("z.crit", Critical, "c")
	list := h.List()
	want := []string{"printer.paper_near_end", "z.crit", "a.info"}
	for i, n := range want {
		if list[i].Name != n {
			t.Fatalf("List order = %v, want %v", list, want)
		}
	}
}
