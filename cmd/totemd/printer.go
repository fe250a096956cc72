package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"text/tabwriter"
	"time"

	"github.com/totemd/totemd/device"
	"github.com/totemd/totemd/payment"
	"github.com/totemd/totemd/printer"
	"github.com/totemd/totemd/printer/profile"
	"github.com/totemd/totemd/printer/ticket"
	"github.com/totemd/totemd/printer/virtual"
)

const printerUsage = `usage:
  totemd printer list
  totemd printer status [--device URI] [--profile P] [--config FILE]
  totemd printer test   [--device URI] [--profile P] [--config FILE]
  totemd printer sample --out FILE [--profile P] [--config FILE]
  totemd printer render FILE --png OUT [--text] [--width 58|80]
  totemd printer profiles`

func cmdPrinter(args []string, stdout io.Writer) error {
	if len(args) == 0 {
		return &exitError{2, errors.New(printerUsage)}
	}
	switch args[0] {
	case "list":
		return cmdPrinterList(stdout)
	case "status", "test":
		return cmdPrinterDevice(args[0], args[1:], stdout)
	case "sample":
		return cmdPrinterSample(args[1:], stdout)
	case "render":
		return cmdPrinterRender(args[1:], stdout)
	case "profiles":
		for _, n := range profile.Names() {
			p, _ := profile.Get(n)
			fmt.Fprintf(stdout, "%-22s %s\n", n, p.Description)
		}
		return nil
	}
	return &exitError{2, fmt.Errorf("unknown printer command %q\n%s", args[0], printerUsage)}
}

func cmdPrinterList(stdout io.Writer) error {
	serial, serr := device.ListSerial()
	usb, uerr := device.ListUSBPrinters()
	tw := tabwriter.NewWriter(stdout, 2, 8, 2, ' ', 0)
	fmt.Fprintln(tw, "URI\tTIPO\tDESCRIÇÃO")
	for _, f := range append(usb, serial...) {
		fmt.Fprintf(tw, "%s\t%s\t%s\n", f.URI, f.Kind, f.Description)
	}
	_ = tw.Flush()
	if len(serial)+len(usb) == 0 {
		fmt.Fprintln(stdout, "Nenhuma impressora USB nem porta serial encontrada.")
	}
	if serr != nil {
		fmt.Fprintf(stdout, "Aviso: portas seriais não listadas: %v\n", serr)
	}
	if uerr != nil {
		fmt.Fprintf(stdout, "Aviso: USB não listado: %v\n", uerr)
	}
	return nil
}

// printerConfig is the printer section of the config, with --device/--profile on top.
func printerConfig(fs *flag.FlagSet, args []string, needDevice bool) (printer.Config, error) {
	cfgPath := fs.String("config", "", "config file")
	dev := fs.String("device", "", "printer URI (default: the config's printer.device)")
	prof := fs.String("profile", "", "printer profile (default: the config's printer.profile)")
	if err := fs.Parse(args); err != nil || fs.NArg() > 0 {
		return printer.Config{}, &exitError{2, errors.New(printerUsage)}
	}
	pc := printer.DefaultConfig()
	switch {
	case *cfgPath != "": // named: it must load
		cfg, err := loadConfig(*cfgPath, false)
		if err != nil {
			return pc, err
		}
		pc = cfg.Printer
	case *dev == "" && needDevice: // the default config is where the device is
		cfg, err := cliConfig("")
		if err != nil {
			return pc, fmt.Errorf("%w (or pass --device URI)", err)
		}
		pc = cfg.Printer
	}
	if *dev != "" {
		pc.Device = *dev
	}
	if *prof != "" {
		pc.Profile = *prof
	}
	if needDevice && pc.Device == "" {
		return pc, errors.New("no printer: pass --device URI (see totemd printer list) or set printer.device")
	}
	return pc, pc.Validate()
}

