package procs

import (
	"context"
	"math"
	"runtime"
	"sync"
	"testing"
	"time"
)

func TestScaler(t *testing.T) {
	tests := []struct {
		name string
		max  int
		used []float64 // one sample each
		want []int     // processors after each
	}{
		{"idle drops to one after settle samples", 2,
			[]float64{0.1, 0.1, 0.1, 0.1, 0.1, 0.1},
			[]int{2, 2, 2, 2, 1, 1}},
		{"a busy sample in between starts the count again", 2,
			[]float64{0.1, 0.1, 0.1, 0.9, 0.1, 0.1, 0.1, 0.1, 0.1},
			[]int{2, 2, 2, 2, 2, 2, 2, 2, 1}},
		{"load beyond half a processor adds one at once", 2,
			[]float64{0, 0, 0, 0, 0, 0.6, 0.2},
			[]int{2, 2, 2, 2, 1, 2, 2}},
		{"exactly half a processor stays on one", 2,
			[]float64{0, 0, 0, 0, 0, 0.5, 0.5},
			[]int{2, 2, 2, 2, 1, 1, 1}},
		{"never beyond max", 4,
			[]float64{0, 0, 0, 0, 0, 7.5},
			[]int{4, 4, 4, 4, 1, 4}},
		{"goes down to what the busiest quiet sample wanted", 8,
			[]float64{0.2, 1.4, 0.9, 0.1, 0.3},
			[]int{8, 8, 8, 8, 3}},
		{"up by as many as the load wants", 8,
			[]float64{0, 0, 0, 0, 0, 1.1, 3.9},
			[]int{8, 8, 8, 8, 1, 3, 8}},
		{"a negative sample wants every processor", 2,
			[]float64{0, 0, 0, 0, 0, -1},
			[]int{2, 2, 2, 2, 1, 2}},
		{"so do NaN and infinity", 2,
			[]float64{0, 0, 0, 0, 0, math.NaN(), 0, 0, 0, 0, 0, math.Inf(1)},
			[]int{2, 2, 2, 2, 1, 2, 2, 2, 2, 2, 1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scaler{max: tc.max, cur: tc.max, settle: 5}
			for i, u := range tc.used {
				s.cur = s.next(u)
				if s.cur != tc.want[i] {
					t.Fatalf("after sample %d (%.1f cores): %d processors, want %d", i, u, s.cur, tc.want[i])
				}
			}
		})
	}
}

// fakeProcess is a process whose CPU use the test sets, in cores, and
// whose processors Run sets.
type fakeProcess struct {
	mu    sync.Mutex
	cpu   time.Duration // CPU time until at
	at    time.Time
	cores float64
	sets  []int
}

func (f *fakeProcess) cpuTime() (time.Duration, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	now := time.Now()
	f.cpu += time.Duration(f.cores * float64(now.Sub(f.at)))
	f.at = now
	return f.cpu, nil
}

func (f *fakeProcess) use(cores float64) {
	_, _ = f.cpuTime()
	f.mu.Lock()
	defer f.mu.Unlock()
	f.cores = cores
}

func (f *fakeProcess) setProcs(n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.sets = append(f.sets, n)
}

func (f *fakeProcess) last() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	if len(f.sets) == 0 {
		return 0
	}
	return f.sets[len(f.sets)-1]
}

// TestRunSetsAndRestores drives Run with a process whose load the test
// sets.
func TestRunSetsAndRestores(t *testing.T) {
	f := &fakeProcess{at: time.Now()}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Options{Max: 4, Interval: 10 * time.Millisecond, settleTime: 200 * time.Millisecond,
			cpuTime: f.cpuTime, setProcs: f.setProcs})
	}()
	waitFor := func(what string, want int) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); f.last() != want; time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				f.mu.Lock()
				defer f.mu.Unlock()
				t.Fatalf("%s: processors set to %v, want %d last", what, f.sets, want)
			}
		}
	}
	waitFor("idle", 1)
	f.use(1.2) // wants 3
	waitFor("busy", 3)
	f.use(3.9)
	waitFor("busier", 4)
	f.use(0.1)
	waitFor("idle again", 1)
	cancel()
	<-done
	if got := f.last(); got != 4 {
		t.Fatalf("after Run: %d processors, want Max (4)", got)
	}
}

// TestRunWithTheRuntime adapts the real GOMAXPROCS to real work.
func TestRunWithTheRuntime(t *testing.T) {
	max := runtime.GOMAXPROCS(0)
	if max < 2 {
		t.Skip("one processor: nothing to adapt")
	}
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Options{Interval: 50 * time.Millisecond, settleTime: 500 * time.Millisecond})
	}()
	waitFor := func(what string, ok func(int) bool) {
		t.Helper()
		for deadline := time.Now().Add(20 * time.Second); !ok(runtime.GOMAXPROCS(0)); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOMAXPROCS is %d", what, runtime.GOMAXPROCS(0))
			}
		}
	}
	waitFor("idle", func(n int) bool { return n == 1 })
	// As many goroutines spinning as there may be processors: more than
	// half of what the process has, however many it has.
	stop := make(chan struct{})
	var spin sync.WaitGroup
	for range max {
		spin.Add(1)
		go func() {
			defer spin.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				for i := 0; i < 1e5; i++ {
					_ = i * i
				}
			}
		}()
	}
	waitFor("busy", func(n int) bool { return n > 1 })
	close(stop)
	spin.Wait()
	waitFor("idle again", func(n int) bool { return n == 1 })
	cancel()
	<-done
	if got := runtime.GOMAXPROCS(0); got != max {
		t.Fatalf("after Run: GOMAXPROCS %d, want %d", got, max)
	}
}
