package pipeline

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse/reassembly"
)

func TestWriteSummary(t *testing.T) {
	var s Stats
	s.Elapsed = 2 * time.Second
	s.Capture.Packets, s.Capture.Bytes, s.Capture.TCP = 10, 4e6, 9
	s.Capture.Drops[capture.DropTruncated] = 1
	s.Reassembly.GapBytes = 1200
	s.Reassembly.Closed[reassembly.CloseEvicted] = 3
	s.Parse.Transactions, s.Parse.Unanswered = 40, 2
	s.Kernel = capture.LiveStats{Packets: 11, Drops: 1}
	s.Inputs = []InputStats{{Name: "a.pcap"}, {Name: "b.pcap", Err: errors.New("cut")}}

	var b strings.Builder
	s.WriteSummary(&b)
	// Column widths depend on the labels present: compare with runs of
	// spaces collapsed.
	out := strings.Join(strings.Fields(b.String()), " ")
	for _, want := range []string{
		"analyzed 2 inputs: 4.0 MB of packets in 2s (2.0 MB/s)",
		"transactions 40 (20/s)",
		"unanswered",
		"received 11, dropped 1",
		"decode.truncated",
		"reassembly.gap_bytes",
		"reassembly.conns_evicted",
		"kernel.drops",
		"input.truncated_files",
	} {
		if !strings.Contains(out, want) {
			t.Errorf("summary lacks %q:\n%s", want, out)
		}
	}
	for _, absent := range []string{"smuggling", "decode.malformed_ip", "memory_pressure"} {
		if strings.Contains(out, absent) {
			t.Errorf("summary shows zero counter %q:\n%s", absent, out)
		}
	}

	s = Stats{}
	b.Reset()
	s.WriteSummary(&b)
	if !strings.Contains(b.String(), "losses and drops: none") {
		t.Errorf("clean run summary:\n%s", b.String())
	}
}

func TestProgressString(t *testing.T) {
	p := Progress{Elapsed: 2 * time.Second, Packets: 5, Read: 50e6, Total: 200e6, Done: 150e6, Input: 1, InputCount: 3}
	want := "5 packets, 50.0 MB of 200.0 MB (25%), file 2 of 3, 100 MB/s"
	if got := p.String(); got != want {
		t.Errorf("got  %q\nwant %q", got, want)
	}
}
