package catalog

import (
	"fmt"
	"math/rand/v2"
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

// matchesPrefix reports whether some token of sorted starts with q.
func matchesPrefix(sorted []string, q string) bool {
	i, _ := slices.BinarySearch(sorted, q)
	return i < len(sorted) && strings.HasPrefix(sorted[i], q)
}

// scanSearch is the plain definition of search, item by item, to check the
// inverted index against.
func (ix *index) scanSearch(toks []string, q Query) Result {
	matches := func(sorted []string, t string) bool {
		bare, _ := stripArabicArticle(t)
		return matchesPrefix(sorted, t) || bare != "" && matchesPrefix(sorted, bare)
	}
	var hits []hit
	for _, e := range ix.sorted {
		if !q.selects(&e.item) {
			continue
		}
		score := 0
		for _, t := range toks {
			if matches(e.title, t) {
				score++
			} else if !matches(e.text, t) {
				score = -1
				break
			}
		}
		if score >= 0 {
			hits = append(hits, hit{e, score})
		}
	}
	slices.SortStableFunc(hits, func(a, b hit) int { return b.score - a.score })
	res := Result{Total: len(hits), Page: q.Page, PageSize: q.PageSize}
	start, end := q.window()
	for _, h := range hits[min(start, len(hits)):min(end, len(hits))] {
		res.Items = append(res.Items, h.e.item.Clone())
	}
	return res
}

// The inverted index finds exactly what checking every item finds, for
// random queries over random items in all languages (more than 64 items,
// so that the bit sets span several words).
func TestSearchMatchesScan(t *testing.T) {
	r := rand.New(rand.NewPCG(7, 11))
	byID := map[string]*entry{}
	base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range 300 {
		it := Item{
			ID:      fmt.Sprintf("i%03d", i),
			Meta:    Meta{Kind: Kinds[r.IntN(3)], Slug: fmt.Sprintf("s%d", i), Topic: Topics[r.IntN(len(Topics))], Audience: Audiences[r.IntN(2)], Title: map[string]string{}, Description: map[string]string{}},
			Status:  Statuses[r.IntN(len(Statuses))],
			Created: base.Add(time.Duration(r.IntN(1000)) * time.Hour),
		}
		for _, l := range Languages {
			if r.IntN(3) == 0 {
				it.Title[l] = benchText(r, l, 1+r.IntN(3))
				it.Description[l] = benchText(r, l, r.IntN(10))
			}
		}
		byID[it.ID] = newEntry(it, "")
	}
	ix, _ := buildIndex(byID)
	queries := 0
	for range 2000 {
		var words []string
		for range 1 + r.IntN(3) {
			l := Languages[r.IntN(len(Languages))]
			w := []rune(benchWords[l][r.IntN(len(benchWords[l]))])
			words = append(words, string(w[:1+r.IntN(len(w))])) // a prefix
		}
		toks := queryTokens(strings.Join(words, " "))
		if len(toks) == 0 {
			continue
		}
		q := Query{Viewer: Viewer{Editor: r.IntN(2) == 0, Multiplier: r.IntN(2) == 0}, PageSize: 50, Page: 1 + r.IntN(2)}
		if err := q.check(); err != nil {
			t.Fatal(err)
		}
		got, want := ix.search(toks, q), ix.scanSearch(toks, q)
		if !reflect.DeepEqual(got, want) {
			t.Fatalf("search %q: %d items (total %d); scan: %d items (total %d)", toks, len(got.Items), got.Total, len(want.Items), want.Total)
		}
		if want.Total > 0 {
			queries++
		}
	}
	if queries < 500 {
		t.Errorf("only %d queries found anything; the check is too weak", queries)
	}
}
