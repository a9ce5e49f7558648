package capture

import (
	"encoding/binary"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
)

// Frame builders for the tests: gopacket serializes the layers it knows;
// headers it cannot write (SLL, NFLOG, radiotap, …) are spelled out by hand.

const (
	testSeq = 1000
	testAck = 2000
	cliIP4  = "192.0.2.1"
	srvIP4  = "198.51.100.2"
	cliIP6  = "2001:db8::1"
	srvIP6  = "2001:db8::2"
)

func ser(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true}, ls...); err != nil {
		t.Fatalf("serialize: %v", err)
	}
	return append([]byte(nil), buf.Bytes()...)
}

// tcpSeg is a TCP header (Seq testSeq, Ack testAck, PSH|ACK) and payload.
func tcpSeg(t testing.TB, sport, dport uint16, payload string) []byte {
	return ser(t, &layers.TCP{SrcPort: layers.TCPPort(sport), DstPort: layers.TCPPort(dport), Seq: testSeq, Ack: testAck, PSH: true, ACK: true, Window: 1024}, gopacket.Payload(payload))
}

func ip4(t testing.TB, src, dst string, proto layers.IPProtocol, payload []byte) []byte {
	return ser(t, &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: proto, SrcIP: net.ParseIP(src).To4(), DstIP: net.ParseIP(dst).To4()}, gopacket.Payload(payload))
}

func ip6(t testing.TB, src, dst string, nh layers.IPProtocol, payload []byte) []byte {
	return ser(t, &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: nh, SrcIP: net.ParseIP(src), DstIP: net.ParseIP(dst)}, gopacket.Payload(payload))
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

func eth(t testing.TB, typ layers.EthernetType, payload []byte) []byte {
	return ser(t, &layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: typ}, gopacket.Payload(payload))
}

func dot1q(t testing.TB, id uint16, typ layers.EthernetType, payload []byte) []byte {
	return ser(t, &layers.Dot1Q{VLANIdentifier: id, Type: typ}, gopacket.Payload(payload))
}

// tag is a VLAN tag with an arbitrary TPID, then the payload: gopacket's
// Dot1Q writes only the inner part, the TPID is the previous header's type.
func ethTags(t testing.TB, tpids []uint16, ids []uint16, typ layers.EthernetType, payload []byte) []byte {
	b := eth(t, layers.EthernetType(tpids[0]), nil)[:12]
	b = binary.BigEndian.AppendUint16(b, tpids[0])
	for i, id := range ids {
		next := uint16(typ)
		if i+1 < len(tpids) {
			next = tpids[i+1]
		}
		b = binary.BigEndian.AppendUint16(b, id)
		b = binary.BigEndian.AppendUint16(b, next)
	}
	return append(b, payload...)
}

func udpDgram(t testing.TB, sport, dport uint16, payload []byte) []byte {
	return ser(t, &layers.UDP{SrcPort: layers.UDPPort(sport), DstPort: layers.UDPPort(dport)}, gopacket.Payload(payload))
}

func cat(parts ...[]byte) []byte {
	var b []byte
	for _, p := range parts {
		b = append(b, p...)
	}
	return b
}

func be16b(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
func be32b(v uint32) []byte { return binary.BigEndian.AppendUint32(nil, v) }
func le16b(v uint16) []byte { return binary.LittleEndian.AppendUint16(nil, v) }
func le32b(v uint32) []byte { return binary.LittleEndian.AppendUint32(nil, v) }
