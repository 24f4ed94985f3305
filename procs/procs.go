// Package procs runs the server on as many processors (GOMAXPROCS) as its
// load needs, up to the runtime's default.
//
// A Go program with more processors than work pays for them: each
// goroutine made runnable wakes an idle processor's thread, which finds
// nothing to do and sleeps again. A live room at a hundred receivers
// keeps a tenth of a core busy with thousands of such hand-offs a second;
// on two cores, before the media port got a send-only socket, one
// processor cost a fifth less CPU than two (the SFU benchmark in the
// README; since, the difference is within the machine's noise). Run
// samples the process's CPU time four times a second and keeps each
// processor at most half busy: it adds processors at once when the load
// rises and gives them back when the load has stayed low for five
// seconds.
//
// The price: on one processor a burst of work no sample saw coming (a
// login's password hash, tens of milliseconds) delays the goroutines
// behind it, media forwarding among them, by up to Go's 10 ms time slice
// before the scheduler lets them in; the receivers' jitter buffers take
// that up. While Run has fewer processors than the runtime's default, Go
// does not follow changes of the container's CPU limit (calling
// runtime.GOMAXPROCS turns that off); back at the ceiling, and when Run
// ends, it does again (runtime.SetDefaultGOMAXPROCS). The ceiling is the
// default when Run starts.
package procs

import (
	"context"
	"log/slog"
	"math"
	"runtime"
	"time"
)

const (
	// busyPerProc is the share of a processor's time the process may use
	// on average before it gets another processor.
	busyPerProc = 0.5
	// settleTime is how long every sample must want fewer processors
	// before they are given back.
	settleTime = 5 * time.Second
	// defaultInterval is the time between samples.
	defaultInterval = 250 * time.Millisecond
)

// Options configures Run.
type Options struct {
	// Max is the most processors; 0 means the runtime's GOMAXPROCS when
	// Run starts.
	Max int
	// Interval is the time between samples of the process's CPU time;
	// 0 means 250 ms.
	Interval time.Duration
	Logger   *slog.Logger

	// For tests: how long the load must stay low (0: settleTime), the
	// process's CPU time so far, and how the number of processors is set.
	settleTime time.Duration
	cpuTime    func() (time.Duration, error)
	setProcs   func(int)
}

// Run adapts the number of processors until ctx ends, then restores
// Max. It returns at once where there is nothing to adapt (one
// processor) or the system does not report the process's CPU time.
func Run(ctx context.Context, opt Options) {
	runtimeMax := opt.Max <= 0
	if runtimeMax {
		opt.Max = runtime.GOMAXPROCS(0)
	}
	if opt.Interval <= 0 {
		opt.Interval = defaultInterval
	}
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.DiscardHandler)
	}
	if opt.cpuTime == nil {
		opt.cpuTime = processCPUTime
	}
	if opt.setProcs == nil {
		opt.setProcs = func(n int) {
			if runtimeMax && n == opt.Max {
				runtime.SetDefaultGOMAXPROCS() // and follow the CPU limit again
				return
			}
			runtime.GOMAXPROCS(n)
		}
	}
	if opt.Max <= 1 {
		return
	}
	prev, err := opt.cpuTime()
	if err != nil {
		opt.Logger.Info("procs: not adapting the number of processors", "err", err)
		return
	}
	if opt.settleTime <= 0 {
		opt.settleTime = settleTime
	}
	s := scaler{max: opt.Max, cur: opt.Max, settle: max(int(opt.settleTime/opt.Interval), 1)}
	defer func() {
		if s.cur != opt.Max {
			opt.setProcs(opt.Max)
		}
	}()
	t := time.NewTicker(opt.Interval)
	defer t.Stop()
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		now := time.Now()
		cpu, err := opt.cpuTime()
		if err != nil {
			opt.Logger.Warn("procs: reading the process's CPU time", "err", err)
			continue
		}
		used := float64(cpu-prev) / float64(now.Sub(last))
		prev, last = cpu, now
		if n := s.next(used); n != s.cur {
			opt.Logger.Debug("procs: processors", "from", s.cur, "to", n, "cores_used", math.Round(used*100)/100)
			opt.setProcs(n)
			s.cur = n
		}
	}
}

// scaler decides the number of processors from one sample at a time.
type scaler struct {
	max, cur int
	settle   int // samples in a row that must want fewer to get fewer
	low      int // samples in a row that wanted fewer than cur
	lowWant  int // the most any of them wanted
}

// next returns the processors for a sample in which the process used
// used cores (CPU seconds per second): more at once, fewer once settle
// samples in a row wanted fewer (as many as the busiest of them wanted).
// A sample that makes no sense wants them all.
func (s *scaler) next(used float64) int {
	want := s.max
	if used >= 0 && !math.IsInf(used, 1) { // false for NaN too
		want = min(max(int(math.Ceil(used/busyPerProc)), 1), s.max)
	}
	switch {
	case want > s.cur:
		s.low, s.lowWant = 0, 0
		return want
	case want < s.cur:
		s.low++
		s.lowWant = max(s.lowWant, want)
		if s.low < s.settle {
			return s.cur
		}
		n := s.lowWant
		s.low, s.lowWant = 0, 0
		return n
	default:
		s.low, s.lowWant = 0, 0
		return s.cur
	}
}
