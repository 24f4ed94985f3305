package jobs_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portalo/internal/storetest"
	"portalo/jobs"
	"portalo/store/kv"
)

// fast are worker options for tests: short leases and polls.
func fast(node string) jobs.WorkerOptions {
	return jobs.WorkerOptions{
		Node:             node,
		LeaseTTL:         600 * time.Millisecond,
		PollInterval:     20 * time.Millisecond,
		ProgressInterval: 20 * time.Millisecond,
	}
}

// start runs w until the returned stop is called (or the test ends); stop
// returns once Run has.
func start(t *testing.T, w *jobs.Worker) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(10 * time.Second):
				t.Errorf("Worker.Run did not return 10s after its context ended")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %s waiting for %s", timeout, what)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// waitState waits until job id is in state and returns it.
func waitState(t *testing.T, q *jobs.Queue, id string, state jobs.State) jobs.Job {
	t.Helper()
	var j jobs.Job
	waitFor(t, 10*time.Second, fmt.Sprintf("job %s to be %s", id, state), func() bool {
		var err error
		j, err = q.Get(context.Background(), id)
		if err != nil {
			t.Fatal(err)
		}
		return j.State == state
	})
	return j
}

func enqueue(t *testing.T, q *jobs.Queue, kind, payload string) string {
	t.Helper()
	id, err := q.Enqueue(context.Background(), kind, []byte(payload))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

func TestEnqueueRunDone(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		q := jobs.New(store, jobs.Options{})
		var mu sync.Mutex
		var order []string
		handlers := map[string]jobs.Handler{"echo": func(ctx context.Context, j jobs.Job, progress func(float64)) error {
			mu.Lock()
			defer mu.Unlock()
			order = append(order, string(j.Payload))
			return nil
		}}
		var ids []string
		for _, p := range []string{"a", "b", "c"} {
			ids = append(ids, enqueue(t, q, "echo", p))
		}
		other := enqueue(t, q, "other", "no handler here")
		if j, err := q.Get(ctx, ids[0]); err != nil || j.State != jobs.Queued || j.Attempts != 0 || string(j.Payload) != "a" {
			t.Fatalf("before a worker runs: %+v, %v", j, err)
		}
		start(t, q.NewWorker(handlers, fast("node-1")))
		for _, id := range ids {
			j := waitState(t, q, id, jobs.Done)
			if j.Progress != 1 || j.Attempts != 1 || j.Node != "node-1" || j.Error != "" ||
				j.StartedAt.IsZero() || j.FinishedAt.Before(j.StartedAt) || j.StartedAt.Before(j.CreatedAt) {
				t.Errorf("done job %+v", j)
			}
		}
		mu.Lock()
		if got := strings.Join(order, ""); got != "abc" {
			t.Errorf("ran in the order %q, want the enqueue order abc", got)
		}
		mu.Unlock()
		// A kind without a handler on this worker waits for another one.
		if j, _ := q.Get(ctx, other); j.State != jobs.Queued {
			t.Errorf("job without a handler is %s", j.State)
		}

		list, err := q.List(ctx, jobs.ListOptions{})
		if err != nil {
			t.Fatal(err)
		}
		var got []string
		for _, j := range list {
			got = append(got, j.ID)
		}
		if want := []string{other, ids[2], ids[1], ids[0]}; strings.Join(got, ",") != strings.Join(want, ",") {
			t.Errorf("List: %v, want newest first %v", got, want)
		}
		for _, c := range []struct {
			opt  jobs.ListOptions
			want int
		}{
			{jobs.ListOptions{State: jobs.Done}, 3},
			{jobs.ListOptions{State: jobs.Queued}, 1},
			{jobs.ListOptions{Kind: "other"}, 1},
			{jobs.ListOptions{Kind: "echo", State: jobs.Failed}, 0},
			{jobs.ListOptions{Limit: 2}, 2},
		} {
			list, err := q.List(ctx, c.opt)
			if err != nil || len(list) != c.want {
				t.Errorf("List(%+v): %d jobs, %v; want %d", c.opt, len(list), err, c.want)
			}
		}
	})
}

