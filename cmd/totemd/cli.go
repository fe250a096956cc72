package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/sync/journal"
	"github.com/totemd/totemd/ui"
	"github.com/totemd/totemd/ui/client"
)

func cmdConfigCheck(args []string, stdout io.Writer) error {
	if len(args) != 1 {
		return &exitError{2, errors.New("usage: totemd config check FILE")}
	}
	data, err := os.ReadFile(args[0])
	if err != nil {
		return fmt.Errorf("reading config: %w", err)
	}
	if _, err := parseConfig(args[0], data); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: ok\n", args[0])
	return nil
}

// target is how a CLI command reaches the daemon's state.
type target struct {
	stateDir string
	addr     string // from <state dir>/api.addr: empty when the daemon of that dir is not running
}

func cliFlags(name string) (*flag.FlagSet, *string, *string) {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	cfgPath := fs.String("config", "", "config file (default /etc/totemd/totemd.yaml if it exists)")
	stateDir := fs.String("state-dir", "", "the daemon's state directory (overrides the config)")
	return fs, cfgPath, stateDir
}

func resolveTarget(cfgPath, stateDir string) (target, error) {
	t := target{stateDir: "/var/lib/totemd"}
	if cfgPath == "" {
		if _, err := os.Stat("/etc/totemd/totemd.yaml"); err == nil && stateDir == "" {
			cfgPath = "/etc/totemd/totemd.yaml"
		}
	}
	if cfgPath != "" {
		cfg, err := loadConfig(cfgPath, false)
		if err != nil {
			return t, err
		}
		t.stateDir = cfg.StateDir
	}
	if stateDir != "" {
		t.stateDir = stateDir
	}
	// Only the daemon of this state dir writes its address there, while it runs: never guess
	// an address, or the token of this dir could reach another daemon.
	if b, err := os.ReadFile(filepath.Join(t.stateDir, "api.addr")); err == nil {
		t.addr = strings.TrimSpace(string(b))
	}
	return t, nil
}

// sessionsSource reads sessions from the daemon, or from its journal when it is not running.
type sessionsSource struct {
	c     *client.Client
	store *journal.Store
}

