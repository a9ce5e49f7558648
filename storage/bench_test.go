package storage_test

import (
	"context"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/internal/chtest"
	"github.com/apiwatch/apiwatch/storage"
)

// BenchmarkEventWriter is the sustained insert rate of events through the
// writer into the real server (make bench runs it when the server is up):
//
//	scripts/clickhouse.sh start
//	APIWATCH_TEST_CLICKHOUSE=clickhouse://127.0.0.1:19000 go test -run '^$' -bench EventWriter ./storage/
func BenchmarkEventWriter(b *testing.B) {
	s := chtest.Open(b)
	rows := make([]storage.EventRow, 1000)
	for i := range rows {
		rows[i] = storage.NewEventRow(testEvent(i))
	}
	w := s.EventWriter(storage.WriterConfig{})
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	for i := range b.N {
		for !w.Add(rows[i%len(rows)]) { // back-pressure in the benchmark only
			time.Sleep(time.Millisecond)
		}
	}
	// Until the server acknowledged every row.
	if err := w.Close(context.Background()); err != nil {
		b.Fatal(err)
	}
	b.ReportMetric(float64(w.Stats().Written)/time.Since(start).Seconds(), "rows/s")
}
