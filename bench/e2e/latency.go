package main

import (
	"context"
	"fmt"
	"sync"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/evaluation"
	"github.com/apiwatch/apiwatch/finding"
	"github.com/apiwatch/apiwatch/storage"
)

// latencyRun is one replay of the labelled capture at its recorded pace.
type latencyRun struct {
	n          int
	db         string
	t0, w0     time.Time
	sensorWall time.Duration
	sent       int64
	consumed   int64
	maxLag     float64
	chErrors   float64 // the detector's failed ClickHouse writes (retried)
	episodes   []episodeLatency
	findings   int
	falsePos   []string
	poll       pollStats
	err        error
}

// pollStats describe the findings poller, to show it stayed light.
type pollStats struct {
	Queries   int
	Errors    int
	Mean, Max time.Duration
}

// poller records the wall time each finding id is first readable.
type poller struct {
	conn  driver.Conn
	query string
	mu    sync.Mutex
	first map[string]time.Time
	last  time.Time // when the newest id appeared
	stats pollStats
	sum   time.Duration
}

func (p *poller) run(ctx context.Context, every time.Duration) {
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		p.once(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

func (p *poller) once(ctx context.Context) {
	// The row was not there at the previous poll's start and is there
	// at this one's: this poll's start is the upper bound, so the
	// measure errs late by at most one poll interval plus the query.
	at := time.Now()
	rows, err := p.conn.Query(ctx, p.query)
	var ids []string
	if err == nil {
		for rows.Next() {
			var id string
			if err = rows.Scan(&id); err != nil {
				break
			}
			ids = append(ids, id)
		}
		if err == nil {
			err = rows.Err()
		}
		rows.Close()
	}
	took := time.Since(at)
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Queries++
	p.sum += took
	p.stats.Max = max(p.stats.Max, took)
	if err != nil {
		if ctx.Err() == nil {
			p.stats.Errors++
		}
		return
	}
	for _, id := range ids {
		if _, ok := p.first[id]; !ok {
			p.first[id] = at
			p.last = at
		}
	}
}

func (p *poller) snapshot() (map[string]time.Time, time.Time, pollStats) {
	p.mu.Lock()
	defer p.mu.Unlock()
	m := make(map[string]time.Time, len(p.first))
	for k, v := range p.first {
		m[k] = v
	}
	st := p.stats
	if st.Queries > 0 {
		st.Mean = p.sum / time.Duration(st.Queries)
	}
	return m, p.last, st
}

// firstPacketTime is the capture time of a capture's first packet.
func firstPacketTime(file string) (time.Time, error) {
	src, err := capture.OpenFile(file)
	if err != nil {
		return time.Time{}, err
	}
	defer src.Close()
	_, ci, err := src.ReadPacket()
	if err != nil {
		return time.Time{}, fmt.Errorf("%s: first packet: %w", file, err)
	}
	return time.Unix(0, ci.Timestamp), nil
}

func runLatency(ctx context.Context, c *config, n int) (r *latencyRun) {
	r = &latencyRun{n: n}
	if r.t0, r.err = firstPacketTime(c.pcap); r.err != nil {
		return r
	}
	truth, err := evaluation.ReadTruthFile(c.truth)
	if err != nil {
		r.err = err
		return r
	}
	if len(truth.Episodes) == 0 {
		r.err = fmt.Errorf("%s labels no attack episode: nothing to time", c.truth)
		return r
	}
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	s, err := startStack(ctx, c, "latency", n)
	if err != nil {
		r.err = err
		return r
	}
	defer s.close()
	r.db = s.db
	defer func() {
		if err := s.stop(); err != nil && r.err == nil {
			r.err = err
		}
	}()

	// The poller's own connection: cancelling its last query may leave
	// a connection unusable.
	pconn, err := openConn(ctx, s.dsn)
	if err != nil {
		r.err = err
		return r
	}
	defer pconn.Close()
	p := &poller{conn: pconn, query: "SELECT DISTINCT id FROM `" + s.db + "`.findings", first: map[string]time.Time{}}
	pctx, stopPoll := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); p.run(pctx, c.poll) }()
	defer func() { stopPoll(); wg.Wait() }()

	// W0: the capture's first packet is due now; the sensor reads it
	// after starting up, so every latency measured errs late by that.
	r.w0 = time.Now()
	sensor, err := s.startSensor(c.pcap, "--replay-speed", "1", "--listen=")
	if err != nil {
		r.err = err
		return r
	}
	logf("latency run %d: sensor replaying %s at its recorded pace; database %s", n, c.pcap, s.db)
	if r.err = r.wait(ctx, c, s, sensor, p); r.err != nil {
		sensor.stop(syscall.SIGINT, 3*time.Second)
		return r
	}
	stopPoll()
	wg.Wait()
	if r.err = s.stop(); r.err != nil {
		return r
	}
	appeared, _, st := p.snapshot()
	r.poll = st

	read, cancelRead := context.WithTimeout(context.Background(), time.Minute)
	defer cancelRead()
	fs, err := s.store.Findings(read, storage.FindingFilter{Limit: 100000})
	if err != nil {
		r.err = err
		return r
	}
	r.findings = len(fs)
	byID := make(map[string]*finding.Finding, len(fs))
	for i := range fs {
		byID[fs[i].ID] = &fs[i]
	}
	ev := evaluation.Evaluate(truth, fs)
	for _, fp := range ev.FalsePositives {
		r.falsePos = append(r.falsePos, fmt.Sprintf("%s %s on %s", fp.Finding.Detector, fp.Finding.Kind, fp.Finding.Endpoint))
	}
	for _, ep := range ev.Episodes {
		r.episodes = append(r.episodes, latencyOf(ep, byID, appeared, r.t0, r.w0))
	}
	return r
}

