// Command e2e benchmarks apiwatch end to end on this machine, with the
// real binaries as separate processes: apiwatch sensor → apiwatch
// devbroker (Kafka protocol) → apiwatch detect → ClickHouse.
//
//	go run ./bench/e2e                      # latency (3 runs) and throughput
//	go run ./bench/e2e -runs 1 -throughput=false
//	go run ./bench/e2e -latency=false -profile
//
// Latency: the sensor replays testdata/attacks-demo.pcap.gz at its
// recorded pace (--replay-speed 1, as live traffic) while the findings
// table is polled; each labelled attack episode's latency is from the
// wall time its first request went by to the wall time the first of its
// findings was readable in ClickHouse. Throughput: the sensor replays
// the bench capture as fast as it can; events/s end to end, CPU per
// component and where the bottleneck is. The report goes to stdout and
// is appended to bench/out/e2e.txt. ClickHouse must be running
// (scripts/clickhouse.sh start). See bench/README.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"net/url"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"syscall"
	"time"

	"github.com/ClickHouse/clickhouse-go/v2"
	"github.com/ClickHouse/clickhouse-go/v2/lib/driver"
)

type config struct {
	root           string // the module's directory
	bin            string
	clickhouse     string // base DSN, without a database
	pcap, truth    string // latency capture and its ground truth
	capture        string // throughput capture
	runs           int
	throughputRuns int
	latency        bool
	throughput     bool
	quiet          time.Duration
	poll           time.Duration
	timeout        time.Duration
	out            string
	keep           bool
	profile        bool
	sensorArgs     []string
	detectArgs     []string
	chPidFile      string
	tmp            string
	ncpu           int
	leftover       []string // the runs' databases, dropped at the end unless keep
}

func main() {
	os.Exit(run())
}

func run() int {
	var c config
	var sensorArgs, detectArgs string
	flag.StringVar(&c.bin, "bin", "", "apiwatch binary to run (default: build ./cmd/apiwatch into a temporary directory)")
	flag.StringVar(&c.clickhouse, "clickhouse", "clickhouse://127.0.0.1:19000", "ClickHouse `DSN` without a database; each run uses a fresh database on it")
	flag.StringVar(&c.pcap, "pcap", "testdata/attacks-demo.pcap.gz", "latency: labelled capture replayed at its recorded pace")
	flag.StringVar(&c.truth, "truth", "", "latency: its ground truth (default: PCAP.truth.json)")
	flag.StringVar(&c.capture, "capture", "bench/out/bench.pcap", "throughput: capture replayed at full speed (the default is generated when missing: go run ./bench/gencap -o bench/out/bench.pcap -size 100MB)")
	flag.IntVar(&c.runs, "runs", 3, "latency runs, each with a fresh database, broker and group")
	flag.IntVar(&c.throughputRuns, "throughput-runs", 1, "throughput runs")
	flag.BoolVar(&c.latency, "latency", true, "measure latency")
	flag.BoolVar(&c.throughput, "throughput", true, "measure throughput")
	flag.DurationVar(&c.quiet, "quiet", 5*time.Second, "latency: a run ends once the sensor exited, the detector consumed every event and no new finding appeared for this long")
	flag.DurationVar(&c.poll, "poll", 25*time.Millisecond, "latency: how often the findings table is polled")
	flag.DurationVar(&c.timeout, "timeout", 30*time.Minute, "give up on a run after this long")
	flag.StringVar(&c.out, "o", "bench/out/e2e.txt", "append the report to this file (empty: stdout only)")
	flag.BoolVar(&c.keep, "keep", false, "keep the ClickHouse databases and the temporary directory (logs, broker data)")
	flag.BoolVar(&c.profile, "profile", false, "throughput: record the detector with perf (when installed) and report where its CPU goes; perf's overhead slows the run")
	flag.StringVar(&sensorArgs, "sensor-args", "", "extra arguments for apiwatch sensor, space-separated (e.g. \"--workers 1\")")
	flag.StringVar(&detectArgs, "detect-args", "", "extra arguments for apiwatch detect, space-separated (e.g. \"--batch 20000\")")
	flag.StringVar(&c.chPidFile, "clickhouse-pid-file", "/tmp/apiwatch-clickhouse/clickhouse.pid", "the ClickHouse server's pid file (as scripts/clickhouse.sh writes it), for its CPU time")
	flag.Parse()
	if flag.NArg() > 0 || c.runs < 0 || c.throughputRuns < 0 {
		flag.Usage()
		return 2
	}
	c.sensorArgs, c.detectArgs = strings.Fields(sensorArgs), strings.Fields(detectArgs)
	c.ncpu = runtime.NumCPU()

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	defer killAll()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	go func() {
		// The first Ctrl-C stops the runs in order (the detector drains);
		// a second one kills this program, and the children with it
		// (Pdeathsig).
		<-sigs
		signal.Stop(sigs)
		logf("interrupted: stopping the processes (Ctrl-C again to kill them)")
		cancel()
	}()
	rep, err := bench(ctx, &c)
	if rep != nil {
		text := rep.String()
		fmt.Print(text)
		if c.out != "" && ctx.Err() == nil {
			if werr := appendFile(c.out, text); werr != nil {
				logf("writing %s: %v", c.out, werr)
			} else {
				logf("report appended to %s", c.out)
			}
		}
	}
	if err != nil {
		logf("error: %v", err)
		return 1
	}
	if rep.failedRuns > 0 {
		logf("%d run(s) did not complete", rep.failedRuns)
		return 1
	}
	return 0
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "e2e %s: %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, args...))
}

