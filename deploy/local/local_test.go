// Package local holds the test of the local stack scripts (up.sh,
// down.sh); it has no code of its own.
package local

import (
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/internal/testnet"
)

// TestUpDown runs deploy/local/up.sh for real, on ports of its own (so it
// runs beside make test's ClickHouse and anyone's stack), waits for the
// demo capture's 11 findings in ClickHouse, then runs down.sh and checks
// that everything up.sh started is gone. Like the ClickHouse tests, it
// skips without clickhouse-server outside CI and fails in CI.
func TestUpDown(t *testing.T) {
	for _, tool := range []string{"clickhouse-server", "curl", "setsid", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			if os.Getenv("CI") == "true" {
				t.Fatalf("%s is not installed: CI must run the local stack test (make test installs what it needs)", tool)
			}
			t.Skipf("needs %s", tool)
		}
	}
	state := t.TempDir()
	chHTTP := testnet.FreePort(t)
	sensorListen := fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t))
	detectListen := fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t))
	env := append(os.Environ(),
		"APIWATCH_LOCAL_DIR="+state,
		"REPLAY_SPEED=100",
		"KAFKA_PORT="+strconv.Itoa(testnet.FreePort(t)),
		"SENSOR_LISTEN="+sensorListen,
		"DETECT_LISTEN="+detectListen,
		"CLICKHOUSE_TCP_PORT="+strconv.Itoa(testnet.FreePort(t)),
		"CLICKHOUSE_HTTP_PORT="+strconv.Itoa(chHTTP),
		"CLICKHOUSE_DIR="+filepath.Join(state, "clickhouse"),
		"CLICKHOUSE_FRESH=", // never wipe: a fresh directory of our own
	)
	run := func(script string, args ...string) string {
		t.Helper()
		cmd := exec.Command(script, args...)
		cmd.Env = env
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v\n%s\n%s", script, err, out, logs(state))
		}
		return string(out)
	}
	downed := false
	t.Cleanup(func() {
		if !downed { // a failure on the way: stop everything anyway
			cmd := exec.Command("./down.sh")
			cmd.Env = env
			cmd.Run()
		}
	})

	start := time.Now()
	out := run("./up.sh")
	t.Logf("up.sh in %v:\n%s", time.Since(start).Round(time.Millisecond), out)
	for _, want := range []string{"findings", "SELECT detector, kind, severity, endpoint FROM apiwatch.findings FINAL",
		sensorListen + "/metrics", detectListen + "/metrics", filepath.Join(state, "log", "detect.log"), "down.sh"} {
		if !strings.Contains(out, want) {
			t.Errorf("up.sh does not say %q", want)
		}
	}
	pids := map[string]int{}
	for _, name := range []string{"devbroker", "detect", "sensor"} {
		b, err := os.ReadFile(filepath.Join(state, "run", name+".pid"))
		if err != nil {
			t.Fatalf("%s: no pid file: %v", name, err)
		}
		pids[name], _ = strconv.Atoi(strings.TrimSpace(string(b)))
	}

	query := func(q string) string {
		resp, err := http.Post(fmt.Sprintf("http://127.0.0.1:%d/", chHTTP), "text/plain", strings.NewReader(q))
		if err != nil {
			return ""
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		if resp.StatusCode != http.StatusOK {
			return ""
		}
		return strings.TrimSpace(string(b))
	}
	deadline := time.Now().Add(60 * time.Second)
	for query("SELECT count() FROM apiwatch.findings FINAL") != "11" && time.Now().Before(deadline) {
		time.Sleep(250 * time.Millisecond)
	}
	findings := query("SELECT detector, kind FROM apiwatch.findings FINAL ORDER BY detector, kind")
	t.Logf("findings after %v:\n%s", time.Since(start).Round(time.Second), findings)
	if n := query("SELECT count() FROM apiwatch.findings FINAL"); n != "11" {
		t.Fatalf("%s findings in ClickHouse, want the demo's 11\n%s", n, logs(state))
	}
	for _, d := range []string{"enumeration", "data_exposure", "credential_stuffing"} {
		if !strings.Contains(findings, d) {
			t.Errorf("no %s finding", d)
		}
	}
	resp, err := http.Get("http://" + detectListen + "/metrics")
	if err != nil {
		t.Fatalf("detector metrics: %v", err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if !strings.Contains(string(b), "apiwatch_detect_findings_total") {
		t.Errorf("detector /metrics lacks apiwatch_detect_findings_total")
	}

	out = run("./down.sh", "--purge")
	downed = true
	t.Logf("down.sh:\n%s", out)
	for name, pid := range pids {
		if syscall.Kill(pid, 0) == nil {
			if cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid)); strings.Contains(string(cmdline), name) {
				t.Errorf("%s (pid %d) still runs after down.sh", name, pid)
			}
		}
	}
	if query("SELECT 1") != "" {
		t.Errorf("ClickHouse still answers after down.sh")
	}
	if _, err := os.Stat(state); !os.IsNotExist(err) {
		t.Errorf("down.sh --purge left %s", state)
	}
	t.Logf("up, 11 findings, down: %v", time.Since(start).Round(time.Second))
}

// logs returns the tails of the stack's logs, for failure messages.
func logs(state string) string {
	var b strings.Builder
	for _, name := range []string{"devbroker", "detect", "sensor"} {
		data, err := os.ReadFile(filepath.Join(state, "log", name+".log"))
		if err != nil {
			continue
		}
		lines := strings.Split(strings.TrimSpace(string(data)), "\n")
		if len(lines) > 15 {
			lines = lines[len(lines)-15:]
		}
		fmt.Fprintf(&b, "--- %s.log\n%s\n", name, strings.Join(lines, "\n"))
	}
	return b.String()
}
