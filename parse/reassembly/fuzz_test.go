package reassembly

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"testing"

	"github.com/apiwatch/apiwatch/capture"
)

// ctrl hands out fuzz control bytes, then zeros.
type ctrl []byte

func (c *ctrl) byte() byte {
	if len(*c) == 0 {
		return 0
	}
	b := (*c)[0]
	*c = (*c)[1:]
	return b
}

func (c *ctrl) u32() uint32 {
	return uint32(c.byte()) | uint32(c.byte())<<8 | uint32(c.byte())<<16 | uint32(c.byte())<<24
}

// FuzzAssembler sends one client stream cut into segments, some dropped,
// duplicated, reordered or re-cut, with server ACKs at random points and a
// final ACK of the whole stream. Whatever happens, every delivered byte must
// be the stream's byte at its offset, and delivered plus gap bytes must reach
// exactly the end of the stream.
func FuzzAssembler(f *testing.F) {
	seed := func(isn uint32, flags byte, rest ...byte) []byte {
		b := binary.LittleEndian.AppendUint32(nil, isn)
		return append(append(b, flags), rest...)
	}
	f.Add(bytes.Repeat([]byte("0123456789"), 100), seed(0xFFFFFF00, 0, 1, 2, 3, 200, 0, 50, 7, 1, 9, 4))
	f.Add([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"), seed(7, 1, 3, 8, 2, 6, 5, 4, 3, 2, 1))
	f.Add(bytes.Repeat([]byte{0xAA}, 5000), seed(0x7FFFFFFF, 6, 255, 17, 128, 33, 64, 9, 32))
	f.Fuzz(func(t *testing.T, stream, control []byte) {
		if len(stream) > 1<<16 || len(control) > 1<<12 {
			return
		}
		c := ctrl(control)
		isn := c.u32()
		mode := c.byte()
		cfg := Config{}
		if mode&2 != 0 {
			cfg.MaxConnBufferedBytes = pageSize * (1 + int(mode>>4&3))
		}
		if mode&4 != 0 {
			cfg.MaxBufferedBytes = pageSize * 2
		}

		ms := int64(0)
		var pkts []*capture.Packet
		add := func(fl capture.Flow, flags string, seq, ack uint32, data []byte) {
			ms++
			p := pk(ms, fl, flags, seq, ack, "")
			p.Payload = data
			pkts = append(pkts, p)
		}
		data := func(off, end int) {
			add(cli, "PA", isn+1+uint32(off), 5001, stream[off:end])
		}
		if mode&1 == 0 { // with handshake; else midstream
			add(cli, "S", isn, 0, nil)
		}
		var held []int // a segment held back to be sent later: reordering
		for off := 0; off < len(stream); {
			end := min(len(stream), off+1+int(c.byte())*8)
			switch op := c.byte(); {
			case op < 24: // lost on the mirror
			case op < 48:
				data(off, end)
				data(off, end)
			case op < 80:
				held = append(held, off, end)
			case op < 96: // retransmitted with other boundaries
				s := max(0, off-int(c.byte()))
				data(s, min(len(stream), end+int(c.byte())))
			case op < 112:
				add(srv, "A", 5001, isn+1+uint32(int(c.u32())%(len(stream)+1)), nil)
			default:
				data(off, end)
			}
			if len(held) > 0 && c.byte() < 64 {
				data(held[0], held[1])
				held = held[2:]
			}
			off = end
		}
		for ; len(held) > 0; held = held[2:] {
			data(held[0], held[1])
		}
		if mode&8 != 0 {
			add(cli, "FA", isn+1+uint32(len(stream)), 5001, nil)
		}
		add(srv, "A", 5001, isn+1+uint32(len(stream)), nil)

		r := &recorder{}
		a := New(cfg, r)
		for _, p := range pkts {
			a.Packet(p)
		}
		a.CloseAll(ms)
		if len(r.conns) == 0 {
			if mode&1 == 0 {
				t.Fatal("no connection despite a SYN")
			}
			return
		}
		if len(r.conns) != 1 {
			t.Fatalf("%d connections", len(r.conns))
		}
		rc := r.conns[0]
		if len(rc.misuse) > 0 {
			t.Fatal(rc.misuse)
		}
		// Replay the log: total is delivered plus gap bytes, which must end
		// at the stream's end, so the stream started at len - total.
		type ev struct {
			gap  int
			data []byte
		}
		var evs []ev
		total := 0
		for _, l := range rc.log {
			rest, ok := bytes.CutPrefix([]byte(l), []byte("client:"))
			if !ok {
				t.Fatalf("server event %q", l)
			}
			var n int
			if _, err := fmt.Sscanf(string(rest), "(gap %d)", &n); err == nil && bytes.HasPrefix(rest, []byte("(gap ")) {
				evs = append(evs, ev{gap: n})
				total += n
			} else {
				evs = append(evs, ev{data: rest})
				total += len(rest)
			}
		}
		base := len(stream) - total
		if base < 0 || mode&1 == 0 && base != 0 {
			t.Fatalf("delivered+gaps = %d for a stream of %d (handshake %v)", total, len(stream), mode&1 == 0)
		}
		pos := base
		for _, e := range evs {
			if e.gap > 0 {
				pos += e.gap
				continue
			}
			if !bytes.Equal(e.data, stream[pos:pos+len(e.data)]) {
				t.Fatalf("bytes at %d differ: got %q want %q", pos, e.data, stream[pos:pos+len(e.data)])
			}
			pos += len(e.data)
		}
		s := a.Stats()
		if s.DeliveredBytes+s.GapBytes != uint64(total) {
			t.Fatalf("stats: %d delivered + %d gap, log: %d", s.DeliveredBytes, s.GapBytes, total)
		}
	})
}
