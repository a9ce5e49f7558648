package pipeline

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse/reassembly"
)

// WriteSummary prints what a run saw, for people: volumes, throughput,
// transactions and every loss or drop by reason (zero counters omitted).
func (s *Stats) WriteSummary(w io.Writer) {
	secs := s.Elapsed.Seconds()
	rate := func(n float64) float64 {
		if secs <= 0 {
			return 0
		}
		return n / secs
	}
	mb := float64(s.Capture.Bytes) / 1e6
	fmt.Fprintf(w, "analyzed %s: %.1f MB of packets in %s (%.1f MB/s)\n",
		plural(len(s.Inputs), "input"), mb, s.Elapsed.Round(time.Millisecond), rate(mb))
	if s.FirstPacket != 0 {
		first, last := time.Unix(0, s.FirstPacket).UTC(), time.Unix(0, s.LastPacket).UTC()
		fmt.Fprintf(w, "capture time %s .. %s (%s)\n", first.Format(time.RFC3339), last.Format(time.RFC3339), last.Sub(first).Round(time.Millisecond))
	}
	fmt.Fprintln(w)

	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	p := &s.Parse
	if s.Kernel != (capture.LiveStats{}) {
		fmt.Fprintf(tw, "kernel (capture sockets)\treceived %d, dropped %d, ring freezes %d\n",
			s.Kernel.Packets, s.Kernel.Drops, s.Kernel.Freezes)
	}
	fmt.Fprintf(tw, "packets\t%d\n", s.Capture.Packets)
	fmt.Fprintf(tw, "tcp segments\t%d\n", s.Capture.TCP)
	fmt.Fprintf(tw, "connections\t%d\t(http %d, tunnel %d, not http %d, no payload %d)\n",
		p.Conns, p.HTTPConns, p.TunnelConns, p.NotHTTPConns, p.EmptyConns)
	fmt.Fprintf(tw, "transactions\t%d\t(%.0f/s)\n", p.Transactions, rate(float64(p.Transactions)))
	for _, c := range []struct {
		name string
		n    uint64
	}{
		{"  unanswered", p.Unanswered},
		{"  response without request", p.NoRequest},
		{"  with gap", p.WithGap},
		{"  truncated", p.Truncated},
		{"  parse error", p.ParseErrors},
		{"  smuggling indicator", p.Smuggling},
		{"  content decoding failed", p.DecodeErrors},
		{"  body over decode cap", p.BodyCapped},
		{"  body not kept (memory budget)", p.BodyNotKept},
		{"  pending queue overflow", p.QueueOverflow},
	} {
		if c.n > 0 {
			fmt.Fprintf(tw, "%s\t%d\n", c.name, c.n)
		}
	}
	var skips []string
	s.Capture.EachSkip(func(proto string, n uint64) {
		if n > 0 {
			skips = append(skips, fmt.Sprintf("%s %d", proto, n))
		}
	})
	if len(skips) > 0 {
		fmt.Fprintf(tw, "not tcp (skipped)\t%s\n", strings.Join(skips, ", "))
	}
	tw.Flush()

	drops := s.Drops()
	fmt.Fprintln(w)
	if len(drops) == 0 {
		fmt.Fprintln(w, "losses and drops: none")
		return
	}
	fmt.Fprintln(w, "losses and drops by reason:")
	tw = tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, d := range drops {
		fmt.Fprintf(tw, "  %s\t%d\n", d.Name, d.Value)
	}
	tw.Flush()
}

// Drop is one named loss or drop counter.
type Drop struct {
	Name  string
	Value uint64
}

// Drops lists the non-zero counters of everything lost or thrown away, by
// stage and reason: frames the decoder gave up on, segments and
// connections the reassembler dropped, bytes lost on the mirror.
func (s *Stats) Drops() []Drop {
	var out []Drop
	add := func(name string, n uint64) {
		if n > 0 {
			out = append(out, Drop{name, n})
		}
	}
	add("kernel.drops", s.Kernel.Drops)
	add("kernel.ring_freezes", s.Kernel.Freezes)
	s.Capture.EachDrop(func(r capture.DropReason, n uint64) { add("decode."+r.String(), n) })
	r := &s.Reassembly
	add("reassembly.gap_bytes", r.GapBytes)
	add("reassembly.out_of_window_segments", r.OutOfWindowSegments)
	add("reassembly.after_fin_bytes", r.AfterFINBytes)
	add("reassembly.late_packets", r.LatePackets)
	add("reassembly.stray_packets", r.StrayPackets)
	add("reassembly.conns_evicted", r.Closed[reassembly.CloseEvicted])
	add("reassembly.linger_evicted", r.LingerEvicted)
	add("reassembly.conn_buffer_full", r.ConnBufferFull)
	add("reassembly.memory_pressure", r.MemoryPressure)
	var truncated uint64
	for _, in := range s.Inputs {
		if in.Err != nil {
			truncated++
		}
	}
	add("input.truncated_files", truncated)
	return out
}

func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}
