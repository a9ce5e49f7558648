package trafficgen

import (
	"cmp"
	"container/heap"
	"slices"
	"time"

	"github.com/gopacket/gopacket"
)

const (
	stackDelay = 30 * time.Microsecond // a host's kernel answering, e.g. SYN-ACK
	delayedACK = 40 * time.Millisecond // Linux's delayed-ACK timer
)

// run emits the packets of all connections in capture-time order, refilling
// each connection's plan of segments as it drains.
func (g *generator) run() error {
	for g.active.Len() > 0 {
		c := g.active[0]
		s := &c.segs[c.next]
		if err := g.emit(c, s); err != nil {
			return err
		}
		t := s.t
		c.next++
		if c.next < len(c.segs) {
			heap.Fix(&g.active, 0)
			continue
		}
		if g.plan(c, t) {
			g.pending += c.planned
			c.planned = 0
			heap.Fix(&g.active, 0)
			continue
		}
		heap.Pop(&g.active)
		g.free = append(g.free, c)
		if !g.stopping {
			g.scenario.closed(g, c, t)
		}
	}
	return nil
}

func (g *generator) emit(c *conn, s *seg) error {
	buf := c.sbuf
	if s.fromClient {
		buf = c.cbuf
	}
	frame := c.frame(g.frame, s, buf[s.off:s.off+s.n])
	ci := gopacket.CaptureInfo{Timestamp: g.captureTime(s.t), CaptureLength: len(frame), Length: len(frame)}
	if err := g.out.WritePacket(ci, frame); err != nil {
		return err
	}
	tr := &g.truth
	if tr.Packets == 0 {
		tr.FirstPacket = ci.Timestamp
	}
	tr.LastPacket = ci.Timestamp
	tr.Packets++
	tr.PcapBytes += 16 + int64(len(frame))
	if s.fromClient {
		tr.ClientPayloadBytes += int64(s.n)
	} else {
		tr.ServerPayloadBytes += int64(s.n)
	}
	g.pending -= frameSize(c, s)
	// Counting what is already planned keeps the overshoot to the closing
	// handshakes, however many exchanges are in flight.
	if tr.PcapBytes+g.pending >= g.limit || s.t >= g.end {
		g.stopping = true
	}
	return nil
}

// plan lays out c's next segments after time last, the time of its last
// packet; it reports false when the connection is finished.
func (g *generator) plan(c *conn, last int64) bool {
	c.segs, c.next = c.segs[:0], 0
	c.cbuf, c.sbuf = c.cbuf[:0], c.sbuf[:0]
	if c.state == stClosed {
		return false
	}
	if t, ok := g.scenario.schedule(g, c, last); ok {
		c.state = stOpen
		g.exchange(c, t)
	} else {
		g.clientClose(c, t)
	}
	slices.SortStableFunc(c.segs, func(a, b seg) int { return cmp.Compare(a.t, b.t) })
	return true
}

func (c *conn) add(s seg) {
	c.segs = append(c.segs, s)
	c.planned += frameSize(c, &s)
}

// frameSize is what s will take in the pcap, record header included.
func frameSize(c *conn, s *seg) int64 {
	n := 16 + ethHeaderLen + ipv4HeaderLen + tcpHeaderLen + int64(s.n)
	if c.v6 {
		n += ipv6HeaderLen - ipv4HeaderLen
	}
	if c.vlan != 0 {
		n += vlanTagLen
	}
	if s.flags&tcpSYN != 0 {
		n += tcpSYNLen - tcpHeaderLen
	}
	return n
}

// handshake plans the three-way handshake, the capture point being next to
// the server: the SYN-ACK follows the SYN at once, the client's ACK a round
// trip later.
func (g *generator) handshake(c *conn, t int64) {
	c.segs, c.next = c.segs[:0], 0
	c.add(seg{t: t, seq: c.cli.nextSeq, flags: tcpSYN, fromClient: true})
	c.cli.nextSeq++
	t += int64(stackDelay)
	c.add(seg{t: t, seq: c.srv.nextSeq, ack: c.cli.nextSeq, flags: tcpSYN | tcpACK})
	c.srv.nextSeq++
	c.add(seg{t: t + c.rtt, seq: c.cli.nextSeq, ack: c.srv.nextSeq, flags: tcpACK, fromClient: true})
}

