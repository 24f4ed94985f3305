package catalog

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"portalo/internal/langtext"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"portalo/store/blob"
	"portalo/store/kv"
)

// Keys in the kv.Store. None of them holds catalog data: an empty kv.Store
// loses nothing but coordination.
const (
	// versionKey counts the writes to the catalog, on all nodes.
	versionKey = "catalog:version"
	// lockPrefix + ID is held (with a TTL) while a node writes the item.
	lockPrefix = "catalog:lock:"
	// slugPrefix + slug names the item that claimed the slug.
	slugPrefix = "catalog:slug:"
)

const (
	defaultPollInterval   = time.Second
	defaultResyncInterval = 5 * time.Minute
	defaultLockTTL        = 30 * time.Second
	defaultLockWait       = 10 * time.Second
	// claimGrace is how long a slug claim is respected while its item's
	// manifest does not show the slug yet (it is being written).
	claimGrace = time.Minute
	// loadWorkers bounds the manifests read at once by Refresh.
	loadWorkers = 8
	// releaseTimeout bounds the clean-up (lock and claim release) after a
	// write whose context was cancelled.
	releaseTimeout = 5 * time.Second
)

// Options tune a Catalog. Zero values take the defaults.
type Options struct {
	// Now is the clock of the items' times (time.Now).
	Now func() time.Time
	// PollInterval is how often Run looks at the version counter (1s).
	PollInterval time.Duration
	// ResyncInterval is how often Run refreshes even when the counter did
	// not move, to pick up manifests changed behind portalo's back or a
	// counter lost with the kv.Store (5 minutes; negative: never).
	ResyncInterval time.Duration
	// LockTTL is how long an item's write lock lives if its holder dies
	// (30s); LockWait is how long a write waits for it (10s) before
	// giving up with ErrBusy.
	LockTTL, LockWait time.Duration
	// Logger receives warnings about unreadable manifests, clashing slugs
	// and failing refreshes (discarded when nil).
	Logger *slog.Logger
}

// Catalog is the mediathek's catalog. It is safe for concurrent use.
type Catalog struct {
	blobs blob.Store
	kv    kv.Store
	opt   Options
	log   *slog.Logger

	idx atomic.Pointer[index] // what reads see

	// refreshMu lets one Refresh run at a time; it guards bad.
	refreshMu sync.Mutex
	// bad holds the ETags of manifests that could not be used, so that
	// they are read (and reported) again only when they change.
	bad map[string]string

	// mu serializes changes of idx and guards dirty and seen.
	mu sync.Mutex
	// dirty collects the items written on this node while a Refresh runs
	// (nil otherwise): the Refresh keeps their newer entries.
	dirty map[string]bool
	// seen is the version counter the index was last refreshed at.
	seen string
}

// New returns a Catalog on the object store (the items) and the kv.Store
// (coordination between nodes), with its index loaded from the object
// store. The caller runs Run to follow changes made by other nodes.
func New(ctx context.Context, blobs blob.Store, state kv.Store, opt Options) (*Catalog, error) {
	if blobs == nil || state == nil {
		return nil, errors.New("catalog: New needs a blob.Store and a kv.Store")
	}
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.PollInterval <= 0 {
		opt.PollInterval = defaultPollInterval
	}
	if opt.ResyncInterval == 0 {
		opt.ResyncInterval = defaultResyncInterval
	}
	if opt.LockTTL <= 0 {
		opt.LockTTL = defaultLockTTL
	}
	if opt.LockWait <= 0 {
		opt.LockWait = defaultLockWait
	}
	c := &Catalog{blobs: blobs, kv: state, opt: opt, log: opt.Logger, bad: map[string]string{}}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	c.idx.Store(&index{byID: map[string]*entry{}, bySlug: map[string]*entry{}})
	if err := c.Refresh(ctx); err != nil {
		return nil, err
	}
	return c, nil
}

