package main

import (
	"net/http"
	"net/http/httptest"
	"sync/atomic"
	"testing"
	"time"
)

func TestQuantile(t *testing.T) {
	ms := func(n ...int) []time.Duration {
		out := make([]time.Duration, len(n))
		for i, v := range n {
			out[i] = time.Duration(v) * time.Millisecond
		}
		return out
	}
	for _, c := range []struct {
		name   string
		sorted []time.Duration
		q      float64
		want   time.Duration
	}{
		{"empty", nil, 0.5, 0},
		{"one", ms(7), 0.99, 7 * time.Millisecond},
		{"median of four", ms(1, 2, 3, 4), 0.5, 2 * time.Millisecond},
		{"p99 of 100", ms(seq(100)...), 0.99, 99 * time.Millisecond},
		{"p99 of 1000", ms(seq(1000)...), 0.99, 990 * time.Millisecond},
		{"max", ms(1, 2, 3), 1, 3 * time.Millisecond},
	} {
		if got := quantile(c.sorted, c.q); got != c.want {
			t.Errorf("%s: quantile(%v) = %s, want %s", c.name, c.q, got, c.want)
		}
	}
}

func seq(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// The pacing is open loop: when the server stalls, the requests due
// meanwhile are still sent at their times (here: queued for the one
// sender) and their latency counts from then, so one stall of 300 ms at
// 100 requests/s shows in about 30 requests, not one.
func TestPacedCountsStallsFromTheIntendedTime(t *testing.T) {
	var n atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if n.Add(1) == 20 {
			time.Sleep(300 * time.Millisecond)
		}
		w.Write([]byte(`{"items":[]}`))
	}))
	defer srv.Close()
	for _, c := range []struct {
		name    string
		workers int
		stall   bool
	}{
		{"one sender", 1, true},
		{"many senders", 16, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			n.Store(0)
			if !c.stall {
				n.Store(1000) // no request is the 20th
			}
			res, err := runPaced(t.Context(), srv.Client(), srv.URL, 100, time.Second, c.workers)
			if err != nil {
				t.Fatal(err)
			}
			if res.requests != 100 || res.errors != 0 {
				t.Fatalf("requests %d, errors %d; want 100 and 0", res.requests, res.errors)
			}
			if res.achievedPerSecond < 90 || res.achievedPerSecond > 110 {
				t.Errorf("achieved %.1f requests/s, want about 100", res.achievedPerSecond)
			}
			switch {
			case c.stall && (res.max < 280*time.Millisecond || res.p99 < 200*time.Millisecond || res.lateSends < 20):
				t.Errorf("after a 300 ms stall: max %s, p99 %s, late %d; want the requests due during the stall counted late", res.max, res.p99, res.lateSends)
			case !c.stall && res.p50 > 50*time.Millisecond:
				t.Errorf("p50 %s without a stall", res.p50)
			}
		})
	}
}
