package reassembly

import (
	"time"

	"github.com/apiwatch/apiwatch/capture"
)

// expiryInterval is how often, in capture time, idle and lingering
// connections are looked for: expiry is approximate to this much, and costs
// nothing on the packets in between.
const expiryInterval = int64(time.Second)

// Assembler reassembles the TCP connections of the packets it is given. See
// the package documentation for the concurrency rules and call order. Conn
// methods must not call back into the Assembler.
//
// What it decides, as a passive observer:
//   - Streams start at ISN+1 from a SYN or SYN-ACK (a SYN-ACK also gives the
//     client's ISN); data in a SYN is delivered (TCP Fast Open). Without a
//     handshake a direction starts at its first data segment; bytes before
//     it that arrive later are dropped as retransmissions.
//   - In-order bytes are passed straight from the packet; out-of-order ones
//     are copied into pages. Where segments overlap, the bytes received
//     first win; overlaps with different bytes are counted (OverlapsDiffer).
//   - A hole becomes a Gap, and what follows is delivered, when the other
//     side ACKs past it (for a hole before buffered data: at the sender's
//     next segment or the other side's next data; for missing data after
//     everything held: at the other side's next data, or one packet after it
//     ACKs the FIN), when a buffer cap is hit, or when the connection ends.
//     A gap never ends a connection.
//   - FIN from both sides, with all data up to them delivered, closes with
//     CloseFIN; RST closes with CloseRST after delivering what is held. Both
//     then linger (Config.Linger), dropping late packets, until a new SYN.
//   - A SYN on a connection that saw a FIN, no handshake, or another ISN
//     closes it with CloseReused and opens a new one.
type Assembler struct {
	cfg     Config
	factory Factory
	conns   map[capture.Flow]*conn
	// active is ordered by last activity, most recent first, so idle expiry
	// and eviction take from the tail. lingering holds closed conns, most
	// recently closed first. buffering holds the conns with out-of-order
	// pages, in the order they started buffering.
	active, lingering, buffering list
	freeConns                    []*conn
	freePages                    []*page
	nLinger                      int
	// rstPending holds conns whose RST closes them after Config.RSTGrace;
	// an entry whose conn was closed or recycled meanwhile has rstAt 0.
	rstPending []*conn
	buffered   int64 // bytes of pages in use
	now        int64 // capture clock: the latest timestamp seen
	nextExpiry int64
	stats      Stats
}

// New returns an Assembler that reports connections to f.
func New(cfg Config, f Factory) *Assembler {
	return &Assembler{
		cfg:       cfg.withDefaults(),
		factory:   f,
		conns:     make(map[capture.Flow]*conn),
		active:    list{which: lruLinks},
		lingering: list{which: lruLinks},
		buffering: list{which: bufLinks},
	}
}

// Stats returns the counters so far.
func (a *Assembler) Stats() Stats {
	s := a.stats
	s.ConnsActive = uint64(len(a.conns) - a.nLinger)
	s.BufferedBytes = uint64(a.buffered)
	return s
}

