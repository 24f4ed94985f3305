package upload

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"portalo/store/kv"
)

// keyPrefix + ID is the kv key of an upload's state.
const keyPrefix = "upload:"

func stateKey(id string) string { return keyPrefix + id }

// The states of a record besides "" (receiving chunks).
const (
	// stateAssembled: the object is in place; Complete's follow-up has
	// not succeeded yet.
	stateAssembled = "assembled"
	// stateCompleted: done; the record stays for IdleTTL so that a
	// repeated Complete or Status answers the same.
	stateCompleted = "completed"
	// stateAborting: Abort or the janitor is removing the upload.
	stateAborting = "aborting"
)

// record is an upload's state in the kv.Store, as JSON.
type record struct {
	ID          string            `json:"id"`
	Key         string            `json:"key"`
	Size        int64             `json:"size"`
	ContentType string            `json:"content_type"`
	Labels      map[string]string `json:"labels,omitempty"`
	MinChunk    int64             `json:"min_chunk"`
	ChunkSize   int64             `json:"chunk_size"`
	// Offset is the sum of the sizes of Parts.
	Offset int64  `json:"offset"`
	Parts  []part `json:"parts,omitempty"`
	// Ref is the backend's reference (the S3 upload ID); empty for the
	// local backend, and until the backend began.
	Ref     string    `json:"ref,omitempty"`
	Created time.Time `json:"created"`
	Updated time.Time `json:"updated"`
	State   string    `json:"state,omitempty"`
	// Lease is the token of the request writing to the upload (a chunk,
	// or Complete) until LeaseUntil.
	Lease      string    `json:"lease,omitempty"`
	LeaseUntil time.Time `json:"lease_until,omitzero"`
}

// part is one stored chunk.
type part struct {
	Size int64  `json:"s"`
	ETag string `json:"e,omitempty"`
}

func (r *record) encode() ([]byte, error) {
	b, err := json.Marshal(r)
	if err != nil {
		return nil, fmt.Errorf("upload: encoding the state: %w", err)
	}
	return b, nil
}

func decode(b []byte) (*record, error) {
	var r record
	if err := json.Unmarshal(b, &r); err != nil {
		return nil, fmt.Errorf("upload: decoding the state: %w", err)
	}
	return &r, nil
}

func (r *record) leased(now time.Time) bool {
	return r.Lease != "" && now.Before(r.LeaseUntil)
}

func (r *record) lease(token string, until time.Time) {
	r.Lease, r.LeaseUntil = token, until
}

func (r *record) unlease() {
	r.Lease, r.LeaseUntil = "", time.Time{}
}

// expired reports whether the upload went idle for too long: no chunk
// since ttl and nobody writing.
func (r *record) expired(now time.Time, ttl time.Duration) bool {
	return r.State != stateCompleted && !r.leased(now) && now.Sub(r.Updated) > ttl
}

// load returns the state of a live upload, or ErrNotFound.
func (s *Service) load(ctx context.Context, id string) (*record, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	b, err := s.state.Get(ctx, stateKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return nil, ErrNotFound
	}
	if err != nil {
		return nil, fmt.Errorf("upload: reading the state of %s: %w", id, err)
	}
	r, err := decode(b)
	if err != nil {
		return nil, err
	}
	if r.State == stateAborting || r.expired(s.opt.Now(), s.opt.IdleTTL) {
		return nil, ErrNotFound
	}
	return r, nil
}

// update changes the state of a live upload atomically with fn and returns
// the new state. An unknown, expired or aborting upload is ErrNotFound;
// fn's error is returned unchanged. A completed upload's state expires
// IdleTTL after its last change.
func (s *Service) update(ctx context.Context, id string, fn func(cur *record) error) (*record, error) {
	if !validID(id) {
		return nil, ErrNotFound
	}
	var out *record
	err := s.state.Update(ctx, stateKey(id), func(cur []byte, found bool) ([]byte, time.Duration, error) {
		if !found {
			return nil, 0, ErrNotFound
		}
		r, err := decode(cur)
		if err != nil {
			return nil, 0, err
		}
		if r.State == stateAborting || r.expired(s.opt.Now(), s.opt.IdleTTL) {
			return nil, 0, ErrNotFound
		}
		if err := fn(r); err != nil {
			return nil, 0, err
		}
		next, err := r.encode()
		if err != nil {
			return nil, 0, err
		}
		out = r
		var ttl time.Duration
		if r.State == stateCompleted {
			ttl = s.opt.IdleTTL
		}
		return next, ttl, nil
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}
