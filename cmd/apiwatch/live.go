package main

import (
	"context"
	"fmt"
	"os"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/pipeline"
)

// runLive captures from the --iface interfaces until interrupted or
// --duration passes. Each interface gets --workers sockets in a fanout group
// of its own.
func runLive(ctx context.Context, o *analyzeOptions, events *eventWriter) (pipeline.Stats, error) {
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
	logger.Info().Strs("interfaces", o.ifaces).Int("sockets", len(sources)).Msg("capturing; interrupt (Ctrl-C) to stop and print the summary")
	return pipeline.RunLive(ctx, o.pipeline, sources, names, events.handler)
}
