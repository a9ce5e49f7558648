package capture

// DropReason says why the Decoder gave up on a frame. Each reason is a
// counter in Stats, so operators can tell a broken mirror (truncated) from
// hostile traffic (malformed_*) from missing decoder support.
type DropReason uint8

const (
	DropTruncated        DropReason = iota // a header ends beyond the captured bytes
	DropUnsupportedLink                    // the capture's link type is not decoded
	DropMalformedLink                      // a link, VLAN, MPLS or PPPoE header is inconsistent
	DropMalformedIP                        // bad version, header length or total length
	DropMalformedTCP                       // TCP data offset out of range
	DropMalformedTunnel                    // a GRE, VXLAN, GENEVE or Teredo header is inconsistent
	DropTunnelDepth                        // too many nested encapsulations
	DropFragmentOverflow                   // too many IPv4 datagrams under reassembly at once
	DropFragmentTimeout                    // an IPv4 datagram (not frame) whose fragments waited longer than FragmentTimeout
	DropFragmentInvalid                    // fragments that overlap, overrun or are too small
	DropIPv6Fragment                       // a real IPv6 fragment (not reassembled)
	numDropReasons
)

var dropNames = [numDropReasons]string{
	DropTruncated:        "truncated",
	DropUnsupportedLink:  "unsupported_link",
	DropMalformedLink:    "malformed_link",
	DropMalformedIP:      "malformed_ip",
	DropMalformedTCP:     "malformed_tcp",
	DropMalformedTunnel:  "malformed_tunnel",
	DropTunnelDepth:      "tunnel_depth",
	DropFragmentOverflow: "fragment_overflow",
	DropFragmentTimeout:  "fragment_timeout",
	DropFragmentInvalid:  "fragment_invalid",
	DropIPv6Fragment:     "ipv6_fragment",
}

// String returns the reason's metric label, e.g. "malformed_ip".
func (r DropReason) String() string {
	if r < numDropReasons {
		return dropNames[r]
	}
	return "unknown"
}

// Stats counts what one Decoder saw. A worker owns its Decoder and so its
// Stats: the fields are plain integers, read them from the owning goroutine
// (or after it stopped) and merge workers with Add.
type Stats struct {
	Packets uint64 // frames handed to Decode
	Bytes   uint64 // their captured bytes
	TCP     uint64 // TCP segments delivered

	// Frames that were valid but not TCP, by protocol.
	SkippedUDP   uint64
	SkippedICMP  uint64 // ICMP and ICMPv6
	SkippedARP   uint64
	SkippedOther uint64 // other IP protocols and non-IP link payloads (LLDP, STP, …)

	// Fragments counts IPv4 fragments taken in; Reassembled the datagrams
	// they completed.
	Fragments   uint64
	Reassembled uint64

	// Drops counts frames given up on, indexed by DropReason; see EachDrop.
	Drops [numDropReasons]uint64
}

// Add merges other into s.
func (s *Stats) Add(other *Stats) {
	s.Packets += other.Packets
	s.Bytes += other.Bytes
	s.TCP += other.TCP
	s.SkippedUDP += other.SkippedUDP
	s.SkippedICMP += other.SkippedICMP
	s.SkippedARP += other.SkippedARP
	s.SkippedOther += other.SkippedOther
	s.Fragments += other.Fragments
	s.Reassembled += other.Reassembled
	for i := range s.Drops {
		s.Drops[i] += other.Drops[i]
	}
}

// Dropped returns the total over all drop reasons.
func (s *Stats) Dropped() uint64 {
	var n uint64
	for _, v := range s.Drops {
		n += v
	}
	return n
}

// EachDrop calls fn for every drop reason, in a fixed order, including those
// still at zero (so a metrics exporter can register every label up front).
func (s *Stats) EachDrop(fn func(reason DropReason, n uint64)) {
	for i, v := range s.Drops {
		fn(DropReason(i), v)
	}
}

// EachSkip calls fn for every skipped-protocol counter: "udp", "icmp",
// "arp", "other".
func (s *Stats) EachSkip(fn func(protocol string, n uint64)) {
	fn("udp", s.SkippedUDP)
	fn("icmp", s.SkippedICMP)
	fn("arp", s.SkippedARP)
	fn("other", s.SkippedOther)
}
