package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sample is the stack's state at one moment of a throughput run.
type sample struct {
	At       time.Duration // since the sensor started
	Made     float64       // the sensor's events made (-1 unknown)
	Sent     float64       // the sensor's events acknowledged by Kafka (-1 unknown)
	Consumed float64       // the detector's events consumed and stored
	Lag      float64       // the detector's consumer lag
	CPU      [nComponents]float64
}

// throughputRun measures the bench capture replayed at full speed: the
// sensor alone (into a topic nobody reads), the stack pipelined (the
// detector consuming as events come), then a second detector reading the
// whole topic from the start (the consumer side alone).
type throughputRun struct {
	n            int
	captureBytes int64
	sent         int64
	// The sensor alone.
	sensorAlone     phaseCPU // sensor start → exit
	sensorAloneMade time.Duration
	// The pipelined run.
	samples    []sample
	base       [nComponents]float64 // CPU seconds when the sensor started
	produce    phaseCPU             // sensor start → sensor exit
	made       phaseCPU             // sensor start → its last event made (Wall 0: not seen)
	sendOnly   phaseCPU             // its last event made → its exit (Wall 0: not seen)
	drain      phaseCPU             // sensor exit → the detector's last event
	all        phaseCPU             // sensor start → the detector's last event
	drainStart int64                // events consumed when the sensor exited
	maxLag     float64
	// The detector alone, from a full topic.
	alone       phaseCPU
	aloneEvents int64
	aloneLag    float64
	chKnown     bool
	chRestarted bool
	chErrors    float64
	profile     []string // the lone detector's CPU profile, when recorded
	err         error
}

func (r *throughputRun) wall() time.Duration { return r.all.Wall }

// stages are the stages measured alone, for the bottleneck.
func (r *throughputRun) stages() []stage {
	var st []stage
	if r.sensorAlone.Wall > 0 {
		st = append(st, stage{Name: "sensor -> broker, alone", Events: r.sent, Wall: r.sensorAlone.Wall, CPU: r.sensorAlone, Procs: []int{cSensor, cBroker}})
	}
	if r.alone.Wall > 0 {
		st = append(st, stage{Name: "broker -> detector -> ClickHouse, alone", Events: r.aloneEvents, Wall: r.alone.Wall, CPU: r.alone, Procs: []int{cBroker, cDetector, cClickHouse}})
	}
	return st
}

// The events topic the detector reads, and the one the sensor alone
// sends to, which nobody reads.
const (
	eventsTopic = "apiwatch.events"
	aloneTopic  = "apiwatch.e2e.alone"
)

// meter reads the stack's processes.
type meter struct {
	s           *stack
	chPid       int
	chFile      string
	chRestarted bool    // the ClickHouse server's pid changed: its CPU is unknown
	chErrors    float64 // the previous detectors' failed ClickHouse writes (retried)
	chErrCur    float64 // the current detector's
	sensor      *proc
}

// cpu reads every component's CPU seconds (-1: unknown).
func (m *meter) cpu() (v [nComponents]float64) {
	v[cSensor] = -1
	if m.sensor != nil {
		if m.sensor.running() {
			if x, err := cpuSeconds(m.sensor.pid()); err == nil {
				v[cSensor] = x
			}
		} else {
			v[cSensor] = m.sensor.rusageCPU()
		}
	}
	if m.chPid != 0 && clickhousePid(m.chFile) != m.chPid && !m.chRestarted {
		logf("the ClickHouse server restarted (its pid file no longer says %d): its CPU is not measured", m.chPid)
		m.chRestarted = true
	}
	ch := m.chPid
	if m.chRestarted {
		ch = 0
	}
	for i, p := range map[int]int{cBroker: m.s.broker.pid(), cDetector: m.s.detect.pid(), cClickHouse: ch} {
		v[i] = -1
		if p != 0 {
			if x, err := cpuSeconds(p); err == nil {
				v[i] = x
			}
		}
	}
	// The machine's busy time, for now: phase makes it the others'.
	v[cOthers] = -1
	if x, err := machineBusy(); err == nil {
		v[cOthers] = x
	}
	return v
}

