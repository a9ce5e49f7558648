// Package alert brings findings to on-call people: Slack (incoming
// webhook), PagerDuty (Events API v2) and a generic JSON webhook signed
// with HMAC-SHA256.
//
// A Dispatcher takes every new version of every finding (Notify) and
// decides, per sink, whether it is news: an incident alerts a sink once,
// and again only when its severity rises. It tells the sinks that alerted
// when the incident ends — on Resolve, or when the finding got no update
// for Config.ResolveAfter. Each sink has a bounded queue and one worker
// that retries network errors, 429 and 5xx with exponential backoff;
// Notify never waits for a sink: what does not fit is dropped and counted.
package alert

import (
	"container/list"
	"context"
	"maps"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/rs/zerolog"
	"github.com/rs/zerolog/log"

	"github.com/apiwatch/apiwatch/finding"
)

// Dispatcher routes findings to sinks. Its methods are safe for concurrent
// use.
type Dispatcher struct {
	cfg    Config
	sinks  []*sink
	routes []route
	log    zerolog.Logger
	now    func() time.Time

	mu     sync.Mutex
	open   map[string]*incident // by finding id: incidents some sink was alerted on
	order  *list.List           // of *incident, least recently updated first
	match  []bool               // scratch: the sinks a finding routes to
	closed bool
	evict  throttle

	ctx    context.Context // the workers'; cancelled when Close gives up
	cancel context.CancelFunc
	stop   chan struct{} // ends the resolve loop
	wg     sync.WaitGroup
	client *http.Client
}

// incident is what the Dispatcher remembers of a finding it alerted on.
type incident struct {
	f       *finding.Finding // the latest version (a copy of its own)
	last    time.Time        // when it was last updated, by the Dispatcher's clock
	alerted []finding.Severity
	elem    *list.Element
}

// action is what a message tells a sink.
type action uint8

const (
	trigger action = iota + 1
	resolve
)

func (a action) String() string {
	if a == resolve {
		return "resolve"
	}
	return "trigger"
}

// job is one message for one sink. f is shared between sinks and never
// changed.
type job struct {
	action action
	f      *finding.Finding
}

// options are what tests change.
type options struct {
	log zerolog.Logger
	now func() time.Time
}

// New checks the config, reads the secrets and starts one worker per sink.
// Its errors never contain a secret.
func New(cfg Config) (*Dispatcher, error) {
	return newDispatcher(cfg, options{log: log.Logger, now: time.Now})
}

func newDispatcher(cfg Config, o options) (*Dispatcher, error) {
	cfg = cfg.withDefaults()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	d := &Dispatcher{
		cfg:   cfg,
		log:   o.log.With().Str("component", "alert").Logger(),
		now:   o.now,
		open:  make(map[string]*incident),
		order: list.New(),
		match: make([]bool, len(cfg.Sinks)),
		stop:  make(chan struct{}),
	}
	tr := http.DefaultTransport.(*http.Transport).Clone()
	tr.MaxIdleConnsPerHost = 4
	d.client = &http.Client{
		Transport: tr,
		// A webhook that moved is a config to fix, not a POST to turn into
		// a GET (what following a 301 or 302 does).
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	base := strings.TrimRight(cfg.GrafanaURL, "/")
	for i := range cfg.Sinks {
		s, err := newSink(d, i, &cfg.Sinks[i], base)
		if err != nil {
			return nil, err
		}
		d.sinks = append(d.sinks, s)
	}
	index := func(name string) int {
		return slices.IndexFunc(d.sinks, func(s *sink) bool { return s.name == name })
	}
	for _, r := range cfg.Routes {
		rt := route{detectors: r.Detectors, minSeverity: r.MinSeverity, endpoints: r.Endpoints}
		for _, n := range r.Sinks {
			rt.sinks = append(rt.sinks, index(n))
		}
		d.routes = append(d.routes, rt)
	}
	d.ctx, d.cancel = context.WithCancel(context.Background())
	for _, s := range d.sinks {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			s.run(d.ctx)
		}()
	}
	if cfg.ResolveAfter > 0 {
		d.wg.Add(1)
		go func() {
			defer d.wg.Done()
			d.resolveLoop()
		}()
	}
	return d, nil
}