// Get returns the item with id, or ErrNotFound. It does not check who may
// see it: see Item.VisibleTo.
func (c *Catalog) Get(id string) (Item, error) {
	e := c.idx.Load().byID[id]
	if e == nil {
		return Item{}, ErrNotFound
	}
	return e.item.Clone(), nil
}

// GetBySlug returns the item with slug, or ErrNotFound.
func (c *Catalog) GetBySlug(slug string) (Item, error) {
	e := c.idx.Load().bySlug[slug]
	if e == nil {
		return Item{}, ErrNotFound
	}
	return e.item.Clone(), nil
}

// List returns a page of the items that q selects and its viewer may see,
// newest first: by the time they were published, or created when never
// published. Unknown filter values are an *InputError.
func (c *Catalog) List(q Query) (Result, error) {
	if err := q.check(); err != nil {
		return Result{}, err
	}
	return c.idx.Load().list(q), nil
}

// Search is List restricted to the items matching text: every word of it
// must begin a word of a title or description (in any language), ignoring
// case and diacritics (see fold.go). Items with more words found in a title
// come first, then the newest. A text without words lists like List.
func (c *Catalog) Search(text string, q Query) (Result, error) {
	if err := checkQueryText(text); err != nil {
		return Result{}, err
	}
	if err := q.check(); err != nil {
		return Result{}, err
	}
	ix := c.idx.Load()
	toks := queryTokens(text)
	if len(toks) == 0 {
		return ix.list(q), nil
	}
	return ix.search(toks, q), nil
}

// Run follows the changes of other nodes until ctx is done: every
// PollInterval it reads the version counter and refreshes the index when
// it moved, and refreshes anyway once ResyncInterval passed since the last
// refresh. Failures are logged (once until it works again) and retried at
// the next tick.
func (c *Catalog) Run(ctx context.Context) {
	tick := time.NewTicker(c.opt.PollInterval)
	defer tick.Stop()
	last := time.Now()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		resync := c.opt.ResyncInterval > 0 && time.Since(last) >= c.opt.ResyncInterval
		refreshed, err := c.poll(ctx, resync)
		switch {
		case err == nil:
			if failing {
				c.log.Info("catalog: following other nodes' changes again")
			}
			failing = false
			if refreshed {
				last = time.Now()
			}
		case ctx.Err() != nil:
			return
		case !failing:
			c.log.Warn("catalog: cannot follow other nodes' changes", "err", err)
			failing = true
		}
	}
}

// poll refreshes the index when the version counter moved, or always when
// resync is set, and reports whether it did.
func (c *Catalog) poll(ctx context.Context, resync bool) (bool, error) {
	if !resync {
		ver, err := c.readVersion(ctx)
		if err != nil {
			return false, err
		}
		c.mu.Lock()
		same := ver == c.seen
		c.mu.Unlock()
		if same {
			return false, nil
		}
	}
	return true, c.Refresh(ctx)
}

func (c *Catalog) readVersion(ctx context.Context) (string, error) {
	b, err := c.kv.Get(ctx, versionKey)
	if errors.Is(err, kv.ErrNotFound) {
		return "", nil
	}
	if err != nil {
		return "", fmt.Errorf("catalog: reading the version counter: %w", err)
	}
	return string(b), nil
}

// bump tells the other nodes that the catalog changed. The write it
// follows is already stored, so a failure is logged, not returned: the
// other nodes then see the change at their next resync.
func (c *Catalog) bump(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	err := c.kv.Update(ctx, versionKey, func(cur []byte, _ bool) ([]byte, time.Duration, error) {
		n, _ := strconv.ParseUint(string(cur), 10, 64)
		return strconv.AppendUint(nil, n+1, 10), 0, nil
	})
	if err != nil {
		c.log.Warn("catalog: cannot bump the version counter; other nodes see the change at their next resync", "err", err)
	}
}

