// Package jobs owns portalo's persistent work queue: work that takes
// longer than a request (transcoding an upload) is enqueued as a Job with
// a kind and a payload, and a Worker on some node runs it, reports its
// progress and records how it ended. The queue lives in a kv.Store, so it
// survives a restart and, with Redis, is shared by every portalo node.
//
// A Worker claims a job atomically and holds a lease on it (a key with a
// TTL that it renews while the job runs), so two workers never run the
// same job at once. When a node crashes its leases expire and another
// worker runs the job again; a job whose workers keep disappearing fails
// after a few attempts. A worker that is shut down lets its running jobs
// stop and puts them back in the queue. A job that returns an error or
// panics fails with that reason; an editor can retry it. Jobs are thus run
// at least once: a handler must tolerate running again after a crash.
//
// Keys in the kv.Store: "jobs:job:ID" (the job), "jobs:lease:ID" (the
// lease, with a TTL) and the set "jobs:active" (the IDs of queued and
// running jobs, so workers need not scan finished ones).
package jobs

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"
	"unicode"

	"portalo/store/kv"
)

const (
	jobPrefix   = "jobs:job:"
	leasePrefix = "jobs:lease:"
	activeKey   = "jobs:active"

	// MaxPayload bounds a job's payload: it names the work (an upload's
	// key, an item ID), it does not carry it.
	MaxPayload = 64 << 10
	// maxKind bounds a kind's length.
	maxKind = 64
	// maxReason bounds a stored error reason.
	maxReason = 2000
	// DefaultRetention is how long finished jobs are kept.
	DefaultRetention = 30 * 24 * time.Hour
)

// State is where a job is in its life.
type State string

// The states of a job. Queued and Running jobs are active; the others
// are finished and expire after the queue's retention.
const (
	Queued    State = "queued"
	Running   State = "running"
	Done      State = "done"
	Failed    State = "failed"
	Cancelled State = "cancelled"
)

// active reports whether a job in state s still has work ahead.
func (s State) active() bool { return s == Queued || s == Running }

var (
	// ErrNotFound is returned for an unknown (or expired) job.
	ErrNotFound = errors.New("jobs: no such job")
	// ErrWrongState is returned by Retry and Cancel when the job's state
	// does not allow it (retrying a running job, cancelling a done one).
	ErrWrongState = errors.New("jobs: not possible in the job's state")
	// ErrInvalid is returned by Enqueue for an empty or overlong kind or
	// payload.
	ErrInvalid = errors.New("jobs: invalid job")
)

// Job is a unit of work and what is known of its run.
type Job struct {
	// ID is time-ordered: a later job has a larger ID.
	ID      string `json:"id"`
	Kind    string `json:"kind"`
	Payload []byte `json:"payload,omitempty"`
	State   State  `json:"state"`
	// Progress is the fraction done (0..1) the handler last reported; it
	// is 1 when the job is done.
	Progress float64 `json:"progress"`
	// Error is why the job failed or was cancelled.
	Error string `json:"error,omitempty"`
	// Attempts counts the runs started, retries and re-runs after a crash
	// included.
	Attempts int `json:"attempts"`
	// Node is the worker that runs or last ran the job.
	Node string `json:"node,omitempty"`
	// CancelRequested is set while a running job is being cancelled.
	CancelRequested bool      `json:"cancel_requested,omitempty"`
	CreatedAt       time.Time `json:"created_at"`
	UpdatedAt       time.Time `json:"updated_at"`
	// StartedAt is when the last run started, FinishedAt when the job
	// reached a finished state.
	StartedAt  time.Time `json:"started_at,omitzero"`
	FinishedAt time.Time `json:"finished_at,omitzero"`
}

// record is a Job as stored, with what only workers need.
type record struct {
	Job
	// Token identifies the run that holds the lease; a worker only
	// writes a job while the token is its own.
	Token string `json:"token,omitempty"`
	// Lost counts the runs whose worker disappeared since the job was
	// last enqueued or retried.
	Lost int `json:"lost,omitempty"`
}

func decode(data []byte) (record, error) {
	var r record
	if err := json.Unmarshal(data, &r); err != nil {
		return record{}, fmt.Errorf("jobs: corrupt job record: %w", err)
	}
	return r, nil
}

func (r record) encode() []byte {
	data, err := json.Marshal(r)
	if err != nil {
		panic("jobs: encoding a job: " + err.Error()) // plain data cannot fail
	}
	return data
}

