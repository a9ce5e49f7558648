package reassembly

import "time"

// Defaults applied to zero (or negative) Config fields.
const (
	// DefaultMaxConns bounds the table at a few hundred bytes of state each
	// (~80 MB plus the Conns themselves): enough for the keep-alive pools of a
	// busy API tier, small enough for a sensor.
	DefaultMaxConns = 262144
	// DefaultMaxBufferedBytes caps out-of-order buffering across all
	// connections. Normal loss needs a fraction of it; it is the ceiling an
	// attacker spraying holes can make us spend.
	DefaultMaxBufferedBytes = 256 << 20
	// DefaultMaxConnBufferedBytes covers a large TCP receive window: a sender
	// cannot be further than one window ahead of a hole, so buffering more
	// than that never fills a hole, it only delays the gap.
	DefaultMaxConnBufferedBytes = 4 << 20
	// DefaultIdleTimeout outlasts common HTTP keep-alive timeouts (nginx 75s,
	// cloud load balancers 60s), so an idle keep-alive connection is not cut
	// in two, while still freeing the entries of connections whose end we
	// never saw.
	DefaultIdleTimeout = 120 * time.Second
	// DefaultLinger keeps a connection closed by FIN or RST in the table long
	// enough to swallow late retransmissions (an RTO of 1s doubled a few
	// times) instead of mistaking them for a new midstream connection.
	DefaultLinger = 5 * time.Second
	// DefaultRSTGrace is how long a connection stays open after a RST in case
	// data follows it. Data after a RST means the RST never reached (or was
	// ignored by) the endpoint: a forged RST, as censors and middleboxes
	// inject, must not blind us to the rest of the connection. One second
	// covers a retransmission round.
	DefaultRSTGrace = time.Second
)

// Config bounds an Assembler. The zero value is usable: each zero field takes
// its Default.
type Config struct {
	// MaxConns is how many connections are tracked at once. Opening one more
	// first drops the oldest lingering closed connection, else evicts the
	// least recently active one (CloseEvicted).
	MaxConns int
	// MaxBufferedBytes caps the out-of-order buffer memory of all
	// connections together, counted in whole pages so that tiny segments
	// cannot exceed it. Beyond it, the connection that has been holding
	// buffered data the longest gives up its holes (Gap, then the data).
	MaxBufferedBytes int64
	// MaxConnBufferedBytes caps one direction's out-of-order buffer (whole
	// pages). Beyond it the first hole is declared a gap and what follows is
	// delivered.
	MaxConnBufferedBytes int
	// IdleTimeout closes a connection with no packet for this long, measured
	// in capture time (packet timestamps), so replaying a file behaves as the
	// live capture did.
	IdleTimeout time.Duration
	// Linger is how long (capture time) a connection closed by FIN or RST
	// stays in the table after Conn.Close, dropping late packets. A new SYN
	// on the same addresses starts a new connection at once. Negative means
	// forget closed connections immediately.
	Linger time.Duration
	// RSTGrace is how long (capture time) a connection waits after a RST
	// before it is closed with CloseRST. Payload arriving meanwhile cancels
	// the RST and is counted as SuspectedRSTInjection. Negative closes at the
	// RST.
	RSTGrace time.Duration
}

func (c Config) withDefaults() Config {
	if c.MaxConns <= 0 {
		c.MaxConns = DefaultMaxConns
	}
	if c.MaxBufferedBytes <= 0 {
		c.MaxBufferedBytes = DefaultMaxBufferedBytes
	}
	if c.MaxConnBufferedBytes <= 0 {
		c.MaxConnBufferedBytes = DefaultMaxConnBufferedBytes
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = DefaultIdleTimeout
	}
	switch {
	case c.RSTGrace == 0:
		c.RSTGrace = DefaultRSTGrace
	case c.RSTGrace < 0:
		c.RSTGrace = 0
	}
	switch {
	case c.Linger == 0:
		c.Linger = DefaultLinger
	case c.Linger < 0:
		c.Linger = 0
	}
	return c
}
