package capture

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/gopacket/gopacket/layers"
)

// DecoderConfig tunes a Decoder. The zero value is ready to use.
type DecoderConfig struct {
	// FragmentTimeout is how long, in capture time, an incomplete IPv4
	// datagram waits for its missing fragments. Default 30s, what Linux
	// uses (net.ipv4.ipfrag_time): a sender gives up about as fast.
	FragmentTimeout time.Duration
	// MaxFragmentLists caps the IPv4 datagrams under reassembly at once, so a
	// fragment flood cannot grow memory without bound: each holds at most
	// 64 KiB, so the default 1024 bounds reassembly at 64 MiB per decoder
	// (legitimate fragmented traffic holds a few datagrams of an MTU or
	// two). Fragments of new datagrams beyond the cap are counted as
	// fragment_overflow.
	MaxFragmentLists int
	// IgnoreVLAN leaves VLAN IDs out of the flow key. Set it for mirrors
	// that deliver one direction of a connection tagged and the other
	// untagged (a trunk on one side, an access port on the other), which
	// would otherwise split every connection in two. suricata calls this
	// vlan.use-for-tracking: false.
	IgnoreVLAN bool
}

// Defaults for DecoderConfig's zero fields.
const (
	DefaultFragmentTimeout  = 30 * time.Second
	DefaultMaxFragmentLists = 1024
)

// Result says what Decode did with a frame.
type Result uint8

const (
	// ResultTCP means *p holds a TCP segment.
	ResultTCP Result = iota + 1
	// ResultSkipped means the frame is valid but carries no TCP (UDP, ICMP,
	// ARP, …); counted in Stats.Skipped*.
	ResultSkipped
	// ResultFragment means an IPv4 fragment was held for reassembly; the
	// segment comes out with the fragment that completes the datagram.
	ResultFragment
	// ResultDropped means the frame was given up on; counted in
	// Stats.Drops, and LastDrop says why.
	ResultDropped
)

func (r Result) String() string {
	switch r {
	case ResultTCP:
		return "tcp"
	case ResultSkipped:
		return "skipped"
	case ResultFragment:
		return "fragment"
	case ResultDropped:
		return "dropped"
	}
	return "invalid"
}

// maxTunnelDepth bounds nested encapsulations: real mirrors nest two or three
// (ERSPAN in GRE in IP, VXLAN carrying VLANs); deeper nesting is an attack or
// garbage, and each level costs a full header walk.
const maxTunnelDepth = 4

// maxVLANTags bounds stacked 802.1Q tags, for the same reason.
const maxVLANTags = 8

// Decoder turns frames into TCP segments and counts what it saw. A Decoder
// is not safe for concurrent use: give each worker its own and merge their
// Stats.
//
// It follows gopacket's DecodingLayerParser (one small stage per header,
// decoding in place, moving on to the payload) but the stages are written
// here: gopacket has no DecodingLayer for several headers mirrors carry
// (SLL2, NFLOG, ERSPAN III, Teredo), and a stage that reads only the fields a
// flow key needs costs a few nanoseconds and never allocates.
type Decoder struct {
	cfg   DecoderConfig
	stats Stats
	last  DropReason

	// Per-frame state.
	ts    int64
	vlanN int // VLAN tags seen since the outermost link header or tunnel
	depth int // tunnels entered

	frag *fragments // IPv4 reassembly, created at the first fragment
}

// NewDecoder returns a Decoder; zero fields of cfg take their defaults.
func NewDecoder(cfg DecoderConfig) *Decoder {
	if cfg.FragmentTimeout <= 0 {
		cfg.FragmentTimeout = DefaultFragmentTimeout
	}
	if cfg.MaxFragmentLists <= 0 {
		cfg.MaxFragmentLists = DefaultMaxFragmentLists
	}
	return &Decoder{cfg: cfg}
}

// Stats returns a copy of the decoder's counters.
func (d *Decoder) Stats() Stats { return d.stats }

