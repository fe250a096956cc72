package pixsim

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
	"syscall"
	"time"
)

// Main runs a standalone simulator (`totemd sim pix`): it prints one JSON line on stdout when
// ready, {"base_url","dir","client_id","pix_key","dialect","ca","cert","key"}, logs to stderr,
// and stops on SIGINT or SIGTERM. Without --dir the state lives in a temporary directory,
// removed at exit (the certificates must be files another process can read).
func Main(args []string) error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	return run(ctx, args, os.Stdout, os.Stderr)
}

// Ready is the line Main prints when the simulator serves.
type Ready struct {
	BaseURL  string `json:"base_url"`
	Dir      string `json:"dir"`
	ClientID string `json:"client_id"`
	PixKey   string `json:"pix_key"`
	Dialect  string `json:"dialect"`
	CA       string `json:"ca"`
	Cert     string `json:"cert"`
	Key      string `json:"key"`
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("pixsim", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o Options
	fs.StringVar(&o.Addr, "listen", "127.0.0.1:0", "listen address")
	fs.StringVar(&o.Dir, "dir", "", "state directory (certificates and ledger); default a temporary one, removed at exit")
	fs.StringVar(&o.Dialect, "dialect", "bcb", "error dialect: bcb (RFC 7807) or efi ({nome, mensagem})")
	fs.StringVar(&o.ClientID, "client-id", DefaultClientID, "OAuth2 client id")
	fs.StringVar(&o.ClientSecret, "client-secret", DefaultClientSecret, "OAuth2 client secret")
	fs.StringVar(&o.PixKey, "pix-key", DefaultPixKey, "the receiver's Pix key")
	fs.StringVar(&o.MerchantName, "merchant-name", DefaultMerchantName, "merchant name on BR Codes")
	fs.StringVar(&o.MerchantCity, "merchant-city", DefaultMerchantCity, "merchant city on BR Codes")
	fs.DurationVar(&o.TokenTTL, "token-ttl", time.Hour, "access token lifetime")
	verbose := fs.Bool("v", false, "log every request")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("pixsim: unexpected arguments %q", fs.Args())
	}
	level := slog.LevelInfo
	if *verbose {
		level = slog.LevelDebug
	}
	o.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if o.Dir == "" {
		tmp, err := os.MkdirTemp("", "pixsim-*")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		o.Dir = tmp
	}
	dir, err := filepath.Abs(o.Dir)
	if err != nil {
		return err
	}
	o.Dir = dir
	sim, err := Start(o)
	if err != nil {
		return err
	}
	so := sim.Options()
	line, _ := json.Marshal(Ready{BaseURL: sim.BaseURL(), Dir: dir, ClientID: so.ClientID, PixKey: so.PixKey,
		Dialect: so.Dialect, CA: filepath.Join(dir, fileCA), Cert: filepath.Join(dir, fileClient),
		Key: filepath.Join(dir, fileClientKey)})
	if _, err := fmt.Fprintf(stdout, "%s\n", line); err != nil {
		return errors.Join(err, sim.Close())
	}
	<-ctx.Done()
	return sim.Close()
}
