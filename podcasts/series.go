package podcasts

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/base32"
	"encoding/json"
	"errors"
	"fmt"
	"net/mail"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode/utf8"

	"github.com/google/uuid"

	"portalo/internal/langtext"
	"portalo/internal/slug"
	"portalo/store/kv"
)

// Audience says who may listen to a series.
type Audience string

// The audiences.
const (
	// AudiencePublic series are for everyone (the participants' podcast).
	AudiencePublic Audience = "public"
	// AudienceMultipliers series are for approved multipliers only; their
	// feed is private (see IssueFeedToken).
	AudienceMultipliers Audience = "multipliers"
)

// Audiences are the known audiences, in the order a form lists them.
var Audiences = []Audience{AudiencePublic, AudienceMultipliers}

// ValidAudience reports whether a is one of Audiences.
func ValidAudience(a Audience) bool { return slices.Contains(Audiences, a) }

// Languages are the languages a series can be spoken in and described in,
// in the order of fallback: those portalo speaks (langtext.Languages).
var Languages = langtext.Languages

// ValidLanguage reports whether code is one of Languages.
func ValidLanguage(code string) bool { return langtext.Valid(code) }

// Limits on a series. PSP-1 limits node values to 255 characters and a
// description to 4,000 bytes.
const (
	MaxTitleLen       = 120  // runes
	MaxDescriptionLen = 4000 // bytes (UTF-8), as PSP-1 counts them
	MaxAuthorLen      = 120  // runes
	MaxImageKeyLen    = 512  // bytes
	MaxEmailLen       = 254  // bytes
	MaxSlugLen        = 80   // bytes
)

// SeriesMeta is what an editor sets on a series.
type SeriesMeta struct {
	// Slug names the series in URLs: lowercase ASCII letters and digits in
	// words joined by single hyphens. Empty on create: derived from a
	// title; empty on update: kept.
	Slug string `json:"slug"`
	// Title and Description are keyed by language code (Languages); at
	// least one title and one description are required (PSP-1 requires
	// both in the feed).
	Title       map[string]string `json:"title"`
	Description map[string]string `json:"description"`
	// Language is the language spoken in the series (the feed's
	// <language>).
	Language string `json:"language"`
	// Category and Subcategory are from Apple's list (AppleCategories);
	// Subcategory may be empty.
	Category    string   `json:"category"`
	Subcategory string   `json:"subcategory,omitempty"`
	Explicit    bool     `json:"explicit,omitempty"`
	Audience    Audience `json:"audience"`
	// Author is the itunes:author, e.g. "portALO"; optional.
	Author string `json:"author,omitempty"`
	// OwnerEmail is the itunes:owner's e-mail and the podcast:locked
	// owner; optional.
	OwnerEmail string `json:"owner_email,omitempty"`
	// Image is the object key of the cover image (1400–3000 px square JPEG
	// or PNG); may be empty while there is none, but a feed needs one.
	Image string `json:"image,omitempty"`
	// Locked is podcast:locked: other hosting platforms must not import
	// the feed.
	Locked bool `json:"locked,omitempty"`
}

// Series is a stored podcast series.
type Series struct {
	ID string `json:"id"`
	SeriesMeta
	// FeedGUID is the series' podcast:guid once a feed has been made
	// (KeepFeedGUID): kept for good, so that a new slug or host name does
	// not make the podcast a new one for the apps and directories.
	FeedGUID string    `json:"feed_guid,omitempty"`
	Created  time.Time `json:"created"`
	Updated  time.Time `json:"updated"`
}

// TitleIn returns the title in lang, falling back to the series' language,
// then to the order of Languages; it also returns the language of the text
// it returns.
func (s Series) TitleIn(lang string) (string, string) {
	return langtext.Pick(s.Title, lang, s.Language)
}

// DescriptionIn is TitleIn for the description.
func (s Series) DescriptionIn(lang string) (string, string) {
	return langtext.Pick(s.Description, lang, s.Language)
}

// InputError says which field of a request is wrong and why. Code is a
// stable machine-readable reason ("title_required", "slug_taken", ...)
// that the web layer turns into a message in the person's language.
type InputError struct {
	Field string
	Code  string
}

