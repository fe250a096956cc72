package printer

import (
	"context"
	"io"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/totemd/totemd/device"
	"github.com/totemd/totemd/printer/printertest"
	"github.com/totemd/totemd/printer/profile"
	"github.com/totemd/totemd/printer/ticket"
	"github.com/totemd/totemd/sync/journal"
)

// BenchmarkSampleTicket measures laying out the sample (Pix slip + ticket) with the printer's
// own QR command against the same QR sent as a raster image.
func BenchmarkSampleTicket(b *testing.B) {
	for _, native := range []bool{true, false} {
		name := "native-qr"
		if !native {
			name = "raster-qr"
		}
		b.Run(name, func(b *testing.B) {
			p, _ := profile.Get("generic-80")
			p.NativeQR = native
			var n int
			for i := 0; i < b.N; i++ {
				data, err := ticket.Sample(p)
				if err != nil {
					b.Fatal(err)
				}
				n = len(data)
			}
			b.ReportMetric(float64(n), "bytes")
		})
	}
}

// lineLink is a serial link at baud whose writes block as long as the line takes to carry the
// bytes (10 bits each), feeding a fake printer.
type lineLink struct {
	w     io.WriteCloser
	r     io.ReadCloser
	baud  int
	mu    sync.Mutex
	close func()
}

func (l *lineLink) Read(p []byte) (int, error) { return l.r.Read(p) }
func (l *lineLink) Write(p []byte) (int, error) {
	time.Sleep(time.Duration(len(p)) * 10 * time.Second / time.Duration(l.baud))
	return l.w.Write(p)
}
func (l *lineLink) Close() error                     { l.close(); return nil }
func (l *lineLink) SetReadDeadline(time.Time) error  { return nil }
func (l *lineLink) SetWriteDeadline(time.Time) error { return nil }
func (l *lineLink) Info() device.LinkInfo {
	return device.LinkInfo{URI: "serial:///dev/bench?baud=115200", Kind: "serial", CanRead: true, BaudRate: l.baud, Flow: "none"}
}

// BenchmarkStream115200 prints the sample through the printer service over a link throttled to
// 115200 baud, end to end (status checks, the job, the end-of-job check). The line-ms metric is
// the bound the line itself sets: bytes x 10 bits / 115200.
func BenchmarkStream115200(b *testing.B) {
	for _, native := range []bool{true, false} {
		name := "native-qr"
		if !native {
			name = "raster-qr"
		}
		b.Run(name, func(b *testing.B) {
			fake := printertest.New()
			var wg sync.WaitGroup
			open := func(ctx context.Context, uri string) (device.Link, error) {
				toPrinter, fromHost := io.Pipe()
				toHost, fromPrinter := io.Pipe()
				rw := struct {
					io.Reader
					io.Writer
				}{toPrinter, fromPrinter}
				wg.Go(func() { _ = fake.Serve(rw) })
				return &lineLink{w: fromHost, r: toHost, baud: 115200, close: func() {
					fromHost.Close()
					toHost.Close()
					toPrinter.Close()
					fromPrinter.Close()
				}}, nil
			}
			store, err := journal.Open(journal.Options{Path: filepath.Join(b.TempDir(), "j.db"), Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			defer store.Close()
			cfg := DefaultConfig()
			cfg.Device, cfg.PollInterval, cfg.JobTimeout = "serial:///dev/bench?baud=115200", time.Minute, time.Minute
			svc, err := New(Options{Config: cfg, Store: store, Open: open, Logger: quiet})
			if err != nil {
				b.Fatal(err)
			}
			p := svc.Profile()
			p.NativeQR = native
			data, _ := ticket.Sample(p)
			if err := svc.Start(); err != nil {
				b.Fatal(err)
			}
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := svc.Print(context.Background(), &Job{Kind: "bench", Bytes: data}); err != nil {
					b.Fatal(err)
				}
			}
			b.StopTimer()
			svc.Close()
			wg.Wait()
			b.ReportMetric(float64(len(data)), "bytes")
			b.ReportMetric(float64(len(data))*10/115200*1000, "line-ms")
		})
	}
}
