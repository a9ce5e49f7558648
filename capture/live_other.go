//go:build !linux

package capture

// OpenLive is only available on Linux.
func OpenLive(cfg LiveConfig) ([]Source, error) { return nil, ErrLiveUnsupported }
