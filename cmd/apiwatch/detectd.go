package main

import (
	"context"
	"encoding/json"
	"fmt"
	"os/signal"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/spf13/cobra"

	"github.com/apiwatch/apiwatch/alert"
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
	ch            clickhouseFlags
	config        string
	alerts        string
	snapshotEvery time.Duration
	session       time.Duration
	drain         time.Duration
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
are keyed by endpoint, so each endpoint's state lives in one replica. When
a replica is given partitions it restores their endpoints' baselines from
ClickHouse; when it gives them up (a rebalance, a stop) it saves them
first. Baselines are also saved every --snapshot-every, which bounds what
a replica that dies without stopping loses.

  apiwatch detect --kafka 127.0.0.1:9092 --clickhouse clickhouse://127.0.0.1:9000/apiwatch`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runDetectDaemon(cmd, &o) },
	}
	f := cmd.Flags()
	o.kafka.addFlags(f)
	f.StringVar(&o.group, "group", "apiwatch-detect", "Kafka consumer group shared by the detector replicas")
	f.StringVar(&o.findingsTopic, "findings-topic", "apiwatch.findings", "Kafka topic findings are published to (empty: none)")
	f.StringVar(&o.deadTopic, "dead-letter-topic", "", "Kafka topic for messages that are no readable event (empty: skip them)")
	o.ch.addFlags(f, "ClickHouse `DSN`: clickhouse://[user[:password]@]host:9000/database")
	f.StringVar(&o.config, "detect-config", "", "detector thresholds, YAML (`FILE`; see detect/README.md)")
	f.StringVar(&o.alerts, "alerts", "", "send findings to Slack, PagerDuty or webhooks as this YAML `FILE` says (see alert/README.md)")
	f.DurationVar(&o.snapshotEvery, "snapshot-every", time.Minute, "how often baselines are written to ClickHouse")
	f.IntVar(&o.batch, "batch", 5000, "events per batch: each batch is stored, then its offsets committed")
	f.DurationVar(&o.session, "session-timeout", 30*time.Second, "how long the group waits for a replica that stopped answering before its partitions go to the others")
	f.DurationVar(&o.drain, "drain-timeout", 30*time.Second, "on stop or rebalance, how long to keep trying to store the batch in flight and save baselines")
	addOpsFlag(f, &o.listen)
	return cmd
}

// detectDaemon is the consumer's handler: one batch at a time, processed
// once and written until ClickHouse acknowledges it.
type detectDaemon struct {
	store    *storage.Store
	engine   *detect.Engine
	findings *stream.Producer
	alerts   *alert.Dispatcher // nil: no alerts

	processed bool // the pending batch went through the detectors
	rows      []storage.EventRow
	changed   []finding.Finding
	lastSnap  time.Time
	every     time.Duration
	lastMute  time.Time // suppressions last read
	// The engine's counters as of the last batch, for the metrics (the
	// engine itself belongs to the consumer's goroutine).
	updates  atomic.Uint64
	muted    atomic.Uint64
	restored atomic.Uint64
	mu       sync.Mutex
	openedBy map[string]uint64 // findings opened by detector
}

