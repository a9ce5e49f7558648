package stream

import (
	"context"
	"errors"
	"fmt"
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
	// Dialer carries TLS and SASL settings; nil is plain TCP.
	Dialer *kafka.Dialer
}

// Handler handles a batch of events and returns once what it made of them
// is durable (stored, acknowledged): only then are their offsets committed.
// An error makes the Consumer retry the same batch.
type Handler func(ctx context.Context, events []*event.APIEvent) error

// ConsumerStats counts a Consumer's messages.
type ConsumerStats struct {
	Consumed  uint64 // events handed to the handler
	Malformed uint64 // messages that were no readable event (skipped)
	Committed uint64 // offsets committed
	Retries   uint64 // batches handed over again after a handler error
}

// Consumer reads events as a member of a consumer group, at least once:
// a batch's offsets are committed after its handler returned nil, so a
// consumer that dies mid-batch leaves it to the next owner of the
// partitions.
type Consumer struct {
	cfg ConsumerConfig
	r   *kafka.Reader
	dlq *kafka.Writer

	consumed, malformed, committed, retries atomic.Uint64

	// The batch Run was working on when it was stopped: its events not yet
	// handled (nil once they were), its messages not yet committed.
	pending       []kafka.Message
	pendingEvents []*event.APIEvent
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
	rc := kafka.ReaderConfig{Brokers: cfg.Brokers, Topic: cfg.Topic, GroupID: cfg.Group,
		MaxWait: cfg.MaxWait, StartOffset: kafka.FirstOffset, Dialer: cfg.Dialer,
		// Offsets are committed by Run, after the handler: never on a timer.
		CommitInterval: 0}
	c := &Consumer{cfg: cfg, r: kafka.NewReader(rc)}
	if cfg.DeadLetterTopic != "" {
		c.dlq = &kafka.Writer{Addr: kafka.TCP(cfg.Brokers...), Topic: cfg.DeadLetterTopic,
			RequiredAcks: kafka.RequireAll, AllowAutoTopicCreation: true}
	}
	return c, nil
}

// Stats returns the consumer's counters.
func (c *Consumer) Stats() ConsumerStats {
	return ConsumerStats{Consumed: c.consumed.Load(), Malformed: c.malformed.Load(), Committed: c.committed.Load(), Retries: c.retries.Load()}
}

// Lag returns the messages not yet read in the current assignment.
func (c *Consumer) Lag() int64 { return c.r.Stats().Lag }

// Run hands batches to h until ctx ends (then it returns nil) or Kafka
// fails for good.
func (c *Consumer) Run(ctx context.Context, h Handler) error {
	for {
		msgs, err := c.fetch(ctx)
		if ctx.Err() != nil {
			return nil
		}
		if err != nil {
			return fmt.Errorf("kafka consumer: %w", err)
		}
		events := c.decode(ctx, msgs)
		if len(events) > 0 && !c.handle(ctx, h, events) {
			// Stopped before the batch was durable: Finish may complete it.
			c.pending, c.pendingEvents = msgs, events
			return nil
		}
		if err := c.r.CommitMessages(ctx, msgs...); err != nil {
			if ctx.Err() != nil {
				c.pending, c.pendingEvents = msgs, nil
				return nil
			}
			return fmt.Errorf("kafka consumer: commit: %w", err)
		}
		c.committed.Add(uint64(len(msgs)))
	}
}

// Finish completes the batch Run was stopped in (handles what was not
// handled, commits its offsets) until ctx ends: a graceful shutdown leaves
// nothing half done. Call it after Run returned, before Close.
func (c *Consumer) Finish(ctx context.Context, h Handler) error {
	if c.pending == nil {
		return nil
	}
	if len(c.pendingEvents) > 0 && !c.handle(ctx, h, c.pendingEvents) {
		return fmt.Errorf("kafka consumer: the last batch was not stored before the shutdown deadline: %w", ctx.Err())
	}
	if err := c.r.CommitMessages(ctx, c.pending...); err != nil {
		return fmt.Errorf("kafka consumer: commit: %w", err)
	}
	c.committed.Add(uint64(len(c.pending)))
	c.pending, c.pendingEvents = nil, nil
	return nil
}

// fetch waits for a message, then takes what else comes within MaxWait,
// up to MaxBatch.
func (c *Consumer) fetch(ctx context.Context) ([]kafka.Message, error) {
	m, err := c.r.FetchMessage(ctx)
	if err != nil {
		return nil, err
	}
	msgs := []kafka.Message{m}
	more, cancel := context.WithTimeout(ctx, c.cfg.MaxWait)
	defer cancel()
	for len(msgs) < c.cfg.MaxBatch {
		m, err := c.r.FetchMessage(more)
		if err != nil {
			break // the wait is over (or ctx ended: Run sees it)
		}
		msgs = append(msgs, m)
	}
	return msgs, nil
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

// handle calls h until it succeeds; false when ctx ended first.
func (c *Consumer) handle(ctx context.Context, h Handler, events []*event.APIEvent) bool {
	backoff := 100 * time.Millisecond
	for {
		err := h(ctx, events)
		if err == nil {
			c.consumed.Add(uint64(len(events)))
			return true
		}
		if ctx.Err() != nil {
			return false
		}
		c.retries.Add(1)
		log.Warn().Err(err).Int("events", len(events)).Dur("retry_in", backoff).Msg("handler failed; retrying the batch")
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
	err := c.r.Close()
	if c.dlq != nil {
		err = errors.Join(err, c.dlq.Close())
	}
	return err
}
