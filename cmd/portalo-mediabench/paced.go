package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// lateAfter is how long after its intended time a request may be picked up
// by a sender before it counts as late (all senders were busy): its
// latency includes the wait either way.
const lateAfter = 5 * time.Millisecond

type latencyResult struct {
	p50, p99, max    time.Duration
	requests, errors int
	lateSends        int
	firstError       string
	// achievedPerSecond is the rate at which requests were handed to
	// the senders.
	achievedPerSecond float64
}

// paced measures GET u at o.rate requests per second for o.duration,
// after an uncounted warm-up of o.warmupLatencyWindow.
func paced(ctx context.Context, hc *http.Client, u string, o options) (latencyResult, error) {
	if o.warmupLatencyWindow > 0 {
		if _, err := runPaced(ctx, hc, u, o.rate, o.warmupLatencyWindow, o.workers); err != nil {
			return latencyResult{}, err
		}
	}
	return runPaced(ctx, hc, u, o.rate, o.duration, o.workers)
}

// runPaced sends request i at start + i/rate, open loop: a dispatcher
// hands each request to the senders at its intended time, into a queue
// that never blocks it, so requests that find every sender busy wait
// there, and each latency is measured from the intended time to the end
// of the answer's body (no coordinated omission).
func runPaced(ctx context.Context, hc *http.Client, u string, rate int, d time.Duration, workers int) (latencyResult, error) {
	n := max(1, int(float64(rate)*d.Seconds()))
	interval := time.Duration(float64(time.Second) / float64(rate))
	lat := make([]time.Duration, n)
	queue := make(chan int, n)
	start := time.Now().Add(20 * time.Millisecond)
	intended := func(i int) time.Time { return start.Add(time.Duration(i) * interval) }

	var errCount, late atomic.Int64
	var firstErr atomic.Value
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for i := range queue {
				at := intended(i)
				if time.Since(at) > lateAfter {
					late.Add(1)
				}
				if err := fetch(ctx, hc, u); err != nil {
					errCount.Add(1)
					firstErr.CompareAndSwap(nil, err.Error())
				}
				lat[i] = time.Since(at)
			}
		})
	}
	timer := time.NewTimer(0)
	<-timer.C
	sent := 0
dispatch:
	for i := range n {
		if wait := time.Until(intended(i)); wait > 0 {
			timer.Reset(wait)
			select {
			case <-ctx.Done():
				timer.Stop()
				break dispatch
			case <-timer.C:
			}
		}
		queue <- i
		sent++
	}
	dispatched := time.Since(start)
	close(queue)
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return latencyResult{}, err
	}
	lat = lat[:sent]
	slices.Sort(lat)
	res := latencyResult{
		p50: quantile(lat, 0.50), p99: quantile(lat, 0.99), max: lat[len(lat)-1],
		requests: sent, errors: int(errCount.Load()), lateSends: int(late.Load()),
		achievedPerSecond: float64(sent) / max(dispatched, interval).Seconds(),
	}
	if s, ok := firstErr.Load().(string); ok {
		res.firstError = s
	}
	return res, nil
}

// quantile returns the q-quantile of sorted durations (nearest rank).
func quantile(sorted []time.Duration, q float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	i := int(q*float64(len(sorted))+0.999999) - 1
	return sorted[max(0, min(i, len(sorted)-1))]
}

// fetch GETs u and reads the whole answer; anything but 200 is an error.
func fetch(ctx context.Context, hc *http.Client, u string) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if _, err := io.Copy(io.Discard, resp.Body); err != nil {
		return err
	}
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	return nil
}
