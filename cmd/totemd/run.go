package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/totemd/totemd/device"
	"github.com/totemd/totemd/internal/atomicfile"
	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/payment/pix"
	"github.com/totemd/totemd/payment/pix/pixsim"
	"github.com/totemd/totemd/payment/tef"
	"github.com/totemd/totemd/payment/tef/tefsim"
	"github.com/totemd/totemd/printer"
	"github.com/totemd/totemd/printer/printertest"
	"github.com/totemd/totemd/sync/journal"
	"github.com/totemd/totemd/ui"
	_ "time/tzdata" // ticket days follow the kiosk's zone even where the OS has no tz database
)

// stopTimeout is how long the local API may take to finish requests in progress at a stop;
// stopDeadline bounds the whole stop: past it the process exits, which leaves exactly the state
// a crash does (the journal is written for that; whatever was in progress resumes at start).
const (
	stopTimeout  = 2500 * time.Millisecond
	stopDeadline = 4800 * time.Millisecond
)

// EventHealth is the journal event for a health condition raised or cleared.
const EventHealth = "health.changed"

func cmdRun(args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("run", flag.ContinueOnError)
	fs.SetOutput(stderr)
	cfgPath := fs.String("config", "", "config file (YAML)")
	demo := fs.Bool("demo", false, "simulate the TEF manager, the printer, and the PSP unless the config has a pix section (never in production)")
	listen := fs.String("listen", "", "override api.listen (loopback only)")
	stateDir := fs.String("state-dir", "", "override state_dir")
	if err := fs.Parse(args); err != nil {
		return &exitError{2, err}
	}
	if fs.NArg() > 0 {
		return &exitError{2, fmt.Errorf("run takes no arguments, got %q", fs.Args())}
	}
	cfg, err := loadConfig(*cfgPath, *demo)
	if err != nil {
		return err
	}
	if *listen != "" {
		cfg.API.Listen = *listen
	}
	if *stateDir != "" {
		cfg.StateDir = *stateDir
	}
	if err := cfg.Validate(); err != nil {
		return err
	}
	log := newLogger(cfg.Log, stderr)
	slog.SetDefault(log)

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return daemon(ctx, cfg, *demo, log)
}