// wait follows the run until the sensor has exited, the detector has
// consumed every event it sent and no new finding appeared for c.quiet.
func (r *latencyRun) wait(ctx context.Context, c *config, s *stack, sensor *proc, p *poller) error {
	var caughtUp time.Time
	tick := time.NewTicker(250 * time.Millisecond)
	defer tick.Stop()
	r.sent = -1
	for {
		select {
		case <-ctx.Done():
			return fmt.Errorf("run did not finish: %w", context.Cause(ctx))
		case <-tick.C:
		}
		if !s.detect.running() {
			return s.detect.failed(fmt.Errorf("detect exited during the run (%v)", s.detect.err))
		}
		if !s.broker.running() {
			return s.broker.failed(fmt.Errorf("devbroker exited during the run (%v)", s.broker.err))
		}
		m, err := s.detectMetrics()
		if err == nil {
			r.consumed = int64(m["apiwatch_detect_events_total"])
			r.maxLag = max(r.maxLag, m["apiwatch_detect_consumer_lag"])
			if e := m["apiwatch_detect_clickhouse_errors_total"]; e > r.chErrors {
				if r.chErrors == 0 {
					logf("latency run %d: the detector's ClickHouse writes fail (retried): %s", r.n, lastLine(s.detect.stderrPath))
				}
				r.chErrors = e
			}
		}
		if sensor.running() {
			continue
		}
		if r.sent < 0 {
			r.sensorWall = sensor.exited.Sub(sensor.started)
			if sensor.err != nil {
				return sensor.failed(fmt.Errorf("sensor: %w", sensor.err))
			}
			sent, dropped, err := sensorSummary(sensor)
			if err != nil {
				return err
			}
			if dropped > 0 {
				return fmt.Errorf("the sensor dropped %d events", dropped)
			}
			r.sent = sent
			logf("latency run %d: sensor done after %s, %d events sent; waiting for the detector", r.n, r.sensorWall.Round(time.Millisecond), sent)
		}
		if r.consumed < r.sent {
			if time.Since(sensor.exited) > catchUp {
				return s.detect.failed(fmt.Errorf("the detector consumed %d of %d events in the %s after the sensor exited", r.consumed, r.sent, catchUp))
			}
			continue
		}
		if caughtUp.IsZero() {
			caughtUp = time.Now()
			logf("latency run %d: the detector has consumed all %d events; waiting %s for late findings", r.n, r.sent, c.quiet)
		}
		_, last, _ := p.snapshot()
		if since := time.Since(last); time.Since(caughtUp) >= c.quiet && since >= c.quiet {
			return nil
		}
	}
}
