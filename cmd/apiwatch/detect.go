package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/spf13/pflag"
	"gopkg.in/yaml.v3"

	"github.com/apiwatch/apiwatch/baseline"
	"github.com/apiwatch/apiwatch/detect"
	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/finding"
)

// detectOptions are the flags of in-process detection (analyze).
type detectOptions struct {
	findings    string
	config      string
	baselineIn  string
	baselineOut string
	noDetect    bool
}

func (o *detectOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.findings, "findings", "", "write every finding, in its final state, as one JSON object per line to this `FILE` ('-' for stdout)")
	f.StringVar(&o.config, "detect-config", "", "detector thresholds, YAML (`FILE`; see detect/README.md for every key and its default)")
	f.StringVar(&o.baselineIn, "baseline-in", "", "start from the baselines in this `FILE` (written by --baseline-out) instead of learning from zero")
	f.StringVar(&o.baselineOut, "baseline-out", "", "write the learned baselines to this `FILE` at the end")
	f.BoolVar(&o.noDetect, "no-detect", false, "build API events but run no detectors")
}

// detector is analyze's detection stage: one Engine that the pipeline's
// workers feed under a lock (the events of one endpoint arrive from any
// worker; a stream of events is what the distributed detector sees too).
type detector struct {
	mu     sync.Mutex
	engine *detect.Engine
}

func (o *detectOptions) open() (*detector, error) {
	if o.noDetect {
		return nil, nil
	}
	cfg := detect.DefaultConfig()
	if o.config != "" {
		b, err := os.ReadFile(o.config)
		if err != nil {
			return nil, fmt.Errorf("--detect-config: %w", err)
		}
		dec := yaml.NewDecoder(strings.NewReader(string(b)))
		dec.KnownFields(true)
		if err := dec.Decode(&cfg); err != nil && err != io.EOF {
			return nil, fmt.Errorf("--detect-config %s: %w (see detect/README.md for the keys)", o.config, err)
		}
	}
	store := baseline.New(baseline.Config{})
	if o.baselineIn != "" {
		f, err := os.Open(o.baselineIn)
		if err != nil {
			return nil, fmt.Errorf("--baseline-in: %w", err)
		}
		err = store.ReadSnapshot(bufio.NewReader(f))
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("--baseline-in %s: %w", o.baselineIn, err)
		}
	}
	return &detector{engine: detect.New(cfg, store)}, nil
}

func (d *detector) process(e *event.APIEvent) {
	d.mu.Lock()
	d.engine.Process(e)
	d.mu.Unlock()
}

// finish writes what the run found: the findings table to out, the findings
// and baselines to the files asked for.
func (d *detector) finish(o *detectOptions, out io.Writer) error {
	findings := d.engine.Findings()
	writeFindingsTable(out, findings)
	if o.findings != "" {
		if err := writeFile(o.findings, out, func(w io.Writer) error {
			enc := json.NewEncoder(w)
			for _, f := range findings {
				if err := enc.Encode(f); err != nil {
					return err
				}
			}
			return nil
		}); err != nil {
			return fmt.Errorf("--findings: %w", err)
		}
	}
	if o.baselineOut != "" {
		if err := writeFile(o.baselineOut, out, d.engine.Store().WriteSnapshot); err != nil {
			return fmt.Errorf("--baseline-out: %w", err)
		}
	}
	return nil
}

// writeFile writes through fn to path ('-': stdout).
func writeFile(path string, stdout io.Writer, fn func(io.Writer) error) error {
	if path == "-" {
		return fn(stdout)
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	w := bufio.NewWriter(f)
	if err := fn(w); err != nil {
		f.Close()
		return err
	}
	if err := w.Flush(); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func writeFindingsTable(out io.Writer, findings []*finding.Finding) {
	if len(findings) == 0 {
		fmt.Fprintln(out, "\nfindings: none")
		return
	}
	fmt.Fprintf(out, "\nfindings: %d\n", len(findings))
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SEVERITY\tDETECTOR\tKIND\tENDPOINT\tFIRST SEEN\tEVENTS\tCLIENTS\tSUMMARY")
	for _, f := range findings {
		clients := strings.Join(f.ClientIPs[:min(len(f.ClientIPs), 2)], ",")
		if len(f.ClientIPs) > 2 {
			clients += fmt.Sprintf(",+%d", len(f.ClientIPs)-2)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%d\t%s\t%s\n", f.Severity, f.Detector, f.Kind, f.Endpoint,
			f.FirstSeen.Format(time.RFC3339), f.Counts["events"], clients, f.Summary)
	}
	tw.Flush()
}
