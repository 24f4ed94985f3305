package downloads

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode"
	"unicode/utf8"

	"portalo/store/kv"
)

// Defaults and limits.
const (
	// DefaultWindow is the window in which a client is counted at most
	// once per item; it is also the longest window allowed, as only
	// today's and yesterday's salts exist.
	DefaultWindow = 24 * time.Hour
	// DefaultThreshold is the number of bytes that count as a download
	// when the duration of a file is unknown (1 MiB).
	DefaultThreshold = 1 << 20
	// ProbeBytes is the largest request that is a probe ("Range:
	// bytes=0-1") and adds nothing, unless it is the whole file.
	ProbeBytes = 2
	// MaxItemLen bounds Request.Item, in bytes.
	MaxItemLen = 256
	// MaxStatsDays bounds the days of Stats.
	MaxStatsDays = 366
)

// ErrInvalid is wrapped by the errors of requests that cannot be right
// (an empty item, a negative or impossible byte range, ...).
var ErrInvalid = errors.New("downloads: invalid request")

// Options configure a Counter. The zero value gives the defaults.
type Options struct {
	// Now is the clock (time.Now).
	Now func() time.Time
	// Window is how long a counted client is not counted again for the
	// same item, and how long the bytes it requests add up (DefaultWindow;
	// longer values are cut to DefaultWindow).
	Window time.Duration
	// DefaultThreshold is the bytes that count when the duration is
	// unknown (DefaultThreshold = 1 MiB).
	DefaultThreshold int64
	// ExtraBots are more User-Agent parts (plain text, matched anywhere,
	// case-insensitively) that are never counted, besides the built-in
	// list of IsBot.
	ExtraBots []string
	// SaltTTL is how long a day's salt is kept after it is made. Zero, the
	// default, keeps it until the end of the following UTC day (at most 48
	// hours), when it is no longer needed; tests shorten it.
	SaltTTL time.Duration
}

// Counter counts downloads on a kv.Store.
type Counter struct {
	store kv.Store
	opt   Options
	extra *regexp.Regexp

	saltsMu sync.Mutex
	salts   map[string]knownSalt // by date: a day's salt never changes once made
}

// New returns a Counter storing its state in store.
func New(store kv.Store, opt Options) *Counter {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	if opt.Window <= 0 || opt.Window > DefaultWindow {
		opt.Window = DefaultWindow
	}
	if opt.DefaultThreshold <= 0 {
		opt.DefaultThreshold = DefaultThreshold
	}
	return &Counter{store: store, opt: opt, extra: extraBots(opt.ExtraBots)}
}

// Request is one request for a file, as the web layer served it.
type Request struct {
	// Item is what is counted (a catalog item ID, or ID+"/"+language).
	Item string
	// ClientIP is the client's address as the web layer sees it (after
	// the trusted proxies). It is hashed, never stored.
	ClientIP  string
	UserAgent string
	// Method is the HTTP method: GET (or empty) counts, HEAD and any
	// other never.
	Method string
	// Offset is the first byte of the range requested and served, Length
	// the number of bytes (the whole file: 0, Size).
	Offset, Length int64
	// Size is the total size of the file; 0 if unknown.
	Size int64
	// Duration is the content's duration; 0 if unknown.
	Duration time.Duration
}

// Day is the count of one UTC day.
type Day struct {
	Date      string // YYYY-MM-DD
	Downloads int64
}

// Stats are the figures of one item.
type Stats struct {
	Total int64
	// Days are the last days, oldest first, today included, days without
	// downloads as zeros.
	Days []Day
}

const dateLayout = "2006-01-02"

// Keys in the store.
func saltKey(date string) string      { return "downloads:salt:" + date }
func clientKey(hash string) string    { return "downloads:client:" + hash }
func dayKey(item, date string) string { return "downloads:day:" + item + ":" + date }
func totalKey(item string) string     { return "downloads:total:" + item }

// invalid is an error wrapping ErrInvalid.
func invalid(format string, a ...any) error {
	return fmt.Errorf("%w: "+format, append([]any{ErrInvalid}, a...)...)
}

