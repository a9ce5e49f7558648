// Package pipeline runs the sensor's stages — capture, decode, TCP
// reassembly, HTTP parsing — on worker goroutines, sharded by connection.
//
// Each worker owns a reassembly.Assembler and a parse.Tracker: no state is
// shared between workers, so the hot path takes no locks. Packets of one
// connection always reach the same worker (capture.Flow.Hash).
package pipeline

import (
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/reassembly"
)

// Config configures a run. The zero value is usable.
type Config struct {
	// Workers is the number of reassembly/parsing workers. Default
	// GOMAXPROCS. With one worker, packets are processed on the reading
	// goroutine with no hand-off at all.
	Workers int
	// ShardKey keys the hash that shards connections over the workers. With
	// a fixed key every run over a capture gives each worker the same
	// connections, so what a worker decides from the traffic it saw (which
	// response bodies to sample, which path positions to learn) comes out
	// the same; kept secret, it keeps crafted flows from piling onto one
	// worker. Zero draws a random key.
	ShardKey   uint64
	Decoder    capture.DecoderConfig
	Reassembly reassembly.Config
	Parse      parse.Config
	// Progress, when set, is called about every ProgressInterval from a
	// separate goroutine.
	Progress         func(Progress)
	ProgressInterval time.Duration // default 2s
}

// Progress is a snapshot of a run in flight.
type Progress struct {
	Elapsed    time.Duration
	Packets    uint64
	Read       int64 // bytes consumed of the input being read
	Total      int64 // size of that input, 0 when unknown
	Done       int64 // bytes of the inputs already finished
	Input      int   // index of the input being read
	InputCount int
	// Stats are the counters so far, as the stages last published them
	// (at most one report interval old): what metrics need while a live
	// capture runs.
	Stats Stats
}

// HandlerFactory makes the transaction handler of one worker. Handlers of
// different workers are called concurrently; one handler is only called
// from its own worker. A handler that implements Flusher is flushed once
// its worker has reported its last transaction.
type HandlerFactory func(worker int) parse.Handler

// Flusher is implemented by handlers that buffer output.
type Flusher interface {
	Flush()
}

// Stats summarises a run.
type Stats struct {
	Capture    capture.Stats
	Reassembly reassembly.Stats
	Parse      parse.Stats
	Inputs     []InputStats
	// Kernel holds the capture sockets' counters of a live run: packets
	// the kernel dropped never reached the decoder.
	Kernel capture.LiveStats
	// First and last packet capture times, Unix ns.
	FirstPacket, LastPacket int64
	Elapsed                 time.Duration
}

// InputStats describes how reading one input ended.
type InputStats struct {
	Name  string
	Bytes int64
	// Err is the error that ended the input early (a truncated capture
	// file), nil when it was read to its end.
	Err error
}

const (
	batchPackets = 256
	batchBytes   = 512 << 10
	maxBatchSpan = 100 * time.Millisecond
	// checkEvery is how many packets pass between looks at the context and
	// the progress counters: often enough to stop promptly, rarely enough to
	// cost nothing.
	checkEvery = 1024
)

func (c Config) withDefaults() Config {
	if c.Workers <= 0 {
		c.Workers = runtime.GOMAXPROCS(0)
	}
	if c.ProgressInterval <= 0 {
		c.ProgressInterval = 2 * time.Second
	}
	return c
}

// worker is one shard: an assembler feeding a tracker.
type worker struct {
	asm     *reassembly.Assembler
	tracker *parse.Tracker
	out     parse.Handler
	ord     Ordered // out, when it orders across workers
	in      chan *batch
	pub     *slot
}

// publish hands the worker's counters to the progress reports.
func (w *worker) publish() {
	w.pub.mu.Lock()
	w.pub.st.Reassembly, w.pub.st.Parse = w.asm.Stats(), w.tracker.Stats()
	w.pub.mu.Unlock()
}

func newWorker(cfg *Config, h parse.Handler) *worker {
	t := parse.NewTracker(cfg.Parse, h)
	return &worker{tracker: t, asm: reassembly.New(cfg.Reassembly, t), out: h}
}

// finish closes the worker's connections, reporting their last
// transactions, and merges its counters into st.
func (w *worker) finish(ts int64, st *Stats) {
	if w.ord != nil {
		w.ord.Position(SeqEnd)
	}
	w.asm.CloseAll(ts)
	if w.ord != nil {
		w.ord.Through(SeqEnd)
	}
	if f, ok := w.out.(Flusher); ok {
		f.Flush()
	}
	st.Reassembly.Add(w.asm.Stats())
	st.Parse.Add(w.tracker.Stats())
}