// clickhouseErrors notes the detector's failed ClickHouse writes.
func (m *meter) clickhouseErrors(mt map[string]float64) {
	if e := mt["apiwatch_detect_clickhouse_errors_total"]; e > m.chErrCur {
		if m.chErrors+m.chErrCur == 0 {
			logf("the detector's ClickHouse writes fail (retried): %s", lastLine(m.s.detect.stderrPath))
		}
		m.chErrCur = e
	}
}

// newDetector starts counting a new detector's errors.
func (m *meter) newDetector() { m.chErrors, m.chErrCur = m.chErrors+m.chErrCur, 0 }

func (m *meter) alive() error {
	for _, p := range []*proc{m.s.detect, m.s.broker} {
		if !p.running() {
			return p.failed(fmt.Errorf("%s exited during the run (%v)", p.name, p.err))
		}
	}
	return nil
}

// phase is the CPU between two readings.
func phase(from, to [nComponents]float64, wall time.Duration) phaseCPU {
	p := phaseCPU{Wall: wall}
	for i := range p.CPU {
		p.CPU[i] = -1
		if from[i] >= 0 && to[i] >= 0 {
			p.CPU[i] = to[i] - from[i]
		}
	}
	// The machine's busy time less the stack's.
	if p.CPU[cOthers] >= 0 {
		for i := range cOthers {
			p.CPU[cOthers] -= max(p.CPU[i], 0)
		}
		p.CPU[cOthers] = max(p.CPU[cOthers], 0)
	}
	return p
}

// replayed is one sensor run, sampled every 100 ms.
type replayed struct {
	sent    int64
	base    [nComponents]float64 // CPU when the sensor started (its own: 0)
	samples []sample
	exit    sample // at the sensor's exit
	end     sample // when the detector had consumed every event (follow), else exit
	made    *sample
}

// replay runs the sensor on the capture into topic at full speed; with
// follow it returns once the detector has consumed every event sent.
func (m *meter) replay(ctx context.Context, c *config, topic string, follow bool, label string) (*replayed, error) {
	port, err := freePort()
	if err != nil {
		return nil, err
	}
	addr := fmt.Sprintf("127.0.0.1:%d", port)
	r := &replayed{sent: -1}
	m.sensor = nil
	r.base = m.cpu()
	r.base[cSensor] = 0
	if m.sensor, err = m.s.startSensor(c.capture, "--listen", addr, "--topic", topic); err != nil {
		return nil, err
	}
	sensor := m.sensor
	s0 := sensor.started
	take := func() sample {
		sm := sample{At: time.Since(s0), Made: -1, Sent: -1, Consumed: -1}
		if sensor.running() {
			if mt, err := metrics(addr); err == nil {
				sm.Made, sm.Sent = mt["apiwatch_sensor_events_total"], mt["apiwatch_sensor_events_sent_total"]
			}
		}
		if mt, err := m.s.detectMetrics(); err == nil {
			sm.Consumed, sm.Lag = mt["apiwatch_detect_events_total"], mt["apiwatch_detect_consumer_lag"]
			m.clickhouseErrors(mt)
		}
		sm.CPU = m.cpu()
		return sm
	}
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	sensorDone := sensor.done
	exited := false
	for {
		select {
		case <-ctx.Done():
			sensor.stop(syscall.SIGINT, 3*time.Second)
			return nil, fmt.Errorf("run did not finish: %w", context.Cause(ctx))
		case <-sensorDone:
			sensorDone, exited = nil, true
			sm := take()
			sm.At = sensor.exited.Sub(s0)
			if sensor.err != nil {
				return nil, sensor.failed(fmt.Errorf("sensor: %w", sensor.err))
			}
			sent, dropped, err := sensorSummary(sensor)
			if err != nil {
				return nil, err
			}
			if dropped > 0 {
				return nil, fmt.Errorf("the sensor dropped %d events", dropped)
			}
			r.sent, sm.Sent = sent, float64(sent)
			r.exit = sm
			r.samples = append(r.samples, sm)
			logf("%s: sensor done after %s, %d events sent", label, sm.At.Round(time.Millisecond), sent)
		case <-tick.C:
			if err := m.alive(); err != nil {
				return nil, err
			}
			r.samples = append(r.samples, take())
		}
		if !exited {
			continue
		}
		if last := r.samples[len(r.samples)-1]; !follow || last.Consumed >= float64(r.sent) {
			r.end = last
			break
		} else if time.Since(sensor.exited) > catchUp {
			return nil, m.s.detect.failed(fmt.Errorf("the detector consumed %.0f of %d events in the %s after the sensor exited", last.Consumed, r.sent, catchUp))
		}
	}
	for i := range r.samples {
		if sm := &r.samples[i]; sm.Made >= float64(r.sent) && sm.At < r.exit.At {
			r.made = sm
			break
		}
	}
	return r, nil
}

