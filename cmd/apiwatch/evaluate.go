package main

import (
	"fmt"

	"github.com/spf13/cobra"

	"github.com/apiwatch/apiwatch/evaluation"
)

func newEvaluateCmd() *cobra.Command {
	var truthPath, findingsPath string
	var minRecall, minPrecision float64
	cmd := &cobra.Command{
		Use:   "evaluate --truth FILE.truth.json --findings FILE.jsonl",
		Short: "Score findings against the ground truth of labelled traffic",
		Long: `Matches the findings of 'apiwatch analyze --findings' to the attack episodes
of a ground-truth file (written by bench/gencap beside its capture, or
testdata/attacks/*.truth.json) and prints, per episode, whether it was found
and how fast, then every finding that matched no episode, and recall and
precision. A finding matches an episode with the same detector and endpoint,
a client address in common, and overlapping time (one minute of slack).

  go run ./bench/gencap -scenario attacks -o /tmp/a.pcap
  apiwatch analyze --findings /tmp/f.jsonl /tmp/a.pcap
  apiwatch evaluate --truth /tmp/a.pcap.truth.json --findings /tmp/f.jsonl`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			truth, err := evaluation.ReadTruthFile(truthPath)
			if err != nil {
				return fmt.Errorf("--truth: %w", err)
			}
			findings, err := evaluation.ReadFindingsFile(findingsPath)
			if err != nil {
				return fmt.Errorf("--findings: %w", err)
			}
			r := evaluation.Evaluate(truth, findings)
			r.Write(cmd.OutOrStdout())
			if r.Recall() < minRecall || r.Precision() < minPrecision {
				return fmt.Errorf("recall %.2f, precision %.2f: below --min-recall %.2f / --min-precision %.2f", r.Recall(), r.Precision(), minRecall, minPrecision)
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&truthPath, "truth", "", "ground-truth `FILE` (JSON with \"episodes\" and optionally \"heavy_users\")")
	f.StringVar(&findingsPath, "findings", "", "findings `FILE` written by analyze --findings")
	f.Float64Var(&minRecall, "min-recall", 0, "exit with an error when recall is below this")
	f.Float64Var(&minPrecision, "min-precision", 0, "exit with an error when precision is below this")
	_ = cmd.MarkFlagRequired("truth")
	_ = cmd.MarkFlagRequired("findings")
	return cmd
}