// batch carries packets from the reader to a worker. Payloads are copied
// into buf because the source reuses its buffer on the next read.
type batch struct {
	pkts []capture.Packet
	seqs []uint64 // each packet's place in the capture (Ordered.Position)
	// through: every packet up to this place that belongs to the worker is
	// in this batch or an earlier one (Ordered.Through).
	through uint64
	buf     []byte
}

func (b *batch) add(p *capture.Packet, seq uint64) {
	q := *p
	start := len(b.buf)
	b.buf = append(b.buf, p.Payload...)
	q.Payload = b.buf[start:len(b.buf):len(b.buf)]
	b.pkts = append(b.pkts, q)
	b.seqs = append(b.seqs, seq)
}

func (b *batch) fits(p *capture.Packet) bool {
	return len(b.pkts) < batchPackets && len(b.buf)+len(p.Payload) <= cap(b.buf)
}

// Run reads sources one after the other as one continuous capture (capture
// files, or the rotated pieces of one recording) and returns when all are
// read or ctx is done. Flows still open at the end are closed and their
// transactions reported.
func Run(ctx context.Context, cfg Config, sources []capture.Source, names []string, newHandler HandlerFactory) (Stats, error) {
	cfg = cfg.withDefaults()
	start := time.Now()
	workers := make([]*worker, cfg.Workers)
	for i := range workers {
		workers[i] = newWorker(&cfg, newHandler(i))
	}

	var prog progressCounters
	prog.inputs = len(sources)
	for _, w := range workers {
		w.pub = prog.slot()
	}
	r := reader{dec: capture.NewDecoder(cfg.Decoder), workers: workers, prog: &prog, pub: prog.slot(), shardKey: cfg.ShardKey}
	if r.shardKey == 0 {
		r.shardKey = rand.Uint64()
	}
	stopProgress := prog.report(cfg, start)
	defer stopProgress()

	var wg sync.WaitGroup
	if len(workers) > 1 {
		r.free = make(chan *batch, 4*len(workers)+len(workers))
		for i := 0; i < cap(r.free); i++ {
			r.free <- &batch{pkts: make([]capture.Packet, 0, batchPackets), seqs: make([]uint64, 0, batchPackets), buf: make([]byte, 0, batchBytes)}
		}
		r.cur = make([]*batch, len(workers))
		for _, w := range workers {
			if w.ord, _ = w.out.(Ordered); w.ord != nil {
				r.ordered = true
			}
			w.in = make(chan *batch, 4)
			wg.Add(1)
			go func(w *worker) {
				defer wg.Done()
				batches := 0
				for b := range w.in {
					for i := range b.pkts {
						if w.ord != nil {
							w.ord.Position(b.seqs[i])
						}
						w.asm.Packet(&b.pkts[i])
					}
					if w.ord != nil {
						w.ord.Through(b.through)
					}
					b.pkts, b.seqs, b.buf = b.pkts[:0], b.seqs[:0], b.buf[:0]
					r.free <- b
					// Every checkEvery packets or so, and whenever idle.
					if batches++; batches%(checkEvery/batchPackets) == 0 || len(w.in) == 0 {
						w.publish()
					}
				}
			}(w)
		}
	}

	var st Stats
	var runErr error
	for i, src := range sources {
		if idler, ok := src.(capture.Idler); ok && len(workers) > 1 {
			idler.OnIdle(r.flushAll) // a paced replay: no packet held back while it waits
		}
		prog.input.Store(int64(i))
		in := InputStats{Name: names[i]}
		in.Bytes, in.Err = r.readAll(ctx, src)
		prog.done.Add(in.Bytes)
		prog.currentRead.Store(0)
		st.Inputs = append(st.Inputs, in)
		if ctx.Err() != nil {
			runErr = ctx.Err()
			break
		}
	}
	r.flushAll()
	for _, w := range workers {
		if w.in != nil {
			close(w.in)
		}
	}
	wg.Wait()

	for _, w := range workers {
		w.finish(r.last, &st)
	}
	st.Capture = r.dec.Stats()
	st.FirstPacket, st.LastPacket = r.first, r.last
	st.Elapsed = time.Since(start)
	return st, runErr
}

// reader reads and decodes packets and hands them to the worker that owns
// their connection.
type reader struct {
	dec         *capture.Decoder
	workers     []*worker
	cur         []*batch // the batch being filled for each worker
	free        chan *batch
	prog        *progressCounters
	pub         *slot
	src         capture.Source // a live one, for the kernel's counters
	first, last int64
	pkt         capture.Packet
	shardKey    uint64
	flushAt     int64  // capture time at which partial batches are sent
	seq         uint64 // TCP packets dispatched: the last one's place
	// ordered: some handler orders across workers (Ordered), so every flush
	// tells every worker how far the capture has been dispatched, even one
	// that got no packet.
	ordered bool
}

