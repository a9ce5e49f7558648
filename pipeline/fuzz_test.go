package pipeline

import (
	"context"
	"io"
	"net"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/normalize"
	"github.com/apiwatch/apiwatch/parse/reassembly"
)

// memSource replays frames held in memory.
type memSource struct {
	frames [][]byte
	ts     []int64
	i      int
}

func (m *memSource) ReadPacket() ([]byte, capture.CaptureInfo, error) {
	if m.i >= len(m.frames) {
		return nil, capture.CaptureInfo{}, io.EOF
	}
	f := m.frames[m.i]
	ci := capture.CaptureInfo{Timestamp: m.ts[m.i], CaptureLength: len(f), Length: len(f), LinkType: layers.LinkTypeEthernet}
	m.i++
	return f, ci, nil
}

func (m *memSource) Close() error { return nil }

// segmentOp is the fuzz input's unit: which of four half-connections sends,
// with which flags, at which offset from where that direction's stream is
// expected to continue, and which payload. Offsets let the fuzzer produce
// retransmissions, overlaps, reordering and holes.
//
// Encoding: op byte (bits 0-1 half-connection, 2 SYN, 3 FIN, 4 RST, 5 ACK),
// signed offset byte, length byte, then that many payload bytes.
func framesFromFuzz(data []byte) *memSource {
	src := &memSource{}
	var cursor [4]uint32
	for i := range cursor {
		cursor[i] = uint32(i) * 0x40000000 // the fourth starts close to the wrap
		cursor[i] -= 100
	}
	ts := int64(1_700_000_000_000_000_000)
	for len(data) >= 3 {
		op, off, n := data[0], int8(data[1]), int(data[2])
		data = data[3:]
		if n > len(data) {
			n = len(data)
		}
		payload := data[:n]
		data = data[n:]
		half := int(op & 3)
		seq := cursor[half] + uint32(int32(off))
		if off >= 0 {
			cursor[half] = seq + uint32(n)
		}
		ack := cursor[half^1]
		src.frames = append(src.frames, tcpFrame(half, seq, ack, op, payload))
		ts += int64(op) * 1_000_000 // up to a quarter second between packets
		src.ts = append(src.ts, ts)
	}
	return src
}

func tcpFrame(half int, seq, ack uint32, op byte, payload []byte) []byte {
	client, server := net.IP{192, 0, 2, 1}, net.IP{192, 0, 2, 2}
	cport, sport := layers.TCPPort(40000+half/2), layers.TCPPort(80)
	ip := &layers.IPv4{Version: 4, TTL: 64, Protocol: layers.IPProtocolTCP, SrcIP: client, DstIP: server}
	tcp := &layers.TCP{SrcPort: cport, DstPort: sport, Seq: seq, Ack: ack, Window: 65535,
		SYN: op&4 != 0, FIN: op&8 != 0, RST: op&16 != 0, ACK: op&32 != 0}
	if half%2 == 1 {
		ip.SrcIP, ip.DstIP = server, client
		tcp.SrcPort, tcp.DstPort = sport, cport
	}
	eth := &layers.Ethernet{SrcMAC: net.HardwareAddr{2, 0, 0, 0, 0, 1}, DstMAC: net.HardwareAddr{2, 0, 0, 0, 0, 2}, EthernetType: layers.EthernetTypeIPv4}
	tcp.SetNetworkLayerForChecksum(ip)
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true},
		eth, ip, tcp, gopacket.Payload(payload)); err != nil {
		panic(err) // only reachable through a bug in this helper
	}
	return buf.Bytes()
}

// fuzzSeed encodes in-order segments of a connection's exchange.
func fuzzSeed(segs ...seg) []byte {
	var out []byte
	for _, s := range segs {
		for p := s.s; ; {
			n := min(len(p), 255)
			out = append(out, byte(s.half)|s.op, 0, byte(n))
			out = append(out, p[:n]...)
			p = p[n:]
			if len(p) == 0 {
				break
			}
		}
	}
	return out
}

