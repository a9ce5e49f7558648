package pipeline

import (
	"math"
	"slices"
	"sync"
)

// Ordered is implemented by handlers that put the transactions of all
// workers back in one order, the capture's. Workers run at their own pace,
// so a consumer they share (a detector) would otherwise see transactions in
// an order that changes from run to run, and so would its results.
//
// Run calls Position before each packet a worker processes, with the
// packet's place among the TCP packets read (from 1), and Through once the
// worker has reported the transactions of every packet of its share up to a
// place. A handler can hold what it made of its transactions and release it
// in Position order once every worker is through that far. The transactions
// of the connections closed at the end come at SeqEnd, worker by worker.
// RunLive does not call them (its sockets share no order), nor does Run
// with one worker (its order is the capture's).
type Ordered interface {
	Position(seq uint64)
	Through(seq uint64)
}

// SeqEnd is the Position of the transactions reported when the connections
// still open at the end of a run are closed.
const SeqEnd uint64 = math.MaxUint64

// Merger puts what Ordered handlers made of their transactions (events,
// say) back in capture order for a consumer the workers share. Each
// worker's handler holds its items, tagged with their Position, and hands
// them over at Through; the Merger passes on, in Position order, every item
// all workers are through. Items wait at most for the slowest worker's next
// batch: a few batches of packets, or maxBatchSpan of capture time.
type Merger[T any] struct {
	mu      sync.Mutex
	release func(T)
	upTo    []uint64    // by worker: its Through so far
	pending [][]Held[T] // by worker, in Position order
}

// Held is an item made of the transactions of the packet at Pos.
type Held[T any] struct {
	Pos  uint64
	Item T
}

// NewMerger returns a Merger that passes items on to release, which runs
// with the Merger locked: one item at a time.
func NewMerger[T any](release func(T)) *Merger[T] {
	return &Merger[T]{release: release}
}

// Join adds a worker and returns its index. Every worker joins before any
// calls Through: a HandlerFactory joins for the worker it makes.
func (m *Merger[T]) Join() int {
	m.upTo = append(m.upTo, 0)
	m.pending = append(m.pending, nil)
	return len(m.upTo) - 1
}

// Through takes the items of worker up to Position seq and passes on those
// every worker is through. Positions are unique to a worker but at SeqEnd,
// where the lower worker's items go first. The Merger keeps items, not
// their slice.
func (m *Merger[T]) Through(worker int, seq uint64, items []Held[T]) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.pending[worker] = append(m.pending[worker], items...)
	m.upTo[worker] = seq
	done := slices.Min(m.upTo)
	for {
		next := -1
		for w, q := range m.pending {
			if len(q) > 0 && q[0].Pos <= done && (next < 0 || q[0].Pos < m.pending[next][0].Pos) {
				next = w
			}
		}
		if next < 0 {
			return
		}
		item := m.pending[next][0].Item
		m.pending[next][0] = Held[T]{} // no reference kept
		m.pending[next] = m.pending[next][1:]
		m.release(item)
	}
}

// Pending returns how many items wait for a worker to be through them.
func (m *Merger[T]) Pending() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	n := 0
	for _, q := range m.pending {
		n += len(q)
	}
	return n
}