func (e *InputError) Error() string {
	return fmt.Sprintf("podcasts: invalid %s: %s", e.Field, e.Code)
}

// ErrNotFound is returned when a series does not exist, and by
// FeedTokenAccount for a token that is unknown, revoked or malformed.
var ErrNotFound = errors.New("podcasts: not found")

// Options tune a Service. Zero values take the defaults.
type Options struct {
	// Now is the clock (time.Now).
	Now func() time.Time
}

// Service manages series and private feed tokens on a kv.Store.
type Service struct {
	store kv.Store
	opt   Options
}

// New returns a Service storing its state in store.
func New(store kv.Store, opt Options) *Service {
	if opt.Now == nil {
		opt.Now = time.Now
	}
	return &Service{store: store, opt: opt}
}

// Keys in the store.
const (
	seriesPrefix = "podcast-series:"
	slugPrefix   = "podcast-slug:"
)

func seriesKey(id string) string { return seriesPrefix + id }
func slugKey(slug string) string { return slugPrefix + slug }

// validID keeps IDs from reaching into other keys.
func validID(id string) bool { return id != "" && len(id) <= 64 && !strings.ContainsAny(id, ":/ ") }

func inputErr(field, code string) error { return &InputError{Field: field, Code: code} }

func (s *Service) stamp() time.Time { return s.opt.Now().UTC().Truncate(time.Second) }

func randomID(n int) (string, error) {
	b := make([]byte, n)
	if _, err := rand.Read(b); err != nil {
		return "", fmt.Errorf("podcasts: reading random bytes: %w", err)
	}
	return strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b)), nil
}

// ReservedSlugs are names a series cannot have: the web layer uses them
// beside the series' slugs (/podcasts/manage, /podcasts/private/...).
var ReservedSlugs = []string{"manage", "private", "new", "feed"}

// ValidSlug reports whether s is a slug: lowercase ASCII letters and digits
// in words joined by single hyphens, at most MaxSlugLen bytes, and none of
// ReservedSlugs.
func ValidSlug(s string) bool { return slug.Valid(s, MaxSlugLen) && !slices.Contains(ReservedSlugs, s) }

// normalize checks a series' metadata and returns it cleaned up (texts
// trimmed, empty ones dropped, the slug lowercased).
func normalize(m SeriesMeta) (SeriesMeta, error) {
	var p *langtext.Problem
	if m.Title, p = langtext.Clean(m.Title, langtext.Rules{Field: "title", MaxRunes: MaxTitleLen, OneLine: true, Required: true}); p != nil {
		return SeriesMeta{}, inputErr(p.Field, p.Code)
	}
	if m.Description, p = langtext.Clean(m.Description, langtext.Rules{Field: "description", MaxBytes: MaxDescriptionLen, Required: true}); p != nil {
		return SeriesMeta{}, inputErr(p.Field, p.Code)
	}
	m.Slug = strings.ToLower(strings.TrimSpace(m.Slug))
	m.Author = strings.TrimSpace(m.Author)
	m.OwnerEmail = strings.TrimSpace(m.OwnerEmail)
	m.Image = strings.TrimSpace(m.Image)
	switch {
	case m.Slug != "" && !ValidSlug(m.Slug):
		return SeriesMeta{}, inputErr("slug", "slug_invalid")
	case !ValidLanguage(m.Language):
		return SeriesMeta{}, inputErr("language", "language_invalid")
	case m.Category == "" || !ValidCategory(m.Category, ""):
		return SeriesMeta{}, inputErr("category", "category_invalid")
	case !ValidCategory(m.Category, m.Subcategory):
		return SeriesMeta{}, inputErr("subcategory", "subcategory_invalid")
	case !ValidAudience(m.Audience):
		return SeriesMeta{}, inputErr("audience", "audience_invalid")
	case !langtext.OneLine(m.Author):
		return SeriesMeta{}, inputErr("author", "author_invalid")
	case utf8.RuneCountInString(m.Author) > MaxAuthorLen:
		return SeriesMeta{}, inputErr("author", "author_too_long")
	case m.OwnerEmail != "" && !validEmail(m.OwnerEmail):
		return SeriesMeta{}, inputErr("owner_email", "owner_email_invalid")
	case m.Image != "" && !validObjectKey(m.Image):
		return SeriesMeta{}, inputErr("image", "image_invalid")
	}
	return m, nil
}