// Notify takes a new version of a finding and alerts the sinks its
// routes name that have not been alerted on it at this severity or
// above. It never blocks on a sink: a message that finds the sink's queue
// full, or the sink over its rate limit, is dropped and counted, and the
// sink stays un-alerted on the finding, so its next update tries again.
// Versions older than one already seen are ignored. Notify copies what it
// keeps: the caller may change f afterwards.
func (d *Dispatcher) Notify(f finding.Finding) {
	if f.ID == "" {
		d.log.Error().Str("detector", f.Detector).Str("endpoint", f.Endpoint).Msg("finding without an id not alerted")
		return
	}
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	now := d.now()
	in := d.open[f.ID]
	if in != nil {
		if f.Version < in.f.Version {
			return // a late copy of an older version
		}
		in.last = now
		d.order.MoveToBack(in.elem)
	}
	d.route(&f)
	var cp *finding.Finding
	for i, s := range d.sinks {
		if !d.match[i] || (in != nil && f.Severity <= in.alerted[i]) {
			continue
		}
		if !s.admit(now, &f) {
			continue
		}
		if cp == nil {
			cp = clone(&f)
		}
		s.queue <- &job{action: trigger, f: cp} // admit made room
		if in == nil {
			in = d.track(cp, now)
		}
		in.alerted[i] = f.Severity
	}
	if in != nil && in.f != cp {
		if cp == nil {
			cp = clone(&f)
		}
		in.f = cp
	}
}

// Resolve ends the incident of a finding: the sinks alerted on it are told
// (PagerDuty resolves the incident of the same dedup_key) and the
// Dispatcher forgets it, so a later update alerts anew. Resolving a
// finding that alerted no sink does nothing.
func (d *Dispatcher) Resolve(id string) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	if in := d.open[id]; in != nil {
		d.resolve(in, "resolved")
	}
}

// Open returns how many incidents the Dispatcher remembers: those alerted
// on and not resolved yet.
func (d *Dispatcher) Open() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return len(d.open)
}

// Close stops taking findings and waits for the sinks to send what is
// queued, until ctx ends; then the requests in flight are cancelled and
// what is left is counted as dropped (Shutdown). It returns ctx's error
// if ctx ended first. Open incidents are not resolved: on a restart the
// incident's next update alerts again (PagerDuty folds it into the open
// incident by its dedup_key).
func (d *Dispatcher) Close(ctx context.Context) error {
	d.mu.Lock()
	if !d.closed {
		d.closed = true
		close(d.stop)
		for _, s := range d.sinks {
			close(s.queue)
		}
	}
	d.mu.Unlock()
	done := make(chan struct{})
	go func() {
		d.wg.Wait()
		d.client.CloseIdleConnections()
		close(done)
	}()
	select {
	case <-done:
		d.cancel()
		return nil
	case <-ctx.Done():
		d.cancel() // the workers stop at once: their requests and waits end with it
		return ctx.Err()
	}
}

// SinkStats are one sink's counters since New.
type SinkStats struct {
	Name, Type string
	// Sent: messages the sink accepted (2xx).
	Sent uint64
	// Failed: messages given up on: a 4xx other than 429, a redirect, the
	// last attempt failing, or Close giving up during delivery.
	Failed uint64
	// Retried: attempts after the first.
	Retried uint64
	// Dropped: messages never attempted, the sum of QueueFull (the queue
	// was full), RateLimited (alerts over the sink's rate limit) and
	// Shutdown (still queued when Close gave up).
	Dropped, QueueFull, RateLimited, Shutdown uint64
	// Queued: messages waiting now.
	Queued int
}

// Stats returns each sink's counters, in the config's order.
func (d *Dispatcher) Stats() []SinkStats {
	out := make([]SinkStats, len(d.sinks))
	for i, s := range d.sinks {
		out[i] = SinkStats{
			Name: s.name, Type: s.typ,
			Sent: s.sent.Load(), Failed: s.failed.Load(), Retried: s.retried.Load(),
			QueueFull: s.queueFull.Load(), RateLimited: s.rateLimited.Load(), Shutdown: s.shutdown.Load(),
			Queued: len(s.queue),
		}
		out[i].Dropped = out[i].QueueFull + out[i].RateLimited + out[i].Shutdown
	}
	return out
}

