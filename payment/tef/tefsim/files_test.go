package tefsim_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/totemd/totemd/payment/tef"
	"github.com/totemd/totemd/payment/tef/tefsim"
)

// fileSim starts a simulator on the file transport and returns its client.
func fileSim(t *testing.T) (*tefsim.Sim, *fileClient, *logBuf) {
	t.Helper()
	s, logs := newSim(t)
	return s, transports[1].connect(t, s).(*fileClient), logs
}

func exists(t *testing.T, path string) bool {
	t.Helper()
	_, err := os.Stat(path)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		t.Fatal(err)
	}
	return err == nil
}

// TestFilesConsumeNotTmp: IntPos.tmp is never read; IntPos.001 is consumed and answered.
func TestFilesConsumeNotTmp(t *testing.T) {
	t.Parallel()
	s, a, _ := fileSim(t)
	tmp := filepath.Join(a.req, tefsim.TempFile)
	if err := os.WriteFile(tmp, []byte(request("000-000", "ATV", "001-000", "1")), 0o644); err != nil {
		t.Fatal(err)
	}
	waitPolls(t, s, 2)
	if !exists(t, tmp) || exists(t, filepath.Join(a.resp, tefsim.StatusFile)) {
		t.Fatal("the simulator touched IntPos.tmp")
	}
	if err := os.Rename(tmp, filepath.Join(a.req, tefsim.RequestFile)); err != nil {
		t.Fatal(err)
	}
	wantStatus(t, a, "ATV", "1")
	if exists(t, filepath.Join(a.req, tefsim.RequestFile)) {
		t.Error("the request was not consumed")
	}
	field(t, mustNext(t, a, "response"), 9, "0")
	if entries, _ := os.ReadDir(a.resp); len(entries) != 0 {
		t.Errorf("RESP holds %v after the exchange (the client deletes what it reads)", entries)
	}
}

// TestFilesNoTrailerWaits: a request without its trailer is left alone until it has one.
func TestFilesNoTrailerWaits(t *testing.T) {
	t.Parallel()
	s, a, logs := fileSim(t)
	path := filepath.Join(a.req, tefsim.RequestFile)
	if err := os.WriteFile(path, []byte("000-000 = ATV\r\n001-000 = 2\r\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	waitPolls(t, s, 3)
	if !exists(t, path) || exists(t, filepath.Join(a.resp, tefsim.StatusFile)) {
		t.Fatal("a request without its trailer was consumed")
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString("999-999 = 0\r\n")
	f.Close()
	wantStatus(t, a, "ATV", "2")
	field(t, mustNext(t, a, "response"), 9, "0")
	if n := countLines(logs.String(), "no 999-999 trailer yet"); n != 1 {
		t.Errorf("the waiting request was logged %d times, want once", n)
	}
}

// TestFilesGarbled: a request that does not parse is deleted and not answered.
func TestFilesGarbled(t *testing.T) {
	t.Parallel()
	s, a, logs := fileSim(t)
	a.send(t, "GARBAGE\r\n999-999 = 0\r\n")
	eventually(t, "the garbled request consumed", func() bool {
		return !exists(t, filepath.Join(a.req, tefsim.RequestFile))
	})
	wantNothing(t, a, "answer to a garbled request")
	if countLines(logs.String(), "does not parse") != 1 {
		t.Error("the garbled request is not logged")
	}
	a.send(t, request("000-000", "ATV", "001-000", "3"))
	wantStatus(t, a, "ATV", "3")
	wantLedger(t, s)
}

// TestPollRate: REQ is looked at no more than 4 times a second.
func TestPollRate(t *testing.T) {
	t.Parallel()
	s, _, _ := fileSim(t)
	waitPolls(t, s, 1)
	from, t0 := tefsim.Polls(s), time.Now()
	time.Sleep(1100 * time.Millisecond)
	n, el := tefsim.Polls(s)-from, time.Since(t0)
	if max := int64(el/tefsim.PollInterval) + 1; n > max || float64(n)/el.Seconds() > 4.0+1.0/el.Seconds() {
		t.Errorf("%d polls in %s", n, el)
	}
	if n < 3 {
		t.Errorf("only %d polls in %s", n, el)
	}
}

// TestLeftoverResponse: what a crash of the automation leaves in RESP.
func TestLeftoverResponse(t *testing.T) {
	t.Parallel()
	s, a, _ := fileSim(t)
	read := func(name string) *tef.Message {
		t.Helper()
		b, err := os.ReadFile(filepath.Join(a.resp, name))
		if err != nil {
			t.Fatal(err)
		}
		m, err := tef.Parse(b)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		return m
	}

	tx, err := s.LeftoverResponse(tefsim.Leftover{RequestID: "4242", Document: "T-1", AmountCents: 1990, Aborted: true})
	if err != nil || tx != (tefsim.Tx{}) {
		t.Fatalf("FF leftover: %+v, %v", tx, err)
	}
	field(t, read(tefsim.StatusFile), 9, "0")
	ff := read(tefsim.ResponseFile)
	field(t, ff, 1, "4242")
	field(t, ff, 9, "FF")
	wantLedger(t, s)

	tx, err = s.LeftoverResponse(tefsim.Leftover{RequestID: "4243", Document: "T-2", AmountCents: 1990})
	if err != nil {
		t.Fatal(err)
	}
	resp := read(tefsim.ResponseFile)
	field(t, resp, 1, "4243")
	field(t, resp, 9, "0")
	field(t, resp, 12, tx.NSU)
	field(t, resp, 27, tx.Finalizacao)
	if got := wantLedger(t, s, tefsim.StatePending)[0]; got != tx || tx.Document != "T-2" {
		t.Errorf("ledger %+v, returned %+v", got, tx)
	}

	// The automation comes back and undoes it.
	statusOnly(t, a, resolveReq("NCN", "4244", tx))
	wantLedger(t, s, tefsim.StateUndone)

	if _, err := s.LeftoverResponse(tefsim.Leftover{AmountCents: 1053}); err == nil {
		t.Error("a ,53 leftover")
	}
	other, _ := newSim(t)
	if _, err := other.LeftoverResponse(tefsim.Leftover{AmountCents: 100}); !errors.Is(err, tefsim.ErrNoFiles) {
		t.Errorf("leftover without the file transport: %v", err)
	}
	if err := s.ServeFiles(a.req, a.resp); err == nil {
		t.Error("ServeFiles twice")
	}
}

func countLines(text, sub string) int { return strings.Count(text, sub) }