func newLogger(c LogConfig, w io.Writer) *slog.Logger {
	lvl, _ := parseLevel(c.Level)
	opts := &slog.HandlerOptions{Level: lvl}
	if c.Format == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// daemon runs totemd until ctx ends, then stops within stopTimeout.
func daemon(ctx context.Context, cfg Config, demo bool, log *slog.Logger) error {
	// Deferred first, so it runs last: the watchdog armed at stop covers every deferred close.
	var watchdog atomic.Pointer[time.Timer]
	defer func() {
		if t := watchdog.Load(); t != nil {
			t.Stop()
		}
	}()
	if err := os.MkdirAll(cfg.StateDir, 0o700); err != nil {
		return fmt.Errorf("creating state dir: %w", err)
	}
	store, err := journal.Open(journal.Options{
		Path: filepath.Join(cfg.StateDir, "journal.db"), KioskID: cfg.Kiosk.ID,
		Timeout: cfg.Journal.OpenTimeout, Logger: log,
	})
	if err != nil {
		return err
	}
	defer store.Close()
	token, err := ui.LoadOrCreateToken(filepath.Join(cfg.StateDir, ui.TokenFile))
	if err != nil {
		return err
	}

	health := device.NewHealth(nil)
	health.OnChange(func(c device.Change) {
		data, _ := json.Marshal(c)
		if _, err := store.Update(func(tx *journal.Tx) error {
			_, err := tx.Append(journal.Event{Type: EventHealth, Data: data})
			return err
		}); err != nil {
			log.Error("recording health change", "condition", c.Name, "err", err)
		}
	})

	opts := payment.Options{Config: cfg.Payment, Catalog: cfg.Catalog, Store: store, Logger: log}
	var demoCtl ui.Demo
	if demo {
		// Demo mode simulates what the config does not configure: with a pix section, that
		// PSP is used (e.g. a simulator in another process); without, pixsim runs in-process.
		d, err := newDemoDevices(cfg.StateDir, !cfg.Pix.Enabled(), !cfg.Printer.Enabled(), !cfg.TEF.Enabled(), log)
		if err != nil {
			return err
		}
		defer d.close()
		if d.sim != nil {
			cfg.Pix = d.pixConfig
		}
		if d.printer != nil {
			cfg.Printer.Device = d.printer.URI()
		}
		if d.tef != nil {
			cfg.TEF.Device = d.tefDevice
		}
		demoCtl = d
		log.Warn("DEMO MODE: simulated devices; no real money moves",
			"psp", cfg.Pix.BaseURL, "psp_simulated", d.sim != nil, "printer", cfg.Printer.Device, "printer_simulated", d.printer != nil,
			"tef", cfg.TEF.Device, "tef_simulated", d.tef != nil)
	}
	var card *payment.TEFCard
	if cfg.TEF.Enabled() {
		client, err := tef.NewClient(cfg.TEF, log.With("component", "tef"))
		if err != nil {
			return err
		}
		defer client.Close()
		card = payment.NewTEFCard(client, log.With("component", "tef"))
		card.OnResult = tefHealth(health)
		opts.Card = card
	}
	opts.CrashPoint = crashPoint(log)
	if cfg.Printer.Enabled() {
		ps, err := printer.New(printer.Options{Config: cfg.Printer, Store: store, Health: health, Logger: log.With("component", "printer")})
		if err != nil {
			return fmt.Errorf("printer: %w", err)
		}
		if err := ps.Start(); err != nil {
			return err
		}
		defer ps.Close()
		opts.Printer = ps
		if d, ok := demoCtl.(*demoDevices); ok {
			d.printerSvc = ps
		}
	} else {
		// Nobody pays without a ticket: without a printer the daemon runs (API, sessions,
		// diagnostics) but refuses every payment, and says why.
		opts.Printer = noPrinter{}
		health.Set("printer.not_configured", device.Critical, "Impressora não configurada: pagamentos desativados.")
	}
	if cfg.Pix.Enabled() {
		client, err := pix.New(cfg.Pix, pix.Options{Logger: log})
		if err != nil {
			return fmt.Errorf("pix: %w", err)
		}
		defer client.Close()
		if left := time.Until(pix.Info(client.Certificate()).NotAfter); left < 30*24*time.Hour {
			health.Set("pix.cert_expiring", device.Warning, fmt.Sprintf("Certificado do PSP expira em %d dias: renove-o.", int(left.Hours()/24)))
		}
		psp := payment.NewPixPSP(client, cfg.Pix)
		psp.OnResult = pspHealth(health)
		opts.Pix = psp
	}
	svc, err := payment.New(opts)
	if err != nil {
		return err
	}
	if err := svc.Start(); err != nil {
		return err
	}
	defer svc.Close()
	if card != nil {
		card.Watch(cfg.TEF.CheckInterval) // after Start: recovery read the manager's leftovers
		defer card.Close()
	}

	srv := ui.New(ui.Options{Config: cfg.API, Service: svc, Store: store, Health: health,
		Token: token, Version: version, KioskName: cfg.Kiosk.Name, Demo: demoCtl, Logger: log})
	ln, err := srv.Listen()
	if err != nil {
		return err
	}
	addrFile := filepath.Join(cfg.StateDir, "api.addr")
	if err := atomicfile.Write(addrFile, []byte(ln.Addr().String()+"\n"), 0o600); err != nil {
		return fmt.Errorf("writing %s: %w", addrFile, err)
	}
	defer os.Remove(addrFile)

	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	log.Info("totemd running", "version", version, "kiosk", cfg.Kiosk.ID, "ui", "http://"+ln.Addr().String()+"/",
		"state_dir", cfg.StateDir, "last_seq", store.LastSeq(), "demo", demo)

	select {
	case <-ctx.Done():
	case err := <-served:
		return fmt.Errorf("local API stopped: %w", err)
	}
	log.Info("stopping")
	signal.Reset(os.Interrupt, syscall.SIGTERM) // a second signal stops the process at once
	watchdog.Store(time.AfterFunc(stopDeadline, func() {
		log.Error("stop took longer than its deadline: exiting now; what was in progress resumes at the next start",
			"deadline", stopDeadline)
		os.Exit(1)
	}))
	sctx, cancel := context.WithTimeout(context.Background(), stopTimeout)
	defer cancel()
	if err := srv.Shutdown(sctx); err != nil && !errors.Is(err, context.DeadlineExceeded) {
		log.Warn("stopping the local API", "err", err)
	}
	<-served
	return nil
}

// noPrinter stands where no printer is configured: every payment is refused with the reason.
type noPrinter struct{}

func (noPrinter) Ready(context.Context) error {
	return payment.Errf(payment.KindUnavailable, "printer.not_configured", "Impressora não configurada")
}

func (p noPrinter) PrintTicket(ctx context.Context, _ payment.Ticket) error { return p.Ready(ctx) }

func (noPrinter) TicketPrinted(context.Context, string) (bool, error) { return false, nil }

// tefHealth turns the outcome of exchanges with the TEF manager into the tef.unavailable
// condition.
func tefHealth(h *device.Health) func(error) {
	return func(err error) {
		if err == nil {
			h.Clear("tef.unavailable")
			return
		}
		h.Set("tef.unavailable", device.Critical, "TEF não responde: pagamentos com cartão suspensos. Verifique o gerenciador (GP) e o PIN pad.")
	}
}

// pspHealth turns the outcome of PSP calls into the pix.unreachable condition.
func pspHealth(h *device.Health) func(error) {
	return func(err error) {
		if err == nil {
			h.Clear("pix.unreachable")
			return
		}
		if e := payment.AsError(err); e.Code == "pix.psp_unavailable" || e.Code == "pix.auth_failed" {
			h.Set("pix.unreachable", device.Warning, "Pix indisponível: o PSP não responde. "+e.Message)
		}
	}
}

// demoDevices are the simulated devices of demo mode: pixsim (a real HTTPS + mTLS server on
// loopback, reached through the production client), a fake ESC/POS printer on a loopback TCP
// port (driven by the production printer service; its jobs rendered by the virtual printer),
// and tefsim, the TEF manager simulator, on a loopback TCP port (reached through the
// production TEF client).
type demoDevices struct {
	sim        *pixsim.Sim
	pixConfig  pix.Config
	tef        *tefsim.Sim         // nil when the config names a TEF manager
	tefDevice  string              // tcp://127.0.0.1:port of tef
	printer    *printertest.Server // nil when the config names a real printer
	printerSvc *printer.Service
}

// The demo PSP's credentials: not secrets, the simulator only exists on this machine.
const (
	demoClientID     = "totemd-demo"
	demoClientSecret = "demo-secret"
	demoPixKey       = "7f6844d0-de89-47e5-9ef7-e0a35a681615"
)

func newDemoDevices(stateDir string, withPSP, withPrinter, withTEF bool, log *slog.Logger) (*demoDevices, error) {
	d := &demoDevices{}
	if withTEF {
		sim, err := tefsim.New(tefsim.Options{Dir: filepath.Join(stateDir, "tefsim"), Logger: log.With("component", "tefsim")})
		if err != nil {
			return nil, fmt.Errorf("starting the TEF simulator: %w", err)
		}
		addr, err := sim.ListenTCP("127.0.0.1:0")
		if err != nil {
			sim.Close()
			return nil, fmt.Errorf("starting the TEF simulator: %w", err)
		}
		d.tef, d.tefDevice = sim, "tcp://"+addr
	}
	if withPrinter {
		srv, err := printertest.Listen("127.0.0.1:0")
		if err != nil {
			return nil, fmt.Errorf("starting the demo printer: %w", err)
		}
		d.printer = srv
	}
	if !withPSP {
		return d, nil
	}
	dir := filepath.Join(stateDir, "pixsim")
	sim, err := pixsim.Start(pixsim.Options{Dir: dir, ClientID: demoClientID, ClientSecret: demoClientSecret,
		PixKey: demoPixKey, MerchantName: "TOTEMD DEMO", MerchantCity: "SAO PAULO", Logger: log.With("component", "pixsim")})
	if err != nil {
		d.close()
		return nil, fmt.Errorf("starting the PSP simulator: %w", err)
	}
	secretFile := filepath.Join(dir, "client_secret")
	if err := atomicfile.Write(secretFile, []byte(demoClientSecret+"\n"), 0o600); err != nil {
		sim.Close()
		d.close()
		return nil, err
	}
	certs := sim.Certs()
	d.sim = sim
	d.pixConfig = pix.Config{Profile: "bcb", BaseURL: sim.BaseURL(), ClientID: demoClientID,
		ClientSecretFile: secretFile, Cert: filepath.Join(certs.Dir, "client.pem"), Key: filepath.Join(certs.Dir, "client.key"),
		CA: filepath.Join(certs.Dir, "ca.pem"), PixKey: demoPixKey, MerchantName: "TOTEMD DEMO", MerchantCity: "SAO PAULO",
		Timeout: 15 * time.Second}
	return d, nil
}

func (d *demoDevices) close() {
	if d.sim != nil {
		d.sim.Close()
	}
	if d.tef != nil {
		d.tef.Close()
	}
	if d.printer != nil {
		d.printer.Close() // the printer service closed its connection first (deferred later)
	}
}

// PixPay implements ui.Demo: the simulated customer pays what the charge asks.
func (d *demoDevices) PixPay(_ context.Context, txid string) error {
	if d.sim == nil {
		return payment.Errf(payment.KindNotFound, "pix.not_simulated", "O PSP configurado não é simulado aqui: pague pelo simulador dele (POST /_sim/pay).")
	}
	ch, ok := d.sim.Charge(txid)
	if !ok {
		return payment.Errf(payment.KindNotFound, "pix.charge_not_found", "Cobrança %q não existe.", txid)
	}
	if _, err := d.sim.Pay(txid, ch.AmountCents); err != nil {
		return payment.Errf(payment.KindConflict, "pix.charge_not_active", "Cobrança %q não pode ser paga: %v", txid, err)
	}
	return nil
}

// SetPaperOut implements ui.Demo: the printer service sees it in its next status read, done
// at once here.
func (d *demoDevices) SetPaperOut(out bool) {
	if d.printer == nil {
		return
	}
	d.printer.Fake.PaperOut(out)
	if d.printerSvc != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
		defer cancel()
		_ = d.printerSvc.Refresh(ctx)
	}
}

// Printed implements ui.Demo: the jobs the demo printer printed.
func (d *demoDevices) Printed() [][]byte {
	if d.printer == nil {
		return nil
	}
	return d.printer.Fake.Jobs()
}
