package main

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"runtime/pprof"
	"sync"
	"time"

	"github.com/spf13/cobra"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/pipeline"
)

type analyzeOptions struct {
	ifaces      []string
	duration    time.Duration
	ports       []uint
	bpfFile     string
	fanoutGroup int
	events      string
	quiet       bool
	pipeline    pipeline.Config
	bufferedMB  int64
	bodyMemMB   int64
	cpuProfile  string
}

func newAnalyzeCmd() *cobra.Command {
	var o analyzeOptions
	cmd := &cobra.Command{
		Use:   "analyze [FILE...]",
		Short: "Reassemble HTTP from capture files or a live interface and summarise it",
		Long: `Reads pcap, pcapng or gzip-compressed captures (several files are read in
order as one continuous capture), or captures live from --iface, and reports
what it found: packets, connections, HTTP transactions and every drop by reason.

  apiwatch analyze testdata/demo.pcap.gz
  apiwatch analyze --events tx.jsonl capture-*.pcap
  apiwatch analyze --iface eth1 --port 80 --port 8080 --duration 1m`,
		RunE: func(cmd *cobra.Command, files []string) error {
			return runAnalyze(cmd, files, &o)
		},
	}
	f := cmd.Flags()
	f.StringSliceVar(&o.ifaces, "iface", nil, "capture live from this interface (AF_PACKET); repeat for several")
	f.DurationVar(&o.duration, "duration", 0, "with --iface: stop after this long (default: until interrupted)")
	f.UintSliceVar(&o.ports, "port", nil, "with --iface: capture only TCP on this port; repeat for several")
	f.StringVar(&o.bpfFile, "bpf", "", "with --iface: `FILE` holding a classic BPF filter, as printed by: tcpdump -ddd 'EXPRESSION'")
	f.IntVar(&o.fanoutGroup, "fanout-group", 0, "with --iface: AF_PACKET fanout group id shared by the workers (default: derived from the process id)")
	f.BoolVar(&o.pipeline.Decoder.IgnoreVLAN, "ignore-vlan", false, "leave VLAN IDs out of the connection key: for mirrors that deliver one direction tagged and the other untagged")
	f.StringVar(&o.events, "events", "", "write one JSON object per HTTP transaction to this file ('-' for stdout)")
	f.BoolVar(&o.quiet, "quiet", false, "do not log progress")
	f.IntVar(&o.pipeline.Workers, "workers", 0, "parsing workers (default: number of CPUs)")
	f.IntVar(&o.pipeline.Reassembly.MaxConns, "max-conns", 0, "TCP connections tracked at once; beyond, the least recently active is evicted (default 262144)")
	f.DurationVar(&o.pipeline.Reassembly.IdleTimeout, "idle-timeout", 0, "close a connection idle this long in capture time (default 2m)")
	f.Int64Var(&o.bufferedMB, "max-buffered-mb", 0, "out-of-order bytes buffered across all connections, MiB (default 256)")
	f.IntVar(&o.pipeline.Parse.HTTP.BodyKeep, "body-keep", 0, "decoded body bytes kept per message for analysis (default 65536)")
	f.Int64Var(&o.bodyMemMB, "body-memory-mb", 0, "memory for message bodies being kept and decoded, MiB per worker; beyond it bodies are counted but not kept (default 64)")
	f.StringVar(&o.cpuProfile, "cpuprofile", "", "write a CPU profile of the run to this file (inspect with: go tool pprof FILE)")
	return cmd
}

func runAnalyze(cmd *cobra.Command, files []string, o *analyzeOptions) error {
	if len(files) == 0 && len(o.ifaces) == 0 {
		return errors.New("nothing to analyze: give capture files, or --iface to capture live (try: apiwatch analyze testdata/demo.pcap.gz)")
	}
	if len(files) > 0 && len(o.ifaces) > 0 {
		return errors.New("give capture files or --iface, not both")
	}
	o.pipeline.Reassembly.MaxBufferedBytes = o.bufferedMB << 20
	o.pipeline.Parse.HTTP.BodyMemory = o.bodyMemMB << 20
	if !o.quiet {
		o.pipeline.Progress = func(p pipeline.Progress) {
			logger.Info().Str("progress", p.String()).Msg("analyzing")
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

	ctx := cmd.Context()
	var st pipeline.Stats
	var runErr error
	if len(files) > 0 {
		sources := make([]capture.Source, 0, len(files))
		defer func() {
			for _, s := range sources {
				s.Close()
			}
		}()
		for _, name := range files {
			src, err := capture.OpenFile(name)
			if err != nil {
				return err
			}
			sources = append(sources, src)
		}
		st, runErr = pipeline.Run(ctx, o.pipeline, sources, files, events.handler)
	} else {
		st, runErr = runLive(ctx, o, events)
	}
	if err := closeEvents(); err != nil {
		return err
	}
	for _, in := range st.Inputs {
		if in.Err != nil {
			logger.Warn().Str("file", in.Name).Err(in.Err).Msg("capture ended early; the packets before the damage were analyzed")
		}
	}
	out := cmd.OutOrStdout()
	if o.events == "-" {
		out = cmd.ErrOrStderr()
	}
	st.WriteSummary(out)
	if runErr != nil && !errors.Is(runErr, ctx.Err()) {
		return runErr
	}
	return nil
}

// eventWriter writes transactions as JSON lines. Each worker encodes into a
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
	var w io.Writer = stdout
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

func (e *eventWriter) handler(worker int) parse.Handler {
	if e.out == nil {
		return parse.HandlerFunc(func(*parse.Transaction) {})
	}
	return &eventBuffer{w: e}
}

type eventBuffer struct {
	w   *eventWriter
	buf []byte
}

func (b *eventBuffer) Transaction(t *parse.Transaction) {
	line, err := json.Marshal(t.JSON())
	if err != nil {
		b.w.setErr(err)
		return
	}
	b.buf = append(append(b.buf, line...), '\n')
	if len(b.buf) >= 64<<10 {
		b.flush()
	}
}

// Flush implements pipeline's end-of-run hook.
func (b *eventBuffer) Flush() { b.flush() }

func (b *eventBuffer) flush() {
	b.w.mu.Lock()
	defer b.w.mu.Unlock()
	if _, err := b.w.out.Write(b.buf); err != nil && b.w.err == nil {
		b.w.err = err
	}
	b.buf = b.buf[:0]
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

func (e *eventWriter) setErr(err error) {
	e.mu.Lock()
	defer e.mu.Unlock()
	if e.err == nil {
		e.err = err
	}
}