func runThroughput(ctx context.Context, c *config, n int) (r *throughputRun) {
	r = &throughputRun{n: n}
	st, err := os.Stat(c.capture)
	if err != nil {
		r.err = err
		return r
	}
	r.captureBytes = st.Size()
	ctx, cancel := context.WithTimeout(ctx, c.timeout)
	defer cancel()
	s, err := startStack(ctx, c, "throughput", n)
	if err != nil {
		r.err = err
		return r
	}
	defer s.close()
	defer func() {
		if err := s.stop(); err != nil && r.err == nil {
			r.err = err
		}
	}()
	m := &meter{s: s, chPid: clickhousePid(c.chPidFile), chFile: c.chPidFile}
	defer func() { r.chErrors, r.chRestarted = m.chErrors+m.chErrCur, m.chRestarted }()
	r.chKnown = m.chPid != 0
	if !r.chKnown {
		logf("no ClickHouse pid in %s: its CPU is not measured", c.chPidFile)
	}
	label := fmt.Sprintf("throughput run %d", n)

	// 1. The sensor alone, into a topic nobody reads.
	logf("%s: sensor alone, replaying %s (%.1f MB) at full speed into %s", label, c.capture, float64(r.captureBytes)/1e6, aloneTopic)
	a, err := m.replay(ctx, c, aloneTopic, false, label)
	if err != nil {
		r.err = err
		return r
	}
	r.sensorAlone = phase(a.base, a.exit.CPU, a.exit.At)
	if a.made != nil {
		r.sensorAloneMade = a.made.At
	}

	// 2. Pipelined: the detector consumes as events come.
	logf("%s: pipelined, the detector consuming", label)
	p, err := m.replay(ctx, c, eventsTopic, true, label)
	if err != nil {
		r.err = err
		return r
	}
	if p.sent != a.sent {
		logf("%s: the sensor sent %d events alone, %d pipelined", label, a.sent, p.sent)
	}
	r.sent, r.samples, r.base = p.sent, p.samples, p.base
	r.produce = phase(p.base, p.exit.CPU, p.exit.At)
	r.drain = phase(p.exit.CPU, p.end.CPU, p.end.At-p.exit.At)
	r.drain.CPU[cSensor] = -1
	r.all = phase(p.base, p.end.CPU, p.end.At)
	r.drainStart = int64(p.exit.Consumed)
	for _, sm := range p.samples {
		r.maxLag = max(r.maxLag, sm.Lag)
	}
	if p.made != nil {
		r.made = phase(p.base, p.made.CPU, p.made.At)
		r.sendOnly = phase(p.made.CPU, p.exit.CPU, p.exit.At-p.made.At)
	}

	// 3. The detector alone: a second one, with a database and a group of
	// its own, reads the whole topic from the start.
	logf("%s: a fresh detector reading the %d events from the start of the topic", label, r.sent)
	m.newDetector()
	if r.err = s.freshDetector(ctx); r.err != nil {
		return r
	}
	var perf *proc
	perfData := filepath.Join(s.dir, "perf.data")
	if c.profile {
		if path, err := exec.LookPath("perf"); err != nil {
			logf("-profile: perf is not installed (apt-get install linux-perf); no profile")
		} else if perf, err = start(s.dir, "perf", path, "record", "-F", "499", "-g", "-p", strconv.Itoa(s.detect.pid()), "-o", perfData); err != nil {
			logf("-profile: %v", err)
			perf = nil
		}
	}
	defer func() {
		if perf != nil {
			perf.stop(syscall.SIGINT, 30*time.Second)
		}
	}()
	// From now: what it consumed since it joined is left out of the count.
	mt, err := s.detectMetrics()
	if err != nil {
		r.err = s.detect.failed(err)
		return r
	}
	consumed0 := mt["apiwatch_detect_events_total"]
	m.sensor = nil
	from, b0 := m.cpu(), time.Now()
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		if mt, err := s.detectMetrics(); err == nil {
			got := mt["apiwatch_detect_events_total"]
			r.aloneLag = max(r.aloneLag, mt["apiwatch_detect_consumer_lag"])
			m.clickhouseErrors(mt)
			if time.Since(b0) > catchUp {
				r.err = s.detect.failed(fmt.Errorf("the fresh detector consumed %.0f of %d events in %s", got, r.sent, catchUp))
				return r
			}
			if got >= float64(r.sent) {
				r.alone = phase(from, m.cpu(), time.Since(b0))
				r.alone.CPU[cSensor] = -1 // none ran
				r.aloneEvents = r.sent - int64(consumed0)
				break
			}
		}
		if r.err = m.alive(); r.err != nil {
			return r
		}
		select {
		case <-ctx.Done():
			r.err = fmt.Errorf("run did not finish: %w", context.Cause(ctx))
			return r
		case <-tick.C:
		}
	}
	if perf != nil {
		perf.stop(syscall.SIGINT, 30*time.Second)
		r.profile = perfReport(perfData)
		perf = nil
	}
	if err := s.stop(); err != nil {
		r.err = err
	}
	return r
}

