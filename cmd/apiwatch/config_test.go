package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// TestConfigPrecedence: command line over environment over file over
// defaults, lists from YAML lists, unknown keys refused.
func TestConfigPrecedence(t *testing.T) {
	var topic, dir, group string
	var queue int
	var brokers []string
	cmd := &cobra.Command{Use: "sensor", RunE: func(*cobra.Command, []string) error { return nil }}
	f := cmd.Flags()
	f.StringVar(&topic, "topic", "default-topic", "")
	f.StringVar(&dir, "spool-dir", "", "")
	f.StringVar(&group, "group", "default-group", "")
	f.IntVar(&queue, "queue", 100, "")
	f.StringSliceVar(&brokers, "kafka", nil, "")
	file := filepath.Join(t.TempDir(), "c.yaml")
	os.WriteFile(file, []byte("topic: from-file\nspool-dir: /from/file\nqueue: 7\nkafka: [a:9092, b:9092]\n"), 0o644)
	t.Setenv("APIWATCH_SPOOL_DIR", "/from/env")
	if err := f.Parse([]string{"--queue", "5"}); err != nil {
		t.Fatal(err)
	}
	if err := applyConfig(cmd, file); err != nil {
		t.Fatal(err)
	}
	if topic != "from-file" || dir != "/from/env" || queue != 5 || group != "default-group" || strings.Join(brokers, ",") != "a:9092,b:9092" {
		t.Errorf("topic %q dir %q queue %d group %q brokers %v", topic, dir, queue, group, brokers)
	}
	os.WriteFile(file, []byte("topik: x\n"), 0o644)
	if err := applyConfig(cmd, file); err == nil || !strings.Contains(err.Error(), `"topik" is not a setting`) {
		t.Errorf("misspelt key: %v", err)
	}
}

// TestConfigExample: the printed example covers every flag of the
// daemons and reads back as a config file once uncommented.
func TestConfigExample(t *testing.T) {
	out, err := runCLI(t, "config", "example", "sensor")
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"# kafka: []", "# spool-dir: \"\"", "(env APIWATCH_SPOOL_DIR)", "# topic: apiwatch.events"} {
		if !strings.Contains(out, want) {
			t.Errorf("example lacks %q", want)
		}
	}
	var yaml []string
	for _, line := range strings.Split(out, "\n") {
		if strings.HasPrefix(line, "# ") && strings.Contains(line, ": ") && !strings.Contains(line, "(env ") && !strings.HasPrefix(line, "# apiwatch") && !strings.HasPrefix(line, "# Precedence") {
			yaml = append(yaml, strings.TrimPrefix(line, "# "))
		}
	}
	file := filepath.Join(t.TempDir(), "sensor.yaml")
	os.WriteFile(file, []byte(strings.Join(yaml, "\n")), 0o644)
	cmd, _, _ := newRootCmd().Find([]string{"sensor"})
	if err := applyConfig(cmd, file); err != nil {
		t.Errorf("the example, uncommented, does not load: %v", err)
	}
}

// TestRequiredFromConfig: a required flag given by the config file or the
// environment satisfies the requirement.
func TestRequiredFromConfig(t *testing.T) {
	dir := t.TempDir()
	findings := filepath.Join(dir, "f.jsonl")
	os.WriteFile(findings, nil, 0o644)
	file := filepath.Join(dir, "c.yaml")
	os.WriteFile(file, []byte("truth: ../../testdata/attacks-demo.pcap.gz.truth.json\n"), 0o644)
	t.Setenv("APIWATCH_FINDINGS", findings)
	out, err := runCLI(t, "evaluate", "--config", file)
	if err != nil || !strings.Contains(out, "recall 0.00 (9 episodes)") {
		t.Errorf("evaluate with --truth from the file and --findings from the environment: %v\n%s", err, out)
	}
}