// seg is one in-order segment of a seed: which half-connection, its flags, its payload.
type seg struct {
	half int
	op   byte
	s    string
}

const (
	opSYN = 4
	opFIN = 8
	opACK = 32
)

func FuzzPipeline(f *testing.F) {
	f.Add(fuzzSeed(
		seg{0, opSYN, ""}, seg{1, opSYN | opACK, ""},
		seg{0, opACK, "GET /a HTTP/1.1\r\nHost: x\r\n\r\nGET /b HTTP/1.1\r\nHost: x\r\n\r\n"},
		seg{1, opACK, "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhelloHTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nworld\r\n0\r\n\r\n"},
		seg{0, opFIN | opACK, ""}, seg{1, opFIN | opACK, ""},
	))
	f.Add(fuzzSeed(
		seg{2, opACK, "POST /login HTTP/1.1\r\nHost: y\r\nContent-Length: 11\r\n\r\nuser=a&pw=b"},
		seg{3, opACK, "HTTP/1.1 302 Found\r\nLocation: /\r\nSet-Cookie: s=1\r\nContent-Length: 0\r\n\r\n"},
		seg{1, opACK, "HTTP/1.1 200 OK\r\n\r\nclose-delimited body"},
	))
	f.Add(fuzzSeed(
		seg{0, opACK, "POST /a\xff/login?k\xfe=v HTTP/1.1\r\nHost: h\xc0\r\nUser-Agent: \xed\xa0\x80\r\nContent-Type: application/json\r\nContent-Length: 30\r\n\r\n{\"user\xff\":\"a\",\"password\":\"b\"}"},
		seg{1, opACK, "HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n{\"k\xff\": 1 }"},
	))
	f.Add([]byte{0, 0, 3, 'G', 'E', 'T', 0, 0x80, 5, ' ', '/', ' ', 'H', 'T', 1, 10, 4, 'H', 'T', 'T', 'P'})

	const bodyKeep = 1024
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) > 1<<16 {
			return
		}
		cfg := Config{Workers: 1}
		cfg.Reassembly = reassembly.Config{MaxConns: 2, MaxBufferedBytes: 8 << 10, MaxConnBufferedBytes: 2 << 10}
		cfg.Parse.HTTP = http1.Config{MaxHeaderBytes: 512, MaxHeaders: 8, BodyKeep: bodyKeep, MaxDecodedBytes: 4 << 10}
		var seen uint64
		norm := normalize.New(normalize.Config{})
		h := parse.HandlerFunc(func(tx *parse.Transaction) {
			seen++
			// Whatever the traffic, its event must encode: hostile bytes
			// must not turn into data loss downstream.
			if _, err := event.Marshal(nil, norm.Event(tx)); err != nil {
				t.Fatalf("event does not encode: %v", err)
			}
			if tx.Request == nil && tx.Response == nil {
				t.Fatal("transaction with neither request nor response")
			}
			for _, m := range []*http1.Message{tx.Request, tx.Response} {
				if m == nil {
					continue
				}
				if len(m.Body) > bodyKeep || len(m.Headers) > 8 || m.BodyLen < 0 || m.DecodedLen < -1 || m.End < m.Start {
					t.Fatalf("message out of bounds: body %d headers %d len %d decoded %d start %d end %d",
						len(m.Body), len(m.Headers), m.BodyLen, m.DecodedLen, m.Start, m.End)
				}
			}
		})
		st, err := Run(context.Background(), cfg, []capture.Source{framesFromFuzz(data)}, []string{"fuzz"},
			func(int) parse.Handler { return h })
		if err != nil {
			t.Fatal(err)
		}
		if st.Parse.Transactions != seen {
			t.Fatalf("stats count %d transactions, handler saw %d", st.Parse.Transactions, seen)
		}
	})
}
