// Package parse turns TCP segments into HTTP transactions: it wires the TCP
// reassembler (parse/reassembly) to one HTTP/1.x parser per direction
// (parse/http1) and pairs requests with responses per connection.
package parse

import (
	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/parse/tlshello"
)

// TxFlags mark how complete a transaction is.
type TxFlags uint8

const (
	// TxUnanswered: the request got no response before the connection ended.
	TxUnanswered TxFlags = 1 << iota
	// TxNoRequest: a response was seen without its request (one-sided
	// capture, midstream pickup, or the request was lost in a gap).
	TxNoRequest
	// TxQueueOverflow: more pipelined requests were waiting than
	// Config.MaxPending, and this one was reported before its response.
	TxQueueOverflow
)

// Transaction is one HTTP request paired with its response.
//
// A Transaction handed to a Handler, and the Messages it points to, are only
// valid during the call.
type Transaction struct {
	// Flow is oriented client to server: the client is the side that sent
	// the request.
	Flow capture.Flow
	// Request and Response are nil when that half was not seen.
	Request, Response *http1.Message
	// TLS is set, alone, for a connection that opened with a TLS
	// ClientHello: what apiwatch can tell of an encrypted flow. TLSStart is
	// the capture time of its first byte.
	TLS      *tlshello.Hello
	TLSStart int64
	// Interim counts 1xx interim responses (100 Continue, 102, 103) that came
	// before the final response.
	Interim int
	Flags   TxFlags
	// Conn is the connection's state for the Handler: the same for every
	// transaction of one connection. Nil outside a Tracker.
	Conn *ConnState
}

// ConnState lets a Handler keep what is constant on a connection (resolved
// addresses, the Host, the caller) instead of working it out for every
// transaction. ID is unique among the connections of a Tracker. Value is the
// Handler's: the Tracker reuses a ConnState for later connections without
// clearing Value, so a Handler compares the ID it stored in Value with ID
// before trusting it (and can reuse what Value points to without
// allocating).
type ConnState struct {
	ID    uint64
	Value any
}

// MessageFlags returns the flags of the request and the response together.
func (t *Transaction) MessageFlags() http1.Flags {
	var f http1.Flags
	if t.Request != nil {
		f |= t.Request.Flags
	}
	if t.Response != nil {
		f |= t.Response.Flags
	}
	return f
}

// Gap reports whether bytes of either message were lost.
func (t *Transaction) Gap() bool { return t.MessageFlags()&http1.FlagGap != 0 }

// Handler receives transactions.
type Handler interface {
	Transaction(t *Transaction)
}

// HandlerFunc adapts a function to Handler.
type HandlerFunc func(t *Transaction)

func (f HandlerFunc) Transaction(t *Transaction) { f(t) }
