package tefsim_test

import (
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/totemd/totemd/payment/tef"
	"github.com/totemd/totemd/payment/tef/tefsim"
)

// TestScenarios runs every scenario over both transports.
func TestScenarios(t *testing.T) {
	cases := []struct {
		name string
		run  func(t *testing.T, s *tefsim.Sim, a automation, transport string)
	}{
		{"ATV", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			resp := exchange(t, a, request("000-000", "ATV", "001-000", "11"))
			field(t, resp, 9, "0")
			wantLedger(t, s)
		}},
		{"ADM", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			resp := exchange(t, a, request("000-000", "ADM", "001-000", "12"))
			field(t, resp, 9, "0")
			field(t, resp, 729, "1")
			if lines := resp.Lines(28, 29); len(lines) < 3 || !strings.Contains(lines[0], "RELATORIO") {
				t.Errorf("ADM receipt %q", lines)
			}
			wantLedger(t, s)
		}},
		{"approved credit, then CNF", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			resp := exchange(t, a, crt("21", 1000, "731-000", "1"))
			wantApproved(t, resp, "21", 1000, "10", "2")
			led := wantLedger(t, s, tefsim.StatePending)
			tx := led[0]
			if tx.NSU != resp.Value(12, 0) || tx.Finalizacao != resp.Value(27, 0) || tx.Network != "REDE" ||
				tx.AmountCents != 1000 || tx.Document != "DOC21" || !tx.Approved.Equal(start) {
				t.Errorf("ledger %+v does not match the response", tx)
			}
			if p := s.Pending(); len(p) != 1 || p[0].NSU != tx.NSU {
				t.Errorf("Pending() = %+v", p)
			}
			statusOnly(t, a, resolveReq("CNF", "22", tx))
			wantLedger(t, s, tefsim.StateConfirmed)
			if len(s.Pending()) != 0 {
				t.Errorf("pending after CNF: %+v", s.Pending())
			}
			wantNothing(t, a, "after the status of a CNF")
		}},
		{"approved debit, then NCN", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			resp := exchange(t, a, crt("31", 2599, "731-000", "2"))
			wantApproved(t, resp, "31", 2599, "20", "2")
			tx := wantLedger(t, s, tefsim.StatePending)[0]
			statusOnly(t, a, resolveReq("NCN", "32", tx))
			wantLedger(t, s, tefsim.StateUndone)
		}},
		{"approved in installments", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			resp := exchange(t, a, crt("33", 30000, "731-000", "1", "017-000", "0", "018-000", "3"))
			wantApproved(t, resp, "33", 30000, "11", "2")
			field(t, resp, 18, "3")
		}},
		{",51 declined", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			resp := exchange(t, a, crt("41", 1051))
			field(t, resp, 9, tefsim.CodeDeclined)
			field(t, resp, 30, "TRANSACAO NEGADA")
			if resp.Value(31, 0) == "" {
				t.Error("no 031-000 for the customer")
			}
			for _, id := range []int{12, 27, 28, 729} {
				if v, ok := resp.Get(id, 0); ok {
					t.Errorf("a declined sale with %03d-000 = %q", id, v)
				}
			}
			wantLedger(t, s)
		}},
		{",52 cancelled on the PIN pad", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			resp := exchange(t, a, crt("51", 1052))
			field(t, resp, 9, tefsim.CodeCancelled)
			field(t, resp, 30, "OPERACAO CANCELADA")
			wantLedger(t, s)
		}},
		{",53 no status", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			a.send(t, crt("61", 1053))
			wantNothing(t, a, "status of a ,53 sale")
			wantLedger(t, s)
			// The GP still answers what comes next.
			resp := exchange(t, a, request("000-000", "ATV", "001-000", "62"))
			field(t, resp, 9, "0")
		}},
		{",54 approval lost", func(t *testing.T, s *tefsim.Sim, a automation, transport string) {
			a.send(t, crt("71", 1054))
			wantStatus(t, a, "CRT", "71")
			raw, err := a.next(waitLimit)
			switch transport {
			case "tcp":
				if !errors.Is(err, io.EOF) && !errors.Is(err, net.ErrClosed) && !isReset(err) || len(raw) > 0 {
					t.Fatalf("after the status of a ,54 sale: %q, %v; want the connection closed", raw, err)
				}
			case "file":
				if err != nil {
					t.Fatalf("waiting for the truncated response: %v", err)
				}
				if _, perr := tef.Parse(raw); !errors.Is(perr, tef.ErrNoTrailer) {
					t.Fatalf("the ,54 response parses (%v): %q", perr, raw)
				}
				if !strings.HasPrefix(string(raw), "000-000 = CRT\r\n001-000 = 71\r\n") ||
					strings.HasSuffix(string(raw), "\n") {
					t.Errorf("the ,54 response is not a response cut mid-line: %q", raw)
				}
			}
			tx := wantLedger(t, s, tefsim.StatePending)[0]
			if tx.AmountCents != 1054 {
				t.Errorf("pending %+v", tx)
			}
			// The automation never saw the approval: the next sale tells it what is pending,
			// and it undoes that.
			b := a.again(t)
			refused := exchange(t, b, crt("72", 1000))
			field(t, refused, 9, tefsim.CodePending)
			field(t, refused, 12, tx.NSU)
			statusOnly(t, b, request("000-000", "NCN", "001-000", "73", "010-000", refused.Value(10, 0),
				"012-000", refused.Value(12, 0), "027-000", refused.Value(27, 0)))
			wantLedger(t, s, tefsim.StateUndone)
		}},
		{"document not printable", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			resp := exchange(t, a, request("000-000", "CRT", "001-000", "75", "002-000", "A\x01B", "003-000", "500"))
			field(t, resp, 9, "0")
			field(t, resp, 2, "A?B")
		}},
		{",55 no confirmation", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			resp := exchange(t, a, crt("81", 1055))
			wantApproved(t, resp, "81", 1055, "10", "1")
			wantLedger(t, s, tefsim.StateConfirmed)
			if len(s.Pending()) != 0 {
				t.Error("a ,55 sale is pending")
			}
		}},
		{",56 partial approval, no confirmation", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			resp := exchange(t, a, crt("82", 1056))
			wantApproved(t, resp, "82", 1055, "10", "1")
			wantLedger(t, s, tefsim.StateConfirmed)
			if l := s.Ledger(); len(l) != 1 || l[0].AmountCents != 1055 {
				t.Errorf("ledger %+v; want 1055 centavos charged", l)
			}
		}},
		{"sale without an amount", func(t *testing.T, s *tefsim.Sim, a automation, _ string) {
			resp := exchange(t, a, request("000-000", "CRT", "001-000", "91"))
			field(t, resp, 9, tefsim.CodeInvalid)
			wantLedger(t, s)
		}},
	}
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			for _, c := range cases {
				t.Run(c.name, func(t *testing.T) {
					t.Parallel()
					s, _ := newSim(t)
					c.run(t, s, tr.connect(t, s), tr.name)
				})
			}
		})
	}
}

