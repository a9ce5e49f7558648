package reassembly

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/capture"
)

// Client ISN 1000, server ISN 5000: client byte k is at 1001+k, server byte
// k at 5001+k. Data packets acknowledge nothing new unless a case says so.
func cd(ms int64, off uint32, data string) *capture.Packet {
	return pk(ms, cli, "PA", 1001+off, 5001, data)
}
func sd(ms int64, off uint32, data string) *capture.Packet {
	return pk(ms, srv, "PA", 5001+off, 1001, data)
}
func cfin(ms int64, off, ackOff uint32) *capture.Packet {
	return pk(ms, cli, "FA", 1001+off, 5001+ackOff, "")
}
func sfin(ms int64, off, ackOff uint32) *capture.Packet {
	return pk(ms, srv, "FA", 5001+off, 1001+ackOff, "")
}

// sack is the server acknowledging client bytes up to off.
func sack(ms int64, off uint32) *capture.Packet { return pk(ms, srv, "A", 5001, 1001+off, "") }

func flowPort(port uint16) capture.Flow {
	f := cli
	f.SrcPort = port
	return f
}

func TestAssembler(t *testing.T) {
	hs := handshake(0, cli, 1000, 5000)
	f := func(name string, cfg Config, pkts []*capture.Packet, want []string, check func(t *testing.T, r *recorder, s Stats)) {
		t.Run(name, func(t *testing.T) {
			t.Helper()
			r, s := run(t, cfg, pkts)
			if got := summaries(r); !slices.Equal(got, want) {
				t.Errorf("got  %q\nwant %q", got, want)
			}
			if check != nil {
				check(t, r, s)
			}
		})
	}
	stat := func(name string, got, want uint64) func(t *testing.T) {
		return func(t *testing.T) {
			t.Helper()
			if got != want {
				t.Errorf("%s = %d, want %d", name, got, want)
			}
		}
	}

	f("in order, FIN both ways", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hello "), cd(2, 6, "world"), sd(3, 0, "ok"), cfin(4, 11, 2), sfin(5, 2, 12),
	}), []string{"hello world|ok|fin"}, func(t *testing.T, r *recorder, s Stats) {
		c := r.conns[0]
		if c.flow != cli || c.closeTS != 5e6 {
			t.Errorf("flow %v closed at %d, want %v at 5ms", c.flow, c.closeTS, cli)
		}
		stat("delivered", s.DeliveredBytes, 13)(t)
		stat("closed fin", s.Closed[CloseFIN], 1)(t)
		stat("gaps", s.Gaps, 0)(t)
		stat("active", s.ConnsActive, 0)(t)
	})

	f("reorder", Config{}, cat(hs, []*capture.Packet{
		cd(1, 6, "wor"), cd(2, 0, "hel"), cd(3, 9, "ld"), cd(4, 3, "lo "),
	}), []string{"hello world||end"}, func(t *testing.T, r *recorder, s Stats) {
		stat("out of order", s.OutOfOrderSegments, 2)(t)
		stat("delivered", s.DeliveredBytes, 11)(t)
	})

	f("duplicates", Config{}, cat(hs, []*capture.Packet{
		cd(1, 6, "wor"), cd(1, 6, "wor"), cd(2, 0, "hel"), cd(2, 0, "hel"), cd(3, 3, "lo "), cd(4, 6, "wor"),
	}), []string{"hello wor||end"}, func(t *testing.T, r *recorder, s Stats) {
		stat("retransmitted", s.RetransmittedSegments, 2)(t)
		stat("overlaps", s.Overlaps, 1)(t)
		stat("overlaps differ", s.OverlapsDiffer, 0)(t)
	})

	f("overlap: first received wins", Config{}, cat(hs, []*capture.Packet{
		cd(1, 6, "wor"), cd(2, 6, "XYZld"), cd(3, 0, "hello "),
	}), []string{"hello world||end"}, func(t *testing.T, r *recorder, s Stats) {
		stat("overlaps", s.Overlaps, 1)(t)
		stat("overlap bytes", s.OverlapBytes, 3)(t)
		stat("overlaps differ", s.OverlapsDiffer, 1)(t)
	})

	f("in-order segment overlapping buffered bytes", Config{}, cat(hs, []*capture.Packet{
		cd(1, 6, "wor"), cd(2, 0, "hello XYZ"),
	}), []string{"hello wor||end"}, stat2(func(s Stats) (uint64, uint64) { return s.OverlapsDiffer, 1 }))

	f("partial retransmission trimmed", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hello "), cd(2, 3, "lo world"),
	}), []string{"hello world||end"}, func(t *testing.T, r *recorder, s Stats) {
		stat("retransmitted bytes", s.RetransmittedBytes, 3)(t)
		stat("retransmitted segments", s.RetransmittedSegments, 0)(t)
	})

	var isn uint32 = 0xFFFFFFF8 // data starts 7 bytes before the wrap
	f("sequence wrap-around", Config{}, cat(handshake(0, cli, isn, 5000), []*capture.Packet{
		pk(1, cli, "PA", isn+1+10, 5001, "abcdef"), // crosses nothing, after the wrap
		pk(2, cli, "PA", isn+1, 5001, "0123"),
		pk(3, cli, "PA", isn+1+4, 5001, "456789"), // crosses 2^32
		pk(4, cli, "PA", isn+1+16, 5001, "!"),
		pk(5, cli, "FA", isn+1+17, 5001, ""), pk(6, srv, "FA", 5001, isn+1+18, ""),
	}), []string{"0123456789abcdef!||fin"}, nil)

	f("midstream, client first", Config{}, []*capture.Packet{
		pk(1, srv, "A", 9000, 7000, ""), // pure ACK: cannot open a connection
		pk(2, cli, "PA", 7000, 9000, "GET"), pk(3, srv, "PA", 9000, 7003, "200"), pk(4, cli, "PA", 7003, 9003, "!"),
	}, []string{"GET!|200|end"}, func(t *testing.T, r *recorder, s Stats) {
		if r.conns[0].flow != cli {
			t.Errorf("flow %v, want %v", r.conns[0].flow, cli)
		}
		stat("midstream", s.Midstream, 1)(t)
		stat("stray", s.StrayPackets, 1)(t)
	})

	f("midstream, server first: its sender is taken for the client", Config{}, []*capture.Packet{
		pk(1, srv, "PA", 9000, 7000, "200"), pk(2, cli, "PA", 7000, 9003, "GET"),
	}, []string{"200|GET|end"}, func(t *testing.T, r *recorder, s Stats) {
		if r.conns[0].flow != srv {
			t.Errorf("flow %v, want %v", r.conns[0].flow, srv)
		}
	})

	f("midstream: the first segment starts the stream, earlier ones are dropped", Config{}, []*capture.Packet{
		pk(1, cli, "PA", 7003, 9000, "lo"), pk(2, cli, "PA", 7000, 9000, "hel"), pk(3, cli, "PA", 7005, 9000, "!"),
	}, []string{"lo!||end"}, stat2(func(s Stats) (uint64, uint64) { return s.RetransmittedSegments, 1 }))

	f("SYN lost: SYN-ACK orients and starts the client stream", Config{}, []*capture.Packet{
		pk(0, srv, "SA", 5000, 1001, ""), cd(1, 3, "lo"), cd(2, 0, "hel"), sd(3, 0, "ok"),
	}, []string{"hello|ok|end"}, func(t *testing.T, r *recorder, s Stats) {
		if r.conns[0].flow != cli {
			t.Errorf("flow %v, want %v", r.conns[0].flow, cli)
		}
		stat("midstream", s.Midstream, 0)(t)
	})

	f("TCP Fast Open data in the SYN", Config{}, []*capture.Packet{
		pk(0, cli, "S", 1000, 0, "GET"), pk(0, cli, "S", 1000, 0, "GET"), // SYN retransmitted
		pk(1, srv, "SA", 5000, 1004, ""), pk(2, cli, "PA", 1004, 5001, " /"),
	}, []string{"GET /||end"}, func(t *testing.T, r *recorder, s Stats) {
		stat("retransmitted", s.RetransmittedSegments, 1)(t)
		stat("opened", s.ConnsOpened, 1)(t)
	})

	f("gap by ACK: hole before buffered data, once the sender moves on", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hel"), cd(2, 6, "wor"), sack(3, 9), cd(4, 9, "ld"),
	}), []string{"hel(gap 3)world||end"}, func(t *testing.T, r *recorder, s Stats) {
		stat("gaps", s.Gaps, 1)(t)
		stat("gap bytes", s.GapBytes, 3)(t)
	})

	f("gap by ACK: lost tail reported before the answer", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hello "), pk(2, srv, "PA", 5001, 1012, "ok"),
	}), []string{"hello (gap 5)|ok|end"}, func(t *testing.T, r *recorder, s Stats) {
		want := []string{"client:hello ", "client:(gap 5)", "server:ok"}
		if got := r.conns[0].log; !slices.Equal(got, want) {
			t.Errorf("log %q, want %q", got, want)
		}
	})

	f("a pure ACK ahead of the data is not a gap (mirror reorders directions)", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hello "), sack(2, 11), cd(3, 6, "world"),
	}), []string{"hello world||end"}, stat2(func(s Stats) (uint64, uint64) { return s.Gaps, 0 }))

	f("the ACK of a FIN gives up the bytes before it", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hello "), cfin(2, 11, 0), sfin(3, 0, 12), pk(4, cli, "A", 1013, 5002, ""),
	}), []string{"hello (gap 5)||fin"}, func(t *testing.T, r *recorder, s Stats) {
		if r.conns[0].closeTS != 4e6 {
			t.Errorf("closed at %d, want 4ms", r.conns[0].closeTS)
		}
	})

	f("ACKs beyond any window are ignored", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hel"), cd(2, 6, "wor"), pk(3, srv, "PA", 5001, 1001+0x50000000, "x"),
	}), []string{"hel(gap 3)wor|x|end"}, func(t *testing.T, r *recorder, s Stats) {
		if got := r.conns[0].log; got[1] != "server:x" {
			t.Errorf("gap given up on a bogus ACK: %q", got)
		}
	})

	f("the same direction's ACK field is not used for its own gaps", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hel"), cd(2, 6, "wor"), pk(3, cli, "PA", 1001+9, 1001+20, "ld"),
	}), []string{"hel(gap 3)world||end"}, func(t *testing.T, r *recorder, s Stats) {
		stat("gaps before close", s.Gaps, 1)(t) // the one at CloseAll
	})

	f("gap by per-direction cap", Config{MaxConnBufferedBytes: pageSize}, cat(hs, []*capture.Packet{
		cd(1, 0, "a"), cd(2, 2, "c"), cd(3, 4, "e"),
	}), []string{"a(gap 1)c(gap 1)e||end"}, stat2(func(s Stats) (uint64, uint64) { return s.ConnBufferFull, 1 }))

	f("contiguous out-of-order segments share pages", Config{MaxConnBufferedBytes: pageSize}, cat(hs, []*capture.Packet{
		cd(1, 1, "b"), cd(2, 2, "c"), cd(3, 3, "d"), cd(4, 0, "a"),
	}), []string{"abcd||end"}, stat2(func(s Stats) (uint64, uint64) { return s.ConnBufferFull, 0 }))

	a, b := flowPort(41000), flowPort(42000)
	f("memory cap: the oldest buffering connection gives up", Config{MaxBufferedBytes: 2 * pageSize}, cat(
		handshake(0, a, 1000, 5000), handshake(0, b, 1000, 5000), []*capture.Packet{
			pk(1, a, "PA", 1003, 5001, "c"), pk(2, b, "PA", 1002, 5001, "x"), pk(3, b, "PA", 1004, 5001, "y"),
		}), []string{"(gap 2)c||end", "(gap 1)x(gap 1)y||end"}, func(t *testing.T, r *recorder, s Stats) {
		stat("memory pressure", s.MemoryPressure, 1)(t)
		if got := r.conns[0].log; len(got) != 2 {
			t.Errorf("a gave up at close, not under pressure: %q", got)
		}
	})

	f("RST delivers what is buffered, gaps included, once its grace has passed", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hel"), cd(2, 6, "wor"), pk(3, srv, "RA", 5001, 1012, ""), cd(1500, 9, "ld"),
	}), []string{"hel(gap 3)wor(gap 2)||rst"}, func(t *testing.T, r *recorder, s Stats) {
		stat("late", s.LatePackets, 1)(t)
		stat("opened", s.ConnsOpened, 1)(t)
		if r.conns[0].closeTS != 1500e6 {
			t.Errorf("closed at %d, want at the first packet after the grace (1.5s)", r.conns[0].closeTS)
		}
	})

	f("data after a RST cancels it: a suspected injected RST", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "GET"), pk(2, cli, "RA", 1004, 5001, ""), cd(3, 3, " /x"), sd(4, 0, "HTTP"),
	}), []string{"GET /x|HTTP|end"}, func(t *testing.T, r *recorder, s Stats) {
		stat("suspected injection", s.SuspectedRSTInjection, 1)(t)
		stat("closed rst", s.Closed[CloseRST], 0)(t)
	})

	f("no RST grace: a RST closes at once", Config{RSTGrace: -1}, cat(hs, []*capture.Packet{
		cd(1, 0, "GET"), pk(2, cli, "RA", 1004, 5001, ""), cd(3, 3, " /x"),
	}), []string{"GET||rst"}, stat2(func(s Stats) (uint64, uint64) { return s.LatePackets, 1 }))

	f("late retransmission after FIN close is dropped", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hi"), cfin(2, 2, 0), sfin(3, 0, 3), cd(4, 0, "hi"),
	}), []string{"hi||fin"}, stat2(func(s Stats) (uint64, uint64) { return s.LatePackets, 1 }))

	f("no linger: a late retransmission opens a midstream connection", Config{Linger: -1}, cat(hs, []*capture.Packet{
		cd(1, 0, "hi"), cfin(2, 2, 0), sfin(3, 0, 3), cd(4, 0, "hi"),
	}), []string{"hi||fin", "hi||end"}, nil)

	f("FIN before the last data: close once the data is in", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hel"), cfin(2, 5, 0), sfin(3, 0, 6), cd(4, 3, "lo"),
	}), []string{"hello||fin"}, func(t *testing.T, r *recorder, s Stats) {
		if r.conns[0].closeTS != 4e6 {
			t.Errorf("closed at %d, want 4ms", r.conns[0].closeTS)
		}
	})

	f("SYN+RST is a reset, not a new connection", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hi"), pk(2, cli, "SR", 77, 0, ""),
	}), []string{"hi||rst"}, nil)

	f("data beyond the FIN is dropped", Config{}, cat(hs, []*capture.Packet{
		cfin(1, 2, 0), cd(2, 0, "hi!!"),
	}), []string{"hi||end"}, stat2(func(s Stats) (uint64, uint64) { return s.AfterFINBytes, 2 }))

	f("segments implausibly far ahead are dropped", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "a"), cd(2, 0x50000000, "zzz"),
	}), []string{"a||end"}, stat2(func(s Stats) (uint64, uint64) { return s.OutOfWindowSegments, 1 }))

	f("idle expiry by capture time", Config{IdleTimeout: 10 * time.Second}, []*capture.Packet{
		pk(0, a, "PA", 1, 1, "a"),
		pk(1500, b, "PA", 1, 1, "b"), pk(1500, b, "FA", 2, 1, ""), // b: one FIN, then idle
		pk(5000, cli, "PA", 1, 1, "c"),
		pk(9999, cli, "PA", 2, 1, "c"),  // nothing idle for 10s yet
		pk(10500, cli, "PA", 3, 1, "c"), // a idle 10.5s, but checked once a second
		pk(11000, cli, "PA", 4, 1, "c"), // a idle 11s, b 9.5s
		pk(12600, cli, "PA", 5, 1, "c"), // b idle 11.1s
	}, []string{"a||idle", "b||fin", "ccccc||end"}, func(t *testing.T, r *recorder, s Stats) {
		if got := r.conns[0].closeTS; got != 11000e6 {
			t.Errorf("a closed at %d, want 11s", got)
		}
		if got := r.conns[1].closeTS; got != 12600e6 {
			t.Errorf("b closed at %d, want 12.6s", got)
		}
		stat("idle", s.Closed[CloseIdle], 1)(t)
	})

	f("port reuse after FIN", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hi"), cfin(2, 2, 0), sfin(3, 0, 3),
	}, handshake(4, cli, 90000, 70000), []*capture.Packet{
		pk(5, cli, "PA", 90001, 70001, "again"),
	}), []string{"hi||fin", "again||end"}, stat2(func(s Stats) (uint64, uint64) { return s.Closed[CloseReused], 0 }))

	f("port reuse: new ISN on a live connection", Config{}, cat(hs, []*capture.Packet{
		cd(1, 0, "hi"), cd(2, 4, "zz"),
	}, handshake(4, cli, 90000, 70000), []*capture.Packet{
		pk(5, cli, "PA", 90001, 70001, "again"),
	}), []string{"hi(gap 2)zz||reused", "again||end"}, nil)

	f("port reuse: SYN on a midstream connection", Config{}, []*capture.Packet{
		pk(1, srv, "PA", 1, 1, "old"), pk(2, cli, "S", 1000, 0, ""), cd(3, 0, "new"),
	}, []string{"old||reused", "new||end"}, nil)

	f("repeated handshake is not reuse", Config{}, cat(hs, hs, []*capture.Packet{cd(1, 0, "x")}, hs),
		[]string{"x||end"}, nil)

	c := flowPort(43000)
	f("eviction at MaxConns", Config{MaxConns: 2}, []*capture.Packet{
		pk(1, a, "PA", 1, 1, "a"), pk(2, b, "PA", 1, 1, "b"), pk(3, a, "PA", 2, 1, "a"), pk(4, c, "PA", 1, 1, "c"),
	}, []string{"aa||end", "b||evicted", "c||end"}, stat2(func(s Stats) (uint64, uint64) { return s.Closed[CloseEvicted], 1 }))

	f("eviction drops lingering connections first", Config{MaxConns: 2}, cat(hs, []*capture.Packet{
		cfin(1, 0, 0), sfin(1, 0, 1), pk(2, a, "PA", 1, 1, "a"), pk(3, b, "PA", 1, 1, "b"),
	}), []string{"||fin", "a||end", "b||end"}, stat2(func(s Stats) (uint64, uint64) { return s.LingerEvicted, 1 }))

	f("one-sided flow", Config{}, []*capture.Packet{
		pk(1, cli, "PA", 1, 1, "abc"), pk(2, cli, "PA", 4, 1, "def"), pk(3, cli, "FA", 7, 1, ""),
	}, []string{"abcdef||end"}, nil)

	f("one-sided flow with a hole", Config{}, []*capture.Packet{
		pk(1, srv, "PA", 1, 1, "abc"), pk(2, srv, "PA", 7, 1, "ghi"),
	}, []string{"abc(gap 3)ghi||end"}, nil)
}

