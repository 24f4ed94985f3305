package upload

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"portalo/store/kv"
)

// Run removes expired uploads every Options.SweepInterval until ctx is
// done; the caller runs it in a goroutine it owns. Failures are logged
// (once until a sweep works again) and retried at the next tick.
func (s *Service) Run(ctx context.Context) {
	tick := time.NewTicker(s.opt.SweepInterval)
	defer tick.Stop()
	failing := false
	for {
		n, err := s.Sweep(ctx)
		switch {
		case err == nil:
			if failing {
				s.log.Info("upload: removing expired uploads works again")
			}
			failing = false
			if n > 0 {
				s.log.Info("upload: removed expired uploads", "count", n)
			}
		case ctx.Err() != nil:
			return
		case !failing:
			s.log.Warn("upload: cannot remove expired uploads", "err", err)
			failing = true
		}
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

// Sweep removes, once, every upload that went idle for longer than
// Options.IdleTTL (with its parts or staging file), finishes removals that
// an earlier Abort could not, and removes what the backend still holds of
// uploads without state. It returns how many uploads it removed.
func (s *Service) Sweep(ctx context.Context) (int, error) {
	keys, err := s.state.Keys(ctx, keyPrefix)
	if err != nil {
		return 0, fmt.Errorf("upload: sweep: %w", err)
	}
	now := s.opt.Now()
	live := map[string]bool{}
	var doomed []*record
	var errs []error
	for _, key := range keys {
		id := strings.TrimPrefix(key, keyPrefix)
		r, err := s.markExpired(ctx, id, now)
		switch {
		case err != nil:
			errs = append(errs, err)
			live[id] = true // unsure: keep its files
		case r == nil:
		case r.State == stateAborting:
			doomed = append(doomed, r)
		default:
			live[r.ID] = true
			if r.Ref != "" {
				live[r.Ref] = true
			}
		}
	}
	removed := 0
	var unreferenced []*record
	for _, r := range doomed {
		if r.Ref == "" && s.backend == "s3" {
			unreferenced = append(unreferenced, r)
		}
		if err := s.remove(ctx, r); err != nil {
			errs = append(errs, err)
			live[r.ID] = true
			continue
		}
		removed++
	}
	err = s.be.sweep(ctx, now.Add(-s.opt.IdleTTL), func(idOrRef string) bool { return live[idOrRef] }, unreferenced)
	if err != nil {
		errs = append(errs, err)
	}
	if err := errors.Join(errs...); err != nil {
		return removed, fmt.Errorf("upload: sweep: %w", err)
	}
	return removed, nil
}

// markExpired marks the upload id as aborting when it expired (or was
// aborting already) and returns its state; it returns nil for an upload
// that vanished meanwhile.
func (s *Service) markExpired(ctx context.Context, id string, now time.Time) (*record, error) {
	var out *record
	err := s.state.Update(ctx, stateKey(id), func(cur []byte, found bool) ([]byte, time.Duration, error) {
		out = nil
		if !found {
			return nil, 0, errKeep
		}
		r, err := decode(cur)
		if err != nil {
			return nil, 0, err
		}
		out = r
		if r.State != stateAborting && !r.expired(now, s.opt.IdleTTL) {
			return nil, 0, errKeep
		}
		r.State = stateAborting
		b, err := r.encode()
		return b, 0, err
	})
	switch {
	case errors.Is(err, errKeep):
		return out, nil
	case errors.Is(err, kv.ErrNotFound):
		return nil, nil
	case err != nil:
		return nil, fmt.Errorf("upload: %s: %w", id, err)
	}
	return out, nil
}

// errKeep ends an Update without changing the value.
var errKeep = errors.New("upload: keep")