// Options tune a Queue. Zero values take the defaults.
type Options struct {
	// Retention is how long finished jobs are kept (DefaultRetention).
	Retention time.Duration
	// Now is the clock of the jobs' times (time.Now). Leases expire by
	// the store's clock.
	Now func() time.Time
}

// Queue is the work queue in a kv.Store. It is safe for concurrent use;
// several Queues (on several nodes) may share one store.
type Queue struct {
	store     kv.Store
	retention time.Duration
	now       func() time.Time

	mu   sync.Mutex
	wake chan struct{} // closed and replaced when local work arrives
}

// New returns the queue in store.
func New(store kv.Store, opt Options) *Queue {
	if opt.Retention <= 0 {
		opt.Retention = DefaultRetention
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Queue{store: store, retention: opt.Retention, now: opt.Now, wake: make(chan struct{})}
}

// notify wakes this process's workers (workers on other nodes poll).
func (q *Queue) notify() {
	q.mu.Lock()
	defer q.mu.Unlock()
	close(q.wake)
	q.wake = make(chan struct{})
}

// woken returns a channel that is closed at the next notify.
func (q *Queue) woken() <-chan struct{} {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.wake
}

// newID returns a time-ordered job ID: 16 hex digits of nanoseconds and 8
// random ones.
func (q *Queue) newID() string {
	var r [4]byte
	_, _ = rand.Read(r[:])
	return fmt.Sprintf("%016x%s", q.now().UnixNano(), hex.EncodeToString(r[:]))
}

// validID reports whether id has the form newID makes, so that no caller
// input reaches the store as a key of another shape.
func validID(id string) bool {
	if len(id) != 24 {
		return false
	}
	for _, c := range id {
		if !('0' <= c && c <= '9' || 'a' <= c && c <= 'f') {
			return false
		}
	}
	return true
}

func jobKey(id string) string   { return jobPrefix + id }
func leaseKey(id string) string { return leasePrefix + id }

// Enqueue adds a job of kind with payload and returns its ID. A worker
// with a handler for kind will run it.
func (q *Queue) Enqueue(ctx context.Context, kind string, payload []byte) (string, error) {
	if kind == "" || len(kind) > maxKind || strings.IndexFunc(kind, unicode.IsControl) >= 0 {
		return "", fmt.Errorf("%w: kind %q", ErrInvalid, kind)
	}
	if len(payload) > MaxPayload {
		return "", fmt.Errorf("%w: payload of %d bytes (at most %d)", ErrInvalid, len(payload), MaxPayload)
	}
	now := q.now()
	rec := record{Job: Job{
		Kind: kind, Payload: slices.Clone(payload), State: Queued, CreatedAt: now, UpdatedAt: now,
	}}
	for {
		rec.ID = q.newID()
		ok, err := q.store.Create(ctx, jobKey(rec.ID), rec.encode(), 0)
		if err != nil {
			return "", fmt.Errorf("jobs: enqueue: %w", err)
		}
		if ok {
			break
		}
	}
	// Written after the job: a crash in between leaves a queued job that
	// is not in the set, which the workers' rescan puts back.
	if err := q.store.AddMember(ctx, activeKey, rec.ID); err != nil {
		return "", fmt.Errorf("jobs: enqueue: %w", err)
	}
	q.notify()
	return rec.ID, nil
}

// get reads a job's record.
func (q *Queue) get(ctx context.Context, id string) (record, error) {
	if !validID(id) {
		return record{}, ErrNotFound
	}
	data, err := q.store.Get(ctx, jobKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return record{}, ErrNotFound
	}
	if err != nil {
		return record{}, fmt.Errorf("jobs: %w", err)
	}
	return decode(data)
}

// Get returns the job with id, or ErrNotFound.
func (q *Queue) Get(ctx context.Context, id string) (Job, error) {
	rec, err := q.get(ctx, id)
	return rec.Job, err
}

// ListOptions filter List.
type ListOptions struct {
	// Kind and State, if set, select jobs of that kind and state.
	Kind  string
	State State
	// Limit bounds the number of jobs (0: 100).
	Limit int
}

// List returns jobs, newest first.
func (q *Queue) List(ctx context.Context, opt ListOptions) ([]Job, error) {
	if opt.Limit <= 0 {
		opt.Limit = 100
	}
	keys, err := q.store.Keys(ctx, jobPrefix)
	if err != nil {
		return nil, fmt.Errorf("jobs: list: %w", err)
	}
	out := []Job{}
	for i := len(keys) - 1; i >= 0 && len(out) < opt.Limit; i-- {
		rec, err := q.get(ctx, strings.TrimPrefix(keys[i], jobPrefix))
		if errors.Is(err, ErrNotFound) {
			continue // expired meanwhile
		}
		if err != nil {
			return nil, err
		}
		if (opt.Kind == "" || rec.Kind == opt.Kind) && (opt.State == "" || rec.State == opt.State) {
			out = append(out, rec.Job)
		}
	}
	return out, nil
}

// update applies fn to the job's record atomically. fn may run more than
// once. It returns the record as stored.
func (q *Queue) update(ctx context.Context, id string, fn func(*record) error) (record, error) {
	if !validID(id) {
		return record{}, ErrNotFound
	}
	var out record
	err := q.store.Update(ctx, jobKey(id), func(cur []byte, found bool) ([]byte, time.Duration, error) {
		if !found {
			return nil, 0, ErrNotFound
		}
		rec, err := decode(cur)
		if err != nil {
			return nil, 0, err
		}
		if err := fn(&rec); err != nil {
			return nil, 0, err
		}
		rec.UpdatedAt = q.now()
		out = rec
		var ttl time.Duration
		if !rec.State.active() {
			ttl = q.retention
		}
		return rec.encode(), ttl, nil
	})
	if err != nil {
		if errors.Is(err, ErrNotFound) || errors.Is(err, ErrWrongState) || errors.Is(err, errNotOurs) {
			return record{}, err
		}
		return record{}, fmt.Errorf("jobs: update %s: %w", id, err)
	}
	return out, nil
}

// Retry puts a failed or cancelled job back in the queue.
func (q *Queue) Retry(ctx context.Context, id string) error {
	_, err := q.update(ctx, id, func(r *record) error {
		if r.State != Failed && r.State != Cancelled {
			return fmt.Errorf("%w: job %s is %s, only failed and cancelled jobs can be retried", ErrWrongState, id, r.State)
		}
		r.State, r.Error, r.Progress, r.Lost, r.CancelRequested = Queued, "", 0, 0, false
		r.FinishedAt, r.Token = time.Time{}, ""
		return nil
	})
	if err != nil {
		return err
	}
	if err := q.store.AddMember(ctx, activeKey, id); err != nil {
		return fmt.Errorf("jobs: retry: %w", err)
	}
	q.notify()
	return nil
}

// Cancel cancels a job: a queued one at once, a running one by asking its
// worker, whose handler's context is then cancelled (the job ends as
// cancelled unless it completes anyway). Cancelling a finished job is
// ErrWrongState.
func (q *Queue) Cancel(ctx context.Context, id string) error {
	rec, err := q.update(ctx, id, func(r *record) error {
		switch r.State {
		case Queued:
			r.State, r.Error, r.FinishedAt = Cancelled, "cancelled", q.now()
		case Running:
			r.CancelRequested = true
		default:
			return fmt.Errorf("%w: job %s is %s already", ErrWrongState, id, r.State)
		}
		return nil
	})
	if err != nil {
		return err
	}
	if rec.State == Cancelled {
		return q.deactivate(ctx, id)
	}
	return nil
}

// deactivate removes a finished job from the active set. If the job was
// retried meanwhile (its record is active again), the ID is put back, so
// a concurrent Retry cannot be lost between the two steps.
func (q *Queue) deactivate(ctx context.Context, id string) error {
	if err := q.store.RemoveMember(ctx, activeKey, id); err != nil {
		return fmt.Errorf("jobs: %w", err)
	}
	rec, err := q.get(ctx, id)
	if err == nil && rec.State.active() {
		if err := q.store.AddMember(ctx, activeKey, id); err != nil {
			return fmt.Errorf("jobs: %w", err)
		}
	}
	if err != nil && !errors.Is(err, ErrNotFound) {
		return err
	}
	return nil
}

// rescan puts every active job that is missing from the active set back
// into it (after a crash between writing a job and the set).
func (q *Queue) rescan(ctx context.Context) error {
	keys, err := q.store.Keys(ctx, jobPrefix)
	if err != nil {
		return fmt.Errorf("jobs: rescan: %w", err)
	}
	members, err := q.store.Members(ctx, activeKey)
	if err != nil {
		return fmt.Errorf("jobs: rescan: %w", err)
	}
	for _, k := range keys {
		id := strings.TrimPrefix(k, jobPrefix)
		if _, found := slices.BinarySearch(members, id); found {
			continue
		}
		rec, err := q.get(ctx, id)
		if errors.Is(err, ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if rec.State.active() {
			if err := q.store.AddMember(ctx, activeKey, id); err != nil {
				return fmt.Errorf("jobs: rescan: %w", err)
			}
		}
	}
	return nil
}
