package atomicfile

import (
	"os"
	"path/filepath"
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