// Packet processes one TCP segment. p is not retained; its Payload is handed
// to Conn.Data directly when in order, copied otherwise.
func (a *Assembler) Packet(p *capture.Packet) {
	a.stats.Packets++
	a.stats.PayloadBytes += uint64(len(p.Payload))
	a.tick(p.Timestamp)
	ts := p.Timestamp
	// A SYN with RST is malformed; the RST wins so it cannot restart a
	// connection.
	syn := p.Flags.Has(capture.FlagSYN) && !p.Flags.Has(capture.FlagRST)

	key, swapped := p.Flow.Canonical()
	c := a.conns[key]
	if c != nil && c.closed {
		if !syn {
			// The last ACK of a FIN handshake is expected; only late
			// data is worth counting.
			if len(p.Payload) > 0 {
				a.stats.LatePackets++
			}
			return
		}
		a.forget(c)
		c = nil
	}
	if c != nil && syn && a.reused(c, p, swapped) {
		a.close(c, CloseReused, ts)
		c = nil
	}
	if c == nil {
		if c = a.open(key, swapped, p); c == nil {
			a.stats.StrayPackets++
			return
		}
	} else {
		c.lastSeen = a.now
		a.active.moveToFront(c)
	}

	d := c.dir(swapped)
	seq := p.Seq
	if syn {
		a.handshake(c, d, p)
		seq++ // data after a SYN (TCP Fast Open) starts at ISN+1
	}
	if p.Flags.Has(capture.FlagACK) {
		a.ack(c, d.Reverse(), p.Ack, ts)
	}
	if p.Flags.Has(capture.FlagRST) {
		a.rst(c, ts)
		return
	}
	if c.rstAt != 0 && len(p.Payload) > 0 {
		// Data after a RST: the endpoints did not take the RST.
		c.rstAt = 0
		a.stats.SuspectedRSTInjection++
	}
	fin := p.Flags.Has(capture.FlagFIN)
	if len(p.Payload) > 0 || fin {
		if len(p.Payload) > 0 {
			// The other side is sending, so everything it acknowledged
			// has been sent long ago: give up what we miss of it before
			// this data, which likely answers it.
			a.ackGap(c, d.Reverse(), ts, true)
		}
		a.segment(c, d, seq, p.Payload, fin, ts)
		a.ackGap(c, d, ts, false)
		if c.half[d].head != nil {
			a.limit(c, d, ts)
		}
	}
	a.finAcked(c, ts)
	if c.finished() {
		a.close(c, CloseFIN, ts)
	}
}

// CloseAll ends the input: every connection delivers what it holds and is
// closed with CloseEnd. The Assembler is then empty, its clock reset, ready
// for another input.
func (a *Assembler) CloseAll(ts int64) {
	for c := a.active.tail; c != nil; c = a.active.tail {
		r := CloseEnd
		if c.rstAt != 0 {
			r = CloseRST
		}
		a.close(c, r, ts)
	}
	a.rstPending = a.rstPending[:0]
	for c := a.lingering.tail; c != nil; c = a.lingering.tail {
		a.forget(c)
	}
	a.now, a.nextExpiry = 0, 0
}

// tick advances the capture clock and, once per expiryInterval, closes idle
// connections and forgets lingering ones. The clock never goes back, so a
// few reordered timestamps cannot confuse expiry.
func (a *Assembler) tick(ts int64) {
	if ts > a.now {
		a.now = ts
	}
	if a.now < a.nextExpiry {
		return
	}
	a.nextExpiry = a.now + expiryInterval
	idle := int64(a.cfg.IdleTimeout)
	for c := a.active.tail; c != nil && a.now-c.lastSeen >= idle; c = a.active.tail {
		r := CloseIdle
		if c.half[0].finSeen || c.half[1].finSeen {
			r = CloseFIN
		}
		a.close(c, r, a.now)
	}
	a.closeReset()
	linger := int64(a.cfg.Linger)
	for c := a.lingering.tail; c != nil && a.now-c.lastSeen >= linger; c = a.lingering.tail {
		a.forget(c)
	}
}

// rst closes c now, or after Config.RSTGrace unless data follows.
func (a *Assembler) rst(c *conn, ts int64) {
	if a.cfg.RSTGrace <= 0 {
		a.close(c, CloseRST, ts)
		return
	}
	if c.rstAt == 0 {
		c.rstAt = a.now
		a.rstPending = append(a.rstPending, c)
	}
}

// closeReset closes the connections whose RST grace has passed, and keeps
// the others pending.
func (a *Assembler) closeReset() {
	grace := int64(a.cfg.RSTGrace)
	kept := a.rstPending[:0]
	for _, c := range a.rstPending {
		switch {
		case c.rstAt == 0 || c.conn == nil:
			// The RST was cancelled by data, or the conn closed otherwise.
		case a.now-c.rstAt >= grace:
			c.rstAt = 0
			a.close(c, CloseRST, a.now)
		default:
			kept = append(kept, c)
		}
	}
	clear(a.rstPending[len(kept):])
	a.rstPending = kept
}

