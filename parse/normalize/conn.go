package normalize

import (
	"hash/maphash"
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
	// The actor of a caller without credentials, from its address.
	addrActorOf  netip.Addr
	addrActor    identity.Actor
	hasAddrActor bool
}

// memoSeed keys the hashes memoText compares.
var memoSeed = maphash.MakeSeed()

// memoText is a string derived from raw header bytes, and the hash of those
// bytes: comparing hashes spares the memo a copy of the input (one more
// cache line per value) and bounds its size whatever the headers hold. The
// seed is secret, so a client cannot craft a colliding value.
type memoText struct {
	key uint64
	val string
	ok  bool
}

// get returns the value when raw is the input it was derived from, and
// raw's key for set.
func (m *memoText) get(raw []byte) (string, uint64, bool) {
	k := maphash.Bytes(memoSeed, raw)
	return m.val, k, m.ok && m.key == k
}

// set remembers val as derived from the input of key and returns it.
func (m *memoText) set(key uint64, val string) string {
	m.key, m.val, m.ok = key, val, true
	return val
}

func (m *connMemo) reset(id uint64) {
	*m = connMemo{id: id}
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
