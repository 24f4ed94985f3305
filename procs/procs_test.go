package procs

import (
	"context"
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
		{"a nonsense sample keeps every processor", 2,
			[]float64{0, 0, 0, 0, 0, -1},
			[]int{2, 2, 2, 2, 1, 2}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := scaler{max: tc.max, cur: tc.max}
			for i, u := range tc.used {
				s.cur = s.next(u)
				if s.cur != tc.want[i] {
					t.Fatalf("after sample %d (%.1f cores): %d processors, want %d", i, u, s.cur, tc.want[i])
				}
			}
		})
	}
}

// TestRunSetsAndRestores drives Run with a CPU clock the test moves.
func TestRunSetsAndRestores(t *testing.T) {
	var (
		mu   sync.Mutex
		cpu  time.Duration
		sets []int
	)
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan struct{})
	go func() {
		defer close(done)
		Run(ctx, Options{
			Max: 4, Interval: 10 * time.Millisecond,
			cpuTime: func() (time.Duration, error) {
				mu.Lock()
				defer mu.Unlock()
				return cpu, nil
			},
			setProcs: func(n int) {
				mu.Lock()
				defer mu.Unlock()
				sets = append(sets, n)
			},
		})
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(5 * time.Second); !ok(); time.Sleep(5 * time.Millisecond) {
			if time.Now().After(deadline) {
				mu.Lock()
				defer mu.Unlock()
				t.Fatalf("%s: processors set to %v", what, sets)
			}
		}
	}
	last := func() int {
		mu.Lock()
		defer mu.Unlock()
		if len(sets) == 0 {
			return 0
		}
		return sets[len(sets)-1]
	}
	waitFor("idle", func() bool { return last() == 1 })
	// Busy: the clock runs 3 CPU-seconds a second from now on.
	stop := make(chan struct{})
	var busy sync.WaitGroup
	busy.Add(1)
	go func() {
		defer busy.Done()
		for {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				mu.Lock()
				cpu += 3 * time.Millisecond
				mu.Unlock()
			}
		}
	}()
	waitFor("busy", func() bool { return last() >= 4 })
	close(stop)
	busy.Wait()
	cancel()
	<-done
	if got := last(); got != 4 {
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
		Run(ctx, Options{Interval: 50 * time.Millisecond})
	}()
	waitFor := func(what string, ok func() bool) {
		t.Helper()
		for deadline := time.Now().Add(10 * time.Second); !ok(); time.Sleep(10 * time.Millisecond) {
			if time.Now().After(deadline) {
				t.Fatalf("%s: GOMAXPROCS is %d", what, runtime.GOMAXPROCS(0))
			}
		}
	}
	waitFor("idle", func() bool { return runtime.GOMAXPROCS(0) == 1 })
	// Two goroutines spinning use both processors once there are two:
	// more than half of one already on one.
	stop := make(chan struct{})
	var spin sync.WaitGroup
	for range 2 {
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
	waitFor("busy", func() bool { return runtime.GOMAXPROCS(0) == max })
	close(stop)
	spin.Wait()
	waitFor("idle again", func() bool { return runtime.GOMAXPROCS(0) == 1 })
	cancel()
	<-done
	if got := runtime.GOMAXPROCS(0); got != max {
		t.Fatalf("after Run: GOMAXPROCS %d, want %d", got, max)
	}
}
