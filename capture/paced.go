package capture

import "time"

// Paced replays src at its recorded pace, times speed (2 is twice as
// fast): a capture file then reaches the pipeline as live traffic would,
// which is what end-to-end latency is measured on. The first packet sets
// the clock; a packet is held until its offset from the first, divided
// by speed, has passed.
func Paced(src Source, speed float64) Source {
	return &pacedSource{Source: src, speed: speed}
}

// Idler is implemented by sources that wait between packets (a paced
// replay). OnIdle registers a function called before each wait: a
// pipeline hands on what it holds back for batching, as a live capture's
// quiet moments would let it.
type Idler interface {
	OnIdle(func())
}

type pacedSource struct {
	Source
	idle  func()
	speed float64
	first int64 // capture time of the first packet, Unix ns
	start time.Time
}

// slack is how far ahead of its time a packet may go: sleeping for less
// costs more than it is worth.
const slack = time.Millisecond

func (p *pacedSource) ReadPacket() ([]byte, CaptureInfo, error) {
	data, ci, err := p.Source.ReadPacket()
	if err != nil {
		return data, ci, err
	}
	if p.start.IsZero() {
		p.first, p.start = ci.Timestamp, time.Now()
		return data, ci, nil
	}
	due := p.start.Add(time.Duration(float64(ci.Timestamp-p.first) / p.speed))
	if wait := time.Until(due); wait > slack {
		if p.idle != nil {
			p.idle()
		}
		time.Sleep(time.Until(due))
	}
	return data, ci, nil
}

// OnIdle implements Idler.
func (p *pacedSource) OnIdle(f func()) { p.idle = f }

// Progress passes the file's progress through.
func (p *pacedSource) Progress() (read, total int64) {
	if pr, ok := p.Source.(Progresser); ok {
		return pr.Progress()
	}
	return 0, 0
}