// validEmail accepts a bare address (no display name) with a dotted domain.
func validEmail(s string) bool {
	if len(s) > MaxEmailLen || !langtext.OneLine(s) {
		return false
	}
	a, err := mail.ParseAddress(s)
	if err != nil || a.Address != s || a.Name != "" {
		return false
	}
	_, domain, _ := strings.Cut(s, "@")
	return strings.Contains(domain, ".") && !strings.HasSuffix(domain, ".")
}

// validObjectKey accepts a relative object key without dot segments.
func validObjectKey(k string) bool {
	if len(k) > MaxImageKeyLen || !langtext.OneLine(k) || strings.HasPrefix(k, "/") || strings.Contains(k, " ") {
		return false
	}
	return !slices.ContainsFunc(strings.Split(k, "/"), func(seg string) bool { return seg == "" || seg == "." || seg == ".." })
}

// slugs makes series' slugs from titles. Arabic-Indic digits part words
// here, unlike in the catalog's slugs.
var slugs = slug.Maker{Max: MaxSlugLen}

// withSuffix appends suffix to the slug base, shortening base so that the
// slug stays within MaxSlugLen.
func withSuffix(base, suffix string) string {
	return slug.Trim(base, MaxSlugLen-len(suffix)) + suffix
}

// deriveSlug makes a slug from the first title that yields one, or from the
// ID when none does.
func deriveSlug(title map[string]string, id string) string {
	s := slugs.FromTitles(title)
	switch {
	case s == "":
		return "podcast-" + id
	case slices.Contains(ReservedSlugs, s):
		return s + "-podcast"
	}
	return s
}

// claimSlug makes slug point at id, or reports that another series holds
// it.
func (s *Service) claimSlug(ctx context.Context, slug, id string) (bool, error) {
	ok, err := s.store.Create(ctx, slugKey(slug), []byte(id), 0)
	if err != nil {
		return false, fmt.Errorf("podcasts: claiming slug %s: %w", slug, err)
	}
	return ok, nil
}

// releaseSlug removes slug if it still points at id.
func (s *Service) releaseSlug(ctx context.Context, slug, id string) error {
	err := s.store.Update(ctx, slugKey(slug), func(cur []byte, found bool) ([]byte, time.Duration, error) {
		if !found || string(cur) != id {
			return cur, 0, errKeep
		}
		return nil, 0, nil
	})
	if err != nil && !errors.Is(err, errKeep) {
		return fmt.Errorf("podcasts: releasing slug %s: %w", slug, err)
	}
	return nil
}

// errKeep aborts an Update that has nothing to change.
var errKeep = errors.New("podcasts: unchanged")

// claimDerived claims base, else base-2, base-3, ..., else a slug made
// unique by the ID.
func (s *Service) claimDerived(ctx context.Context, base, id string) (string, error) {
	for n := 1; n <= 20; n++ {
		slug := base
		if n > 1 {
			slug = withSuffix(base, "-"+strconv.Itoa(n))
		}
		ok, err := s.claimSlug(ctx, slug, id)
		if err != nil {
			return "", err
		}
		if ok {
			return slug, nil
		}
	}
	slug := withSuffix(base, "-"+id)
	ok, err := s.claimSlug(ctx, slug, id)
	if err != nil {
		return "", err
	}
	if !ok {
		return "", fmt.Errorf("podcasts: slug %s already taken", slug)
	}
	return slug, nil
}

