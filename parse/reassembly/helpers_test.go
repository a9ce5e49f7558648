package reassembly

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/apiwatch/apiwatch/capture"
)

// recorder is a Factory that records every Conn's calls: each direction as a
// string of its bytes with "(gap N)" markers, and a log of all calls in order.
type recorder struct {
	conns []*recConn
}

type recConn struct {
	flow    capture.Flow
	opened  int64
	stream  [2]strings.Builder
	log     []string
	closed  bool
	reason  CloseReason
	closeTS int64
	misuse  []string // calls that broke the contract
}

func (r *recorder) New(flow capture.Flow, ts int64) Conn {
	c := &recConn{flow: flow, opened: ts}
	r.conns = append(r.conns, c)
	return c
}

func (c *recConn) check(what string) {
	if c.closed {
		c.misuse = append(c.misuse, what+" after Close")
	}
}

func (c *recConn) Data(d Direction, b []byte, ts int64) {
	c.check("Data")
	if len(b) == 0 {
		c.misuse = append(c.misuse, "empty Data")
	}
	c.stream[d].Write(b)
	c.log = append(c.log, fmt.Sprintf("%s:%s", d, b))
}

func (c *recConn) Gap(d Direction, n int, ts int64) {
	c.check("Gap")
	if n <= 0 {
		c.misuse = append(c.misuse, fmt.Sprintf("Gap(%d)", n))
	}
	fmt.Fprintf(&c.stream[d], "(gap %d)", n)
	c.log = append(c.log, fmt.Sprintf("%s:(gap %d)", d, n))
}

func (c *recConn) Close(r CloseReason, ts int64) {
	c.check("Close")
	c.closed, c.reason, c.closeTS = true, r, ts
}

// summary renders a conn as "client|server|reason" for comparisons.
func (c *recConn) summary() string {
	return c.stream[ClientToServer].String() + "|" + c.stream[ServerToClient].String() + "|" + c.reason.String()
}

var (
	cli = capture.Flow{
		SrcIP: netip.MustParseAddr("10.0.0.1"), DstIP: netip.MustParseAddr("10.0.0.2"),
		SrcPort: 40000, DstPort: 80,
	}
	srv = cli.Reverse()
)

// pk builds a packet at ms milliseconds of capture time. flags is a string
// of S, A, F, R, P.
func pk(ms int64, f capture.Flow, flags string, seq, ack uint32, data string) *capture.Packet {
	var fl capture.TCPFlags
	for _, ch := range flags {
		fl |= map[rune]capture.TCPFlags{
			'S': capture.FlagSYN, 'A': capture.FlagACK, 'F': capture.FlagFIN,
			'R': capture.FlagRST, 'P': capture.FlagPSH,
		}[ch]
	}
	return &capture.Packet{Timestamp: ms * 1e6, Flow: f, Seq: seq, Ack: ack, Flags: fl, Payload: []byte(data)}
}

// handshake returns SYN, SYN-ACK, ACK for client ISN ci and server ISN si.
func handshake(ms int64, f capture.Flow, ci, si uint32) []*capture.Packet {
	return []*capture.Packet{
		pk(ms, f, "S", ci, 0, ""),
		pk(ms, f.Reverse(), "SA", si, ci+1, ""),
		pk(ms, f, "A", ci+1, si+1, ""),
	}
}

// run feeds pkts then CloseAll, twice on the same Assembler to prove that
// recycled conns and pages start clean, and returns the first run's
// recording and Stats.
func run(t *testing.T, cfg Config, pkts []*capture.Packet) (*recorder, Stats) {
	t.Helper()
	var recs [2]*recorder
	var stats Stats
	a := New(cfg, nil)
	for i := range recs {
		recs[i] = &recorder{}
		a.factory = recs[i]
		for _, p := range pkts {
			a.Packet(p)
		}
		end := int64(0)
		if len(pkts) > 0 {
			end = pkts[len(pkts)-1].Timestamp
		}
		a.CloseAll(end)
		if i == 0 {
			stats = a.Stats()
		}
		if a.buffered != 0 || len(a.conns) != 0 || a.nLinger != 0 {
			t.Fatalf("after CloseAll: %d bytes buffered, %d conns, %d lingering", a.buffered, len(a.conns), a.nLinger)
		}
		for _, c := range recs[i].conns {
			if !c.closed {
				t.Errorf("conn %v never closed", c.flow)
			}
			if len(c.misuse) > 0 {
				t.Errorf("conn %v: %v", c.flow, c.misuse)
			}
		}
	}
	if a, b := summaries(recs[0]), summaries(recs[1]); !slices.Equal(a, b) {
		t.Errorf("second run on the same Assembler differs:\n%q\n%q", a, b)
	}
	return recs[0], stats
}

func summaries(r *recorder) []string {
	var s []string
	for _, c := range r.conns {
		s = append(s, c.summary())
	}
	return s
}

func cat(parts ...[]*capture.Packet) []*capture.Packet { return slices.Concat(parts...) }
