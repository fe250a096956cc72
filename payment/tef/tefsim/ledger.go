package tefsim

import (
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"math/big"
	"os"
	"path/filepath"

	"github.com/totemd/totemd/internal/atomicfile"
)

const ledgerFile = "ledger.json"

// NSUs are 6 digits: from minNSU to maxNSU.
const (
	minNSU = 100000
	maxNSU = 999999
)

// ledger is the simulator's whole state, as written to ledger.json.
type ledger struct {
	Version    int      `json:"version"`
	NextNSU    int      `json:"next_nsu"`
	Txs        []*Tx    `json:"transactions"`
	CancelNSUs []string `json:"cancellation_nsus,omitempty"` // NSUs of approved cancellations (CNC)

	path string
	nsus map[string]bool // every NSU given, sales and cancellations
}

func loadLedger(dir string) (*ledger, error) {
	l := &ledger{Version: 1}
	if dir != "" {
		if err := os.MkdirAll(dir, 0o700); err != nil {
			return nil, fmt.Errorf("tefsim: ledger directory: %w", err)
		}
		l.path = filepath.Join(dir, ledgerFile)
		found, err := atomicfile.ReadJSON(l.path, l)
		if err != nil {
			return nil, fmt.Errorf("tefsim: the ledger: %w", err)
		}
		if found && l.Version != 1 {
			return nil, fmt.Errorf("tefsim: %s: unknown ledger version %d", l.path, l.Version)
		}
	}
	l.nsus = map[string]bool{}
	for _, t := range l.Txs {
		if t == nil {
			return nil, fmt.Errorf("tefsim: %s: a null transaction", l.path)
		}
		l.nsus[t.NSU] = true
	}
	for _, n := range l.CancelNSUs {
		l.nsus[n] = true
	}
	if l.NextNSU < minNSU || l.NextNSU > maxNSU {
		// A fresh ledger starts at a random NSU, so an in-memory simulator started again does
		// not give the NSUs a kiosk may still hold from its previous run.
		n, err := rand.Int(rand.Reader, big.NewInt(400000))
		if err != nil {
			return nil, fmt.Errorf("tefsim: %w", err)
		}
		l.NextNSU = minNSU + int(n.Int64())
	}
	return l, nil
}

// save writes the ledger (atomically) when the simulator has a directory.
func (l *ledger) save() error {
	if l.path == "" {
		return nil
	}
	data, err := json.MarshalIndent(l, "", "  ")
	if err != nil {
		return fmt.Errorf("tefsim: encoding the ledger: %w", err)
	}
	if err := atomicfile.Write(l.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("tefsim: writing the ledger: %w", err)
	}
	return nil
}

// newNSU gives an NSU never given by this ledger.
func (l *ledger) newNSU() (string, error) {
	for range maxNSU - minNSU + 1 {
		n := fmt.Sprintf("%06d", l.NextNSU)
		l.NextNSU++
		if l.NextNSU > maxNSU {
			l.NextNSU = minNSU
		}
		if !l.nsus[n] {
			l.nsus[n] = true
			return n, nil
		}
	}
	return "", errors.New("tefsim: no NSU left")
}

func (l *ledger) pending() []*Tx {
	var out []*Tx
	for _, t := range l.Txs {
		if t.State == StatePending {
			out = append(out, t)
		}
	}
	return out
}

// find returns the transaction with this network, NSU and finalização.
func (l *ledger) find(network, nsu, fin string) *Tx {
	for _, t := range l.Txs {
		if t.Network == network && t.NSU == nsu && t.Finalizacao == fin {
			return t
		}
	}
	return nil
}
