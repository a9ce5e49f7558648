package main

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/spf13/pflag"

	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/storage"
)

// clickhouseFlags name a ClickHouse server and how to reach it.
type clickhouseFlags struct {
	dsn string
	sec clickhouseSecurityFlags
}

func (o *clickhouseFlags) addFlags(f *pflag.FlagSet, help string) {
	f.StringVar(&o.dsn, "clickhouse", "", help)
	o.sec.addFlags(f)
}

// open connects (and migrates the schema).
func (o *clickhouseFlags) open(ctx context.Context) (*storage.Store, error) {
	opts, err := o.sec.options()
	if err != nil {
		return nil, err
	}
	return storage.OpenWith(ctx, o.dsn, opts)
}

// storeOptions are analyze's ClickHouse flags.
type storeOptions struct {
	ch      clickhouseFlags
	timeout time.Duration
}

func (o *storeOptions) addFlags(f *pflag.FlagSet) {
	o.ch.addFlags(f, "store events, findings, the inventory and baselines in ClickHouse at this `DSN` (clickhouse://[user[:password]@]host:9000/database; the schema is created or migrated first)")
	f.DurationVar(&o.timeout, "clickhouse-timeout", time.Minute, "how long to keep trying to write what is queued at the end before dropping it")
}

// sink writes a run's output to ClickHouse.
type sink struct {
	store    *storage.Store
	events   *storage.Writer[storage.EventRow]
	timeout  time.Duration
	findings int
}

func (o *storeOptions) open(ctx context.Context) (*sink, error) {
	if o.ch.dsn == "" {
		return nil, nil
	}
	s, err := o.ch.open(ctx)
	if err != nil {
		return nil, fmt.Errorf("--clickhouse: %w", err)
	}
	return &sink{store: s, events: s.EventWriter(storage.WriterConfig{}), timeout: o.timeout}, nil
}

func (k *sink) add(e *event.APIEvent) { k.events.Add(storage.NewEventRow(e)) }

// finish writes the findings and baselines, waits for the events, and
// reports what was written.
func (k *sink) finish(det *detector, out io.Writer) error {
	defer k.store.Close()
	ctx, cancel := context.WithTimeout(context.Background(), k.timeout)
	defer cancel()
	var firstErr error
	keep := func(err error) {
		if err != nil && firstErr == nil {
			firstErr = err
		}
	}
	keep(k.events.Close(ctx))
	if det != nil {
		fw := k.store.FindingWriter(storage.WriterConfig{})
		for _, f := range det.engine.Findings() {
			fw.Add(*f)
		}
		keep(fw.Close(ctx))
		k.findings = int(fw.Stats().Written)
		keep(k.store.SaveBaselines(ctx, det.engine.Store(), time.Now()))
	}
	st := k.events.Stats()
	fmt.Fprintf(out, "\nclickhouse %s: %d events written, %d dropped, %d rejected; %d findings\n",
		k.store.Database(), st.Written, st.Dropped, st.Failed, k.findings)
	return firstErr
}
