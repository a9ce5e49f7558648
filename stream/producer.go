// Package stream carries API events over Kafka: a producer for sensors that
// survives a Kafka outage (a bounded memory queue, then an on-disk spool,
// replayed in order), and a consumer for detectors that commits offsets
// only once what they produced is stored. It speaks the Kafka protocol
// through segmentio/kafka-go; any Kafka-protocol cluster will do.
package stream

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
	"time"

	"github.com/rs/zerolog/log"
	"github.com/segmentio/kafka-go"
	"github.com/segmentio/kafka-go/compress"

	"github.com/apiwatch/apiwatch/event"
)

// ProducerConfig configures a Producer. Brokers and Topic are required.
type ProducerConfig struct {
	Brokers []string
	Topic   string
	// QueueMessages bounds the messages waiting in memory (default
	// 100000). While Kafka is unreachable they go on to the spool; without
	// a spool, or beyond its size, messages are dropped and counted.
	QueueMessages int
	// SpoolDir keeps messages on disk while Kafka is unreachable, at most
	// SpoolBytes (default 1 GiB) in segments of SegmentBytes (default
	// 16 MiB). Empty: no spool.
	SpoolDir                 string
	SpoolBytes, SegmentBytes int64
	// BatchSize and BatchTimeout pace the writes (defaults 2000, 50ms).
	BatchSize    int
	BatchTimeout time.Duration
	// Transport carries TLS and SASL settings; nil is plain TCP.
	Transport *kafka.Transport
}

func (c ProducerConfig) withDefaults() ProducerConfig {
	if c.QueueMessages <= 0 {
		c.QueueMessages = 100000
	}
	if c.SpoolBytes <= 0 {
		c.SpoolBytes = 1 << 30
	}
	if c.SegmentBytes <= 0 {
		c.SegmentBytes = 16 << 20
	}
	if c.BatchSize <= 0 {
		c.BatchSize = 2000
	}
	if c.BatchTimeout <= 0 {
		c.BatchTimeout = 50 * time.Millisecond
	}
	return c
}

// ProducerStats counts a Producer's messages.
type ProducerStats struct {
	Sent    uint64 // acknowledged by all in-sync replicas
	Spooled uint64 // written to the spool (then sent when Kafka returned)
	Dropped uint64 // beyond the queue and the spool
	Errors  uint64 // failed writes to Kafka (each retried or spooled)
}

// Producer publishes events to a topic. Publish never blocks.
type Producer struct {
	cfg                          ProducerConfig
	w                            *kafka.Writer
	queue                        chan Message
	spool                        *spool
	sent, spooled, dropped, errs atomic.Uint64
	done                         chan struct{}
	stop                         context.CancelFunc
}

// NewProducer starts a producer.
func NewProducer(cfg ProducerConfig) (*Producer, error) {
	cfg = cfg.withDefaults()
	if len(cfg.Brokers) == 0 || cfg.Topic == "" {
		return nil, errors.New("kafka producer: brokers and topic are required")
	}
	p := &Producer{cfg: cfg, queue: make(chan Message, cfg.QueueMessages), done: make(chan struct{})}
	if cfg.SpoolDir != "" {
		s, err := openSpool(cfg.SpoolDir, cfg.SpoolBytes, cfg.SegmentBytes)
		if err != nil {
			return nil, err
		}
		p.spool = s
	}
	p.w = &kafka.Writer{
		Addr:  kafka.TCP(cfg.Brokers...),
		Topic: cfg.Topic,
		// kafka-go's zero value is acks=0, which silently loses data.
		RequiredAcks: kafka.RequireAll,
		Balancer:     &kafka.Hash{},
		Compression:  compress.Zstd,
		// run hands the Writer whole batches and waits for them: the
		// Writer's own partition batches (a share of ours each) must not
		// wait for more that will not come.
		BatchSize:              cfg.BatchSize,
		BatchTimeout:           time.Millisecond,
		BatchBytes:             16 << 20,
		MaxAttempts:            3,
		WriteBackoffMin:        50 * time.Millisecond,
		WriteBackoffMax:        500 * time.Millisecond,
		AllowAutoTopicCreation: true,
	}
	if cfg.Transport != nil { // a nil *Transport in the interface would be used
		p.w.Transport = cfg.Transport
	}
	ctx, stop := context.WithCancel(context.Background())
	p.stop = stop
	go p.run(ctx)
	return p, nil
}

// Publish queues an event, keyed by its endpoint, and reports whether it
// was taken.
func (p *Producer) Publish(e *event.APIEvent) bool {
	v, err := event.Marshal(nil, e)
	if err != nil {
		p.dropped.Add(1)
		return false
	}
	var key []byte
	if e.Request != nil {
		key = []byte(e.Request.Endpoint)
	}
	return p.Send(Message{Key: key, Value: v})
}

