package stream

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/segmentio/kafka-go"

	"github.com/apiwatch/apiwatch/event"
)

// publish writes n numbered events and the given raw messages.
func publish(t *testing.T, addr string, from, n int, raw ...[]byte) {
	t.Helper()
	p, err := NewProducer(ProducerConfig{Brokers: []string{addr}, Topic: topic})
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		p.Publish(numbered(i))
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil {
		t.Fatal(err)
	}
	if len(raw) > 0 {
		w := &kafka.Writer{Addr: kafka.TCP(addr), Topic: topic, RequiredAcks: kafka.RequireAll}
		for _, b := range raw {
			if err := w.WriteMessages(ctx, kafka.Message{Value: b}); err != nil {
				t.Fatal(err)
			}
		}
		w.Close()
	}
}

// collector is a handler that keeps what it was given.
type collector struct {
	mu   sync.Mutex
	seen map[int64]int
	fail int // fail this many calls first
}

func (c *collector) handle(_ context.Context, events []*event.APIEvent) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.fail > 0 {
		c.fail--
		return errors.New("storage unavailable")
	}
	for _, e := range events {
		c.seen[e.RequestStartNs]++
	}
	return nil
}

func (c *collector) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.seen)
}

// TestConsumer: every event handed over, garbage and unknown schema
// versions skipped (to the dead-letter topic), a failing handler retried,
// and offsets committed only after it succeeded.
func TestConsumer(t *testing.T) {
	c, addr := broker(t, 0, "")
	defer c.Close()
	future, _ := event.Marshal(nil, &event.APIEvent{SchemaMajor: event.SchemaMajor + 1})
	publish(t, addr, 0, 1000, []byte("garbage"), future)

	col := &collector{seen: map[int64]int{}, fail: 2}
	cons, err := NewConsumer(ConsumerConfig{Brokers: []string{addr}, Topic: topic, Group: "detect", DeadLetterTopic: "dead"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- cons.Run(ctx, col.handle) }()
	deadline := time.Now().Add(30 * time.Second)
	for (col.count() < 1000 || cons.Stats().Committed < 1002) && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	cons.Close()
	st := cons.Stats()
	if col.count() != 1000 || st.Malformed != 2 || st.Retries < 2 || st.Committed != 1002 {
		t.Fatalf("handled %d, stats %+v; want 1000 events, 2 malformed, 2+ retries, 1002 committed", col.count(), st)
	}
	// The group resumes after what it committed: nothing is handed again.
	publish(t, addr, 1000, 10)
	again := &collector{seen: map[int64]int{}}
	cons2, err := NewConsumer(ConsumerConfig{Brokers: []string{addr}, Topic: topic, Group: "detect"})
	if err != nil {
		t.Fatal(err)
	}
	defer cons2.Close()
	ctx2, cancel2 := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel2()
	go func() {
		for again.count() < 10 && ctx2.Err() == nil {
			time.Sleep(20 * time.Millisecond)
		}
		time.Sleep(300 * time.Millisecond) // anything more would come now
		cancel2()
	}()
	cons2.Run(ctx2, again.handle)
	if again.count() != 10 {
		t.Errorf("a new member of the group got %d events, want the 10 new ones", again.count())
	}
	for seq := range again.seen {
		if seq < 1000 {
			t.Errorf("event %d handed again after its offset was committed", seq)
		}
	}
	// The skipped messages are in the dead-letter topic.
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: "dead", GroupID: "dead-check", StartOffset: kafka.FirstOffset, MaxWait: 100 * time.Millisecond})
	defer r.Close()
	rctx, rcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer rcancel()
	for i := range 2 {
		if _, err := r.ReadMessage(rctx); err != nil {
			t.Fatalf("dead-letter message %d: %v", i, err)
		}
	}
}
