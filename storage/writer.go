package storage

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
	"github.com/rs/zerolog/log"
)

// WriterConfig paces and bounds a Writer. The zero value uses the defaults.
type WriterConfig struct {
	// A batch is sent when it holds BatchRows rows or FlushInterval has
	// passed since its first row. Defaults 20000 and 1s.
	BatchRows     int
	FlushInterval time.Duration
	// QueueRows bounds the rows waiting to be written (including a batch
	// being retried); beyond it Add drops rows and counts them. Default
	// 200000.
	QueueRows int
	// While the server is unreachable a batch is retried with exponential
	// backoff up to MaxBackoff (default 10s).
	MaxBackoff time.Duration
}

func (c WriterConfig) withDefaults() WriterConfig {
	if c.BatchRows <= 0 {
		c.BatchRows = 20000
	}
	if c.FlushInterval <= 0 {
		c.FlushInterval = time.Second
	}
	if c.QueueRows <= 0 {
		c.QueueRows = 200000
	}
	if c.MaxBackoff <= 0 {
		c.MaxBackoff = 10 * time.Second
	}
	return c
}

// WriterStats counts a Writer's rows.
type WriterStats struct {
	Written uint64 // acknowledged by the server
	Dropped uint64 // queue full, or the writer closed before they were written
	Failed  uint64 // rejected by the server (bad data): not retried
	Retries uint64 // batch sends retried while the server was unavailable
}

// Writer writes rows of one table in batches, from its own goroutine: Add
// never blocks (a full queue drops the row, counted), so a writer cannot
// stall the pipeline that feeds it.
type Writer[T any] struct {
	s          *Store
	table      string
	cfg        WriterConfig
	appendRows func(driver.Batch, []T) error
	queue      chan T

	written, dropped, failed, retries atomic.Uint64

	closeOnce sync.Once
	stop      context.CancelFunc // aborts retries at Close's deadline
	done      chan struct{}
}

// newWriter returns a running writer; appendRows puts rows into a batch.
func newWriter[T any](s *Store, table string, cfg WriterConfig, appendRows func(driver.Batch, []T) error) *Writer[T] {
	cfg = cfg.withDefaults()
	ctx, stop := context.WithCancel(context.Background())
	w := &Writer[T]{s: s, table: table, cfg: cfg, appendRows: appendRows,
		queue: make(chan T, cfg.QueueRows), stop: stop, done: make(chan struct{})}
	go w.run(ctx)
	return w
}

// Add queues a row and reports whether it was taken.
func (w *Writer[T]) Add(row T) bool {
	select {
	case w.queue <- row:
		return true
	default:
		w.dropped.Add(1)
		return false
	}
}

// Stats returns the writer's counters.
func (w *Writer[T]) Stats() WriterStats {
	return WriterStats{Written: w.written.Load(), Dropped: w.dropped.Load(), Failed: w.failed.Load(), Retries: w.retries.Load()}
}

// Close writes what is queued and stops. When ctx ends first (the server
// is down), the rows not written are counted as dropped and ctx's error
// returned. Add must not be called during or after Close.
func (w *Writer[T]) Close(ctx context.Context) error {
	w.closeOnce.Do(func() { close(w.queue) })
	select {
	case <-w.done:
		return nil
	case <-ctx.Done():
		w.stop()
		<-w.done
		return fmt.Errorf("clickhouse %s: %w before the queue was written (%d rows dropped)", w.table, ctx.Err(), w.dropped.Load())
	}
}

func (w *Writer[T]) run(ctx context.Context) {
	defer close(w.done)
	batch := make([]T, 0, min(w.cfg.BatchRows, 4096))
	timer := time.NewTimer(w.cfg.FlushInterval)
	defer timer.Stop()
	for {
		select {
		case row, ok := <-w.queue:
			if !ok {
				w.send(ctx, batch)
				return
			}
			if len(batch) == 0 {
				timer.Reset(w.cfg.FlushInterval)
			}
			batch = append(batch, row)
			if len(batch) < w.cfg.BatchRows {
				continue
			}
		case <-timer.C:
			if len(batch) == 0 {
				continue
			}
		}
		w.send(ctx, batch)
		clear(batch)
		batch = batch[:0]
	}
}

// send writes one batch, retrying while the server is unavailable.
func (w *Writer[T]) send(ctx context.Context, rows []T) {
	if len(rows) == 0 {
		return
	}
	backoff := 100 * time.Millisecond
	for {
		err := w.sendOnce(ctx, rows)
		switch {
		case err == nil:
			w.written.Add(uint64(len(rows)))
			return
		case ctx.Err() != nil:
			w.dropped.Add(uint64(len(rows)))
			return
		case !isUnavailable(err):
			w.failed.Add(uint64(len(rows)))
			log.Error().Err(err).Str("table", w.table).Int("rows", len(rows)).Msg("clickhouse rejected a batch; its rows are dropped")
			return
		}
		w.retries.Add(1)
		log.Warn().Err(err).Str("table", w.table).Int("rows", len(rows)).Dur("retry_in", backoff).Msg("clickhouse unavailable; retrying")
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(2*backoff, w.cfg.MaxBackoff)
	}
}

func (w *Writer[T]) sendOnce(ctx context.Context, rows []T) error {
	return insert(ctx, w.s, w.table, rows, w.appendRows)
}

// insert writes rows in one batch and returns once the server
// acknowledged them.
func insert[T any](ctx context.Context, s *Store, table string, rows []T, appendRows func(driver.Batch, []T) error) error {
	b, err := s.conn.PrepareBatch(ctx, "INSERT INTO "+s.t(table))
	if err != nil {
		return err
	}
	if err := appendRows(b, rows); err != nil {
		return errors.Join(&rowError{err}, b.Abort())
	}
	return b.Send()
}

// eachRow adapts a per-row append to a writer.
func eachRow[T any](appendRow func(driver.Batch, *T) error) func(driver.Batch, []T) error {
	return func(b driver.Batch, rows []T) error {
		for i := range rows {
			if err := appendRow(b, &rows[i]); err != nil {
				return err
			}
		}
		return nil
	}
}

// rowError is a row the driver could not encode: retrying cannot help.
type rowError struct{ err error }

func (e *rowError) Error() string { return "row: " + e.err.Error() }
func (e *rowError) Unwrap() error { return e.err }