func checkItem(item string) error {
	switch {
	case item == "":
		return invalid("empty item")
	case len(item) > MaxItemLen:
		return invalid("item longer than %d bytes", MaxItemLen)
	case !utf8.ValidString(item) || strings.ContainsFunc(item, unicode.IsControl):
		return invalid("item %q has invalid characters", item)
	}
	return nil
}

func (r Request) check() error {
	if err := checkItem(r.Item); err != nil {
		return err
	}
	switch {
	case strings.TrimSpace(r.ClientIP) == "":
		return invalid("no client IP")
	case r.Offset < 0 || r.Length < 0 || r.Size < 0 || r.Duration < 0:
		return invalid("negative offset, length, size or duration")
	case r.Size > 0 && (r.Offset > r.Size || r.Length > r.Size-r.Offset):
		return invalid("range %d+%d beyond the size %d", r.Offset, r.Length, r.Size)
	}
	return nil
}

// isBot applies the built-in list and Options.ExtraBots.
func (c *Counter) isBot(ua string) bool {
	return IsBot(ua) || c.extra != nil && c.extra.MatchString(ua)
}

// threshold is the bytes a client must request to be counted: one minute
// of content, or DefaultThreshold without a duration, at most the file.
func (c *Counter) threshold(size int64, d time.Duration) int64 {
	t := c.opt.DefaultThreshold
	if size > 0 && d > 0 {
		t = int64(math.Ceil(float64(size) / d.Seconds() * 60))
	}
	if size > 0 && t > size {
		t = size
	}
	return max(t, 1)
}

// clientHash identifies the client (address and User-Agent) for one item
// under one day's salt.
func clientHash(salt []byte, item, ip, ua string) string {
	if a, err := netip.ParseAddr(strings.TrimSpace(ip)); err == nil {
		ip = a.Unmap().WithZone("").String()
	}
	m := hmac.New(sha256.New, salt)
	for _, s := range []string{item, ip, strings.TrimSpace(ua)} {
		m.Write([]byte(s))
		m.Write([]byte{0})
	}
	return hex.EncodeToString(m.Sum(nil))
}

// saltTTL is how long the salt made at now is kept.
func (c *Counter) saltTTL(now time.Time) time.Duration {
	if c.opt.SaltTTL > 0 {
		return c.opt.SaltTTL
	}
	y, m, d := now.UTC().Date()
	return time.Date(y, m, d+2, 0, 0, 0, 0, time.UTC).Sub(now)
}

// knownSalt is a salt the Counter has seen, or (none) that the store
// had none for the date, which is remembered for noSaltFor only: another
// node may still make it.
type knownSalt struct {
	salt  []byte
	none  bool
	until time.Time // of none
}

// noSaltFor is how long a Counter believes a date has no salt.
const noSaltFor = time.Minute

// storedSalt reads the salt of date (kv.ErrNotFound when there is none),
// from what the Counter has seen when it can.
func (c *Counter) storedSalt(ctx context.Context, date string, now time.Time) ([]byte, error) {
	c.saltsMu.Lock()
	k, ok := c.salts[date]
	c.saltsMu.Unlock()
	switch {
	case ok && k.none && now.Before(k.until):
		return nil, kv.ErrNotFound
	case ok && !k.none:
		return k.salt, nil
	}
	s, err := c.store.Get(ctx, saltKey(date))
	switch {
	case errors.Is(err, kv.ErrNotFound):
		c.remember(date, knownSalt{none: true, until: now.Add(noSaltFor)})
		return nil, err
	case err != nil:
		return nil, err
	}
	c.remember(date, knownSalt{salt: s})
	return s, nil
}

// remember keeps what the Counter learnt of date's salt, for today and
// yesterday, the dates asked for. Only with the default SaltTTL: then a
// day's salt lives until the end of the next day; a shorter SaltTTL may
// drop it sooner.
func (c *Counter) remember(date string, k knownSalt) {
	if c.opt.SaltTTL > 0 {
		return
	}
	c.saltsMu.Lock()
	defer c.saltsMu.Unlock()
	if c.salts == nil {
		c.salts = map[string]knownSalt{}
	}
	c.salts[date] = k
	for len(c.salts) > 2 { // dates sort as they run: drop the oldest
		oldest := date
		for d := range c.salts {
			oldest = min(oldest, d)
		}
		delete(c.salts, oldest)
	}
}

