package reassembly

import (
	"testing"

	"github.com/apiwatch/apiwatch/capture"
)

// Compare runs with:
//
//	go test ./parse/reassembly/ -run '^$' -bench . -benchmem -count 10 > new.txt
//	benchstat old.txt new.txt

// sink is a Factory whose Conns only count, so the benchmarks measure the
// Assembler.
type sink struct{ bytes, gaps, closes int }

func (s *sink) New(capture.Flow, int64) Conn        { return s }
func (s *sink) Data(_ Direction, b []byte, _ int64) { s.bytes += len(b) }
func (s *sink) Gap(Direction, int, int64)           { s.gaps++ }
func (s *sink) Close(CloseReason, int64)            { s.closes++ }

const benchConns, benchSeg = 1024, 1400

// benchFlows opens benchConns connections with a handshake and returns one
// reusable client data packet per connection.
func benchFlows(a *Assembler) []capture.Packet {
	payload := make([]byte, benchSeg)
	pkts := make([]capture.Packet, benchConns)
	for i := range pkts {
		f := flowPort(uint16(10000 + i))
		for _, p := range handshake(0, f, 1000, 5000) {
			a.Packet(p)
		}
		pkts[i] = capture.Packet{Flow: f, Seq: 1001, Ack: 5001, Flags: capture.FlagACK | capture.FlagPSH, Payload: payload}
	}
	return pkts
}

// BenchmarkInOrder: many interleaved connections, each segment in order.
func BenchmarkInOrder(b *testing.B) {
	s := &sink{}
	a := New(Config{}, s)
	pkts := benchFlows(a)
	b.SetBytes(benchSeg)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := &pkts[i%benchConns]
		p.Timestamp = int64(i) * 1000
		a.Packet(p)
		p.Seq += benchSeg
	}
	b.StopTimer()
	if s.bytes != b.N*benchSeg || s.gaps != 0 {
		b.Fatalf("delivered %d bytes, %d gaps", s.bytes, s.gaps)
	}
}

// BenchmarkReorder: every other segment of each connection arrives before
// its predecessor, so half the bytes are buffered and drained.
func BenchmarkReorder(b *testing.B) {
	s := &sink{}
	a := New(Config{}, s)
	pkts := benchFlows(a)
	b.SetBytes(benchSeg)
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		p := &pkts[i%benchConns]
		p.Timestamp = int64(i) * 1000
		if (i/benchConns)%2 == 0 {
			p.Seq += benchSeg // the later segment first
			a.Packet(p)
			p.Seq -= benchSeg
		} else {
			a.Packet(p)
			p.Seq += 2 * benchSeg
		}
	}
	b.StopTimer()
	a.CloseAll(int64(b.N) * 1000)
	// Only the segments still waiting for their predecessor at the end
	// leave gaps.
	if s.bytes != b.N*benchSeg || s.gaps > benchConns {
		b.Fatalf("delivered %d of %d bytes, %d gaps", s.bytes, b.N*benchSeg, s.gaps)
	}
}

// BenchmarkShortConns: one op is a whole connection (handshake, request,
// response, FINs), so opening, lingering and recycling are measured.
func BenchmarkShortConns(b *testing.B) {
	s := &sink{}
	a := New(Config{}, s)
	req, resp := make([]byte, 300), make([]byte, 1200)
	var pkts [8]capture.Packet
	b.SetBytes(int64(len(req) + len(resp)))
	b.ReportAllocs()
	b.ResetTimer()
	ts := int64(0)
	for i := range b.N {
		c := flowPort(uint16(1024 + i%60000))
		sv := c.Reverse()
		ci, si := uint32(i)*7919, uint32(i)*104729
		const ack, pa, fa = capture.FlagACK, capture.FlagACK | capture.FlagPSH, capture.FlagACK | capture.FlagFIN
		rq, rs := uint32(len(req)), uint32(len(resp))
		pkts = [8]capture.Packet{
			{Flow: c, Seq: ci, Flags: capture.FlagSYN},
			{Flow: sv, Seq: si, Ack: ci + 1, Flags: capture.FlagSYN | ack},
			{Flow: c, Seq: ci + 1, Ack: si + 1, Flags: ack},
			{Flow: c, Seq: ci + 1, Ack: si + 1, Flags: pa, Payload: req},
			{Flow: sv, Seq: si + 1, Ack: ci + 1 + rq, Flags: pa, Payload: resp},
			{Flow: c, Seq: ci + 1 + rq, Ack: si + 1 + rs, Flags: fa},
			{Flow: sv, Seq: si + 1 + rs, Ack: ci + 2 + rq, Flags: fa},
			{Flow: c, Seq: ci + 2 + rq, Ack: si + 2 + rs, Flags: ack},
		}
		for j := range pkts {
			ts += 1e5 // 0.1 ms
			pkts[j].Timestamp = ts
			a.Packet(&pkts[j])
		}
	}
	b.StopTimer()
	if s.closes != b.N {
		b.Fatalf("%d closes for %d conns", s.closes, b.N)
	}
}
