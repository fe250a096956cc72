package printer

// Regression tests of printer bugs found in review (all fixed). Run them alone: go test -run Bug ./printer/

import (
	"bytes"
	"context"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/totemd/totemd/printer/profile"
)

// Bug: an XOFF that does not arrive while write() is between chunks is dropped: ask() skips
// XON/XOFF frames while it waits for an answer, and drain() (before every status request)
// discards them. A printer that said XOFF just before answering the pre-job DLE EOT, or while
// the service was idle, is then sent the whole job at once.
func TestBugXOFFOutsideWriteIsForgotten(t *testing.T) {
	for _, when := range []string{"before a status answer", "while idle"} {
		t.Run(when, func(t *testing.T) {
			r := newRig(serialInfo(115200, "xonxoff"))
			e := startFlow(t, r, nil, nil)
			e.ready(t)
			var xonWG sync.WaitGroup
			defer xonWG.Wait()
			var mu sync.Mutex
			var tXON time.Time
			xonLater := func() {
				xonWG.Go(func() {
					time.Sleep(500 * time.Millisecond) // the printer's pause
					mu.Lock()
					tXON = r.send([]byte{xon})
					mu.Unlock()
				})
			}
			if when == "while idle" {
				tXOFF := r.send([]byte{xoff})
				xonLater()
				r.waitUntil(t, "the host to read XOFF", func() bool { _, ok := r.hostReadAtLocked(xoff, tXOFF); return ok })
			} else {
				var once sync.Once
				r.setHooks(nil, func(out io.Writer, ans []byte) error {
					once.Do(func() {
						_, _ = out.Write([]byte{xoff})
						xonLater()
					})
					_, err := out.Write(ans)
					return err
				})
			}
			job := textJob("XOFFLOST", 2000)
			if err := e.svc.Print(context.Background(), &Job{Kind: "test", Bytes: job}); err != nil {
				t.Fatalf("print: %v", err)
			}
			xonWG.Wait()
			mu.Lock()
			defer mu.Unlock()
			early := 0
			for _, w := range r.jobWrites() {
				if w.at.Before(tXON) {
					early += len(w.data)
				}
			}
			if early > 0 {
				t.Errorf("%d of %d job bytes sent after the printer's XOFF and before its XON; want 0", early, len(job))
			}
		})
	}
}

// Bug: while a job is paused by XOFF the service reads no status, and when the pause outlasts
// the job timeout printJob drops the link and reports "Impressora desconectada durante a
// impressão" (printer.offline), discarding waitXON's error. A serial printer in XON/XOFF mode
// sends XOFF when it goes offline: here the paper ends in the middle of the ticket; DLE EOT
// (real-time, answered even while paused) says so, yet the job fails as a disconnection and
// health says "desconectada ou desligada" instead of "sem papel".
func TestBugPausedJobReportedAsDisconnection(t *testing.T) {
	r := newRig(serialInfo(115200, "xonxoff"))
	e := startFlow(t, r, func(c *Config) { c.JobTimeout = time.Second }, nil)
	e.ready(t)
	job := textJob("PAPERBUG", 3000)
	var once sync.Once
	r.setHooks(func(received []byte) {
		if i := bytes.Index(received, job[:12]); i >= 0 && len(received)-i >= 700 {
			once.Do(func() {
				r.fake.PaperOut(true) // the roll ends; the printer goes offline and pauses the line
				r.send([]byte{xoff})
			})
		}
	}, nil)
	err := e.svc.Print(context.Background(), &Job{Kind: "test", Bytes: job})
	if code(err) != "printer.paper_out" {
		t.Errorf("job paused by a printer out of paper: %v; want printer.paper_out", err)
	}
	if c, ok := e.health.Get("printer.offline"); ok {
		t.Errorf("health says %q for a printer that is connected and out of paper", c.Message)
	}
	if _, ok := e.health.Get("printer.paper_out"); !ok {
		t.Errorf("no printer.paper_out: %v", e.health.List())
	}
}

