package reassembly

import "iter"

const numCloseReasons = len(closeReasonNames)

// Stats are an Assembler's counters since New. All are monotonic except the
// two gauges ConnsActive and BufferedBytes. Merge the Stats of several
// workers with Add; export them by name with All.
type Stats struct {
	Packets      uint64 // segments given to Packet
	PayloadBytes uint64 // their payload bytes
	Segments     uint64 // segments carrying payload on a known connection

	ConnsOpened uint64 // Factory.New calls
	Midstream   uint64 // connections opened without seeing SYN or SYN-ACK
	// Closed counts Conn.Close calls by reason; Closed[CloseEvicted] are the
	// evictions under flow-count pressure.
	Closed [numCloseReasons]uint64

	DeliveredBytes        uint64 // bytes passed to Conn.Data
	RetransmittedSegments uint64 // segments entirely before the next expected byte, dropped
	RetransmittedBytes    uint64 // bytes before the next expected byte, dropped (whole and partial)
	OutOfOrderSegments    uint64 // segments that arrived ahead of a hole and were buffered
	OutOfWindowSegments   uint64 // segments implausibly far ahead (over 1 GiB), dropped
	Overlaps              uint64 // segments overlapping buffered bytes (the buffered bytes won)
	OverlapBytes          uint64 // bytes of those overlaps
	// OverlapsDiffer counts overlaps whose bytes differed from the buffered
	// ones: an endpoint may have seen the other version, a classic IDS
	// evasion.
	OverlapsDiffer uint64
	AfterFINBytes  uint64 // bytes beyond a direction's FIN, dropped

	Gaps           uint64 // Conn.Gap calls
	GapBytes       uint64 // bytes they reported missing
	ConnBufferFull uint64 // a direction exceeded MaxConnBufferedBytes and gave up a hole
	MemoryPressure uint64 // a connection gave up its holes because MaxBufferedBytes was exceeded

	// SuspectedRSTInjection counts RSTs followed by more data: the RST did
	// not end the connection, so someone other than an endpoint may have
	// sent it.
	SuspectedRSTInjection uint64
	LatePackets           uint64 // data packets of a lingering closed connection, dropped
	StrayPackets          uint64 // packets that cannot open a connection (pure ACK, FIN or RST of an unknown one), dropped
	LingerEvicted         uint64 // lingering closed connections dropped early for MaxConns

	ConnsActive   uint64 // gauge: connections open now
	BufferedBytes uint64 // gauge: out-of-order buffer memory held now
}

// Add adds o's counters (and gauges) to s.
func (s *Stats) Add(o Stats) {
	var vals []uint64
	o.each(func(_ string, v *uint64) { vals = append(vals, *v) })
	i := 0
	s.each(func(_ string, v *uint64) { *v += vals[i]; i++ })
}

// All yields every counter with a stable snake_case name, for export as
// metrics.
func (s *Stats) All() iter.Seq2[string, uint64] {
	return func(yield func(string, uint64) bool) {
		stop := false
		s.each(func(name string, v *uint64) {
			if !stop && !yield(name, *v) {
				stop = true
			}
		})
	}
}

// each is the single list of counters that Add and All walk.
func (s *Stats) each(f func(name string, v *uint64)) {
	f("packets", &s.Packets)
	f("payload_bytes", &s.PayloadBytes)
	f("segments", &s.Segments)
	f("conns_opened", &s.ConnsOpened)
	f("conns_midstream", &s.Midstream)
	for r := range s.Closed {
		f("conns_closed_"+CloseReason(r).String(), &s.Closed[r])
	}
	f("delivered_bytes", &s.DeliveredBytes)
	f("retransmitted_segments", &s.RetransmittedSegments)
	f("retransmitted_bytes", &s.RetransmittedBytes)
	f("out_of_order_segments", &s.OutOfOrderSegments)
	f("out_of_window_segments", &s.OutOfWindowSegments)
	f("overlaps", &s.Overlaps)
	f("overlap_bytes", &s.OverlapBytes)
	f("overlaps_differ", &s.OverlapsDiffer)
	f("after_fin_bytes", &s.AfterFINBytes)
	f("gaps", &s.Gaps)
	f("gap_bytes", &s.GapBytes)
	f("conn_buffer_full", &s.ConnBufferFull)
	f("memory_pressure", &s.MemoryPressure)
	f("suspected_rst_injection", &s.SuspectedRSTInjection)
	f("late_packets", &s.LatePackets)
	f("stray_packets", &s.StrayPackets)
	f("linger_evicted", &s.LingerEvicted)
	f("conns_active", &s.ConnsActive)
	f("buffered_bytes", &s.BufferedBytes)
}
