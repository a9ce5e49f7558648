package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/signal"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/apiwatch/apiwatch/detect"
	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/finding"
	"github.com/apiwatch/apiwatch/storage"
	"github.com/apiwatch/apiwatch/stream"
)

type detectDaemonOptions struct {
	kafka         kafkaOptions
	group         string
	findingsTopic string
	deadTopic     string
	dsn           string
	config        string
	snapshotEvery time.Duration
	listen        string
	batch         int
}

func newDetectCmd() *cobra.Command {
	var o detectDaemonOptions
	cmd := &cobra.Command{
		Use:   "detect --kafka HOST:PORT --clickhouse DSN",
		Short: "Consume API events from Kafka, run the detectors, store events and findings",
		Long: `Joins a Kafka consumer group on the events topic, learns baselines and runs
the detectors, and writes events, findings and baselines to ClickHouse and
findings to the findings topic. Offsets are committed only after ClickHouse
acknowledged what a batch produced (at least once; findings have stable ids,
so a re-delivery does not duplicate them). Add replicas to scale out: events
are keyed by endpoint, so each endpoint's state lives in one replica; an
endpoint's baseline is restored from ClickHouse when a replica first sees
it, and snapshotted every --snapshot-every and at shutdown.

  apiwatch detect --kafka 127.0.0.1:9092 --clickhouse clickhouse://127.0.0.1:9000/apiwatch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDetectDaemon(cmd, &o) },
	}
	f := cmd.Flags()
	o.kafka.addFlags(f)
	f.StringVar(&o.group, "group", "apiwatch-detect", "Kafka consumer group shared by the detector replicas")
	f.StringVar(&o.findingsTopic, "findings-topic", "apiwatch.findings", "Kafka topic findings are published to (empty: none)")
	f.StringVar(&o.deadTopic, "dead-letter-topic", "", "Kafka topic for messages that are no readable event (empty: skip them)")
	f.StringVar(&o.dsn, "clickhouse", "", "ClickHouse `DSN`: clickhouse://[user[:password]@]host:9000/database")
	f.StringVar(&o.config, "detect-config", "", "detector thresholds, YAML (`FILE`; see detect/README.md)")
	f.DurationVar(&o.snapshotEvery, "snapshot-every", time.Minute, "how often baselines are written to ClickHouse")
	f.IntVar(&o.batch, "batch", 5000, "events per batch: each batch is stored, then its offsets committed")
	addOpsFlag(f, &o.listen)
	return cmd
}

// detectDaemon is the consumer's handler: one batch at a time, processed
// once and written until ClickHouse acknowledges it.
type detectDaemon struct {
	store    *storage.Store
	engine   *detect.Engine
	findings *stream.Producer
	tried    map[string]bool // endpoints whose stored baseline was looked for

	processed bool // the pending batch went through the detectors
	rows      []storage.EventRow
	changed   []finding.Finding
	lastSnap  time.Time
	every     time.Duration
	// The engine's counters as of the last batch, for the metrics (the
	// engine itself belongs to the consumer's goroutine).
	opened, updates atomic.Uint64
}

func runDetectDaemon(cmd *cobra.Command, o *detectDaemonOptions) error {
	if len(o.kafka.brokers) == 0 || o.dsn == "" {
		return fmt.Errorf("--kafka and --clickhouse are required (for local use: apiwatch devbroker, scripts/clickhouse.sh start)")
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	dopts := detectOptions{config: o.config}
	det, err := dopts.open()
	if err != nil {
		return err
	}
	s, err := storage.Open(ctx, o.dsn)
	if err != nil {
		return err
	}
	defer s.Close()
	d := &detectDaemon{store: s, engine: det.engine, tried: map[string]bool{}, lastSnap: time.Now(), every: o.snapshotEvery}
	if o.findingsTopic != "" {
		if d.findings, err = stream.NewProducer(stream.ProducerConfig{Brokers: o.kafka.brokers, Topic: o.findingsTopic}); err != nil {
			return err
		}
	}
	if err := d.resume(ctx); err != nil {
		return err
	}
	c, err := stream.NewConsumer(stream.ConsumerConfig{Brokers: o.kafka.brokers, Topic: o.kafka.topic, Group: o.group,
		DeadLetterTopic: o.deadTopic, MaxBatch: o.batch})
	if err != nil {
		return err
	}
	ops, err := startOps(o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer ops.close()
	ops.counter("apiwatch_detect_events_total", "Events consumed and stored.", func() float64 { return float64(c.Stats().Consumed) })
	ops.counter("apiwatch_detect_malformed_total", "Messages skipped: no readable event.", func() float64 { return float64(c.Stats().Malformed) })
	ops.counter("apiwatch_detect_batch_retries_total", "Batches retried after a ClickHouse write error.", func() float64 { return float64(c.Stats().Retries) })
	ops.gauge("apiwatch_detect_consumer_lag", "Messages of the assigned partitions not read yet.", func() float64 { return float64(c.Lag()) })
	ops.counter("apiwatch_detect_findings_total", "Findings opened.", func() float64 { return float64(d.opened.Load()) })
	ops.counter("apiwatch_detect_finding_updates_total", "Finding updates.", func() float64 { return float64(d.updates.Load()) })
	ops.ready.Store(true)
	runErr := c.Run(ctx, d.handle)
	// Graceful end: the batch in flight stored and committed, then the
	// baselines (which have learned it), the findings queued for Kafka.
	end, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := c.Finish(end, d.handle); err != nil && runErr == nil {
		runErr = err
	}
	c.Close()
	// Baselines that learned a batch which was not stored must not be
	// saved: the next owner of its partitions gets it again (the last
	// periodic snapshot stands).
	if !d.processed {
		if err := s.SaveBaselines(end, d.engine.Store(), time.Now()); err != nil && runErr == nil {
			runErr = err
		}
	}
	if d.findings != nil {
		if err := d.findings.Close(end); err != nil && runErr == nil {
			runErr = err
		}
	}
	st, cs := d.engine.Stats(), c.Stats()
	fmt.Fprintf(cmd.OutOrStdout(), "detect: %d events, %d malformed skipped, %d findings opened, %d updates\n",
		cs.Consumed, cs.Malformed, st.Findings, st.Updates)
	return runErr
}

func (d *detectDaemon) handle(ctx context.Context, events []*event.APIEvent) error {
	if !d.processed {
		d.rows, d.changed = d.rows[:0], d.changed[:0]
		for _, e := range events {
			d.restore(ctx, e)
			d.engine.Process(e)
			d.rows = append(d.rows, storage.NewEventRow(e))
		}
		for _, f := range d.engine.Changed() {
			d.changed = append(d.changed, *f)
		}
		st := d.engine.Stats()
		d.opened.Store(st.Findings)
		d.updates.Store(st.Updates)
		d.processed = true
	}
	if err := d.store.WriteEvents(ctx, d.rows); err != nil {
		return err
	}
	if err := d.store.WriteFindings(ctx, d.changed); err != nil {
		return err
	}
	if d.findings != nil {
		for i := range d.changed {
			b, _ := json.Marshal(&d.changed[i])
			d.findings.Send(stream.Message{Key: []byte(d.changed[i].ID), Value: b})
		}
	}
	d.processed = false
	if time.Since(d.lastSnap) >= d.every {
		d.lastSnap = time.Now()
		if err := d.store.SaveBaselines(ctx, d.engine.Store(), d.lastSnap); err != nil {
			return err // the batch is written; the retry only rewrites it (idempotent findings, events at least once)
		}
	}
	return nil
}

// resume hands the engine the stored findings that may still be going on
// (last seen within the quiet gap of the newest): a detector that takes
// over from another, or restarts, updates them rather than opening
// duplicates.
func (d *detectDaemon) resume(ctx context.Context) error {
	fs, err := d.store.Findings(ctx, storage.FindingFilter{Limit: 100000})
	if err != nil {
		return fmt.Errorf("resuming findings: %w", err)
	}
	var newest time.Time
	for _, f := range fs {
		if f.LastSeen.After(newest) {
			newest = f.LastSeen.Time
		}
	}
	var open []finding.Finding
	for _, f := range fs {
		if newest.Sub(f.LastSeen.Time) <= d.engine.QuietGap() {
			open = append(open, f)
		}
	}
	d.engine.Restore(open)
	return nil
}

// restore loads an endpoint's stored baseline the first time this replica
// sees the endpoint (after a restart or a rebalance).
func (d *detectDaemon) restore(ctx context.Context, e *event.APIEvent) {
	if e.Request == nil || e.Request.Endpoint == "" {
		return
	}
	name := e.Request.Endpoint
	if d.tried[name] || d.engine.Store().Endpoint(name) != nil {
		return
	}
	if len(d.tried) >= 100000 {
		clear(d.tried)
	}
	d.tried[name] = true
	if _, err := d.store.LoadBaselines(ctx, d.engine.Store(), name); err != nil {
		logger.Warn().Err(err).Str("endpoint", name).Msg("baseline not restored; learning it again")
	}
}
