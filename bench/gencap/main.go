// Command gencap synthesizes a pcap of realistic HTTP/1.1 JSON API traffic,
// many clients against a few API servers, for apiwatch's benchmarks, tests
// and demo. The output is deterministic for a given -seed, and comes with a
// FILE.truth.json sidecar counting what was written and, for the actor
// scenarios, labeling attacks and heavy users. The generator itself is
// internal/trafficgen, for tests to call.
//
//	go run ./bench/gencap -o bench/out/bench.pcap -size 300MB
//	go run ./bench/gencap -seed 1 -size 2MB -o testdata/demo.pcap.gz
//	go run ./bench/gencap -scenario attacks -duration 12m -o bench/out/attacks.pcap.gz
package main

import (
	"flag"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/apiwatch/apiwatch/internal/trafficgen"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gencap:", err)
		os.Exit(1)
	}
}

// normalOnly are the flags only the "normal" scenario reads; -duration is
// the one only the actor scenarios read.
var normalOnly = []string{"size", "conns", "clients", "pipeline"}

func run(args []string) error {
	cfg := trafficgen.DefaultConfig()
	fs := flag.NewFlagSet("gencap", flag.ContinueOnError)
	out := fs.String("o", "", "output pcap file; gzip-compressed when it ends in .gz (required)")
	fs.StringVar(&cfg.Scenario, "scenario", cfg.Scenario, "traffic mix: "+strings.Join(trafficgen.Scenarios(), ", "))
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed: the same seed and flags give the same file")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "requests per second over the capture (default: normal 4 per connection, others 30)")
	fs.Float64Var(&cfg.IPv6, "ipv6", cfg.IPv6, "fraction of clients on IPv6")
	fs.Float64Var(&cfg.VLAN, "vlan", cfg.VLAN, "fraction of connections 802.1Q-tagged")
	fs.BoolVar(&cfg.Nanos, "nanos", false, "nanosecond timestamps (default microsecond)")
	start := fs.String("start", cfg.Start.Format(time.RFC3339), "capture time of the first packet (RFC 3339)")
	size := fs.String("size", "300MB", "normal: stop once the pcap (before gzip) reaches this size; open connections then finish (KB, MB, GB)")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "normal: connections open at once (default: scales with -size, 16 to 500)")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "normal: distinct client hosts (actors)")
	fs.Float64Var(&cfg.Pipeline, "pipeline", cfg.Pipeline, "normal: fraction of connections that pipeline requests")
	fs.DurationVar(&cfg.Duration, "duration", cfg.Duration, "benign, attacks: capture time the traffic spans")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("need -o FILE and no arguments")
	}
	if err := checkFlags(fs, cfg.Scenario); err != nil {
		return err
	}
	var err error
	if cfg.Size, err = parseSize(*size); err != nil {
		return err
	}
	if cfg.Start, err = time.Parse(time.RFC3339, *start); err != nil {
		return fmt.Errorf("-start: %w", err)
	}

	began := time.Now()
	truth, err := trafficgen.WriteFiles(*out, cfg)
	if err != nil {
		return err
	}
	elapsed := time.Since(began)
	fi, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Printf("gencap: wrote %s: %d bytes on disk, %d bytes of pcap, %d packets, %d connections, %d requests, %d responses (%d chunked, %d gzip, %d pipelined requests) in %.1fs (%.0f MB/s of pcap)\n",
		*out, fi.Size(), truth.PcapBytes, truth.Packets, truth.Connections, truth.Requests, truth.Responses,
		truth.Chunked, truth.Gzip, truth.PipelinedRequests, elapsed.Seconds(), float64(truth.PcapBytes)/1e6/elapsed.Seconds())
	if truth.Episodes != nil {
		span := truth.LastPacket.Sub(truth.FirstPacket)
		fmt.Printf("gencap: %s of capture time, %.0f requests/s, %d attack episodes, %d heavy users\n",
			span.Round(time.Second), float64(truth.Requests)/span.Seconds(), len(truth.Episodes), len(truth.HeavyUsers))
	}
	fmt.Printf("gencap: ground truth in %s.truth.json\n", *out)
	return nil
}

// checkFlags refuses flags the scenario would ignore, so that -size with
// an actor scenario does not silently give a capture of another size.
func checkFlags(fs *flag.FlagSet, scenario string) error {
	var ignored []string
	fs.Visit(func(f *flag.Flag) {
		normal := slices.Contains(normalOnly, f.Name)
		if normal && scenario != "normal" || f.Name == "duration" && scenario == "normal" {
			ignored = append(ignored, "-"+f.Name)
		}
	})
	if len(ignored) > 0 {
		return fmt.Errorf("scenario %q does not use %s (-size, -conns, -clients and -pipeline are for normal, -duration for the others)",
			scenario, strings.Join(ignored, ", "))
	}
	return nil
}

// parseSize reads sizes like 300MB, 2MB, 512KB, 1GB or a plain byte count;
// the units are binary (MB = 2^20), matching what ls -lh shows.
func parseSize(s string) (int64, error) {
	u := strings.ToUpper(strings.TrimSpace(s))
	mult := int64(1)
	for _, suf := range []struct {
		s string
		m int64
	}{{"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(u, suf.s) {
			u, mult = strings.TrimSuffix(u, suf.s), suf.m
			break
		}
	}
	n, err := strconv.ParseFloat(u, 64)
	if err != nil || n <= 0 {
		return 0, fmt.Errorf("bad size %q (want e.g. 300MB)", s)
	}
	return int64(n * float64(mult)), nil
}
