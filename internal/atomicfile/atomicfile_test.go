package atomicfile

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "f")
	for _, content := range []string{"first", "second, longer than the first"} {
		if err := Write(path, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(path)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	fi, _ := os.Stat(path)
	if fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %o", fi.Mode().Perm())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left behind: %v", entries)
	}
	// A target that cannot be replaced (a directory) fails and leaves no temporary file.
	if err := os.Mkdir(filepath.Join(dir, "d"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "d", "x"), nil, 0o600); err != nil {
		t.Fatal(err)
	}
	if err := Write(filepath.Join(dir, "d"), []byte("x"), 0o600); err == nil {
		t.Fatal("replacing a non-empty directory succeeded")
	}
	if entries, _ := os.ReadDir(dir); len(entries) != 2 {
		t.Errorf("after a failed write: %v", entries)
	}
}

func TestFinishNamedTemp(t *testing.T) {
	dir := t.TempDir()
	f, err := os.Create(filepath.Join(dir, "IntPos.tmp"))
	if err != nil {
		t.Fatal(err)
	}
	if err := Finish(f, filepath.Join(dir, "IntPos.001"), []byte("000-000 = ATV\r\n"), 0o644, false); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(filepath.Join(dir, "IntPos.tmp")); !os.IsNotExist(err) {
		t.Errorf("IntPos.tmp still there: %v", err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "IntPos.001")); string(got) != "000-000 = ATV\r\n" {
		t.Errorf("got %q", got)
	}
}

func TestReadJSON(t *testing.T) {
	dir := t.TempDir()
	type doc struct {
		Version int `json:"version"`
	}
	tests := []struct {
		name    string
		content *string // nil: no file
		found   bool
		want    int
		wantErr bool
	}{
		{"missing", nil, false, 7, false},
		{"valid", ptr(`{"version": 2}`), true, 2, false},
		{"not JSON", ptr(`{"version": `), true, 7, true},
		{"wrong shape", ptr(`{"version": "two"}`), true, 7, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(dir, fmt.Sprintf("f%d.json", i))
			if tt.content != nil {
				if err := os.WriteFile(path, []byte(*tt.content), 0o600); err != nil {
					t.Fatal(err)
				}
			}
			d := doc{Version: 7}
			found, err := ReadJSON(path, &d)
			if found != tt.found || (err != nil) != tt.wantErr || (!tt.wantErr && d.Version != tt.want) {
				t.Errorf("ReadJSON = %v, %v, version %d; want %v, error %v, version %d", found, err, d.Version, tt.found, tt.wantErr, tt.want)
			}
			if err != nil && !strings.Contains(err.Error(), path) {
				t.Errorf("error %q does not name the file", err)
			}
		})
	}
	// A directory cannot be read as a file: an error, not "missing".
	if found, err := ReadJSON(dir, &doc{}); found || err == nil {
		t.Errorf("reading a directory: %v %v", found, err)
	}
}

func ptr(s string) *string { return &s }
