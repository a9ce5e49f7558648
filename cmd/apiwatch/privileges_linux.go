package main

import (
	"bufio"
	"errors"
	"fmt"
	"math/bits"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Live capture needs CAP_NET_RAW (AF_PACKET sockets) and CAP_NET_ADMIN
// (promiscuous mode, fanout) only while the sockets are opened. Once they
// are, dropPrivileges gives up the capabilities, so that a bug in the code
// that parses hostile traffic cannot use them:
//
//   - a process not running as root (a dedicated user given the two
//     capabilities, as deploy/systemd does) drops every capability;
//   - a process running as root (sudo apiwatch analyze --iface ...) drops
//     CAP_NET_RAW and CAP_NET_ADMIN and keeps the rest, so that it can
//     still write its output files wherever root may. In a container run
//     as uid 0 with only those two capabilities (deploy/k8s) that leaves
//     none.
//
// Capabilities are per thread in Linux, and a Go program runs goroutines
// on many threads: capset(2) or prctl(2) on one thread would leave the
// others privileged, and a goroutine can move between threads at any
// time. syscall.AllThreadsSyscall runs the call on every thread of the Go
// runtime (stopping the world while it does; threads created later are
// cloned from a thread that already made it), which is what Go's own
// syscall.Setuid uses. It cannot see threads created by C code, so in a
// binary linked with cgo it refuses (ENOTSUP): there the capabilities are
// kept, with a warning. Release builds are static, without cgo (make
// build, make release, the Dockerfile).
//
// What is done, on every thread, in this order:
//  1. prctl(PR_SET_NO_NEW_PRIVS, 1): no later execve can gain privileges
//     (setuid binaries, file capabilities, root's exec rules);
//  2. prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL): the ambient set
//     that systemd's AmbientCapabilities= filled;
//  3. capset(2): the inheritable set emptied, the effective and permitted
//     sets emptied (or, as root, stripped of the two network capabilities).
//
// The bounding set is left as it is: changing it needs CAP_SETPCAP, and
// with the capabilities gone from the permitted set and no_new_privs set
// nothing can be regained from it.

// captureCaps are the capabilities opening the capture sockets needs.
const captureCaps = 1<<unix.CAP_NET_RAW | 1<<unix.CAP_NET_ADMIN

// capState is one thread's capability sets, from /proc/.../status.
type capState struct {
	Eff, Prm, Inh, Amb, Bnd uint64
	NoNewPrivs              bool
}

// held reports whether any capability could still be used or regained.
func (c capState) held() uint64 { return c.Eff | c.Prm | c.Inh | c.Amb }

// readCapState parses the Cap* and NoNewPrivs lines of a status file.
func readCapState(path string) (capState, error) {
	f, err := os.Open(path)
	if err != nil {
		return capState{}, err
	}
	defer f.Close()
	var c capState
	sets := map[string]*uint64{"CapEff": &c.Eff, "CapPrm": &c.Prm, "CapInh": &c.Inh, "CapAmb": &c.Amb, "CapBnd": &c.Bnd}
	found := 0
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		k, v, ok := strings.Cut(sc.Text(), ":")
		if !ok {
			continue
		}
		v = strings.TrimSpace(v)
		if p, ok := sets[k]; ok {
			n, err := strconv.ParseUint(v, 16, 64)
			if err != nil {
				return capState{}, fmt.Errorf("%s: %s: %w", path, k, err)
			}
			*p = n
			found++
		}
		if k == "NoNewPrivs" {
			c.NoNewPrivs = v == "1"
		}
	}
	if err := sc.Err(); err != nil {
		return capState{}, err
	}
	if found < 4 { // CapAmb is missing before Linux 4.3
		return capState{}, fmt.Errorf("%s: no capability sets", path)
	}
	return c, nil
}

// threadCapStates reads the capability sets of every thread of the process.
func threadCapStates() (map[int]capState, error) {
	dirs, err := filepath.Glob("/proc/self/task/*/status")
	if err != nil || len(dirs) == 0 {
		return nil, fmt.Errorf("listing the threads in /proc/self/task: %v", err)
	}
	out := make(map[int]capState, len(dirs))
	for _, p := range dirs {
		tid, err := strconv.Atoi(filepath.Base(filepath.Dir(p)))
		if err != nil {
			continue
		}
		c, err := readCapState(p)
		if err != nil {
			if errors.Is(err, os.ErrNotExist) { // the thread ended meanwhile
				continue
			}
			return nil, err
		}
		out[tid] = c
	}
	return out, nil
}

