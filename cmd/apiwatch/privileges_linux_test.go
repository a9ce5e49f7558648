package main

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rs/zerolog"
	"golang.org/x/sys/unix"
)

// cgoLinked reports whether this test binary links cgo, where
// AllThreadsSyscall refuses to run.
func cgoLinked() bool {
	_, _, e := syscall.AllThreadsSyscall(unix.SYS_GETPID, 0, 0, 0)
	return e == syscall.ENOTSUP
}

// withLogs sends the package logger to a buffer for the rest of the test.
func withLogs(t *testing.T) *bytes.Buffer {
	var buf bytes.Buffer
	saved := logger
	logger = zerolog.New(&buf)
	t.Cleanup(func() { logger = saved })
	return &buf
}

// processCaps reads the capability sets of every thread of process pid.
func processCaps(t *testing.T, pid int) map[int]capState {
	t.Helper()
	files, err := filepath.Glob(fmt.Sprintf("/proc/%d/task/*/status", pid))
	if err != nil || len(files) == 0 {
		t.Fatalf("threads of %d: %v", pid, err)
	}
	out := map[int]capState{}
	for _, f := range files {
		c, err := readCapState(f)
		if err != nil {
			continue // the thread ended
		}
		tid, _ := strconv.Atoi(filepath.Base(filepath.Dir(f)))
		out[tid] = c
	}
	return out
}

// TestDropPrivilegesNoCapabilities: a process holding no capability (the
// test run by a user, or a child run as nobody when the test runs as root)
// goes on unchanged and says so.
func TestDropPrivilegesNoCapabilities(t *testing.T) {
	if os.Getenv("APIWATCH_TEST_DROP_CHILD") != "1" && os.Geteuid() == 0 {
		// Run this test again as nobody, in a child: dropping here would
		// take root's capabilities from the other tests.
		exe := accessibleCopy(t, mustExecutable(t))
		cmd := exec.Command(exe, "-test.run=^TestDropPrivilegesNoCapabilities$", "-test.v", "-test.count=1")
		cmd.Dir = filepath.Dir(exe)
		cmd.Env = append(os.Environ(), "APIWATCH_TEST_DROP_CHILD=1")
		cmd.SysProcAttr = &syscall.SysProcAttr{Credential: &syscall.Credential{Uid: 65534, Gid: 65534}}
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS: TestDropPrivilegesNoCapabilities") {
			t.Fatalf("child as nobody: %v\n%s", err, out)
		}
		t.Logf("ran as uid 65534 in a child:\n%s", out)
		return
	}
	before, err := readCapState("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	if before.held() != 0 {
		t.Skipf("this process holds capabilities %v without being root: not the case this test covers", capList(before.held()))
	}
	logs := withLogs(t)
	dropPrivileges()
	if !strings.Contains(logs.String(), "no capabilities held, none to drop") {
		t.Errorf("log: %s", logs)
	}
	for tid, c := range processCaps(t, os.Getpid()) {
		if c != before {
			t.Errorf("thread %d changed: %+v, was %+v", tid, c, before)
		}
	}
	t.Logf("uid %d: %s", os.Geteuid(), logs)
}

// TestDropPrivilegesCgo: in a binary linked with cgo the capabilities
// cannot be changed on every thread; they are kept, with a warning, and
// nothing changes (the first call refuses before any thread is touched).
func TestDropPrivilegesCgo(t *testing.T) {
	if !cgoLinked() {
		t.Skip("this test binary does not link cgo (TestDropPrivilegesLive covers the static binary)")
	}
	before, err := readCapState("/proc/thread-self/status")
	if err != nil {
		t.Fatal(err)
	}
	logs := withLogs(t)
	dropPrivileges()
	want := "no capabilities held"
	if before.held() != 0 {
		want = "linked with cgo"
	}
	if !strings.Contains(logs.String(), want) {
		t.Errorf("log lacks %q: %s", want, logs)
	}
	for tid, c := range processCaps(t, os.Getpid()) {
		if c.held() != before.held() {
			t.Errorf("thread %d changed: %+v, was %+v", tid, c, before)
		}
	}
}

