package journal

import (
	"bytes"
	"encoding/json"
	"fmt"
	"testing"
)

// BenchmarkUpdateAppend measures one fsynced Update that stores a ~1 KiB
// session and appends one event, on a real file.
func BenchmarkUpdateAppend(b *testing.B) {
	s := openT(b, Options{Path: testPath(b)})
	session := []byte(fmt.Sprintf(`{"id":"s","amount":1500,"items":%q}`, bytes.Repeat([]byte("x"), 1000)))
	data := json.RawMessage(`{"state":"paid","amount":1500}`)
	b.SetBytes(int64(len(session)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		id := fmt.Sprintf("session-%d", i%64)
		_, err := s.Update(func(tx *Tx) error {
			if err := tx.Put(BucketSessions, id, session); err != nil {
				return err
			}
			_, err := tx.Append(Event{Type: "session.paid", SessionID: id, Data: data})
			return err
		})
		if err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEventsRead measures reading 100 events.
func BenchmarkEventsRead(b *testing.B) {
	s := openT(b, Options{Path: testPath(b)})
	appendN(b, s, 1000, "session.paid")
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		evs, err := s.Events(uint64(i%900), 100)
		if err != nil || len(evs) != 100 {
			b.Fatalf("Events = %d, %v", len(evs), err)
		}
	}
}
