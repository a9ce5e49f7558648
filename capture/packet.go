// Package capture owns packet sources (capture files, live AF_PACKET rings) and
// the decoding of link, network and tunnel layers down to TCP segments.
//
// It knows nothing about HTTP: its output is a Packet, one TCP segment with the
// flow it belongs to.
package capture

import (
	"encoding/binary"
	"fmt"
	"math/bits"
	"net/netip"
)

// TCPFlags holds the TCP control bits apiwatch cares about.
type TCPFlags uint8

const (
	FlagFIN TCPFlags = 1 << iota
	FlagSYN
	FlagRST
	FlagPSH
	FlagACK
)

func (f TCPFlags) Has(x TCPFlags) bool { return f&x == x }

// Flow identifies one direction of a TCP connection. VLAN and VNI are part of
// the key because mirrored traffic from several segments (or tenants of a
// cloud packet mirror) can reuse the same addresses.
type Flow struct {
	SrcIP, DstIP     netip.Addr
	SrcPort, DstPort uint16
	// VLAN holds the outer and inner 802.1Q VLAN IDs (QinQ); zero when untagged.
	VLAN [2]uint16
	// VNI is the VXLAN network identifier, or the GRE key, of the tunnel the
	// packet was carried in; zero when not tunnelled.
	VNI uint32
}

// Reverse returns the flow of the opposite direction.
func (f Flow) Reverse() Flow {
	f.SrcIP, f.DstIP = f.DstIP, f.SrcIP
	f.SrcPort, f.DstPort = f.DstPort, f.SrcPort
	return f
}

// Canonical returns the flow with its endpoints in a fixed order, so both
// directions of a connection map to the same value; swapped reports whether f
// was reversed to get there.
func (f Flow) Canonical() (c Flow, swapped bool) {
	switch cmp := f.SrcIP.Compare(f.DstIP); {
	case cmp < 0, cmp == 0 && f.SrcPort <= f.DstPort:
		return f, false
	}
	return f.Reverse(), true
}

// Hash returns the same value for both directions of a connection, so packets
// can be sharded across workers by connection. key keys it: with the same key
// a capture is sharded the same way every run, and traffic crafted to pile
// onto one worker needs the key.
func (f Flow) Hash(key uint64) uint64 {
	c, _ := f.Canonical()
	src, dst := c.SrcIP.As16(), c.DstIP.As16()
	le := binary.LittleEndian
	ports := uint64(c.SrcPort)<<48 | uint64(c.DstPort)<<32 | uint64(c.VLAN[0])<<16 | uint64(c.VLAN[1])
	// Three independent keyed multiplications (wyhash's mum) rather than a
	// chain of finalizers: this runs on the reader, once per packet, and
	// the chain's dependent multiplies took twice as long.
	const k1, k2, k3 = 0xa0761d6478bd642f, 0xe7037ed1a0b428db, 0x8ebc6af09c88c6e3
	h := mum(le.Uint64(src[:8])^key, le.Uint64(src[8:])^key^k1) ^
		mum(le.Uint64(dst[:8])^key^k2, le.Uint64(dst[8:])^key^k3) ^
		mum(ports^key^k3, uint64(c.VNI)^key^k1)
	return mix64(h)
}

// mum multiplies a and b into 128 bits and folds them to 64.
func mum(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// mix64 is MurmurHash3's 64-bit finalizer: every input bit affects every
// output bit.
func mix64(x uint64) uint64 {
	x ^= x >> 33
	x *= 0xff51afd7ed558ccd
	x ^= x >> 33
	x *= 0xc4ceb9fe1a85ec53
	return x ^ x>>33
}

func (f Flow) String() string {
	s := fmt.Sprintf("%s -> %s", netip.AddrPortFrom(f.SrcIP, f.SrcPort), netip.AddrPortFrom(f.DstIP, f.DstPort))
	if f.VLAN != [2]uint16{} {
		s += fmt.Sprintf(" vlan %d/%d", f.VLAN[0], f.VLAN[1])
	}
	if f.VNI != 0 {
		s += fmt.Sprintf(" vni %d", f.VNI)
	}
	return s
}

// Packet is one decoded TCP segment.
//
// Payload points into the buffer of the Source (or of the Decoder, for
// reassembled IPv4 fragments) and is valid only until the next packet is read:
// a consumer that needs the bytes later must copy them.
type Packet struct {
	// Timestamp is the capture time in Unix nanoseconds.
	Timestamp int64
	Flow      Flow
	Seq, Ack  uint32
	Flags     TCPFlags
	Payload   []byte
}