// Refresh brings the index up to date with the object store: it lists
// media/, reads the manifests whose ETag changed since they were indexed
// and drops the items whose manifest is gone. A manifest that cannot be
// read keeps its item's previous entry; one that is invalid leaves the
// index (both are logged). Only a failing listing is an error, and then
// the index stays as it was.
func (c *Catalog) Refresh(ctx context.Context) error {
	c.refreshMu.Lock()
	defer c.refreshMu.Unlock()
	ver, err := c.readVersion(ctx)
	if err != nil {
		return err
	}
	c.mu.Lock()
	c.dirty = map[string]bool{}
	cur := c.idx.Load()
	c.mu.Unlock()
	installed := false
	defer func() {
		if !installed {
			c.mu.Lock()
			c.dirty = nil
			c.mu.Unlock()
		}
	}()

	infos, err := c.blobs.List(ctx, mediaPrefix)
	if err != nil {
		return fmt.Errorf("catalog: listing the items: %w", err)
	}
	next := make(map[string]*entry, len(cur.byID))
	var toLoad []blob.Info
	listed := make(map[string]bool, len(infos))
	for _, in := range infos {
		id, ok := manifestID(in.Key)
		if !ok {
			continue
		}
		listed[id] = true
		if e := cur.byID[id]; e != nil && e.etag == in.ETag {
			next[id] = e
		} else if badETag, isBad := c.bad[id]; !isBad || badETag != in.ETag {
			toLoad = append(toLoad, in)
		}
	}
	for id := range c.bad {
		if !listed[id] {
			delete(c.bad, id)
		}
	}
	loaded := c.loadAll(ctx, toLoad)
	for i, in := range toLoad {
		id, _ := manifestID(in.Key)
		r := loaded[i]
		switch {
		case r.err == nil:
			next[id] = newEntry(r.item, r.etag)
			delete(c.bad, id)
		case errors.Is(r.err, ErrNotFound):
			// Deleted since the listing.
		case errors.Is(r.err, errBadManifest):
			c.log.Warn("catalog: leaving out an invalid manifest", "key", in.Key, "err", r.err)
			c.bad[id] = in.ETag
		default:
			if err := ctx.Err(); err != nil {
				return fmt.Errorf("catalog: refreshing: %w", err)
			}
			c.log.Warn("catalog: cannot read a manifest; keeping what the index had", "key", in.Key, "err", r.err)
			if e := cur.byID[id]; e != nil {
				next[id] = e
			}
		}
	}

	c.mu.Lock()
	now := c.idx.Load()
	for id := range c.dirty {
		if e := now.byID[id]; e != nil {
			next[id] = e
		} else {
			delete(next, id)
		}
	}
	ix, clashes := buildIndex(next)
	c.idx.Store(ix)
	c.dirty = nil
	c.seen = ver
	installed = true
	c.mu.Unlock()
	c.logClashes(clashes)
	return nil
}

type loadResult struct {
	item Item
	etag string
	err  error
}

// loadAll reads the manifests of infos, a few at a time.
func (c *Catalog) loadAll(ctx context.Context, infos []blob.Info) []loadResult {
	out := make([]loadResult, len(infos))
	sem := make(chan struct{}, loadWorkers)
	var wg sync.WaitGroup
	for i, in := range infos {
		id, _ := manifestID(in.Key)
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			r := &out[i]
			r.item, r.etag, r.err = c.load(ctx, id)
		})
	}
	wg.Wait()
	return out
}

func (c *Catalog) logClashes(clashes []slugClash) {
	for _, cl := range clashes {
		c.log.Warn("catalog: two items have the same slug; the older keeps it", "slug", cl.slug, "kept", cl.kept, "dropped", cl.dropped)
	}
}

// apply puts the item id's new entry (nil: none) into the index after a
// write on this node.
func (c *Catalog) apply(id string, e *entry) {
	c.mu.Lock()
	if c.dirty != nil {
		c.dirty[id] = true
	}
	ix, clashes := c.idx.Load().with(id, e)
	c.idx.Store(ix)
	c.mu.Unlock()
	c.logClashes(clashes)
}

var errBadManifest = errors.New("catalog: invalid manifest")