// capNames are the capabilities' names by number (linux/capability.h).
var capNames = []string{
	"cap_chown", "cap_dac_override", "cap_dac_read_search", "cap_fowner", "cap_fsetid", "cap_kill",
	"cap_setgid", "cap_setuid", "cap_setpcap", "cap_linux_immutable", "cap_net_bind_service",
	"cap_net_broadcast", "cap_net_admin", "cap_net_raw", "cap_ipc_lock", "cap_ipc_owner",
	"cap_sys_module", "cap_sys_rawio", "cap_sys_chroot", "cap_sys_ptrace", "cap_sys_pacct",
	"cap_sys_admin", "cap_sys_boot", "cap_sys_nice", "cap_sys_resource", "cap_sys_time",
	"cap_sys_tty_config", "cap_mknod", "cap_lease", "cap_audit_write", "cap_audit_control",
	"cap_setfcap", "cap_mac_override", "cap_mac_admin", "cap_syslog", "cap_wake_alarm",
	"cap_block_suspend", "cap_audit_read", "cap_perfmon", "cap_bpf", "cap_checkpoint_restore",
}

// capList names the capabilities in set.
func capList(set uint64) []string {
	var out []string
	for i := range 64 {
		if set&(1<<i) == 0 {
			continue
		}
		if i < len(capNames) {
			out = append(out, capNames[i])
		} else {
			out = append(out, "cap_"+strconv.Itoa(i))
		}
	}
	return out
}

// errCgo says why capabilities cannot be dropped in this build.
var errCgo = errors.New("this binary is linked with cgo, so the capabilities of every thread cannot be changed (build with CGO_ENABLED=0, as make build and make release do)")

// The capset arguments live in package variables, not on a stack that
// could move while the call runs on every thread.
var (
	capHeader = unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	capData   [2]unix.CapUserData // 64 capabilities in two 32-bit words
)

// dropCapabilities drops the capabilities on every thread, as the comment
// at the top says, and sets no_new_privs. It returns the sets held before
// and after (before.held() == 0: nothing was held, nothing was done).
func dropCapabilities() (before, after capState, err error) {
	before, err = readCapState("/proc/thread-self/status")
	if err != nil {
		return before, before, err
	}
	if before.held() == 0 {
		return before, before, nil
	}
	keep := uint64(0)
	if os.Geteuid() == 0 {
		keep = ^uint64(captureCaps)
	}
	if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0, 0); e != 0 {
		if e == syscall.ENOTSUP {
			return before, before, errCgo
		}
		return before, before, fmt.Errorf("prctl(PR_SET_NO_NEW_PRIVS): %w", e)
	}
	if before.Amb != 0 {
		if _, _, e := syscall.AllThreadsSyscall6(unix.SYS_PRCTL, unix.PR_CAP_AMBIENT, unix.PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0, 0); e != 0 {
			return before, before, fmt.Errorf("prctl(PR_CAP_AMBIENT_CLEAR_ALL): %w", e)
		}
	}
	eff, prm := before.Eff&keep, before.Prm&keep
	capData[0] = unix.CapUserData{Effective: uint32(eff), Permitted: uint32(prm)}
	capData[1] = unix.CapUserData{Effective: uint32(eff >> 32), Permitted: uint32(prm >> 32)}
	if _, _, e := syscall.AllThreadsSyscall(unix.SYS_CAPSET, uintptr(unsafe.Pointer(&capHeader)), uintptr(unsafe.Pointer(&capData[0])), 0); e != 0 {
		return before, before, fmt.Errorf("capset: %w", e)
	}
	threads, err := threadCapStates()
	if err != nil {
		return before, before, fmt.Errorf("checking the threads after dropping: %w", err)
	}
	for tid, c := range threads {
		if c.held()&^keep != 0 || c.Inh != 0 || c.Amb != 0 {
			return before, c, fmt.Errorf("thread %d still holds %s after dropping", tid, strings.Join(capList(c.held()&^keep|c.Inh|c.Amb), ","))
		}
		after = c
	}
	return before, after, nil
}

// dropPrivileges is called once the capture sockets are open: it drops
// the capabilities and logs what it did. Failing to drop is logged, not
// fatal: capture goes on with the privileges the process was given.
func dropPrivileges() {
	before, after, err := dropCapabilities()
	switch {
	case err != nil:
		logger.Warn().Err(err).Strs("capabilities", capList(before.held())).
			Msg("could not drop the capabilities after opening the capture sockets; they are kept")
	case before.held() == 0:
		logger.Info().Msg("capture sockets open; no capabilities held, none to drop")
	default:
		ev := logger.Info().Strs("dropped", capList(before.held()&^after.held())).Bool("no_new_privs", true)
		if kept := after.held(); kept != 0 {
			ev = ev.Int("kept", bits.OnesCount64(kept)).Str("note", "running as root: the capabilities root needs besides capture are kept; a dedicated user with only CAP_NET_RAW and CAP_NET_ADMIN ends with none (deploy/systemd)")
		}
		ev.Msg("capture sockets open; dropped capabilities on every thread")
	}
}
