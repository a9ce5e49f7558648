package normalize

import (
	"bytes"
	"net/netip"

	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/identity"
)

// connMemo is what a Normalizer keeps per connection (parse.ConnState):
// values that seldom change between the transactions of one connection,
// each with the input it came from. A transaction then compares a few bytes
// where it would otherwise look up, lower-case, intern and hash; and the
// memo sits beside the connection's parser state, which the transaction
// just used, rather than in tables spread over memory.
type connMemo struct {
	id         uint64 // parse.ConnState.ID the memo holds values of
	flowOK     bool
	src, dst   netip.Addr
	srcS, dstS string
	host, ua   memoText
	reqCT      memoText // request media type
	respCT     memoText // response media type
	// The actor an Authorization header decided: authKey is the header's
	// hash (no credential is kept).
	authKey  uint64
	actor    identity.Actor
	hasActor bool
}

// maxMemoBytes bounds the input a memoText keeps; longer inputs are not
// memoised, so a connection's memo stays small whatever the headers hold.
const maxMemoBytes = 256

// memoText is a string derived from raw header bytes.
type memoText struct {
	raw []byte
	val string
	ok  bool
}

// get returns the value when raw is the input it was derived from.
func (m *memoText) get(raw []byte) (string, bool) {
	return m.val, m.ok && bytes.Equal(m.raw, raw)
}

// set remembers val as derived from raw and returns it.
func (m *memoText) set(raw []byte, val string) string {
	m.ok = len(raw) <= maxMemoBytes
	if m.ok {
		m.raw, m.val = append(m.raw[:0], raw...), val
	}
	return val
}

func (m *connMemo) reset(id uint64) {
	*m = connMemo{id: id,
		host: memoText{raw: m.host.raw[:0]}, ua: memoText{raw: m.ua.raw[:0]},
		reqCT: memoText{raw: m.reqCT.raw[:0]}, respCT: memoText{raw: m.respCT.raw[:0]}}
}

// memo returns the memo of t's connection, reset when it held another
// connection's values. A transaction outside a Tracker gets a memo of its
// own, reset every time.
func (n *Normalizer) memo(t *parse.Transaction) *connMemo {
	if t.Conn == nil {
		n.loose.reset(0)
		return &n.loose
	}
	m, _ := t.Conn.Value.(*connMemo)
	if m == nil {
		m = new(connMemo)
		t.Conn.Value = m
		m.reset(t.Conn.ID)
	} else if m.id != t.Conn.ID {
		m.reset(t.Conn.ID)
	}
	return m
}