// publish hands the reader's counters (and, working alone, its worker's)
// to the progress reports; it is called every checkEvery packets.
func (r *reader) publish() {
	r.pub.mu.Lock()
	r.pub.st.Capture = r.dec.Stats()
	r.pub.st.FirstPacket, r.pub.st.LastPacket = r.first, r.last
	if ls, ok := r.src.(capture.LiveStatser); ok {
		if k, err := ls.Stats(); err == nil {
			r.pub.st.Kernel = k
		}
	}
	r.pub.mu.Unlock()
	if len(r.workers) == 1 {
		r.workers[0].publish()
	}
}

func (r *reader) readAll(ctx context.Context, src capture.Source) (int64, error) {
	prog, _ := src.(capture.Progresser)
	var n uint64
	for {
		data, ci, err := src.ReadPacket()
		if err != nil {
			r.publish()
			read := r.prog.noteRead(prog)
			if errors.Is(err, io.EOF) {
				return read, nil
			}
			return read, err
		}
		if n++; n%checkEvery == 0 {
			r.prog.packets.Add(checkEvery)
			r.prog.noteRead(prog)
			r.publish()
			if ctx.Err() != nil {
				return r.prog.noteRead(prog), nil
			}
		}
		if r.first == 0 {
			r.first = ci.Timestamp
		}
		r.last = ci.Timestamp
		if r.dec.Decode(data, ci.LinkType, ci.Timestamp, &r.pkt) != capture.ResultTCP {
			continue
		}
		r.dispatch(&r.pkt)
	}
}

func (r *reader) dispatch(p *capture.Packet) {
	if len(r.workers) == 1 {
		r.workers[0].asm.Packet(p)
		return
	}
	if p.Timestamp >= r.flushAt {
		// No batch spans more than maxBatchSpan of capture time: on a
		// quiet link a worker's batch would otherwise fill for seconds
		// while the others run ahead, and their transactions reach the
		// handlers (and a shared detector) that far apart.
		r.flushAll()
		r.flushAt = p.Timestamp + int64(maxBatchSpan)
	}
	r.seq++
	i := int(p.Flow.Hash(r.shardKey) % uint64(len(r.workers)))
	b := r.cur[i]
	if b != nil && !b.fits(p) {
		b.through = r.seq - 1
		r.workers[i].in <- b
		b = nil
	}
	if b == nil {
		b = <-r.free
		if cap(b.buf) < len(p.Payload) {
			// Larger than any frame a NIC hands over, but a reassembled
			// IPv4 datagram can be up to 64 KiB.
			b.buf = make([]byte, 0, len(p.Payload))
		}
		r.cur[i] = b
	}
	b.add(p, r.seq)
}

func (r *reader) flushAll() {
	for i, b := range r.cur {
		if b == nil && r.ordered {
			b = <-r.free // empty: it only says how far the capture is dispatched
		}
		if b != nil {
			b.through = r.seq
			r.workers[i].in <- b
		}
		r.cur[i] = nil
	}
}

// progressCounters are written by the reader and read by the progress
// reporter, hence atomics; they are touched once per checkEvery packets.
type progressCounters struct {
	packets     atomic.Uint64
	currentRead atomic.Int64 // bytes consumed of the input being read
	done        atomic.Int64 // bytes of the inputs already finished
	total       atomic.Int64
	input       atomic.Int64
	inputs      int

	// The stages publish copies of their counters every checkEvery packets
	// (and when idle) in their slots, for the reports.
	slots []*slot
}

// slot holds a stage's counters as it last published them.
type slot struct {
	mu sync.Mutex
	st Stats
}

// slot adds a publication slot; call before the report starts.
func (p *progressCounters) slot() *slot {
	s := new(slot)
	p.slots = append(p.slots, s)
	return s
}

// published merges the slots.
func (p *progressCounters) published() Stats {
	var st Stats
	for _, s := range p.slots {
		s.mu.Lock()
		st.add(&s.st)
		s.mu.Unlock()
	}
	return st
}

func (p *progressCounters) noteRead(src capture.Progresser) int64 {
	if src == nil {
		return 0
	}
	read, total := src.Progress()
	p.currentRead.Store(read)
	p.total.Store(total)
	return read
}

