package main

import (
	"fmt"
	"os"

	"github.com/spf13/pflag"

	"github.com/apiwatch/apiwatch/parse/endpoint"
	"github.com/apiwatch/apiwatch/parse/normalize"
)

// normalizeOptions configure how transactions become API events.
type normalizeOptions struct {
	sensorID string
	openapi  []string
}

func (o *normalizeOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.sensorID, "sensor-id", "", "name of this sensor in every event (default: the host name)")
	f.StringSliceVar(&o.openapi, "openapi", nil, "OpenAPI 3 spec `FILE` (YAML or JSON) whose templates override inference; endpoints it lacks are marked shadow; repeat for several")
}

func (o *normalizeOptions) config() (normalize.Config, error) {
	cfg := normalize.Config{SensorID: o.sensorID}
	if cfg.SensorID == "" {
		cfg.SensorID, _ = os.Hostname()
	}
	if len(o.openapi) > 0 {
		spec, err := endpoint.LoadSpecs(o.openapi...)
		if err != nil {
			return cfg, fmt.Errorf("--openapi: %w", err)
		}
		cfg.Spec = spec
	}
	return cfg, nil
}
