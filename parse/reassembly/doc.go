// Package reassembly turns TCP segments into the in-order byte streams of each
// connection, as a passive observer on a mirror port sees them: with
// retransmissions, reordering, overlaps, lost segments, no SYN, one side only.
//
// An Assembler owns a table of connections. It is not safe for concurrent use:
// run one Assembler per worker and shard packets across workers by
// capture.Flow.Hash, so each connection lives in exactly one Assembler.
//
// Call order for one connection, on the goroutine that calls Assembler.Packet:
// Factory.New once, then any number of Conn.Data and Conn.Gap calls, then
// exactly one Conn.Close.
package reassembly

import "github.com/apiwatch/apiwatch/capture"

// Direction names the side of a connection that sent some bytes.
type Direction uint8

const (
	// ClientToServer is the direction of the SYN (the opposite of the
	// SYN-ACK when only that was seen), or when the handshake was not seen,
	// the direction of the first packet seen carrying data: a pure ACK, FIN
	// or RST of an unknown connection opens none.
	ClientToServer Direction = iota
	ServerToClient
)

func (d Direction) String() string {
	if d == ClientToServer {
		return "client"
	}
	return "server"
}

// Reverse returns the other direction.
func (d Direction) Reverse() Direction { return 1 - d }

// CloseReason tells why a connection ended.
type CloseReason uint8

const (
	CloseFIN     CloseReason = iota // both sides sent FIN (or one side did and the other went idle)
	CloseRST                        // a RST was seen
	CloseIdle                       // no packet for Config.IdleTimeout of capture time
	CloseEvicted                    // pushed out by memory or flow-count pressure
	CloseEnd                        // the input ended (Assembler.CloseAll)
	CloseReused                     // a new SYN reused the same addresses and ports
)

var closeReasonNames = [...]string{"fin", "rst", "idle", "evicted", "end", "reused"}

func (r CloseReason) String() string {
	if int(r) < len(closeReasonNames) {
		return closeReasonNames[r]
	}
	return "unknown"
}

// Conn receives one connection's reassembled bytes.
type Conn interface {
	// Data delivers the next in-order bytes of one direction. data is only
	// valid during the call. ts is the capture time (Unix ns) of the segment
	// that completed these bytes.
	Data(dir Direction, data []byte, ts int64)
	// Gap reports that n > 0 bytes of one direction are missing (lost on the
	// mirror, or given up on) before the next Data of that direction.
	Gap(dir Direction, n int, ts int64)
	// Close ends the connection. Buffered bytes that could be delivered have
	// been, with Gap calls for the holes between them.
	Close(reason CloseReason, ts int64)
}

// Factory creates the Conn for a new connection. flow is oriented client to
// server as far as the Assembler knows (see ClientToServer).
type Factory interface {
	New(flow capture.Flow, ts int64) Conn
}
