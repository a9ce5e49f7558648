package capture

import (
	"errors"
	"time"

	"golang.org/x/net/bpf"
)

// LiveConfig configures live capture from a network interface. Zero fields
// take the documented defaults.
type LiveConfig struct {
	// Interface to capture on, e.g. "eth1" (the mirror port). Required.
	Interface string
	// Workers is the number of sockets opened; above 1 they join one
	// PACKET_FANOUT_HASH group, which the kernel balances by a symmetric
	// flow hash, so both directions of a connection reach the same worker.
	// Default 1.
	Workers int
	// FanoutGroup is the fanout group id. Groups are host-wide: two
	// processes using the same id share (split) one stream of packets.
	// Default: derived from the process id.
	FanoutGroup uint16
	// Snaplen caps the bytes kept per packet. Default 0: whole packets
	// (HTTP bodies are what apiwatch measures).
	Snaplen int
	// Promiscuous puts the interface in promiscuous mode, needed on a SPAN
	// port whose traffic is not addressed to this host. Default off.
	Promiscuous bool
	// RingMB is the ring size per socket in MiB. Default 64: at 10 Gbit/s
	// that holds ~50 ms of traffic, enough to ride out a GC pause or a
	// burst.
	RingMB int
	// BlockSize is the TPACKET_V3 block size in bytes, a multiple of the
	// page size and at least the largest packet. Default 1 MiB.
	BlockSize int
	// BlockTimeout is how long the kernel waits before handing over a
	// block that is not full, bounding latency on a quiet link. Default
	// 10 ms.
	BlockTimeout time.Duration
	// PollTimeout is how long ReadPacket waits for traffic before
	// returning ErrTimeout, so a reader can notice it should stop.
	// Default 100 ms.
	PollTimeout time.Duration
	// Ports, if set, keeps only TCP segments from or to these ports (see
	// PortFilter). Mutually exclusive with BPF.
	Ports []uint16
	// BPF, if set, is a classic BPF program in `tcpdump -ddd` format (see
	// ParseBPF), e.g. from `tcpdump -ddd -y EN10MB 'tcp port 80 or 443'`.
	BPF string
}

// Defaults for LiveConfig's zero fields.
const (
	DefaultRingMB       = 64
	DefaultBlockSize    = 1 << 20
	DefaultBlockTimeout = 10 * time.Millisecond
	DefaultPollTimeout  = 100 * time.Millisecond
)

// LiveStats are the kernel's counters for one capture socket, since it was
// opened.
type LiveStats struct {
	Packets uint64 // packets the filter accepted, including those dropped
	Drops   uint64 // packets dropped because the ring was full
	// Freezes counts times the ring filled up and the kernel stopped
	// handing over blocks until the reader freed one.
	Freezes uint64
}

// LiveStatser is implemented by live sources.
type LiveStatser interface {
	Stats() (LiveStats, error)
}

// ErrTimeout is returned by a live source's ReadPacket when no packet
// arrived within LiveConfig.PollTimeout; call ReadPacket again (after
// checking whether to stop).
var ErrTimeout = errors.New("capture: no packet within the poll timeout")

// ErrLiveUnsupported is returned by OpenLive where AF_PACKET does not exist.
var ErrLiveUnsupported = errors.New("capture: live capture needs Linux AF_PACKET; on this system, capture with tcpdump and read the file")

// filter returns the BPF program cfg asks for, nil when none, with the
// snap length applied.
func (cfg *LiveConfig) filter() ([]bpf.RawInstruction, error) {
	var prog []bpf.RawInstruction
	var err error
	switch {
	case len(cfg.Ports) > 0 && cfg.BPF != "":
		return nil, errors.New("capture/live.go: set either Ports or BPF, not both: to combine them, compile the whole expression with tcpdump -ddd")
	case len(cfg.Ports) > 0:
		prog, err = PortFilter(cfg.Ports)
	case cfg.BPF != "":
		prog, err = ParseBPF(cfg.BPF)
	}
	if err != nil {
		return nil, err
	}
	return withSnaplen(prog, cfg.Snaplen), nil
}
