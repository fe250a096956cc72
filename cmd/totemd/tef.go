package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"time"

	"github.com/totemd/totemd/internal/config"
	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/tef"
	"github.com/totemd/totemd/printer"
	"github.com/totemd/totemd/printer/ticket"
)

// tefUsage lists the `totemd tef` commands and `totemd sim tef`.
const tefUsage = `usage:
  totemd tef status  [--config FILE | --demo] [--device URI]
        ask the TEF manager (GP) whether it is up (ATV)
  totemd tef admin   [--config FILE | --demo] [--device URI]
        open the GP's administrative menu (ADM) and print its report
  totemd tef sale    --amount 10.00 [--debit] [--installments N] [--undo] [--print]
                     [--config FILE | --demo] [--device URI]
        a technician's test sale (CRT, document TESTE): the receipt on stdout, or on the
        configured printer with --print; then confirmed (CNF), or undone (NCN) with --undo
  totemd tef cancel  --nsu NSU --amount 10.00 [--network REDE] [--timestamp DDMMhhmmss]
                     [--config FILE | --demo] [--device URI]
        cancel a confirmed sale (CNC)
  totemd tef pending ...
        the transactions left pending at the GP, and their resolution
  totemd sim tef     [--listen 127.0.0.1:60906] [--files DIR] [--dir LEDGERDIR] [--pinpad-delay 2s]
                     [--status-delay 50ms] [--network REDE] [--brand VISA]
        a TEF manager simulator on TCP and/or the file exchange (DIR/req, DIR/resp)

The TEF manager is tef.device of the config (--config FILE, default /etc/totemd/totemd.yaml;
--demo: the demo config), or --device tcp://HOST:PORT | file:///DIR, which needs no config.
While totemd runs it owns the TEF manager: stop it first, or pass --device.
Other flags: --state-dir DIR (where to look for a running totemd), -v (log the exchange).`

// tefDefaultConfig is the config file the tef commands read when given none.
const tefDefaultConfig = "/etc/totemd/totemd.yaml"

// tefDocument is the 002-000 of a technician's test sale.
const tefDocument = "TESTE"

func cmdTEF(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New(tefUsage)}
	}
	switch args[0] {
	case "status":
		return cmdTEFStatus(args[1:], stdout, stderr)
	case "admin":
		return cmdTEFAdmin(args[1:], stdout, stderr)
	case "sale":
		return cmdTEFSale(args[1:], stdout, stderr)
	case "cancel":
		return cmdTEFCancel(args[1:], stdout, stderr)
	case "pending":
		return cmdTEFPending(args[1:], stdout)
	case "help", "--help", "-h":
		fmt.Fprintln(stdout, tefUsage)
		return nil
	}
	return &exitError{2, fmt.Errorf("unknown tef command %q\n%s", args[0], tefUsage)}
}

// tefFlags are the flags every tef command takes.
type tefFlags struct {
	fs       *flag.FlagSet
	config   *string
	demo     *bool
	device   *string
	stateDir *string
	verbose  *bool
}

func newTEFFlags(name string) *tefFlags {
	fs := flag.NewFlagSet("tef "+name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	return &tefFlags{
		fs:       fs,
		config:   fs.String("config", "", "config file (default "+tefDefaultConfig+" if it exists)"),
		demo:     fs.Bool("demo", false, "use the demo config"),
		device:   fs.String("device", "", "the TEF manager: tcp://HOST:PORT or file:///DIR (overrides tef.device)"),
		stateDir: fs.String("state-dir", "", "the daemon's state directory (overrides the config's state_dir)"),
		verbose:  fs.Bool("v", false, "log the exchange with the TEF manager on stderr"),
	}
}

// same returns the flags given that name the TEF manager, for a command to suggest.
func (f *tefFlags) same() []string {
	var out []string
	switch {
	case *f.config != "":
		out = append(out, "--config", *f.config)
	case *f.demo:
		out = append(out, "--demo")
	}
	if *f.stateDir != "" {
		out = append(out, "--state-dir", *f.stateDir)
	}
	if *f.device != "" {
		out = append(out, "--device", *f.device)
	}
	return out
}

// parse reads the flags; anything else on the line is bad usage.
func (f *tefFlags) parse(args []string) error {
	if err := f.fs.Parse(args); err != nil {
		return &exitError{2, fmt.Errorf("%v\n%s", err, tefUsage)}
	}
	if f.fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("unexpected arguments %q\n%s", f.fs.Args(), tefUsage)}
	}
	if *f.config != "" && *f.demo {
		return &exitError{2, fmt.Errorf("--config and --demo: give one of them\n%s", tefUsage)}
	}
	return nil
}