func TestEnqueueRejects(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		q := jobs.New(store, jobs.Options{})
		for _, c := range []struct {
			name    string
			kind    string
			payload []byte
		}{
			{"empty kind", "", nil},
			{"control character", "trans\ncode", nil},
			{"long kind", strings.Repeat("k", 65), nil},
			{"large payload", "transcode", bytes.Repeat([]byte("x"), jobs.MaxPayload+1)},
		} {
			if _, err := q.Enqueue(ctx, c.kind, c.payload); !errors.Is(err, jobs.ErrInvalid) {
				t.Errorf("%s: Enqueue: %v, want ErrInvalid", c.name, err)
			}
		}
		for _, id := range []string{"", "nope", "../../etc", strings.Repeat("0", 24)} {
			if _, err := q.Get(ctx, id); !errors.Is(err, jobs.ErrNotFound) {
				t.Errorf("Get(%q): %v, want ErrNotFound", id, err)
			}
			if err := q.Retry(ctx, id); !errors.Is(err, jobs.ErrNotFound) {
				t.Errorf("Retry(%q): %v, want ErrNotFound", id, err)
			}
			if err := q.Cancel(ctx, id); !errors.Is(err, jobs.ErrNotFound) {
				t.Errorf("Cancel(%q): %v, want ErrNotFound", id, err)
			}
		}
	})
}

func TestFailureAndRetry(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		q := jobs.New(store, jobs.Options{})
		var runs atomic.Int32
		handlers := map[string]jobs.Handler{
			"flaky": func(ctx context.Context, j jobs.Job, progress func(float64)) error {
				if runs.Add(1) == 1 {
					progress(0.4)
					return fmt.Errorf("transcode: subtitles de: not a valid WebVTT subtitle file")
				}
				return nil
			},
			"panicky": func(ctx context.Context, j jobs.Job, progress func(float64)) error {
				var m map[string]int
				m[string(j.Payload)]++ // assignment to a nil map
				return nil
			},
		}
		start(t, q.NewWorker(handlers, fast("node-1")))

		id := enqueue(t, q, "flaky", "")
		j := waitState(t, q, id, jobs.Failed)
		if !strings.Contains(j.Error, "not a valid WebVTT subtitle file") || j.Attempts != 1 || j.FinishedAt.IsZero() {
			t.Errorf("failed job %+v", j)
		}
		if err := q.Cancel(ctx, id); !errors.Is(err, jobs.ErrWrongState) {
			t.Errorf("Cancel of a failed job: %v, want ErrWrongState", err)
		}
		if err := q.Retry(ctx, id); err != nil {
			t.Fatal(err)
		}
		j = waitState(t, q, id, jobs.Done)
		if j.Error != "" || j.Attempts != 2 || j.Progress != 1 {
			t.Errorf("retried job %+v", j)
		}
		if err := q.Retry(ctx, id); !errors.Is(err, jobs.ErrWrongState) {
			t.Errorf("Retry of a done job: %v, want ErrWrongState", err)
		}

		// A panic fails the job and leaves the worker running.
		p := enqueue(t, q, "panicky", "x")
		j = waitState(t, q, p, jobs.Failed)
		if !strings.Contains(j.Error, jobs.ErrPanic.Error()) || !strings.Contains(j.Error, "nil map") {
			t.Errorf("job of a panicking handler: %+v", j)
		}
		after := enqueue(t, q, "flaky", "")
		waitState(t, q, after, jobs.Done)
	})
}

func TestTwoWorkersNeverRunTheSameJob(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		const n = 60
		// Two nodes: each its own Queue on the shared store.
		q1, q2 := jobs.New(store, jobs.Options{}), jobs.New(store, jobs.Options{})
		var mu sync.Mutex
		runs := map[string]int{}
		inflight := map[string]bool{}
		byNode := map[string]int{}
		var overlap atomic.Int32
		handler := func(node string) jobs.Handler {
			return func(ctx context.Context, j jobs.Job, progress func(float64)) error {
				mu.Lock()
				if inflight[j.ID] {
					overlap.Add(1)
				}
				inflight[j.ID] = true
				runs[j.ID]++
				byNode[node]++
				mu.Unlock()
				time.Sleep(5 * time.Millisecond)
				mu.Lock()
				delete(inflight, j.ID)
				mu.Unlock()
				return nil
			}
		}
		for _, node := range []struct {
			q    *jobs.Queue
			name string
		}{{q1, "node-1"}, {q2, "node-2"}} {
			opt := fast(node.name)
			opt.Concurrency = 3
			start(t, node.q.NewWorker(map[string]jobs.Handler{"count": handler(node.name)}, opt))
		}
		var ids []string
		for i := range n {
			q := q1
			if i%2 == 1 {
				q = q2
			}
			ids = append(ids, enqueue(t, q, "count", fmt.Sprint(i)))
		}
		for _, id := range ids {
			if j := waitState(t, q1, id, jobs.Done); j.Attempts != 1 {
				t.Errorf("job %s: %d attempts", id, j.Attempts)
			}
		}
		mu.Lock()
		defer mu.Unlock()
		for _, id := range ids {
			if runs[id] != 1 {
				t.Errorf("job %s ran %d times", id, runs[id])
			}
		}
		if len(runs) != n || overlap.Load() != 0 {
			t.Errorf("%d jobs ran, %d overlapping runs; want %d and 0", len(runs), overlap.Load(), n)
		}
		if byNode["node-1"] == 0 || byNode["node-2"] == 0 {
			t.Errorf("runs by node %v: want work on both", byNode)
		}
		t.Logf("runs by node: %v", byNode)
	})
}