// CreateSeries validates and stores a new series and returns it with its
// ID and slug. A slug given that another series has is refused with the
// code "slug_taken"; a derived one is made unique with a number.
func (s *Service) CreateSeries(ctx context.Context, m SeriesMeta) (Series, error) {
	m, err := normalize(m)
	if err != nil {
		return Series{}, err
	}
	id, err := randomID(10)
	if err != nil {
		return Series{}, err
	}
	if m.Slug != "" {
		ok, err := s.claimSlug(ctx, m.Slug, id)
		if err != nil {
			return Series{}, err
		}
		if !ok {
			return Series{}, inputErr("slug", "slug_taken")
		}
	} else if m.Slug, err = s.claimDerived(ctx, deriveSlug(m.Title, id), id); err != nil {
		return Series{}, err
	}
	now := s.stamp()
	sr := Series{ID: id, SeriesMeta: m, Created: now, Updated: now}
	b, err := json.Marshal(sr)
	if err == nil {
		var ok bool
		ok, err = s.store.Create(ctx, seriesKey(id), b, 0)
		if err == nil && !ok {
			err = fmt.Errorf("ID %s already taken", id)
		}
	}
	if err != nil {
		return Series{}, errors.Join(fmt.Errorf("podcasts: storing series: %w", err), s.releaseSlug(ctx, m.Slug, id))
	}
	return sr, nil
}

// UpdateSeries replaces the metadata of the series id; an empty Slug keeps
// the current one. A changed slug that another series has is refused with
// "slug_taken"; the old slug is then free for others.
func (s *Service) UpdateSeries(ctx context.Context, id string, m SeriesMeta) (Series, error) {
	if !validID(id) {
		return Series{}, ErrNotFound
	}
	m, err := normalize(m)
	if err != nil {
		return Series{}, err
	}
	if _, err := s.GetSeries(ctx, id); err != nil {
		return Series{}, err
	}
	claimed := "" // a slug this call claimed, to be released if it fails
	if m.Slug != "" {
		ok, err := s.claimSlug(ctx, m.Slug, id)
		if err != nil {
			return Series{}, err
		}
		if !ok {
			holder, err := s.store.Get(ctx, slugKey(m.Slug))
			if err != nil && !errors.Is(err, kv.ErrNotFound) {
				return Series{}, fmt.Errorf("podcasts: reading slug %s: %w", m.Slug, err)
			}
			if string(holder) != id {
				return Series{}, inputErr("slug", "slug_taken")
			}
			// The series has it already (or a concurrent update of it
			// claimed it).
		} else {
			claimed = m.Slug
		}
	}
	now := s.stamp()
	var out Series
	var oldSlug string
	err = s.store.Update(ctx, seriesKey(id), func(b []byte, found bool) ([]byte, time.Duration, error) {
		if !found {
			return nil, 0, ErrNotFound
		}
		var sr Series
		if err := json.Unmarshal(b, &sr); err != nil {
			return nil, 0, fmt.Errorf("podcasts: decoding series %s: %w", id, err)
		}
		oldSlug = sr.Slug
		next := m
		if next.Slug == "" {
			next.Slug = sr.Slug
		}
		sr.SeriesMeta = next
		sr.Updated = now
		nb, err := json.Marshal(sr)
		if err != nil {
			return nil, 0, fmt.Errorf("podcasts: encoding series: %w", err)
		}
		out = sr
		return nb, 0, nil
	})
	if err != nil {
		var rel error
		if claimed != "" {
			rel = s.releaseSlug(ctx, claimed, id)
		}
		if errors.Is(err, ErrNotFound) && rel == nil {
			return Series{}, ErrNotFound
		}
		return Series{}, errors.Join(fmt.Errorf("podcasts: updating series %s: %w", id, err), rel)
	}
	if oldSlug != out.Slug {
		if err := s.releaseSlug(ctx, oldSlug, id); err != nil {
			return out, err
		}
	}
	return out, nil
}

