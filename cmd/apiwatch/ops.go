package main

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/pflag"
)

// opsServer serves a daemon's Prometheus metrics, /healthz (the process
// answers) and /readyz (it is connected and working).
type opsServer struct {
	reg   *prometheus.Registry
	ready atomic.Bool
	srv   *http.Server
	addr  string
}

func addOpsFlag(f *pflag.FlagSet, addr *string) {
	f.StringVar(addr, "listen", "127.0.0.1:9464", "serve /metrics, /healthz and /readyz on this `ADDRESS` (empty: off)")
}

// startOps listens on addr ("" returns a server that serves nothing but
// still takes registrations).
func startOps(addr string) (*opsServer, error) {
	o := &opsServer{reg: prometheus.NewRegistry()}
	o.reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	if addr == "" {
		return o, nil
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(o.reg, promhttp.HandlerOpts{}))
	mux.HandleFunc("/healthz", func(w http.ResponseWriter, _ *http.Request) { w.Write([]byte("ok\n")) })
	mux.HandleFunc("/readyz", func(w http.ResponseWriter, _ *http.Request) {
		if !o.ready.Load() {
			http.Error(w, "not ready\n", http.StatusServiceUnavailable)
			return
		}
		w.Write([]byte("ready\n"))
	})
	l, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	o.addr = l.Addr().String()
	o.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		if err := o.srv.Serve(l); err != nil && !errors.Is(err, http.ErrServerClosed) {
			logger.Error().Err(err).Msg("metrics server stopped")
		}
	}()
	logger.Info().Str("listen", o.addr).Msg("serving /metrics, /healthz, /readyz")
	return o, nil
}

// counter registers a counter read from f when scraped: the daemons keep
// their own counters and pay nothing per event for the metrics.
func (o *opsServer) counter(name, help string, f func() float64) {
	o.reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, f))
}

// gauge registers a gauge read from f when scraped.
func (o *opsServer) gauge(name, help string, f func() float64) {
	o.reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help}, f))
}

// counters registers counters with one label, read from f when scraped:
// f calls add for each label value.
func (o *opsServer) counters(name, help, label string, f func(add func(value string, n float64))) {
	o.reg.MustRegister(labelledCounters{desc: prometheus.NewDesc(name, help, []string{label}, nil), f: f})
}

type labelledCounters struct {
	desc *prometheus.Desc
	f    func(add func(string, float64))
}

func (c labelledCounters) Describe(ch chan<- *prometheus.Desc) { ch <- c.desc }

func (c labelledCounters) Collect(ch chan<- prometheus.Metric) {
	c.f(func(v string, n float64) { ch <- prometheus.MustNewConstMetric(c.desc, prometheus.CounterValue, n, v) })
}

func (o *opsServer) close() {
	if o.srv != nil {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		o.srv.Shutdown(ctx)
	}
}
