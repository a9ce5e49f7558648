package alert

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog"

	"github.com/apiwatch/apiwatch/finding"
	"github.com/apiwatch/apiwatch/internal/secret"
)

// format turns messages into one kind of sink's requests.
type format interface {
	// body encodes a message.
	body(j *job) ([]byte, error)
	// header adds what the request needs beside the body, at each attempt.
	header(h http.Header, j *job, body []byte, now time.Time)
}

// sink is one destination: its queue, its worker's state and counters.
type sink struct {
	d        *Dispatcher
	i        int // index in d.sinks
	name     string
	typ      string
	cfg      *SinkConfig
	url      string // where to POST; may be a secret (Slack)
	shownURL string // what logs and errors show of it
	secrets  []string
	format   format
	log      zerolog.Logger
	queue    chan *job

	// Under d.mu.
	bucket  bucket
	dropLog [2]throttle // queue full, rate limited

	sent, failed, retried            atomic.Uint64
	queueFull, rateLimited, shutdown atomic.Uint64
}

func newSink(d *Dispatcher, i int, cfg *SinkConfig, grafana string) (*sink, error) {
	sec, err := cfg.secrets()
	if err != nil {
		return nil, err
	}
	s := &sink{
		d: d, i: i, name: cfg.Name, typ: cfg.Type, cfg: cfg,
		url: sec.url, shownURL: redactURL(sec.url),
		log:    d.log.With().Str("sink", cfg.Name).Str("type", cfg.Type).Logger(),
		queue:  make(chan *job, cfg.QueueSize),
		bucket: newBucket(cfg.RatePerMinute, cfg.Burst),
	}
	// What an error message or a response body might echo: the secrets,
	// and the URL's path and query (a Slack webhook's path is its
	// credential; other webhooks may carry tokens there too).
	s.secrets = []string{sec.key, sec.secret, sec.url}
	if u, err := url.Parse(sec.url); err == nil {
		s.secrets = append(s.secrets, u.EscapedPath(), u.Path, u.RawQuery)
	}
	switch cfg.Type {
	case Slack:
		s.format = slackFormat{grafana: grafana}
	case PagerDuty:
		s.format = pagerDutyFormat{routingKey: sec.key, grafana: grafana}
	case Webhook:
		s.format = webhookFormat{secret: []byte(sec.secret)}
	}
	return s, nil
}

// admit reports whether an alert may be queued, counting and logging the
// reason when not. Called with d.mu held.
func (s *sink) admit(now time.Time, f *finding.Finding) bool {
	if !s.room(now, f.ID, trigger) {
		return false
	}
	if !s.bucket.take(now) {
		s.rateLimited.Add(1)
		if ok, n := s.dropLog[1].ok(now); ok {
			s.log.Warn().Str("finding", f.ID).Str("severity", f.Severity.String()).Uint64("earlier", n).
				Int("rate_per_minute", s.cfg.RatePerMinute).
				Msg("alert over the sink's rate limit dropped; the finding's next update tries again")
		}
		return false
	}
	return true
}

// room reports whether the queue has room for a message, counting and
// logging the drop when not. Only senders holding d.mu queue, so the room
// stays.
func (s *sink) room(now time.Time, id string, a action) bool {
	if len(s.queue) < cap(s.queue) {
		return true
	}
	s.queueFull.Add(1)
	if ok, n := s.dropLog[0].ok(now); ok {
		s.log.Error().Str("finding", id).Str("action", a.String()).Uint64("earlier", n).
			Int("queue_size", cap(s.queue)).
			Msg("sink queue full: message dropped (the sink is down or slow; earlier drops in the last 10s counted in 'earlier')")
	}
	return false
}

// run sends the queued messages until the queue is closed; once ctx ends
// it only counts them.
func (s *sink) run(ctx context.Context) {
	var abandoned uint64
	for j := range s.queue {
		if ctx.Err() != nil {
			s.shutdown.Add(1)
			abandoned++
			continue
		}
		s.deliver(ctx, j)
	}
	if abandoned > 0 {
		s.log.Error().Uint64("messages", abandoned).Msg("shutting down: queued messages dropped")
	}
}

// deliver sends one message, retrying what may succeed later.
func (s *sink) deliver(ctx context.Context, j *job) {
	ev := func(e *zerolog.Event) *zerolog.Event {
		return e.Str("finding", j.f.ID).Str("action", j.action.String()).Str("severity", j.f.Severity.String()).Str("url", s.shownURL)
	}
	body, err := s.format.body(j)
	if err != nil {
		s.fail(j)
		ev(s.log.Error()).Err(err).Msg("cannot encode the message")
		return
	}
	r := s.cfg.Retry
	for attempt := 1; ; attempt++ {
		o := s.attempt(ctx, j, body)
		if o.err == nil {
			s.sent.Add(1)
			ev(s.log.Debug()).Int("attempts", attempt).Msg("sent")
			return
		}
		if ctx.Err() != nil {
			s.fail(j)
			ev(s.log.Error()).Int("attempts", attempt).Msg("shutting down: message not delivered")
			return
		}
		if !o.retry || attempt >= r.MaxAttempts {
			s.fail(j)
			msg := "sink refused the message; not retried (fix the sink's config)"
			if o.retry {
				msg = "message not delivered: attempts exhausted"
			}
			ev(s.log.Error()).Str("error", o.err.Error()).Int("attempts", attempt).Msg(msg)
			return
		}
		wait := backoff(r, attempt, o.retryAfter)
		s.retried.Add(1)
		ev(s.log.Warn()).Str("error", o.err.Error()).Int("attempt", attempt).Dur("retry_in", wait).Msg("delivery failed; retrying")
		t := time.NewTimer(wait)
		select {
		case <-ctx.Done():
			t.Stop()
			s.fail(j)
			ev(s.log.Error()).Int("attempts", attempt).Msg("shutting down: message not delivered")
			return
		case <-t.C:
		}
	}
}

