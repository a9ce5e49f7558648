package stream

import (
	"context"
	"strconv"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"
	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/internal/testnet"
)

const topic = "apiwatch.events"

// broker starts an in-process Kafka-protocol broker on port (0: any),
// keeping its data in dir ("": in memory).
func broker(t *testing.T, port int, dir string) (*kfake.Cluster, string) {
	t.Helper()
	opts := []kfake.Opt{kfake.NumBrokers(1), kfake.Ports(port), kfake.SeedTopics(4, topic), kfake.AllowAutoTopicCreation()}
	if dir != "" {
		opts = append(opts, kfake.DataDir(dir), kfake.SyncWrites())
	}
	c, err := kfake.NewCluster(opts...)
	if err != nil {
		t.Fatal(err)
	}
	return c, c.ListenAddrs()[0]
}

func numbered(i int) *event.APIEvent {
	return &event.APIEvent{SchemaMajor: event.SchemaMajor, RequestStartNs: int64(i),
		Request: &event.Request{Endpoint: "GET h /e" + strconv.Itoa(i%7), Path: strconv.Itoa(i)}}
}

// consumeAll reads the topic from the start until want messages arrived
// (or the deadline), and returns the events' sequence numbers in order
// per endpoint.
func consumeAll(t *testing.T, addr string, want int) map[string][]int64 {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	got := map[string][]int64{}
	n := 0
	for p := range 4 {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		for {
			lag, err := r.ReadLag(ctx)
			if err != nil {
				t.Fatal(err)
			}
			if lag == 0 {
				break
			}
			m, err := r.ReadMessage(ctx)
			if err != nil {
				t.Fatal(err)
			}
			var e event.APIEvent
			if err := event.Unmarshal(m.Value, &e); err != nil {
				t.Fatal(err)
			}
			if string(m.Key) != e.Request.Endpoint {
				t.Fatalf("key %q, endpoint %q", m.Key, e.Request.Endpoint)
			}
			got[e.Request.Endpoint] = append(got[e.Request.Endpoint], e.RequestStartNs)
			n++
		}
		r.Close()
	}
	if n != want {
		t.Fatalf("consumed %d messages, want %d", n, want)
	}
	return got
}

func inOrder(t *testing.T, got map[string][]int64) {
	t.Helper()
	for ep, seq := range got {
		for i := 1; i < len(seq); i++ {
			if seq[i] <= seq[i-1] {
				t.Fatalf("%s: %d after %d: out of order", ep, seq[i], seq[i-1])
			}
		}
	}
}

func TestProduce(t *testing.T) {
	c, addr := broker(t, 0, "")
	defer c.Close()
	p, err := NewProducer(ProducerConfig{Brokers: []string{addr}, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5000 {
		if !p.Publish(numbered(i)) {
			t.Fatal("publish refused with room in the queue")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if st := p.Stats(); st.Sent != 5000 || st.Dropped != 0 {
		t.Fatalf("stats %+v", st)
	}
	inOrder(t, consumeAll(t, addr, 5000))
}

// TestBrokerOutage stops the broker while events keep coming: they wait in
// the spool and reach Kafka, in order, once it is back; nothing the
// producer took is lost.
func TestBrokerOutage(t *testing.T) {
	spoolDir, data := t.TempDir(), t.TempDir()
	port := testnet.FreePort(t)
	c, addr := broker(t, port, data)
	p, err := NewProducer(ProducerConfig{Brokers: []string{addr}, Topic: topic, SpoolDir: spoolDir, SegmentBytes: 64 << 10, QueueMessages: 100})
	if err != nil {
		t.Fatal(err)
	}
	publish := func(i int) {
		for !p.Publish(numbered(i)) {
			time.Sleep(time.Millisecond) // the test waits; a sensor would count the drop
		}
	}
	for i := range 1000 {
		publish(i)
	}
	for p.Stats().Sent < 1000 {
		time.Sleep(10 * time.Millisecond)
	}
	c.Close()
	for i := 1000; i < 3000; i++ { // far more than the memory queue holds
		publish(i)
	}
	time.Sleep(time.Second)
	if st := p.Stats(); st.Spooled == 0 {
		t.Fatalf("nothing spooled while the broker was down: %+v", st)
	}
	c, addr = broker(t, port, data)
	defer c.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	st := p.Stats()
	t.Logf("stats %+v", st)
	// Dropped counts the publishes refused while the memory queue was full
	// (the test retried them); every message taken was sent.
	if st.Sent != 3000 || st.Spooled == 0 {
		t.Fatalf("stats %+v: want all 3000 sent, some through the spool", st)
	}
	inOrder(t, consumeAll(t, addr, 3000))
}
