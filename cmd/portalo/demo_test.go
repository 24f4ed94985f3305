package main

import (
	"context"
	"testing"
	"time"

	"portalo/courses"
	"portalo/internal/storetest"
	"portalo/store/kv"
)

// TestSeedCourseDemo: the first start gets one demo course three weeks
// ahead, at 10:00 in Berlin; a later start adds none.
func TestSeedCourseDemo(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		now := time.Date(2026, 3, 20, 12, 0, 0, 0, time.UTC)
		cs := courses.New(store, courses.Options{Now: func() time.Time { return now }})
		for range 2 {
			if err := seedCourseDemo(ctx, cs, now); err != nil {
				t.Fatal(err)
			}
		}
		list, err := cs.List(ctx, courses.ListOptions{})
		if err != nil || len(list) != 1 {
			t.Fatalf("%d courses (%v), want 1", len(list), err)
		}
		berlin, _ := time.LoadLocation("Europe/Berlin")
		first := list[0].Sessions[0].Start.In(berlin)
		if first.Format("2006-01-02 15:04") != "2026-04-10 10:00" || len(list[0].Sessions) != 2 || list[0].Seats != 12 {
			t.Errorf("demo course: first session %s, %d sessions, %d seats", first, len(list[0].Sessions), list[0].Seats)
		}
	})
}