// Send queues a message as it is (findings, say) and reports whether it
// was taken.
func (p *Producer) Send(m Message) bool {
	select {
	case p.queue <- m:
		return true
	default:
		p.dropped.Add(1)
		return false
	}
}

// Stats returns the producer's counters.
func (p *Producer) Stats() ProducerStats {
	return ProducerStats{Sent: p.sent.Load(), Spooled: p.spooled.Load(), Dropped: p.dropped.Load(), Errors: p.errs.Load()}
}

// Close sends what is queued (and spooled) until ctx ends; what is left
// then stays in the spool for the next run (or is counted dropped).
func (p *Producer) Close(ctx context.Context) error {
	close(p.queue)
	var err error
	select {
	case <-p.done:
	case <-ctx.Done():
		p.stop()
		<-p.done
		err = fmt.Errorf("kafka producer: %w with messages unsent", ctx.Err())
	}
	if p.spool != nil {
		err = errors.Join(err, p.spool.close())
	}
	return errors.Join(err, p.w.Close())
}

func (p *Producer) run(ctx context.Context) {
	defer close(p.done)
	batch := make([]Message, 0, p.cfg.BatchSize)
	timer := time.NewTimer(p.cfg.BatchTimeout)
	defer timer.Stop()
	open := true
	for open || len(batch) > 0 || p.spooledWaiting() {
		if ctx.Err() != nil {
			p.keep(batch)
			return
		}
		// Fill a batch: up to BatchSize, or what came within BatchTimeout.
		timer.Reset(p.cfg.BatchTimeout)
	fill:
		for open && len(batch) < p.cfg.BatchSize {
			select {
			case m, ok := <-p.queue:
				if !ok {
					open = false
					break fill
				}
				batch = append(batch, m)
			case <-timer.C:
				break fill
			}
		}
		if p.spooledWaiting() {
			// Kafka was down: new messages queue behind the spooled ones.
			p.keep(batch)
			batch = batch[:0]
			if !p.replay(ctx) {
				p.pause(ctx)
			}
			continue
		}
		if len(batch) == 0 {
			continue
		}
		if err := p.w.WriteMessages(ctx, toKafka(batch)...); err != nil {
			p.errs.Add(1)
			log.Warn().Err(err).Int("messages", len(batch)).Msg("kafka write failed; spooling")
			p.keep(batch)
		} else {
			p.sent.Add(uint64(len(batch)))
		}
		batch = batch[:0]
	}
}

func (p *Producer) spooledWaiting() bool { return p.spool != nil && !p.spool.empty() }

// keep puts messages in the spool, or counts them dropped without one (or
// beyond its size).
func (p *Producer) keep(batch []Message) {
	for _, m := range batch {
		if p.spool == nil {
			p.dropped.Add(1)
			continue
		}
		ok, err := p.spool.add(m)
		if err != nil {
			log.Error().Err(err).Msg("spool write failed; message dropped")
		}
		if ok && err == nil {
			p.spooled.Add(1)
		} else {
			p.dropped.Add(1)
		}
	}
}

// replay sends the oldest spooled segment; false when Kafka is still down.
func (p *Producer) replay(ctx context.Context) bool {
	msgs, err := p.spool.oldest()
	if err != nil {
		// A cut last record (a crash mid-write): send what was whole.
		log.Warn().Err(err).Msg("spool segment damaged; sending its whole records")
	}
	if len(msgs) > 0 {
		if err := p.w.WriteMessages(ctx, toKafka(msgs)...); err != nil {
			p.errs.Add(1)
			return false
		}
		p.sent.Add(uint64(len(msgs)))
	}
	if err := p.spool.dropOldest(); err != nil {
		log.Error().Err(err).Msg("spool: cannot delete a sent segment")
	}
	return true
}

// pause waits a little before retrying Kafka, moving queued messages to
// the spool meanwhile so that the memory queue does not fill.
func (p *Producer) pause(ctx context.Context) {
	deadline := time.After(500 * time.Millisecond)
	for {
		select {
		case m, ok := <-p.queue:
			if !ok {
				// Closing: wait out the pause, then the loop retries.
				select {
				case <-deadline:
				case <-ctx.Done():
				}
				return
			}
			p.keep([]Message{m})
		case <-deadline:
			return
		case <-ctx.Done():
			return
		}
	}
}

func toKafka(ms []Message) []kafka.Message {
	out := make([]kafka.Message, len(ms))
	for i, m := range ms {
		out[i] = kafka.Message{Key: m.Key, Value: m.Value}
	}
	return out
}
