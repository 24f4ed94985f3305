package catalog

import (
	"cmp"
	"portalo/internal/langtext"
	"slices"
	"sync"
	"time"
	"unicode/utf8"
)

// Paging.
const (
	DefaultPageSize = 20
	MaxPageSize     = 50
	// MaxPage is the highest page number a Query asks for.
	MaxPage = 1 << 20
	// MaxQueryLen bounds a search query, in runes.
	MaxQueryLen = 200
)

// entry is an item as the index holds it, with what reads need
// precomputed. Entries are never changed once built.
type entry struct {
	item Item
	// etag is the manifest's ETag when it was read or written, for
	// Refresh to tell whether to read it again.
	etag string
	// title and text are the sorted distinct search tokens of the titles
	// and of the descriptions, in every language.
	title, text []string
	// newest is the time that orders the lists: when the item was
	// published, or created if it never was.
	newest time.Time
}

func newEntry(it Item, etag string) *entry {
	e := &entry{item: it, etag: etag, newest: it.Published}
	if e.newest.IsZero() {
		e.newest = it.Created
	}
	for _, l := range sortedKeys(it.Title) {
		e.title = indexTokens(e.title, it.Title[l])
	}
	for _, l := range sortedKeys(it.Description) {
		e.text = indexTokens(e.text, it.Description[l])
	}
	return e
}

// newestFirst orders entries by newest, then creation time, newest first,
// then by ID for a stable order.
func newestFirst(a, b *entry) int {
	if c := b.newest.Compare(a.newest); c != 0 {
		return c
	}
	if c := b.item.Created.Compare(a.item.Created); c != 0 {
		return c
	}
	return cmp.Compare(a.item.ID, b.item.ID)
}

// index is an immutable snapshot of the catalog; a change builds a new one.
type index struct {
	byID   map[string]*entry
	bySlug map[string]*entry
	sorted []*entry // newest first
	// words is the inverted index for Search, built on first use.
	wordsOnce sync.Once
	words     *wordIndex
}

// slugClash names two items that claim one slug in the store; the index
// gives the slug to the older one.
type slugClash struct {
	slug, kept, dropped string
}

func buildIndex(byID map[string]*entry) (*index, []slugClash) {
	ix := &index{byID: byID, bySlug: make(map[string]*entry, len(byID)), sorted: make([]*entry, 0, len(byID))}
	for _, e := range byID {
		ix.sorted = append(ix.sorted, e)
	}
	slices.SortFunc(ix.sorted, newestFirst)
	var clashes []slugClash
	for _, e := range ix.sorted {
		// Older items come later in sorted, so the oldest claimant of a
		// slug ends up holding it.
		if prev := ix.bySlug[e.item.Slug]; prev != nil {
			older, newer := e, prev
			if olderFirst(prev, e) {
				older, newer = prev, e
			}
			clashes = append(clashes, slugClash{e.item.Slug, older.item.ID, newer.item.ID})
			ix.bySlug[e.item.Slug] = older
			continue
		}
		ix.bySlug[e.item.Slug] = e
	}
	return ix, clashes
}

func olderFirst(a, b *entry) bool {
	if c := a.item.Created.Compare(b.item.Created); c != 0 {
		return c < 0
	}
	return a.item.ID < b.item.ID
}

// with returns a copy of ix in which the item id is e (or absent, for nil).
func (ix *index) with(id string, e *entry) (*index, []slugClash) {
	byID := make(map[string]*entry, len(ix.byID)+1)
	for k, v := range ix.byID {
		byID[k] = v
	}
	if e == nil {
		delete(byID, id)
	} else {
		byID[id] = e
	}
	return buildIndex(byID)
}

// Query selects and pages items for List and Search. The zero Query lists
// every published public item, newest first, in pages of DefaultPageSize.
type Query struct {
	Kind     Kind   // "" for every kind
	Topic    Topic  // "" for every topic
	Language string // "" for every language; else items with a title or a version in it
	// Series selects the episodes of one podcast series (Meta.Series);
	// "" for every item.
	Series string
	// Category selects the documents of one category (Meta.Category); ""
	// for every item.
	Category DocumentCategory
	// Status restricts an editor's list to one status ("" for all); for
	// other viewers only published items are listed anyway.
	Status Status
	// Viewer decides which audiences and statuses are listed.
	Viewer Viewer
	// Page is 1-based; below 1 means 1. PageSize is DefaultPageSize when 0
	// or less and at most MaxPageSize.
	Page, PageSize int
}

// Result is one page of items.
type Result struct {
	Items    []Item // copies: changing them leaves the catalog untouched
	Total    int    // matching items on all pages
	Page     int    // the page returned, 1-based
	PageSize int
}

// Pages returns the number of pages (at least 1).
func (r Result) Pages() int {
	if r.PageSize <= 0 || r.Total <= r.PageSize {
		return 1
	}
	return (r.Total + r.PageSize - 1) / r.PageSize
}

// check validates the filters and fills in the paging defaults.
func (q *Query) check() error {
	switch {
	case q.Kind != "" && !ValidKind(q.Kind):
		return inputErr("kind", "kind_invalid")
	case q.Topic != "" && !ValidTopic(q.Topic):
		return inputErr("topic", "topic_invalid")
	case q.Language != "" && !ValidLanguage(q.Language):
		return inputErr("language", "language_invalid")
	case q.Status != "" && !ValidStatus(q.Status):
		return inputErr("status", "status_invalid")
	case q.Series != "" && !ValidSeriesID(q.Series):
		return inputErr("series", "series_invalid")
	case q.Category != "" && !ValidDocumentCategory(q.Category):
		return inputErr("category", "category_invalid")
	}
	// Past MaxPage every page is empty anyway; the bound keeps
	// (Page-1)*PageSize from overflowing.
	q.Page = min(max(q.Page, 1), MaxPage)
	if q.PageSize <= 0 {
		q.PageSize = DefaultPageSize
	}
	q.PageSize = min(q.PageSize, MaxPageSize)
	return nil
}

// selects reports whether the item passes q's filters and visibility.
func (q *Query) selects(it *Item) bool {
	return it.VisibleTo(q.Viewer) &&
		(q.Kind == "" || it.Kind == q.Kind) &&
		(q.Topic == "" || it.Topic == q.Topic) &&
		(q.Status == "" || it.Status == q.Status) &&
		(q.Series == "" || it.Series == q.Series) &&
		(q.Category == "" || it.Category == q.Category) &&
		(q.Language == "" || it.HasLanguage(q.Language))
}

func (q *Query) window() (int, int) {
	start := (q.Page - 1) * q.PageSize
	return start, start + q.PageSize
}

func (ix *index) list(q Query) Result {
	res := Result{Page: q.Page, PageSize: q.PageSize}
	start, end := q.window()
	for _, e := range ix.sorted {
		if !q.selects(&e.item) {
			continue
		}
		if res.Total >= start && res.Total < end {
			res.Items = append(res.Items, e.item.Clone())
		}
		res.Total++
	}
	return res
}

// checkQueryText validates a search text.
func checkQueryText(text string) error {
	if !utf8.ValidString(text) || !langtext.OK(text) {
		return inputErr("q", "query_invalid")
	}
	if utf8.RuneCountInString(text) > MaxQueryLen {
		return inputErr("q", "query_too_long")
	}
	return nil
}
