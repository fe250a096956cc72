package tefsim

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// DefaultListen is where `totemd sim tef` serves TCP unless told otherwise.
const DefaultListen = "127.0.0.1:60906"

// ReadyPrefix starts the line Main prints on stdout once it serves: after it come, separated
// by spaces, the device URIs it serves (tcp://HOST:PORT first when served, then
// file:///ROOT), each usable as is for tef.device or `totemd tef ... --device`:
//
//	tefsim: ready tcp://127.0.0.1:60906 file:///var/tmp/tef
const ReadyPrefix = "tefsim: ready"

// Main runs a standalone simulator (`totemd sim tef`): it serves TCP and/or the file
// exchange, logs to stderr (slog text), prints one line on stdout when ready (see
// ReadyPrefix), and stops on SIGINT or SIGTERM, closing the simulator. Bad flags are returned
// as errors (the flag package prints the usage on stderr).
func Main(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Stdout, os.Stderr)
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("totemd sim tef", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(fs.Output(), `usage: totemd sim tef [--listen ADDR] [--files DIR] [--dir LEDGERDIR] [--pinpad-delay 2s]
                     [--status-delay 50ms] [--network REDE] [--brand VISA] [-v]

A TEF manager (GP) simulator speaking TEF Dial over TCP and/or the file exchange. When it
serves, it prints one line on stdout: %q followed by the device URIs it serves, e.g.
  %s tcp://%s file:///var/tmp/tef
Outcome by the amount's centavos: ,51 declined, ,52 cancelled on the PIN pad, ,53 no status,
,54 approval lost, ,55 approved without confirmation; anything else approved, pending until
CNF or NCN. Stop it with SIGINT (Ctrl-C) or SIGTERM.

Flags:
`, ReadyPrefix, ReadyPrefix, DefaultListen)
		fs.PrintDefaults()
	}
	listen := fs.String("listen", DefaultListen, `TCP address to serve on ("127.0.0.1:0" picks a port; "" serves no TCP)`)
	files := fs.String("files", "", "serve the file exchange in DIR/req and DIR/resp (created if missing); device file:///DIR")
	dir := fs.String("dir", "", "keep the ledger in DIR/ledger.json (default: in memory only)")
	pinpad := fs.Duration("pinpad-delay", DefaultPINPadDelay, "how long the simulated customer takes on the PIN pad (0: none)")
	status := fs.Duration("status-delay", DefaultStatusDelay, "how late the status of every request comes (0: at once; 7s or more: every request times out, \"TEF não responde\")")
	network := fs.String("network", DefaultNetwork, "network (acquirer) name in 010-000")
	brand := fs.String("brand", DefaultBrand, "card brand in 040-000")
	verbose := fs.Bool("v", false, "log at debug level")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("tefsim: unexpected arguments %q", fs.Args())
	case *listen == "" && *files == "":
		return errors.New("tefsim: nothing to serve: give --listen ADDR, --files DIR or both")
	case *pinpad < 0:
		return fmt.Errorf("tefsim: --pinpad-delay %s: must not be negative", *pinpad)
	case *status < 0:
		return fmt.Errorf("tefsim: --status-delay %s: must not be negative", *status)
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	o := Options{
		PINPadDelay: noneIfZero(*pinpad),
		StatusDelay: noneIfZero(*status),
		Network:     *network,
		Brand:       *brand,
		Logger:      slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level})),
	}
	if *dir != "" {
		abs, err := filepath.Abs(*dir)
		if err != nil {
			return fmt.Errorf("tefsim: --dir: %w", err)
		}
		o.Dir = abs
	}
	var root string
	if *files != "" {
		abs, err := filepath.Abs(*files)
		if err != nil {
			return fmt.Errorf("tefsim: --files: %w", err)
		}
		root = abs
	}
	sim, err := New(o)
	if err != nil {
		return err
	}
	uris := []string{ReadyPrefix}
	if *listen != "" {
		addr, err := sim.ListenTCP(*listen)
		if err != nil {
			return errors.Join(fmt.Errorf("tefsim: --listen %s: %w", *listen, err), sim.Close())
		}
		uris = append(uris, "tcp://"+addr)
	}
	if root != "" {
		if err := sim.ServeFiles(filepath.Join(root, "req"), filepath.Join(root, "resp")); err != nil {
			return errors.Join(fmt.Errorf("tefsim: --files %s: %w", root, err), sim.Close())
		}
		uris = append(uris, "file://"+filepath.ToSlash(root))
	}
	if _, err := fmt.Fprintln(stdout, strings.Join(uris, " ")); err != nil {
		return errors.Join(err, sim.Close())
	}
	<-ctx.Done()
	o.Logger.Info("tefsim: stopping", "cause", context.Cause(ctx))
	return sim.Close()
}

// noneIfZero maps a flag's 0 ("none") to the Options' negative delay (0 there means the
// default).
func noneIfZero(d time.Duration) time.Duration {
	if d == 0 {
		return -1
	}
	return d
}
