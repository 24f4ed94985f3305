package media

import (
	"sync"
	"time"
)

// lossEstimate is a receiver's available bandwidth as its receiver reports
// tell it, the loss-based half of GCC (draft-ietf-rmcat-gcc, section 6):
// more than 10 % loss cuts the estimate by half the loss, less than 2 %
// lets it grow by 8 %, in between it holds. The receiver's own delay-based
// estimate arrives as REMB and caps it (Peer.estimate).
type lossEstimate struct {
	mu      sync.Mutex
	bitrate int64
	changed time.Time
}

const (
	lossHigh      = 0.10
	lossLow       = 0.02
	lossGrowth    = 1.08
	lossCutEvery  = 300 * time.Millisecond // at most one cut per interval
	lossGrowEvery = 500 * time.Millisecond
)

func newLossEstimate() *lossEstimate { return &lossEstimate{bitrate: bweInitial} }

// report takes the fraction of packets lost (0..1) since the receiver's
// previous report.
func (e *lossEstimate) report(loss float64, now time.Time) {
	e.mu.Lock()
	defer e.mu.Unlock()
	since := now.Sub(e.changed)
	switch {
	case loss > lossHigh && since >= lossCutEvery:
		e.bitrate = max(int64(float64(e.bitrate)*(1-0.5*loss)), bweMin)
		e.changed = now
	case loss < lossLow && since >= lossGrowEvery:
		e.bitrate = min(int64(float64(e.bitrate)*lossGrowth), bweMax)
		e.changed = now
	}
}

func (e *lossEstimate) get() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bitrate
}