// KeepFeedGUID gives the series id the podcast:guid guid unless it has
// one already, and returns the one it has: the first feed made fixes it.
func (s *Service) KeepFeedGUID(ctx context.Context, id, guid string) (string, error) {
	if !validID(id) {
		return "", ErrNotFound
	}
	if _, err := uuid.Parse(guid); err != nil {
		return "", fmt.Errorf("podcasts: %q is not a UUID", guid)
	}
	var kept string
	err := s.store.Update(ctx, seriesKey(id), func(b []byte, found bool) ([]byte, time.Duration, error) {
		if !found {
			return nil, 0, ErrNotFound
		}
		var sr Series
		if err := json.Unmarshal(b, &sr); err != nil {
			return nil, 0, fmt.Errorf("podcasts: decoding series %s: %w", id, err)
		}
		if sr.FeedGUID != "" {
			kept = sr.FeedGUID
			return b, 0, nil
		}
		sr.FeedGUID, kept = guid, guid
		nb, err := json.Marshal(sr)
		return nb, 0, err
	})
	if errors.Is(err, ErrNotFound) {
		return "", ErrNotFound
	}
	if err != nil {
		return "", fmt.Errorf("podcasts: keeping the feed GUID of %s: %w", id, err)
	}
	return kept, nil
}

// GetSeries returns the series with id, or ErrNotFound.
func (s *Service) GetSeries(ctx context.Context, id string) (Series, error) {
	if !validID(id) {
		return Series{}, ErrNotFound
	}
	b, err := s.store.Get(ctx, seriesKey(id))
	if errors.Is(err, kv.ErrNotFound) {
		return Series{}, ErrNotFound
	}
	if err != nil {
		return Series{}, fmt.Errorf("podcasts: reading series %s: %w", id, err)
	}
	var sr Series
	if err := json.Unmarshal(b, &sr); err != nil {
		return Series{}, fmt.Errorf("podcasts: decoding series %s: %w", id, err)
	}
	return sr, nil
}

// SeriesBySlug returns the series whose slug is slug, or ErrNotFound.
func (s *Service) SeriesBySlug(ctx context.Context, slug string) (Series, error) {
	if !ValidSlug(slug) {
		return Series{}, ErrNotFound
	}
	id, err := s.store.Get(ctx, slugKey(slug))
	if errors.Is(err, kv.ErrNotFound) {
		return Series{}, ErrNotFound
	}
	if err != nil {
		return Series{}, fmt.Errorf("podcasts: reading slug %s: %w", slug, err)
	}
	sr, err := s.GetSeries(ctx, string(id))
	if err != nil {
		return Series{}, err
	}
	if sr.Slug != slug { // claimed by an update that has not finished, or failed
		return Series{}, ErrNotFound
	}
	return sr, nil
}

// ListSeries returns all series sorted by their title (in their own
// language, case-insensitive), then by creation and ID.
func (s *Service) ListSeries(ctx context.Context) ([]Series, error) {
	keys, err := s.store.Keys(ctx, seriesPrefix)
	if err != nil {
		return nil, fmt.Errorf("podcasts: listing series: %w", err)
	}
	out := make([]Series, 0, len(keys))
	for _, k := range keys {
		sr, err := s.GetSeries(ctx, strings.TrimPrefix(k, seriesPrefix))
		if errors.Is(err, ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			return nil, err
		}
		out = append(out, sr)
	}
	slices.SortStableFunc(out, func(a, b Series) int {
		ta, _ := a.TitleIn(a.Language)
		tb, _ := b.TitleIn(b.Language)
		return cmp.Or(
			strings.Compare(strings.ToLower(ta), strings.ToLower(tb)),
			a.Created.Compare(b.Created),
			strings.Compare(a.ID, b.ID),
		)
	})
	return out, nil
}

// DeleteSeries removes the series id and frees its slug.
func (s *Service) DeleteSeries(ctx context.Context, id string) error {
	if !validID(id) {
		return ErrNotFound
	}
	var slug string
	err := s.store.Update(ctx, seriesKey(id), func(b []byte, found bool) ([]byte, time.Duration, error) {
		if !found {
			return nil, 0, ErrNotFound
		}
		var sr Series
		if err := json.Unmarshal(b, &sr); err != nil {
			return nil, 0, fmt.Errorf("podcasts: decoding series %s: %w", id, err)
		}
		slug = sr.Slug
		return nil, 0, nil
	})
	if errors.Is(err, ErrNotFound) {
		return ErrNotFound
	}
	if err != nil {
		return fmt.Errorf("podcasts: deleting series %s: %w", id, err)
	}
	return s.releaseSlug(ctx, slug, id)
}
