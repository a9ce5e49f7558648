package capture

import (
	"bytes"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/internal/sharedpcaps"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

type decodeCase struct {
	name  string
	link  layers.LinkType
	frame []byte
	flow  Flow // want
	body  string
}

func flow4(vlan [2]uint16, vni uint32) Flow {
	return Flow{SrcIP: netip.MustParseAddr(cliIP4), DstIP: netip.MustParseAddr(srvIP4), SrcPort: 40000, DstPort: 80, VLAN: vlan, VNI: vni}
}

func flow6(vlan [2]uint16, vni uint32) Flow {
	return Flow{SrcIP: netip.MustParseAddr(cliIP6), DstIP: netip.MustParseAddr(srvIP6), SrcPort: 40000, DstPort: 80, VLAN: vlan, VNI: vni}
}

// decodeCases builds one valid frame per supported encapsulation, each
// carrying the TCP segment "GET /<name>".
func decodeCases(t testing.TB) []decodeCase {
	var cs []decodeCase
	seg := func(name string) []byte { return tcpSeg(t, 40000, 80, "GET /"+name) }
	v4 := func(name string) []byte { return ip4(t, cliIP4, srvIP4, layers.IPProtocolTCP, seg(name)) }
	v6 := func(name string) []byte { return ip6(t, cliIP6, srvIP6, layers.IPProtocolTCP, seg(name)) }
	add := func(name string, link layers.LinkType, frame []byte, fl Flow) {
		cs = append(cs, decodeCase{name, link, frame, fl, "GET /" + name})
	}
	none := [2]uint16{}
	eth4 := func(name string) []byte { return eth(t, layers.EthernetTypeIPv4, v4(name)) }

	add("eth-ipv4", layers.LinkTypeEthernet, eth4("eth-ipv4"), flow4(none, 0))
	add("eth-ipv6", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeIPv6, v6("eth-ipv6")), flow6(none, 0))
	add("vlan", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeDot1Q, dot1q(t, 100, layers.EthernetTypeIPv4, v4("vlan"))), flow4([2]uint16{100, 0}, 0))
	add("qinq-88a8", layers.LinkTypeEthernet, ethTags(t, []uint16{0x88a8, 0x8100}, []uint16{10, 20}, layers.EthernetTypeIPv4, v4("qinq-88a8")), flow4([2]uint16{10, 20}, 0))
	add("qinq-9100", layers.LinkTypeEthernet, ethTags(t, []uint16{0x9100, 0x8100}, []uint16{11, 21}, layers.EthernetTypeIPv6, v6("qinq-9100")), flow6([2]uint16{11, 21}, 0))
	add("qinq-stacked", layers.LinkTypeEthernet, ethTags(t, []uint16{0x8100, 0x8100, 0x8100}, []uint16{1, 2, 3}, layers.EthernetTypeIPv4, v4("qinq-stacked")), flow4([2]uint16{1, 2}, 0))
	add("mpls-ipv4", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeMPLSUnicast, cat(
		ser(t, &layers.MPLS{Label: 100, TTL: 64}), ser(t, &layers.MPLS{Label: 200, StackBottom: true, TTL: 64}), v4("mpls-ipv4"))), flow4(none, 0))
	add("mpls-ipv6", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeMPLSUnicast, cat(
		ser(t, &layers.MPLS{Label: 100, StackBottom: true, TTL: 64}), v6("mpls-ipv6"))), flow6(none, 0))
	add("mpls-pw-eth", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeMPLSUnicast, cat(
		ser(t, &layers.MPLS{Label: 100, StackBottom: true, TTL: 64}), be32b(0), eth4("mpls-pw-eth"))), flow4(none, 0))
	add("pppoe", layers.LinkTypeEthernet, eth(t, layers.EthernetTypePPPoESession, ser(t,
		&layers.PPPoE{Version: 1, Type: 1, Code: layers.PPPoECodeSession, SessionId: 7},
		&layers.PPP{PPPType: layers.PPPTypeIPv4}, gopacket.Payload(v4("pppoe")))), flow4(none, 0))
	{
		b := v4("pppoe-pfc") // one-byte protocol field
		add("pppoe-pfc", layers.LinkTypeEthernet, eth(t, layers.EthernetTypePPPoESession, cat(
			[]byte{0x11, 0, 0, 7}, be16b(uint16(len(b)+1)), []byte{0x21}, b)), flow4(none, 0))
	}
	{
		b := cat([]byte{0xaa, 0xaa, 0x03, 0, 0, 0}, be16b(0x0800), v4("llc-snap"))
		add("llc-snap", layers.LinkTypeEthernet, cat(macB, macA, be16b(uint16(len(b))), b), flow4(none, 0))
	}
	add("sll", layers.LinkTypeLinuxSLL, cat(be16b(0), be16b(1), be16b(6), macA, []byte{0, 0}, be16b(0x86dd), v6("sll")), flow6(none, 0))
	add("sll2", layers.LinkTypeLinuxSLL2, cat(be16b(0x0800), be16b(0), be32b(3), be16b(1), []byte{0, 6}, macA, []byte{0, 0}, v4("sll2")), flow4(none, 0))
	add("raw-101", layers.LinkTypeRaw, v4("raw-101"), flow4(none, 0))
	add("raw-12", 12, v6("raw-12"), flow6(none, 0))
	add("raw-14", 14, v4("raw-14"), flow4(none, 0))
	add("ipv4-228", layers.LinkTypeIPv4, v4("ipv4-228"), flow4(none, 0))
	add("ipv6-229", layers.LinkTypeIPv6, v6("ipv6-229"), flow6(none, 0))
	add("null-le-inet", layers.LinkTypeNull, cat(le32b(2), v4("null-le-inet")), flow4(none, 0))
	add("null-be-inet", layers.LinkTypeNull, cat(be32b(2), v4("null-be-inet")), flow4(none, 0))
	for _, fam := range []uint32{10, 24, 28, 30} {
		name := fmt.Sprintf("null-inet6-%d", fam)
		add(name, layers.LinkTypeNull, cat(le32b(fam), v6(name)), flow6(none, 0))
		name = fmt.Sprintf("loop-inet6-%d", fam)
		add(name, layers.LinkTypeLoop, cat(be32b(fam), v6(name)), flow6(none, 0))
	}
	add("chdlc", layers.LinkTypeC_HDLC, cat([]byte{0x0f, 0}, be16b(0x0800), v4("chdlc")), flow4(none, 0))
	add("ppp", layers.LinkTypePPP_HDLC, cat([]byte{0xff, 0x03}, be16b(0x0057), v6("ppp")), flow6(none, 0))
	{
		b := v4("nflog")
		pad := make([]byte, (4-len(b)%4)%4)
		add("nflog", 239, cat([]byte{2, 0, 0, 0},
			le16b(8), le16b(1), []byte{0x08, 0x00, 3, 0}, // NFULA_PACKET_HDR
			le16b(uint16(4+len(b))), le16b(9), b, pad), flow4(none, 0))
		add("nflog-be", 239, cat([]byte{10, 0, 0, 0},
			be16b(8), be16b(1), []byte{0x86, 0xdd, 3, 0},
			be16b(uint16(4+40+len(seg("nflog-be")))), be16b(9), v6("nflog-be")), flow6(none, 0))
	}
	{
		radiotap := cat([]byte{0, 0}, le16b(12), le32b(0x00000002), []byte{0x10, 0, 0, 0})           // flags field: FCS present
		dot11 := cat([]byte{0x88, 0x02}, []byte{0, 0}, macA, macB, macA, []byte{0, 0}, []byte{0, 0}) // QoS data, from DS
		llc := cat([]byte{0xaa, 0xaa, 0x03, 0, 0, 0}, be16b(0x0800))
		add("radiotap-80211", layers.LinkTypeIEEE80211Radio, cat(radiotap, dot11, llc, v4("radiotap-80211"), []byte{1, 2, 3, 4}), flow4(none, 0))
	}
	// Tunnels.
	gre := func(l *layers.GRE, inner []byte) []byte {
		return ip4(t, "203.0.113.1", "203.0.113.2", layers.IPProtocolGRE, cat(ser(t, l), inner))
	}
	add("gre-key-ipv4", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeIPv4, gre(&layers.GRE{KeyPresent: true, Key: 77, Protocol: layers.EthernetTypeIPv4}, v4("gre-key-ipv4"))), flow4(none, 77))
	add("gre-csum-ipv6", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeIPv4, gre(&layers.GRE{ChecksumPresent: true, Protocol: layers.EthernetTypeIPv6}, v6("gre-csum-ipv6"))), flow6(none, 0))
	add("gre-teb-vlan", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeDot1Q, dot1q(t, 5, layers.EthernetTypeIPv4,
		gre(&layers.GRE{KeyPresent: true, Key: 9, SeqPresent: true, Seq: 1, Protocol: layers.EthernetTypeTransparentEthernetBridging},
			eth(t, layers.EthernetTypeDot1Q, dot1q(t, 300, layers.EthernetTypeIPv4, v4("gre-teb-vlan")))))), flow4([2]uint16{300, 0}, 9))
	add("erspan2", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeIPv4, gre(&layers.GRE{SeqPresent: true, Seq: 5, Protocol: layers.EthernetTypeERSPAN},
		cat([]byte{0x10, 0x00, 0x00, 0x01, 0, 0, 0, 0}, eth4("erspan2")))), flow4(none, 0))
	add("erspan1", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeIPv4, gre(&layers.GRE{Protocol: layers.EthernetTypeERSPAN}, eth4("erspan1"))), flow4(none, 0))
	add("erspan3", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeIPv4, gre(&layers.GRE{SeqPresent: true, Seq: 5, Protocol: 0x22eb},
		cat([]byte{0x20, 0x00, 0x00, 0x01}, be32b(12345), []byte{0, 0, 0, 1}, make([]byte, 8), eth4("erspan3")))), flow4(none, 0))
	add("gre-mpls", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeIPv4, gre(&layers.GRE{Protocol: layers.EthernetTypeMPLSUnicast},
		cat(ser(t, &layers.MPLS{Label: 1, StackBottom: true, TTL: 9}), v4("gre-mpls")))), flow4(none, 0))
	add("ipip", layers.LinkTypeRaw, ip4(t, "203.0.113.1", "203.0.113.2", layers.IPProtocolIPv4, v4("ipip")), flow4(none, 0))
	add("6in4", layers.LinkTypeRaw, ip4(t, "203.0.113.1", "203.0.113.2", layers.IPProtocolIPv6, v6("6in4")), flow6(none, 0))
	vxlan := func(vni uint32, inner []byte) []byte {
		return ip4(t, "203.0.113.1", "203.0.113.2", layers.IPProtocolUDP, udpDgram(t, 51000, 4789, cat(ser(t, &layers.VXLAN{ValidIDFlag: true, VNI: vni}), inner)))
	}
	add("vxlan", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeDot1Q, dot1q(t, 5, layers.EthernetTypeIPv4, vxlan(42, eth4("vxlan")))), flow4(none, 42))
	add("vxlan-inner-vlan", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeDot1Q, dot1q(t, 5, layers.EthernetTypeIPv4,
		vxlan(43, eth(t, layers.EthernetTypeDot1Q, dot1q(t, 7, layers.EthernetTypeIPv6, v6("vxlan-inner-vlan")))))), flow6([2]uint16{7, 0}, 43))
	geneve := func(opts []byte, proto uint16, vni uint32, inner []byte) []byte {
		h := cat([]byte{byte(len(opts) / 4), 0}, be16b(proto), be32b(vni<<8), opts)
		return ip6(t, "2001:db8:ffff::1", "2001:db8:ffff::2", layers.IPProtocolUDP, udpDgram(t, 51000, 6081, cat(h, inner)))
	}
	add("geneve-eth", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeIPv6, geneve(nil, 0x6558, 99, eth4("geneve-eth"))), flow4(none, 99))
	add("geneve-opts-ip", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeIPv6, geneve(make([]byte, 8), 0x86dd, 100, v6("geneve-opts-ip"))), flow6(none, 100))
	teredo := func(hdr, inner []byte) []byte {
		return ip4(t, "203.0.113.1", "203.0.113.2", layers.IPProtocolUDP, udpDgram(t, 3544, 51000, cat(hdr, inner)))
	}
	add("teredo", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeIPv4, teredo(nil, v6("teredo"))), flow6(none, 0))
	add("teredo-origin-auth", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeIPv4, teredo(
		cat([]byte{0, 1, 2, 1, 'i', 'd', 'a'}, make([]byte, 9), []byte{0, 0, 1, 2, 3, 4, 5, 6}), v6("teredo-origin-auth"))), flow6(none, 0))
	// IPv6 extension headers, with an atomic fragment.
	{
		ext := cat([]byte{60, 0}, make([]byte, 6), // hop-by-hop → dest opts
			[]byte{44, 1}, make([]byte, 14), // dest opts (16 bytes) → fragment
			[]byte{6, 0, 0, 0}, be32b(0xabcd)) // atomic fragment → TCP
		add("ipv6-ext-atomic", layers.LinkTypeRaw, ip6(t, cliIP6, srvIP6, layers.IPProtocolIPv6HopByHop, cat(ext, seg("ipv6-ext-atomic"))), flow6(none, 0))
	}
	// IPv4 quirks: TSO total length 0, Ethernet padding, a bad checksum.
	{
		b := v4("tso-len-0")
		b[2], b[3] = 0, 0
		add("tso-len-0", layers.LinkTypeRaw, b, flow4(none, 0))
		b = eth4("eth-padding")
		add("eth-padding", layers.LinkTypeEthernet, append(b, make([]byte, 64)...), flow4(none, 0))
		b = eth4("bad-checksum")
		b[14+10], b[14+11] = 0xde, 0xad
		add("bad-checksum", layers.LinkTypeEthernet, b, flow4(none, 0))
	}
	return cs
}

