package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/totemd/totemd/payment"
)

// cmdTEFPending is `totemd tef pending`: the card attempts not settled with the TEF manager,
// and, with --resolve SESSION/N --action undo|confirm|close, their resolution by hand (through
// the running daemon, which owns the manager and the journal).
func cmdTEFPending(args []string, stdout io.Writer) error {
	fs, cfgPath, stateDir := cliFlags("tef pending")
	resolve := fs.String("resolve", "", "SESSION/N: the attempt to resolve by hand (needs --action)")
	action := fs.String("action", "", "with --resolve: undo (NCN), confirm (CNF, only after its ticket printed) or close (an unknown outcome the manager's report shows was never approved, or a tef.cancel_needed sale once cancelled at the manager)")
	asJSON := fs.Bool("json", false, "print JSON")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("tef pending takes no arguments, got %q", fs.Args())}
	}
	if (*resolve == "") != (*action == "") {
		return &exitError{2, errors.New("--resolve SESSION/N and --action undo|confirm|close go together")}
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
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()

	if *resolve != "" {
		id, nstr, ok := strings.Cut(*resolve, "/")
		n, err := strconv.Atoi(nstr)
		if !ok || err != nil || n < 1 || id == "" {
			return &exitError{2, fmt.Errorf("--resolve %q: use SESSION/N, e.g. 01M83K07F9FZP42D3M8WK1QM68/2", *resolve)}
		}
		if src.c == nil {
			return errors.New("totemd is not running: start it (systemctl start totemd); at start it resolves every pending card transaction by itself, and then this command can act on what is left")
		}
		sess, err := src.c.TEFResolve(ctx, id, n, *action)
		if err != nil {
			return err
		}
		a := sess.Attempt(n)
		fmt.Fprintf(stdout, "session %s attempt %d: %s: %s\n", sess.ID, n, a.State, a.Message)
		return nil
	}

	var pending []payment.PendingCard
	recovered := true
	if src.c != nil {
		pending, recovered, err = src.c.TEFPending(ctx)
	} else {
		var svc *payment.Service
		if svc, err = src.svc(); err == nil {
			pending, err = svc.PendingCards(ctx)
		}
	}
	if err != nil {
		return err
	}
	if *asJSON {
		if pending == nil {
			pending = []payment.PendingCard{}
		}
		return printJSON(stdout, pending)
	}
	if note != "" {
		fmt.Fprintln(stdout, note)
	}
	if !recovered {
		fmt.Fprintln(stdout, "start-up recovery is still running: card sales wait for it")
	}
	if len(pending) == 0 {
		fmt.Fprintln(stdout, "no pending card transactions")
		return nil
	}
	tw := tabwriter.NewWriter(stdout, 0, 2, 2, ' ', 0)
	fmt.Fprintln(tw, "SESSION/N\tTICKET\tSTATE\tAMOUNT\tNETWORK\tNSU\tCNF SENT\tUPDATED\tACTIONS")
	for _, p := range pending {
		state := string(p.State)
		if p.Problem != "" {
			state += " (" + p.Problem + ")"
		}
		fmt.Fprintf(tw, "%s/%d\t%s\t%s\t%s\t%s\t%s\t%v\t%s\t%s\n", p.SessionID, p.Attempt, orDash(p.Ticket), state, p.Amount,
			orDash(p.Network), orDash(p.NSU), p.ConfirmSent, p.UpdatedAt.Local().Format("2006-01-02 15:04:05"), orDash(strings.Join(p.Actions, ",")))
	}
	return tw.Flush()
}
