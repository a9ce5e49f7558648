// Command gpx_apiwatch is apiwatch's Grafana data-source plugin: Grafana
// starts it (hashicorp/go-plugin over gRPC) and sends it queries, health
// checks and resource calls. See dashboards/plugin/README.md.
package main

import (
	"os"

	"github.com/grafana/grafana-plugin-sdk-go/backend/datasource"
	"github.com/grafana/grafana-plugin-sdk-go/backend/log"

	"github.com/apiwatch/apiwatch/dashboards/plugin"
)

func main() {
	if err := datasource.Manage(plugin.ID, plugin.NewDatasource, datasource.ManageOpts{}); err != nil {
		log.DefaultLogger.Error("apiwatch data source stopped", "error", err.Error())
		os.Exit(1)
	}
}
