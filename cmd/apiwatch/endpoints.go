package main

import (
	"github.com/spf13/cobra"

	"github.com/apiwatch/apiwatch/inventory"
	"github.com/apiwatch/apiwatch/parse"
	"github.com/apiwatch/apiwatch/parse/normalize"
)

func newEndpointsCmd() *cobra.Command {
	var in inputOptions
	var norm normalizeOptions
	var max int
	cmd := &cobra.Command{
		Use:   "endpoints [FILE...]",
		Short: "List the API inventory discovered in captures: endpoints, calls, statuses, auth and sensitive data",
		Long: `Discovers the API inventory from capture files (or --iface): one line per
endpoint template with its call count, status codes, credential kinds and the
sensitive-data classes its responses carried. With --openapi, endpoints the
specs do not describe are marked as shadow APIs.

  apiwatch endpoints testdata/demo.pcap.gz
  apiwatch endpoints --openapi api.yaml capture.pcap`,
		RunE: func(cmd *cobra.Command, files []string) error {
			ncfg, err := norm.config()
			if err != nil {
				return err
			}
			in.pipeline.ShardKey = norm.shardKey()
			in.quiet = true
			var invs []*inventory.Inventory
			_, err = in.run(cmd.Context(), files, func(int) parse.Handler {
				inv := inventory.New(max)
				invs = append(invs, inv)
				return &eventHandler{n: normalize.New(ncfg), eventSinks: eventSinks{inv: inv}}
			})
			if err != nil && cmd.Context().Err() == nil {
				return err
			}
			merged := inventory.New(max)
			for _, inv := range invs {
				merged.Merge(inv)
			}
			merged.WriteTable(cmd.OutOrStdout())
			return nil
		},
	}
	in.addFlags(cmd.Flags())
	norm.addFlags(cmd.Flags())
	cmd.Flags().IntVar(&max, "max-endpoints", 0, "endpoints tracked at most (default 100000)")
	return cmd
}