// LastDrop returns the reason of the most recent ResultDropped, for logging a
// sample of bad frames.
func (d *Decoder) LastDrop() DropReason { return d.last }

// Decode decodes one captured frame of the given link type, taken at ts (Unix
// nanoseconds). On ResultTCP, *p holds the segment; its Payload points into
// frame (or, for a reassembled IPv4 datagram, into a buffer of the Decoder)
// and is valid until the next call. Decode never panics on malformed input:
// every header length is checked before use.
func (d *Decoder) Decode(frame []byte, link layers.LinkType, ts int64, p *Packet) Result {
	d.stats.Packets++
	d.stats.Bytes += uint64(len(frame))
	*p = Packet{Timestamp: ts}
	d.ts, d.vlanN, d.depth = ts, 0, 0
	if d.frag != nil {
		d.frag.expire(d, ts, false)
	}
	return d.link(frame, link, p)
}

// Link types that layers has no name for.
const (
	linkTypeDLTRaw1 layers.LinkType = 12  // DLT_RAW on most BSDs
	linkTypeDLTRaw2 layers.LinkType = 14  // DLT_RAW on OpenBSD
	linkTypeNFLOG   layers.LinkType = 239 // Linux netfilter log (NFLOG target)
)

func (d *Decoder) link(b []byte, link layers.LinkType, p *Packet) Result {
	switch link {
	case layers.LinkTypeEthernet:
		return d.ethernet(b, p)
	case layers.LinkTypeLinuxSLL:
		if len(b) < 16 {
			return d.drop(DropTruncated)
		}
		return d.etherType(be16(b[14:]), b[16:], p)
	case layers.LinkTypeLinuxSLL2:
		if len(b) < 20 {
			return d.drop(DropTruncated)
		}
		return d.etherType(be16(b), b[20:], p)
	case layers.LinkTypeRaw, linkTypeDLTRaw1, linkTypeDLTRaw2:
		return d.ipByVersion(b, p)
	case layers.LinkTypeIPv4:
		return d.ipv4(b, p)
	case layers.LinkTypeIPv6:
		return d.ipv6(b, p)
	case layers.LinkTypeNull, layers.LinkTypeLoop:
		return d.loopback(b, p)
	case layers.LinkTypeC_HDLC:
		// address, control, then an Ethertype.
		if len(b) < 4 {
			return d.drop(DropTruncated)
		}
		return d.etherType(be16(b[2:]), b[4:], p)
	case layers.LinkTypePPP, layers.LinkTypePPP_HDLC:
		return d.ppp(b, p)
	case linkTypeNFLOG:
		return d.nflog(b, p)
	case layers.LinkTypeIEEE80211Radio:
		return d.radiotap(b, p)
	case layers.LinkTypeIEEE802_11:
		return d.dot11(b, p)
	}
	return d.drop(DropUnsupportedLink)
}

// Ethertypes decoded.
const (
	etherIPv4     = 0x0800
	etherARP      = 0x0806
	etherIPv6     = 0x86dd
	etherVLAN     = 0x8100
	etherQinQ     = 0x88a8
	etherQinQOld1 = 0x9100
	etherQinQOld2 = 0x9200
	etherMPLS     = 0x8847
	etherMPLSMC   = 0x8848
	etherPPPoE    = 0x8864
	etherTEB      = 0x6558 // transparent Ethernet bridging: an Ethernet frame follows
)

func (d *Decoder) ethernet(b []byte, p *Packet) Result {
	if len(b) < 14 {
		return d.drop(DropTruncated)
	}
	t := be16(b[12:])
	b = b[14:]
	if t <= 1500 {
		// 802.3 length field: an LLC header follows. Only SNAP carries an
		// Ethertype; the rest (STP, NetBIOS, …) is not IP.
		if int(t) <= len(b) {
			b = b[:t]
		}
		if len(b) < 8 || b[0] != 0xaa || b[1] != 0xaa || b[2] != 0x03 {
			return d.skip(&d.stats.SkippedOther)
		}
		t, b = be16(b[6:]), b[8:]
	}
	return d.etherType(t, b, p)
}

