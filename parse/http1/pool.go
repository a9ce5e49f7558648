package http1

import "math/bits"

// DefaultBodyMemory is the default Config.BodyMemory: the body buffers of
// all the Parsers sharing one Pool (one worker). A body under way holds its
// kept body (at most BodyKeep, 64 KiB by default) and, when it is
// content-encoded, its encoded prefix (at most max(BodyKeep, 256 KiB)), in
// buffers that grow in power-of-two classes from 4 KiB. Typical API bodies
// are a few KiB, so 64 MiB serves thousands of bodies under way at once, and
// still 200 maximal encoded ones; beyond it bodies are framed and counted but
// not kept (FlagBodyNotKept).
const DefaultBodyMemory = 64 << 20

const (
	minClassShift = 12 // smallest pooled buffer: 4 KiB
	numClasses    = 24 // 4 KiB .. 32 GiB: more than any Config asks for
	// headKeep is the largest head or line buffer a Parser keeps between
	// messages; a larger one comes from the Pool and goes back to it, so an
	// idle keep-alive connection holds at most this.
	headKeep = 4 << 10
	// maxKeptHeaders is the largest Headers slice kept between messages.
	maxKeptHeaders = 32
)

// Pool holds the body buffers and the content decoders of a group of
// Parsers that run on one goroutine (the two Parsers of every connection of
// one parse.Tracker), under one byte budget. A Parser takes buffers when a
// message's body starts and gives them back when the message is reported,
// so memory is bounded by the budget, not by the number of connections.
// Buffers given back are kept for reuse (counted in the budget); when a new
// buffer does not fit, kept ones are dropped first. A Pool is not safe for
// concurrent use and holds no global state.
type Pool struct {
	budget int64
	live   int64 // bytes of buffers allocated and not dropped: in use or free
	inUse  int64
	free   [numClasses][][]byte
	nfree  int64 // bytes on the free lists
	dec    decoder
	stats  PoolStats
}

// PoolStats describes a Pool's memory.
type PoolStats struct {
	Budget    int64  // the byte budget
	Live      int64  // bytes held: buffers in use plus buffers kept for reuse
	InUse     int64  // bytes of buffers lent to Parsers now
	PeakInUse int64  // the most InUse has been
	Denied    uint64 // buffer requests refused because the budget was spent
}

// NewPool returns a Pool of budget bytes (<= 0: DefaultBodyMemory).
func NewPool(budget int64) *Pool {
	if budget <= 0 {
		budget = DefaultBodyMemory
	}
	pl := &Pool{budget: budget}
	pl.dec.pool = pl
	return pl
}

// Stats reports the Pool's memory.
func (pl *Pool) Stats() PoolStats {
	s := pl.stats
	s.Budget, s.Live, s.InUse = pl.budget, pl.live, pl.inUse
	return s
}

func classOf(size int) int {
	if size <= 1<<minClassShift {
		return 0
	}
	return bits.Len(uint(size-1)) - minClassShift
}

// get returns an empty buffer of at least size bytes of capacity, or nil
// when the budget cannot afford it.
func (pl *Pool) get(size int) []byte {
	c := classOf(size)
	if c >= numClasses {
		pl.stats.Denied++
		return nil
	}
	capacity := int64(1) << (c + minClassShift)
	if n := len(pl.free[c]); n > 0 {
		b := pl.free[c][n-1]
		pl.free[c][n-1] = nil
		pl.free[c] = pl.free[c][:n-1]
		pl.nfree -= capacity
		pl.lend(capacity)
		return b
	}
	// Drop kept buffers of other sizes, largest first, until it fits.
	for i := numClasses - 1; i >= 0 && pl.live+capacity > pl.budget && pl.nfree > 0; i-- {
		for n := len(pl.free[i]); n > 0 && pl.live+capacity > pl.budget; n-- {
			sz := int64(cap(pl.free[i][n-1]))
			pl.free[i][n-1] = nil
			pl.free[i] = pl.free[i][:n-1]
			pl.nfree -= sz
			pl.live -= sz
		}
	}
	if pl.live+capacity > pl.budget {
		pl.stats.Denied++
		return nil
	}
	pl.live += capacity
	pl.lend(capacity)
	return make([]byte, 0, capacity)
}

func (pl *Pool) lend(n int64) {
	pl.inUse += n
	if pl.inUse > pl.stats.PeakInUse {
		pl.stats.PeakInUse = pl.inUse
	}
}

// put gives back a buffer that get returned.
func (pl *Pool) put(b []byte) {
	if cap(b) == 0 {
		return
	}
	c := classOf(cap(b))
	pl.inUse -= int64(cap(b))
	pl.free[c] = append(pl.free[c], b[:0])
	pl.nfree += int64(cap(b))
}

// grow makes room in *b for need more bytes, up to limit bytes in all,
// moving it to a larger pooled buffer when needed (a buffer with no
// capacity is a fresh one). It reports false when the budget refused: *b
// is then unchanged.
func (pl *Pool) grow(b *[]byte, need, limit int) bool {
	return pl.growHint(b, need, limit, 0)
}

// growHint is grow taking at least hint bytes (the expected final size,
// when known) at once, rather than doubling up to it.
func (pl *Pool) growHint(b *[]byte, need, limit, hint int) bool {
	want := min(len(*b)+need, limit)
	if want <= cap(*b) {
		return true
	}
	size := max(want, 2*cap(*b), hint)
	if size > limit {
		size = limit
	}
	nb := pl.get(size)
	if nb == nil {
		return false
	}
	nb = append(nb, *b...)
	pl.put(*b)
	*b = nb
	return true
}

// appendBounded appends as much of data to *b as limit and the budget
// allow; it reports false when the budget cut it short.
func (pl *Pool) appendBounded(b *[]byte, data []byte, limit int) bool {
	return pl.appendHint(b, data, limit, 0)
}

// appendHint is appendBounded with the expected final size, when known.
func (pl *Pool) appendHint(b *[]byte, data []byte, limit, hint int) bool {
	room := limit - len(*b)
	if room <= 0 || len(data) == 0 {
		return true
	}
	data = data[:min(room, len(data))]
	if len(*b)+len(data) > cap(*b) && !pl.growHint(b, len(data), limit, hint) {
		// Fill what is left of the current buffer.
		*b = append(*b, data[:cap(*b)-len(*b)]...)
		return false
	}
	*b = append(*b, data...)
	return true
}
