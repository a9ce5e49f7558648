package main

import (
	"bufio"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sync"

	"github.com/spf13/cobra"

	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/inventory"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/normalize"
	"github.com/apiwatch/apiwatch/pipeline"
)

type analyzeOptions struct {
	input      inputOptions
	normalize  normalizeOptions
	detect     detectOptions
	store      storeOptions
	events     string
	cpuProfile string
	parseOnly  bool
}

func newAnalyzeCmd() *cobra.Command {
	var o analyzeOptions
	cmd := &cobra.Command{
		Use:   "analyze [FILE...]",
		Short: "Turn capture files or a live interface into API events and summarise them",
		Long: `Reads pcap, pcapng or gzip-compressed captures (several files are read in
order as one continuous capture), or captures live from --iface, and reports
what it found: packets, connections, HTTP transactions and every drop by
reason, then the findings of the detectors (enumeration, data exposure,
credential stuffing; detect/README.md). --events writes one API event per
transaction (event/README.md), --findings one finding per line.

  apiwatch analyze testdata/demo.pcap.gz
  apiwatch analyze --events events.jsonl capture-*.pcap
  apiwatch analyze --iface eth1 --port 80 --port 8080 --duration 1m`,
		RunE: func(cmd *cobra.Command, files []string) error {
			return runAnalyze(cmd, files, &o)
		},
	}
	f := cmd.Flags()
	o.input.addFlags(f)
	o.normalize.addFlags(f)
	o.detect.addFlags(f)
	o.store.addFlags(f)
	f.StringVar(&o.events, "events", "", "write one JSON API event per line to this `FILE` ('-' for stdout)")
	f.BoolVar(&o.parseOnly, "parse-only", false, "stop after HTTP parsing: no API events (measures what normalization costs; not with --events)")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (inspect with: go tool pprof FILE)")
	return cmd
}