// load reads the item id's manifest from the object store: ErrNotFound,
// an error wrapping errBadManifest, or a store error.
func (c *Catalog) load(ctx context.Context, id string) (Item, string, error) {
	r, info, err := c.blobs.Open(ctx, ManifestKey(id))
	if errors.Is(err, blob.ErrNotFound) {
		return Item{}, "", ErrNotFound
	}
	if err != nil {
		return Item{}, "", fmt.Errorf("catalog: reading the manifest of %s: %w", id, err)
	}
	defer r.Close()
	b, err := io.ReadAll(io.LimitReader(r, maxManifestSize+1))
	if err != nil {
		return Item{}, "", fmt.Errorf("catalog: reading the manifest of %s: %w", id, err)
	}
	if len(b) > maxManifestSize {
		return Item{}, "", fmt.Errorf("%w: manifest of %s is over %d bytes", errBadManifest, id, maxManifestSize)
	}
	it, err := decodeManifest(id, b)
	if err != nil {
		return Item{}, "", fmt.Errorf("%w: %w", errBadManifest, err)
	}
	return it, info.ETag, nil
}

func (c *Catalog) putManifest(ctx context.Context, it Item) (string, error) {
	b, err := encodeManifest(it)
	if err != nil {
		return "", err
	}
	info, err := c.blobs.Put(ctx, ManifestKey(it.ID), bytes.NewReader(b), int64(len(b)), manifestType)
	if err != nil {
		return "", fmt.Errorf("catalog: storing the manifest of %s: %w", it.ID, err)
	}
	return info.ETag, nil
}

func (c *Catalog) stamp() time.Time { return c.opt.Now().UTC().Truncate(time.Millisecond) }

func randomToken(n int) string {
	b := make([]byte, n)
	rand.Read(b) // never fails (crypto/rand)
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// lock takes the item's write lock, waiting up to LockWait, and returns its
// release.
func (c *Catalog) lock(ctx context.Context, id string) (func(), error) {
	key, token := lockPrefix+id, []byte(randomToken(10))
	deadline := time.Now().Add(c.opt.LockWait)
	pause := 5 * time.Millisecond
	for {
		ok, err := c.kv.Create(ctx, key, token, c.opt.LockTTL)
		if err != nil {
			return nil, fmt.Errorf("catalog: locking %s: %w", id, err)
		}
		if ok {
			return func() { c.unlock(ctx, key, token) }, nil
		}
		if time.Now().After(deadline) {
			return nil, ErrBusy
		}
		t := time.NewTimer(pause/2 + mrand.N(pause))
		select {
		case <-ctx.Done():
			t.Stop()
			return nil, fmt.Errorf("catalog: waiting for the lock of %s: %w", id, ctx.Err())
		case <-t.C:
		}
		pause = min(2*pause, 200*time.Millisecond)
	}
}

var errNotMine = errors.New("not mine")

// unlock removes the lock key if it still holds token (it may have expired
// and been taken by another writer).
func (c *Catalog) unlock(ctx context.Context, key string, token []byte) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	err := c.kv.Update(ctx, key, func(cur []byte, found bool) ([]byte, time.Duration, error) {
		if !found || !bytes.Equal(cur, token) {
			return nil, 0, errNotMine
		}
		return nil, 0, nil
	})
	if err != nil && !errors.Is(err, errNotMine) {
		c.log.Warn("catalog: cannot release a lock; it expires by itself", "key", key, "err", err)
	}
}

