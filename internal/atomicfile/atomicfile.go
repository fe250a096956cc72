// Package atomicfile replaces files so a reader (or a crash) sees the old content or the whole
// new one, never half: data goes to a temporary file in the same directory, which is renamed
// over the target.
package atomicfile

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
)

// Write replaces path with data, mode perm, durably: the temporary file and then the directory
// are synced, so after Write returns the new content survives a power cut.
func Write(path string, data []byte, perm os.FileMode) error {
	f, err := os.CreateTemp(filepath.Dir(path), "."+filepath.Base(path)+".tmp*")
	if err != nil {
		return err
	}
	return Finish(f, path, data, perm, true)
}

// Finish writes data to f, a temporary file the caller created in path's directory (some
// protocols name it, like TEF Dial's IntPos.tmp), closes it and renames it to path. durable adds
// the syncs. On failure f is removed.
func Finish(f *os.File, path string, data []byte, perm os.FileMode, durable bool) (err error) {
	tmp := f.Name()
	defer func() {
		if err != nil {
			f.Close()
			os.Remove(tmp)
		}
	}()
	if err = f.Chmod(perm); err != nil {
		return err
	}
	if _, err = f.Write(data); err != nil {
		return err
	}
	if durable {
		if err = f.Sync(); err != nil {
			return err
		}
	}
	if err = f.Close(); err != nil {
		return err
	}
	if err = os.Rename(tmp, path); err != nil {
		return err
	}
	if durable {
		if d, derr := os.Open(filepath.Dir(path)); derr == nil {
			_ = d.Sync()
			d.Close()
		}
	}
	return nil
}

// ReadJSON decodes the JSON file at path into v. A file that does not exist leaves v as it is
// and reports false; a file that is not JSON of v's shape is an error naming it.
func ReadJSON(path string, v any) (found bool, err error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	if err := json.Unmarshal(data, v); err != nil {
		return true, fmt.Errorf("%s is not what it should be (JSON): %w", path, err)
	}
	return true, nil
}