func (s *sink) fail(j *job) {
	s.failed.Add(1)
	if j.action == trigger {
		s.d.unalert(s.i, j)
	}
}

// outcome is how one attempt went.
type outcome struct {
	err        error // nil: delivered
	retry      bool
	retryAfter time.Duration
}

// StatusError is a sink's answer other than 2xx. Body is the start of the
// answer, with the sink's secrets taken out.
type StatusError struct {
	Status int
	Body   string
}

func (e *StatusError) Error() string {
	if e.Body == "" {
		return "HTTP " + strconv.Itoa(e.Status)
	}
	return "HTTP " + strconv.Itoa(e.Status) + ": " + e.Body
}

// attempt makes one request.
func (s *sink) attempt(ctx context.Context, j *job, body []byte) outcome {
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, s.url, bytes.NewReader(body))
	if err != nil {
		return outcome{err: errors.New("cannot build the request to " + s.shownURL)}
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "apiwatch-alert/1")
	s.format.header(req.Header, j, body, time.Now())
	resp, err := s.d.client.Do(req)
	if err != nil {
		// A *url.Error quotes the whole URL: keep only what follows it.
		var ue *url.Error
		if errors.As(err, &ue) {
			err = ue.Err
		}
		if ctx.Err() == context.DeadlineExceeded {
			err = fmt.Errorf("no answer within %s (timeout)", s.cfg.Timeout)
		}
		return outcome{err: errors.New(s.redact(err.Error())), retry: true}
	}
	defer resp.Body.Close()
	head, _ := io.ReadAll(io.LimitReader(resp.Body, 512))
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10)) // so the connection is reused
	code := resp.StatusCode
	if code >= 200 && code < 300 {
		return outcome{}
	}
	o := outcome{err: &StatusError{Status: code, Body: s.redact(strings.TrimSpace(string(head)))}}
	switch {
	case code == http.StatusTooManyRequests || code >= 500:
		o.retry = true
		o.retryAfter = retryAfter(resp.Header.Get("Retry-After"), time.Now())
	case code >= 300 && code < 400:
		o.err = fmt.Errorf("%w: redirected; configure the address it redirects to", o.err)
	}
	return o
}

// redact takes the sink's secrets out of a text.
func (s *sink) redact(t string) string {
	for _, v := range s.secrets {
		if len(v) >= 4 {
			t = strings.ReplaceAll(t, v, secret.Redacted)
		}
	}
	return t
}

// backoff is the wait before attempt+1: MinBackoff doubled per attempt up
// to MaxBackoff, drawn between half and all of it so that many senders do
// not retry in step; at least what Retry-After asked for, up to
// MaxRetryAfter.
func backoff(r RetryConfig, attempt int, retryAfter time.Duration) time.Duration {
	d := r.MinBackoff
	for i := 1; i < attempt && d < r.MaxBackoff; i++ {
		d *= 2
	}
	d = min(d, r.MaxBackoff)
	wait := d/2 + rand.N(d/2+1)
	if retryAfter > 0 {
		wait = max(wait, min(retryAfter, r.MaxRetryAfter))
	}
	return wait
}

// retryAfter reads a Retry-After header: seconds, or an HTTP date.
func retryAfter(v string, now time.Time) time.Duration {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	if n, err := strconv.ParseInt(v, 10, 64); err == nil {
		if n <= 0 {
			return 0
		}
		return time.Duration(min(n, 1<<30)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil && t.After(now) {
		return t.Sub(now)
	}
	return 0
}

// bucket is a token bucket: burst tokens, refilled at a steady rate.
type bucket struct {
	perSec, burst, tokens float64
	last                  time.Time
}

// newBucket returns a bucket refilled at perMinute per minute; negative
// perMinute: no limit.
func newBucket(perMinute, burst int) bucket {
	if perMinute < 0 {
		return bucket{perSec: -1}
	}
	return bucket{perSec: float64(perMinute) / 60, burst: float64(burst), tokens: float64(burst)}
}

func (b *bucket) take(now time.Time) bool {
	if b.perSec < 0 {
		return true
	}
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.perSec)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens >= 1 {
		b.tokens--
		return true
	}
	return false
}