// stat2 checks one counter: pick returns (got, want).
func stat2(pick func(Stats) (uint64, uint64)) func(*testing.T, *recorder, Stats) {
	return func(t *testing.T, _ *recorder, s Stats) {
		t.Helper()
		if got, want := pick(s); got != want {
			t.Errorf("counter = %d, want %d", got, want)
		}
	}
}

func TestStatsAddAndAll(t *testing.T) {
	s := Stats{Packets: 1, GapBytes: 2}
	s.Closed[CloseRST] = 3
	s.Add(Stats{Packets: 10, BufferedBytes: 5})
	got := map[string]uint64{}
	var names []string
	for name, v := range s.All() {
		got[name] = v
		names = append(names, name)
	}
	if got["packets"] != 11 || got["gap_bytes"] != 2 || got["conns_closed_rst"] != 3 || got["buffered_bytes"] != 5 {
		t.Errorf("got %v", got)
	}
	if len(names) != len(got) {
		t.Errorf("duplicate names in %v", names)
	}
	for _, n := range names {
		if n != strings.ToLower(n) || strings.ContainsAny(n, " -") {
			t.Errorf("name %q is not snake_case", n)
		}
	}
	for range s.All() {
		break // stopping early must not panic
	}
}

func TestSteadyStateAllocs(t *testing.T) {
	a := New(Config{}, &sink{})
	pkts := benchFlows(a)
	i := 0
	send := func() {
		p := &pkts[i%benchConns]
		p.Timestamp = int64(i) * 1e6
		if i/benchConns%2 == 0 {
			p.Seq += benchSeg // reorder every other round
			a.Packet(p)
			p.Seq -= benchSeg
		} else {
			a.Packet(p)
			p.Seq += 2 * benchSeg
		}
		i++
	}
	for range 4 * benchConns { // warm the free lists
		send()
	}
	if n := testing.AllocsPerRun(4*benchConns, send); n != 0 {
		t.Errorf("%v allocs per packet", n)
	}
}
