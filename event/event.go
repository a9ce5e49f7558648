// Package event owns the API event: the contract between sensors, which
// produce one per HTTP exchange (or unreadable TLS flow), and detectors,
// which consume them. The schema is event/apiwatch_event.proto; its Go code
// is generated (make generate) and checked in. Every field is documented in
// event/README.md.
//
// On the wire an event is its protobuf encoding; for people it is JSON
// (protobuf's canonical JSON mapping, field names as in the .proto).
package event

import (
	"errors"
	"fmt"

	"google.golang.org/protobuf/encoding/protojson"
	"google.golang.org/protobuf/proto"
)

// The schema version this build writes and reads. A decoder accepts any
// minor of its major: newer minors only add fields, which it ignores.
const (
	SchemaMajor = 1
	SchemaMinor = 0
)

// ErrNotEvent is returned for bytes that do not decode as an API event.
var ErrNotEvent = errors.New("event: not an apiwatch API event")

// UnsupportedVersionError is returned for an event of a schema major this
// build does not know.
type UnsupportedVersionError struct{ Major, Minor uint32 }

func (e *UnsupportedVersionError) Error() string {
	return fmt.Sprintf("event: schema version %d.%d is not supported by this build (it reads %d.x): upgrade the consumer to a release that knows schema %d",
		e.Major, e.Minor, SchemaMajor, e.Major)
}

// Stamp sets the schema version this build writes.
func Stamp(e *APIEvent) {
	e.SchemaMajor, e.SchemaMinor = SchemaMajor, SchemaMinor
}

// Marshal appends the wire encoding of e to dst.
func Marshal(dst []byte, e *APIEvent) ([]byte, error) {
	if e.SchemaMajor == 0 {
		return dst, errors.New("event: Marshal of an event without a schema version: call Stamp first")
	}
	return proto.MarshalOptions{}.MarshalAppend(dst, e)
}

// Unmarshal decodes b into e, rejecting events of an unknown schema major.
func Unmarshal(b []byte, e *APIEvent) error {
	if err := proto.Unmarshal(b, e); err != nil {
		return fmt.Errorf("%w: %v", ErrNotEvent, err)
	}
	switch e.SchemaMajor {
	case SchemaMajor:
		return nil
	case 0:
		return fmt.Errorf("%w: no schema version", ErrNotEvent)
	default:
		return &UnsupportedVersionError{Major: e.SchemaMajor, Minor: e.SchemaMinor}
	}
}

var jsonOptions = protojson.MarshalOptions{UseProtoNames: true}

// MarshalJSON returns the JSON form of e, one line.
func MarshalJSON(e *APIEvent) ([]byte, error) {
	return jsonOptions.Marshal(e)
}

// UnmarshalJSON decodes the JSON form, with the same version rule as
// Unmarshal.
func UnmarshalJSON(b []byte, e *APIEvent) error {
	if err := protojson.Unmarshal(b, e); err != nil {
		return fmt.Errorf("%w: %v", ErrNotEvent, err)
	}
	if e.SchemaMajor != SchemaMajor {
		if e.SchemaMajor == 0 {
			return fmt.Errorf("%w: no schema version", ErrNotEvent)
		}
		return &UnsupportedVersionError{Major: e.SchemaMajor, Minor: e.SchemaMinor}
	}
	return nil
}