func runAnalyze(cmd *cobra.Command, files []string, o *analyzeOptions) error {
	var ncfg normalize.Config
	switch {
	case o.parseOnly && o.events != "":
		return fmt.Errorf("--parse-only produces no events: drop --events or --parse-only")
	case !o.parseOnly:
		var err error
		if ncfg, err = o.normalize.config(); err != nil {
			return err
		}
		o.input.pipeline.ShardKey = o.normalize.shardKey()
	}
	var det *detector
	if !o.parseOnly {
		var err error
		if det, err = o.detect.open(); err != nil {
			return err
		}
	}
	var store *sink
	if !o.parseOnly {
		var err error
		if store, err = o.store.open(cmd.Context()); err != nil {
			return err
		}
	}
	events, closeEvents, err := openEvents(o.events, cmd.OutOrStdout())
	if err != nil {
		return err
	}
	if o.cpuProfile != "" {
		stop, err := startCPUProfile(o.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	// The workers share the detector, the store and the event file: their
	// events reach them in capture order, or the findings would depend on
	// how the workers happened to be scheduled.
	shared := eventSinks{out: events.buffer(), det: det, store: store}
	merger := pipeline.NewMerger(func(k normalize.Kept) {
		shared.consume(k.Event())
		k.Release()
	})
	st, runErr := o.input.run(cmd.Context(), files, func(int) parse.Handler {
		if o.parseOnly {
			return parse.HandlerFunc(func(*parse.Transaction) {})
		}
		sinks := eventSinks{out: events.buffer(), det: det, store: store}
		return &orderedHandler{eventHandler: eventHandler{n: normalize.New(ncfg), eventSinks: sinks}, merger: merger, worker: merger.Join()}
	})
	shared.flush()
	if err := closeEvents(); err != nil {
		return err
	}
	out := cmd.OutOrStdout()
	if o.events == "-" {
		out = cmd.ErrOrStderr()
	}
	st.WriteSummary(out)
	writeEventPanics(out, &o.normalize.panics)
	if det != nil {
		if err := det.finish(&o.detect, out); err != nil {
			return err
		}
	}
	if store != nil {
		if err := store.finish(det, out); err != nil {
			return err
		}
	}
	if runErr != nil && cmd.Context().Err() == nil {
		return runErr
	}
	return nil
}

// eventHandler is one worker's end of the pipeline: it normalizes each
// transaction and hands the event to its sinks.
type eventHandler struct {
	n *normalize.Normalizer
	eventSinks
}

// Transaction implements parse.Handler.
func (h *eventHandler) Transaction(t *parse.Transaction) {
	if e := h.n.Event(t); e != nil {
		h.consume(e)
	}
}

// Flush implements pipeline.Flusher.
func (h *eventHandler) Flush() { h.flush() }

// orderedHandler is an eventHandler whose events reach the sinks shared by
// all workers in capture order, through a pipeline.Merger, when the
// pipeline orders them (pipeline.Ordered: several workers reading files).
type orderedHandler struct {
	eventHandler
	merger  *pipeline.Merger[normalize.Kept]
	worker  int
	ordered bool   // Position was called: events go through merger
	pos     uint64 // Position of the transactions reported now
	held    []pipeline.Held[normalize.Kept]
}

// Transaction implements parse.Handler.
func (h *orderedHandler) Transaction(t *parse.Transaction) {
	e := h.n.Event(t)
	if e == nil {
		return // counted and logged (eventPanics)
	}
	if !h.ordered {
		h.consume(e)
		return
	}
	h.held = append(h.held, pipeline.Held[normalize.Kept]{Pos: h.pos, Item: h.n.Keep()})
}

// Position implements pipeline.Ordered.
func (h *orderedHandler) Position(seq uint64) { h.ordered, h.pos = true, seq }

// Through implements pipeline.Ordered.
func (h *orderedHandler) Through(seq uint64) {
	h.merger.Through(h.worker, seq, h.held)
	clear(h.held) // the merger has them now
	h.held = h.held[:0]
}

// eventSinks are where events go: an event file, an inventory, a detector,
// ClickHouse; those left nil are skipped.
type eventSinks struct {
	out   *eventBuffer
	inv   *inventory.Inventory
	det   *detector
	store *sink
}

func (s *eventSinks) consume(e *event.APIEvent) {
	if s.out != nil {
		s.out.add(e)
	}
	if s.inv != nil {
		s.inv.Add(e)
	}
	if s.det != nil {
		s.det.process(e)
	}
	if s.store != nil {
		s.store.add(e)
	}
}

func (s *eventSinks) flush() {
	if s.out != nil {
		s.out.flush()
	}
}

// eventWriter writes events as JSON lines. Each worker encodes into a
// buffer of its own and takes the lock only to hand over a full buffer.
type eventWriter struct {
	mu  sync.Mutex
	out *bufio.Writer
	err error
}

func openEvents(path string, stdout io.Writer) (*eventWriter, func() error, error) {
	if path == "" {
		return &eventWriter{}, func() error { return nil }, nil
	}
	var w = stdout
	var f *os.File
	if path != "-" {
		var err error
		if f, err = os.Create(path); err != nil {
			return nil, nil, fmt.Errorf("--events: %w", err)
		}
		w = f
	}
	ew := &eventWriter{out: bufio.NewWriterSize(w, 1<<20)}
	return ew, func() error {
		err := ew.out.Flush()
		if f != nil {
			if cerr := f.Close(); err == nil {
				err = cerr
			}
		}
		if ew.err != nil {
			err = ew.err
		}
		if err != nil {
			return fmt.Errorf("--events %s: %w", path, err)
		}
		return nil
	}, nil
}

// buffer returns a worker's buffer, or nil when no events are written.
func (e *eventWriter) buffer() *eventBuffer {
	if e.out == nil {
		return nil
	}
	return &eventBuffer{w: e}
}

type eventBuffer struct {
	w   *eventWriter
	buf []byte
}

func (b *eventBuffer) add(e *event.APIEvent) {
	line, err := event.MarshalJSON(e)
	if err != nil {
		b.w.setErr(err)
		return
	}
	b.buf = append(append(b.buf, line...), '\n')
	if len(b.buf) >= 64<<10 {
		b.flush()
	}
}

func (b *eventBuffer) flush() {
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	if _, err := b.w.out.Write(b.buf); err != nil && b.w.err == nil {
		b.w.err = err
	}
	b.buf = b.buf[:0]
}

func (e *eventWriter) setErr(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
}

func startCPUProfile(path string) (stop func(), err error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("--cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}

// writeEventPanics adds to a run's summary the transactions left without an
// event by a bug, if any.
func writeEventPanics(w io.Writer, p *eventPanics) {
	if n := p.count(); n > 0 {
		fmt.Fprintf(w, "\nevents not built, a bug (see the log): %d\n", n)
	}
}
