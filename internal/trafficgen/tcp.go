package trafficgen

import (
	"encoding/binary"
	"math/bits"
)

// Frame layout constants. Every segment carries the TCP timestamps option
// (12 bytes), as Linux peers do; that is why the MSS is 1448 on a 1500-byte
// IPv4 MTU (1428 over IPv6).
const (
	ethHeaderLen  = 14
	vlanTagLen    = 4
	ipv4HeaderLen = 20
	ipv6HeaderLen = 40
	tcpHeaderLen  = 32 // 20 + NOP, NOP, timestamps
	tcpSYNLen     = 40 // 20 + MSS, SACK-permitted, timestamps, NOP, window scale
	mtu           = 1500
	mssIPv4       = mtu - ipv4HeaderLen - tcpHeaderLen // 1448
	mssIPv6       = mtu - ipv6HeaderLen - tcpHeaderLen // 1428
	maxFrameLen   = ethHeaderLen + vlanTagLen + mtu
	windowScale   = 7
)

// TCP flag bits as on the wire.
const (
	tcpFIN = 0x01
	tcpSYN = 0x02
	tcpRST = 0x04
	tcpPSH = 0x08
	tcpACK = 0x10
)

// gatewayMAC is the router in front of the servers: on a mirror port next to
// the servers, every client packet arrives from it.
var gatewayMAC = [6]byte{0x00, 0x1c, 0x73, 0x00, 0x00, 0x01}

// frame serializes one segment of c into buf and returns the frame. It does
// by hand what gopacket.SerializeLayers with ComputeChecksums does (the test
// checks the two agree): at hundreds of MB, serialization through layers
// would be most of the generator's time.
func (c *conn) frame(buf []byte, s *seg, payload []byte) []byte {
	src, dst := &c.srv, &c.cli
	srcMAC, dstMAC := c.srv.mac, gatewayMAC
	if s.fromClient {
		src, dst = dst, src
		srcMAC, dstMAC = gatewayMAC, c.srv.mac
	}
	tcpLen := tcpHeaderLen
	if s.flags&tcpSYN != 0 {
		tcpLen = tcpSYNLen
	}

	b := buf[:0]
	b = append(b, dstMAC[:]...)
	b = append(b, srcMAC[:]...)
	if c.vlan != 0 {
		b = binary.BigEndian.AppendUint16(b, 0x8100)
		b = binary.BigEndian.AppendUint16(b, c.vlan)
	}
	ipStart := len(b) + 2
	var pseudo uint64
	if c.v6 {
		b = binary.BigEndian.AppendUint16(b, 0x86dd)
		b = binary.BigEndian.AppendUint32(b, 6<<28|c.flowLabel)
		b = binary.BigEndian.AppendUint16(b, uint16(tcpLen+len(payload)))
		b = append(b, 6, src.ttl)
		b = append(b, src.ip[:]...)
		b = append(b, dst.ip[:]...)
		pseudo = sum16(b[ipStart+8:ipStart+40], 0) + uint64(tcpLen+len(payload)) + 6
	} else {
		b = binary.BigEndian.AppendUint16(b, 0x0800)
		b = append(b, 0x45, 0)
		b = binary.BigEndian.AppendUint16(b, uint16(ipv4HeaderLen+tcpLen+len(payload)))
		b = binary.BigEndian.AppendUint16(b, src.ipID)
		src.ipID++
		b = append(b, 0x40, 0, src.ttl, 6, 0, 0) // DF, TTL, TCP, checksum
		b = append(b, src.ip[12:]...)
		b = append(b, dst.ip[12:]...)
		binary.BigEndian.PutUint16(b[ipStart+10:], ^fold(sum16(b[ipStart:], 0)))
		pseudo = sum16(b[ipStart+12:ipStart+20], 0) + uint64(tcpLen+len(payload)) + 6
	}

	tcpStart := len(b)
	b = binary.BigEndian.AppendUint16(b, src.port)
	b = binary.BigEndian.AppendUint16(b, dst.port)
	b = binary.BigEndian.AppendUint32(b, s.seq)
	b = binary.BigEndian.AppendUint32(b, s.ack)
	b = append(b, byte(tcpLen/4)<<4, s.flags)
	if s.flags&tcpSYN != 0 {
		b = binary.BigEndian.AppendUint16(b, 64240) // unscaled in SYNs
	} else {
		b = binary.BigEndian.AppendUint16(b, src.window)
	}
	b = append(b, 0, 0, 0, 0) // checksum, urgent pointer
	tsval := uint32(s.t/1e6) + src.tsOffset
	tsecr := dst.lastTSval
	if s.flags == tcpSYN {
		tsecr = 0
	}
	src.lastTSval = tsval
	if s.flags&tcpSYN != 0 {
		mss := mssIPv4
		if c.v6 {
			mss = mssIPv6
		}
		b = append(b, 2, 4)
		b = binary.BigEndian.AppendUint16(b, uint16(mss))
		b = append(b, 4, 2, 8, 10)
		b = binary.BigEndian.AppendUint32(b, tsval)
		b = binary.BigEndian.AppendUint32(b, tsecr)
		b = append(b, 1, 3, 3, windowScale)
	} else {
		b = append(b, 1, 1, 8, 10)
		b = binary.BigEndian.AppendUint32(b, tsval)
		b = binary.BigEndian.AppendUint32(b, tsecr)
	}
	b = append(b, payload...)
	binary.BigEndian.PutUint16(b[tcpStart+16:], ^fold(sum16(b[tcpStart:], pseudo)))
	return b
}

// sum16 adds b as big-endian 16-bit words to acc, the Internet checksum's
// one's-complement sum before folding. It reads 8 bytes at a time: the
// checksum of every payload byte is the generator's hottest loop.
func sum16(b []byte, acc uint64) uint64 {
	var carry uint64
	for len(b) >= 32 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[8:]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[16:]), carry)
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b[24:]), carry)
		b = b[32:]
	}
	for len(b) >= 8 {
		acc, carry = bits.Add64(acc, binary.BigEndian.Uint64(b), carry)
		b = b[8:]
	}
	acc, carry = bits.Add64(acc, carry, 0)
	acc += carry
	var tail uint64
	for i := 0; i < len(b); i += 2 {
		w := uint64(b[i]) << 8
		if i+1 < len(b) {
			w |= uint64(b[i+1])
		}
		tail += w
	}
	acc, carry = bits.Add64(acc, tail, 0)
	return acc + carry
}

// fold reduces a 64-bit one's-complement sum to 16 bits.
func fold(acc uint64) uint16 {
	acc = acc>>32 + acc&0xffffffff
	acc = acc>>32 + acc&0xffffffff
	acc = acc>>16 + acc&0xffff
	acc = acc>>16 + acc&0xffff
	return uint16(acc)
}
