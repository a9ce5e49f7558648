package pipeline

import (
	"context"
	"io"
	"testing"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse"
)

// loadCapture reads a capture file into memory, so the benchmark measures
// the pipeline, not the disk or gunzip.
func loadCapture(tb testing.TB, path string) (src *memSource, bytes int64) {
	tb.Helper()
	f, err := capture.OpenFile(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer f.Close()
	src = &memSource{}
	for {
		data, ci, err := f.ReadPacket()
		if err == io.EOF {
			return src, bytes
		}
		if err != nil {
			tb.Fatal(err)
		}
		src.frames = append(src.frames, append([]byte(nil), data...))
		src.ts = append(src.ts, ci.Timestamp)
		bytes += int64(len(data))
	}
}

// BenchmarkRun measures the whole packet-to-transaction path (decode,
// reassembly, HTTP parsing with gzip decoding, pairing) on the demo capture.
// Compare runs with: go test -run='^$' -bench=Run -count=10 ./pipeline/ | benchstat
func BenchmarkRun(b *testing.B) {
	src, n := loadCapture(b, "../testdata/demo.pcap.gz")
	var tx uint64
	h := parse.HandlerFunc(func(*parse.Transaction) { tx++ })
	b.SetBytes(n)
	b.ReportAllocs()
	for b.Loop() {
		src.i = 0
		if _, err := Run(context.Background(), Config{Workers: 1}, []capture.Source{src}, []string{"demo"},
			func(int) parse.Handler { return h }); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(tx)/b.Elapsed().Seconds(), "tx/s")
}
