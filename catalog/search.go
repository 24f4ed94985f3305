package catalog

import (
	"math/bits"
	"slices"
	"strings"
)

// wordIndex is the inverted index of an index: every search token, and for
// each the positions (in index.sorted) of the items that have it in a
// title and in a description. A query token's matches are the union over
// the tokens it prefixes, a contiguous run of the sorted vocabulary.
type wordIndex struct {
	vocab []string
	title [][]int32
	text  [][]int32
}

func buildWordIndex(sorted []*entry) *wordIndex {
	type post struct{ title, text []int32 }
	m := map[string]*post{}
	get := func(t string) *post {
		p := m[t]
		if p == nil {
			p = &post{}
			m[t] = p
		}
		return p
	}
	for i, e := range sorted {
		for _, t := range e.title {
			p := get(t)
			p.title = append(p.title, int32(i))
		}
		for _, t := range e.text {
			p := get(t)
			p.text = append(p.text, int32(i))
		}
	}
	w := &wordIndex{vocab: make([]string, 0, len(m))}
	for t := range m {
		w.vocab = append(w.vocab, t)
	}
	slices.Sort(w.vocab)
	w.title = make([][]int32, len(w.vocab))
	w.text = make([][]int32, len(w.vocab))
	for i, t := range w.vocab {
		w.title[i], w.text[i] = m[t].title, m[t].text
	}
	return w
}

func (ix *index) wordIndex() *wordIndex {
	ix.wordsOnce.Do(func() { ix.words = buildWordIndex(ix.sorted) })
	return ix.words
}

// bitset holds one bit per position of index.sorted.
type bitset []uint64

func newBitset(n int) bitset { return make(bitset, (n+63)/64) }

func (b bitset) set(i int32)    { b[i/64] |= 1 << (i % 64) }
func (b bitset) has(i int) bool { return b[i/64]&(1<<(i%64)) != 0 }
func (b bitset) addAll(ps []int32) {
	for _, p := range ps {
		b.set(p)
	}
}

// mark sets in title and text the items having a token that starts with q.
func (w *wordIndex) mark(q string, title, text bitset) {
	i, _ := slices.BinarySearch(w.vocab, q)
	for ; i < len(w.vocab) && strings.HasPrefix(w.vocab[i], q); i++ {
		title.addAll(w.title[i])
		text.addAll(w.text[i])
	}
}

type hit struct {
	e     *entry
	score int // query tokens found in a title
}

// search returns the items of which every token begins a word of a title
// or description, those with more tokens found in a title first, then
// newest first.
func (ix *index) search(toks []string, q Query) Result {
	w := ix.wordIndex()
	n := len(ix.sorted)
	match := newBitset(n)
	for i := range match {
		match[i] = ^uint64(0)
	}
	titles := make([]bitset, len(toks))
	for k, t := range toks {
		title, text := newBitset(n), newBitset(n)
		w.mark(t, title, text)
		// A token with an Arabic article also matches without it (the
		// index holds articled words both ways).
		if bare, ok := stripArabicArticle(t); ok {
			w.mark(bare, title, text)
		}
		for i := range match {
			match[i] &= title[i] | text[i]
		}
		titles[k] = title
	}
	var hits []hit
	for wi, word := range match {
		for word != 0 {
			i := wi*64 + bits.TrailingZeros64(word)
			word &= word - 1
			if i >= n {
				break
			}
			e := ix.sorted[i]
			if !q.selects(&e.item) {
				continue
			}
			score := 0
			for _, title := range titles {
				if title.has(i) {
					score++
				}
			}
			hits = append(hits, hit{e, score})
		}
	}
	// Positions ascend newest first; a stable sort by score keeps that
	// order among equals.
	slices.SortStableFunc(hits, func(a, b hit) int { return b.score - a.score })
	res := Result{Total: len(hits), Page: q.Page, PageSize: q.PageSize}
	start, end := q.window()
	for _, h := range hits[min(start, len(hits)):min(end, len(hits))] {
		res.Items = append(res.Items, h.e.item.Clone())
	}
	return res
}
