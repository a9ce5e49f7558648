package stream

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog/log"
	"github.com/segmentio/kafka-go"

	"github.com/apiwatch/apiwatch/event"
)

// ConsumerConfig configures a Consumer. Brokers, Topic and Group are
// required.
type ConsumerConfig struct {
	Brokers      []string
	Topic, Group string
	// DeadLetterTopic, when set, receives the messages that are not
	// events of a schema this apiwatch reads (they are skipped either way).
	DeadLetterTopic string
	// A batch is handed over at MaxBatch messages or MaxWait after its
	// first (defaults 5000, 200ms).
	MaxBatch int
	MaxWait  time.Duration
	// SessionTimeout is how long the group waits for a member that stopped
	// answering before its partitions go to the others (default 30s).
	SessionTimeout time.Duration
	// DrainTimeout bounds how long a stopping consumer keeps trying to
	// finish its batch in flight and hand its partitions back (default
	// 30s).
	DrainTimeout time.Duration
	// OnAssign is called when the member gets its partitions, before their
	// first batch; OnRevoke when it loses them (at every rebalance, and at
	// the end), after their last batch was handled and committed. Errors
	// are retried, like the handler's.
	OnAssign, OnRevoke func(ctx context.Context, a Assignment) error
	// Dialer carries TLS and SASL settings; nil is plain TCP.
	Dialer *kafka.Dialer
}

// Assignment is a member's share of the topic for one generation of the
// group.
type Assignment struct {
	Partitions []int // sorted
	Of         int   // the topic's partitions
}

// Owns reports whether messages of the given key land in the assignment's
// partitions (the producer's balancer decides).
func (a Assignment) Owns(key string) bool {
	_, ok := slices.BinarySearch(a.Partitions, PartitionOf(key, a.Of))
	return ok
}

// PartitionOf returns the partition of n a Producer writes a message with
// this key to.
func PartitionOf(key string, n int) int {
	if n <= 0 {
		return 0
	}
	parts := make([]int, n)
	for i := range parts {
		parts[i] = i
	}
	return new(kafka.Hash).Balance(kafka.Message{Key: []byte(key)}, parts...)
}

// Handler handles a batch of events and returns once what it made of them
// is durable (stored, acknowledged): only then are their offsets committed.
// An error makes the Consumer retry the same batch.
type Handler func(ctx context.Context, events []*event.APIEvent) error

// ConsumerStats counts a Consumer's messages.
type ConsumerStats struct {
	Consumed    uint64 // events handed to the handler
	Malformed   uint64 // messages that were no readable event (skipped)
	Committed   uint64 // offsets committed
	Retries     uint64 // batches (or assignments) handed over again after an error
	Generations uint64 // group generations joined (rebalances)
}

// Consumer reads events as a member of a consumer group, at least once:
// a batch's offsets are committed after its handler returned nil, so a
// consumer that dies mid-batch leaves it to the next owner of the
// partitions. It drives kafka-go's ConsumerGroup itself (rather than a
// group Reader) to know its partitions: a detector restores the baselines
// of the endpoints it is given and saves those it gives up.
type Consumer struct {
	cfg   ConsumerConfig
	group *kafka.ConsumerGroup
	dlq   *kafka.Writer

	consumed, malformed, committed, retries, generations atomic.Uint64
	lag                                                  atomic.Pointer[[]atomic.Int64]
}

// NewConsumer joins the group.
func NewConsumer(cfg ConsumerConfig) (*Consumer, error) {
	if len(cfg.Brokers) == 0 || cfg.Topic == "" || cfg.Group == "" {
		return nil, errors.New("kafka consumer: brokers, topic and group are required")
	}
	if cfg.MaxBatch <= 0 {
		cfg.MaxBatch = 5000
	}
	if cfg.MaxWait <= 0 {
		cfg.MaxWait = 200 * time.Millisecond
	}
	if cfg.SessionTimeout <= 0 {
		cfg.SessionTimeout = 30 * time.Second
	}
	if cfg.DrainTimeout <= 0 {
		cfg.DrainTimeout = 30 * time.Second
	}
	g, err := kafka.NewConsumerGroup(kafka.ConsumerGroupConfig{
		ID: cfg.Group, Brokers: cfg.Brokers, Topics: []string{cfg.Topic}, Dialer: cfg.Dialer,
		StartOffset:       kafka.FirstOffset,
		SessionTimeout:    cfg.SessionTimeout,
		HeartbeatInterval: cfg.SessionTimeout / 10,
		RebalanceTimeout:  cfg.DrainTimeout,
		JoinGroupBackoff:  time.Second,
		// Partitions added to the topic move keys between partitions: a
		// new generation re-assigns them.
		WatchPartitionChanges: true,
	})
	if err != nil {
		return nil, fmt.Errorf("kafka consumer: %w", err)
	}
	c := &Consumer{cfg: cfg, group: g}
	if cfg.DeadLetterTopic != "" {
		c.dlq = &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.DeadLetterTopic,
			RequiredAcks: kafka.RequireAll, AllowAutoTopicCreation: true}
		if cfg.Dialer != nil {
			c.dlq.Transport = &kafka.Transport{TLS: cfg.Dialer.TLS, SASL: cfg.Dialer.SASLMechanism}
		}
	}
	return c, nil
}