func (p *progressCounters) report(cfg Config, start time.Time) (stop func()) {
	if cfg.Progress == nil {
		return func() {}
	}
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		t := time.NewTicker(cfg.ProgressInterval)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				cfg.Progress(Progress{
					Stats:      p.published(),
					Elapsed:    time.Since(start),
					Packets:    p.packets.Load(),
					Read:       p.currentRead.Load(),
					Done:       p.done.Load(),
					Total:      p.total.Load(),
					Input:      int(p.input.Load()),
					InputCount: p.inputs,
				})
			}
		}
	}()
	return func() { close(done); wg.Wait() }
}

// String formats a progress line.
func (p Progress) String() string {
	s := fmt.Sprintf("%d packets, %.1f MB", p.Packets, float64(p.Read)/1e6)
	if p.Total > 0 {
		s += fmt.Sprintf(" of %.1f MB (%.0f%%)", float64(p.Total)/1e6, 100*float64(p.Read)/float64(p.Total))
	}
	if p.InputCount > 1 {
		s += fmt.Sprintf(", file %d of %d", p.Input+1, p.InputCount)
	}
	if secs := p.Elapsed.Seconds(); secs > 0 {
		s += fmt.Sprintf(", %.0f MB/s", float64(p.Done+p.Read)/1e6/secs)
	}
	return s
}

// RunLive reads every source concurrently, each on a worker of its own,
// until ctx is done: live sockets of one fanout group, which the kernel
// already shards by connection. Sources return capture.ErrTimeout when idle,
// which is when a worker notices ctx.
func RunLive(ctx context.Context, cfg Config, sources []capture.Source, names []string, newHandler HandlerFactory) (Stats, error) {
	cfg = cfg.withDefaults()
	start := time.Now()
	var prog progressCounters
	prog.inputs = len(sources)
	readers := make([]*reader, len(sources))
	for i, src := range sources {
		// Handlers are made here, not in the worker: factories need not
		// be safe for concurrent use.
		w := newWorker(&cfg, newHandler(i))
		w.pub = prog.slot()
		readers[i] = &reader{dec: capture.NewDecoder(cfg.Decoder), workers: []*worker{w}, prog: &prog, pub: prog.slot(), src: src}
	}
	stopProgress := prog.report(cfg, start)
	defer stopProgress()

	type result struct {
		st  Stats
		err error
	}
	results := make([]result, len(sources))
	var wg sync.WaitGroup
	for i, src := range sources {
		r := readers[i]
		w := r.workers[0]
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := r.readLive(ctx, src)
			res := &results[i]
			w.finish(r.last, &res.st)
			res.st.Capture = r.dec.Stats()
			res.st.FirstPacket, res.st.LastPacket = r.first, r.last
			res.st.Inputs = []InputStats{{Name: names[i]}}
			if ls, ok := src.(capture.LiveStatser); ok {
				if k, kerr := ls.Stats(); kerr == nil {
					res.st.Kernel = k
				}
			}
			res.err = err
		}()
	}
	wg.Wait()

	var st Stats
	var runErr error
	for _, r := range results {
		st.add(&r.st)
		if r.err != nil && runErr == nil {
			runErr = r.err
		}
	}
	st.Elapsed = time.Since(start)
	return st, runErr
}

func (r *reader) readLive(ctx context.Context, src capture.Source) error {
	var n uint64
	for ctx.Err() == nil {
		data, ci, err := src.ReadPacket()
		if errors.Is(err, capture.ErrTimeout) {
			r.publish() // a quiet link still reports
			continue
		}
		if err != nil {
			return err
		}
		if n++; n%checkEvery == 0 {
			r.prog.packets.Add(checkEvery)
			r.publish()
		}
		if r.first == 0 {
			r.first = ci.Timestamp
		}
		r.last = ci.Timestamp
		if r.dec.Decode(data, ci.LinkType, ci.Timestamp, &r.pkt) == capture.ResultTCP {
			r.workers[0].asm.Packet(&r.pkt)
		}
	}
	return nil
}

// add merges the stats of another worker's run into s.
func (s *Stats) add(o *Stats) {
	s.Capture.Add(&o.Capture)
	s.Reassembly.Add(o.Reassembly)
	s.Parse.Add(o.Parse)
	s.Inputs = append(s.Inputs, o.Inputs...)
	s.Kernel.Packets += o.Kernel.Packets
	s.Kernel.Drops += o.Kernel.Drops
	s.Kernel.Freezes += o.Kernel.Freezes
	if s.FirstPacket == 0 || o.FirstPacket != 0 && o.FirstPacket < s.FirstPacket {
		s.FirstPacket = o.FirstPacket
	}
	s.LastPacket = max(s.LastPacket, o.LastPacket)
}
