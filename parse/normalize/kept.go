package normalize

import (
	"sync"

	"github.com/apiwatch/apiwatch/event"
)

// eventParts are an event and the messages it points to: a Normalizer
// resets and reuses them from event to event, so building one allocates
// next to nothing.
type eventParts struct {
	ev      event.APIEvent
	flow    event.Flow
	vlan    [2]uint32
	req     event.Request
	resp    event.Response
	actor   event.Actor
	shape   event.Shape
	login   event.Login
	objIDs  []event.ObjectID
	objPtrs []*event.ObjectID
	nums    []event.ObjectID_Number
	hashes  []event.ObjectID_Hash
}

var partsPool = sync.Pool{New: func() any { return new(eventParts) }}

// Kept is an event handed over by Normalizer.Keep.
type Kept struct{ p *eventParts }

// Keep hands the event Event last returned over to the caller, where a
// copy would cost more than building it: the Normalizer builds the next one
// in other parts. The caller releases it once done with it.
func (n *Normalizer) Keep() Kept {
	k := Kept{n.p}
	n.p = partsPool.Get().(*eventParts)
	return k
}

// Event returns the kept event: valid until Release.
func (k Kept) Event() *event.APIEvent { return &k.p.ev }

// Release gives the event's parts back for reuse, by any Normalizer; call
// it once, from any goroutine.
func (k Kept) Release() { partsPool.Put(k.p) }