func isReset(err error) bool {
	return err != nil && strings.Contains(err.Error(), "connection reset")
}

// wantApproved checks an approved sale's response.
func wantApproved(t *testing.T, resp *tef.Message, id string, cents int64, txType, confirm string) {
	t.Helper()
	field(t, resp, 0, "CRT")
	field(t, resp, 1, id)
	field(t, resp, 2, "DOC"+id)
	field(t, resp, 9, "0")
	field(t, resp, 10, "REDE")
	field(t, resp, 11, txType)
	field(t, resp, 40, "VISA")
	field(t, resp, 729, confirm)
	field(t, resp, 740, "************1234")
	field(t, resp, 15, "1003150405")
	field(t, resp, 16, "1003150405")
	field(t, resp, 22, "10032025")
	field(t, resp, 23, "150405")
	if c, ok, err := resp.Amount(3); c != cents || !ok || err != nil {
		t.Errorf("003-000 = %q, want %d centavos", resp.Value(3, 0), cents)
	}
	if nsu := resp.Value(12, 0); len(nsu) != 6 || strings.Trim(nsu, "0123456789") != "" {
		t.Errorf("NSU %q is not 6 digits", nsu)
	}
	for _, id := range []int{13, 27} {
		if resp.Value(id, 0) == "" {
			t.Errorf("no %03d-000", id)
		}
	}
	quoted := 0
	for _, f := range resp.Fields {
		if f.ID == 29 || f.ID >= 711 && f.ID <= 715 && f.ID%2 == 1 {
			if strings.HasPrefix(f.Value, `"`) {
				quoted++
			}
		}
	}
	if quoted == 0 {
		t.Error("no receipt line is quoted")
	}
	for _, ids := range [][2]int{{28, 29}, {710, 711}, {712, 713}, {714, 715}} {
		lines := resp.Lines(ids[0], ids[1])
		if len(lines) < 3 {
			t.Errorf("%03d/%03d: %d lines", ids[0], ids[1], len(lines))
		}
		for _, l := range lines {
			if len(l) > 40 {
				t.Errorf("%03d: line of %d columns: %q", ids[1], len(l), l)
			}
		}
	}
	if !slices.ContainsFunc(resp.Lines(712, 713), func(l string) bool { return strings.Contains(l, "VIA CLIENTE") }) {
		t.Error("713: no VIA CLIENTE")
	}
	amount := fmt.Sprintf("R$ %d,%02d", cents/100, cents%100)
	if !slices.ContainsFunc(resp.Lines(28, 29), func(l string) bool { return strings.Contains(l, amount) }) {
		t.Errorf("029: no %q in %q", amount, resp.Lines(28, 29))
	}
}

