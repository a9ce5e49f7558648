package parse

import (
	"errors"

	"github.com/apiwatch/apiwatch/parse/reassembly"
	"github.com/apiwatch/apiwatch/parse/tlshello"
)

// helloMemory bounds the bytes all connections of a Tracker hold while
// their ClientHello is incomplete. A real hello arrives in one or two
// segments; only a flood of stalled handshakes comes near it.
const helloMemory = 8 << 20

// helloState tracks the search for a TLS ClientHello at the start of a
// connection.
type helloState uint8

const (
	helloUndecided helloState = iota
	helloCollecting
	helloDone
)

// tlsHello watches the first bytes of a connection for a TLS ClientHello
// and reports what it tells (SNI, ALPN, JA4) once, as a transaction with
// only TLS set. Either direction may carry it: a midstream pickup can orient
// the connection the wrong way round.
func (c *conn) tlsHello(dir reassembly.Direction, data []byte, ts int64) {
	t := c.t
	switch c.hello {
	case helloDone:
		return
	case helloUndecided:
		// A handshake record (0x16) whose first message is a ClientHello (1).
		if len(data) < 6 || data[0] != 0x16 || data[5] != 1 {
			if len(data) > 0 {
				c.hello = helloDone
			}
			return
		}
		c.hello, c.helloDir, c.helloStart = helloCollecting, dir, ts
	}
	if dir != c.helloDir {
		return
	}
	room := min(tlshello.MaxHelloBytes-len(c.helloBuf), helloMemory-t.helloBytes)
	n := min(len(data), max(room, 0))
	c.helloBuf = append(c.helloBuf, data[:n]...)
	t.helloBytes += n
	err := tlshello.Parse(c.helloBuf, &t.hello)
	switch {
	case err == nil:
		t.stats.TLSHellos++
		tx := &t.tx
		tx.Flow = c.flow
		if dir == reassembly.ServerToClient {
			tx.Flow = c.flow.Reverse()
		}
		tx.TLS, tx.TLSStart, tx.Conn = &t.hello, c.helloStart, &c.state
		t.out.Transaction(tx)
		*tx = Transaction{}
	case errors.Is(err, tlshello.ErrNeedMore) && room > len(data):
		return // wait for the rest
	default:
		t.stats.TLSUnparsed++
	}
	c.endHello()
}

// endHello stops looking for a ClientHello and gives back its memory.
func (c *conn) endHello() {
	c.t.helloBytes -= len(c.helloBuf)
	c.hello = helloDone
	if cap(c.helloBuf) > spareBufMax {
		c.helloBuf = nil
	}
	c.helloBuf = c.helloBuf[:0]
}
