package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/spf13/pflag"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/pipeline"
)

// inputOptions says where packets come from (files or live interfaces) and
// how the pipeline is bounded; analyze and endpoints share them.
type inputOptions struct {
	ifaces      []string
	duration    time.Duration
	ports       []uint
	bpfFile     string
	fanoutGroup int
	quiet       bool
	pipeline    pipeline.Config
	bufferedMB  int64
	bodyMemMB   int64
	replaySpeed float64
	// onProgress, when set, also receives the progress reports (metrics).
	onProgress func(pipeline.Progress)
}

func (o *inputOptions) addFlags(f *pflag.FlagSet) {
	f.StringSliceVar(&o.ifaces, "iface", nil, "capture live from this interface (AF_PACKET); repeat for several")
	f.DurationVar(&o.duration, "duration", 0, "with --iface: stop after this long (default: until interrupted)")
	f.UintSliceVar(&o.ports, "port", nil, "with --iface: capture only TCP on this port; repeat for several")
	f.StringVar(&o.bpfFile, "bpf", "", "with --iface: `FILE` holding a classic BPF filter, as printed by: tcpdump -ddd 'EXPRESSION'")
	f.IntVar(&o.fanoutGroup, "fanout-group", 0, "with --iface: AF_PACKET fanout group id shared by the workers (default: derived from the process id)")
	f.BoolVar(&o.pipeline.Decoder.IgnoreVLAN, "ignore-vlan", false, "leave VLAN IDs out of the connection key: for mirrors that deliver one direction tagged and the other untagged")
	f.BoolVar(&o.quiet, "quiet", false, "do not log progress")
	f.Float64Var(&o.replaySpeed, "replay-speed", 0, "replay capture files at their recorded pace times this (1: as they were captured, as live traffic; 0: as fast as possible)")
	f.IntVar(&o.pipeline.Workers, "workers", 0, "parsing workers (default: number of CPUs)")
	f.IntVar(&o.pipeline.Reassembly.MaxConns, "max-conns", 0, "TCP connections tracked at once; beyond, the least recently active is evicted (default 262144)")
	f.DurationVar(&o.pipeline.Reassembly.IdleTimeout, "idle-timeout", 0, "close a connection idle this long in capture time (default 2m)")
	f.Int64Var(&o.bufferedMB, "max-buffered-mb", 0, "out-of-order bytes buffered across all connections, MiB (default 256)")
	f.IntVar(&o.pipeline.Parse.HTTP.BodyKeep, "body-keep", 0, "decoded body bytes kept per message for analysis (default 65536)")
	f.Int64Var(&o.bodyMemMB, "body-memory-mb", 0, "memory for message bodies being kept and decoded, MiB per worker; beyond it bodies are counted but not kept (default 64)")
}

// run reads the files (or the live interfaces) through the pipeline.
func (o *inputOptions) run(ctx context.Context, files []string, newHandler pipeline.HandlerFactory) (pipeline.Stats, error) {
	if len(files) == 0 && len(o.ifaces) == 0 {
		return pipeline.Stats{}, errors.New("nothing to analyze: give capture files, or --iface to capture live (try: apiwatch analyze testdata/demo.pcap.gz)")
	}
	if len(files) > 0 && len(o.ifaces) > 0 {
		return pipeline.Stats{}, errors.New("give capture files or --iface, not both")
	}
	o.pipeline.Reassembly.MaxBufferedBytes = o.bufferedMB << 20
	o.pipeline.Parse.HTTP.BodyMemory = o.bodyMemMB << 20
	o.pipeline.Progress = func(p pipeline.Progress) {
		if !o.quiet {
			logger.Info().Str("progress", p.String()).Msg("analyzing")
		}
		if o.onProgress != nil {
			o.onProgress(p)
		}
	}
	if len(o.ifaces) > 0 {
		return o.runLive(ctx, newHandler)
	}
	sources := make([]capture.Source, 0, len(files))
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	for _, name := range files {
		src, err := capture.OpenFile(name)
		if err != nil {
			return pipeline.Stats{}, err
		}
		if o.replaySpeed > 0 {
			src = capture.Paced(src, o.replaySpeed)
		}
		sources = append(sources, src)
	}
	st, err := pipeline.Run(ctx, o.pipeline, sources, files, newHandler)
	for _, in := range st.Inputs {
		if in.Err != nil {
			logger.Warn().Str("file", in.Name).Err(in.Err).Msg("capture ended early; the packets before the damage were analyzed")
		}
	}
	return st, err
}

// runLive captures from the --iface interfaces until interrupted or
// --duration passes. Each interface gets --workers sockets in a fanout group
// of its own.
func (o *inputOptions) runLive(ctx context.Context, newHandler pipeline.HandlerFactory) (pipeline.Stats, error) {
	cfg := capture.LiveConfig{Workers: o.pipeline.Workers, Promiscuous: true}
	for _, p := range o.ports {
		if p == 0 || p > 65535 {
			return pipeline.Stats{}, fmt.Errorf("--port %d: want 1-65535", p)
		}
		cfg.Ports = append(cfg.Ports, uint16(p))
	}
	if o.bpfFile != "" {
		b, err := os.ReadFile(o.bpfFile)
		if err != nil {
			return pipeline.Stats{}, fmt.Errorf("--bpf: %w", err)
		}
		cfg.BPF = string(b)
	}
	if o.duration > 0 {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, o.duration)
		defer cancel()
	}

	var sources []capture.Source
	var names []string
	defer func() {
		for _, s := range sources {
			s.Close()
		}
	}()
	// Fanout groups are host-wide and bound to one interface: each
	// interface needs its own id.
	group := o.fanoutGroup
	if group == 0 {
		group = os.Getpid() & 0x7fff
	}
	for i, iface := range o.ifaces {
		cfg.Interface = iface
		cfg.FanoutGroup = uint16(group + i)
		srcs, err := capture.OpenLive(cfg)
		if err != nil {
			return pipeline.Stats{}, fmt.Errorf("--iface %s: %w", iface, err)
		}
		for range srcs {
			names = append(names, iface)
		}
		sources = append(sources, srcs...)
	}
	dropPrivileges() // the sockets are open: CAP_NET_RAW and CAP_NET_ADMIN are needed no more
	logger.Info().Strs("interfaces", o.ifaces).Int("sockets", len(sources)).Msg("capturing; interrupt (Ctrl-C) to stop and print the summary")
	return pipeline.RunLive(ctx, o.pipeline, sources, names, newHandler)
}
