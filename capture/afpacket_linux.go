package capture

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync/atomic"

	"github.com/gopacket/gopacket/afpacket"
	"github.com/gopacket/gopacket/layers"
)

// OpenLive opens cfg.Workers AF_PACKET sockets with TPACKET_V3 rings on
// cfg.Interface, the filter attached, joined in one fanout group when there
// are several. Each returned Source also implements LiveStatser; give each to
// its own goroutine.
//
// Needs CAP_NET_RAW (and CAP_NET_ADMIN for promiscuous mode). Packets that
// arrive between opening a socket and attaching its filter are not filtered;
// the Decoder copes with anything.
func OpenLive(cfg LiveConfig) ([]Source, error) {
	if cfg.Interface == "" {
		return nil, errors.New("capture/afpacket_linux.go: no interface given: name the mirror port, e.g. eth1")
	}
	link, err := ifaceLinkType(cfg.Interface)
	if err != nil {
		return nil, err
	}
	prog, err := cfg.filter()
	if err != nil {
		return nil, err
	}
	if len(cfg.Ports) > 0 && link != layers.LinkTypeEthernet {
		return nil, fmt.Errorf("capture/afpacket_linux.go: %s has no Ethernet framing, the port filter assumes it: pass a tcpdump -ddd filter compiled for link type %v instead", cfg.Interface, link)
	}
	workers := max(cfg.Workers, 1)
	blockSize := cfg.BlockSize
	if blockSize <= 0 {
		blockSize = DefaultBlockSize
	}
	ringMB := cfg.RingMB
	if ringMB <= 0 {
		ringMB = DefaultRingMB
	}
	numBlocks := max(ringMB<<20/blockSize, 1)
	blockTimeout, pollTimeout := cfg.BlockTimeout, cfg.PollTimeout
	if blockTimeout <= 0 {
		blockTimeout = DefaultBlockTimeout
	}
	if pollTimeout <= 0 {
		pollTimeout = DefaultPollTimeout
	}
	group := cfg.FanoutGroup
	if group == 0 {
		group = uint16(os.Getpid())
	}

	var srcs []Source
	fail := func(err error) ([]Source, error) {
		for _, s := range srcs {
			s.Close()
		}
		return nil, err
	}
	for w := range workers {
		tp, err := afpacket.NewTPacket(
			afpacket.OptInterface(cfg.Interface),
			afpacket.TPacketVersion3,
			afpacket.OptBlockSize(blockSize),
			afpacket.OptNumBlocks(numBlocks),
			afpacket.OptBlockTimeout(blockTimeout),
			afpacket.OptPollTimeout(pollTimeout),
			// Put back the VLAN tag the NIC stripped, so the flow key
			// keeps it. This costs an allocation per tagged packet;
			// `ethtool -K IF rxvlan off` on the mirror port avoids it.
			afpacket.OptAddVLANHeader(true),
		)
		if err != nil {
			return fail(fmt.Errorf("capture/afpacket_linux.go: %s: open AF_PACKET socket %d (needs root or CAP_NET_RAW; ring %d x %d bytes): %w", cfg.Interface, w, numBlocks, blockSize, err))
		}
		src := &liveSource{tp: tp, link: link}
		srcs = append(srcs, src)
		if prog != nil {
			if err := tp.SetBPF(prog); err != nil {
				return fail(fmt.Errorf("capture/afpacket_linux.go: %s: attach BPF filter (%d instructions): %w", cfg.Interface, len(prog), err))
			}
		}
		if cfg.Promiscuous {
			if err := tp.SetPromiscuous(true); err != nil {
				return fail(fmt.Errorf("capture/afpacket_linux.go: %s: promiscuous mode: %w", cfg.Interface, err))
			}
		}
		if workers > 1 {
			// With the defrag flag the kernel reassembles IPv4 before
			// hashing, so all fragments of a datagram reach one socket.
			if err := tp.SetFanout(afpacket.FanoutHashWithDefrag|afpacket.FanoutHash, group); err != nil {
				return fail(fmt.Errorf("capture/afpacket_linux.go: %s: join fanout group %d (in use by another process with other settings? set a different group): %w", cfg.Interface, group, err))
			}
		}
	}
	return srcs, nil
}

// ifaceLinkType maps the interface's ARPHRD type to the framing AF_PACKET
// raw sockets deliver on it.
func ifaceLinkType(name string) (layers.LinkType, error) {
	b, err := os.ReadFile("/sys/class/net/" + name + "/type")
	if err != nil {
		return 0, fmt.Errorf("capture/afpacket_linux.go: interface %q: %w (list interfaces with `ip link`)", name, err)
	}
	t, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil {
		return 0, fmt.Errorf("capture/afpacket_linux.go: interface %q: type %q: %w", name, b, err)
	}
	switch t {
	case 1, 772: // ARPHRD_ETHER, ARPHRD_LOOPBACK
		return layers.LinkTypeEthernet, nil
	case 512, 65534, 776, 778, 769, 823: // PPP, NONE (tun, wireguard), SIT, IPGRE, TUNNEL, IP6GRE
		return layers.LinkTypeRaw, nil
	}
	return 0, fmt.Errorf("capture/afpacket_linux.go: interface %q has ARPHRD type %d, which apiwatch cannot decode live: capture it with tcpdump and read the file", name, t)
}

type liveSource struct {
	tp     *afpacket.TPacket
	link   layers.LinkType
	closed atomic.Bool // Stats may run on another goroutine (metrics)
}

var errClosed = errors.New("capture/afpacket_linux.go: read from a closed live source")

// ReadPacket implements Source. data points into the ring and is valid
// until the next call.
func (s *liveSource) ReadPacket() ([]byte, CaptureInfo, error) {
	if s.closed.Load() { // the ring is unmapped: reading it would fault
		return nil, CaptureInfo{}, errClosed
	}
	data, ci, err := s.tp.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, afpacket.ErrTimeout) {
			return nil, CaptureInfo{}, ErrTimeout
		}
		return nil, CaptureInfo{}, fmt.Errorf("capture/afpacket_linux.go: read: %w", err)
	}
	return data, CaptureInfo{
		Timestamp:     ci.Timestamp.UnixNano(),
		CaptureLength: len(data),
		Length:        ci.Length,
		LinkType:      s.link,
	}, nil
}

// Stats implements LiveStatser. It may be called from any goroutine.
func (s *liveSource) Stats() (LiveStats, error) {
	if s.closed.Load() {
		return LiveStats{}, errClosed
	}
	_, v3, err := s.tp.SocketStats()
	if err != nil {
		return LiveStats{}, fmt.Errorf("capture/afpacket_linux.go: socket statistics: %w", err)
	}
	return LiveStats{Packets: uint64(v3.Packets()), Drops: uint64(v3.Drops()), Freezes: uint64(v3.QueueFreezes())}, nil
}

// Close implements Source. Call it from the reading goroutine (or after it
// returned): the ring is unmapped.
func (s *liveSource) Close() error {
	s.closed.Store(true)
	s.tp.Close()
	return nil
}