// dyingStore is a kv.Store whose every call fails once it is dead: a node
// that crashed (or lost its network) as far as the store can tell.
type dyingStore struct {
	kv.Store
	dead atomic.Bool
}

var errDead = errors.New("the node is dead")

func (s *dyingStore) err() error {
	if s.dead.Load() {
		return errDead
	}
	return nil
}

func (s *dyingStore) Get(ctx context.Context, key string) ([]byte, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Get(ctx, key)
}

func (s *dyingStore) Set(ctx context.Context, key string, value []byte, ttl time.Duration) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Set(ctx, key, value, ttl)
}

func (s *dyingStore) Create(ctx context.Context, key string, value []byte, ttl time.Duration) (bool, error) {
	if err := s.err(); err != nil {
		return false, err
	}
	return s.Store.Create(ctx, key, value, ttl)
}

func (s *dyingStore) Update(ctx context.Context, key string, fn kv.UpdateFunc) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Update(ctx, key, fn)
}

func (s *dyingStore) Delete(ctx context.Context, keys ...string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Delete(ctx, keys...)
}

func (s *dyingStore) Touch(ctx context.Context, key string, ttl time.Duration) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Touch(ctx, key, ttl)
}

func (s *dyingStore) Incr(ctx context.Context, key string, ttl time.Duration) (int64, error) {
	if err := s.err(); err != nil {
		return 0, err
	}
	return s.Store.Incr(ctx, key, ttl)
}

func (s *dyingStore) AddMember(ctx context.Context, key, member string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.AddMember(ctx, key, member)
}

func (s *dyingStore) RemoveMember(ctx context.Context, key, member string) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.RemoveMember(ctx, key, member)
}

func (s *dyingStore) Members(ctx context.Context, key string) ([]string, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Members(ctx, key)
}

func (s *dyingStore) Keys(ctx context.Context, prefix string) ([]string, error) {
	if err := s.err(); err != nil {
		return nil, err
	}
	return s.Store.Keys(ctx, prefix)
}

func (s *dyingStore) Ping(ctx context.Context) error {
	if err := s.err(); err != nil {
		return err
	}
	return s.Store.Ping(ctx)
}

// Close does not close the shared store.
func (s *dyingStore) Close() error { return nil }

// crash runs a job on a worker whose node then dies: its store calls
// fail and its context is cancelled while the job runs, so it can neither
// finish the job nor give it back.
func crash(t *testing.T, store kv.Store, id, node string, opt jobs.WorkerOptions) time.Time {
	t.Helper()
	dying := &dyingStore{Store: store}
	q := jobs.New(dying, jobs.Options{})
	started := make(chan struct{})
	var once sync.Once
	opt.Node = node
	stop := start(t, q.NewWorker(map[string]jobs.Handler{"work": func(ctx context.Context, j jobs.Job, progress func(float64)) error {
		if j.ID == id {
			once.Do(func() { close(started) })
		}
		<-ctx.Done()
		return ctx.Err()
	}}, opt))
	select {
	case <-started:
	case <-time.After(10 * time.Second):
		t.Fatalf("the worker of %s never started the job", node)
	}
	dying.dead.Store(true)
	died := time.Now()
	stop()
	return died
}

