package tef_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/totemd/totemd/payment/tef"
)

// fakeFiles is a tiny file GP: it waits for a request in root/REQ, consumes it and runs script.
func fakeFiles(t *testing.T, root string, script func(req *tef.Message, resp string)) {
	t.Helper()
	reqDir, respDir := filepath.Join(root, "REQ"), filepath.Join(root, "RESP")
	for _, d := range []string{reqDir, respDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ctx.Err() == nil {
			time.Sleep(20 * time.Millisecond)
			data, err := os.ReadFile(filepath.Join(reqDir, "IntPos.001"))
			if err != nil {
				continue
			}
			req, err := tef.Parse(data)
			if err != nil {
				continue
			}
			os.Remove(filepath.Join(reqDir, "IntPos.001"))
			script(req, respDir)
			return
		}
	}()
	t.Cleanup(func() { cancel(); <-done })
}

// put writes name in dir atomically.
func put(t *testing.T, dir, name string, data []byte) {
	tmp := filepath.Join(dir, "IntPos.tmp")
	if err := os.WriteFile(tmp, data, 0o644); err != nil {
		t.Error(err)
		return
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Error(err)
	}
}

// waitGone waits until the client consumed path.
func waitGone(path string) {
	for i := 0; i < 200; i++ {
		if _, err := os.Stat(path); errors.Is(err, os.ErrNotExist) {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestFilesForeignPartialAndLocked(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	fakeFiles(t, root, func(req *tef.Message, resp string) {
		id := req.RequestID()
		sts := filepath.Join(resp, "IntPos.sts")
		put(t, resp, "IntPos.sts", answer(req, "7", "0")) // another request's status
		waitGone(sts)
		// "Locked": a status that cannot be read for a few polls.
		if err := os.Mkdir(sts, 0o755); err != nil {
			t.Error(err)
		}
		time.Sleep(600 * time.Millisecond)
		os.Remove(sts)
		put(t, resp, "IntPos.sts", answer(req, id, "0"))
		full := answer(req, id, "0")
		rsp := filepath.Join(resp, "IntPos.001")
		if err := os.WriteFile(rsp, full[:len(full)-8], 0o644); err != nil { // being written
			t.Error(err)
		}
		time.Sleep(700 * time.Millisecond)
		if _, err := os.Stat(rsp); err != nil {
			t.Errorf("a response without its trailer was consumed: %v", err)
		}
		put(t, resp, "IntPos.001", full)
	})
	log, _ := newLogger(t)
	cfg := testConfig("file://" + root)
	cfg.StatusTimeout = 3 * time.Second
	c := newClient(t, cfg, log)
	if err := c.ATV(ctxT(t, 5*time.Second)); err != nil {
		t.Fatalf("ATV: %v", err)
	}
	for _, n := range []string{"IntPos.sts", "IntPos.001"} {
		if _, err := os.Stat(filepath.Join(root, "RESP", n)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("RESP/%s not consumed: %v", n, err)
		}
	}
}

func TestFilesStaleRemoved(t *testing.T) {
	t.Parallel()
	root := t.TempDir()
	for _, d := range []string{"req", "resp"} {
		os.MkdirAll(filepath.Join(root, d), 0o755)
	}
	stale := map[string][]byte{
		"resp/IntPos.sts": []byte("000-000 = CRT\r\n001-000 = 1\r\n999-999 = 0\r\n"),
		"resp/IntPos.001": []byte("000-000 = CRT\r\n001-000 = 1\r\n009-000 = 0\r\n"),
		"req/IntPos.tmp":  []byte("000-000 = CRT\r\n"),
	}
	for p, b := range stale {
		if err := os.WriteFile(filepath.Join(root, p), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg := testConfig("file://" + root)
	c := newClient(t, cfg, nil)
	if err := c.ATV(ctxT(t, 5*time.Second)); !errors.Is(err, tef.ErrNoStatus) {
		t.Fatalf("ATV without a GP: %v", err)
	}
	for p := range stale {
		if _, err := os.Stat(filepath.Join(root, p)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("stale %s left: %v", p, err)
		}
	}
	if _, err := os.Stat(filepath.Join(root, "req", "IntPos.001")); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("the unanswered request is left in REQ: %v", err)
	}
}