// TestDropPrivilegesLive runs the static binary (as make build makes it)
// capturing on lo, the way deploy/systemd runs the sensor: as an ordinary
// user (nobody) with CAP_NET_RAW and CAP_NET_ADMIN as ambient
// capabilities; and as root. Once the sockets are open, every thread of
// the process must have lost the capabilities (all of them for nobody, the
// two network ones for root), no_new_privs must be set, and capture must
// go on: HTTP requests made after the drop come out as transactions.
func TestDropPrivilegesLive(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("needs root, to give a child process CAP_NET_RAW and CAP_NET_ADMIN (TestDropPrivilegesNoCapabilities ran unprivileged)")
	}
	bin := buildStatic(t, "")
	bin = accessibleCopy(t, bin)
	for _, tc := range []struct {
		name string
		attr *syscall.SysProcAttr
		// caps every thread may keep (as a mask), and must keep
		allowed, kept uint64
	}{
		{"nobody with ambient capabilities", &syscall.SysProcAttr{
			Credential:  &syscall.Credential{Uid: 65534, Gid: 65534},
			AmbientCaps: []uintptr{unix.CAP_NET_RAW, unix.CAP_NET_ADMIN},
		}, 0, 0},
		{"root", &syscall.SysProcAttr{}, ^uint64(captureCaps), 1 << unix.CAP_DAC_OVERRIDE},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				fmt.Fprintln(w, `{"ok":true}`)
			}))
			defer srv.Close()
			port := srv.URL[strings.LastIndex(srv.URL, ":")+1:]
			cmd := exec.Command(bin, "analyze", "--iface", "lo", "--port", port, "--duration", "4s", "--quiet", "--log-format", "json")
			cmd.Dir = filepath.Dir(bin)
			cmd.SysProcAttr = tc.attr
			stderr, _ := cmd.StderrPipe()
			var stdout bytes.Buffer
			cmd.Stdout = &stdout
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			var logs bytes.Buffer
			dropped := make(chan struct{})
			go func() {
				sc := bufio.NewScanner(stderr)
				closed := false
				for sc.Scan() {
					logs.WriteString(sc.Text() + "\n")
					if !closed && strings.Contains(sc.Text(), "dropped capabilities on every thread") {
						close(dropped)
						closed = true
					}
				}
				if !closed {
					close(dropped)
				}
			}()
			select {
			case <-dropped:
			case <-time.After(20 * time.Second):
				cmd.Process.Kill()
				t.Fatal("no drop logged within 20 s")
			}
			threads := processCaps(t, cmd.Process.Pid)
			for tid, c := range threads {
				if c.held()&^tc.allowed != 0 || c.Inh != 0 || c.Amb != 0 {
					t.Errorf("thread %d still holds %v", tid, capList(c.held()&^tc.allowed|c.Inh|c.Amb))
				}
				if c.Eff&tc.kept != tc.kept {
					t.Errorf("thread %d lost %v, which root keeps", tid, capList(tc.kept&^c.Eff))
				}
				if !c.NoNewPrivs {
					t.Errorf("thread %d: no_new_privs not set", tid)
				}
			}
			if len(threads) < 2 {
				t.Errorf("%d threads: the test wants a multi-threaded process", len(threads))
			}
			for range 5 {
				resp, err := http.Get(srv.URL + "/api/items")
				if err != nil {
					t.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
			err := cmd.Wait()
			if err != nil {
				t.Fatalf("analyze: %v\n%s\n%s", err, logs.String(), stdout.String())
			}
			m := regexp.MustCompile(`transactions\s+(\d+)`).FindStringSubmatch(stdout.String())
			if m == nil || m[1] == "0" {
				t.Errorf("no transaction captured after the drop:\n%s", stdout.String())
			}
			t.Logf("%d threads checked; %s transactions after the drop; %s", len(threads), m[1], grepLine(logs.String(), "dropped capabilities"))
		})
	}
}

func grepLine(s, sub string) string {
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) {
			return l
		}
	}
	return ""
}

func mustExecutable(t *testing.T) string {
	t.Helper()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	return exe
}

// accessibleCopy puts the executable where another user may run it (go
// test builds in a directory only its user can enter): a hard link, else
// a copy, in a directory open to all.
func accessibleCopy(t *testing.T, exe string) string {
	t.Helper()
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	dst := filepath.Join(dir, filepath.Base(exe))
	if err := os.Link(exe, dst); err != nil {
		b, err := os.ReadFile(exe)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(dst, b, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	os.Chmod(dst, 0o755)
	return dst
}