func TestLeaseExpiryReclaimsCrashedWorkersJob(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		q := jobs.New(store, jobs.Options{})
		id := enqueue(t, q, "work", "")
		opt := fast("")
		died := crash(t, store, id, "crashed-node", opt)
		if j, _ := q.Get(context.Background(), id); j.State != jobs.Running || j.Node != "crashed-node" {
			t.Fatalf("after the crash the job is %s on %s, want running on crashed-node", j.State, j.Node)
		}

		// A second node runs it once the lease expired, not before.
		var reclaimed atomic.Int64
		start(t, q.NewWorker(map[string]jobs.Handler{"work": func(ctx context.Context, j jobs.Job, progress func(float64)) error {
			reclaimed.CompareAndSwap(0, time.Now().UnixNano())
			return nil
		}}, fast("node-2")))
		j := waitState(t, q, id, jobs.Done)
		if j.Node != "node-2" || j.Attempts != 2 {
			t.Errorf("reclaimed job %+v, want done by node-2 in its second attempt", j)
		}
		after := time.Unix(0, reclaimed.Load()).Sub(died)
		// The last renewal happened at most LeaseTTL/3 before the crash.
		if after < opt.LeaseTTL/2 {
			t.Errorf("reclaimed %s after the crash, before the lease (%s) could expire", after, opt.LeaseTTL)
		}
		t.Logf("reclaimed %s after the crash (lease %s)", after.Round(time.Millisecond), opt.LeaseTTL)
	})
}

func TestJobFailsWhenItsWorkersKeepCrashing(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		q := jobs.New(store, jobs.Options{})
		id := enqueue(t, q, "work", "")
		opt := fast("")
		opt.LeaseTTL = 300 * time.Millisecond
		opt.MaxLost = 2
		crash(t, store, id, "node-a", opt)
		crash(t, store, id, "node-b", opt) // reclaims after the first crash, then crashes too
		var ran atomic.Bool
		opt.Node = "node-c"
		start(t, q.NewWorker(map[string]jobs.Handler{"work": func(ctx context.Context, j jobs.Job, progress func(float64)) error {
			ran.Store(true)
			return nil
		}}, opt))
		j := waitState(t, q, id, jobs.Failed)
		if !strings.Contains(j.Error, "stopped without finishing 2 times") || j.Attempts != 2 {
			t.Errorf("job %+v, want failed after 2 lost runs", j)
		}
		if ran.Load() {
			t.Errorf("the job ran a third time")
		}
	})
}

func TestProgressVisible(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		counting := &countingStore{Store: store}
		q := jobs.New(counting, jobs.Options{})
		id := enqueue(t, q, "work", "")
		seen := make(chan float64)
		flood := make(chan struct{})
		opt := fast("node-1")
		opt.ProgressInterval = 50 * time.Millisecond
		opt.LeaseTTL = 10 * time.Second // no renewals during the flood
		start(t, q.NewWorker(map[string]jobs.Handler{"work": func(ctx context.Context, j jobs.Job, progress func(float64)) error {
			for _, f := range []float64{0.25, 0.75} {
				progress(f)
				select {
				case <-seen:
				case <-ctx.Done():
					return ctx.Err()
				}
			}
			// A handler reporting far too often is throttled.
			counting.updates.Store(0)
			deadline := time.Now().Add(300 * time.Millisecond)
			for i := 0; time.Now().Before(deadline); i++ {
				progress(0.75 + float64(i%1000)/10000)
				time.Sleep(50 * time.Microsecond)
			}
			close(flood)
			return nil
		}}, opt))
		for _, want := range []float64{0.25, 0.75} {
			waitFor(t, 5*time.Second, fmt.Sprintf("progress %v to be visible", want), func() bool {
				j, err := q.Get(ctx, id)
				return err == nil && j.State == jobs.Running && j.Progress == want
			})
			seen <- want
		}
		<-flood
		// About 300ms/50ms = 6 writes of the job; far fewer than reports.
		if n := counting.updates.Load(); n > 12 {
			t.Errorf("%d writes of the job in 300ms of progress reports, want at most 12", n)
		}
		if j := waitState(t, q, id, jobs.Done); j.Progress != 1 {
			t.Errorf("done job at progress %v", j.Progress)
		}
	})
}

// countingStore counts the updates of job records.
type countingStore struct {
	kv.Store
	updates atomic.Int32
}

