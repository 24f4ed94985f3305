package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"

	"portalo/store/kv"
)

// Handler does the work of a job. It should return soon after ctx ends
// (the worker is shutting down, the job was cancelled, or its lease was
// lost), and it may call progress with the fraction done (0..1) as often
// as it likes: the worker stores it at most every ProgressInterval. A
// returned error fails the job with the error's text as the reason; so
// does a panic (in the handler's own goroutine).
type Handler func(ctx context.Context, job Job, progress func(float64)) error

// ErrPanic is wrapped by the reason of a job whose handler panicked.
var ErrPanic = errors.New("the handler panicked")

// Causes of the cancellation of a handler's context.
var (
	errLeaseLost       = errors.New("jobs: the lease on the job was lost to another worker")
	errCancelRequested = errors.New("jobs: the job was cancelled")
	// errNotOurs aborts a write to a job or lease another run holds.
	errNotOurs = errors.New("jobs: held by another run")
)

// WorkerOptions tune a Worker. Zero values take the defaults.
type WorkerOptions struct {
	// Concurrency is the number of jobs run at once (1).
	Concurrency int
	// LeaseTTL is how long a job stays claimed without renewal, and so
	// how soon another worker runs the job of a crashed node (30s). The
	// lease is renewed every LeaseTTL/3.
	LeaseTTL time.Duration
	// PollInterval is how often the queue is looked at for work enqueued
	// on other nodes (1s); work enqueued through the same Queue starts
	// at once.
	PollInterval time.Duration
	// ProgressInterval is the least time between two stored progress
	// reports of a job (1s).
	ProgressInterval time.Duration
	// RescanInterval is how often all jobs are scanned for active ones
	// missing from the active set (5 minutes); Run also scans at start.
	RescanInterval time.Duration
	// MaxLost is the number of runs of a job whose worker disappeared
	// (crash, kill) after which the job fails instead of running again
	// (3).
	MaxLost int
	// Node names this worker in the jobs it runs (host name, process ID
	// and a random suffix).
	Node string
	// Logger receives failures of the store and of handlers (discarded).
	Logger *slog.Logger
}

// Worker runs the jobs of the kinds it has handlers for.
type Worker struct {
	q        *Queue
	handlers map[string]Handler
	opt      WorkerOptions
	log      *slog.Logger
	started  atomic.Bool

	mu      sync.Mutex
	running map[string]bool // IDs of the jobs this worker runs
}

// NewWorker returns a worker for q that runs jobs of the kinds in
// handlers. It does nothing until Run.
func (q *Queue) NewWorker(handlers map[string]Handler, opt WorkerOptions) *Worker {
	if opt.Concurrency <= 0 {
		opt.Concurrency = 1
	}
	if opt.LeaseTTL <= 0 {
		opt.LeaseTTL = 30 * time.Second
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = time.Second
	}
	if opt.ProgressInterval <= 0 {
		opt.ProgressInterval = time.Second
	}
	if opt.RescanInterval <= 0 {
		opt.RescanInterval = 5 * time.Minute
	}
	if opt.MaxLost <= 0 {
		opt.MaxLost = 3
	}
	if opt.Node == "" {
		host, _ := os.Hostname()
		opt.Node = fmt.Sprintf("%s-%d-%s", host, os.Getpid(), randomHex(3))
	}
	log := opt.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	hs := make(map[string]Handler, len(handlers))
	for k, h := range handlers {
		hs[k] = h
	}
	return &Worker{q: q, handlers: hs, opt: opt, log: log.With("node", opt.Node), running: map[string]bool{}}
}

