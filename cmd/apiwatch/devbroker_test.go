package main

import (
	"context"
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/internal/testnet"
	"github.com/apiwatch/apiwatch/stream"
)

// TestDevbroker runs the command, produces to it with the sensor's
// producer, restarts it on its data directory and reads the events back.
func TestDevbroker(t *testing.T) {
	port := testnet.FreePort(t)
	dir := t.TempDir()
	start := func() (stop func()) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() {
			cmd := newRootCmd()
			cmd.SetArgs([]string{"devbroker", "--port", strconv.Itoa(port), "--data-dir", dir, "--partitions", "2"})
			done <- cmd.ExecuteContext(ctx)
		}()
		addr := "127.0.0.1:" + strconv.Itoa(port)
		for i := 0; ; i++ {
			if c, err := net.Dial("tcp", addr); err == nil {
				c.Close()
				break
			}
			if i == 100 {
				t.Fatal("devbroker did not listen")
			}
			time.Sleep(20 * time.Millisecond)
		}
		return func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("devbroker: %v", err)
			}
		}
	}
	addr := "127.0.0.1:" + strconv.Itoa(port)
	stop := start()
	p, err := stream.NewProducer(stream.ProducerConfig{Brokers: []string{addr}, Topic: "apiwatch.events"})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 100 {
		p.Publish(&event.APIEvent{SchemaMajor: event.SchemaMajor, RequestStartNs: int64(i), Request: &event.Request{Endpoint: "GET h /x"}})
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := p.Close(ctx); err != nil || p.Stats().Sent != 100 {
		t.Fatalf("produce: %v, %+v", err, p.Stats())
	}
	stop()
	stop = start()
	defer stop()
	cons, err := stream.NewConsumer(stream.ConsumerConfig{Brokers: []string{addr}, Topic: "apiwatch.events", Group: "t"})
	if err != nil {
		t.Fatal(err)
	}
	defer cons.Close()
	n := 0
	cons.Run(ctx, func(_ context.Context, events []*event.APIEvent) error {
		if n += len(events); n >= 100 {
			cancel()
		}
		return nil
	})
	if n != 100 {
		t.Errorf("read %d events back after a restart, want 100", n)
	}
}