// tefSession is what a tef command works with: the config and a client of the TEF manager.
type tefSession struct {
	cfg    Config // the whole config (the printer section for sale --print)
	device string
	c      *tef.Client
	ctx    context.Context // ends on SIGINT or SIGTERM
	stop   context.CancelFunc
}

func (s *tefSession) close() {
	s.c.Close()
	s.stop()
}

// tefConfig loads the config the flags name and applies --device and --state-dir. It refuses
// when the TEF manager is the configured one and the daemon that owns it is running.
func tefConfig(f *tefFlags) (Config, error) {
	var cfg Config
	var err error
	switch {
	case *f.config != "" || *f.demo:
		cfg, err = loadConfig(*f.config, *f.demo)
	case *f.device != "":
		cfg = defaultConfig() // tef.DefaultConfig() with the device below
	default:
		if _, serr := os.Stat(tefDefaultConfig); serr == nil {
			cfg, err = loadConfig(tefDefaultConfig, false)
			if err != nil {
				err = fmt.Errorf("%w (or pass --device tcp://HOST:PORT | file:///DIR)", err)
			}
		} else {
			cfg = defaultConfig()
		}
	}
	if err != nil {
		return cfg, err
	}
	if *f.stateDir != "" {
		cfg.StateDir = *f.stateDir
	}
	if *f.device != "" {
		cfg.TEF.Device = *f.device
		if err := cfg.TEF.Validate(); err != nil {
			return cfg, config.Within("tef", err)
		}
		return cfg, nil
	}
	if cfg.TEF.Enabled() || *f.demo { // the demo daemon simulates its TEF manager itself
		if addr, ok := daemonRunning(cfg.StateDir); ok {
			return cfg, fmt.Errorf("totemd is running and owns the TEF manager: stop it first (systemctl stop totemd) "+
				"or pass --device to talk to a manager directly (totemd answers at %s)", addr)
		}
	}
	if !cfg.TEF.Enabled() {
		return cfg, errors.New("no TEF manager configured: set tef.device in the config or pass --device tcp://HOST:PORT | file:///DIR")
	}
	return cfg, nil
}

// daemonRunning reports whether the totemd of stateDir is running: its api.addr is there and
// GET /healthz answers as totemd does.
func daemonRunning(stateDir string) (string, bool) {
	if stateDir == "" {
		return "", false
	}
	b, err := os.ReadFile(filepath.Join(stateDir, "api.addr"))
	if err != nil {
		return "", false
	}
	addr := strings.TrimSpace(string(b))
	if addr == "" {
		return "", false
	}
	tr := &http.Transport{Proxy: nil, DisableKeepAlives: true}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr, Timeout: 3 * time.Second}
	resp, err := hc.Get("http://" + addr + "/healthz")
	if err != nil {
		return "", false // a stale api.addr (a crash): nobody, or not totemd, answers there
	}
	defer resp.Body.Close()
	var h struct {
		Status string `json:"status"`
	}
	if err := json.NewDecoder(io.LimitReader(resp.Body, 64<<10)).Decode(&h); err != nil || h.Status == "" {
		return "", false
	}
	return addr, true
}

// openTEF parses the flags, loads the config and makes a client of the TEF manager.
func openTEF(f *tefFlags, args []string, stderr io.Writer) (*tefSession, error) {
	if err := f.parse(args); err != nil {
		return nil, err
	}
	cfg, err := tefConfig(f)
	if err != nil {
		return nil, err
	}
	return newTEFSession(f, cfg, stderr)
}