// change runs fn on the item's current state, read from the object store
// under the item's lock, and stores the result when fn reports a change:
// with the revision increased and the update time set. It returns the item
// as stored (or unchanged).
func (c *Catalog) change(ctx context.Context, id string, fn func(it *Item) (bool, error)) (Item, error) {
	if !validID(id) {
		return Item{}, ErrNotFound
	}
	unlock, err := c.lock(ctx, id)
	if err != nil {
		return Item{}, err
	}
	defer unlock()
	cur, _, err := c.load(ctx, id)
	if errors.Is(err, ErrNotFound) {
		c.dropStale(id)
		return Item{}, ErrNotFound
	}
	if err != nil {
		return Item{}, err
	}
	next := cur.Clone()
	changed, err := fn(&next)
	if err != nil {
		if passThrough(err) {
			return Item{}, err
		}
		return Item{}, fmt.Errorf("catalog: changing %s: %w", id, err)
	}
	if !changed {
		return cur, nil
	}
	next.Revision = cur.Revision + 1
	next.Updated = c.stamp()
	etag, err := c.putManifest(ctx, next)
	if err != nil {
		return Item{}, err
	}
	c.apply(id, newEntry(next, etag))
	c.bump(ctx)
	return next.Clone(), nil
}

// dropStale removes an item from this node's index when its manifest turned
// out to be gone.
func (c *Catalog) dropStale(id string) {
	if c.idx.Load().byID[id] != nil {
		c.apply(id, nil)
	}
}

// Create stores a new draft item and returns it. Without a slug, one is
// derived from a title (made unique with a number).
func (c *Catalog) Create(ctx context.Context, m Meta) (Item, error) {
	m, err := normalizeMeta(m)
	if err != nil {
		return Item{}, err
	}
	now := c.stamp()
	it := Item{ID: randomToken(10), Meta: m, Status: StatusDraft, Created: now, Updated: now, Revision: 1}
	if m.Slug != "" {
		err = c.claimSlug(ctx, m.Slug, it.ID)
	} else {
		it.Slug, err = c.claimDerived(ctx, deriveSlug(m.Title, m.Kind, it.ID), it.ID)
	}
	if err != nil {
		return Item{}, err
	}
	etag, err := c.putManifest(ctx, it)
	if err != nil {
		c.releaseSlug(ctx, it.Slug, it.ID)
		return Item{}, err
	}
	c.apply(it.ID, newEntry(it, etag))
	c.bump(ctx)
	return it.Clone(), nil
}

// Update replaces the editable part of the item id (an empty slug keeps
// the current one). revision is the item's Revision the editor started
// from: if the item has been written since, Update changes nothing and
// returns a *ConflictError. Saving what is already stored writes nothing
// (the revision stays).
func (c *Catalog) Update(ctx context.Context, id string, revision int, m Meta) (Item, error) {
	m, err := normalizeMeta(m)
	if err != nil {
		return Item{}, err
	}
	var oldSlug string
	it, err := c.change(ctx, id, func(it *Item) (bool, error) {
		if it.Revision != revision {
			return false, &ConflictError{ID: id, Expected: revision, Current: it.Revision}
		}
		if m.Slug == "" {
			m.Slug = it.Slug
		}
		if m.Slug != it.Slug {
			if err := c.claimSlug(ctx, m.Slug, id); err != nil {
				return false, err
			}
			oldSlug = it.Slug
		}
		if reflect.DeepEqual(it.Meta, m) {
			return false, nil
		}
		it.Meta = m
		return true, nil
	})
	switch {
	case err != nil && oldSlug != "":
		c.releaseSlug(ctx, m.Slug, id)
	case err == nil && oldSlug != "":
		c.releaseSlug(ctx, oldSlug, id)
	}
	return it, err
}

// SetFiles lets the processing step change the item's media: fn gets the
// current Media, read under the item's lock, and changes it; the result is
// checked (every key under the item's prefix) and stored, unless it is what
// was there. An error from fn is returned as it is, and nothing is stored.
//
// SetFiles does not change the status: a published item stays published,
// and viewers are offered only its complete versions (Version.Complete).
func (c *Catalog) SetFiles(ctx context.Context, id string, fn func(m *Media) error) (Item, error) {
	var fnErr error
	it, err := c.change(ctx, id, func(it *Item) (bool, error) {
		m := it.Media.clone()
		if fnErr = fn(&m); fnErr != nil {
			return false, fnErr
		}
		m, err := normalizeMedia(id, m)
		if err != nil {
			return false, err
		}
		if reflect.DeepEqual(it.Media, m) {
			return false, nil
		}
		it.Media = m
		return true, nil
	})
	if fnErr != nil {
		return Item{}, fnErr
	}
	return it, err
}