func openSessions(t target) (*sessionsSource, string, error) {
	if t.addr != "" {
		if tok, err := ui.ReadToken(filepath.Join(t.stateDir, ui.TokenFile)); err == nil {
			c := client.New(t.addr, tok)
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			_, err := c.Status(ctx)
			cancel()
			var ae *client.Error
			switch {
			case err == nil:
				return &sessionsSource{c: c}, "", nil
			case errors.As(err, &ae) && ae.Status == 401:
				// A stale api.addr (after a crash) now served by another daemon: not ours.
			case !errors.Is(err, syscall.ECONNREFUSED) && !isNetErr(err):
				return nil, "", err
			}
		}
	}
	store, err := journal.Open(journal.Options{Path: filepath.Join(t.stateDir, "journal.db"), ReadOnly: true, Timeout: 2 * time.Second,
		Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, "", err
	}
	return &sessionsSource{store: store}, "(totemd is not running: read from " + store.Path() + ")", nil
}

func isNetErr(err error) bool {
	var ne net.Error
	var oe *net.OpError
	return errors.As(err, &ne) || errors.As(err, &oe)
}

func (s *sessionsSource) close() {
	if s.store != nil {
		s.store.Close()
	}
}

func (s *sessionsSource) svc() (*payment.Service, error) {
	// A read-only service over the journal: only Get and List are used, nothing starts.
	return payment.New(payment.Options{Config: payment.DefaultConfig(), Store: s.store, Printer: noPrinter{}})
}

func (s *sessionsSource) list(ctx context.Context, o payment.ListOptions) ([]*payment.Session, error) {
	if s.c != nil {
		return s.c.Sessions(ctx, o)
	}
	svc, err := s.svc()
	if err != nil {
		return nil, err
	}
	return svc.List(ctx, o)
}

// all returns every session created after since, newest first.
func (s *sessionsSource) all(ctx context.Context, since time.Time) ([]*payment.Session, error) {
	var out []*payment.Session
	before := ""
	for {
		page, err := s.list(ctx, payment.ListOptions{Limit: 1000, Before: before})
		if err != nil {
			return nil, err
		}
		for _, sess := range page {
			if sess.CreatedAt.Before(since) {
				return out, nil
			}
			out = append(out, sess)
		}
		if len(page) < 1000 {
			return out, nil
		}
		before = page[len(page)-1].ID
	}
}

func (s *sessionsSource) get(ctx context.Context, id string) (*payment.Session, error) {
	if s.c != nil {
		return s.c.Session(ctx, id)
	}
	svc, err := s.svc()
	if err != nil {
		return nil, err
	}
	return svc.Get(ctx, id)
}

func cmdSessions(args []string, stdout io.Writer) error {
	if len(args) == 0 || (args[0] != "ls" && args[0] != "show") {
		return &exitError{2, errors.New("usage: totemd sessions ls [--limit N] [--state S] [--json] | sessions show ID [--json]")}
	}
	sub := args[0]
	fs, cfgPath, stateDir := cliFlags("sessions " + sub)
	asJSON := fs.Bool("json", false, "print JSON")
	limit := fs.Int("limit", 20, "how many sessions (ls)")
	state := fs.String("state", "", "only sessions in this state (ls)")
	fs.SetOutput(io.Discard)
	// Accept flags before and after the id.
	var pos []string
	rest := args[1:]
	for {
		if err := fs.Parse(rest); err != nil {
			return &exitError{2, err}
		}
		if fs.NArg() == 0 {
			break
		}
		pos = append(pos, fs.Arg(0))
		rest = fs.Args()[1:]
	}
	t, err := resolveTarget(*cfgPath, *stateDir)
	if err != nil {
		return err
	}
	src, note, err := openSessions(t)
	if err != nil {
		return err
	}
	defer src.close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if note != "" && !*asJSON {
		fmt.Fprintln(stdout, note)
	}
	if sub == "show" {
		if len(pos) != 1 {
			return &exitError{2, errors.New("usage: totemd sessions show ID [--json]")}
		}
		sess, err := src.get(ctx, pos[0])
		if err != nil {
			return err
		}
		if *asJSON {
			return printJSON(stdout, sess)
		}
		printSession(stdout, sess)
		return nil
	}
	if len(pos) != 0 {
		return &exitError{2, fmt.Errorf("sessions ls takes no arguments, got %q", pos)}
	}
	list, err := src.list(ctx, payment.ListOptions{Limit: *limit, State: payment.State(*state)})
	if err != nil {
		return err
	}
	if *asJSON {
		return printJSON(stdout, list)
	}
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tCRIADA\tESTADO\tTICKET\tVALOR\tPAGAMENTO")
	for _, s := range list {
		method := "-"
		if a := s.Current(); a != nil {
			method = fmt.Sprintf("%s (%s)", a.Method, a.State)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", s.ID, s.CreatedAt.Local().Format("02/01/2006 15:04:05"), s.State, orDash(s.Ticket), s.TotalCents, method)
	}
	return tw.Flush()
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func printSession(w io.Writer, s *payment.Session) {
	fmt.Fprintf(w, "Sessão   %s (versão %d)\n", s.ID, s.Version)
	fmt.Fprintf(w, "Estado   %s\n", s.State)
	fmt.Fprintf(w, "Ticket   %s\n", orDash(s.Ticket))
	fmt.Fprintf(w, "Criada   %s\n", s.CreatedAt.Local().Format("02/01/2006 15:04:05"))
	fmt.Fprintf(w, "Total    %s\n", s.TotalCents)
	for _, it := range s.Items {
		fmt.Fprintf(w, "  %dx %s (%s) %s\n", it.Qty, it.Name, it.SKU, it.UnitCents)
	}
	if s.Problem != nil {
		fmt.Fprintf(w, "Aviso    %s (%s)\n", s.Problem.Message, s.Problem.Code)
	}
	for _, a := range s.Attempts {
		fmt.Fprintf(w, "Tentativa %d: %s, %s, %s\n", a.N, a.Method, a.State, a.Amount)
		if a.Pix != nil {
			fmt.Fprintf(w, "  txid %s", a.Pix.TxID)
			if a.Pix.E2EID != "" {
				fmt.Fprintf(w, ", e2eid %s", a.Pix.E2EID)
			}
			fmt.Fprintln(w)
		}
		if a.Card != nil && a.Card.NSU != "" {
			fmt.Fprintf(w, "  %s %s NSU %s aut. %s cartão %s\n", a.Card.Network, a.Card.Brand, a.Card.NSU, a.Card.AuthCode, a.Card.MaskedPAN)
		}
		if a.Problem != nil {
			fmt.Fprintf(w, "  %s (%s)\n", a.Problem.Message, a.Problem.Code)
		}
	}
}
