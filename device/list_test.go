package device

import "testing"

func TestListSerial(t *testing.T) {
	found, err := ListSerial()
	if err != nil {
		t.Fatalf("ListSerial: %v", err)
	}
	for _, f := range found {
		t.Logf("%+v", f)
		if _, err := ParseURI(f.URI); err != nil || f.Kind != "serial" {
			t.Errorf("found %+v: %v", f, err)
		}
	}
}