// SetStatus sets the status of an unpublished item to draft, processing or
// failed, with a detail (why it failed, what processing does; may be
// empty). A published item leaves publication only through Unpublish, and
// only Publish publishes: both give an *InputError for field "status".
func (c *Catalog) SetStatus(ctx context.Context, id string, status Status, detail string) (Item, error) {
	switch status {
	case StatusDraft, StatusProcessing, StatusFailed:
	default:
		return Item{}, inputErr("status", "status_invalid")
	}
	detail = strings.TrimSpace(detail)
	if !langtext.OK(detail) || utf8.RuneCountInString(detail) > MaxStatusDetailLen {
		return Item{}, inputErr("status_detail", "status_detail_invalid")
	}
	return c.change(ctx, id, func(it *Item) (bool, error) {
		if it.Status == StatusPublished {
			return false, inputErr("status", "item_published")
		}
		if it.Status == status && it.StatusDetail == detail {
			return false, nil
		}
		it.Status, it.StatusDetail = status, detail
		return true, nil
	})
}

// Publish makes the item visible. It refuses with a *NotReadyError while
// processing runs, when no version has a file, when a file listed is not
// complete, or when a file, the poster, a subtitle or the chapters file is
// not in the object store. Publishing a published item changes nothing.
func (c *Catalog) Publish(ctx context.Context, id string) (Item, error) {
	return c.change(ctx, id, func(it *Item) (bool, error) {
		if it.Status == StatusPublished {
			return false, nil
		}
		if err := c.ready(ctx, it); err != nil {
			return false, err
		}
		it.Status, it.StatusDetail = StatusPublished, ""
		if it.Published.IsZero() {
			it.Published = c.stamp()
		}
		return true, nil
	})
}

// ready checks that the item may be published.
func (c *Catalog) ready(ctx context.Context, it *Item) error {
	notReady := func(code, lang, key string) error {
		return &NotReadyError{ID: it.ID, Code: code, Language: lang, Key: key}
	}
	if it.Status == StatusProcessing {
		return notReady("processing", "", "")
	}
	if it.Status == StatusFailed {
		return notReady("failed", "", "")
	}
	if len(it.Versions) == 0 {
		return notReady("no_files", "", "")
	}
	if it.Kind != KindDocument && !hasOutput(it) {
		// Only uploaded sources: nothing a viewer could play yet.
		return notReady("not_playable", "", "")
	}
	langs := sortedKeys(it.Versions)
	for _, l := range langs {
		for _, f := range it.Versions[l].Files {
			if !f.Complete {
				return notReady("file_incomplete", l, f.Key)
			}
		}
	}
	exists := func(key string) (bool, error) {
		_, err := c.blobs.Stat(ctx, key)
		if errors.Is(err, blob.ErrNotFound) {
			return false, nil
		}
		if err != nil {
			return false, fmt.Errorf("catalog: checking %s: %w", key, err)
		}
		return true, nil
	}
	checked := map[string]bool{}
	for _, l := range langs {
		for _, f := range it.Versions[l].Files {
			if checked[f.Key] {
				continue
			}
			checked[f.Key] = true
			if ok, err := exists(f.Key); err != nil || !ok {
				return cmpErr(err, notReady("file_missing", l, f.Key))
			}
		}
	}
	if it.Poster != "" {
		if ok, err := exists(it.Poster); err != nil || !ok {
			return cmpErr(err, notReady("poster_missing", "", it.Poster))
		}
	}
	for _, l := range sortedKeys(it.Subtitles) {
		if ok, err := exists(it.Subtitles[l]); err != nil || !ok {
			return cmpErr(err, notReady("subtitle_missing", l, it.Subtitles[l]))
		}
	}
	if it.Chapters != "" {
		if ok, err := exists(it.Chapters); err != nil || !ok {
			return cmpErr(err, notReady("chapters_missing", "", it.Chapters))
		}
	}
	return nil
}

