package ui

import (
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/totemd/totemd/internal/atomicfile"
)

// TokenFile is the name of the API token file in the state directory.
const TokenFile = "api.token"

// LoadOrCreateToken returns the bearer token kept in path, creating it (0600, 32 random bytes
// as hex) on first start. A token file readable by others is tightened to 0600.
func LoadOrCreateToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err == nil {
		tok := strings.TrimSpace(string(b))
		if len(tok) < 32 {
			return "", fmt.Errorf("api token %s is too short (%d characters): delete the file and restart totemd to make a new one", path, len(tok))
		}
		if fi, err := os.Stat(path); err == nil && fi.Mode().Perm()&0o077 != 0 {
			if err := os.Chmod(path, 0o600); err != nil {
				return "", fmt.Errorf("api token %s is readable by others and cannot be fixed: %w", path, err)
			}
		}
		return tok, nil
	}
	if !errors.Is(err, fs.ErrNotExist) {
		return "", fmt.Errorf("reading api token: %w", err)
	}
	var raw [32]byte
	if _, err := rand.Read(raw[:]); err != nil {
		return "", err
	}
	tok := hex.EncodeToString(raw[:])
	if err := os.MkdirAll(filepath.Dir(path), 0o700); err != nil {
		return "", fmt.Errorf("creating state dir for api token: %w", err)
	}
	if err := atomicfile.Write(path, []byte(tok+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("writing api token: %w", err)
	}
	return tok, nil
}

// ReadToken reads an existing token (for the CLI).
func ReadToken(path string) (string, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return "", fmt.Errorf("reading api token (run the CLI as the user totemd runs as, or pass --state-dir): %w", err)
	}
	return strings.TrimSpace(string(b)), nil
}
