package conformance_test

import (
	"bufio"
	"context"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/capture"
	"github.com/apiwatch/apiwatch/conformance"
	"github.com/apiwatch/apiwatch/internal/sharedpcaps"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/http1"
	"github.com/apiwatch/apiwatch/pipeline"
)

// minPassRate is the share of cases with applicable checks that must pass.
// Every case that fails must also be listed, with its reason, in
// testdata/known-failures.txt, so the rate cannot hide a new regression.
const minPassRate = 0.90

func TestConformance(t *testing.T) {
	root := sharedpcaps.Root(t)
	cases, err := conformance.LoadCases(root)
	if err != nil {
		t.Fatal(err)
	}
	known := readKnownFailures(t, "testdata/known-failures.txt")

	var reports []conformance.Report
	for _, c := range cases {
		obs, err := observe(c.Pcap, configFor(c))
		if err != nil {
			t.Errorf("%s: %v", c.Name, err)
			continue
		}
		reports = append(reports, conformance.Evaluate(c, obs))
	}
	var table strings.Builder
	conformance.FormatTable(&table, reports)
	t.Log("\n" + table.String())

	var applicable, passed int
	for _, r := range reports {
		if !r.Applicable() {
			continue
		}
		applicable++
		key := r.Case.Source + "/" + r.Case.Name
		switch reason, isKnown := known[key]; {
		case r.Passed() && isKnown:
			t.Errorf("%s passes now: remove it from testdata/known-failures.txt (it said: %s)", key, reason)
		case r.Passed():
			passed++
		case !isKnown:
			t.Errorf("%s fails and is not a known failure: %s", key, r.FirstFailure())
		}
	}
	rate := float64(passed) / float64(applicable)
	t.Logf("conformance: %d of %d cases with applicable checks pass (%.1f%%)", passed, applicable, 100*rate)
	if rate < minPassRate {
		t.Errorf("pass rate %.1f%% is below the floor of %.0f%%", 100*rate, 100*minPassRate)
	}
}

// readKnownFailures reads "source/case<TAB or spaces>reason" lines.
func readKnownFailures(t *testing.T, path string) map[string]string {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	known := map[string]string{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		key, reason, _ := strings.Cut(line, " ")
		known[key] = strings.TrimSpace(reason)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return known
}

// configFor sets apiwatch's equivalents of the settings an upstream tool
// ran the case with, the way a user would configure apiwatch for that
// network.
func configFor(c conformance.Case) pipeline.Config {
	cfg := pipeline.Config{Workers: 1}
	for k, v := range c.Settings {
		switch {
		case k == "vlan.use-for-tracking" && v == "false":
			// One direction of the connection arrives tagged, the other not.
			cfg.Decoder.IgnoreVLAN = true
		case strings.HasSuffix(k, ".response-body-limit"), strings.HasSuffix(k, ".request-body-limit"):
			if n := parseSize(v); n > cfg.Parse.HTTP.BodyKeep {
				cfg.Parse.HTTP.BodyKeep = n
			}
		}
	}
	return cfg
}

// parseSize reads suricata's sizes: "200kb", "1mb", "4096".
func parseSize(s string) int {
	s = strings.ToLower(strings.TrimSpace(s))
	mult := 1
	for suffix, m := range map[string]int{"kb": 1 << 10, "mb": 1 << 20, "gb": 1 << 30} {
		if strings.HasSuffix(s, suffix) {
			s, mult = strings.TrimSuffix(s, suffix), m
		}
	}
	n, err := strconv.Atoi(s)
	if err != nil {
		return 0
	}
	return n * mult
}

// observe runs one capture through the pipeline and returns its
// transactions in the neutral form the expectations are compared with.
func observe(path string, cfg pipeline.Config) ([]conformance.Transaction, error) {
	src, err := capture.OpenFile(path)
	if err != nil {
		return nil, err
	}
	defer src.Close()
	var out []conformance.Transaction
	h := parse.HandlerFunc(func(t *parse.Transaction) { out = append(out, neutral(t)) })
	_, err = pipeline.Run(context.Background(), cfg, []capture.Source{src}, []string{path},
		func(int) parse.Handler { return h })
	return out, err
}

func neutral(t *parse.Transaction) conformance.Transaction {
	o := conformance.Transaction{
		SrcIP: t.Flow.SrcIP.String(), DstIP: t.Flow.DstIP.String(),
		SrcPort: int(t.Flow.SrcPort), DstPort: int(t.Flow.DstPort),
		RequestDecodedLen: -1, ResponseDecodedLen: -1,
		Gap: t.Gap(),
	}
	if m := t.Request; m != nil {
		o.HasRequest = true
		o.Method, o.Target, o.Proto = string(m.Method), string(m.Target), string(m.Proto)
		o.Host = string(m.Header("Host"))
		o.UserAgent = string(m.Header("User-Agent"))
		o.Referer = string(m.Header("Referer"))
		o.RequestBodyLen, o.RequestDecodedLen = m.BodyLen, m.DecodedLen
		o.RequestBody = append([]byte(nil), m.Body...)
		o.Start = time.Unix(0, m.Start).UTC()
		for _, h := range m.Headers {
			o.RequestHeaders = append(o.RequestHeaders, [2]string{string(h.Name), string(h.Value)})
		}
		o.Truncated = m.Flags&http1.FlagTruncated != 0
	}
	if m := t.Response; m != nil {
		o.HasResponse = true
		o.Status = m.Status
		o.ResponseProto = string(m.Proto)
		o.ContentType = string(m.Header("Content-Type"))
		o.ResponseBodyLen, o.ResponseDecodedLen = m.BodyLen, m.DecodedLen
		o.ResponseBody = append([]byte(nil), m.Body...)
		if o.Start.IsZero() {
			o.Start = time.Unix(0, m.Start).UTC()
		}
		for _, h := range m.Headers {
			o.ResponseHeaders = append(o.ResponseHeaders, [2]string{string(h.Name), string(h.Value)})
		}
		o.Truncated = o.Truncated || m.Flags&http1.FlagTruncated != 0
	}
	return o
}