// Stats returns the consumer's counters.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{Consumed: c.consumed.Load(), Malformed: c.malformed.Load(), Committed: c.committed.Load(),
		Retries: c.retries.Load(), Generations: c.generations.Load()}
}

// Lag returns the messages of the assigned partitions not read yet, as of
// the last message read from each.
func (c *Consumer) Lag() int64 {
	p := c.lag.Load()
	if p == nil {
		return 0
	}
	var n int64
	for i := range *p {
		n += (*p)[i].Load()
	}
	return n
}

// Run hands batches to h until ctx ends or Kafka fails for good. When ctx
// ends it keeps going for up to DrainTimeout to finish the batch in flight,
// commit it and call OnRevoke: a graceful stop leaves nothing half done.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	// The handler's context outlives ctx by DrainTimeout.
	work, cancel := context.WithCancel(context.WithoutCancel(ctx))
	defer cancel()
	stop := context.AfterFunc(ctx, func() { time.AfterFunc(c.cfg.DrainTimeout, cancel) })
	defer stop()
	for ctx.Err() == nil {
		gen, err := c.group.Next(ctx)
		if err != nil {
			if ctx.Err() != nil || errors.Is(err, kafka.ErrGroupClosed) {
				break
			}
			// Joining failed (broker away, rebalance): the group retries.
			log.Warn().Err(err).Str("group", c.cfg.Group).Msg("kafka consumer group: joining")
			continue
		}
		c.generations.Add(1)
		done := make(chan struct{})
		gen.Start(func(gctx context.Context) {
			defer close(done)
			c.own(ctx, work, gctx, gen, h)
		})
		<-done
	}
	return nil
}

// own consumes the generation's partitions until the generation or ctx
// ends, then hands them back.
func (c *Consumer) own(ctx, work, gctx context.Context, gen *kafka.Generation, h Handler) {
	parts := gen.Assignments[c.cfg.Topic]
	a := Assignment{Partitions: make([]int, 0, len(parts))}
	for _, p := range parts {
		a.Partitions = append(a.Partitions, p.ID)
	}
	slices.Sort(a.Partitions)
	n, err := c.partitions(work)
	if err != nil {
		log.Error().Err(err).Str("topic", c.cfg.Topic).Msg("kafka consumer: reading the topic's partitions; rejoining")
		return
	}
	a.Of = n
	log.Info().Ints("partitions", a.Partitions).Int("of", a.Of).Int32("generation", gen.ID).Msg("kafka consumer: partitions assigned")
	if c.cfg.OnAssign != nil && !c.retry(work, "assignment", func() error { return c.cfg.OnAssign(work, a) }) {
		return
	}

	lag := make([]atomic.Int64, len(parts))
	c.lag.Store(&lag)
	defer c.lag.CompareAndSwap(&lag, nil)
	msgs := make(chan kafka.Message, c.cfg.MaxBatch)
	rctx, stopReaders := context.WithCancel(gctx)
	var readers sync.WaitGroup
	defer readers.Wait()
	defer stopReaders()
	for i, p := range parts {
		readers.Add(1)
		go func() {
			defer readers.Done()
			c.read(rctx, p, msgs, &lag[i])
		}()
	}
	for {
		batch := c.collect(ctx, gctx, msgs)
		if len(batch) > 0 && !c.process(work, gen, batch, h) {
			break
		}
		if ctx.Err() != nil || gctx.Err() != nil {
			break
		}
	}
	if c.cfg.OnRevoke != nil {
		c.retry(work, "revocation", func() error { return c.cfg.OnRevoke(work, a) })
	}
}

