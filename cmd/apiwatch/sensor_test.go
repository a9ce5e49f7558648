package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/twmb/franz-go/pkg/kfake"

	"github.com/apiwatch/apiwatch/event"
	"github.com/apiwatch/apiwatch/internal/testnet"
	"github.com/apiwatch/apiwatch/stream"
)

// replayToBroker starts an in-process Kafka-protocol broker (stopped when
// the test ends) and replays the attacks demo into it with apiwatch
// sensor; it returns the broker's address and the sensor's output.
func replayToBroker(t *testing.T, opts ...kfake.Opt) (addr, out string) {
	t.Helper()
	addr = startBroker(t, opts...)
	out, err := runCLI(t, "sensor", "--quiet", "--pcap", attacksDemo, "--kafka", addr)
	if err != nil {
		t.Fatal(err)
	}
	return addr, out
}

// startBroker starts an in-process broker with the two topics, closed
// when the test ends, and returns its address.
func startBroker(t *testing.T, opts ...kfake.Opt) string {
	t.Helper()
	c, err := kfake.NewCluster(append([]kfake.Opt{kfake.NumBrokers(1), kfake.SeedTopics(4, "apiwatch.events", "apiwatch.findings")}, opts...)...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.ListenAddrs()[0]
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

// TestSensorMetrics scrapes a sensor while it works: packets, transactions,
// drops by reason and Kafka's state are live on /metrics. The capture comes
// through a named pipe that stays open, so the sensor is still reading when
// it is scraped; it starts with a frame the decoder must drop.
func TestSensorMetrics(t *testing.T) {
	raw := gunzip(t, "../../testdata/demo.pcap.gz")
	if binary.LittleEndian.Uint32(raw) != 0xa1b2c3d4 {
		t.Fatalf("the demo is not a little-endian pcap (magic %x)", raw[:4])
	}
	bad := append(make([]byte, 12), 0x08, 0x00, 0x15) // IPv4 ethertype, IP version 1
	bad = append(bad, make([]byte, 19)...)
	rec := binary.LittleEndian.AppendUint32(nil, binary.LittleEndian.Uint32(raw[24:])) // the first packet's second
	rec = binary.LittleEndian.AppendUint32(rec, 0)
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(bad)))
	rec = binary.LittleEndian.AppendUint32(rec, uint32(len(bad)))
	raw = slices.Concat(raw[:24], rec, bad, raw[24:])

	fifo := filepath.Join(t.TempDir(), "capture.pcap")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Fatal(err)
	}
	release := make(chan struct{})
	go func() {
		w, err := os.OpenFile(fifo, os.O_WRONLY, 0)
		if err != nil {
			t.Error(err)
			return
		}
		defer w.Close()
		w.Write(raw)
		<-release
	}()
	listen := fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t))
	done := make(chan string, 1)
	go func() {
		out, err := runCLI(t, "sensor", "--quiet", "--pcap", fifo, "--kafka", fmt.Sprintf("127.0.0.1:%d", testnet.FreePort(t)), "--listen", listen)
		if err != nil {
			t.Error(err)
		}
		done <- out
	}()
	dropped := `apiwatch_sensor_drops_total{reason="decode.malformed_ip"} 1`
	deadline := time.Now().Add(20 * time.Second)
	var body string
	for time.Now().Before(deadline) && !strings.Contains(body, dropped) {
		time.Sleep(100 * time.Millisecond)
		if resp, err := http.Get("http://" + listen + "/metrics"); err == nil {
			b, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			body = string(b)
		}
	}
	close(release)
	for _, w := range []string{dropped, "apiwatch_sensor_kafka_errors_total", "apiwatch_sensor_events_sent_total 0"} {
		if !strings.Contains(body, w) {
			t.Errorf("/metrics lacks %q:\n%s", w, grepLines(body, "apiwatch_"))
		}
	}
	packets, tx, events := metric(body, "apiwatch_sensor_packets_total"), metric(body, "apiwatch_sensor_transactions_total"), metric(body, "apiwatch_sensor_events_total")
	out := <-done
	if packets <= 0 || tx <= 0 || events < tx {
		t.Errorf("packets %v, transactions %v, events %v: want packets, and an event per transaction", packets, tx, events)
	}
	if n := summaryCount(t, out, "transactions"); float64(n) < tx {
		t.Errorf("the summary says %d transactions, /metrics %v while running", n, tx)
	}
}

// metric returns the value of an unlabelled sample in a /metrics page.
func metric(body, name string) float64 {
	for _, l := range strings.Split(body, "\n") {
		if v, ok := strings.CutPrefix(l, name+" "); ok {
			f, _ := strconv.ParseFloat(v, 64)
			return f
		}
	}
	return -1
}

func grepLines(s, sub string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, sub) && !strings.HasPrefix(l, "#") {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}
