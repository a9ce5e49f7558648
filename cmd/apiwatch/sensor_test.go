package main

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/stream"
)

// replayToBroker starts an in-process Kafka-protocol broker (stopped when
// the test ends) and replays the attacks demo into it with apiwatch
// sensor; it returns the broker's address and the sensor's output.
func replayToBroker(t *testing.T) (addr, out string) {
	t.Helper()
	c, err := kfake.NewCluster(kfake.NumBrokers(1), kfake.SeedTopics(4, "apiwatch.events", "apiwatch.findings"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	addr = c.ListenAddrs()[0]
	out, err = runCLI(t, "sensor", "--quiet", "--pcap", "../../testdata/attacks-demo.pcap.gz", "--kafka", addr)
	if err != nil {
		t.Fatal(err)
	}
	return addr, out
}

// TestSensor replays the attacks demo into a Kafka-protocol broker and
// reads every transaction back as an event, keyed by its endpoint.
func TestSensor(t *testing.T) {
	addr, out := replayToBroker(t)
	tx := summaryCount(t, out, "transactions")
	if !strings.Contains(out, "events sent") {
		t.Fatalf("summary:\n%s", out)
	}
	cons, err := stream.NewConsumer(stream.ConsumerConfig{Brokers: []string{addr}, Topic: "apiwatch.events", Group: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	n := 0
	cons.Run(ctx, func(_ context.Context, events []*event.APIEvent) error {
		for _, e := range events {
			if e.SensorId == "" || e.RequestStartNs == 0 {
				t.Errorf("incomplete event %v", e)
			}
		}
		if n += len(events); n >= tx {
			cancel()
		}
		return nil
	})
	if n != tx {
		t.Errorf("read %d events, %d transactions", n, tx)
	}
}
