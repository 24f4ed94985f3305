package catalog

import (
	"bytes"
	"context"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"testing"
	"time"

	"portalo/store/blob"
	"portalo/store/blob/dirblob"
	"portalo/store/kv/boltkv"
)

// words to make up titles and descriptions, per language.
var benchWords = map[string][]string{
	"de": {"Atemübung", "Schlaf", "Rücken", "Ernährung", "Stress", "Bewegung", "Entspannung", "Straße", "Gesundheit", "Pause", "Morgen", "Abend", "Übungen", "für", "den", "Alltag"},
	"en": {"breathing", "sleep", "back", "nutrition", "stress", "movement", "relaxation", "walk", "health", "break", "morning", "evening", "exercises", "for", "everyday", "life"},
	"tr": {"nefes", "uyku", "sırt", "beslenme", "stres", "hareket", "gevşeme", "yürüyüş", "sağlık", "mola", "sabah", "akşam", "egzersiz", "İstanbul", "günlük", "yaşam"},
	"ru": {"дыхание", "сон", "спина", "питание", "стресс", "движение", "расслабление", "прогулка", "здоровье", "перерыв", "утро", "вечер", "упражнения", "для", "ёжик", "жизни"},
	"ar": {"التنفس", "النوم", "الظهر", "التغذية", "التوتر", "الحركة", "الاسترخاء", "المشي", "الصحة", "استراحة", "الصباح", "المساء", "تمارين", "للحياة", "اليومية", "مدرسة"},
}

func benchText(r *rand.Rand, lang string, n int) string {
	var b bytes.Buffer
	for i := range n {
		if i > 0 {
			b.WriteByte(' ')
		}
		w := benchWords[lang]
		b.WriteString(w[r.IntN(len(w))])
	}
	return b.String()
}

// benchCatalog writes n generated items' manifests straight into a fresh
// dirblob and loads a Catalog from it, as a node starting up would.
func benchCatalog(b *testing.B, n int) *Catalog {
	b.Helper()
	ctx := context.Background()
	dir := b.TempDir()
	blobs, err := dirblob.Open(filepath.Join(dir, "objects"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { blobs.Close() })
	state, err := boltkv.Open(filepath.Join(dir, "state.db"))
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { state.Close() })
	writeBenchItems(b, blobs, n)
	start := time.Now()
	c, err := New(ctx, blobs, state, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if got := len(c.idx.Load().byID); got != n {
		b.Fatalf("loaded %d items; want %d", got, n)
	}
	b.Logf("loaded %d items in %v", n, time.Since(start).Round(time.Millisecond))
	return c
}

func writeBenchItems(b *testing.B, blobs blob.Store, n int) {
	b.Helper()
	ctx := context.Background()
	r := rand.New(rand.NewPCG(1, 2))
	base := time.Date(2025, 1, 1, 0, 0, 0, 0, time.UTC)
	for i := range n {
		id := fmt.Sprintf("bench%05d", i)
		it := Item{
			ID: id,
			Meta: Meta{
				Kind:     Kinds[r.IntN(len(Kinds))],
				Slug:     fmt.Sprintf("item-%d", i),
				Topic:    Topics[r.IntN(len(Topics))],
				Audience: Audiences[r.IntN(len(Audiences))],
				Title:    map[string]string{}, Description: map[string]string{},
			},
			Status:   StatusPublished,
			Created:  base.Add(time.Duration(i) * time.Hour),
			Revision: 1,
		}
		if r.IntN(10) == 0 {
			it.Status = StatusDraft
		}
		it.Updated = it.Created
		if it.Status == StatusPublished {
			it.Published = it.Created.Add(time.Duration(r.IntN(100)) * time.Hour)
		}
		for _, l := range Languages {
			if r.IntN(2) == 0 || l == "de" {
				it.Title[l] = benchText(r, l, 3+r.IntN(4))
				it.Description[l] = benchText(r, l, 20+r.IntN(30))
				if it.Versions == nil {
					it.Versions = map[string]Version{}
				}
				it.Versions[l] = Version{Files: []File{{Key: Prefix(id) + l + "/master.m3u8", Role: RoleMaster, Complete: true}}}
			}
		}
		body, err := encodeManifest(it)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := blobs.Put(ctx, ManifestKey(id), bytes.NewReader(body), int64(len(body)), manifestType); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkList(b *testing.B) {
	c := benchCatalog(b, 1000)
	for _, bc := range []struct {
		name string
		q    Query
	}{
		{"public-first-page", Query{}},
		{"multiplier-topic-language-page-3", Query{Topic: TopicSleep, Language: "tr", Viewer: Viewer{Multiplier: true}, Page: 3}},
		{"editor-page-20-of-50", Query{Viewer: Viewer{Editor: true}, Page: 20, PageSize: 50}},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				res, err := c.List(bc.q)
				if err != nil || len(res.Items) == 0 {
					b.Fatal(res.Total, err)
				}
			}
		})
	}
}

func BenchmarkSearch(b *testing.B) {
	c := benchCatalog(b, 1000)
	for _, bc := range []struct {
		name, text string
	}{
		{"de-one-word", "Entspann"},
		{"de-two-words", "atemubung strasse"},
		{"tr-dotted-i", "ISTANBUL"},
		{"ru-yo", "ежик"},
		{"ar-article", "الصحه"},
		{"no-match", "zzz"},
	} {
		b.Run(bc.name, func(b *testing.B) {
			b.ReportAllocs()
			q := Query{Viewer: Viewer{Multiplier: true}}
			for b.Loop() {
				res, err := c.Search(bc.text, q)
				if err != nil || (bc.text != "zzz") != (res.Total > 0) {
					b.Fatal(res.Total, err)
				}
			}
		})
	}
}