func TestDecode(t *testing.T) {
	d := NewDecoder(DecoderConfig{})
	f := func(c decodeCase) {
		t.Helper()
		for round := range 2 { // the second round proves per-frame state is reset
			var p Packet
			p.Flow.VNI, p.Payload = 12345, []byte("stale")
			if r := d.Decode(c.frame, c.link, 42, &p); r != ResultTCP {
				t.Fatalf("%s: Decode = %v (last drop %v), want tcp", c.name, r, d.LastDrop())
			}
			if p.Flow != c.flow {
				t.Errorf("%s round %d: flow %v, want %v", c.name, round, p.Flow, c.flow)
			}
			if string(p.Payload) != c.body || p.Seq != testSeq || p.Ack != testAck || p.Flags != FlagPSH|FlagACK || p.Timestamp != 42 {
				t.Errorf("%s: got payload %q seq %d ack %d flags %b ts %d", c.name, p.Payload, p.Seq, p.Ack, p.Flags, p.Timestamp)
			}
		}
	}
	cases := decodeCases(t)
	for _, c := range cases {
		f(c)
	}
	s := d.Stats()
	if s.TCP != uint64(2*len(cases)) || s.Dropped() != 0 {
		t.Errorf("stats: %+v", s)
	}
}

func TestDecodeNotTCP(t *testing.T) {
	f := func(name string, link layers.LinkType, frame []byte, want Result, counter func(*Stats) uint64, wantDrop DropReason) {
		t.Helper()
		d := NewDecoder(DecoderConfig{})
		var p Packet
		r := d.Decode(frame, link, 0, &p)
		s := d.Stats()
		if r != want || counter(&s) != 1 {
			t.Errorf("%s: Decode = %v, stats %+v", name, r, s)
		}
		if r == ResultDropped && d.LastDrop() != wantDrop {
			t.Errorf("%s: drop reason %v, want %v", name, d.LastDrop(), wantDrop)
		}
	}
	udp := func(s *Stats) uint64 { return s.SkippedUDP }
	icmp := func(s *Stats) uint64 { return s.SkippedICMP }
	arp := func(s *Stats) uint64 { return s.SkippedARP }
	other := func(s *Stats) uint64 { return s.SkippedOther }
	drop := func(r DropReason) func(*Stats) uint64 { return func(s *Stats) uint64 { return s.Drops[r] } }

	f("udp", layers.LinkTypeRaw, ip4(t, cliIP4, srvIP4, layers.IPProtocolUDP, udpDgram(t, 5353, 53, []byte("q"))), ResultSkipped, udp, 0)
	f("vxlan-without-I", layers.LinkTypeRaw, ip4(t, cliIP4, srvIP4, layers.IPProtocolUDP, udpDgram(t, 1, 4789, make([]byte, 8))), ResultSkipped, udp, 0)
	f("teredo-bubble", layers.LinkTypeRaw, ip4(t, cliIP4, srvIP4, layers.IPProtocolUDP, udpDgram(t, 3544, 1, []byte{0, 0, 1, 2, 3, 4, 5, 6})), ResultSkipped, udp, 0)
	f("icmp", layers.LinkTypeRaw, ip4(t, cliIP4, srvIP4, layers.IPProtocolICMPv4, []byte{8, 0, 0, 0}), ResultSkipped, icmp, 0)
	f("icmpv6", layers.LinkTypeRaw, ip6(t, cliIP6, srvIP6, layers.IPProtocolICMPv6, []byte{128, 0, 0, 0}), ResultSkipped, icmp, 0)
	f("arp", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeARP, make([]byte, 28)), ResultSkipped, arp, 0)
	f("lldp", layers.LinkTypeEthernet, eth(t, layers.EthernetTypeLinkLayerDiscovery, make([]byte, 28)), ResultSkipped, other, 0)
	f("stp-llc", layers.LinkTypeEthernet, cat(macB, macA, be16b(38), []byte{0x42, 0x42, 0x03}, make([]byte, 35)), ResultSkipped, other, 0)
	f("sctp", layers.LinkTypeRaw, ip4(t, cliIP4, srvIP4, layers.IPProtocolSCTP, make([]byte, 12)), ResultSkipped, other, 0)
	f("unsupported-link", layers.LinkTypeFDDI, make([]byte, 64), ResultDropped, drop(DropUnsupportedLink), DropUnsupportedLink)
	f("ip-version-5", layers.LinkTypeRaw, cat([]byte{0x55}, make([]byte, 40)), ResultDropped, drop(DropMalformedIP), DropMalformedIP)
	f("ihl-4", layers.LinkTypeIPv4, cat([]byte{0x44}, make([]byte, 40)), ResultDropped, drop(DropMalformedIP), DropMalformedIP)
	{
		b := tcpSeg(t, 1, 2, "x")
		b[12] = 0x40 // data offset 4 words
		f("tcp-offset-4", layers.LinkTypeRaw, ip4(t, cliIP4, srvIP4, layers.IPProtocolTCP, b), ResultDropped, drop(DropMalformedTCP), DropMalformedTCP)
	}
	{
		frag := cat([]byte{6, 0}, be16b(8<<3|1), be32b(1)) // offset 8, more fragments
		f("ipv6-fragment", layers.LinkTypeRaw, ip6(t, cliIP6, srvIP6, layers.IPProtocolIPv6Fragment, cat(frag, make([]byte, 16))), ResultDropped, drop(DropIPv6Fragment), DropIPv6Fragment)
	}
	{
		// Five nested IP-in-IP headers exceed maxTunnelDepth.
		b := ip4(t, cliIP4, srvIP4, layers.IPProtocolTCP, tcpSeg(t, 1, 2, "deep"))
		for range maxTunnelDepth + 1 {
			b = ip4(t, cliIP4, srvIP4, layers.IPProtocolIPv4, b)
		}
		f("tunnel-depth", layers.LinkTypeRaw, b, ResultDropped, drop(DropTunnelDepth), DropTunnelDepth)
	}
	f("80211-protected", layers.LinkTypeIEEE802_11, cat([]byte{0x08, 0x42}, make([]byte, 40)), ResultSkipped, other, 0)
	f("80211-beacon", layers.LinkTypeIEEE802_11, cat([]byte{0x80, 0x00}, make([]byte, 40)), ResultSkipped, other, 0)
	f("truncated-eth", layers.LinkTypeEthernet, make([]byte, 13), ResultDropped, drop(DropTruncated), DropTruncated)
}

