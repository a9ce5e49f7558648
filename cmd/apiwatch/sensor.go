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

// kafkaOptions name the cluster and the events topic, for the sensor and
// the detector alike.
type kafkaOptions struct {
	brokers []string
	topic   string
}

func (o *kafkaOptions) addFlags(f *pflag.FlagSet) {
	f.StringSliceVar(&o.brokers, "kafka", nil, "Kafka bootstrap broker `HOST:PORT`; repeat or comma-separate for several")
	f.StringVar(&o.topic, "topic", "apiwatch.events", "Kafka topic of the events")
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
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: o.kafka.brokers, Topic: o.kafka.topic, SpoolDir: o.spoolDir,
		SpoolBytes: o.spoolMB << 20, QueueMessages: o.queue})
	if err != nil {
		return err
	}
	ops, err := startOps(o.listen)
	if err != nil {
		return fmt.Errorf("--listen: %w", err)
	}
	defer ops.close()
	var packets atomic.Uint64
	o.input.onProgress = func(pr pipeline.Progress) { packets.Store(pr.Packets) }
	ops.counter("apiwatch_sensor_packets_total", "Packets read from the interfaces or files.", func() float64 { return float64(packets.Load()) })
	ops.counter("apiwatch_sensor_events_sent_total", "Events acknowledged by Kafka.", func() float64 { return float64(p.Stats().Sent) })
	ops.counter("apiwatch_sensor_events_spooled_total", "Events written to the spool while Kafka was unreachable.", func() float64 { return float64(p.Stats().Spooled) })
	ops.counter("apiwatch_sensor_events_dropped_total", "Events dropped beyond the memory queue and the spool.", func() float64 { return float64(p.Stats().Dropped) })
	ops.counter("apiwatch_sensor_kafka_errors_total", "Failed writes to Kafka (retried or spooled).", func() float64 { return float64(p.Stats().Errors) })
	ops.ready.Store(true)
	st, runErr := o.input.run(cmd.Context(), o.pcaps, func(int) parse.Handler {
		n := normalize.New(ncfg)
		return parse.HandlerFunc(func(t *parse.Transaction) { p.Publish(n.Event(t)) })
	})
	ctx, cancel := context.WithTimeout(context.Background(), o.drain)
	defer cancel()
	closeErr := p.Close(ctx)
	out := cmd.OutOrStdout()
	st.WriteSummary(out)
	ps := p.Stats()
	fmt.Fprintf(out, "\nkafka %s %s: %d events sent, %d through the spool, %d dropped, %d write errors\n",
		strings.Join(o.kafka.brokers, ","), o.kafka.topic, ps.Sent, ps.Spooled, ps.Dropped, ps.Errors)
	if runErr != nil && cmd.Context().Err() == nil {
		return runErr
	}
	return closeErr
}
