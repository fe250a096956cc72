// Command totemd is the kiosk edge daemon and its technician CLI: one binary.
//
//	totemd run [--config FILE] [--demo] [--listen ADDR] [--state-dir DIR]
//	totemd config check FILE
//	totemd sessions ls|show ID [--json] [--config FILE] [--state-dir DIR]
//	totemd version
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/totemd/totemd/payment/pix/pixsim"
	"github.com/totemd/totemd/payment/tef/tefsim"
)

// version is set at build time: -ldflags "-X main.version=1.2.3".
var version = "dev"

const usage = `totemd: kiosk edge daemon (Pix, cartão, impressora de tickets)

Usage:
  totemd run [--config FILE] [--demo] [--listen ADDR] [--state-dir DIR]
        start the daemon; --demo simulates the TEF manager, the printer and, unless the
        config has a pix section, the PSP
  totemd config check FILE
        check a config file and say what is wrong, with the line
  totemd sessions ls [--limit N] [--state S] [--json]
  totemd sessions show ID [--json]
        list or show sessions (through the running daemon, or read from its journal)
  totemd version

Common flags for the CLI commands: --config FILE, --state-dir DIR.
`

// exitError carries an exit status other than 1.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }

func main() {
	err := runMain(os.Args[1:], os.Stdout, os.Stderr)
	if err == nil {
		return
	}
	code := 1
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
	}
	if err.Error() != "" {
		fmt.Fprintln(os.Stderr, "totemd:", err)
	}
	os.Exit(code)
}

func runMain(args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 {
		fmt.Fprint(stderr, usage)
		return &exitError{2, errors.New("")}
	}
	switch args[0] {
	case "run":
		return cmdRun(args[1:], stderr)
	case "config":
		if len(args) < 2 || args[1] != "check" {
			return &exitError{2, errors.New("usage: totemd config check FILE")}
		}
		return cmdConfigCheck(args[2:], stdout)
	case "sessions":
		return cmdSessions(args[1:], stdout)
	case "pix":
		return cmdPix(args[1:], stdout)
	case "printer":
		return cmdPrinter(args[1:], stdout)
	case "tef":
		return cmdTEF(args[1:], stdout, stderr)
	case "sim":
		if len(args) >= 2 && args[1] == "tef" {
			return tefsim.Main(args[2:])
		}
		if len(args) < 2 || args[1] != "pix" {
			return &exitError{2, errors.New("usage: totemd sim pix [--listen ADDR] [--dir DIR] [--dialect bcb|efi]\n" +
				"       totemd sim tef [--listen ADDR] [--files DIR] [--dir LEDGERDIR] [--pinpad-delay 2s] [--status-delay 50ms] [--network REDE] [--brand VISA]")}
		}
		return pixsim.Main(args[2:])
	case "version", "--version", "-v":
		fmt.Fprintln(stdout, "totemd", version)
		return nil
	case "help", "--help", "-h":
		fmt.Fprint(stdout, usage)
		return nil
	}
	fmt.Fprint(stderr, usage)
	return &exitError{2, fmt.Errorf("unknown command %q", args[0])}
}