func (d *Decoder) etherType(t uint16, b []byte, p *Packet) Result {
	for tags := 0; ; tags++ {
		switch t {
		case etherIPv4:
			return d.ipv4(b, p)
		case etherIPv6:
			return d.ipv6(b, p)
		case etherVLAN, etherQinQ, etherQinQOld1, etherQinQOld2:
			if tags == maxVLANTags {
				return d.drop(DropMalformedLink)
			}
			if len(b) < 4 {
				return d.drop(DropTruncated)
			}
			if d.vlanN < len(p.Flow.VLAN) && !d.cfg.IgnoreVLAN { // beyond QinQ, the outer two name the segment
				p.Flow.VLAN[d.vlanN] = be16(b) & 0x0fff
			}
			d.vlanN++
			t, b = be16(b[2:]), b[4:]
		case etherMPLS, etherMPLSMC:
			return d.mpls(b, p)
		case etherPPPoE:
			return d.pppoe(b, p)
		case etherTEB:
			return d.ethernet(b, p)
		case etherARP:
			return d.skip(&d.stats.SkippedARP)
		default:
			return d.skip(&d.stats.SkippedOther)
		}
	}
}

func (d *Decoder) ipByVersion(b []byte, p *Packet) Result {
	if len(b) == 0 {
		return d.drop(DropTruncated)
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(b, p)
	case 6:
		return d.ipv6(b, p)
	}
	return d.drop(DropMalformedIP)
}

func (d *Decoder) ipv4(b []byte, p *Packet) Result {
	if len(b) < 20 {
		return d.drop(DropTruncated)
	}
	ihl := int(b[0]&0x0f) * 4
	if b[0]>>4 != 4 || ihl < 20 {
		return d.drop(DropMalformedIP)
	}
	if len(b) < ihl {
		return d.drop(DropTruncated)
	}
	switch total := int(be16(b[2:])); {
	case total == 0:
		// Captured before TCP segmentation offload split the segment:
		// the kernel leaves the length for the NIC to fill in.
	case total < ihl:
		return d.drop(DropMalformedIP)
	case total < len(b):
		b = b[:total] // Ethernet padding or a trailer (FCS)
	}
	// total > len(b) means the capture was cut (snaplen): decode what is there.
	if ff := be16(b[6:]); ff&0x3fff != 0 { // MF flag or a fragment offset
		return d.fragment4(b, ihl, p)
	}
	src := netip.AddrFrom4([4]byte(b[12:16]))
	dst := netip.AddrFrom4([4]byte(b[16:20]))
	return d.ipPayload(b[9], src, dst, b[ihl:], p)
}

// IPv6 extension headers walked to find the upper-layer protocol.
const (
	ip6HopByHop = 0
	ip6Routing  = 43
	ip6Fragment = 44
	ip6AH       = 51
	ip6DestOpts = 60
)