// open starts a connection for a packet of an unknown flow, or returns nil
// when the packet cannot start one: a pure ACK, FIN or RST tells neither who
// the client is nor where a stream starts.
func (a *Assembler) open(key capture.Flow, swapped bool, p *capture.Packet) *conn {
	var fromClient bool
	switch f := p.Flags; {
	case f.Has(capture.FlagRST):
		return nil
	case f.Has(capture.FlagSYN):
		fromClient = !f.Has(capture.FlagACK)
	case len(p.Payload) > 0:
		fromClient = true
		a.stats.Midstream++
	default:
		return nil
	}
	if len(a.conns) >= a.cfg.MaxConns {
		if c := a.lingering.tail; c != nil {
			a.stats.LingerEvicted++
			a.forget(c)
		} else if c := a.active.tail; c != nil {
			a.close(c, CloseEvicted, p.Timestamp)
		}
	}
	var c *conn
	if n := len(a.freeConns); n > 0 {
		c = a.freeConns[n-1]
		a.freeConns = a.freeConns[:n-1]
	} else {
		c = new(conn)
	}
	c.key = key
	c.clientSwapped = swapped == fromClient
	c.handshake = p.Flags.Has(capture.FlagSYN)
	c.lastSeen = a.now
	flow := p.Flow
	if !fromClient {
		flow = flow.Reverse()
	}
	c.conn = a.factory.New(flow, p.Timestamp)
	a.conns[key] = c
	a.active.pushFront(c)
	a.stats.ConnsOpened++
	return c
}

// reused reports whether a SYN or SYN-ACK on a live connection starts a new
// one on the same addresses and ports rather than repeating the handshake.
func (a *Assembler) reused(c *conn, p *capture.Packet, swapped bool) bool {
	if !c.handshake || c.half[0].finSeen || c.half[1].finSeen {
		return true
	}
	d := ClientToServer
	if p.Flags.Has(capture.FlagACK) {
		d = ServerToClient
	}
	if c.dir(swapped) != d {
		return true
	}
	h := &c.half[d]
	return h.isnKnown && h.isn != p.Seq
}

// handshake learns the ISNs a SYN or SYN-ACK carries: its sender's, and for
// a SYN-ACK the client's too (its ACK is the client's ISN+1), which starts
// the client's stream even when its SYN was not seen.
func (a *Assembler) handshake(c *conn, d Direction, p *capture.Packet) {
	learn := func(h *half, isn uint32) {
		if !h.isnKnown {
			h.isnKnown, h.isn = true, isn
			if !h.started {
				h.started, h.next = true, isn+1
			}
		}
	}
	learn(&c.half[d], p.Seq)
	if p.Flags.Has(capture.FlagACK) {
		learn(&c.half[d.Reverse()], p.Ack-1)
	}
}

// close delivers what c holds, with gaps for its holes, and calls
// Conn.Close. Connections ended by FIN or RST linger; others are forgotten.
func (a *Assembler) close(c *conn, r CloseReason, ts int64) {
	for d := range c.half {
		a.giveUp(c, Direction(d), ts)
		a.ackGap(c, Direction(d), ts, true)
	}
	c.conn.Close(r, ts)
	c.conn = nil
	a.stats.Closed[r]++
	a.active.remove(c)
	if (r == CloseFIN || r == CloseRST) && a.cfg.Linger > 0 {
		c.closed = true
		c.lastSeen = a.now
		a.lingering.pushFront(c)
		a.nLinger++
		return
	}
	delete(a.conns, c.key)
	a.release(c)
}

// forget drops a lingering connection.
func (a *Assembler) forget(c *conn) {
	a.lingering.remove(c)
	a.nLinger--
	delete(a.conns, c.key)
	a.release(c)
}

func (a *Assembler) release(c *conn) {
	*c = conn{}
	a.freeConns = append(a.freeConns, c)
}