// cmpErr returns err if it is set, else alt.
func cmpErr(err, alt error) error {
	if err != nil {
		return err
	}
	return alt
}

// Unpublish takes the item back to draft; its Published time is kept.
// Unpublishing an unpublished item changes nothing.
func (c *Catalog) Unpublish(ctx context.Context, id string) (Item, error) {
	return c.change(ctx, id, func(it *Item) (bool, error) {
		if it.Status != StatusPublished {
			return false, nil
		}
		it.Status = StatusDraft
		return true, nil
	})
}

// Delete removes the item: first its manifest (so that it is gone at once,
// on every node after their next poll), then every other object under its
// prefix. A marker object (media/ITEMID/.deleting) lives until the last
// file is gone: when removing a file fails, Delete returns the error and
// can be called again to remove the rest. Objects under a prefix that has
// neither a manifest nor the marker are not touched (ErrNotFound).
func (c *Catalog) Delete(ctx context.Context, id string) error {
	if !validID(id) {
		return ErrNotFound
	}
	unlock, err := c.lock(ctx, id)
	if err != nil {
		return err
	}
	defer unlock()
	cur, _, err := c.load(ctx, id)
	found := err == nil
	switch {
	case errors.Is(err, ErrNotFound):
	case errors.Is(err, errBadManifest):
		found = true // an invalid manifest is removed like a valid one
	case err != nil:
		return err
	}
	marker := deletingKey(id)
	if found {
		if _, err := c.blobs.Put(ctx, marker, bytes.NewReader(nil), 0, ""); err != nil {
			return fmt.Errorf("catalog: deleting %s: %w", id, err)
		}
		if err := c.blobs.Delete(ctx, ManifestKey(id)); err != nil {
			return fmt.Errorf("catalog: deleting %s: %w", id, err)
		}
		c.dropStale(id)
		if cur.Slug != "" {
			c.releaseSlug(ctx, cur.Slug, id)
		}
		c.bump(ctx)
	} else {
		c.dropStale(id)
		_, err := c.blobs.Stat(ctx, marker)
		if errors.Is(err, blob.ErrNotFound) {
			return ErrNotFound
		}
		if err != nil {
			return fmt.Errorf("catalog: deleting %s: %w", id, err)
		}
	}
	infos, err := c.blobs.List(ctx, Prefix(id))
	if err != nil {
		return fmt.Errorf("catalog: listing the files of %s: %w", id, err)
	}
	var errs []error
	for _, in := range infos {
		if in.Key == marker {
			continue
		}
		if err := c.blobs.Delete(ctx, in.Key); err != nil {
			errs = append(errs, err)
			if ctx.Err() != nil {
				break
			}
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("catalog: deleting the files of %s (%d failed; delete again): %w", id, len(errs), errors.Join(errs...))
	}
	if err := c.blobs.Delete(ctx, marker); err != nil {
		return fmt.Errorf("catalog: deleting %s: %w", id, err)
	}
	return nil
}

// slugClaim is the value at slugPrefix+slug.
type slugClaim struct {
	ID string    `json:"id"`
	At time.Time `json:"at"`
}

var errClaimMoved = errors.New("claim moved")

// claimSlug makes slug the item id's or returns an *InputError slug_taken.
// The index knows who holds the slugs of stored items, also when the kv
// store lost its claims; the claim in the kv store settles races between
// nodes (and with items not yet in this node's index).
func (c *Catalog) claimSlug(ctx context.Context, slug, id string) error {
	taken := inputErr("slug", "slug_taken")
	if e := c.idx.Load().bySlug[slug]; e != nil && e.item.ID != id {
		held, err := c.slugHeld(ctx, slugClaim{ID: e.item.ID}, slug)
		if err != nil {
			return err
		}
		if held {
			return taken
		}
	}
	key := slugPrefix + slug
	mine, err := json.Marshal(slugClaim{ID: id, At: time.Now().UTC()})
	if err != nil {
		return fmt.Errorf("catalog: encoding a slug claim: %w", err)
	}
	for range 5 {
		ok, err := c.kv.Create(ctx, key, mine, 0)
		if err != nil {
			return fmt.Errorf("catalog: claiming slug %q: %w", slug, err)
		}
		if ok {
			return nil
		}
		cur, err := c.kv.Get(ctx, key)
		if errors.Is(err, kv.ErrNotFound) {
			continue
		}
		if err != nil {
			return fmt.Errorf("catalog: claiming slug %q: %w", slug, err)
		}
		var claim slugClaim
		if json.Unmarshal(cur, &claim) == nil {
			if claim.ID == id {
				return nil
			}
			held, err := c.slugHeld(ctx, claim, slug)
			if err != nil {
				return err
			}
			if held {
				return taken
			}
		}
		// A stale claim (its item is gone or renamed): take it over,
		// unless someone else just did.
		err = c.kv.Update(ctx, key, func(b []byte, found bool) ([]byte, time.Duration, error) {
			if !found || !bytes.Equal(b, cur) {
				return nil, 0, errClaimMoved
			}
			return mine, 0, nil
		})
		if err == nil {
			return nil
		}
		if !errors.Is(err, errClaimMoved) {
			return fmt.Errorf("catalog: claiming slug %q: %w", slug, err)
		}
	}
	return ErrBusy
}

// slugHeld reports whether the claim's item holds slug: its manifest says
// so, or the claim is so recent that the item may still be being written.
func (c *Catalog) slugHeld(ctx context.Context, claim slugClaim, slug string) (bool, error) {
	if validID(claim.ID) {
		it, _, err := c.load(ctx, claim.ID)
		switch {
		case err == nil:
			if it.Slug == slug {
				return true, nil
			}
		case errors.Is(err, ErrNotFound), errors.Is(err, errBadManifest):
		default:
			return false, err
		}
	}
	return !claim.At.IsZero() && time.Since(claim.At) < claimGrace, nil
}

// claimDerived claims base, or base-2, base-3, ... and returns the slug it
// got.
func (c *Catalog) claimDerived(ctx context.Context, base, id string) (string, error) {
	for n := 1; ; n++ {
		slug := base
		switch {
		case n > 20:
			slug = suffixed(base, randomToken(3))
		case n > 1:
			slug = suffixed(base, strconv.Itoa(n))
		}
		err := c.claimSlug(ctx, slug, id)
		var ie *InputError
		if !errors.As(err, &ie) || n > 25 {
			return slug, err
		}
	}
}

// suffixed appends "-suffix" to slug, shortening it to stay a valid slug.
func suffixed(slug, suffix string) string {
	if keep := MaxSlugLen - len(suffix) - 1; len(slug) > keep {
		slug = strings.TrimRight(slug[:keep], "-")
	}
	return slug + "-" + suffix
}

// releaseSlug removes the claim of slug if the item id holds it.
func (c *Catalog) releaseSlug(ctx context.Context, slug, id string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), releaseTimeout)
	defer cancel()
	err := c.kv.Update(ctx, slugPrefix+slug, func(cur []byte, found bool) ([]byte, time.Duration, error) {
		var claim slugClaim
		if !found || json.Unmarshal(cur, &claim) != nil || claim.ID != id {
			return nil, 0, errNotMine
		}
		return nil, 0, nil
	})
	if err != nil && !errors.Is(err, errNotMine) {
		c.log.Warn("catalog: cannot release a slug claim; it is taken over when found stale", "slug", slug, "err", err)
	}
}

// hasOutput reports whether any version of it lists a file made for
// viewers (anything but an uploaded source).
func hasOutput(it *Item) bool {
	for _, v := range it.Versions {
		for _, f := range v.Files {
			if f.Role != RoleSource {
				return true
			}
		}
	}
	return false
}