// Bug: JobTimeout ("bounds one job: sending it and the end-of-job check") is applied twice:
// once to sending, then afresh to the GS r 1 wait. A job that pauses for 1.7 s of a 2 s timeout
// and then gets no GS r 1 answer takes ~3.8 s.
func TestBugJobTimeoutAppliedTwice(t *testing.T) {
	r := newRig(serialInfo(115200, "xonxoff"))
	const jobTimeout, statusTimeout = 2 * time.Second, 100 * time.Millisecond
	e := startFlow(t, r, func(c *Config) { c.JobTimeout, c.StatusTimeout = jobTimeout, statusTimeout }, nil)
	e.ready(t)
	job := textJob("TWICEJOB", 3000)
	var mu sync.Mutex
	mute := false
	var once sync.Once
	r.setHooks(func(received []byte) {
		if i := strings.Index(string(received), string(job[:12])); i >= 0 && len(received)-i >= 700 {
			once.Do(func() {
				r.send([]byte{xoff})
				r.wg.Go(func() {
					time.Sleep(1700 * time.Millisecond)
					mu.Lock()
					mute = true // from now on the printer answers nothing
					mu.Unlock()
					r.send([]byte{xon})
				})
			})
		}
	}, func(out io.Writer, ans []byte) error {
		mu.Lock()
		m := mute
		mu.Unlock()
		if m {
			return nil
		}
		_, err := out.Write(ans)
		return err
	})
	start := time.Now()
	err := e.svc.Print(context.Background(), &Job{Kind: "test", Bytes: job})
	elapsed := time.Since(start)
	if err == nil {
		t.Fatal("printed without the end-of-job check")
	}
	// Allowed: the job timeout, the status read after it, and slack.
	if limit := jobTimeout + 4*statusTimeout + 500*time.Millisecond; elapsed > limit {
		t.Errorf("job failed after %s (%v); the job timeout is %s (limit with the status read and slack: %s)", elapsed.Round(10*time.Millisecond), err, jobTimeout, limit)
	}
}

// Bug: Options.Now is used for the write deadline, which is then compared with the wall clock
// (time.Until in waitXON, SetWriteDeadline): with an injected clock behind the wall clock, an
// XOFF pause of 300 ms fails the job at once.
func TestBugInjectedClockBreaksFlowControl(t *testing.T) {
	r := newRig(serialInfo(115200, "xonxoff"))
	past := time.Now().Add(-time.Hour)
	e := startFlow(t, r, nil, func(o *Options) { o.Now = func() time.Time { return past } })
	r.fake.NearEnd(false)
	if err := e.svc.Refresh(context.Background()); err != nil {
		t.Fatalf("refresh: %v", err)
	}
	job := textJob("CLOCKJOB", 3000)
	sent := make(chan time.Time, 1)
	r.setHooks(xoffAfter(r, job, 700, nil, sent), nil)
	r.wg.Go(func() {
		select {
		case <-sent:
			time.Sleep(300 * time.Millisecond)
			r.send([]byte{xon})
		case <-time.After(5 * time.Second):
		}
	})
	if err := e.svc.Print(context.Background(), &Job{Kind: "test", Bytes: job}); err != nil {
		t.Errorf("print with a 300 ms XOFF pause and JobTimeout 10 s, clock injected: %v", err)
	}
}

// Bug: profiles of escpos-printer-db take font B's columns from the paper width in mm when the
// model lists no font B, assuming 80 mm for anything not exactly 58: ZJ-5870 (48 mm, 384 dots)
// gets 64 columns of font B (9 dots each: 576 dots), so the Pix copia-e-cola lines (wrapped at
// ColumnsB) and the test page's font B line overflow the paper.
func TestBugDatabaseColumnsBExceedDots(t *testing.T) {
	p, err := profile.Get("ZJ-5870")
	if err != nil {
		t.Fatal(err)
	}
	if p.ColumnsB*9 > p.Dots {
		t.Errorf("ZJ-5870: %d dots, %d columns of font B (%d dots); want at most %d columns", p.Dots, p.ColumnsB, p.ColumnsB*9, p.Dots/9)
	}
}