func randomHex(n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// Run claims and runs jobs until ctx ends, then waits for the running
// jobs' handlers to return (their context is cancelled) and puts the jobs
// they did not finish back in the queue. Store failures are logged and
// retried at the next poll. Run must not be called twice.
func (w *Worker) Run(ctx context.Context) {
	if w.started.Swap(true) {
		panic("jobs: Worker.Run called twice")
	}
	var wg sync.WaitGroup
	defer wg.Wait()
	freed := make(chan struct{}, w.opt.Concurrency)
	busy := 0

	if err := w.q.rescan(ctx); err != nil && ctx.Err() == nil {
		w.log.Error("jobs: rescan failed", "err", err)
	}
	poll := time.NewTicker(w.opt.PollInterval)
	defer poll.Stop()
	rescan := time.NewTicker(w.opt.RescanInterval)
	defer rescan.Stop()
	failing := false
	for {
		woken := w.q.woken() // before looking, so no notify is missed
		for busy < w.opt.Concurrency && ctx.Err() == nil {
			rec, ok, err := w.next(ctx)
			if err != nil {
				if !failing && ctx.Err() == nil {
					w.log.Error("jobs: looking for work failed", "err", err)
				}
				failing = true
				break
			}
			failing = false
			if !ok {
				break
			}
			busy++
			wg.Add(1)
			go func() {
				defer wg.Done()
				w.execute(ctx, rec)
				freed <- struct{}{}
			}()
		}
		select {
		case <-ctx.Done():
			return
		case <-freed:
			busy--
		case <-woken:
		case <-poll.C:
		case <-rescan.C:
			if err := w.q.rescan(ctx); err != nil && ctx.Err() == nil {
				w.log.Error("jobs: rescan failed", "err", err)
			}
		}
	}
}

// next claims the oldest job this worker can run, if any.
func (w *Worker) next(ctx context.Context) (record, bool, error) {
	ids, err := w.q.store.Members(ctx, activeKey)
	if err != nil {
		return record{}, false, fmt.Errorf("jobs: %w", err)
	}
	for _, id := range ids { // sorted, and IDs are time-ordered: oldest first
		if err := ctx.Err(); err != nil {
			return record{}, false, err
		}
		if w.isRunning(id) {
			continue
		}
		rec, err := w.q.get(ctx, id)
		if errors.Is(err, ErrNotFound) || err == nil && !rec.State.active() {
			if err := w.q.deactivate(ctx, id); err != nil {
				return record{}, false, err
			}
			continue
		}
		if err != nil {
			return record{}, false, err
		}
		if _, ok := w.handlers[rec.Kind]; !ok {
			continue
		}
		if rec.State == Running {
			// Its worker is alive as long as the lease is: look before
			// trying to take it, which is a write.
			if _, err := w.q.store.Get(ctx, leaseKey(id)); err == nil {
				continue
			} else if !errors.Is(err, kv.ErrNotFound) {
				return record{}, false, fmt.Errorf("jobs: %w", err)
			}
		}
		rec, ok, err := w.claim(ctx, id)
		if err != nil {
			return record{}, false, err
		}
		if ok {
			return rec, true, nil
		}
	}
	return record{}, false, nil
}

func (w *Worker) isRunning(id string) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.running[id]
}

// claim takes the lease on a job and marks it running under a new token.
// A running job whose lease was free had lost its worker: it counts as
// lost, and fails when that happened MaxLost times.
func (w *Worker) claim(ctx context.Context, id string) (record, bool, error) {
	token := randomHex(12)
	ok, err := w.q.store.Create(ctx, leaseKey(id), []byte(token), w.opt.LeaseTTL)
	if err != nil {
		return record{}, false, fmt.Errorf("jobs: claim %s: %w", id, err)
	}
	if !ok {
		return record{}, false, nil // another worker was quicker
	}
	gaveUp := false
	rec, err := w.q.update(ctx, id, func(r *record) error {
		gaveUp = false
		now := w.q.now()
		switch r.State {
		case Queued:
		case Running:
			r.Lost++
			if r.Lost >= w.opt.MaxLost {
				r.State, r.Token, r.FinishedAt = Failed, "", now
				times := "times"
				if r.Lost == 1 {
					times = "time"
				}
				r.Error = fmt.Sprintf("given up: the worker running it stopped without finishing %d %s (a crash or a restart)", r.Lost, times)
				gaveUp = true
				return nil
			}
		default:
			return fmt.Errorf("%w: job %s is %s", ErrWrongState, id, r.State)
		}
		if r.CancelRequested {
			r.State, r.Token, r.FinishedAt, r.Error = Cancelled, "", now, "cancelled"
			gaveUp = true
			return nil
		}
		r.State, r.Token, r.Node, r.StartedAt = Running, token, w.opt.Node, now
		r.Attempts++
		r.Progress, r.Error = 0, ""
		return nil
	})
	if err != nil || gaveUp {
		w.release(ctx, id, token)
		if err == nil || errors.Is(err, ErrNotFound) || errors.Is(err, ErrWrongState) {
			// Finished meanwhile, or just now: not active any more.
			return record{}, false, w.q.deactivate(ctx, id)
		}
		return record{}, false, err
	}
	w.mu.Lock()
	w.running[id] = true
	w.mu.Unlock()
	return rec, true, nil
}

// release deletes the lease on a job if token still holds it.
func (w *Worker) release(ctx context.Context, id, token string) {
	err := w.q.store.Update(ctx, leaseKey(id), func(cur []byte, found bool) ([]byte, time.Duration, error) {
		if !found || string(cur) != token {
			return nil, 0, errNotOurs
		}
		return nil, 0, nil
	})
	if err != nil && !errors.Is(err, errNotOurs) {
		w.log.Warn("jobs: releasing a lease failed; it expires by itself", "job", id, "err", err)
	}
}