// cmdPrinterDevice reads the status of, or prints a test page on, a printer directly (stop the
// daemon first if it holds the device).
func cmdPrinterDevice(what string, args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("printer "+what, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pc, err := printerConfig(fs, args, true)
	if err != nil {
		return err
	}
	svc, err := printer.New(printer.Options{Config: pc, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		return err
	}
	if err := svc.Start(); err != nil {
		return err
	}
	defer svc.Close()
	ctx, cancel := context.WithTimeout(context.Background(), pc.JobTimeout+10*time.Second)
	defer cancel()
	err = svc.Refresh(ctx)
	st, known, linkErr := svc.Status()
	fmt.Fprintf(stdout, "Impressora  %s (%s)\n", pc.Device, svc.Profile().Description)
	switch {
	case linkErr != nil:
		fmt.Fprintf(stdout, "Conexão     FALHA: %v\n", linkErr)
		return &exitError{1, errors.New("")}
	case err != nil:
		fmt.Fprintf(stdout, "Status      FALHA: %s\n", errorMessage(err))
		return &exitError{1, errors.New("")}
	case !known:
		fmt.Fprintln(stdout, "Status      indisponível nesta conexão (somente escrita)")
	default:
		yes := map[bool]string{true: "sim", false: "não"}
		fmt.Fprintf(stdout, "Online      %s\nSem papel   %s\nPapel no fim %s\nTampa aberta %s\nGuilhotina  %s\nErro        %s\n",
			yes[st.Online], yes[st.PaperEnd], yes[st.PaperNearEnd], yes[st.CoverOpen],
			map[bool]string{true: "ERRO", false: "ok"}[st.CutterError], yes[st.Unrecoverable || st.Error])
	}
	if what == "status" {
		if rerr := svc.Ready(ctx); rerr != nil && known {
			return &exitError{1, errors.New("")}
		}
		return nil
	}
	page, err := ticket.TestPage(svc.Profile())
	if err != nil {
		return err
	}
	if err := svc.Print(ctx, &printer.Job{Kind: "test", Bytes: page}); err != nil {
		fmt.Fprintf(stdout, "Teste       FALHA: %s\n", errorMessage(err))
		return &exitError{1, errors.New("")}
	}
	fmt.Fprintln(stdout, "Teste       impresso e confirmado")
	return nil
}

func cmdPrinterSample(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("printer sample", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	out := fs.String("out", "", "file to write the ESC/POS bytes to")
	pc, err := printerConfig(fs, args, false)
	if err != nil {
		return err
	}
	if *out == "" {
		return &exitError{2, errors.New(printerUsage)}
	}
	p, err := profile.Get(pc.Profile)
	if err != nil {
		return err
	}
	data, err := ticket.Sample(p)
	if err != nil {
		return err
	}
	if err := os.WriteFile(*out, data, 0o644); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: %d bytes for %s (send them to the printer, or: totemd printer render %s --png x.png)\n", *out, len(data), p.Name, *out)
	return nil
}

func cmdPrinterRender(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("printer render", flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	pngOut := fs.String("png", "", "write the rendered paper as PNG")
	text := fs.Bool("text", false, "print the rendered text")
	width := fs.Int("width", 80, "paper width in mm: 58 or 80")
	var file string
	rest := args
	for len(rest) > 0 { // the file may come before or after the flags
		if err := fs.Parse(rest); err != nil {
			return &exitError{2, errors.New(printerUsage)}
		}
		if fs.NArg() == 0 {
			break
		}
		if file != "" {
			return &exitError{2, errors.New(printerUsage)}
		}
		file, rest = fs.Arg(0), fs.Args()[1:]
	}
	if file == "" || (*pngOut == "" && !*text) || (*width != 58 && *width != 80) {
		return &exitError{2, errors.New(printerUsage)}
	}
	data, err := os.ReadFile(file)
	if err != nil {
		return err
	}
	dots := 576
	if *width == 58 {
		dots = 384
	}
	r, err := virtual.Render(data, virtual.Options{Dots: dots})
	if err != nil {
		return err
	}
	if *text {
		fmt.Fprint(stdout, r.Text)
	}
	for _, u := range r.Unknown {
		fmt.Fprintf(os.Stderr, "aviso: byte %d: comando não reconhecido % X: %s\n", u.Offset, u.Bytes, u.Reason)
	}
	if *pngOut != "" {
		png, err := r.PNG()
		if err != nil {
			return err
		}
		return os.WriteFile(*pngOut, png, 0o644)
	}
	return nil
}

// errorMessage is the message for people of an error with a code.
func errorMessage(err error) string {
	e := payment.AsError(err)
	if e.Code == "internal" {
		return err.Error()
	}
	return e.Message + " (" + e.Code + ")"
}