// fragments4 splits an IPv4 TCP packet into fragments of size bytes of
// payload (a multiple of 8), serialized with gopacket.
func fragments4(t testing.TB, id uint16, payload []byte, size int) [][]byte {
	var out [][]byte
	for off := 0; off < len(payload); off += size {
		end := min(off+size, len(payload))
		ip := &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: id, Protocol: layers.IPProtocolTCP,
			SrcIP: netip.MustParseAddr(cliIP4).AsSlice(), DstIP: netip.MustParseAddr(srvIP4).AsSlice(), FragOffset: uint16(off / 8)}
		if end < len(payload) {
			ip.Flags = layers.IPv4MoreFragments
		}
		out = append(out, ser(t, ip, gopacket.Payload(payload[off:end])))
	}
	return out
}

func TestDecodeIPv4Fragments(t *testing.T) {
	body := "GET /" + string(bytes.Repeat([]byte("fragmented/"), 20))
	seg := tcpSeg(t, 40000, 80, body)
	frags := fragments4(t, 7, seg, 64)
	sec := int64(time.Second)

	t.Run("reassembled", func(t *testing.T) {
		d := NewDecoder(DecoderConfig{})
		var p Packet
		// Out of order: the last fragment first.
		order := append([][]byte{frags[len(frags)-1]}, frags[:len(frags)-1]...)
		for i, fr := range order {
			r := d.Decode(fr, layers.LinkTypeRaw, int64(i), &p)
			if i < len(order)-1 && r != ResultFragment {
				t.Fatalf("fragment %d: %v", i, r)
			}
			if i == len(order)-1 && r != ResultTCP {
				t.Fatalf("last fragment: %v (drop %v)", r, d.LastDrop())
			}
		}
		if string(p.Payload) != body || p.Flow != flow4([2]uint16{}, 0) {
			t.Errorf("reassembled %v %q", p.Flow, p.Payload)
		}
		if s := d.Stats(); s.Reassembled != 1 || s.Fragments != uint64(len(frags)) {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("timeout", func(t *testing.T) {
		d := NewDecoder(DecoderConfig{})
		var p Packet
		d.Decode(frags[0], layers.LinkTypeRaw, 0, &p)
		// The rest arrives too late: the first is forgotten, so the
		// datagram never completes.
		for _, fr := range frags[1:] {
			if r := d.Decode(fr, layers.LinkTypeRaw, 31*sec, &p); r == ResultTCP {
				t.Fatal("datagram completed with an expired fragment")
			}
		}
		if s := d.Stats(); s.Drops[DropFragmentTimeout] != 1 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("overflow", func(t *testing.T) {
		d := NewDecoder(DecoderConfig{MaxFragmentLists: 2})
		var p Packet
		for id := range uint16(3) {
			fr := fragments4(t, 100+id, seg, 64)[0]
			want := ResultFragment
			if id == 2 {
				want = ResultDropped
			}
			if r := d.Decode(fr, layers.LinkTypeRaw, sec, &p); r != want {
				t.Errorf("datagram %d: %v, want %v", id, r, want)
			}
		}
		if s := d.Stats(); s.Drops[DropFragmentOverflow] != 1 {
			t.Errorf("stats %+v", s)
		}
	})
	t.Run("overlap", func(t *testing.T) {
		d := NewDecoder(DecoderConfig{})
		var p Packet
		d.Decode(frags[0], layers.LinkTypeRaw, 0, &p)
		// Bytes [8,72) overlap frags[0]'s [0,64) with different extent.
		bad := ser(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Id: 7, Protocol: layers.IPProtocolTCP, Flags: layers.IPv4MoreFragments, FragOffset: 1,
			SrcIP: netip.MustParseAddr(cliIP4).AsSlice(), DstIP: netip.MustParseAddr(srvIP4).AsSlice()}, gopacket.Payload(seg[8:72]))
		if r := d.Decode(bad, layers.LinkTypeRaw, 0, &p); r != ResultDropped || d.LastDrop() != DropFragmentInvalid {
			t.Errorf("overlap: %v %v", r, d.LastDrop())
		}
	})
}

// TestDecodeHostile feeds every prefix of every valid frame, and every
// single-byte corruption of the headers, to one decoder: none may panic, and
// no result may point outside the frame.
func TestDecodeHostile(t *testing.T) {
	d := NewDecoder(DecoderConfig{})
	var p Packet
	for _, c := range decodeCases(t) {
		for n := range len(c.frame) {
			d.Decode(c.frame[:n], c.link, 0, &p)
		}
		buf := make([]byte, len(c.frame))
		for i := range min(len(c.frame), 128) {
			for _, v := range []byte{0x00, 0xff, c.frame[i] ^ 0x80} {
				copy(buf, c.frame)
				buf[i] = v
				d.Decode(buf, c.link, 0, &p)
			}
		}
	}
	s := d.Stats()
	if s.Drops[DropTruncated] == 0 {
		t.Errorf("no truncation counted: %+v", s)
	}
}

func BenchmarkDecode(b *testing.B) {
	cases := map[string]decodeCase{}
	for _, c := range decodeCases(b) {
		cases[c.name] = c
	}
	for _, name := range []string{"eth-ipv4", "vlan", "eth-ipv6", "qinq-88a8", "vxlan", "gre-key-ipv4"} {
		c := cases[name]
		b.Run(name, func(b *testing.B) {
			d := NewDecoder(DecoderConfig{})
			var p Packet
			b.SetBytes(int64(len(c.frame)))
			b.ReportAllocs()
			for b.Loop() {
				if d.Decode(c.frame, c.link, 1, &p) != ResultTCP {
					b.Fatal("not decoded")
				}
			}
		})
	}
}

// BenchmarkDecodeCorpus reads and decodes a real capture (mixed traffic,
// VLAN, MPLS, PPPoE, IPv6) from memory-cached disk, as `apiwatch analyze`
// does. Compare runs with benchstat:
//
//	go test -run '^$' -bench DecodeCorpus -count 10 ./capture/ > new.txt
func BenchmarkDecodeCorpus(b *testing.B) {
	path := filepath.Join(sharedpcaps.Root(b), "other/arkime-arkime_synthetic/input.pcap")
	fi, err := os.Stat(path)
	if err != nil {
		b.Skip(err)
	}
	b.SetBytes(fi.Size())
	b.ReportAllocs()
	d := NewDecoder(DecoderConfig{})
	var p Packet
	for b.Loop() {
		src, err := OpenFile(path)
		if err != nil {
			b.Fatal(err)
		}
		for {
			data, ci, err := src.ReadPacket()
			if err != nil {
				break
			}
			d.Decode(data, ci.LinkType, ci.Timestamp, &p)
		}
		src.Close()
	}
	b.ReportMetric(float64(d.Stats().Packets)/float64(b.N), "packets/op")
}