func runDetectDaemon(cmd *cobra.Command, o *detectDaemonOptions) error {
	if len(o.kafka.brokers) == 0 || o.ch.dsn == "" {
		return fmt.Errorf("--kafka and --clickhouse are required (for local use: apiwatch devbroker, scripts/clickhouse.sh start)")
	}
	ctx, stop := signal.NotifyContext(cmd.Context(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	dopts := detectOptions{config: o.config}
	det, err := dopts.open()
	if err != nil {
		return err
	}
	sec, err := o.kafka.connect(ctx)
	if err != nil {
		return err
	}
	dialer, err := sec.Dialer()
	if err != nil {
		return err
	}
	s, err := o.ch.open(ctx)
	if err != nil {
		return err
	}
	defer s.Close()
	d := &detectDaemon{store: s, engine: det.engine, lastSnap: time.Now(), every: o.snapshotEvery}
	if o.findingsTopic != "" {
		if d.findings, err = o.kafka.producer(sec, stream.ProducerConfig{Topic: o.findingsTopic}); err != nil {
			return err
		}
	}
	if o.alerts != "" {
		if d.alerts, err = openAlerts(o.alerts, det.engine.QuietGap()); err != nil {
			return err
		}
	}
	if err := d.resume(ctx); err != nil {
		return err
	}
	if err := d.suppress(ctx); err != nil {
		return err
	}
	c, err := stream.NewConsumer(stream.ConsumerConfig{Brokers: o.kafka.brokers, Topic: o.kafka.topic, Group: o.group,
		DeadLetterTopic: o.deadTopic, MaxBatch: o.batch, SessionTimeout: o.session, DrainTimeout: o.drain,
		OnAssign: d.assign, OnRevoke: d.revoke, Dialer: dialer})
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
	ops.counter("apiwatch_detect_clickhouse_errors_total", "Failed ClickHouse writes or reads (the batch or assignment is retried).", func() float64 { return float64(c.Stats().Retries) })
	ops.gauge("apiwatch_detect_consumer_lag", "Messages of the assigned partitions not read yet.", func() float64 { return float64(c.Lag()) })
	ops.counter("apiwatch_detect_rebalances_total", "Consumer group generations joined.", func() float64 { return float64(c.Stats().Generations) })
	ops.counter("apiwatch_detect_baselines_restored_total", "Endpoint baselines restored from ClickHouse on assignment.", func() float64 { return float64(d.restored.Load()) })
	ops.counters("apiwatch_detect_findings_total", "Findings opened, by detector.", "detector", func(add func(string, float64)) {
		d.mu.Lock()
		defer d.mu.Unlock()
		for det, n := range d.openedBy {
			add(det, float64(n))
		}
	})
	ops.counter("apiwatch_detect_finding_updates_total", "Finding updates.", func() float64 { return float64(d.updates.Load()) })
	ops.counter("apiwatch_detect_muted_total", "Detector triggers matching a pattern analysts marked as a false positive.", func() float64 { return float64(d.muted.Load()) })
	if d.alerts != nil {
		alertMetrics(ops, d.alerts)
	}
	ops.ready.Store(true)
	// Run returns after a graceful end: the batch in flight stored and
	// committed, the baselines saved (revoke).
	runErr := c.Run(ctx, d.handle)
	c.Close()
	end, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	if d.findings != nil {
		if err := d.findings.Close(end); err != nil && runErr == nil {
			runErr = err
		}
	}
	if d.alerts != nil {
		if err := d.alerts.Close(end); err != nil {
			logger.Warn().Err(err).Msg("alerts still queued at the end were not sent")
		}
	}
	st, cs := d.engine.Stats(), c.Stats()
	fmt.Fprintf(cmd.OutOrStdout(), "detect: %d events, %d malformed skipped, %d findings opened, %d updates, %d baselines restored\n",
		cs.Consumed, cs.Malformed, st.Findings, st.Updates, d.restored.Load())
	return runErr
}

func (d *detectDaemon) handle(ctx context.Context, events []*event.APIEvent) error {
	if !d.processed && time.Since(d.lastMute) >= suppressEvery {
		if err := d.suppress(ctx); err != nil {
			logger.Warn().Err(err).Msg("reading the analysts' suppressions; keeping the last ones")
		}
	}
	if !d.processed {
		d.rows, d.changed = d.rows[:0], d.changed[:0]
		for _, e := range events {
			d.engine.Process(e)
			d.rows = append(d.rows, storage.NewEventRow(e))
		}
		for _, f := range d.engine.Changed() {
			d.changed = append(d.changed, *f)
		}
		st := d.engine.Stats()
		d.updates.Store(st.Updates)
		d.muted.Store(st.Muted)
		d.mu.Lock()
		d.openedBy = st.ByDetector
		d.mu.Unlock()
		d.processed = true
	}
	if err := d.store.WriteEvents(ctx, d.rows); err != nil {
		return err
	}
	if err := d.store.WriteFindings(ctx, d.changed); err != nil {
		return err
	}
	// Stored: now they may be told (a retried batch is not, twice).
	for i := range d.changed {
		if d.findings != nil {
			b, _ := json.Marshal(&d.changed[i])
			d.findings.Send(stream.Message{Key: []byte(d.changed[i].ID), Value: b})
		}
		if d.alerts != nil {
			d.alerts.Notify(d.changed[i])
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

// suppressEvery is how often the patterns analysts marked as false
// positives (in Grafana) are read again.
const suppressEvery = time.Minute

// suppress hands the engine the patterns analysts marked as false
// positives.
func (d *detectDaemon) suppress(ctx context.Context) error {
	d.lastMute = time.Now()
	ss, err := d.store.Suppressions(ctx)
	if err != nil {
		return err
	}
	mute := make([]detect.Suppression, len(ss))
	for i, s := range ss {
		mute[i] = detect.Suppression{Detector: s.Detector, Kind: s.Kind, Endpoint: s.Endpoint, Subject: s.Subject}
	}
	d.engine.Suppress(mute)
	return nil
}

// assign keeps the baselines of the endpoints of the partitions given and
// restores those it does not hold from ClickHouse.
func (d *detectDaemon) assign(ctx context.Context, a stream.Assignment) error {
	bs := d.engine.Store()
	forgot := bs.Retain(a.Owns)
	names, err := d.store.BaselineEndpoints(ctx)
	if err != nil {
		return err
	}
	var load []string
	for _, n := range names {
		if a.Owns(n) && bs.Endpoint(n) == nil {
			load = append(load, n)
		}
	}
	restored := 0
	for chunk := range slices.Chunk(load, 1000) {
		n, err := d.store.LoadBaselines(ctx, bs, chunk...)
		restored += n
		if err != nil {
			return err
		}
	}
	d.restored.Add(uint64(restored))
	logger.Info().Ints("partitions", a.Partitions).Int("restored", restored).Int("handed_on", forgot).Int("endpoints", bs.Len()).
		Msg("baselines of the assigned partitions restored")
	return nil
}

// revoke saves the baselines before the partitions go: their next owner
// restores them. Baselines that learned a batch which was not stored are
// not saved (the next owner gets the batch again; the last snapshot
// stands).
func (d *detectDaemon) revoke(ctx context.Context, a stream.Assignment) error {
	if d.processed {
		logger.Warn().Ints("partitions", a.Partitions).Msg("the batch in flight was not stored; baselines not saved")
		return nil
	}
	d.lastSnap = time.Now()
	return d.store.SaveBaselines(ctx, d.engine.Store(), d.lastSnap)
}

// openAlerts starts the alert dispatcher of the config file; incidents
// resolve after the detector's quiet gap unless the file says otherwise.
func openAlerts(file string, quietGap time.Duration) (*alert.Dispatcher, error) {
	cfg, err := alert.LoadConfig(file)
	if err != nil {
		return nil, fmt.Errorf("--alerts: %w", err)
	}
	if cfg.ResolveAfter == 0 {
		cfg.ResolveAfter = quietGap
	}
	d, err := alert.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("--alerts %s: %w", file, err)
	}
	return d, nil
}

// alertMetrics exports the sinks' counters.
func alertMetrics(ops *opsServer, d *alert.Dispatcher) {
	each := func(f func(alert.SinkStats) uint64) func(add func(string, float64)) {
		return func(add func(string, float64)) {
			for _, s := range d.Stats() {
				add(s.Name, float64(f(s)))
			}
		}
	}
	ops.counters("apiwatch_alerts_sent_total", "Alerts (and resolves) a sink accepted.", "sink", each(func(s alert.SinkStats) uint64 { return s.Sent }))
	ops.counters("apiwatch_alerts_failed_total", "Alerts given up on after retries or refused by the sink.", "sink", each(func(s alert.SinkStats) uint64 { return s.Failed }))
	ops.counters("apiwatch_alerts_retried_total", "Alert delivery attempts after the first.", "sink", each(func(s alert.SinkStats) uint64 { return s.Retried }))
	ops.counters("apiwatch_alerts_dropped_total", "Alerts never attempted: queue full, over the rate limit, or still queued at shutdown.", "sink", each(func(s alert.SinkStats) uint64 { return s.Dropped }))
}