// TestPendingBlocksSales: an approved, unconfirmed sale makes the GP refuse sales and
// cancellations, telling which transaction is pending, until a CNF or NCN resolves it.
func TestPendingBlocksSales(t *testing.T) {
	for _, tr := range transports {
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newSim(t)
			a := tr.connect(t, s)
			resp := exchange(t, a, crt("100", 1000))
			first := wantLedger(t, s, tefsim.StatePending)[0]

			refused := exchange(t, a, crt("101", 2000))
			field(t, refused, 9, tefsim.CodePending)
			field(t, refused, 30, "TRANSACAO PENDENTE")
			field(t, refused, 10, first.Network)
			field(t, refused, 12, first.NSU)
			field(t, refused, 27, resp.Value(27, 0))
			cnc := exchange(t, a, request("000-000", "CNC", "001-000", "102", "025-000", first.NSU, "003-000", "1000"))
			field(t, cnc, 9, tefsim.CodePending)

			statusOnly(t, a, resolveReq("NCN", "103", first))
			wantLedger(t, s, tefsim.StateUndone)
			second := exchange(t, a, crt("104", 2000))
			field(t, second, 9, "0")
			if second.Value(12, 0) == first.NSU {
				t.Error("the NSU was given twice")
			}
			tx := wantLedger(t, s, tefsim.StateUndone, tefsim.StatePending)[1]

			field(t, exchange(t, a, crt("105", 3000)), 9, tefsim.CodePending)
			statusOnly(t, a, resolveReq("CNF", "106", tx))
			wantLedger(t, s, tefsim.StateUndone, tefsim.StateConfirmed)
			field(t, exchange(t, a, crt("107", 3000)), 9, "0")
		})
	}
}