// bench prepares (paths, binary, ClickHouse) and runs the measures.
func bench(ctx context.Context, c *config) (*report, error) {
	var err error
	if c.root, err = moduleRoot(); err != nil {
		return nil, err
	}
	// Paths given relative are relative to where we were started; the
	// defaults are relative to the module.
	for _, p := range []*string{&c.pcap, &c.truth, &c.capture, &c.out, &c.bin} {
		if *p != "" && !filepath.IsAbs(*p) {
			if isDefault(p, c) {
				*p = filepath.Join(c.root, *p)
			} else if *p, err = filepath.Abs(*p); err != nil {
				return nil, err
			}
		}
	}
	if c.truth == "" {
		c.truth = c.pcap + ".truth.json"
	}
	if c.tmp, err = os.MkdirTemp("", "apiwatch-e2e-"); err != nil {
		return nil, err
	}
	if c.keep {
		logf("logs and broker data in %s", c.tmp)
	} else {
		defer os.RemoveAll(c.tmp)
	}
	if c.bin == "" {
		c.bin = filepath.Join(c.tmp, "apiwatch")
		logf("building ./cmd/apiwatch")
		cmd := exec.CommandContext(ctx, "go", "build", "-o", c.bin, "./cmd/apiwatch")
		cmd.Dir, cmd.Stdout, cmd.Stderr = c.root, os.Stderr, os.Stderr
		if err := cmd.Run(); err != nil {
			return nil, fmt.Errorf("go build ./cmd/apiwatch: %w", err)
		}
	}
	if err := checkClickHouse(ctx, c.clickhouse); err != nil {
		return nil, err
	}
	defer func() { dropDatabases(c.clickhouse, c.leftover) }()
	rep := newReport(c)
	if c.latency {
		for i := 1; i <= c.runs; i++ {
			if ctx.Err() != nil {
				break
			}
			logf("latency run %d/%d", i, c.runs)
			r := runLatency(ctx, c, i)
			if r.err != nil {
				logf("latency run %d failed: %v", i, r.err)
			}
			rep.latency = append(rep.latency, r)
		}
	}
	if c.throughput && ctx.Err() == nil {
		if err := ensureCapture(ctx, c); err != nil {
			rep.notes = append(rep.notes, fmt.Sprintf("throughput not measured: %v", err))
			rep.failedRuns++
		} else {
			for i := 1; i <= c.throughputRuns; i++ {
				if ctx.Err() != nil {
					break
				}
				logf("throughput run %d/%d", i, c.throughputRuns)
				r := runThroughput(ctx, c, i)
				if r.err != nil {
					logf("throughput run %d failed: %v", i, r.err)
				}
				rep.throughput = append(rep.throughput, r)
			}
		}
	}
	rep.finish()
	if ctx.Err() != nil {
		return rep, errors.New("interrupted")
	}
	return rep, nil
}

// isDefault reports whether the flag behind p still holds its default.
func isDefault(p *string, c *config) bool {
	name := map[*string]string{&c.pcap: "pcap", &c.truth: "truth", &c.capture: "capture", &c.out: "o", &c.bin: "bin"}[p]
	set := false
	flag.Visit(func(f *flag.Flag) { set = set || f.Name == name })
	return !set
}

// moduleRoot finds the directory of apiwatch's go.mod, upwards from here.
func moduleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		data, err := os.ReadFile(filepath.Join(dir, "go.mod"))
		if err == nil && strings.Contains(string(data), "module github.com/apiwatch/apiwatch\n") {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("run from inside the apiwatch module (no go.mod of github.com/apiwatch/apiwatch above here)")
		}
		dir = parent
	}
}

// dsnFor is base with database db.
func dsnFor(base, db string) (string, error) {
	u, err := url.Parse(base)
	if err != nil {
		return "", fmt.Errorf("-clickhouse %q: %w", base, err)
	}
	u.Path = "/" + db
	return u.String(), nil
}

// checkClickHouse pings the server (creating nothing).
func checkClickHouse(ctx context.Context, base string) error {
	conn, err := openConn(ctx, base)
	if err != nil {
		return fmt.Errorf("ClickHouse at %s is not answering (start it: scripts/clickhouse.sh start): %w", base, err)
	}
	return conn.Close()
}

// openConn opens a plain connection to the server of dsn, and pings it.
func openConn(ctx context.Context, dsn string) (driver.Conn, error) {
	opts, err := clickhouse.ParseDSN(dsn)
	if err != nil {
		return nil, fmt.Errorf("-clickhouse %q: %w", dsn, err)
	}
	opts.DialTimeout = 3 * time.Second
	conn, err := clickhouse.Open(opts)
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := conn.Ping(ctx); err != nil {
		conn.Close()
		return nil, err
	}
	return conn, nil
}

// ensureCapture makes the default throughput capture when it is missing.
func ensureCapture(ctx context.Context, c *config) error {
	if _, err := os.Stat(c.capture); err == nil {
		return nil
	}
	def := filepath.Join(c.root, "bench/out/bench.pcap")
	if c.capture != def {
		return fmt.Errorf("-capture %s: no such file", c.capture)
	}
	logf("%s is missing: generating it (go run ./bench/gencap -o bench/out/bench.pcap -size 100MB)", def)
	if err := os.MkdirAll(filepath.Dir(def), 0o755); err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, "go", "run", "./bench/gencap", "-o", def, "-size", "100MB")
	cmd.Dir, cmd.Stdout, cmd.Stderr = c.root, os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("generating the capture failed (%v); make it with: go run ./bench/gencap -o bench/out/bench.pcap -size 100MB", err)
	}
	return nil
}

func appendFile(path, text string) error {
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return err
	}
	f, err := os.OpenFile(path, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.WriteString(text + "\n"); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}