func (s *countingStore) Update(ctx context.Context, key string, fn kv.UpdateFunc) error {
	if strings.HasPrefix(key, "jobs:job:") {
		s.updates.Add(1)
	}
	return s.Store.Update(ctx, key, fn)
}

func TestRestart(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		// Jobs enqueued while no worker runs wait for one.
		before := jobs.New(store, jobs.Options{})
		var queued []string
		for i := range 3 {
			queued = append(queued, enqueue(t, before, "work", fmt.Sprint(i)))
		}
		// A job running when its worker shuts down goes back to the queue
		// at once (no lease to wait for).
		running := make(chan string, 1)
		stop := start(t, before.NewWorker(map[string]jobs.Handler{"work": func(ctx context.Context, j jobs.Job, progress func(float64)) error {
			running <- j.ID
			<-ctx.Done()
			return ctx.Err()
		}}, fast("old-process")))
		interrupted := <-running
		stop()
		j, err := before.Get(ctx, interrupted)
		if err != nil || j.State != jobs.Queued || j.Attempts != 1 || j.Progress != 0 {
			t.Fatalf("interrupted job after shutdown: %+v, %v; want queued again", j, err)
		}

		// The restarted process (a new Queue on the same store) runs all.
		after := jobs.New(store, jobs.Options{})
		opt := fast("new-process")
		opt.LeaseTTL = time.Minute // the old leases must not matter
		start(t, after.NewWorker(map[string]jobs.Handler{"work": func(ctx context.Context, j jobs.Job, progress func(float64)) error {
			return nil
		}}, opt))
		for _, id := range queued {
			j := waitState(t, after, id, jobs.Done)
			if j.Node != "new-process" {
				t.Errorf("job %s done by %s", id, j.Node)
			}
			if want := map[bool]int{true: 2, false: 1}[id == interrupted]; j.Attempts != want {
				t.Errorf("job %s: %d attempts, want %d", id, j.Attempts, want)
			}
		}
	})
}

func TestRescanFindsJobsMissingFromTheActiveSet(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		q := jobs.New(store, jobs.Options{})
		id := enqueue(t, q, "work", "")
		// As if the process died between writing the job and the set.
		if err := store.RemoveMember(ctx, "jobs:active", id); err != nil {
			t.Fatal(err)
		}
		start(t, q.NewWorker(map[string]jobs.Handler{"work": func(ctx context.Context, j jobs.Job, progress func(float64)) error {
			return nil
		}}, fast("node-1")))
		waitState(t, q, id, jobs.Done)
	})
}

func TestCancel(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		q := jobs.New(store, jobs.Options{})
		// A queued job is cancelled at once and never runs.
		queued := enqueue(t, q, "work", "queued")
		if err := q.Cancel(ctx, queued); err != nil {
			t.Fatal(err)
		}
		if j, _ := q.Get(ctx, queued); j.State != jobs.Cancelled || j.FinishedAt.IsZero() {
			t.Fatalf("cancelled queued job: %+v", j)
		}
		if err := q.Cancel(ctx, queued); !errors.Is(err, jobs.ErrWrongState) {
			t.Errorf("second Cancel: %v, want ErrWrongState", err)
		}

		var mu sync.Mutex
		ran := map[string]int{}
		block := enqueue(t, q, "work", "block")
		started := make(chan struct{})
		start(t, q.NewWorker(map[string]jobs.Handler{"work": func(ctx context.Context, j jobs.Job, progress func(float64)) error {
			mu.Lock()
			ran[string(j.Payload)]++
			mu.Unlock()
			if string(j.Payload) == "block" {
				close(started)
				<-ctx.Done()
				return context.Cause(ctx)
			}
			return nil
		}}, fast("node-1")))
		// A running job is cancelled through its context.
		<-started
		if err := q.Cancel(ctx, block); err != nil {
			t.Fatal(err)
		}
		if j := waitState(t, q, block, jobs.Cancelled); j.Error != "cancelled" || j.CancelRequested {
			t.Errorf("cancelled running job: %+v", j)
		}
		// A cancelled job can be retried.
		if err := q.Retry(ctx, queued); err != nil {
			t.Fatal(err)
		}
		waitState(t, q, queued, jobs.Done)
		mu.Lock()
		defer mu.Unlock()
		if ran["queued"] != 1 || ran["block"] != 1 {
			t.Errorf("runs %v, want each job once", ran)
		}
	})
}
