package trafficgen

import (
	"cmp"
	"compress/gzip"
	"encoding/json"
	"fmt"
	"io"
	"net/netip"
	"os"
	"slices"
	"strings"

	"github.com/apiwatch/apiwatch/evaluation"
)

// ConnTruth is one connection as the client saw it.
type ConnTruth struct {
	Client, Server string // ip:port
	VLAN           uint16
	Requests       int
}

// Label marks requests of the capture for scoring detectors: an attack
// episode (Truth.Episodes, with ID and Detector) or a legitimate heavy user
// (Truth.HeavyUsers). Every request a labeled client sends to Endpoint
// falls within [Start, End], but for the new_sensitive_field episode,
// whose clients are ordinary users who happened to call the endpoint while
// it leaked.
type Label struct {
	// The fields apiwatch evaluate reads: the endpoint named as apiwatch
	// names it ("GET api.example.com /api/v1/users/{id}"), client
	// addresses sorted, Start and End the capture times of the first
	// packets of the first and last labeled requests.
	evaluation.Label
	Requests int `json:"requests"` // labeled requests
}

// label collects a Label as its requests are written.
type label struct {
	Label
	ips map[string]bool
}

// newLabel registers a label; an episode has an id, a heavy user none.
func (g *generator) newLabel(id, detector, kind string) *label {
	l := &label{Label: Label{Label: evaluation.Label{ID: id, Detector: detector, Kind: kind}}, ips: map[string]bool{}}
	g.labels = append(g.labels, l)
	return l
}

// note counts q, sent on c at t, in its label.
func (g *generator) note(q *request, c *conn, t int64) {
	l := q.label
	if l == nil {
		return
	}
	// Requests are noted as connections plan them, not in time order.
	ts := g.captureTime(t)
	if l.Requests == 0 {
		// apiwatch shows every identifier as {id}.
		l.Endpoint = q.method + " " + c.server.name + " " + strings.ReplaceAll(q.template, "{uuid}", "{id}")
	}
	if l.Requests == 0 || ts.Before(l.Start) {
		l.Start = ts
	}
	if ts.After(l.End) {
		l.End = ts
	}
	l.Requests++
	l.ips[netip.AddrFrom16(c.client.ip).Unmap().String()] = true
}

// labelTruth files the labels that got requests into the truth, each list
// in order of start.
func (g *generator) labelTruth() {
	for _, l := range g.labels {
		if l.Requests == 0 {
			continue // the capture ended before it began
		}
		for ip := range l.ips {
			l.ClientIPs = append(l.ClientIPs, ip)
		}
		slices.Sort(l.ClientIPs)
		if l.ID != "" {
			g.truth.Episodes = append(g.truth.Episodes, l.Label)
		} else {
			g.truth.HeavyUsers = append(g.truth.HeavyUsers, l.Label)
		}
	}
	byStart := func(a, b Label) int { return cmp.Or(a.Start.Compare(b.Start), cmp.Compare(a.ID, b.ID)) }
	slices.SortStableFunc(g.truth.Episodes, byStart)
	slices.SortStableFunc(g.truth.HeavyUsers, byStart)
}

// WriteFiles writes cfg's capture to name, gzip-compressed when name ends
// in .gz, and its truth beside it as name.truth.json.
func WriteFiles(name string, cfg Config) (*Truth, error) {
	truth, err := writeCapture(name, cfg)
	if err != nil {
		return nil, err
	}
	b, err := marshalTruth(truth)
	if err != nil {
		return nil, err
	}
	return truth, os.WriteFile(name+".truth.json", b, 0o644)
}

// marshalTruth is the truth file's content.
func marshalTruth(t *Truth) ([]byte, error) {
	b, err := json.MarshalIndent(t, "", "  ")
	return append(b, '\n'), err
}

func writeCapture(name string, cfg Config) (*Truth, error) {
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
	truth, err := Generate(w, cfg)
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