var perfLine = regexp.MustCompile(`^\s*([0-9.]+)%\s+\[(.)\]\s+(\S+)`)

// perfReport summarizes a perf recording: CPU by package, then the top
// functions (self time).
func perfReport(data string) []string {
	out, err := exec.Command("perf", "report", "-i", data, "--stdio", "--no-children", "--sort", "symbol", "-g", "none", "--percent-limit", "0").Output()
	if err != nil {
		return []string{fmt.Sprintf("perf report: %v", err)}
	}
	type entry struct {
		name string
		pct  float64
	}
	byPkg := map[string]float64{}
	var top []entry
	for _, line := range strings.Split(string(out), "\n") {
		m := perfLine.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		pct, _ := strconv.ParseFloat(m[1], 64)
		byPkg[packageOf(m[3], m[2] == "k")] += pct
		top = append(top, entry{m[3], pct})
	}
	var pkgs []entry
	for k, v := range byPkg {
		pkgs = append(pkgs, entry{k, v})
	}
	sort.Slice(pkgs, func(i, j int) bool { return pkgs[i].pct > pkgs[j].pct })
	sort.SliceStable(top, func(i, j int) bool { return top[i].pct > top[j].pct })
	lines := []string{"by package (self time):"}
	for _, e := range pkgs[:min(len(pkgs), 12)] {
		lines = append(lines, fmt.Sprintf("  %5.1f%%  %s", e.pct, e.name))
	}
	lines = append(lines, "top functions (self time):")
	for _, e := range top[:min(len(top), 15)] {
		lines = append(lines, fmt.Sprintf("  %5.1f%%  %s", e.pct, e.name))
	}
	return lines
}

// packageOf names the Go package of a symbol ("runtime",
// "github.com/ClickHouse/ch-go/proto"); kernel symbols are "kernel",
// others (C, unresolved addresses) "other".
func packageOf(sym string, kernel bool) string {
	if kernel {
		return "kernel"
	}
	slash := strings.LastIndexByte(sym, '/')
	rest := sym[slash+1:]
	dot := strings.IndexByte(rest, '.')
	if dot <= 0 || strings.HasPrefix(sym, "0x") {
		return "other"
	}
	return sym[:slash+1+dot]
}
