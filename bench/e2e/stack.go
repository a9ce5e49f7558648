package main

// The processes of the stack: started with their output in log files,
// each in a process group of its own (a Ctrl-C in the terminal reaches
// this program only, which then stops them in order), and killed when
// this program exits however it exits.

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// proc is one child process.
type proc struct {
	name       string
	cmd        *exec.Cmd
	stdoutPath string
	stderrPath string
	started    time.Time
	exited     time.Time
	done       chan struct{} // closed when it has exited and been reaped
	err        error         // its exit, once done
}

var (
	procsMu sync.Mutex
	procs   = map[*proc]bool{}
)

// start runs bin with args; stdout and stderr go to dir/name.out and
// dir/name.err.
func start(dir, name, bin string, args ...string) (*proc, error) {
	p := &proc{name: name, done: make(chan struct{}),
		stdoutPath: filepath.Join(dir, name+".out"), stderrPath: filepath.Join(dir, name+".err")}
	stdout, err := os.Create(p.stdoutPath)
	if err != nil {
		return nil, err
	}
	stderr, err := os.Create(p.stderrPath)
	if err != nil {
		stdout.Close()
		return nil, err
	}
	p.cmd = exec.Command(bin, args...)
	p.cmd.Stdout, p.cmd.Stderr = stdout, stderr
	// Its own process group: the terminal's Ctrl-C is ours to handle.
	// Pdeathsig: killed should this program die without cleaning up.
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	procsMu.Lock()
	defer procsMu.Unlock()
	p.started = time.Now()
	if err := p.cmd.Start(); err != nil {
		stdout.Close()
		stderr.Close()
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	procs[p] = true
	go func() {
		p.err = p.cmd.Wait()
		p.exited = time.Now()
		stdout.Close()
		stderr.Close()
		procsMu.Lock()
		delete(procs, p)
		procsMu.Unlock()
		close(p.done)
	}()
	return p, nil
}

func (p *proc) pid() int { return p.cmd.Process.Pid }

func (p *proc) running() bool {
	select {
	case <-p.done:
		return false
	default:
		return true
	}
}

// stop sends sig and waits up to grace for the process to exit, then
// kills its process group. It returns the process's exit error.
func (p *proc) stop(sig syscall.Signal, grace time.Duration) error {
	if !p.running() {
		return p.err
	}
	p.cmd.Process.Signal(sig)
	select {
	case <-p.done:
		return p.err
	case <-time.After(grace):
	}
	syscall.Kill(-p.pid(), syscall.SIGKILL)
	<-p.done
	return fmt.Errorf("%s did not stop within %s after %s: killed", p.name, grace, sig)
}

// killAll kills every child still running: the exit path.
func killAll() {
	procsMu.Lock()
	var ps []*proc
	for p := range procs {
		ps = append(ps, p)
	}
	procsMu.Unlock()
	for _, p := range ps {
		syscall.Kill(-p.pid(), syscall.SIGKILL)
	}
	for _, p := range ps {
		<-p.done
	}
}

// tail returns the last n lines of the process's stderr and stdout, to
// explain a failure.
func (p *proc) tail(n int) string {
	var b strings.Builder
	for _, f := range []string{p.stderrPath, p.stdoutPath} {
		data, err := os.ReadFile(f)
		if err != nil || len(data) == 0 {
			continue
		}
		lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
		if len(lines) > n {
			lines = lines[len(lines)-n:]
		}
		fmt.Fprintf(&b, "--- %s (last %d lines)\n%s\n", f, len(lines), strings.Join(lines, "\n"))
	}
	return b.String()
}

// lastLine is the last line of a file, cut to 300 bytes.
func lastLine(path string) string {
	data, _ := os.ReadFile(path)
	lines := strings.Split(strings.TrimRight(string(data), "\n"), "\n")
	l := lines[len(lines)-1]
	if len(l) > 300 {
		l = l[:300] + "…"
	}
	return l
}

// catchUp bounds how long the detector may take to consume what the
// sensor sent, once the sensor has exited.
const catchUp = 3 * time.Minute

// failed wraps err with what the process said.
func (p *proc) failed(err error) error {
	return fmt.Errorf("%w\n%s", err, p.tail(15))
}

// freePort returns a TCP port of 127.0.0.1 nobody listens on (now).
func freePort() (int, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, err
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port, nil
}

// waitFor calls ok every interval until it returns true, p exits, ctx
// ends or timeout passes.
func waitFor(ctx context.Context, p *proc, what string, timeout, interval time.Duration, ok func() bool) error {
	deadline := time.Now().Add(timeout)
	for {
		if ok() {
			return nil
		}
		if p != nil && !p.running() {
			return p.failed(fmt.Errorf("%s exited (%v) while waiting for %s", p.name, p.err, what))
		}
		if time.Now().After(deadline) {
			err := fmt.Errorf("timed out after %s waiting for %s", timeout, what)
			if p != nil {
				err = p.failed(err)
			}
			return err
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(interval):
		}
	}
}

// listening reports whether something accepts connections on addr.
func listening(addr string) bool {
	c, err := net.DialTimeout("tcp", addr, 200*time.Millisecond)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

var httpClient = &http.Client{Timeout: 2 * time.Second}

// metrics scrapes a Prometheus text endpoint: the unlabelled samples by
// name.
func metrics(addr string) (map[string]float64, error) {
	resp, err := httpClient.Get("http://" + addr + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("metrics %s: %s", addr, resp.Status)
	}
	return parseMetrics(resp.Body)
}

func parseMetrics(r io.Reader) (map[string]float64, error) {
	out := map[string]float64{}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || strings.ContainsRune(line, '{') {
			continue
		}
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		v, err := strconv.ParseFloat(f[1], 64)
		if err != nil {
			continue
		}
		out[f[0]] = v
	}
	return out, sc.Err()
}

// clockTicks is USER_HZ, the unit of /proc/PID/stat's times: 100 on
// every Linux this runs on.
const clockTicks = 100

// cpuSeconds reads a process's user + system CPU time from
// /proc/PID/stat.
func cpuSeconds(pid int) (float64, error) {
	data, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	return parseStatCPU(string(data))
}

// parseStatCPU reads utime and stime (fields 14 and 15) of a
// /proc/PID/stat line. The command name (field 2) may hold spaces and
// parentheses: fields are counted after its closing parenthesis.
func parseStatCPU(stat string) (float64, error) {
	i := strings.LastIndexByte(stat, ')')
	if i < 0 {
		return 0, errors.New("/proc stat: no command name")
	}
	f := strings.Fields(stat[i+1:])
	if len(f) < 13 {
		return 0, errors.New("/proc stat: too few fields")
	}
	u, err1 := strconv.ParseUint(f[11], 10, 64)
	s, err2 := strconv.ParseUint(f[12], 10, 64)
	if err := errors.Join(err1, err2); err != nil {
		return 0, fmt.Errorf("/proc stat: %w", err)
	}
	return float64(u+s) / clockTicks, nil
}

// machineBusy reads the CPU time all CPUs spent busy (not idle nor
// waiting for I/O) from /proc/stat, in seconds.
func machineBusy() (float64, error) {
	data, err := os.ReadFile("/proc/stat")
	if err != nil {
		return 0, err
	}
	return parseMachineBusy(string(data))
}

// parseMachineBusy sums user, nice, system, irq, softirq and steal of the
// "cpu" line (guest time is already in user).
func parseMachineBusy(stat string) (float64, error) {
	line, _, _ := strings.Cut(stat, "\n")
	f := strings.Fields(line)
	if len(f) < 9 || f[0] != "cpu" {
		return 0, errors.New("/proc/stat: no cpu line")
	}
	var busy uint64
	for _, i := range []int{1, 2, 3, 6, 7, 8} {
		v, err := strconv.ParseUint(f[i], 10, 64)
		if err != nil {
			return 0, fmt.Errorf("/proc/stat: %w", err)
		}
		busy += v
	}
	return float64(busy) / clockTicks, nil
}

// rusageCPU is the user + system CPU time of an exited process.
func (p *proc) rusageCPU() float64 {
	if p.cmd.ProcessState == nil {
		return 0
	}
	return (p.cmd.ProcessState.UserTime() + p.cmd.ProcessState.SystemTime()).Seconds()
}

// clickhousePid reads the ClickHouse server's pid as scripts/clickhouse.sh
// writes it (0 when unknown).
func clickhousePid(file string) int {
	data, err := os.ReadFile(file)
	if err != nil {
		return 0
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(data)))
	if err != nil {
		return 0
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d/stat", pid)); err != nil {
		return 0
	}
	return pid
}
