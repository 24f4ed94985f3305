package media

import (
	"sync"
	"time"
)

// lossEstimate is a receiver's available bandwidth as its receiver reports
// tell it, the loss-based half of GCC (draft-ietf-rmcat-gcc, section 6):
// more than 10 % loss cuts the estimate by half the loss, less than 2 %
// lets it grow by 8 %, in between it holds. The receiver's own delay-based
// estimate arrives as REMB and caps it (Peer.estimate). As in GCC, it
// does not grow beyond what the receiver could use (setReach): without
// that, a long clean spell would raise it to bweMax, and the first loss
// would take many reports to bring it down to the layer the link carries.
type lossEstimate struct {
	mu      sync.Mutex
	bitrate int64
	reach   int64 // 0: not known yet
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
		limit := int64(bweMax)
		if e.reach > 0 {
			limit = min(limit, e.reach)
		}
		if grown := min(int64(float64(e.bitrate)*lossGrowth), limit); grown > e.bitrate {
			e.bitrate = grown
		}
		e.changed = now
	}
}

// setReach sets how far the estimate may grow: a little beyond the
// bitrate of what the receiver would get one layer up.
func (e *lossEstimate) setReach(bitrate int64) {
	e.mu.Lock()
	e.reach = bitrate
	e.mu.Unlock()
}

func (e *lossEstimate) get() int64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.bitrate
}
