package virtual

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"
)

func TestZZCorpusTiming(t *testing.T) {
	dir := os.Getenv("CORPUS")
	files, _ := filepath.Glob(filepath.Join(dir, "*"))
	for _, f := range files {
		b, _ := os.ReadFile(f)
		s := strings.TrimSpace(strings.SplitN(string(b), "\n", 2)[1])
		s = strings.TrimSuffix(strings.TrimPrefix(s, "[]byte("), ")")
		u, err := strconv.Unquote(s)
		if err != nil {
			t.Log(f, err)
			continue
		}
		t0 := time.Now()
		r, _ := Render([]byte(u), Options{})
		t1 := time.Now()
		r.PNG()
		t2 := time.Now()
		if t2.Sub(t0) > 20*time.Millisecond {
			t.Logf("%s len %d render %v png %v height %d lines %d unknown %d", filepath.Base(f)[:8], len(u), t1.Sub(t0), t2.Sub(t1), r.Height, len(r.Lines), len(r.Unknown))
		}
	}
}
