package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
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

// member is a group member that checks it is handed only the events of its
// partitions, as OnAssign and OnRevoke told it.
type member struct {
	t    *testing.T
	mu   sync.Mutex
	own  *Assignment
	seen map[int64]bool
	log  []string // "assign [0 1]", "revoke [0 1]"
}

func (m *member) assign(_ context.Context, a Assignment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.own != nil {
		m.t.Errorf("assigned %v while holding %v", a.Partitions, m.own.Partitions)
	}
	m.own = &a
	m.log = append(m.log, fmt.Sprint("assign ", a.Partitions))
	return nil
}

func (m *member) revoke(_ context.Context, a Assignment) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.own = nil
	m.log = append(m.log, fmt.Sprint("revoke ", a.Partitions))
	return nil
}

func (m *member) handle(_ context.Context, events []*event.APIEvent) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, e := range events {
		if m.own == nil || !m.own.Owns(e.Request.Endpoint) {
			m.t.Errorf("event of %q handed outside the assignment %v", e.Request.Endpoint, m.own)
		}
		m.seen[e.RequestStartNs] = true
	}
	return nil
}

func (m *member) partitions() []int {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.own == nil {
		return nil
	}
	return m.own.Partitions
}

func (m *member) count() int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return len(m.seen)
}

// TestConsumerRebalance: a second member joining takes over some of the
// first one's partitions; each is told what it owns before it gets events
// of it, and the first hands its partitions back (revoke) before that.
func TestConsumerRebalance(t *testing.T) {
	c, addr := broker(t, 0, "")
	defer c.Close()
	publish(t, addr, 0, 1000)
	start := func(m *member) (stop func()) {
		cons, err := NewConsumer(ConsumerConfig{Brokers: []string{addr}, Topic: topic, Group: "g", MaxBatch: 100,
			SessionTimeout: 6 * time.Second, OnAssign: m.assign, OnRevoke: m.revoke})
		if err != nil {
			t.Fatal(err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { defer close(done); cons.Run(ctx, m.handle) }()
		return func() { cancel(); <-done; cons.Close() }
	}
	until := func(what string, ok func() bool) {
		t.Helper()
		deadline := time.Now().Add(30 * time.Second)
		for !ok() {
			if time.Now().After(deadline) {
				t.Fatalf("timed out waiting for %s", what)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	a := &member{t: t, seen: map[int64]bool{}}
	stopA := start(a)
	until("the first member to get everything", func() bool { return a.count() == 1000 && len(a.partitions()) == 4 })
	b := &member{t: t, seen: map[int64]bool{}}
	stopB := start(b)
	until("the partitions to be shared", func() bool { return len(b.partitions()) > 0 && len(a.partitions())+len(b.partitions()) == 4 })
	publish(t, addr, 1000, 1000)
	until("the new events", func() bool {
		n := 0
		for i := int64(1000); i < 2000; i++ {
			a.mu.Lock()
			b.mu.Lock()
			if a.seen[i] || b.seen[i] {
				n++
			}
			b.mu.Unlock()
			a.mu.Unlock()
		}
		return n == 1000
	})
	if a.count() == 1000 || b.count() == 0 {
		t.Errorf("after the rebalance the first member handled %d new events, the second %d: want both to share", a.count()-1000, b.count())
	}
	stopB()
	stopA()
	if !slices.Equal(a.log[:2], []string{"assign [0 1 2 3]", "revoke [0 1 2 3]"}) {
		t.Errorf("first member: %v", a.log)
	}
	for _, m := range []*member{a, b} {
		if n := len(m.log); n == 0 || m.log[n-1][:6] != "revoke" {
			t.Errorf("a stopped member did not hand its partitions back: %v", m.log)
		}
	}
}

// TestPartitionOf: the consumer's idea of where a key lands is the
// producer's.
func TestPartitionOf(t *testing.T) {
	c, addr := broker(t, 0, "")
	defer c.Close()
	publish(t, addr, 0, 70)
	read := 0
	for p := range 4 {
		r := kafka.NewReader(kafka.ReaderConfig{Brokers: []string{addr}, Topic: topic, Partition: p, MaxWait: 100 * time.Millisecond})
		ctx, cancel := context.WithTimeout(context.Background(), 500*time.Millisecond)
		for {
			m, err := r.ReadMessage(ctx)
			if err != nil {
				break
			}
			read++
			if got := PartitionOf(string(m.Key), 4); got != p {
				t.Errorf("key %q is in partition %d, PartitionOf says %d", m.Key, p, got)
			}
		}
		cancel()
		r.Close()
	}
	if read != 70 {
		t.Errorf("read %d messages, published 70", read)
	}
}
