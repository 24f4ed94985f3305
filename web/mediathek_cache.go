package web

// The media cache: the files of processing runs (segments, posters,
// subtitles, downloads under media/ITEMID/out/RUN/) never change under the
// same key, so a node keeps the small ones in memory, least recently used
// out first. A workshop video that many people watch at once then costs
// the object store one request per segment, not one per viewer, and
// proxying stays as fast as reading the bucket directly.

import (
	"container/list"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"portalo/store/blob"
)

// DefaultMediaCacheBytes is the media cache's size when Config leaves it
// at zero.
const DefaultMediaCacheBytes = 128 << 20

// maxCachedFile bounds one file in the cache (and at most an eighth of it).
const maxCachedFile = 16 << 20

// loadTimeout bounds loading one file into the cache.
const loadTimeout = time.Minute

// tooLargeCost is what remembering that a file is too large costs.
const tooLargeCost = 256

// immutableMedia reports whether key is the output of a processing run,
// which is written once and never changed (a new run writes new keys).
func immutableMedia(key string) bool {
	_, rest, ok := strings.Cut(strings.TrimPrefix(key, "media/"), "/")
	return ok && strings.HasPrefix(rest, "out/")
}

// mediaCache is an LRU of whole small files.
type mediaCache struct {
	maxBytes, maxFile int64

	mu      sync.Mutex
	used    int64
	reading int64      // bytes of loads in progress, not in used yet
	lru     *list.List // of *cachedFile, most recent first
	entries map[string]*list.Element
	loading map[string]*cacheLoad

	requests *prometheus.CounterVec
	bytes    prometheus.Gauge
}

// cachedFile is a file in the cache: data is nil when the file is larger
// than the cache takes (so that it is not read again to learn that).
type cachedFile struct {
	key  string
	info blob.Info
	data []byte
	busy bool // not read: other loads held the memory; not kept
}

func (f *cachedFile) cost() int64 {
	if f.data == nil {
		return tooLargeCost
	}
	return int64(len(f.data)) + tooLargeCost
}

// cacheLoad is a load in progress, which other requests for the key wait
// for instead of asking the store again.
type cacheLoad struct {
	done    chan struct{}
	waiting int // requests waiting for it; c.mu
	file    *cachedFile
	err     error
}

// newMediaCache returns a cache of maxBytes (nil when maxBytes ≤ 0), its
// metrics registered with reg.
func newMediaCache(maxBytes int64, reg prometheus.Registerer) (*mediaCache, error) {
	if maxBytes <= 0 {
		return nil, nil
	}
	c := &mediaCache{
		maxBytes: maxBytes,
		maxFile:  min(maxCachedFile, maxBytes/8),
		lru:      list.New(),
		entries:  map[string]*list.Element{},
		loading:  map[string]*cacheLoad{},
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portalo_media_cache_requests_total",
			Help: "Requests for media files the cache may hold, by result (hit, miss, too_large).",
		}, []string{"result"}),
		bytes: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "portalo_media_cache_bytes", Help: "Bytes of media files held in memory.",
		}),
	}
	// A second cache on one registry (tests) reports through the first
	// one's collectors.
	var already prometheus.AlreadyRegisteredError
	if err := reg.Register(c.requests); errors.As(err, &already) {
		c.requests = already.ExistingCollector.(*prometheus.CounterVec)
	} else if err != nil {
		return nil, fmt.Errorf("web: media cache metrics: %w", err)
	}
	if err := reg.Register(c.bytes); errors.As(err, &already) {
		c.bytes = already.ExistingCollector.(prometheus.Gauge)
	} else if err != nil {
		return nil, fmt.Errorf("web: media cache metrics: %w", err)
	}
	return c, nil
}

// get returns the file at key from the cache, loading it from objects on
// a miss. A file larger than the cache takes comes back with nil data:
// the caller streams it from the store.
func (c *mediaCache) get(ctx context.Context, objects blob.Store, key string) (*cachedFile, error) {
	c.mu.Lock()
	if el, ok := c.entries[key]; ok {
		c.lru.MoveToFront(el)
		f := el.Value.(*cachedFile)
		c.mu.Unlock()
		c.count(f, "hit")
		return f, nil
	}
	if l, ok := c.loading[key]; ok {
		l.waiting++
		c.mu.Unlock()
		select {
		case <-l.done:
			if l.err == nil {
				c.count(l.file, "hit")
			}
			return l.file, l.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	l := &cacheLoad{done: make(chan struct{})}
	c.loading[key] = l
	c.mu.Unlock()

	// Others wait for this load: it must not end because this request's
	// client went away (players cancel segment requests when they seek).
	lctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), loadTimeout)
	l.file, l.err = c.load(lctx, objects, key)
	cancel()
	c.mu.Lock()
	delete(c.loading, key)
	if l.err == nil && !l.file.busy {
		c.add(l.file)
	}
	c.mu.Unlock()
	close(l.done)
	if l.err == nil {
		c.count(l.file, "miss")
	}
	return l.file, l.err
}

func (c *mediaCache) count(f *cachedFile, result string) {
	if f.data == nil {
		result = "too_large"
	}
	c.requests.WithLabelValues(result).Inc()
}

// load reads the whole file with one request, or only learns its size
// when it is too large.
func (c *mediaCache) load(ctx context.Context, objects blob.Store, key string) (*cachedFile, error) {
	r, info, err := objects.Open(ctx, key)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	if info.Size > c.maxFile {
		return &cachedFile{key: key, info: info}, nil
	}
	// The files being read count against the cache's size too: many
	// misses at once must not each take up to maxFile.
	c.mu.Lock()
	busy := c.reading+info.Size > c.maxBytes
	if !busy {
		c.reading += info.Size
	}
	c.mu.Unlock()
	if busy {
		return &cachedFile{key: key, info: info, busy: true}, nil
	}
	defer func() {
		c.mu.Lock()
		c.reading -= info.Size
		c.mu.Unlock()
	}()
	data := make([]byte, info.Size)
	if _, err := io.ReadFull(r, data); err != nil {
		return nil, fmt.Errorf("web: reading %s for the media cache: %w", key, err)
	}
	return &cachedFile{key: key, info: info, data: data}, nil
}

// add puts f in front and evicts from the back until it fits; c.mu is held.
func (c *mediaCache) add(f *cachedFile) {
	if el, ok := c.entries[f.key]; ok {
		c.used -= el.Value.(*cachedFile).cost()
		c.lru.Remove(el)
	}
	c.entries[f.key] = c.lru.PushFront(f)
	c.used += f.cost()
	for c.used > c.maxBytes && c.lru.Len() > 1 {
		old := c.lru.Remove(c.lru.Back()).(*cachedFile)
		delete(c.entries, old.key)
		c.used -= old.cost()
	}
	c.bytes.Set(float64(c.used))
}