// exchange plans one batch of requests (one, or several when pipelining) and
// their responses, with the ACKs each side sends.
func (g *generator) exchange(c *conn, t int64) {
	r := c.r
	k := 1
	if c.pipelined && c.requestsLeft > 1 {
		k = min(c.requestsLeft, 2+r.IntN(3), len(g.reqs))
	}
	c.requestsLeft -= k
	if k > 1 {
		g.truth.PipelinedRequests += k
	}
	g.truth.PerConn[c.truth].Requests += k
	closing := c.requestsLeft == 0 && r.IntN(3) == 0
	for i := range k {
		q := &g.reqs[i]
		g.scenario.next(g, c, q, t, k > 1)
		q.close = closing && i == k-1
		c.cbuf = g.appendRequest(c.cbuf, c, q)
		g.note(q, c, t)
	}

	// Pipelined requests leave together, so they may share segments.
	t = g.sendData(c, true, 0, len(c.cbuf), t, c.cliGap)

	for i := range k {
		q := &g.reqs[i]
		ready := t + q.proc
		if i == 0 && q.proc > int64(delayedACK) {
			c.add(seg{t: t + int64(delayedACK), seq: c.srv.nextSeq, ack: c.cli.nextSeq, flags: tcpACK})
		}
		off := len(c.sbuf)
		c.sbuf = g.appendResponse(c.sbuf, c, q, ready)
		t = g.sendData(c, false, off, len(c.sbuf), ready, c.srvGap)
	}
	if closing {
		g.truth.ServerClosed++
		g.serverClose(c, t+int64(stackDelay))
	}
}

// sendData segments buf[off:end] of one direction starting at t, with the
// receiver ACKing every second segment (and the last) as Linux does. It
// returns the time of the last data segment.
func (g *generator) sendData(c *conn, fromClient bool, off, end int, t, gap int64) int64 {
	from, to := &c.srv, &c.cli
	ackDelay := c.rtt // the client is a round trip away from the capture point
	if fromClient {
		from, to = to, from
		ackDelay = int64(stackDelay)
	}
	mss := mssIPv4
	if c.v6 {
		mss = mssIPv6
	}
	for i := 0; off < end; i++ {
		n := min(mss, end-off)
		flags := uint8(tcpACK)
		if off+n == end {
			flags |= tcpPSH
		}
		c.add(seg{t: t, seq: from.nextSeq, ack: to.nextSeq, off: int32(off), n: int32(n), flags: flags, fromClient: fromClient})
		from.nextSeq += uint32(n)
		off += n
		if i%2 == 1 || off == end {
			// A request's last segment is ACKed by the response, or by the
			// delayed-ACK timer, not at once.
			if !(fromClient && off == end) {
				c.add(seg{t: t + ackDelay, seq: to.nextSeq, ack: from.nextSeq, flags: tcpACK, fromClient: !fromClient})
			}
		}
		if off < end {
			t += gap
		}
	}
	return t
}

// clientClose plans the client closing an idle connection.
func (g *generator) clientClose(c *conn, t int64) {
	c.add(seg{t: t, seq: c.cli.nextSeq, ack: c.srv.nextSeq, flags: tcpFIN | tcpACK, fromClient: true})
	c.cli.nextSeq++
	t += int64(stackDelay)
	c.add(seg{t: t, seq: c.srv.nextSeq, ack: c.cli.nextSeq, flags: tcpFIN | tcpACK})
	c.srv.nextSeq++
	c.add(seg{t: t + c.rtt, seq: c.cli.nextSeq, ack: c.srv.nextSeq, flags: tcpACK, fromClient: true})
	c.state = stClosed
}

// serverClose plans the server closing after a "Connection: close" response.
func (g *generator) serverClose(c *conn, t int64) {
	c.add(seg{t: t, seq: c.srv.nextSeq, ack: c.cli.nextSeq, flags: tcpFIN | tcpACK})
	c.srv.nextSeq++
	t += c.rtt
	c.add(seg{t: t, seq: c.cli.nextSeq, ack: c.srv.nextSeq, flags: tcpFIN | tcpACK, fromClient: true})
	c.cli.nextSeq++
	c.add(seg{t: t + int64(stackDelay), seq: c.srv.nextSeq, ack: c.cli.nextSeq, flags: tcpACK})
	c.state = stClosed
}
