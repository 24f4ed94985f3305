package catalog

import (
	"context"
	"errors"
	"io"
	"strings"
	"testing"

	"portalo/internal/storetest"
	"portalo/store/blob"
	"portalo/store/kv"
)

// Episode and document fields are stored in the manifest (and left out of
// it when empty), kept only on their kind, and the chapters file must be
// in the store to publish.
func TestEpisodeAndDocumentFields(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		c := newCatalog(t, b, k, Options{})
		ep, err := c.Create(ctx, Meta{Kind: KindEpisode, Title: map[string]string{"de": "Folge 1"}, Topic: TopicSleep, Audience: AudiencePublic,
			Series: " gesund-leben ", Season: 1, Number: 12, Explicit: true, Category: CategoryForm, DocVersion: "1.0"})
		if err != nil {
			t.Fatal(err)
		}
		if ep.Series != "gesund-leben" || ep.Season != 1 || ep.Number != 12 || !ep.Explicit || ep.Category != "" || ep.DocVersion != "" {
			t.Errorf("episode %+v: want its episode fields, no document fields", ep.Meta)
		}
		raw := manifestJSON(t, b, ep.ID)
		for _, want := range []string{`"series": "gesund-leben"`, `"season": 1`, `"number": 12`, `"explicit": true`} {
			if !strings.Contains(raw, want) {
				t.Errorf("manifest lacks %s:\n%s", want, raw)
			}
		}
		for _, absent := range []string{`"category"`, `"doc_version"`, `"chapters"`} {
			if strings.Contains(raw, absent) {
				t.Errorf("manifest has an empty %s:\n%s", absent, raw)
			}
		}

		// The chapters file: listed, and checked when publishing.
		chapters := ep.Prefix() + "source/chapters.json"
		src := ep.Prefix() + "out/a/master.m3u8"
		put(t, b, src, "#EXTM3U\n")
		if _, err := c.SetFiles(ctx, ep.ID, func(m *Media) error {
			m.Chapters = chapters
			m.Versions = map[string]Version{"de": {Files: []File{{Key: src, Role: RoleMaster, Complete: true}}}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if !strings.Contains(manifestJSON(t, b, ep.ID), `"chapters": "`+chapters+`"`) {
			t.Error("the manifest lacks the chapters key")
		}
		var nr *NotReadyError
		if _, err := c.Publish(ctx, ep.ID); !errors.As(err, &nr) || nr.Code != "chapters_missing" || nr.Key != chapters {
			t.Fatalf("Publish without the chapters file = %v, want chapters_missing", err)
		}
		put(t, b, chapters, `{"version":"1.2.0","chapters":[]}`)
		ep, err = c.Publish(ctx, ep.ID)
		if err != nil {
			t.Fatal(err)
		}

		// Changing the kind drops the episode's fields; a document keeps
		// its own.
		m := ep.Meta
		m.Kind, m.Category, m.DocVersion = KindDocument, CategoryPromotional, " 2026-03 "
		doc, err := c.Update(ctx, ep.ID, ep.Revision, m)
		if err != nil {
			t.Fatal(err)
		}
		if doc.Series != "" || doc.Season != 0 || doc.Number != 0 || doc.Explicit || doc.Category != CategoryPromotional || doc.DocVersion != "2026-03" {
			t.Errorf("after the change to a document: %+v", doc.Meta)
		}
		raw = manifestJSON(t, b, ep.ID)
		if strings.Contains(raw, `"series"`) || strings.Contains(raw, `"explicit"`) || !strings.Contains(raw, `"category": "promotional"`) || !strings.Contains(raw, `"doc_version": "2026-03"`) {
			t.Errorf("manifest after the change:\n%s", raw)
		}
		m = doc.Meta
		m.Kind = KindVideo
		video, err := c.Update(ctx, doc.ID, doc.Revision, m)
		if err != nil || video.Category != "" || video.DocVersion != "" {
			t.Errorf("after the change to a video: %+v, %v", video.Meta, err)
		}
	})
}

// A manifest with invalid episode or document fields is not indexed.
func TestManifestFieldsChecked(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		base := `{"format":1,"id":"ID","kind":"episode","slug":"ID","title":{"de":"Folge"},"topic":"sleep","audience":"public",
			"status":"draft","revision":1,"created":"2026-01-01T10:00:00Z","updated":"2026-01-01T10:00:00Z"EXTRA}`
		for id, extra := range map[string]string{
			"good":        `,"series":"gesund-leben","season":3,"number":4,"explicit":true,"chapters":"media/good/source/chapters.json"`,
			"old":         ``,
			"bad-season":  `,"season":-1`,
			"bad-series":  `,"series":"Gesund Leben"`,
			"bad-chapter": `,"chapters":"media/other/chapters.json"`,
		} {
			put(t, b, ManifestKey(id), strings.NewReplacer("ID", id, "EXTRA", extra).Replace(base))
		}
		doc := strings.NewReplacer("ID", "bad-category", `"episode"`, `"document"`, "EXTRA", `,"category":"flyer"`).Replace(base)
		put(t, b, ManifestKey("bad-category"), doc)
		c := newCatalog(t, b, k, Options{})
		all, err := c.List(Query{Viewer: Viewer{Editor: true}})
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, it := range all.Items {
			ids = append(ids, it.ID)
		}
		if len(ids) != 2 {
			t.Fatalf("indexed %v; want good and old", ids)
		}
		good, err := c.Get("good")
		if err != nil || good.Series != "gesund-leben" || good.Season != 3 || good.Number != 4 || !good.Explicit || good.Chapters != "media/good/source/chapters.json" {
			t.Errorf("good: %+v, %v", good, err)
		}
		if old, err := c.Get("old"); err != nil || old.Series != "" || old.Chapters != "" {
			t.Errorf("old: %+v, %v", old, err)
		}
	})
}

func manifestJSON(t *testing.T, b blob.Store, id string) string {
	t.Helper()
	r, _, err := b.Open(context.Background(), ManifestKey(id))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	data, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