// TestResolveOnce: a transaction is resolved once; later CNF/NCN only get their status (over
// TCP: which transport carries them makes no difference to the ledger).
func TestResolveOnce(t *testing.T) {
	for _, tr := range transports[:1] { // the logic is the transports'; TestPendingBlocksSales runs CNF/NCN over files
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			s, logs := newSim(t)
			a := tr.connect(t, s)
			exchange(t, a, crt("200", 1000))
			tx := wantLedger(t, s, tefsim.StatePending)[0]

			wrong := tx
			wrong.Finalizacao += "X"
			statusOnly(t, a, resolveReq("CNF", "201", wrong))
			wantLedger(t, s, tefsim.StatePending)
			if !strings.Contains(logs.String(), "unknown transaction") {
				t.Error("a CNF for an unknown transaction is not logged")
			}

			statusOnly(t, a, resolveReq("CNF", "202", tx))
			confirmed := wantLedger(t, s, tefsim.StateConfirmed)[0]
			statusOnly(t, a, resolveReq("CNF", "203", tx))
			statusOnly(t, a, resolveReq("NCN", "204", tx))
			again := wantLedger(t, s, tefsim.StateConfirmed)[0]
			if again != confirmed {
				t.Errorf("resolved twice: %+v then %+v", confirmed, again)
			}
			if n := strings.Count(logs.String(), "already resolved"); n != 2 {
				t.Errorf("%d log lines about a transaction already resolved, want 2", n)
			}
		})
	}
}

// TestCancel: CNC cancels a confirmed sale once, matched by NSU, timestamp and amount.
func TestCancel(t *testing.T) {
	for _, tr := range transports[:1] { // the logic is the transports'; TestPendingBlocksSales runs CNF/NCN over files
		t.Run(tr.name, func(t *testing.T) {
			t.Parallel()
			s, _ := newSim(t)
			a := tr.connect(t, s)
			exchange(t, a, crt("300", 4500))
			tx := wantLedger(t, s, tefsim.StatePending)[0]
			// Not confirmed yet: the pending transaction blocks it.
			field(t, exchange(t, a, request("000-000", "CNC", "001-000", "301", "025-000", tx.NSU)), 9, tefsim.CodePending)
			statusOnly(t, a, resolveReq("CNF", "302", tx))

			for _, c := range []struct{ id, nsu, ts, amount string }{
				{"303", "000001", tx.Timestamp, "4500"},
				{"304", tx.NSU, "0101000000", "4500"},
				{"305", tx.NSU, tx.Timestamp, "4501"},
			} {
				resp := exchange(t, a, request("000-000", "CNC", "001-000", c.id, "025-000", c.nsu, "026-000", c.ts, "003-000", c.amount))
				field(t, resp, 9, tefsim.CodeNotFound)
				field(t, resp, 30, "TRANSACAO NAO ENCONTRADA")
			}
			wantLedger(t, s, tefsim.StateConfirmed)

			resp := exchange(t, a, request("000-000", "CNC", "001-000", "306", "010-000", "REDE", "025-000", tx.NSU,
				"026-000", tx.Timestamp, "003-000", "4500", "022-000", "10032025", "023-000", "150405"))
			field(t, resp, 9, "0")
			field(t, resp, 25, tx.NSU)
			field(t, resp, 729, "1")
			if nsu := resp.Value(12, 0); nsu == "" || nsu == tx.NSU {
				t.Errorf("cancellation NSU %q", nsu)
			}
			if c, _, _ := resp.Amount(3); c != 4500 {
				t.Errorf("cancelled amount %d", c)
			}
			wantLedger(t, s, tefsim.StateCancelled)

			again := exchange(t, a, request("000-000", "CNC", "001-000", "307", "025-000", tx.NSU))
			field(t, again, 30, "TRANSACAO JA CANCELADA")
			wantLedger(t, s, tefsim.StateCancelled)
		})
	}
}

