package main

import (
	"os"

	"github.com/spf13/pflag"

	"github.com/apiwatch/apiwatch/parse/normalize"
)

// normalizeOptions configure how transactions become API events.
type normalizeOptions struct {
	sensorID string
}

func (o *normalizeOptions) addFlags(f *pflag.FlagSet) {
	f.StringVar(&o.sensorID, "sensor-id", "", "name of this sensor in every event (default: the host name)")
}

func (o *normalizeOptions) config() (normalize.Config, error) {
	cfg := normalize.Config{SensorID: o.sensorID}
	if cfg.SensorID == "" {
		cfg.SensorID, _ = os.Hostname()
	}
	return cfg, nil
}
