package reassembly

// maxAhead bounds how far ahead of the next expected byte a segment or an ACK
// may point and still be believed: the largest TCP window (RFC 7323, 2^30).
// Anything further is a bogus sequence number, not data we lost.
const maxAhead = 1 << 30

// seqLT compares TCP sequence numbers in serial-number arithmetic (RFC 1982),
// so streams that wrap past 2^32 keep their order.
func seqLT(a, b uint32) bool { return int32(a-b) < 0 }

// half is the receive state of one direction.
type half struct {
	next   uint32 // next byte to deliver; valid once started
	isn    uint32 // valid if isnKnown
	finSeq uint32 // sequence number of the FIN; valid if finSeen
	// acked is the highest ACK of this direction's bytes sent by the other
	// side, kept only while it is ahead of next: bytes the endpoint received
	// that we have not delivered.
	acked    uint32
	started  bool
	isnKnown bool
	finSeen  bool
	ackSeen  bool
	finAck   uint8 // finAck* state of the other side's ACK of our FIN
	pages    int   // pages held by the out-of-order list
	head     *page // out-of-order bytes, sorted, all after next
}

const (
	finAckNone    = iota
	finAckSeen    // acknowledged by the packet being processed
	finAckPending // acknowledged by an earlier packet
)

func (h *half) finDone() bool { return h.finSeen && !seqLT(h.next, h.finSeq) }

func (a *Assembler) deliver(c *conn, d Direction, b []byte, ts int64) {
	h := &c.half[d]
	h.next += uint32(len(b))
	a.stats.DeliveredBytes += uint64(len(b))
	c.conn.Data(d, b, ts)
}

func (a *Assembler) gap(c *conn, d Direction, n uint32, ts int64) {
	if n == 0 {
		return
	}
	h := &c.half[d]
	h.next += n
	a.stats.Gaps++
	a.stats.GapBytes += uint64(n)
	c.conn.Gap(d, int(n), ts)
}

// segment takes the payload (starting at seq s) and FIN of one segment.
func (a *Assembler) segment(c *conn, d Direction, s uint32, payload []byte, fin bool, ts int64) {
	h := &c.half[d]
	if !h.started {
		// Midstream: the first segment seen starts the stream. Earlier bytes
		// arriving later are treated as retransmissions; waiting for them
		// would hold back every connection picked up midstream.
		h.started, h.next = true, s
	}
	if fin && !h.finSeen {
		h.finSeen, h.finSeq = true, s+uint32(len(payload))
	}
	if len(payload) == 0 {
		return
	}
	a.stats.Segments++
	if h.finSeen && seqLT(h.finSeq, s+uint32(len(payload))) {
		keep := 0
		if seqLT(s, h.finSeq) {
			keep = int(h.finSeq - s)
		}
		a.stats.AfterFINBytes += uint64(len(payload) - keep)
		if payload = payload[:keep]; keep == 0 {
			return
		}
	}
	if seqLT(s, h.next) {
		old := h.next - s
		if old >= uint32(len(payload)) {
			a.stats.RetransmittedSegments++
			a.stats.RetransmittedBytes += uint64(len(payload))
			return
		}
		a.stats.RetransmittedBytes += uint64(old)
		payload, s = payload[old:], h.next
	}
	if s != h.next {
		if s-h.next > maxAhead {
			a.stats.OutOfWindowSegments++
			return
		}
		a.stats.OutOfOrderSegments++
		a.insert(c, h, s, payload)
		return
	}
	// In order: hand over the packet's own bytes, up to any buffered ones
	// (which were received first, so they win the overlap).
	direct := payload
	if h.head != nil && h.head.seq-s < uint32(len(payload)) {
		direct = payload[:h.head.seq-s]
	}
	if len(direct) > 0 {
		a.deliver(c, d, direct, ts)
	}
	if rest := payload[len(direct):]; len(rest) > 0 {
		a.insert(c, h, h.next, rest)
	}
	a.drain(c, d, ts)
}