// TestLedgerPersists: the ledger survives Close and New on the same directory.
func TestLedgerPersists(t *testing.T) {
	t.Parallel()
	dir := t.TempDir()
	s1, _ := newSim(t, func(o *tefsim.Options) { o.Dir = dir })
	addr, err := s1.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := dialTCP(t, addr)
	exchange(t, a, crt("400", 1000))
	statusOnly(t, a, resolveReq("CNF", "401", s1.Ledger()[0]))
	exchange(t, a, crt("402", 2000))
	before := wantLedger(t, s1, tefsim.StateConfirmed, tefsim.StatePending)
	if err := s1.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "ledger.json")); err != nil {
		t.Fatal(err)
	}

	s2, _ := newSim(t, func(o *tefsim.Options) { o.Dir = dir })
	after := s2.Ledger()
	if !slices.EqualFunc(before, after, sameTx) {
		t.Fatalf("ledger after a restart:\n%+v\nbefore:\n%+v", after, before)
	}
	addr, err = s2.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a = dialTCP(t, addr)
	field(t, exchange(t, a, crt("403", 3000)), 9, tefsim.CodePending)
	statusOnly(t, a, resolveReq("NCN", "404", after[1]))
	resp := exchange(t, a, crt("405", 3000))
	field(t, resp, 9, "0")
	if nsu := resp.Value(12, 0); nsu == before[0].NSU || nsu == before[1].NSU {
		t.Errorf("NSU %s given again after a restart", nsu)
	}
	wantLedger(t, s2, tefsim.StateConfirmed, tefsim.StateUndone, tefsim.StatePending)

	if err := os.WriteFile(filepath.Join(dir, "ledger.json"), []byte("{"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := tefsim.New(tefsim.Options{Dir: dir}); err == nil {
		t.Error("New accepted a broken ledger")
	}
}

// TestSetDownTCP: a GP that is down refuses connections and drops the open ones.
func TestSetDownTCP(t *testing.T) {
	t.Parallel()
	s, _ := newSim(t)
	addr, err := s.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := dialTCP(t, addr)
	exchange(t, a, request("000-000", "ATV", "001-000", "500"))

	s.SetDown(true)
	if raw, err := a.next(waitLimit); err == nil {
		t.Fatalf("the open connection still reads: %q", raw)
	}
	if c, err := net.DialTimeout("tcp", addr, waitLimit); err == nil {
		c.Close()
		t.Fatal("a GP that is down accepts connections")
	}

	s.SetDown(false)
	b := dialTCP(t, addr)
	field(t, exchange(t, b, request("000-000", "ATV", "001-000", "501")), 9, "0")
}

// TestSetDownMidSale: the GP going down while the customer is on the PIN pad records nothing.
func TestSetDownMidSale(t *testing.T) {
	t.Parallel()
	s, _ := newSim(t, func(o *tefsim.Options) { o.PINPadDelay = time.Hour })
	addr, err := s.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := dialTCP(t, addr)
	a.send(t, crt("510", 1000))
	wantStatus(t, a, "CRT", "510")
	s.SetDown(true)
	if raw, err := a.next(waitLimit); err == nil {
		t.Fatalf("a response from a GP that went down: %q", raw)
	}
	wantLedger(t, s)
}

// TestSetDownFiles: a GP that is down leaves REQ alone; back up, it answers what waits there.
func TestSetDownFiles(t *testing.T) {
	t.Parallel()
	s, _ := newSim(t)
	a := transports[1].connect(t, s).(*fileClient)
	s.SetDown(true)
	a.send(t, request("000-000", "ATV", "001-000", "600"))
	wantNothing(t, a, "status from a GP that is down")
	if _, err := os.Stat(filepath.Join(a.req, tefsim.RequestFile)); err != nil {
		t.Fatalf("a GP that is down consumed the request: %v", err)
	}
	s.SetDown(false)
	wantStatus(t, a, "ATV", "600")
	field(t, mustNext(t, a, "response"), 9, "0")
}

// TestTwoConnections: two sales at once on two connections share one PIN pad: one is
// approved, the other refused because the first is pending.
func TestTwoConnections(t *testing.T) {
	t.Parallel()
	s, _ := newSim(t)
	addr, err := s.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	codes := make([]string, 2)
	var wg sync.WaitGroup
	for i := range 2 {
		a := dialTCP(t, addr)
		wg.Go(func() {
			id := []string{"700", "701"}[i]
			if _, err := a.c.Write([]byte(crt(id, 1000))); err != nil {
				t.Errorf("request %s: %v", id, err)
				return
			}
			raw, err := a.next(waitLimit)
			if err != nil {
				t.Errorf("status %s: %v", id, err)
				return
			}
			raw, err = a.next(waitLimit)
			if err != nil {
				t.Errorf("response %s: %v %q", id, err, raw)
				return
			}
			m, err := tef.Parse(raw)
			if err != nil {
				t.Errorf("response %s: %v", id, err)
				return
			}
			codes[i] = m.Value(9, 0)
		})
	}
	wg.Wait()
	slices.Sort(codes)
	if !slices.Equal(codes, []string{"0", tefsim.CodePending}) {
		t.Errorf("codes %v, want one approval and one refusal", codes)
	}
	wantLedger(t, s, tefsim.StatePending)
}

// TestClientGoneMidSale: a sale whose automation hung up before the approval stays pending,
// as at a real GP.
func TestClientGoneMidSale(t *testing.T) {
	t.Parallel()
	s, _ := newSim(t, func(o *tefsim.Options) { o.PINPadDelay = 100 * time.Millisecond })
	addr, err := s.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := dialTCP(t, addr)
	a.send(t, crt("800", 1000))
	wantStatus(t, a, "CRT", "800")
	a.c.Close()
	eventually(t, "the approval recorded", func() bool { return len(s.Pending()) == 1 })
}

// TestGarbledTCP: what does not parse, or has no usable command or id, gets no answer; the
// connection still serves.
func TestGarbledTCP(t *testing.T) {
	t.Parallel()
	s, logs := newSim(t)
	addr, err := s.ListenTCP("127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	a := dialTCP(t, addr)
	for _, raw := range []string{
		"HELLO\r\n999-999 = 0\r\n",
		request("000-000", "XYZ", "001-000", "900"),
		request("000-000", "CRT", "003-000", "1000"),
		request("000-000", "CRT", "001-000", "12AB", "003-000", "1000"),
	} {
		a.send(t, raw)
		wantNothing(t, a, "answer to "+raw)
	}
	field(t, exchange(t, a, request("000-000", "ATV", "001-000", "901")), 9, "0")
	for _, want := range []string{"does not parse", "unknown command", "001-000"} {
		if !strings.Contains(logs.String(), want) {
			t.Errorf("nothing logged about %q", want)
		}
	}
	wantLedger(t, s)
}

// TestCloseIdempotent: Close twice, and the transports refuse to start after it.
func TestCloseIdempotent(t *testing.T) {
	t.Parallel()
	s, _ := newSim(t)
	if _, err := s.ListenTCP("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if err := s.ServeFiles(filepath.Join(t.TempDir(), "REQ"), filepath.Join(t.TempDir(), "RESP")); err != nil {
		t.Fatal(err)
	}
	s.Close()
	s.Close()
	if _, err := s.ListenTCP("127.0.0.1:0"); !errors.Is(err, tefsim.ErrClosed) {
		t.Errorf("ListenTCP after Close: %v", err)
	}
	s.SetDown(false)
}

// sameTx compares two transactions, times by instant (the ledger file keeps no zone name).
func sameTx(a, b tefsim.Tx) bool {
	if !a.Approved.Equal(b.Approved) || !a.Resolved.Equal(b.Resolved) {
		return false
	}
	a.Approved, a.Resolved, b.Approved, b.Resolved = time.Time{}, time.Time{}, time.Time{}, time.Time{}
	return a == b
}
