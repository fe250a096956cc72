package config

import (
	"testing"
)

func FuzzDecode(f *testing.F) {
	seeds := []string{
		goodYAML,
		annotateYAML,
		"",
		"---\n",
		"kiosk: [1]\n",
		"a: &a [*a]\n",
		"printers:\n  a: &p {baud: 1}\n  b: *p\n  c: {<<: *p, device: x}\n",
		"payment:\n  <<: [*x]\n",
		"labels: {a: 1, a: 2}\n",
		"api:\n  timeout: 90\n  listen: 1.2.3.4:5\n",
		"kiosk:\n  id: a\n---\nkiosk: b\n",
		"catalog:\n  services:\n    - {sku: A, price_cents: 1e3}\n    - ~\n",
		"? [a]\n: b\n",
		"kiosk:\n\tid: a\n",
		"extra: &e {a: *e}\n",
	}
	for _, s := range seeds {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg := defaults()
		pos, err := Decode("fuzz.yaml", data, &cfg)
		if pos == nil {
			t.Fatal("nil Positions")
		}
		if err != nil && err.Error() == "" {
			t.Fatal("empty error message")
		}
		if err != nil {
			// Every problem must carry a message, and Annotate must cope with it.
			if a := pos.Annotate("fuzz.yaml", err); a == nil || a.Error() == "" {
				t.Fatalf("Annotate(%v) = %v", err, a)
			}
		}
	})
}
