package capture

// Link and sub-IP headers other than Ethernet and VLAN: BSD loopback, PPP,
// PPPoE, MPLS, NFLOG and 802.11.

// loopback decodes DLT_NULL / DLT_LOOP: a 4-byte address family, in the
// capturing host's byte order for NULL and network order for LOOP. Files get
// moved between machines, so both orders are tried: the families are small
// numbers, so the wrong order reads as a huge one.
func (d *Decoder) loopback(b []byte, p *Packet) Result {
	if len(b) < 4 {
		return d.drop(DropTruncated)
	}
	fam := le32(b)
	if fam > 0xffff {
		fam = be32(b)
	}
	switch fam {
	case 2: // AF_INET everywhere
		return d.ipv4(b[4:], p)
	case 10, 24, 28, 30: // AF_INET6: Linux, NetBSD/OpenBSD, FreeBSD, Darwin
		return d.ipv6(b[4:], p)
	}
	return d.skip(&d.stats.SkippedOther)
}

// PPP protocol numbers.
const (
	pppIPv4 = 0x0021
	pppIPv6 = 0x0057
)

func (d *Decoder) ppp(b []byte, p *Packet) Result {
	if len(b) >= 2 && b[0] == 0xff && b[1] == 0x03 { // HDLC address and control
		b = b[2:]
	}
	return d.pppProto(b, p)
}

// pppProto decodes the PPP protocol field and what it names. The field is
// one byte when protocol-field compression was negotiated (RFC 1661 §6.5):
// protocol numbers have an odd low byte and an even high byte, so an odd
// first byte is a compressed field.
func (d *Decoder) pppProto(b []byte, p *Packet) Result {
	if len(b) == 0 {
		return d.drop(DropTruncated)
	}
	proto, n := uint16(b[0]), 1
	if b[0]&1 == 0 {
		if len(b) < 2 {
			return d.drop(DropTruncated)
		}
		proto, n = be16(b), 2
	}
	b = b[n:]
	switch proto {
	case pppIPv4:
		return d.ipv4(b, p)
	case pppIPv6:
		return d.ipv6(b, p)
	}
	return d.skip(&d.stats.SkippedOther) // LCP, IPCP, compressed, …
}

// pppoe decodes a PPPoE session header (RFC 2516) and the PPP protocol field.
func (d *Decoder) pppoe(b []byte, p *Packet) Result {
	if len(b) < 7 {
		return d.drop(DropTruncated)
	}
	if b[0] != 0x11 || b[1] != 0 { // version 1, type 1, code 0 (session data)
		return d.drop(DropMalformedLink)
	}
	if n := int(be16(b[4:])); n >= 2 && 6+n < len(b) {
		b = b[:6+n] // Ethernet padding
	}
	return d.pppProto(b[6:], p)
}

// mpls walks a label stack; the payload type is not signalled, so after the
// bottom of stack it is guessed from the first nibble, as routers and
// Wireshark do.
func (d *Decoder) mpls(b []byte, p *Packet) Result {
	for labels := 0; ; labels++ {
		if labels == maxVLANTags*2 {
			return d.drop(DropMalformedLink)
		}
		if len(b) < 4 {
			return d.drop(DropTruncated)
		}
		bottom := b[2]&1 != 0
		b = b[4:]
		if bottom {
			break
		}
	}
	if len(b) == 0 {
		return d.drop(DropTruncated)
	}
	switch b[0] >> 4 {
	case 4:
		return d.ipv4(b, p)
	case 6:
		return d.ipv6(b, p)
	case 0:
		// A pseudowire control word (RFC 4385) then an Ethernet frame.
		if len(b) < 4 {
			return d.drop(DropTruncated)
		}
		return d.ethernet(b[4:], p)
	}
	return d.skip(&d.stats.SkippedOther)
}

// nflog decodes LINKTYPE_NFLOG: a 4-byte header (address family, version,
// resource id) then TLVs whose length and type are in the capturing host's
// byte order; the packet is the payload TLV.
func (d *Decoder) nflog(b []byte, p *Packet) Result {
	const tlvPayload = 9 // NFULA_PAYLOAD
	if len(b) < 4 {
		return d.drop(DropTruncated)
	}
	fam, q := b[0], b[4:]
	for len(q) >= 4 {
		n, typ := int(le16(q)), le16(q[2:])
		if n < 4 || n > len(q) { // written on a big-endian host?
			n, typ = int(be16(q)), be16(q[2:])
			if n < 4 || n > len(q) {
				return d.drop(DropMalformedLink)
			}
		}
		if typ&0x3fff == tlvPayload { // low bits: the flags are not ours
			v := q[4:n]
			switch fam {
			case 2:
				return d.ipv4(v, p)
			case 10:
				return d.ipv6(v, p)
			}
			return d.ipByVersion(v, p)
		}
		q = q[min(len(q), (n+3)&^3):] // TLVs are padded to 4 bytes
	}
	return d.skip(&d.stats.SkippedOther) // logged without the packet
}

// radiotap skips the radiotap header (its length is its third and fourth
// bytes, little-endian) in front of an 802.11 frame.
func (d *Decoder) radiotap(b []byte, p *Packet) Result {
	if len(b) < 8 {
		return d.drop(DropTruncated)
	}
	n := int(le16(b[2:]))
	if b[0] != 0 || n < 8 {
		return d.drop(DropMalformedLink)
	}
	if len(b) < n {
		return d.drop(DropTruncated)
	}
	return d.dot11(b[n:], p)
}

// dot11 decodes an unencrypted 802.11 data frame carrying LLC/SNAP. Best
// effort: management and control frames, null data and protected frames are
// skipped (a monitor cannot decrypt WPA traffic).
func (d *Decoder) dot11(b []byte, p *Packet) Result {
	if len(b) < 24 {
		return d.drop(DropTruncated)
	}
	fc0, fc1 := b[0], b[1]
	typ, sub := (fc0>>2)&3, fc0>>4
	if fc0&3 != 0 || typ != 2 || sub&0x04 != 0 || fc1&0x40 != 0 {
		return d.skip(&d.stats.SkippedOther)
	}
	hdr := 24
	if fc1&0x03 == 0x03 { // to and from DS: a fourth address
		hdr += 6
	}
	if sub&0x08 != 0 { // QoS data: QoS control, and HT control when Order is set
		hdr += 2
		if fc1&0x80 != 0 {
			hdr += 4
		}
	}
	if len(b) < hdr+8 {
		return d.drop(DropTruncated)
	}
	llc := b[hdr:]
	if llc[0] != 0xaa || llc[1] != 0xaa || llc[2] != 0x03 {
		return d.skip(&d.stats.SkippedOther)
	}
	return d.etherType(be16(llc[6:]), llc[8:], p)
}