func newTEFSession(f *tefFlags, cfg Config, stderr io.Writer) (*tefSession, error) {
	logger := slog.New(slog.DiscardHandler)
	if *f.verbose {
		logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := tef.NewClient(cfg.TEF, logger)
	if err != nil {
		return nil, err
	}
	if err := leftoverGuard(cfg.TEF.Device); err != nil {
		c.Close()
		return nil, err
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	return &tefSession{cfg: cfg, device: cfg.TEF.Device, c: c, ctx: ctx, stop: stop}, nil
}

// failure explains an error of the exchange with the TEF manager.
func (s *tefSession) failure(what string, err error) error {
	switch {
	case errors.Is(err, tef.ErrNoStatus):
		hint := "  - that the TEF manager (GP) process is running and is not stuck on a dialog of its own;\n" +
			"  - that " + s.device + " is where it listens (tef.device in the config, or --device)"
		if root, ok := fileRoot(s.device); ok {
			hint += ";\n  - that the GP watches " + filepath.Join(root, "req") + " for requests and answers in " +
				filepath.Join(root, "resp") + " (REQ and RESP are found too), and that totemd may write there"
		}
		return fmt.Errorf("TEF não responde: %s: %s: %w\ncheck:\n%s", s.device, what, err, hint)
	case s.ctx.Err() != nil:
		return fmt.Errorf("%s: interrupted: %w", what, err)
	}
	return fmt.Errorf("%s: %w", what, err)
}

// leftoverGuard refuses to talk to a file exchange where an approved response nobody read is
// waiting in RESP (the daemon or a command stopped before reading it): any request would
// delete it unread, and with it what the resolution of that pending transaction needs.
func leftoverGuard(device string) error {
	root, ok := fileRoot(device)
	if !ok {
		return nil
	}
	for _, d := range []string{"resp", "RESP", "Resp"} {
		path := filepath.Join(root, d, "IntPos.001")
		data, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		m, err := tef.Parse(data)
		if err != nil || !tef.NeedsConfirmation(m) {
			continue // cut, declined or final: nothing to resolve from it, the request may replace it
		}
		return fmt.Errorf("an approved response nobody read is waiting in %s (%s %s: %s): the transaction is pending at "+
			"the TEF manager; resolve it first with totemd tef pending (this command would delete it unread)",
			path, m.Command(), m.RequestID(), txSummary(m, 0))
	}
	return nil
}

// fileRoot returns the folder of a file:// device.
func fileRoot(device string) (string, bool) {
	scheme, rest, ok := strings.Cut(device, "://")
	if !ok || !strings.EqualFold(scheme, "file") {
		return "", false
	}
	return rest, true
}

func cmdTEFStatus(args []string, stdout, stderr io.Writer) error {
	s, err := openTEF(newTEFFlags("status"), args, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	if err := s.c.ATV(s.ctx); err != nil {
		return s.failure("ATV", err)
	}
	fmt.Fprintf(stdout, "TEF OK: %s\n", s.device)
	return nil
}

func cmdTEFAdmin(args []string, stdout, stderr io.Writer) error {
	s, err := openTEF(newTEFFlags("admin"), args, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	resp, err := s.c.Admin(s.ctx)
	if err != nil {
		return s.failure("ADM", err)
	}
	printLines(stdout, resp.Lines(28, 29))
	if !tef.Approved(resp) {
		return notApproved(stdout, "ADM", resp)
	}
	if msg := resp.Value(30, 0); msg != "" {
		fmt.Fprintln(stdout, msg)
	}
	if tef.NeedsConfirmation(resp) {
		// An operation run from the menu (a cancellation, a reprint) waits for CNF like a sale.
		if resp.Value(27, 0) == "" {
			fmt.Fprintln(stdout, "(the TEF manager asks for a confirmation but sent no 027-000 to confirm: none sent)")
			return nil
		}
		if err := s.c.Confirm(context.WithoutCancel(s.ctx), resp); err != nil {
			return s.failure("CNF of the ADM operation", err)
		}
		fmt.Fprintln(stdout, "Confirmed (CNF).")
	}
	return nil
}

// tefAmountRe is what --amount takes: reais, with 1 or 2 decimals after a dot or a comma. No
// thousands separators: "1.000" would be R$ 1,00 to some people and R$ 1.000,00 to others.
var tefAmountRe = regexp.MustCompile(`^[0-9]{1,10}([.,][0-9]{1,2})?$`)

// parseTEFAmount reads --amount: reais as "10.00", "10,00" or "10", into centavos.
func parseTEFAmount(s string) (int64, error) {
	t := strings.TrimSpace(s)
	switch {
	case strings.HasPrefix(t, "-"):
		return 0, fmt.Errorf("--amount %q: must be more than zero", s)
	case !tefAmountRe.MatchString(t):
		return 0, fmt.Errorf("--amount %q is not an amount in reais: write it like 10.00, 10,00 or 10", s)
	}
	m, err := payment.ParseMoney(t)
	if err != nil {
		return 0, fmt.Errorf("--amount: %w", err)
	}
	if m <= 0 {
		return 0, fmt.Errorf("--amount %q: must be more than zero", s)
	}
	return int64(m), nil
}

func cmdTEFSale(args []string, stdout, stderr io.Writer) error {
	f := newTEFFlags("sale")
	amount := f.fs.String("amount", "", "amount in reais: 10.00, 10,00 or 10")
	debit := f.fs.Bool("debit", false, "a debit sale (default: credit)")
	installments := f.fs.Int("installments", 0, "credit in N installments (parcelado loja)")
	undo := f.fs.Bool("undo", false, "undo (NCN) the approved sale instead of confirming it")
	toPrinter := f.fs.Bool("print", false, "print the customer receipt on the configured printer instead of stdout")
	if err := f.parse(args); err != nil {
		return err
	}
	if *amount == "" {
		return &exitError{2, fmt.Errorf("tef sale needs --amount\n%s", tefUsage)}
	}
	cents, err := parseTEFAmount(*amount)
	if err != nil {
		return err
	}
	switch {
	case *installments < 0 || *installments > 99:
		return fmt.Errorf("--installments %d: must be 2 to 99 (or 0/1: à vista)", *installments)
	case *debit && *installments > 1:
		return errors.New("--installments: a debit sale has no installments")
	}
	cfg, err := tefConfig(f)
	if err != nil {
		return err
	}
	// A technician's test: the GP decides whether the installments are allowed, not the
	// kiosk's max_installments.
	cfg.TEF.MaxInstallments = max(cfg.TEF.MaxInstallments, *installments)

	var prn *printer.Service
	if *toPrinter {
		if prn, err = openReceiptPrinter(cfg.Printer); err != nil {
			return err
		}
		defer prn.Close()
	}
	s, err := newTEFSession(f, cfg, stderr)
	if err != nil {
		return err
	}
	defer s.close()

	sale := tef.Sale{Document: tefDocument, AmountCents: cents, Credit: !*debit, Installments: *installments}
	resp, err := s.c.Sale(s.ctx, sale)
	switch {
	case errors.Is(err, tef.ErrNoStatus):
		return s.failure("CRT", fmt.Errorf("%w (the sale was not run; if the GP ran it after all, it shows up as pending)", err))
	case err != nil:
		return s.failure("CRT", fmt.Errorf("%w\nthe outcome of the sale is unknown: if it was approved it is pending at the TEF manager; "+
			"see totemd tef pending", err))
	}
	if !tef.Approved(resp) {
		return notApproved(stdout, "sale", resp)
	}
	summary := txSummary(resp, cents)
	kind := "credit"
	if *debit {
		kind = "debit"
	} else if *installments > 1 {
		kind = fmt.Sprintf("credit in %d installments", *installments)
	}
	fmt.Fprintf(stdout, "Sale approved: %s (%s).\n", summary, kind)
	lines := resp.CopyLines(713)
	if len(lines) == 0 {
		lines = resp.Lines(28, 29)
	}
	var printErr error
	if prn != nil {
		printErr = printReceipt(s.ctx, prn, lines)
		if printErr == nil {
			fmt.Fprintf(stdout, "Customer receipt printed (%d lines).\n", len(lines))
		}
	} else {
		printLines(stdout, lines)
	}
	rctx := context.WithoutCancel(s.ctx) // an approved sale is always resolved, even after Ctrl-C
	hint := cancelHint(resp, cents, f.same())
	if !tef.NeedsConfirmation(resp) {
		fmt.Fprintf(stdout, "The TEF manager needs no confirmation (729-000 = %q): the sale stands.\n", resp.Value(729, 0))
		if printErr != nil {
			return fmt.Errorf("printing the receipt: %s: the sale stands all the same (it needs no confirmation to withhold)\n%s",
				errorMessage(printErr), hint)
		}
		if *undo {
			return fmt.Errorf("--undo: nothing to undo, the sale needs no confirmation\n%s", hint)
		}
		fmt.Fprintln(stdout, hint)
		return nil
	}
	if *undo || printErr != nil {
		if err := s.c.Undo(rctx, resp); err != nil {
			return s.failure("NCN", fmt.Errorf("%w\nthe sale (%s) is pending at the TEF manager: see totemd tef pending", err, summary))
		}
		fmt.Fprintf(stdout, "Undone (NCN): the sale was cancelled, nothing is charged (%s).\n", summary)
		if printErr != nil {
			return fmt.Errorf("printing the receipt: %s: the sale was undone (%s)", errorMessage(printErr), summary)
		}
		return nil
	}
	if err := s.c.Confirm(rctx, resp); err != nil {
		return s.failure("CNF", fmt.Errorf("%w\nthe sale (%s) is pending at the TEF manager: see totemd tef pending", err, summary))
	}
	fmt.Fprintf(stdout, "Confirmed (CNF): the sale stands.\n%s\n", hint)
	return nil
}

// openReceiptPrinter opens the configured printer and checks that it can print now, before
// anything is charged.
func openReceiptPrinter(pc printer.Config) (*printer.Service, error) {
	if !pc.Enabled() {
		return nil, errors.New("--print: no printer: set printer.device in the config (see totemd printer list)")
	}
	svc, err := printer.New(printer.Options{Config: pc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return nil, fmt.Errorf("--print: %w", err)
	}
	if err := svc.Start(); err != nil {
		return nil, fmt.Errorf("--print: %w", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), pc.JobTimeout+10*time.Second)
	defer cancel()
	err = svc.Refresh(ctx)
	if err == nil {
		err = svc.Ready(ctx)
	}
	if err != nil {
		svc.Close()
		return nil, fmt.Errorf("--print: the printer %s is not ready: %s: no sale was made", pc.Device, errorMessage(err))
	}
	return svc, nil
}

func printReceipt(ctx context.Context, svc *printer.Service, lines []string) error {
	data, err := ticket.Receipt(svc.Profile(), lines, "")
	if err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Minute)
	defer cancel()
	return svc.Print(ctx, &printer.Job{Kind: "receipt", Bytes: data})
}

func cmdTEFCancel(args []string, stdout, stderr io.Writer) error {
	f := newTEFFlags("cancel")
	nsu := f.fs.String("nsu", "", "NSU of the sale (012-000)")
	amount := f.fs.String("amount", "", "amount of the sale in reais: 10.00, 10,00 or 10")
	network := f.fs.String("network", "", "network of the sale (010-000), e.g. REDE")
	timestamp := f.fs.String("timestamp", "", "host timestamp of the sale (015-000), DDMMhhmmss")
	if err := f.parse(args); err != nil {
		return err
	}
	if *nsu == "" || *amount == "" {
		return &exitError{2, fmt.Errorf("tef cancel needs --nsu and --amount\n%s", tefUsage)}
	}
	cents, err := parseTEFAmount(*amount)
	if err != nil {
		return err
	}
	cfg, err := tefConfig(f)
	if err != nil {
		return err
	}
	s, err := newTEFSession(f, cfg, stderr)
	if err != nil {
		return err
	}
	defer s.close()
	resp, err := s.c.Cancel(s.ctx, tef.Cancellation{Network: *network, NSU: *nsu, Timestamp: *timestamp, AmountCents: cents})
	switch {
	case errors.Is(err, tef.ErrNoStatus):
		return s.failure("CNC", fmt.Errorf("%w (the cancellation was not run)", err))
	case err != nil:
		return s.failure("CNC", fmt.Errorf("%w\nthe outcome of the cancellation is unknown: check with totemd tef admin", err))
	}
	if !tef.Approved(resp) {
		return notApproved(stdout, "cancellation", resp)
	}
	fmt.Fprintf(stdout, "Cancellation approved: %s (cancels NSU %s).\n", txSummary(resp, cents), orDash(resp.Value(25, 0)))
	lines := resp.CopyLines(713)
	if len(lines) == 0 {
		lines = resp.Lines(28, 29)
	}
	printLines(stdout, lines)
	if !tef.NeedsConfirmation(resp) {
		fmt.Fprintln(stdout, "The TEF manager needs no confirmation: the cancellation stands.")
		return nil
	}
	if err := s.c.Confirm(context.WithoutCancel(s.ctx), resp); err != nil {
		return s.failure("CNF", fmt.Errorf("%w\nthe cancellation is pending at the TEF manager: see totemd tef pending", err))
	}
	fmt.Fprintln(stdout, "Confirmed (CNF): the cancellation stands.")
	return nil
}

// notApproved shows a refusal (009-000 and the messages) and returns the command's error.
func notApproved(stdout io.Writer, what string, resp *tef.Message) error {
	code := resp.Value(9, 0)
	fmt.Fprintf(stdout, "NOT approved: 009-000 = %s\n", orDash(code))
	if m := resp.Value(30, 0); m != "" {
		fmt.Fprintf(stdout, "  operator (030-000): %s\n", m)
	}
	if m := resp.Value(31, 0); m != "" {
		fmt.Fprintf(stdout, "  customer (031-000): %s\n", m)
	}
	err := fmt.Errorf("%s not approved by the TEF manager (009-000 = %s)", what, orDash(code))
	if strings.Contains(strings.ToUpper(resp.Value(30, 0)+resp.Value(31, 0)), "PENDENTE") {
		pending := "a transaction is pending at the TEF manager"
		if nsu := resp.Value(12, 0); nsu != "" {
			pending += fmt.Sprintf(" (%s NSU %s)", orDash(resp.Value(10, 0)), nsu)
		}
		err = fmt.Errorf("%w: %s: resolve it with totemd tef pending", err, pending)
	}
	return err
}

// txSummary names an approved transaction: network, NSU, authorization and amount.
func txSummary(resp *tef.Message, requested int64) string {
	cents := requested
	if c, ok, err := resp.Amount(3); err == nil && ok && c > 0 {
		cents = c
	}
	s := fmt.Sprintf("%s NSU %s", orDash(resp.Value(10, 0)), orDash(resp.Value(12, 0)))
	if a := resp.Value(13, 0); a != "" {
		s += ", authorization " + a
	}
	return s + ", " + payment.Money(cents).String()
}

// cancelHint is the command that cancels an approved sale; same are the flags that name the
// same TEF manager.
func cancelHint(resp *tef.Message, requested int64, same []string) string {
	cents := requested
	if c, ok, err := resp.Amount(3); err == nil && ok && c > 0 {
		cents = c
	}
	h := "To cancel it: totemd tef cancel --nsu " + resp.Value(12, 0) + " --amount " + payment.Money(cents).Decimal()
	if n := resp.Value(10, 0); n != "" {
		h += " --network " + shellWord(n)
	}
	if ts := resp.Value(15, 0); ts != "" {
		h += " --timestamp " + shellWord(ts)
	}
	for _, a := range same {
		h += " " + shellWord(a)
	}
	return h
}

// shellWord quotes s for a POSIX shell when it holds anything but letters, digits and ./:_-.
func shellWord(s string) string {
	plain := s != "" && !strings.ContainsFunc(s, func(r rune) bool {
		return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("./:_-", r))
	})
	if plain {
		return s
	}
	return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
}

func printLines(w io.Writer, lines []string) {
	for _, l := range lines {
		fmt.Fprintln(w, l)
	}
}