// forget drops what the Counter believes of date's salt.
func (c *Counter) forget(date string) {
	c.saltsMu.Lock()
	delete(c.salts, date)
	c.saltsMu.Unlock()
}

// salt returns the salt of date, making it when it does not exist yet.
func (c *Counter) salt(ctx context.Context, date string, now time.Time) ([]byte, error) {
	for range 3 {
		s, err := c.storedSalt(ctx, date, now)
		if err == nil {
			return s, nil
		}
		if !errors.Is(err, kv.ErrNotFound) {
			return nil, fmt.Errorf("downloads: salt of %s: %w", date, err)
		}
		s = make([]byte, 32)
		rand.Read(s)
		made, err := c.store.Create(ctx, saltKey(date), s, c.saltTTL(now))
		if err != nil {
			return nil, fmt.Errorf("downloads: making the salt of %s: %w", date, err)
		}
		if made {
			c.remember(date, knownSalt{salt: s})
			return s, nil
		}
		c.forget(date)
		// Another request made it first: read that one.
	}
	return nil, fmt.Errorf("downloads: salt of %s: %w", date, kv.ErrConflict)
}

// state is what is kept per client and item under one day's salt.
type state struct {
	// Start is when the client first asked for bytes in this window
	// (Unix nanoseconds), Bytes how many it asked for since.
	Start int64 `json:"s"`
	Bytes int64 `json:"b"`
	// Counted is when the client was counted (Unix nanoseconds), 0 if not
	// yet in this window.
	Counted int64 `json:"c,omitempty"`
}

func decodeState(b []byte) (state, bool) {
	var st state
	if json.Unmarshal(b, &st) != nil || st.Start == 0 {
		return state{}, false
	}
	return st, true
}

// blocks reports whether the client was counted less than the window ago.
func (st state) blocks(now time.Time, w time.Duration) bool {
	return st.Counted != 0 && now.Before(time.Unix(0, st.Counted).Add(w))
}

// adding reports whether bytes requested now still add to st.
func (st state) adding(now time.Time, w time.Duration) bool {
	return st.Counted == 0 && now.Before(time.Unix(0, st.Start).Add(w))
}

// until is when st no longer matters.
func (st state) until(w time.Duration) time.Time {
	if st.Counted != 0 {
		return time.Unix(0, st.Counted).Add(w)
	}
	return time.Unix(0, st.Start).Add(w)
}

// errCounted aborts the update of a client that is already counted.
var errCounted = errors.New("already counted")

