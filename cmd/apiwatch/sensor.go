package main

import (
	"context"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/spf13/cobra"
	"github.com/spf13/pflag"

	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/normalize"
	"github.com/apiwatch/apiwatch/pipeline"
	"github.com/apiwatch/apiwatch/stream"
)

type sensorOptions struct {
	input     inputOptions
	normalize normalizeOptions
	pcaps     []string
	kafka     kafkaOptions
	spoolDir  string
	spoolMB   int64
	queue     int
	drain     time.Duration
	listen    string
}

// kafkaOptions name the cluster, how to reach it and the events topic, for
// the sensor and the detector alike.
type kafkaOptions struct {
	brokers []string
	topic   string
	sec     kafkaSecurityFlags
}

func (o *kafkaOptions) addFlags(f *pflag.FlagSet) {
	f.StringSliceVar(&o.brokers, "kafka", nil, "Kafka bootstrap broker `HOST:PORT`; repeat or comma-separate for several")
	f.StringVar(&o.topic, "topic", "apiwatch.events", "Kafka topic of the events")
	o.sec.addFlags(f)
}

// connect reads the TLS and SASL settings and tries them on the brokers:
// wrong settings stop the daemon at once (the clients would retry them
// forever); an unreachable cluster does not (it may come back).
func (o *kafkaOptions) connect(ctx context.Context) (stream.Security, error) {
	sec, err := o.sec.security()
	if err != nil {
		return sec, err
	}
	check, cancel := context.WithTimeout(ctx, 15*time.Second)
	defer cancel()
	if err := sec.Check(check, o.brokers); err != nil {
		if !stream.IsUnreachable(err) {
			return sec, err
		}
		logger.Warn().Err(err).Msg("kafka is unreachable for now; carrying on (events wait in the queue and spool)")
	}
	return sec, nil
}

// producer returns a producer for topic with the cluster's settings.
func (o *kafkaOptions) producer(sec stream.Security, cfg stream.ProducerConfig) (*stream.Producer, error) {
	t, err := sec.Transport()
	if err != nil {
		return nil, err
	}
	cfg.Brokers, cfg.Transport = o.brokers, t
	return stream.NewProducer(cfg)
}

func newSensorCmd() *cobra.Command {
	var o sensorOptions
	cmd := &cobra.Command{
		Use:   "sensor (--iface IFACE... | --pcap FILE...) --kafka HOST:PORT",
		Short: "Capture API traffic and stream API events to Kafka",
		Long: `Captures live from mirror ports (--iface, AF_PACKET) or replays capture
files (--pcap), turns every HTTP transaction into an API event and
publishes it to Kafka, keyed by endpoint (acks=all, compressed). While Kafka
is unreachable events wait in memory, then in the spool directory, and are
sent in order when it returns; beyond both they are dropped and counted.

  apiwatch sensor --iface eth1 --kafka kafka-1:9092 --spool-dir /var/lib/apiwatch/spool
  apiwatch sensor --pcap testdata/attacks-demo.pcap.gz --kafka 127.0.0.1:9092`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error { return runSensor(cmd, &o) },
	}
	f := cmd.Flags()
	o.input.addFlags(f)
	o.normalize.addFlags(f)
	f.StringSliceVar(&o.pcaps, "pcap", nil, "replay this capture `FILE` instead of capturing live; repeat for several")
	o.kafka.addFlags(f)
	f.StringVar(&o.spoolDir, "spool-dir", "", "keep events on disk in this `DIR` while Kafka is unreachable (default: no spool)")
	f.Int64Var(&o.spoolMB, "spool-mb", 1024, "at most this many MiB in the spool")
	f.IntVar(&o.queue, "queue", 100000, "events waiting in memory for Kafka")
	f.DurationVar(&o.drain, "drain-timeout", 30*time.Second, "at the end, how long to keep sending what is queued and spooled")
	addOpsFlag(f, &o.listen)
	return cmd
}

func runSensor(cmd *cobra.Command, o *sensorOptions) error {
	if len(o.kafka.brokers) == 0 {
		return fmt.Errorf("--kafka is required: the broker(s) to send events to (for a local one: apiwatch devbroker)")
	}
	ncfg, err := o.normalize.config()
	if err != nil {
		return err
	}
	o.input.pipeline.ShardKey = o.normalize.shardKey()
	sec, err := o.kafka.connect(cmd.Context())
	if err != nil {
		return err
	}
	p, err := o.kafka.producer(sec, stream.ProducerConfig{Topic: o.kafka.topic, SpoolDir: o.spoolDir,
		SpoolBytes: o.spoolMB << 20, QueueMessages: o.queue})
	if err != nil {
		return err
	}
	ops, err := startOps(o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer ops.close()
	// The pipeline's counters as of its last progress report.
	var events atomic.Uint64
	var latest atomic.Pointer[pipeline.Stats]
	latest.Store(new(pipeline.Stats))
	o.input.onProgress = func(pr pipeline.Progress) { latest.Store(&pr.Stats) }
	ops.counter("apiwatch_sensor_packets_total", "Packets read from the interfaces or files.", func() float64 { return float64(latest.Load().Capture.Packets) })
	ops.counter("apiwatch_sensor_kernel_packets_total", "Packets the kernel's capture filter accepted (live capture).", func() float64 { return float64(latest.Load().Kernel.Packets) })
	ops.counter("apiwatch_sensor_transactions_total", "HTTP transactions reassembled.", func() float64 { return float64(latest.Load().Parse.Transactions) })
	ops.counters("apiwatch_sensor_drops_total", "Packets, segments, bytes or connections lost or given up on, by stage and reason (see the run summary).", "reason",
		func(add func(string, float64)) {
			for _, d := range latest.Load().Drops() {
				add(d.Name, float64(d.Value))
			}
			add("event_panic", float64(o.normalize.panics.count()))
		})
	ops.counter("apiwatch_sensor_events_total", "API events made (sent, queued, spooled or dropped).", func() float64 { return float64(events.Load()) })
	ops.counter("apiwatch_sensor_events_sent_total", "Events acknowledged by Kafka.", func() float64 { return float64(p.Stats().Sent) })
	ops.counter("apiwatch_sensor_events_spooled_total", "Events written to the spool while Kafka was unreachable.", func() float64 { return float64(p.Stats().Spooled) })
	ops.counter("apiwatch_sensor_events_dropped_total", "Events dropped beyond the memory queue and the spool.", func() float64 { return float64(p.Stats().Dropped) })
	ops.counter("apiwatch_sensor_kafka_errors_total", "Failed writes to Kafka (retried or spooled).", func() float64 { return float64(p.Stats().Errors) })
	ops.ready.Store(true)
	st, runErr := o.input.run(cmd.Context(), o.pcaps, func(int) parse.Handler {
		n := normalize.New(ncfg)
		return parse.HandlerFunc(func(t *parse.Transaction) {
			if e := n.Event(t); e != nil {
				p.Publish(e)
				events.Add(1)
			}
		})
	})
	latest.Store(&st)
	ctx, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	closeErr := p.Close(ctx)
	out := cmd.OutOrStdout()
	st.WriteSummary(out)
	writeEventPanics(out, &o.normalize.panics)
	ps := p.Stats()
	fmt.Fprintf(out, "\nkafka %s %s: %d events sent, %d through the spool, %d dropped, %d write errors\n",
		strings.Join(o.kafka.brokers, ","), o.kafka.topic, ps.Sent, ps.Spooled, ps.Dropped, ps.Errors)
	if runErr != nil && cmd.Context().Err() == nil {
		return runErr
	}
	return closeErr
}