// read feeds one partition's messages into msgs until ctx ends.
func (c *Consumer) read(ctx context.Context, p kafka.PartitionAssignment, msgs chan<- kafka.Message, lag *atomic.Int64) {
	r := kafka.NewReader(kafka.ReaderConfig{Brokers: c.cfg.Brokers, Topic: c.cfg.Topic, Partition: p.ID,
		Dialer: c.cfg.Dialer, MaxWait: 500 * time.Millisecond, ReadLagInterval: -1})
	defer r.Close()
	if err := r.SetOffset(p.Offset); err != nil {
		log.Error().Err(err).Int("partition", p.ID).Msg("kafka consumer: setting the start offset")
		return
	}
	for {
		m, err := r.FetchMessage(ctx)
		if err != nil {
			if ctx.Err() != nil {
				return
			}
			log.Warn().Err(err).Int("partition", p.ID).Msg("kafka consumer: fetch failed; retrying")
			select {
			case <-time.After(time.Second):
				continue
			case <-ctx.Done():
				return
			}
		}
		lag.Store(m.HighWaterMark - m.Offset - 1)
		select {
		case msgs <- m:
		case <-ctx.Done():
			return
		}
	}
}

// collect waits for a message, then takes what else comes within MaxWait,
// up to MaxBatch. It returns early (possibly nothing) when ctx or the
// generation ends.
func (c *Consumer) collect(ctx, gctx context.Context, msgs <-chan kafka.Message) []kafka.Message {
	var batch []kafka.Message
	select {
	case m := <-msgs:
		batch = append(batch, m)
	case <-ctx.Done():
		return nil
	case <-gctx.Done():
		return nil
	}
	wait := time.NewTimer(c.cfg.MaxWait)
	defer wait.Stop()
	for len(batch) < c.cfg.MaxBatch {
		select {
		case m := <-msgs:
			batch = append(batch, m)
		case <-wait.C:
			return batch
		case <-ctx.Done():
			return batch
		case <-gctx.Done():
			return batch
		}
	}
	return batch
}

// process hands a batch to h and commits its offsets; false when work
// ended first (the batch goes to the next owner of its partitions).
func (c *Consumer) process(work context.Context, gen *kafka.Generation, batch []kafka.Message, h Handler) bool {
	events := c.decode(work, batch)
	if len(events) > 0 && !c.retry(work, "batch", func() error { return h(work, events) }) {
		return false
	}
	c.consumed.Add(uint64(len(events)))
	next := map[int]int64{}
	for _, m := range batch {
		next[m.Partition] = max(next[m.Partition], m.Offset+1)
	}
	// A generation that ended still takes the commit while this member
	// holds it (the rebalance waits for us); after that the batch is
	// delivered again (at least once).
	if err := gen.CommitOffsets(map[string]map[int]int64{c.cfg.Topic: next}); err != nil {
		log.Warn().Err(err).Int("messages", len(batch)).Msg("kafka consumer: commit failed; the batch will be delivered again")
		return false
	}
	c.committed.Add(uint64(len(batch)))
	return true
}

// partitions returns the topic's partition count.
func (c *Consumer) partitions(ctx context.Context) (int, error) {
	d := c.cfg.Dialer
	if d == nil {
		d = kafka.DefaultDialer
	}
	var err error
	for _, b := range c.cfg.Brokers {
		var ps []kafka.Partition
		if ps, err = d.LookupPartitions(ctx, "tcp", b, c.cfg.Topic); err == nil {
			return len(ps), nil
		}
	}
	return 0, err
}

// decode turns messages into events; the others are counted, logged and
// sent to the dead-letter topic.
func (c *Consumer) decode(ctx context.Context, msgs []kafka.Message) []*event.APIEvent {
	events := make([]*event.APIEvent, 0, len(msgs))
	for _, m := range msgs {
		e := new(event.APIEvent)
		if err := event.Unmarshal(m.Value, e); err != nil {
			c.malformed.Add(1)
			log.Warn().Err(err).Int("partition", m.Partition).Int64("offset", m.Offset).Msg("skipping a message that is no readable event")
			if c.dlq != nil {
				if err := c.dlq.WriteMessages(ctx, kafka.Message{Key: m.Key, Value: m.Value}); err != nil {
					log.Error().Err(err).Msg("dead-letter write failed")
				}
			}
			continue
		}
		events = append(events, e)
	}
	return events
}

// retry calls f until it succeeds; false when ctx ended first.
func (c *Consumer) retry(ctx context.Context, what string, f func() error) bool {
	backoff := 100 * time.Millisecond
	for {
		err := f()
		if err == nil {
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.retries.Add(1)
		log.Warn().Err(err).Str("of", what).Dur("retry_in", backoff).Msg("kafka consumer: failed; retrying")
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
			return false
		}
		backoff = min(2*backoff, 10*time.Second)
	}
}

// Close leaves the group.
func (c *Consumer) Close() error {
	err := c.group.Close()
	if c.dlq != nil {
		err = errors.Join(err, c.dlq.Close())
	}
	return err
}
