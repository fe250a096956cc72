package main

// Regression tests of `totemd printer` bugs found in review (all fixed).
// Run them alone: go test -run TestBugPrinter ./cmd/totemd/

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
)

// Bug: printerConfig (cmd/totemd/printer.go) loads the config only to fall back on it: an
// explicit --config that is missing or invalid is ignored whenever --device is given or the
// command needs no device (sample), and the command goes on with the defaults (generic-80).
func TestBugPrinterExplicitConfigErrorIgnored(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	invalid := filepath.Join(dir, "invalid.yaml")
	// Valid but for poll_interval; its profile is generic-58.
	yaml := "kiosk:\n  id: totem-01\nstate_dir: " + dir + "\nprinter:\n  profile: generic-58\n  poll_interval: 1ms\n"
	if err := os.WriteFile(invalid, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	p := serveFakePrinter(t) // a ready printer: only the config can make status fail
	for _, c := range []struct{ name, path string }{
		{"missing", filepath.Join(dir, "nope.yaml")},
		{"invalid", invalid},
	} {
		out, stderr, code := runCLI(t, "printer", "sample", "--out", filepath.Join(dir, c.name+".bin"), "--config", c.path)
		if code != 1 || !strings.Contains(stderr, c.path) {
			t.Errorf("sample --config %s (%s): exit %d, want 1 with an error naming the file\nstdout: %sstderr: %s", c.path, c.name, code, out, stderr)
		}
		out, stderr, code = runCLI(t, "printer", "status", "--device", p.uri(), "--config", c.path)
		if code != 1 || !strings.Contains(stderr, c.path) {
			t.Errorf("status --device ... --config %s (%s): exit %d, want 1 with an error naming the file\nstdout: %sstderr: %s", c.path, c.name, code, out, stderr)
		}
	}
}

// Bug: profiles of escpos-printer-db are built by ranging over the model's codePages map, and
// where the data lists a code page in two slots the last one ranged wins: the slot changes from
// run to run. POS-5890 (CP860 in slots 3 and 55) selects ESC t 3 in some runs and ESC t 55 in
// others (also KR-306, NT-5890K, NT-80-V-UL, P822D; CP437 on the Star models).
func TestBugDatabaseCodePageSlotChangesBetweenRuns(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	const runs = 32
	outs := make([][]byte, runs)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 8)
	for i := range runs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			f := filepath.Join(dir, fmt.Sprintf("s%d.bin", i))
			if _, stderr, code := runCLI(t, "printer", "sample", "--out", f, "--profile", "POS-5890"); code != 0 {
				t.Errorf("sample: exit %d: %s", code, stderr)
				return
			}
			outs[i], _ = os.ReadFile(f)
		})
	}
	wg.Wait()
	slots := map[string]int{}
	for _, o := range outs {
		if i := bytes.Index(o, []byte{0x1b, 0x74}); i >= 0 && i+2 < len(o) {
			slots[fmt.Sprintf("ESC t %d", o[i+2])]++
		}
	}
	if len(slots) != 1 {
		t.Errorf("%d runs of `printer sample --profile POS-5890` selected different code page slots: %v; want the same every run", runs, slots)
	}
	for i := 1; i < runs; i++ {
		if !bytes.Equal(outs[i], outs[0]) {
			t.Errorf("run %d wrote other bytes than run 0", i)
			break
		}
	}
}