func (d *Decoder) ipv6(b []byte, p *Packet) Result {
	if len(b) < 40 {
		return d.drop(DropTruncated)
	}
	if b[0]>>4 != 6 {
		return d.drop(DropMalformedIP)
	}
	// A payload length of 0 is a jumbogram or a TSO capture: use what was
	// captured. A longer one than captured means snaplen cut the frame.
	if n := 40 + int(be16(b[4:])); n > 40 && n < len(b) {
		b = b[:n]
	}
	nh, rest := b[6], b[40:]
	for range 16 { // bounded: a chain longer than this is garbage
		switch nh {
		case ip6HopByHop, ip6Routing, ip6DestOpts:
			if len(rest) < 8 {
				return d.drop(DropTruncated)
			}
			n := (int(rest[1]) + 1) * 8
			if len(rest) < n {
				return d.drop(DropTruncated)
			}
			nh, rest = rest[0], rest[n:]
		case ip6AH:
			if len(rest) < 8 {
				return d.drop(DropTruncated)
			}
			n := (int(rest[1]) + 2) * 4
			if len(rest) < n {
				return d.drop(DropTruncated)
			}
			nh, rest = rest[0], rest[n:]
		case ip6Fragment:
			if len(rest) < 8 {
				return d.drop(DropTruncated)
			}
			// Offset 0 without More Fragments is an atomic fragment
			// (RFC 6946): the whole packet, decode on.
			if be16(rest[2:])&0xfff9 != 0 {
				return d.drop(DropIPv6Fragment)
			}
			nh, rest = rest[0], rest[8:]
		default:
			src := netip.AddrFrom16([16]byte(b[8:24]))
			dst := netip.AddrFrom16([16]byte(b[24:40]))
			return d.ipPayload(nh, src, dst, rest, p)
		}
	}
	return d.drop(DropMalformedIP)
}

// IP protocol numbers decoded.
const (
	protoICMP   = 1
	protoIPIP   = 4
	protoTCP    = 6
	protoUDP    = 17
	protoIPv6   = 41
	protoGRE    = 47
	protoICMPv6 = 58
)

func (d *Decoder) ipPayload(proto uint8, src, dst netip.Addr, b []byte, p *Packet) Result {
	switch proto {
	case protoTCP:
		return d.tcp(src, dst, b, p)
	case protoUDP:
		return d.udp(b, p)
	case protoGRE:
		return d.gre(b, p)
	case protoIPIP:
		if !d.enterTunnel(p) {
			return d.drop(DropTunnelDepth)
		}
		return d.ipv4(b, p)
	case protoIPv6:
		if !d.enterTunnel(p) {
			return d.drop(DropTunnelDepth)
		}
		return d.ipv6(b, p)
	case protoICMP, protoICMPv6:
		return d.skip(&d.stats.SkippedICMP)
	}
	return d.skip(&d.stats.SkippedOther)
}

func (d *Decoder) tcp(src, dst netip.Addr, b []byte, p *Packet) Result {
	if len(b) < 20 {
		return d.drop(DropTruncated)
	}
	off := int(b[12]>>4) * 4
	if off < 20 {
		return d.drop(DropMalformedTCP)
	}
	if len(b) < off {
		return d.drop(DropTruncated)
	}
	p.Flow.SrcIP, p.Flow.DstIP = src, dst
	p.Flow.SrcPort, p.Flow.DstPort = be16(b), be16(b[2:])
	p.Seq = binary.BigEndian.Uint32(b[4:])
	p.Ack = binary.BigEndian.Uint32(b[8:])
	// FIN, SYN, RST, PSH and ACK sit in the low five bits in the same
	// order as TCPFlags.
	p.Flags = TCPFlags(b[13] & 0x1f)
	p.Payload = b[off:]
	d.stats.TCP++
	return ResultTCP
}

// enterTunnel notes one more level of encapsulation. The outer VLAN tags are
// forgotten: they belong to the mirror's transport, the inner packet's
// segment is named by the tunnel key (VNI) and its own inner tags.
func (d *Decoder) enterTunnel(p *Packet) bool {
	d.depth++
	if d.depth > maxTunnelDepth {
		return false
	}
	p.Flow.VLAN = [2]uint16{}
	d.vlanN = 0
	return true
}

func (d *Decoder) drop(r DropReason) Result {
	d.stats.Drops[r]++
	d.last = r
	return ResultDropped
}

func (d *Decoder) skip(counter *uint64) Result {
	*counter++
	return ResultSkipped
}

func be16(b []byte) uint16 { return binary.BigEndian.Uint16(b) }
func be32(b []byte) uint32 { return binary.BigEndian.Uint32(b) }
func le16(b []byte) uint16 { return binary.LittleEndian.Uint16(b) }
func le32(b []byte) uint32 { return binary.LittleEndian.Uint32(b) }