// execute runs a claimed job's handler and records how it ended.
func (w *Worker) execute(ctx context.Context, rec record) {
	defer func() {
		w.mu.Lock()
		delete(w.running, rec.ID)
		w.mu.Unlock()
	}()
	// The store is still written while the handler stops after ctx
	// ended: the lease is held until the job is back in the queue.
	bg := context.WithoutCancel(ctx)
	hctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)

	var progress atomic.Uint64 // math.Float64bits of the last report
	report := func(f float64) {
		if f != f { // NaN
			return
		}
		progress.Store(math.Float64bits(max(0, min(1, f))))
	}
	stop := make(chan struct{})
	kept := make(chan struct{})
	go func() {
		defer close(kept)
		w.keep(bg, rec, &progress, cancel, stop)
	}()
	err := w.call(hctx, rec.Job, report)
	close(stop)
	<-kept

	cause := context.Cause(hctx)
	finishCtx, cancelFinish := context.WithTimeout(bg, 10*time.Second)
	defer cancelFinish()
	switch {
	case errors.Is(cause, errLeaseLost):
		w.log.Warn("jobs: lost the lease on a job; its result is dropped", "job", rec.ID, "kind", rec.Kind)
		return
	case err == nil:
		w.finish(finishCtx, rec, Done, "")
	case errors.Is(cause, errCancelRequested):
		w.finish(finishCtx, rec, Cancelled, "cancelled")
	case ctx.Err() != nil:
		w.requeue(finishCtx, rec)
	default:
		reason := err.Error()
		if len(reason) > maxReason {
			reason = reason[:maxReason] + "…"
		}
		w.log.Warn("jobs: job failed", "job", rec.ID, "kind", rec.Kind, "err", reason)
		w.finish(finishCtx, rec, Failed, reason)
	}
}

// call runs the handler, turning a panic into an error.
func (w *Worker) call(ctx context.Context, job Job, progress func(float64)) (err error) {
	defer func() {
		if v := recover(); v != nil {
			w.log.Error("jobs: handler panicked", "job", job.ID, "kind", job.Kind, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
			err = fmt.Errorf("%w: %v", ErrPanic, v)
		}
	}()
	return w.handlers[job.Kind](ctx, job, progress)
}

// keep renews the lease of a running job, stores its progress (throttled)
// and watches for cancel requests, until stop is closed. It cancels the
// handler's context when the lease is lost or the job is cancelled.
func (w *Worker) keep(ctx context.Context, rec record, progress *atomic.Uint64, cancel context.CancelCauseFunc, stop <-chan struct{}) {
	renewEvery := w.opt.LeaseTTL / 3
	tick := time.NewTicker(min(renewEvery, w.opt.ProgressInterval))
	defer tick.Stop()
	lastRenew := time.Now()
	stored := math.Float64bits(0)
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
		}
		renew := time.Since(lastRenew) >= renewEvery
		if renew {
			err := w.q.store.Update(ctx, leaseKey(rec.ID), func(cur []byte, found bool) ([]byte, time.Duration, error) {
				if !found || string(cur) != rec.Token {
					return nil, 0, errNotOurs
				}
				return cur, w.opt.LeaseTTL, nil
			})
			switch {
			case errors.Is(err, errNotOurs):
				cancel(errLeaseLost)
				return
			case err != nil:
				// The store is unreachable: keep trying until the lease
				// would have expired anyway.
				w.log.Warn("jobs: renewing a lease failed", "job", rec.ID, "err", err)
			default:
				lastRenew = time.Now()
			}
		}
		p := progress.Load()
		if !renew && p == stored {
			continue
		}
		// Store the progress; on renewals also look for a cancel request.
		var cancelled bool
		_, err := w.q.update(ctx, rec.ID, func(r *record) error {
			if r.Token != rec.Token || r.State != Running {
				return errNotOurs
			}
			r.Progress = math.Float64frombits(p)
			cancelled = r.CancelRequested
			return nil
		})
		switch {
		case errors.Is(err, errNotOurs) || errors.Is(err, ErrNotFound):
			cancel(errLeaseLost)
			return
		case err != nil:
			w.log.Warn("jobs: storing progress failed", "job", rec.ID, "err", err)
		default:
			stored = p
			if cancelled {
				cancel(errCancelRequested)
			}
		}
	}
}

// finish records the end of a run if this run still holds the job, and
// releases it.
func (w *Worker) finish(ctx context.Context, rec record, state State, reason string) {
	_, err := w.q.update(ctx, rec.ID, func(r *record) error {
		if r.Token != rec.Token {
			return errNotOurs
		}
		r.State, r.Error, r.Token, r.FinishedAt = state, reason, "", w.q.now()
		r.CancelRequested = false
		if state == Done {
			r.Progress = 1
		}
		return nil
	})
	if err != nil {
		w.log.Error("jobs: recording the end of a job failed", "job", rec.ID, "state", state, "err", err)
		return
	}
	w.release(ctx, rec.ID, rec.Token)
	if err := w.q.deactivate(ctx, rec.ID); err != nil {
		w.log.Warn("jobs: removing a finished job from the active set failed", "job", rec.ID, "err", err)
	}
}

// requeue puts a job whose run was interrupted by the worker's shutdown
// back in the queue, for this node after its restart or another node.
func (w *Worker) requeue(ctx context.Context, rec record) {
	_, err := w.q.update(ctx, rec.ID, func(r *record) error {
		if r.Token != rec.Token {
			return errNotOurs
		}
		r.State, r.Token, r.Progress = Queued, "", 0
		return nil
	})
	if err != nil {
		w.log.Error("jobs: putting an interrupted job back failed; it runs again when its lease expires", "job", rec.ID, "err", err)
		return
	}
	w.release(ctx, rec.ID, rec.Token)
	w.q.notify()
}