// route sets d.match to the sinks f goes to.
func (d *Dispatcher) route(f *finding.Finding) {
	if len(d.routes) == 0 {
		for i := range d.match {
			d.match[i] = true
		}
		return
	}
	clear(d.match)
	for i := range d.routes {
		if r := &d.routes[i]; r.match(f) {
			for _, s := range r.sinks {
				d.match[s] = true
			}
		}
	}
}

// track remembers a finding alerted on for the first time, resolving the
// one updated longest ago if there are too many.
func (d *Dispatcher) track(f *finding.Finding, now time.Time) *incident {
	for len(d.open) >= d.cfg.MaxOpen {
		old := d.order.Front().Value.(*incident)
		if ok, n := d.evict.ok(now); ok {
			d.log.Warn().Int("max_open", d.cfg.MaxOpen).Uint64("earlier", n).Str("finding", old.f.ID).
				Msg("too many open incidents: resolving the one updated longest ago (raise max_open to keep more)")
		}
		d.resolve(old, "evicted")
	}
	in := &incident{f: f, last: now, alerted: make([]finding.Severity, len(d.sinks))}
	in.elem = d.order.PushBack(in)
	d.open[f.ID] = in
	return in
}

// resolve forgets an incident and queues a resolve for each sink alerted
// on it. Called with d.mu held.
func (d *Dispatcher) resolve(in *incident, why string) {
	delete(d.open, in.f.ID)
	d.order.Remove(in.elem)
	var j *job
	for i, sev := range in.alerted {
		s := d.sinks[i]
		if sev == 0 || s.cfg.SkipResolve {
			continue
		}
		if j == nil {
			j = &job{action: resolve, f: in.f}
		}
		if s.room(d.now(), in.f.ID, resolve) {
			s.queue <- j
		}
	}
	d.log.Debug().Str("finding", in.f.ID).Str("why", why).Msg("incident ended")
}

// unalert is a sink's worker giving up on an alert: the sink counts as not
// alerted, so the incident's next update tries again.
func (d *Dispatcher) unalert(i int, j *job) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if in := d.open[j.f.ID]; in != nil && in.alerted[i] == j.f.Severity {
		in.alerted[i] = 0
	}
}

// resolveLoop resolves the incidents quiet for ResolveAfter.
func (d *Dispatcher) resolveLoop() {
	every := min(max(d.cfg.ResolveAfter/4, 10*time.Millisecond), time.Minute)
	t := time.NewTicker(every)
	defer t.Stop()
	for {
		select {
		case <-d.stop:
			return
		case <-t.C:
			d.sweep(d.now())
		}
	}
}

// sweep resolves the incidents not updated since ResolveAfter before now.
func (d *Dispatcher) sweep(now time.Time) {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.closed {
		return
	}
	for e := d.order.Front(); e != nil; e = d.order.Front() {
		in := e.Value.(*incident)
		if now.Sub(in.last) < d.cfg.ResolveAfter {
			return
		}
		d.resolve(in, "quiet")
	}
}

// clone copies a finding deep: the detector keeps changing its own.
func clone(f *finding.Finding) *finding.Finding {
	c := *f
	c.Counts = maps.Clone(f.Counts)
	c.ClientIPs = slices.Clone(f.ClientIPs)
	c.Evidence = slices.Clone(f.Evidence)
	c.Samples = slices.Clone(f.Samples)
	return &c
}

// throttle lets a repeated log line through at most once per period and
// counts the ones it held back.
type throttle struct {
	last       time.Time
	suppressed uint64
}

const logEvery = 10 * time.Second

func (t *throttle) ok(now time.Time) (bool, uint64) {
	if !t.last.IsZero() && now.Sub(t.last) < logEvery {
		t.suppressed++
		return false, 0
	}
	n := t.suppressed
	t.last, t.suppressed = now, 0
	return true, n
}
