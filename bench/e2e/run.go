package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"syscall"
	"time"

	"github.com/apiwatch/apiwatch/storage"
)

// stack is a broker and a detector with a fresh database, broker data
// directory and consumer group.
type stack struct {
	c          *config
	dir        string // logs and broker data
	db, dsn    string
	group      string
	brokerAddr string
	detectAddr string
	broker     *proc
	detect     *proc
	store      *storage.Store // the bench's own connection to the database
	stopped    bool
	stopErr    error
	dbs        []string  // created, to drop
	detects    int       // detectors started
	joined     time.Time // when the current detector was seen in its group
}

// startStack starts devbroker and detect, creating the database first
// (so it can be polled at once), and waits until the detector has
// joined its group.
func startStack(ctx context.Context, c *config, kind string, n int) (*stack, error) {
	stamp := time.Now().Format("20060102_150405")
	s := &stack{c: c, dir: filepath.Join(c.tmp, fmt.Sprintf("%s%d", kind, n)),
		db: fmt.Sprintf("apiwatch_e2e_%s_%s_%d", stamp, kind, n), group: fmt.Sprintf("e2e-%s-%s-%d", stamp, kind, n)}
	if err := os.MkdirAll(filepath.Join(s.dir, "kafka"), 0o755); err != nil {
		return nil, err
	}
	var err error
	if s.dsn, err = dsnFor(c.clickhouse, s.db); err != nil {
		return nil, err
	}
	if err := s.openDB(ctx); err != nil {
		return nil, err
	}
	fail := func(err error) (*stack, error) {
		s.stop()
		s.close()
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return fail(err)
	}
	s.brokerAddr = fmt.Sprintf("127.0.0.1:%d", port)
	if s.broker, err = start(s.dir, "broker", c.bin, "devbroker", "--port", strconv.Itoa(port), "--data-dir", filepath.Join(s.dir, "kafka"),
		"--topic", eventsTopic, "--topic", "apiwatch.findings", "--topic", aloneTopic); err != nil {
		return fail(err)
	}
	if err := waitFor(ctx, s.broker, "the broker to listen", 30*time.Second, 50*time.Millisecond, func() bool { return listening(s.brokerAddr) }); err != nil {
		return fail(err)
	}
	if err := s.startDetect(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// startDetect starts a detector on the stack's database and group and
// waits until it has joined the group.
func (s *stack) startDetect(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	s.detectAddr = fmt.Sprintf("127.0.0.1:%d", port)
	args := append([]string{"detect", "--log-format", "json", "--kafka", s.brokerAddr, "--clickhouse", s.dsn,
		"--listen", s.detectAddr, "--group", s.group}, s.c.detectArgs...)
	name := "detect"
	if s.detects++; s.detects > 1 {
		name = fmt.Sprintf("detect%d", s.detects)
	}
	if s.detect, err = start(s.dir, name, s.c.bin, args...); err != nil {
		return err
	}
	joined := func() bool {
		m, err := metrics(s.detectAddr)
		return err == nil && m["apiwatch_detect_rebalances_total"] >= 1
	}
	if err := waitFor(ctx, s.detect, "the detector to join its group", 90*time.Second, 20*time.Millisecond, joined); err != nil {
		return err
	}
	s.joined = time.Now()
	return nil
}

// freshDetector stops the detector and starts another with a database
// and a consumer group of its own: it reads the topic from the start.
func (s *stack) freshDetector(ctx context.Context) error {
	if err := s.detect.stop(syscall.SIGINT, 90*time.Second); err != nil {
		return s.detect.failed(fmt.Errorf("detect: %w", err))
	}
	s.db += "_b"
	s.group += "-b"
	var err error
	if s.dsn, err = dsnFor(s.c.clickhouse, s.db); err != nil {
		return err
	}
	if err := s.openDB(ctx); err != nil {
		return err
	}
	return s.startDetect(ctx)
}

// openDB creates the stack's database (storage.Open migrates it) and
// keeps a connection to it.
func (s *stack) openDB(ctx context.Context) error {
	open, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	st, err := storage.Open(open, s.dsn)
	if err != nil {
		return fmt.Errorf("ClickHouse (start it: scripts/clickhouse.sh start): %w", err)
	}
	if s.store != nil {
		s.store.Close()
	}
	s.store = st
	s.dbs = append(s.dbs, s.db)
	return nil
}

// stop stops the detector (SIGINT: it stores the batch in flight and
// saves baselines), then the broker; it reports the first exit error.
func (s *stack) stop() error {
	if s.stopped {
		return s.stopErr
	}
	s.stopped = true
	began := time.Now()
	defer func() {
		logf("%s: detector and broker stopped in %s", filepath.Base(s.dir), time.Since(began).Round(time.Millisecond))
	}()
	var errs []error
	if s.detect != nil {
		if err := s.detect.stop(syscall.SIGINT, 90*time.Second); err != nil {
			errs = append(errs, s.detect.failed(fmt.Errorf("detect: %w", err)))
		}
	}
	if s.broker != nil {
		if err := s.broker.stop(syscall.SIGINT, 20*time.Second); err != nil {
			errs = append(errs, s.broker.failed(fmt.Errorf("devbroker: %w", err)))
		}
	}
	s.stopErr = errors.Join(errs...)
	return s.stopErr
}

// close closes the connection and leaves the databases to dropDatabases
// (unless -keep): a drop can take ClickHouse 18.16 tens of seconds, which
// should not overlap the next run.
func (s *stack) close() {
	if s.store == nil {
		return
	}
	s.store.Close()
	if !s.c.keep {
		s.c.leftover = append(s.c.leftover, s.dbs...)
	}
}

// dropDatabases drops dbs through a connection to base, at the end.
func dropDatabases(base string, dbs []string) {
	if len(dbs) == 0 {
		return
	}
	conn, err := openConn(context.Background(), base)
	if err != nil {
		logf("dropping databases %v: %v", dbs, err)
		return
	}
	defer conn.Close()
	began := time.Now()
	for _, db := range dbs {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		if err := conn.Exec(ctx, "DROP DATABASE IF EXISTS `"+db+"`"); err != nil {
			logf("dropping database %s: %v", db, err)
		}
		cancel()
	}
	logf("%d databases dropped in %s", len(dbs), time.Since(began).Round(time.Millisecond))
}

// detectMetrics scrapes the detector.
func (s *stack) detectMetrics() (map[string]float64, error) { return metrics(s.detectAddr) }

var sentRe = regexp.MustCompile(`(?m)^kafka \S+ \S+: (\d+) events sent, (\d+) through the spool, (\d+) dropped`)

// sensorSummary reads "N events sent" (and the dropped count) from the
// sensor's summary on stdout.
func sensorSummary(p *proc) (sent, dropped int64, err error) {
	data, err := os.ReadFile(p.stdoutPath)
	if err != nil {
		return 0, 0, err
	}
	m := sentRe.FindSubmatch(data)
	if m == nil {
		return 0, 0, p.failed(errors.New("the sensor printed no \"kafka …: N events sent\" line"))
	}
	sent, _ = strconv.ParseInt(string(m[1]), 10, 64)
	dropped, _ = strconv.ParseInt(string(m[3]), 10, 64)
	return sent, dropped, nil
}

// startSensor replays file into the stack's broker.
func (s *stack) startSensor(file string, extra ...string) (*proc, error) {
	args := append([]string{"sensor", "--log-format", "json", "--quiet", "--pcap", file, "--kafka", s.brokerAddr}, extra...)
	args = append(args, s.c.sensorArgs...)
	return start(s.dir, "sensor", s.c.bin, args...)
}