// drain delivers the buffered pages that have become in order.
func (a *Assembler) drain(c *conn, d Direction, ts int64) {
	h := &c.half[d]
	for h.head != nil && !seqLT(h.next, h.head.seq) {
		p := h.head
		if skip := h.next - p.seq; skip < uint32(p.n) {
			a.deliver(c, d, p.buf[skip:p.n], ts)
		}
		h.head = p.next
		a.freePage(c, h, p)
	}
}

// ack records that the other side acknowledged d's bytes up to ack.
func (a *Assembler) ack(c *conn, d Direction, ack uint32, ts int64) {
	h := &c.half[d]
	if !h.started || !seqLT(h.next, ack) || ack-h.next > maxAhead {
		return
	}
	if h.ackSeen && !seqLT(h.acked, ack) {
		return
	}
	h.acked, h.ackSeen = ack, true
	if h.finSeen && !seqLT(ack, h.finSeq+1) && h.finAck == finAckNone {
		h.finAck = finAckSeen
	}
}

// finAcked gives up, once the connection's next packet is done, the bytes
// missing before a FIN the other side acknowledged: they reached the
// endpoint and will not be resent. Waiting one packet lets a mirror that
// reordered the two directions deliver them first; not waiting longer lets
// the connection close with CloseFIN instead of idling out.
func (a *Assembler) finAcked(c *conn, ts int64) {
	for d := range c.half {
		switch h := &c.half[d]; h.finAck {
		case finAckSeen:
			h.finAck = finAckPending
		case finAckPending:
			if !h.finDone() {
				a.ackGap(c, Direction(d), ts, true)
			}
		}
	}
}

// ackGap gives up the bytes of d that the other side acknowledged but we
// never saw: lost on the mirror, not in the network, so they will not be
// retransmitted. Holes before buffered data are certain once the sender has
// moved on; with tail set, so is missing data after everything we hold. The
// tail is only given up on stronger evidence (the other side sends data or
// acknowledges the FIN, or the connection ends), because a mirror often
// reorders the two directions slightly and the ACK can overtake the data.
func (a *Assembler) ackGap(c *conn, d Direction, ts int64, tail bool) {
	h := &c.half[d]
	for h.ackSeen {
		a.drain(c, d, ts)
		if !seqLT(h.next, h.acked) {
			h.ackSeen = false
			return
		}
		end := h.acked
		if h.finSeen && seqLT(h.finSeq, end) {
			end = h.finSeq // the FIN takes a sequence number but is no data
		}
		if h.head != nil {
			if seqLT(h.head.seq, end) {
				end = h.head.seq
			}
		} else if !tail {
			return
		}
		if !seqLT(h.next, end) {
			return
		}
		a.gap(c, d, end-h.next, ts)
	}
}

// giveUp declares every hole of d a gap and delivers all buffered bytes.
func (a *Assembler) giveUp(c *conn, d Direction, ts int64) {
	h := &c.half[d]
	for h.head != nil {
		if h.head.seq != h.next {
			a.gap(c, d, h.head.seq-h.next, ts)
		}
		a.drain(c, d, ts)
	}
}

// limit enforces the per-direction and total buffer caps after d buffered.
func (a *Assembler) limit(c *conn, d Direction, ts int64) {
	h := &c.half[d]
	if h.pages*pageSize > a.cfg.MaxConnBufferedBytes {
		a.stats.ConnBufferFull++
		for h.head != nil && h.pages*pageSize > a.cfg.MaxConnBufferedBytes {
			a.gap(c, d, h.head.seq-h.next, ts)
			a.drain(c, d, ts)
		}
	}
	for a.buffered > a.cfg.MaxBufferedBytes && a.buffering.head != nil {
		// The connection that has held buffered data the longest pays: its
		// holes are the least likely to be filled.
		v := a.buffering.head
		a.stats.MemoryPressure++
		a.giveUp(v, ClientToServer, ts)
		a.giveUp(v, ServerToClient, ts)
	}
}