// Record notes a request and reports whether it made a download count:
// the client (address and User-Agent) was not counted for the item within
// the window, is no bot, and has now requested at least the threshold's
// bytes. Only bad input and store failures are errors; when the counts
// cannot be written, the download is lost and Record returns false with
// the error.
func (c *Counter) Record(ctx context.Context, r Request) (bool, error) {
	if err := r.check(); err != nil {
		return false, err
	}
	if m := strings.ToUpper(r.Method); m != "" && m != "GET" {
		return false, nil
	}
	if c.isBot(r.UserAgent) {
		return false, nil
	}
	add := r.Length
	if add <= ProbeBytes && !(r.Offset == 0 && add == r.Size) {
		add = 0
	}
	if add == 0 {
		return false, nil
	}
	now := c.opt.Now().UTC()
	today := now.Format(dateLayout)
	w := c.opt.Window

	// Yesterday's state of the client: counted less than the window ago,
	// or bytes still adding up.
	var carry state
	yesterday := now.AddDate(0, 0, -1).Format(dateLayout)
	switch ysalt, err := c.storedSalt(ctx, yesterday, now); {
	case err == nil:
		b, err := c.store.Get(ctx, clientKey(clientHash(ysalt, r.Item, r.ClientIP, r.UserAgent)))
		if err != nil && !errors.Is(err, kv.ErrNotFound) {
			return false, fmt.Errorf("downloads: reading yesterday's state: %w", err)
		}
		if st, ok := decodeState(b); ok {
			if st.blocks(now, w) {
				return false, nil
			}
			if st.adding(now, w) {
				carry = st
			}
		}
	case !errors.Is(err, kv.ErrNotFound):
		return false, fmt.Errorf("downloads: salt of %s: %w", yesterday, err)
	}

	salt, err := c.salt(ctx, today, now)
	if err != nil {
		return false, err
	}
	threshold := c.threshold(r.Size, r.Duration)
	var counted bool
	err = c.store.Update(ctx, clientKey(clientHash(salt, r.Item, r.ClientIP, r.UserAgent)),
		func(cur []byte, found bool) ([]byte, time.Duration, error) {
			counted = false
			st, ok := decodeState(cur)
			if ok && st.blocks(now, w) {
				return nil, 0, errCounted
			}
			if !ok || !st.adding(now, w) {
				st = carry // the zero state when yesterday has nothing
				if st.Start == 0 {
					st.Start = now.UnixNano()
				}
			}
			st.Bytes = min(st.Bytes, math.MaxInt64-add) + add
			if st.Bytes >= threshold {
				st.Counted = now.UnixNano()
				counted = true
			}
			b, err := json.Marshal(st)
			if err != nil {
				return nil, 0, err
			}
			ttl := st.until(w).Sub(now)
			if ttl < time.Second {
				ttl = time.Second
			}
			return b, ttl, nil
		})
	switch {
	case errors.Is(err, errCounted):
		return false, nil
	case err != nil:
		return false, fmt.Errorf("downloads: recording %q: %w", r.Item, err)
	case !counted:
		return false, nil
	}
	for _, key := range []string{dayKey(r.Item, today), totalKey(r.Item)} {
		if err := c.store.Update(ctx, key, increment); err != nil {
			return false, fmt.Errorf("downloads: counting %q: %w", r.Item, err)
		}
	}
	return true, nil
}

// increment adds one to a count kept as a decimal number without expiry.
func increment(cur []byte, found bool) ([]byte, time.Duration, error) {
	var n int64
	if found {
		var err error
		if n, err = strconv.ParseInt(string(cur), 10, 64); err != nil {
			return nil, 0, fmt.Errorf("corrupt count %q: %w", cur, err)
		}
	}
	return strconv.AppendInt(nil, n+1, 10), 0, nil
}

// count reads a count; an absent one is zero.
func (c *Counter) count(ctx context.Context, key string) (int64, error) {
	b, err := c.store.Get(ctx, key)
	if errors.Is(err, kv.ErrNotFound) {
		return 0, nil
	}
	if err != nil {
		return 0, fmt.Errorf("downloads: reading %s: %w", key, err)
	}
	n, err := strconv.ParseInt(string(b), 10, 64)
	if err != nil {
		return 0, fmt.Errorf("downloads: corrupt count at %s: %w", key, err)
	}
	return n, nil
}

// Stats returns the total downloads of item and those of the last days
// UTC days (1 to MaxStatsDays), today included.
func (c *Counter) Stats(ctx context.Context, item string, days int) (Stats, error) {
	if err := checkItem(item); err != nil {
		return Stats{}, err
	}
	if days < 1 || days > MaxStatsDays {
		return Stats{}, invalid("days must be between 1 and %d, not %d", MaxStatsDays, days)
	}
	total, err := c.count(ctx, totalKey(item))
	if err != nil {
		return Stats{}, err
	}
	st := Stats{Total: total, Days: make([]Day, days)}
	today := c.opt.Now().UTC()
	for i := range st.Days {
		date := today.AddDate(0, 0, i-days+1).Format(dateLayout)
		n, err := c.count(ctx, dayKey(item, date))
		if err != nil {
			return Stats{}, err
		}
		st.Days[i] = Day{Date: date, Downloads: n}
	}
	return st, nil
}

// Totals returns the total downloads of each of items (zero for those
// never downloaded), for an editor's list.
func (c *Counter) Totals(ctx context.Context, items []string) (map[string]int64, error) {
	out := make(map[string]int64, len(items))
	for _, item := range items {
		if _, done := out[item]; done {
			continue
		}
		if err := checkItem(item); err != nil {
			return nil, err
		}
		n, err := c.count(ctx, totalKey(item))
		if err != nil {
			return nil, err
		}
		out[item] = n
	}
	return out, nil
}
