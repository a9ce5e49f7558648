// Command gencap synthesizes a pcap of realistic HTTP/1.1 JSON API traffic,
// many clients against a few API servers, for apiwatch's benchmarks, tests
// and demo. The output is deterministic for a given -seed, and comes with a
// FILE.truth.json sidecar counting what was written.
//
//	go run ./bench/gencap -o bench/out/bench.pcap -size 300MB
//	go run ./bench/gencap -seed 1 -size 2MB -o testdata/demo.pcap.gz
package main

import (
	"compress/gzip"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "gencap:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	cfg := defaultConfig()
	fs := flag.NewFlagSet("gencap", flag.ContinueOnError)
	out := fs.String("o", "", "output pcap file; gzip-compressed when it ends in .gz (required)")
	size := fs.String("size", "300MB", "stop once the pcap (before gzip) reaches this size; open connections then finish (KB, MB, GB)")
	fs.Uint64Var(&cfg.Seed, "seed", cfg.Seed, "random seed: the same seed and flags give the same file")
	fs.IntVar(&cfg.Conns, "conns", cfg.Conns, "connections open at once (default: scales with -size, 16 to 500)")
	fs.Float64Var(&cfg.Rate, "rate", cfg.Rate, "requests per second across all connections (default: 4 per connection)")
	fs.IntVar(&cfg.Clients, "clients", cfg.Clients, "distinct client hosts (actors)")
	fs.Float64Var(&cfg.IPv6, "ipv6", cfg.IPv6, "fraction of clients on IPv6")
	fs.Float64Var(&cfg.VLAN, "vlan", cfg.VLAN, "fraction of connections 802.1Q-tagged")
	fs.Float64Var(&cfg.Pipeline, "pipeline", cfg.Pipeline, "fraction of connections that pipeline requests")
	fs.BoolVar(&cfg.Nanos, "nanos", false, "nanosecond timestamps (default microsecond)")
	fs.StringVar(&cfg.Scenario, "scenario", cfg.Scenario, "traffic mix: "+scenarioNames())
	start := fs.String("start", cfg.Start.Format(time.RFC3339), "capture time of the first packet (RFC 3339)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *out == "" || fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("need -o FILE and no arguments")
	}
	var err error
	if cfg.Size, err = parseSize(*size); err != nil {
		return err
	}
	if cfg.Start, err = time.Parse(time.RFC3339, *start); err != nil {
		return fmt.Errorf("-start: %w", err)
	}

	began := time.Now()
	truth, err := writeCapture(cfg, *out)
	if err != nil {
		return err
	}
	elapsed := time.Since(began)
	if err := writeTruth(*out+".truth.json", truth); err != nil {
		return err
	}
	fi, err := os.Stat(*out)
	if err != nil {
		return err
	}
	fmt.Printf("gencap: wrote %s: %d bytes on disk, %d bytes of pcap, %d packets, %d connections, %d requests, %d responses (%d chunked, %d gzip, %d pipelined requests) in %.1fs (%.0f MB/s of pcap)\n",
		*out, fi.Size(), truth.PcapBytes, truth.Packets, truth.Connections, truth.Requests, truth.Responses,
		truth.Chunked, truth.Gzip, truth.PipelinedRequests, elapsed.Seconds(), float64(truth.PcapBytes)/1e6/elapsed.Seconds())
	fmt.Printf("gencap: ground truth in %s.truth.json\n", *out)
	return nil
}

func writeCapture(cfg Config, name string) (*Truth, error) {
	f, err := os.Create(name)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var w io.Writer = f
	var zw *gzip.Writer
	if strings.HasSuffix(name, ".gz") {
		zw = gzip.NewWriter(f)
		w = zw
	}
	truth, err := generate(cfg, w)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", name, err)
	}
	if zw != nil {
		if err := zw.Close(); err != nil {
			return nil, err
		}
	}
	return truth, f.Close()
}

func writeTruth(name string, t *Truth) error {
	b, err := json.MarshalIndent(t, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(name, append(b, '\n'), 0o644)
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

func scenarioNames() string {
	names := make([]string, 0, len(scenarios))
	for n := range scenarios {
		names = append(names, n)
	}
	slices.Sort(names)
	return strings.Join(names, ", ")
}
