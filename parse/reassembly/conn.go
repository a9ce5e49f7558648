package reassembly

import "github.com/apiwatch/apiwatch/capture"

// conn is one table entry. It is recycled through Assembler.freeConns.
type conn struct {
	key  capture.Flow // canonical flow
	conn Conn         // nil once closed
	// clientSwapped is the capture.Flow.Canonical "swapped" result of the
	// client's packets, which orients every later packet in one comparison.
	clientSwapped bool
	handshake     bool // opened by SYN or SYN-ACK
	closed        bool // Close was called; lingering to absorb late packets
	// rstAt is the capture time of a RST that will close the connection
	// once Config.RSTGrace has passed without more data; 0 when none.
	rstAt    int64
	lastSeen int64
	// links[lruLinks] places the conn in Assembler.active or .lingering,
	// links[bufLinks] in Assembler.buffering.
	links [2]link
	half  [2]half // indexed by Direction
}

func (c *conn) dir(swapped bool) Direction {
	if swapped == c.clientSwapped {
		return ClientToServer
	}
	return ServerToClient
}

func (c *conn) pages() int { return c.half[0].pages + c.half[1].pages }

// finished reports whether both directions delivered everything up to their
// FIN.
func (c *conn) finished() bool { return c.half[0].finDone() && c.half[1].finDone() }

const (
	lruLinks = iota
	bufLinks
)

type link struct{ prev, next *conn }

// list is an intrusive doubly-linked list of conns through links[which]:
// O(1) push, remove and move, no allocation.
type list struct {
	head, tail *conn
	which      int
}

func (l *list) pushFront(c *conn) {
	k := &c.links[l.which]
	k.prev, k.next = nil, l.head
	if l.head != nil {
		l.head.links[l.which].prev = c
	} else {
		l.tail = c
	}
	l.head = c
}

func (l *list) pushBack(c *conn) {
	k := &c.links[l.which]
	k.prev, k.next = l.tail, nil
	if l.tail != nil {
		l.tail.links[l.which].next = c
	} else {
		l.head = c
	}
	l.tail = c
}

func (l *list) remove(c *conn) {
	k := &c.links[l.which]
	if k.prev != nil {
		k.prev.links[l.which].next = k.next
	} else {
		l.head = k.next
	}
	if k.next != nil {
		k.next.links[l.which].prev = k.prev
	} else {
		l.tail = k.prev
	}
	k.prev, k.next = nil, nil
}

func (l *list) moveToFront(c *conn) {
	if l.head != c {
		l.remove(c)
		l.pushFront(c)
	}
}
