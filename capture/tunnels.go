package capture

// Tunnels that carry mirrored traffic: GRE (with ERSPAN), VXLAN, GENEVE,
// Teredo and GRE-in-UDP. IP-in-IP is handled in ipPayload.

// Well-known UDP ports of the tunnels decoded. Mirrors use the IANA ports;
// a tunnel on another port is counted as UDP.
const (
	portVXLAN     = 4789
	portGENEVE    = 6081
	portTeredo    = 3544
	portGREinUDP  = 4754 // RFC 8086
	portVXLANOld  = 8472 // Linux's default before the IANA port
	vxlanFlagVNI  = 0x08
	greEtherERSP2 = 0x88be // ERSPAN type I/II
	greEtherERSP3 = 0x22eb // ERSPAN type III
)

func (d *Decoder) udp(b []byte, p *Packet) Result {
	if len(b) < 8 {
		return d.drop(DropTruncated)
	}
	sport, dport := be16(b), be16(b[2:])
	payload := b[8:]
	if n := int(be16(b[4:])); n >= 8 && n < len(b) {
		payload = b[8:n]
	}
	switch {
	case dport == portVXLAN || dport == portVXLANOld:
		return d.vxlan(payload, p)
	case dport == portGENEVE:
		return d.geneve(payload, p)
	case dport == portGREinUDP:
		return d.gre(payload, p)
	case sport == portTeredo || dport == portTeredo:
		return d.teredo(payload, p)
	}
	return d.skip(&d.stats.SkippedUDP)
}

// vxlan decodes RFC 7348: flags (I set when the VNI is valid), 24-bit VNI,
// then an Ethernet frame.
func (d *Decoder) vxlan(b []byte, p *Packet) Result {
	if len(b) < 8 || b[0]&vxlanFlagVNI == 0 {
		return d.skip(&d.stats.SkippedUDP) // not VXLAN after all
	}
	if !d.enterTunnel(p) {
		return d.drop(DropTunnelDepth)
	}
	p.Flow.VNI = be32(b[4:]) >> 8
	return d.ethernet(b[8:], p)
}

// geneve decodes RFC 8926: version and option length, flags, the payload's
// Ethertype, 24-bit VNI, then options.
func (d *Decoder) geneve(b []byte, p *Packet) Result {
	if len(b) < 8 {
		return d.drop(DropTruncated)
	}
	if b[0]>>6 != 0 {
		return d.drop(DropMalformedTunnel)
	}
	n := 8 + int(b[0]&0x3f)*4
	if len(b) < n {
		return d.drop(DropTruncated)
	}
	if !d.enterTunnel(p) {
		return d.drop(DropTunnelDepth)
	}
	p.Flow.VNI = be32(b[4:]) >> 8
	return d.etherType(be16(b[2:]), b[n:], p)
}

// teredo decodes RFC 4380: optional authentication and origin indication
// headers, then an IPv6 packet. Anything else on the port is plain UDP
// (Teredo's own bubbles and qualification traffic included).
func (d *Decoder) teredo(b []byte, p *Packet) Result {
	for len(b) >= 2 && b[0] == 0 {
		switch b[1] {
		case 1: // authentication: id and auth lengths, id, auth, nonce, confirmation
			if len(b) < 4 {
				return d.skip(&d.stats.SkippedUDP)
			}
			n := 4 + int(b[2]) + int(b[3]) + 9
			if len(b) < n {
				return d.skip(&d.stats.SkippedUDP)
			}
			b = b[n:]
		case 0: // origin indication: port and address
			if len(b) < 8 {
				return d.skip(&d.stats.SkippedUDP)
			}
			b = b[8:]
		default:
			return d.skip(&d.stats.SkippedUDP)
		}
	}
	if len(b) < 40 || b[0]>>4 != 6 {
		return d.skip(&d.stats.SkippedUDP)
	}
	if !d.enterTunnel(p) {
		return d.drop(DropTunnelDepth)
	}
	return d.ipv6(b, p)
}

// GRE header flags (RFC 2784, RFC 2890).
const (
	greChecksum = 0x8000
	greRouting  = 0x4000
	greKey      = 0x2000
	greSeq      = 0x1000
	greVersion  = 0x0007
)

// gre decodes GRE version 0: optional checksum, key and sequence number, then
// a payload named by an Ethertype (IP, transparent Ethernet bridging, MPLS,
// ERSPAN). The key, which names the tunnel, goes into Flow.VNI.
func (d *Decoder) gre(b []byte, p *Packet) Result {
	if len(b) < 4 {
		return d.drop(DropTruncated)
	}
	flags, proto := be16(b), be16(b[2:])
	if flags&greVersion != 0 || flags&greRouting != 0 {
		// Version 1 is PPTP's enhanced GRE (PPP, often compressed);
		// source routing was deprecated by RFC 2784. Neither is seen on
		// mirrors.
		return d.skip(&d.stats.SkippedOther)
	}
	n := 4
	if flags&greChecksum != 0 {
		n += 4
	}
	var key uint32
	if flags&greKey != 0 {
		if len(b) < n+4 {
			return d.drop(DropTruncated)
		}
		key = be32(b[n:])
		n += 4
	}
	if flags&greSeq != 0 {
		n += 4
	}
	if len(b) < n {
		return d.drop(DropTruncated)
	}
	if !d.enterTunnel(p) {
		return d.drop(DropTunnelDepth)
	}
	if key != 0 {
		p.Flow.VNI = key
	}
	b = b[n:]
	switch proto {
	case greEtherERSP2:
		// Type II carries an 8-byte header and sets the sequence bit;
		// type I has neither.
		if flags&greSeq != 0 {
			if len(b) < 8 {
				return d.drop(DropTruncated)
			}
			if b[0]>>4 != 1 {
				return d.drop(DropMalformedTunnel)
			}
			b = b[8:]
		}
		return d.ethernet(b, p)
	case greEtherERSP3:
		// A 12-byte header, plus an 8-byte platform subheader when O is set.
		if len(b) < 12 {
			return d.drop(DropTruncated)
		}
		if b[0]>>4 != 2 {
			return d.drop(DropMalformedTunnel)
		}
		n := 12
		if b[11]&1 != 0 {
			n += 8
		}
		if len(b) < n {
			return d.drop(DropTruncated)
		}
		return d.ethernet(b[n:], p)
	}
	return d.etherType(proto, b, p)
}
