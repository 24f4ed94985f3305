package catalog

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"path/filepath"
	"reflect"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portalo/internal/storetest"
	"portalo/store/blob"
	"portalo/store/kv"
	"portalo/store/kv/boltkv"
)

// clock is a fake clock that moves one minute forward at every reading, so
// that every item gets its own times and the order of lists is fixed.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock {
	return &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

func newCatalog(t testing.TB, b blob.Store, k kv.Store, opt Options) *Catalog {
	t.Helper()
	if opt.Logger == nil {
		opt.Logger = slog.New(slog.NewTextHandler(tWriter{t}, &slog.HandlerOptions{Level: slog.LevelWarn}))
	}
	c, err := New(context.Background(), b, k, opt)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// tWriter sends log lines to the test log.
type tWriter struct{ t testing.TB }

func (w tWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

func meta(kind Kind, title string) Meta {
	return Meta{Kind: kind, Title: map[string]string{"de": title}, Topic: TopicSleep, Audience: AudiencePublic}
}

func put(t testing.TB, b blob.Store, key, content string) {
	t.Helper()
	if _, err := b.Put(context.Background(), key, strings.NewReader(content), int64(len(content)), ""); err != nil {
		t.Fatal(err)
	}
}

// addFiles stores a small HLS-like set of files for each language and
// lists them, complete, in the item.
func addFiles(t testing.TB, c *Catalog, b blob.Store, id string, langs ...string) Item {
	t.Helper()
	ctx := context.Background()
	for _, l := range langs {
		put(t, b, Prefix(id)+l+"/master.m3u8", "#EXTM3U\n")
		put(t, b, Prefix(id)+l+"/360p.m3u8", "#EXTM3U\n")
		put(t, b, Prefix(id)+l+"/360p/seg0.ts", "segment")
	}
	it, err := c.SetFiles(ctx, id, func(m *Media) error {
		m.Duration = 5 * time.Second
		if m.Versions == nil {
			m.Versions = map[string]Version{}
		}
		for _, l := range langs {
			m.Versions[l] = Version{Files: []File{
				{Key: Prefix(id) + l + "/master.m3u8", Role: RoleMaster, ContentType: "application/vnd.apple.mpegurl", Size: 8, Complete: true},
				{Key: Prefix(id) + l + "/360p.m3u8", Role: RoleRendition, ContentType: "application/vnd.apple.mpegurl", Size: 8, Complete: true},
			}}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return it
}

func wantInput(t *testing.T, err error, field, code string) {
	t.Helper()
	var ie *InputError
	if !errors.As(err, &ie) || ie.Field != field || ie.Code != code {
		t.Errorf("error %v; want InputError %s/%s", err, field, code)
	}
}

func TestCRUD(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		c := newCatalog(t, b, k, Options{Now: newClock().Now})
		it, err := c.Create(ctx, Meta{
			Kind:        KindVideo,
			Title:       map[string]string{"de": "  Atemübung am Morgen ", "tr": "Sabah nefes egzersizi"},
			Description: map[string]string{"de": "Fünf Minuten.\r\nJeden Tag.", "en": "  "},
			Topic:       TopicRelaxation, Audience: AudiencePublic, Downloadable: true,
		})
		if err != nil {
			t.Fatal(err)
		}
		if !validID(it.ID) || len(it.ID) != 16 {
			t.Errorf("ID %q is not a 16-character URL-safe ID", it.ID)
		}
		want := Meta{
			Kind: KindVideo, Slug: "atemuebung-am-morgen",
			Title:       map[string]string{"de": "Atemübung am Morgen", "tr": "Sabah nefes egzersizi"},
			Description: map[string]string{"de": "Fünf Minuten.\nJeden Tag."},
			Topic:       TopicRelaxation, Audience: AudiencePublic, Downloadable: true,
		}
		if !reflect.DeepEqual(it.Meta, want) {
			t.Errorf("created meta %+v; want %+v", it.Meta, want)
		}
		if it.Status != StatusDraft || it.Revision != 1 || it.Created.IsZero() || !it.Updated.Equal(it.Created) || !it.Published.IsZero() {
			t.Errorf("created item %+v: want a draft at revision 1", it)
		}
		for _, get := range []func() (Item, error){
			func() (Item, error) { return c.Get(it.ID) },
			func() (Item, error) { return c.GetBySlug("atemuebung-am-morgen") },
		} {
			got, err := get()
			if err != nil || !reflect.DeepEqual(got, it) {
				t.Errorf("get = %+v, %v; want %+v", got, err, it)
			}
		}

		// The manifest is in the object store, beside the files.
		r, info, err := b.Open(ctx, "media/"+it.ID+"/manifest.json")
		if err != nil {
			t.Fatal(err)
		}
		var m map[string]any
		if err := json.NewDecoder(r).Decode(&m); err != nil {
			t.Fatal(err)
		}
		r.Close()
		if m["id"] != it.ID || m["slug"] != "atemuebung-am-morgen" || m["revision"] != 1.0 || m["format"] != 1.0 {
			t.Errorf("manifest %v", m)
		}
		if info.ContentType != "application/json" {
			t.Errorf("manifest content type %q", info.ContentType)
		}

		// Update: changes the editable part, bumps the revision, moves the slug.
		edit := it.Meta.clone()
		edit.Slug = "morgen-atem"
		edit.Title["en"] = "Morning breath"
		edit.Topic = TopicMovement
		edit.Audience = AudienceMultipliers
		up, err := c.Update(ctx, it.ID, it.Revision, edit)
		if err != nil {
			t.Fatal(err)
		}
		if up.Revision != 2 || up.Slug != "morgen-atem" || up.Title["en"] != "Morning breath" || up.Topic != TopicMovement ||
			up.Audience != AudienceMultipliers || !up.Created.Equal(it.Created) || !up.Updated.After(it.Updated) {
			t.Errorf("updated item %+v", up)
		}
		if _, err := c.GetBySlug("atemuebung-am-morgen"); !errors.Is(err, ErrNotFound) {
			t.Errorf("old slug still found: %v", err)
		}
		if got, err := c.GetBySlug("morgen-atem"); err != nil || got.ID != it.ID {
			t.Errorf("new slug: %+v, %v", got, err)
		}
		// The old slug is free again, the new one is taken.
		other, err := c.Create(ctx, meta(KindEpisode, "Anders"))
		if err != nil {
			t.Fatal(err)
		}
		m2 := other.Meta
		m2.Slug = "morgen-atem"
		_, err = c.Update(ctx, other.ID, other.Revision, m2)
		wantInput(t, err, "slug", "slug_taken")
		m2.Slug = "atemuebung-am-morgen"
		if _, err := c.Update(ctx, other.ID, other.Revision, m2); err != nil {
			t.Errorf("taking the freed slug: %v", err)
		}
		// Saving what is stored writes nothing.
		same, err := c.Update(ctx, it.ID, up.Revision, up.Meta)
		if err != nil || same.Revision != up.Revision || !same.Updated.Equal(up.Updated) {
			t.Errorf("saving unchanged: %+v, %v; want revision %d kept", same, err, up.Revision)
		}
		// An empty slug keeps the current one.
		edit.Slug = ""
		edit.Description = map[string]string{"en": "Breathe."}
		up, err = c.Update(ctx, it.ID, up.Revision, edit)
		if err != nil || up.Slug != "morgen-atem" || up.Revision != 3 || up.Description["en"] != "Breathe." {
			t.Errorf("update without slug: %+v, %v", up, err)
		}

		// Returned items are copies.
		up.Title["de"] = "changed by the caller"
		if got, _ := c.Get(it.ID); got.Title["de"] != "Atemübung am Morgen" {
			t.Errorf("changing a returned item changed the catalog: %q", got.Title["de"])
		}

		if err := c.Delete(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Get(it.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("Get after Delete: %v", err)
		}
		if _, err := c.GetBySlug("morgen-atem"); !errors.Is(err, ErrNotFound) {
			t.Errorf("GetBySlug after Delete: %v", err)
		}
		if err := c.Delete(ctx, it.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("second Delete: %v", err)
		}
		if _, err := c.Update(ctx, it.ID, 3, edit); !errors.Is(err, ErrNotFound) {
			t.Errorf("Update after Delete: %v", err)
		}
		for _, id := range []string{"", "../x", "UPPER", "a/b"} {
			if _, err := c.Publish(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("Publish(%q): %v", id, err)
			}
		}
		// The deleted item's slug can be used again.
		edit.Slug = "morgen-atem"
		if _, err := c.Create(ctx, edit); err != nil {
			t.Errorf("reusing a deleted item's slug: %v", err)
		}
	})
}

func TestValidation(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		c := newCatalog(t, b, k, Options{})
		valid := func() Meta {
			return Meta{Kind: KindDocument, Title: map[string]string{"en": "Guide"}, Topic: TopicPain, Audience: AudienceMultipliers}
		}
		for _, tt := range []struct {
			name        string
			change      func(m *Meta)
			field, code string
		}{
			{"no kind", func(m *Meta) { m.Kind = "" }, "kind", "kind_required"},
			{"unknown kind", func(m *Meta) { m.Kind = "movie" }, "kind", "kind_invalid"},
			{"no title", func(m *Meta) { m.Title = nil }, "title", "title_required"},
			{"blank titles", func(m *Meta) { m.Title = map[string]string{"de": "  ", "en": ""} }, "title", "title_required"},
			{"title language", func(m *Meta) { m.Title["fr"] = "Guide" }, "title", "language_invalid"},
			{"title newline", func(m *Meta) { m.Title["en"] = "Two\nlines" }, "title_en", "title_invalid"},
			{"title control", func(m *Meta) { m.Title["en"] = "bell\a" }, "title_en", "title_invalid"},
			{"title invalid UTF-8", func(m *Meta) { m.Title["en"] = "\xff" }, "title_en", "title_invalid"},
			{"title too long", func(m *Meta) { m.Title["ar"] = strings.Repeat("ص", MaxTitleLen+1) }, "title_ar", "title_too_long"},
			{"description too long", func(m *Meta) { m.Description = map[string]string{"ru": strings.Repeat("я", MaxDescriptionLen+1)} }, "description_ru", "description_too_long"},
			{"description language", func(m *Meta) { m.Description = map[string]string{"xx": "?"} }, "description", "language_invalid"},
			{"slug", func(m *Meta) { m.Slug = "not a slug" }, "slug", "slug_invalid"},
			{"slug umlaut", func(m *Meta) { m.Slug = "übung" }, "slug", "slug_invalid"},
			{"slug long", func(m *Meta) { m.Slug = strings.Repeat("a", MaxSlugLen+1) }, "slug", "slug_too_long"},
			{"no topic", func(m *Meta) { m.Topic = "" }, "topic", "topic_required"},
			{"unknown topic", func(m *Meta) { m.Topic = "yoga" }, "topic", "topic_invalid"},
			{"no audience", func(m *Meta) { m.Audience = "" }, "audience", "audience_required"},
			{"unknown audience", func(m *Meta) { m.Audience = "everyone" }, "audience", "audience_invalid"},
			{"unknown category", func(m *Meta) { m.Category = "flyer" }, "category", "category_invalid"},
			{"doc version too long", func(m *Meta) { m.DocVersion = strings.Repeat("v", MaxDocVersionLen+1) }, "doc_version", "doc_version_too_long"},
			{"doc version newline", func(m *Meta) { m.DocVersion = "2.1\nbeta" }, "doc_version", "doc_version_invalid"},
			{"doc version control", func(m *Meta) { m.DocVersion = "2.1\u200b" }, "doc_version", "doc_version_invalid"},
			{"doc version invalid UTF-8", func(m *Meta) { m.DocVersion = "\xff" }, "doc_version", "doc_version_invalid"},
			{"series", func(m *Meta) { m.Kind, m.Series = KindEpisode, "Gesund Leben" }, "series", "series_invalid"},
			{"series hyphen", func(m *Meta) { m.Kind, m.Series = KindEpisode, "-gesund" }, "series", "series_invalid"},
			{"season negative", func(m *Meta) { m.Kind, m.Season = KindEpisode, -1 }, "season", "season_invalid"},
			{"season too high", func(m *Meta) { m.Kind, m.Season = KindEpisode, MaxSeason+1 }, "season", "season_invalid"},
			{"number negative", func(m *Meta) { m.Kind, m.Number = KindEpisode, -3 }, "number", "number_invalid"},
			{"number too high", func(m *Meta) { m.Kind, m.Number = KindEpisode, MaxEpisodeNumber+1 }, "number", "number_invalid"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				m := valid()
				tt.change(&m)
				_, err := c.Create(ctx, m)
				wantInput(t, err, tt.field, tt.code)
			})
		}
		// Nothing invalid was stored.
		if infos, err := b.List(ctx, "media/"); err != nil || len(infos) != 0 {
			t.Errorf("objects after invalid creates: %v, %v", infos, err)
		}
		// A slug is lowercased and trimmed.
		m := valid()
		m.Slug = "  Guide-2026 "
		it, err := c.Create(ctx, m)
		if err != nil || it.Slug != "guide-2026" {
			t.Errorf("Create with slug %q: %+v, %v", m.Slug, it.Slug, err)
		}

		// Media checks.
		id := it.ID
		other := "media/someoneelse/file.mp4"
		for _, tt := range []struct {
			name        string
			change      func(m *Media)
			field, code string
		}{
			{"negative duration", func(m *Media) { m.Duration = -time.Second }, "duration", "duration_invalid"},
			{"poster elsewhere", func(m *Media) { m.Poster = other }, "poster", "key_invalid"},
			{"poster is manifest", func(m *Media) { m.Poster = ManifestKey(id) }, "poster", "key_invalid"},
			{"poster is marker", func(m *Media) { m.Poster = deletingKey(id) }, "poster", "key_invalid"},
			{"poster escapes", func(m *Media) { m.Poster = Prefix(id) + "../x/poster.jpg" }, "poster", "key_invalid"},
			{"version language", func(m *Media) {
				m.Versions = map[string]Version{"es": {Files: []File{{Key: Prefix(id) + "a", Role: "master"}}}}
			}, "versions", "language_invalid"},
			{"file elsewhere", func(m *Media) { m.Versions = map[string]Version{"de": {Files: []File{{Key: other, Role: "master"}}}} }, "versions_de", "key_invalid"},
			{"file role", func(m *Media) {
				m.Versions = map[string]Version{"de": {Files: []File{{Key: Prefix(id) + "a", Role: "Master!"}}}}
			}, "versions_de", "role_invalid"},
			{"file no role", func(m *Media) { m.Versions = map[string]Version{"de": {Files: []File{{Key: Prefix(id) + "a"}}}} }, "versions_de", "role_invalid"},
			{"file size", func(m *Media) {
				m.Versions = map[string]Version{"de": {Files: []File{{Key: Prefix(id) + "a", Role: "source", Size: -1}}}}
			}, "versions_de", "size_invalid"},
			{"file type", func(m *Media) {
				m.Versions = map[string]Version{"de": {Files: []File{{Key: Prefix(id) + "a", Role: "source", ContentType: "video/"}}}}
			}, "versions_de", "content_type_invalid"},
			{"file twice", func(m *Media) {
				m.Versions = map[string]Version{"tr": {Files: []File{{Key: Prefix(id) + "a", Role: "source"}, {Key: Prefix(id) + "a", Role: "master"}}}}
			}, "versions_tr", "key_duplicate"},
			{"subtitle language", func(m *Media) { m.Subtitles = map[string]string{"klingon": Prefix(id) + "s.vtt"} }, "subtitles", "language_invalid"},
			{"subtitle elsewhere", func(m *Media) { m.Subtitles = map[string]string{"ar": other} }, "subtitles_ar", "key_invalid"},
			{"chapters elsewhere", func(m *Media) { m.Chapters = other }, "chapters", "key_invalid"},
			{"chapters is manifest", func(m *Media) { m.Chapters = ManifestKey(id) }, "chapters", "key_invalid"},
		} {
			t.Run(tt.name, func(t *testing.T) {
				_, err := c.SetFiles(ctx, id, func(m *Media) error { tt.change(m); return nil })
				wantInput(t, err, tt.field, tt.code)
			})
		}
		if got, _ := c.Get(id); got.Revision != 1 {
			t.Errorf("refused changes wrote the item: revision %d", got.Revision)
		}
		// A change to nothing writes nothing.
		if got, err := c.SetFiles(ctx, id, func(m *Media) error { m.Subtitles = map[string]string{"de": ""}; return nil }); err != nil || got.Revision != 1 {
			t.Errorf("SetFiles without change: revision %d, %v", got.Revision, err)
		}
		// An error of the caller's function comes back as it is.
		boom := errors.New("boom")
		if _, err := c.SetFiles(ctx, id, func(*Media) error { return boom }); err != boom {
			t.Errorf("SetFiles with a failing function: %v", err)
		}

		// Status checks.
		_, err = c.SetStatus(ctx, id, StatusPublished, "")
		wantInput(t, err, "status", "status_invalid")
		_, err = c.SetStatus(ctx, id, "paused", "")
		wantInput(t, err, "status", "status_invalid")
		_, err = c.SetStatus(ctx, id, StatusFailed, "bad\x00detail")
		wantInput(t, err, "status_detail", "status_detail_invalid")
		failed, err := c.SetStatus(ctx, id, StatusFailed, "ffmpeg: no video stream")
		if err != nil || failed.Status != StatusFailed || failed.StatusDetail != "ffmpeg: no video stream" || failed.Revision != 2 {
			t.Errorf("SetStatus failed: %+v, %v", failed, err)
		}
		if same, err := c.SetStatus(ctx, id, StatusFailed, "ffmpeg: no video stream"); err != nil || same.Revision != 2 {
			t.Errorf("setting the same status again wrote: %+v, %v", same, err)
		}

		// List filters are checked too.
		for _, q := range []Query{{Kind: "x"}, {Topic: "x"}, {Language: "fr"}, {Status: "x"}, {Series: "Not An ID"}, {Category: "flyer"}} {
			if _, err := c.List(q); err == nil {
				t.Errorf("List(%+v) accepted an unknown filter", q)
			}
		}
		_, err = c.Search(strings.Repeat("a", MaxQueryLen+1), Query{})
		wantInput(t, err, "q", "query_too_long")
		_, err = c.Search("\xff", Query{})
		wantInput(t, err, "q", "query_invalid")
	})
}

func TestRevisionConflict(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		c := newCatalog(t, b, k, Options{})
		it, err := c.Create(ctx, meta(KindVideo, "Schlaf"))
		if err != nil {
			t.Fatal(err)
		}
		a, bm := it.Meta.clone(), it.Meta.clone()
		a.Title["de"] = "Schlaf A"
		bm.Title["de"] = "Schlaf B"
		if _, err := c.Update(ctx, it.ID, it.Revision, a); err != nil {
			t.Fatal(err)
		}
		_, err = c.Update(ctx, it.ID, it.Revision, bm)
		var ce *ConflictError
		if !errors.Is(err, ErrConflict) || !errors.As(err, &ce) || ce.Expected != 1 || ce.Current != 2 || ce.ID != it.ID {
			t.Fatalf("second editor's update: %v; want a conflict at revision 2", err)
		}
		if got, _ := c.Get(it.ID); got.Title["de"] != "Schlaf A" {
			t.Errorf("title after the conflict = %q", got.Title["de"])
		}
		// Any write moves the revision: an update started before SetFiles conflicts.
		cur, _ := c.Get(it.ID)
		if _, err := c.SetStatus(ctx, it.ID, StatusProcessing, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := c.Update(ctx, it.ID, cur.Revision, bm); !errors.Is(err, ErrConflict) {
			t.Errorf("update after SetStatus: %v; want a conflict", err)
		}

		// Many editors at once, on two nodes, from the same revision:
		// exactly one wins.
		c2 := newCatalog(t, b, k, Options{})
		cur, _ = c.Get(it.ID)
		const editors = 8
		var wins, conflicts atomic.Int32
		var wg sync.WaitGroup
		for i := range editors {
			wg.Go(func() {
				m := cur.Meta.clone()
				m.Title["de"] = "Editor " + string(rune('A'+i))
				node := c
				if i%2 == 1 {
					node = c2
				}
				_, err := node.Update(ctx, it.ID, cur.Revision, m)
				switch {
				case err == nil:
					wins.Add(1)
				case errors.Is(err, ErrConflict):
					conflicts.Add(1)
				default:
					t.Errorf("editor %d: %v", i, err)
				}
			})
		}
		wg.Wait()
		if wins.Load() != 1 || conflicts.Load() != editors-1 {
			t.Errorf("%d updates won and %d conflicted; want 1 and %d", wins.Load(), conflicts.Load(), editors-1)
		}
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got, _ := c.Get(it.ID); got.Revision != cur.Revision+1 {
			t.Errorf("revision after the race = %d; want %d", got.Revision, cur.Revision+1)
		}
	})
}

// A write waits for another node's lock on the item and gives up with
// ErrBusy; the lock expires if its holder dies.
func TestLock(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		c := newCatalog(t, b, k, Options{LockWait: 300 * time.Millisecond})
		it, err := c.Create(ctx, meta(KindVideo, "Gesperrt"))
		if err != nil {
			t.Fatal(err)
		}
		if ok, err := k.Create(ctx, lockPrefix+it.ID, []byte("another node"), time.Second); err != nil || !ok {
			t.Fatalf("taking the lock: %v, %v", ok, err)
		}
		start := time.Now()
		if _, err := c.Publish(ctx, it.ID); !errors.Is(err, ErrBusy) {
			t.Errorf("Publish under another node's lock: %v; want ErrBusy", err)
		}
		if d := time.Since(start); d < 300*time.Millisecond {
			t.Errorf("gave up after %v; want to wait LockWait", d)
		}
		// The write does not remove a lock that is not its own.
		if v, err := k.Get(ctx, lockPrefix+it.ID); err != nil || string(v) != "another node" {
			t.Errorf("foreign lock after the failed write: %q, %v", v, err)
		}
		time.Sleep(time.Second)
		if _, err := c.SetStatus(ctx, it.ID, StatusProcessing, "transcoding"); err != nil {
			t.Errorf("write after the lock expired: %v", err)
		}
		// A finished write leaves no lock behind.
		if _, err := k.Get(ctx, lockPrefix+it.ID); !errors.Is(err, kv.ErrNotFound) {
			t.Errorf("lock after the write: %v", err)
		}
	})
}

func TestPublish(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		c := newCatalog(t, b, k, Options{Now: newClock().Now})
		it, err := c.Create(ctx, meta(KindVideo, "Rückenschmerzen"))
		if err != nil {
			t.Fatal(err)
		}
		id := it.ID
		wantNotReady := func(code, lang, key string) {
			t.Helper()
			_, err := c.Publish(ctx, id)
			var nr *NotReadyError
			if !errors.Is(err, ErrNotReady) || !errors.As(err, &nr) || nr.Code != code || nr.Language != lang || nr.Key != key || nr.ID != id {
				t.Errorf("Publish: %v; want not ready %s %s %s", err, code, lang, key)
			}
			if got, _ := c.Get(id); got.IsPublished() {
				t.Errorf("refused Publish published the item")
			}
		}
		wantNotReady("no_files", "", "")

		// Only the uploaded source: nothing to play.
		src := Prefix(id) + "source/upload.mp4"
		put(t, b, src, "mp4 bytes")
		if _, err := c.SetFiles(ctx, id, func(m *Media) error {
			m.Versions = map[string]Version{"de": {Files: []File{
				{Key: src, Role: RoleSource, ContentType: "video/mp4", Size: 9, Complete: true},
			}}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		wantNotReady("not_playable", "", "")
		// Processing failed: refused whatever the files say.
		if _, err := c.SetStatus(ctx, id, StatusFailed, "not a video"); err != nil {
			t.Fatal(err)
		}
		wantNotReady("failed", "", "")

		// Processing: the upload is there, the renditions are being made.
		if _, err := c.SetStatus(ctx, id, StatusProcessing, "transcoding 360p"); err != nil {
			t.Fatal(err)
		}
		master, rend := Prefix(id)+"de/master.m3u8", Prefix(id)+"de/720p.m3u8"
		_, err = c.SetFiles(ctx, id, func(m *Media) error {
			m.Versions = map[string]Version{"de": {Files: []File{
				{Key: src, Role: RoleSource, ContentType: "video/mp4", Size: 9, Complete: true},
				{Key: master, Role: RoleMaster, ContentType: "application/vnd.apple.mpegurl"},
				{Key: rend, Role: RoleRendition, ContentType: "application/vnd.apple.mpegurl"},
			}}}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		wantNotReady("processing", "", "")
		if _, err := c.SetStatus(ctx, id, StatusDraft, ""); err != nil {
			t.Fatal(err)
		}
		wantNotReady("file_incomplete", "de", master)

		// The processing step marks files complete one by one.
		complete := func(key string) {
			t.Helper()
			_, err := c.SetFiles(ctx, id, func(m *Media) error {
				v := m.Versions["de"]
				for i := range v.Files {
					if v.Files[i].Key == key {
						v.Files[i].Complete = true
					}
				}
				return nil
			})
			if err != nil {
				t.Fatal(err)
			}
		}
		put(t, b, master, "#EXTM3U\n")
		complete(master)
		wantNotReady("file_incomplete", "de", rend)
		complete(rend) // marked complete, but not in the store
		wantNotReady("file_missing", "de", rend)
		put(t, b, rend, "#EXTM3U\n")

		poster, vtt := Prefix(id)+"poster.jpg", Prefix(id)+"subs/tr.vtt"
		if _, err := c.SetFiles(ctx, id, func(m *Media) error {
			m.Poster = poster
			m.Subtitles = map[string]string{"tr": vtt}
			m.Duration = 5*time.Second + 250*time.Millisecond
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		wantNotReady("poster_missing", "", poster)
		put(t, b, poster, "jpeg")
		wantNotReady("subtitle_missing", "tr", vtt)
		put(t, b, vtt, "WEBVTT\n")

		pub, err := c.Publish(ctx, id)
		if err != nil {
			t.Fatal(err)
		}
		if !pub.IsPublished() || pub.Published.IsZero() || pub.StatusDetail != "" || pub.Duration != 5250*time.Millisecond {
			t.Errorf("published item %+v", pub)
		}
		if again, err := c.Publish(ctx, id); err != nil || again.Revision != pub.Revision {
			t.Errorf("publishing again: %+v, %v; want no change", again, err)
		}
		// A published item leaves publication only through Unpublish.
		_, err = c.SetStatus(ctx, id, StatusProcessing, "")
		wantInput(t, err, "status", "item_published")
		// New files on a published item do not unpublish it; the
		// incomplete version is not offered.
		got, err := c.SetFiles(ctx, id, func(m *Media) error {
			m.Versions["tr"] = Version{Files: []File{{Key: Prefix(id) + "tr/master.m3u8", Role: RoleMaster}}}
			return nil
		})
		if err != nil || !got.IsPublished() || !got.Versions["de"].Complete() || got.Versions["tr"].Complete() {
			t.Errorf("adding a version to a published item: %+v, %v", got, err)
		}

		un, err := c.Unpublish(ctx, id)
		if err != nil || un.Status != StatusDraft || !un.Published.Equal(pub.Published) {
			t.Errorf("unpublished item %+v, %v", un, err)
		}
		if again, err := c.Unpublish(ctx, id); err != nil || again.Revision != un.Revision {
			t.Errorf("unpublishing again: %+v, %v; want no change", again, err)
		}
		// The Turkish version is incomplete now: publishing is refused again.
		wantNotReady("file_incomplete", "tr", Prefix(id)+"tr/master.m3u8")
		if _, err := c.SetFiles(ctx, id, func(m *Media) error { delete(m.Versions, "tr"); return nil }); err != nil {
			t.Fatal(err)
		}
		again, err := c.Publish(ctx, id)
		if err != nil || !again.Published.Equal(pub.Published) {
			t.Errorf("republished: %+v, %v; want the first publication time kept", again, err)
		}
	})
}

// fixture is a set of items for the list and search tests.
type fixture struct {
	c   *Catalog
	ids map[string]string // name → ID
}

type fixtureItem struct {
	name       string
	meta       Meta
	versions   []string // languages with (complete) files
	publish    bool
	processing bool
}

func newFixture(t *testing.T, b blob.Store, k kv.Store, items []fixtureItem) *fixture {
	t.Helper()
	ctx := context.Background()
	f := &fixture{c: newCatalog(t, b, k, Options{Now: newClock().Now}), ids: map[string]string{}}
	for _, fi := range items {
		it, err := f.c.Create(ctx, fi.meta)
		if err != nil {
			t.Fatalf("%s: %v", fi.name, err)
		}
		f.ids[fi.name] = it.ID
		if len(fi.versions) > 0 {
			addFiles(t, f.c, b, it.ID, fi.versions...)
		}
		if fi.publish {
			if _, err := f.c.Publish(ctx, it.ID); err != nil {
				t.Fatalf("%s: %v", fi.name, err)
			}
		}
		if fi.processing {
			if _, err := f.c.SetStatus(ctx, it.ID, StatusProcessing, ""); err != nil {
				t.Fatal(err)
			}
		}
	}
	return f
}

func (f *fixture) names(items []Item) []string {
	byID := map[string]string{}
	for n, id := range f.ids {
		byID[id] = n
	}
	var out []string
	for _, it := range items {
		out = append(out, byID[it.ID])
	}
	return out
}

func m(kind Kind, topic Topic, aud Audience, title map[string]string) Meta {
	return Meta{Kind: kind, Topic: topic, Audience: aud, Title: title}
}

func TestList(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		// Created (and published) in this order: later ones are newer.
		f := newFixture(t, b, k, []fixtureItem{
			{name: "yoga", meta: m(KindVideo, TopicMovement, AudiencePublic, map[string]string{"de": "Yoga"}), versions: []string{"de", "tr"}, publish: true},
			{name: "sleep", meta: m(KindEpisode, TopicSleep, AudiencePublic, map[string]string{"en": "Sleep"}), versions: []string{"en"}, publish: true},
			{name: "guide", meta: m(KindDocument, TopicAddiction, AudienceMultipliers, map[string]string{"de": "Leitfaden", "ru": "Руководство"}), versions: []string{"de"}, publish: true},
			{name: "draft", meta: m(KindVideo, TopicMovement, AudiencePublic, map[string]string{"de": "Entwurf"})},
			{name: "food", meta: m(KindVideo, TopicNutrition, AudiencePublic, map[string]string{"ar": "الغذاء"}), versions: []string{"ar"}, publish: true},
			{name: "busy", meta: m(KindVideo, TopicMovement, AudienceMultipliers, map[string]string{"tr": "Hareket"}), processing: true},
			{name: "pain", meta: m(KindEpisode, TopicPain, AudienceMultipliers, map[string]string{"en": "Pain"}), versions: []string{"en", "ru"}, publish: true},
		})
		// Series and categories, set by Update (which keeps the order).
		ctx := context.Background()
		for name, change := range map[string]func(*Meta){
			"sleep": func(m *Meta) { m.Series, m.Season, m.Number = "gesund-leben", 1, 2 },
			"pain":  func(m *Meta) { m.Series, m.Number = "gesund-leben", 3 },
			"guide": func(m *Meta) { m.Category = CategoryGuide },
			"draft": func(m *Meta) { m.Series, m.Category = "gesund-leben", CategoryGuide }, // a video: both are dropped
		} {
			cur, err := f.c.Get(f.ids[name])
			if err != nil {
				t.Fatal(err)
			}
			change(&cur.Meta)
			if _, err := f.c.Update(ctx, cur.ID, cur.Revision, cur.Meta); err != nil {
				t.Fatal(err)
			}
		}
		multiplier, editor := Viewer{Multiplier: true}, Viewer{Editor: true}
		for _, tt := range []struct {
			name  string
			q     Query
			want  []string
			total int
		}{
			{"public", Query{}, []string{"food", "sleep", "yoga"}, 3},
			{"multiplier", Query{Viewer: multiplier}, []string{"pain", "food", "guide", "sleep", "yoga"}, 5},
			{"editor", Query{Viewer: editor}, []string{"pain", "busy", "food", "draft", "guide", "sleep", "yoga"}, 7},
			{"editor drafts", Query{Viewer: editor, Status: StatusDraft}, []string{"draft"}, 1},
			{"public drafts", Query{Status: StatusDraft}, nil, 0},
			{"kind", Query{Kind: KindVideo, Viewer: multiplier}, []string{"food", "yoga"}, 2},
			{"topic", Query{Topic: TopicMovement, Viewer: editor}, []string{"busy", "draft", "yoga"}, 3},
			{"topic public", Query{Topic: TopicMovement}, []string{"yoga"}, 1},
			{"language by version", Query{Language: "tr"}, []string{"yoga"}, 1},
			{"language by title", Query{Language: "ru", Viewer: multiplier}, []string{"pain", "guide"}, 2},
			{"language public", Query{Language: "ru"}, nil, 0},
			{"language ar", Query{Language: "ar"}, []string{"food"}, 1},
			{"combined", Query{Kind: KindEpisode, Topic: TopicPain, Language: "en", Viewer: multiplier}, []string{"pain"}, 1},
			{"series", Query{Series: "gesund-leben", Viewer: multiplier}, []string{"pain", "sleep"}, 2},
			{"series public", Query{Series: "gesund-leben"}, []string{"sleep"}, 1},
			{"series and kind", Query{Series: "gesund-leben", Kind: KindEpisode, Viewer: editor}, []string{"pain", "sleep"}, 2},
			{"other series", Query{Series: "other", Viewer: editor}, nil, 0},
			{"category", Query{Category: CategoryGuide, Viewer: editor}, []string{"guide"}, 1},
			{"category public", Query{Category: CategoryGuide}, nil, 0},
			{"other category", Query{Category: CategoryForm, Viewer: editor}, nil, 0},
			{"page 1", Query{Viewer: editor, PageSize: 3}, []string{"pain", "busy", "food"}, 7},
			{"page 2", Query{Viewer: editor, PageSize: 3, Page: 2}, []string{"draft", "guide", "sleep"}, 7},
			{"page 3", Query{Viewer: editor, PageSize: 3, Page: 3}, []string{"yoga"}, 7},
			{"page 4", Query{Viewer: editor, PageSize: 3, Page: 4}, nil, 7},
			{"page 0", Query{Viewer: editor, PageSize: 2, Page: -1}, []string{"pain", "busy"}, 7},
		} {
			t.Run(tt.name, func(t *testing.T) {
				res, err := f.c.List(tt.q)
				if err != nil {
					t.Fatal(err)
				}
				if got := f.names(res.Items); !slices.Equal(got, tt.want) || res.Total != tt.total {
					t.Errorf("List = %q (total %d); want %q (total %d)", got, res.Total, tt.want, tt.total)
				}
				for _, it := range res.Items {
					if !it.VisibleTo(tt.q.Viewer) {
						t.Errorf("listed %s, which the viewer may not see", it.ID)
					}
				}
			})
		}
		res, _ := f.c.List(Query{Viewer: editor, PageSize: 3})
		if res.Page != 1 || res.PageSize != 3 || res.Pages() != 3 {
			t.Errorf("paging %+v, %d pages", res, res.Pages())
		}
		res, _ = f.c.List(Query{PageSize: 1000})
		if res.PageSize != MaxPageSize {
			t.Errorf("page size %d; want it capped at %d", res.PageSize, MaxPageSize)
		}
		res, _ = f.c.List(Query{})
		if res.PageSize != DefaultPageSize {
			t.Errorf("default page size %d", res.PageSize)
		}
		// Search takes the same filters.
		if res, err := f.c.Search("pain", Query{Series: "gesund-leben", Viewer: editor}); err != nil || !slices.Equal(f.names(res.Items), []string{"pain"}) {
			t.Errorf("Search in a series = %q, %v", f.names(res.Items), err)
		}
		if res, err := f.c.Search("leitfaden", Query{Category: CategoryGuide, Viewer: multiplier}); err != nil || !slices.Equal(f.names(res.Items), []string{"guide"}) {
			t.Errorf("Search in a category = %q, %v", f.names(res.Items), err)
		}
		// A draft that was published once keeps its place when published again.
		if _, err := f.c.Unpublish(ctx, f.ids["sleep"]); err != nil {
			t.Fatal(err)
		}
		if _, err := f.c.Publish(ctx, f.ids["sleep"]); err != nil {
			t.Fatal(err)
		}
		res, _ = f.c.List(Query{})
		if got := f.names(res.Items); !slices.Equal(got, []string{"food", "sleep", "yoga"}) {
			t.Errorf("after republishing: %q", got)
		}
	})
}

func TestSearch(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		d := func(title, desc map[string]string) Meta {
			return Meta{Kind: KindVideo, Topic: TopicOther, Audience: AudiencePublic, Title: title, Description: desc}
		}
		f := newFixture(t, b, k, []fixtureItem{
			{name: "atem", meta: d(map[string]string{"de": "Atemübungen gegen Stress"}, map[string]string{"de": "Fünf Minuten Ruhe an der Straße."}), versions: []string{"de"}, publish: true},
			{name: "istanbul", meta: d(map[string]string{"tr": "İstanbul'da sağlıklı yaşam"}, map[string]string{"tr": "Işık, hareket ve uyku."}), versions: []string{"tr"}, publish: true},
			{name: "son", meta: d(map[string]string{"ru": "Ёжик и здоровый сон"}, map[string]string{"ru": "Пять советов: йога и чай."}), versions: []string{"ru"}, publish: true},
			{name: "sihha", meta: d(map[string]string{"ar": "الصِّحَّةُ النفسية والاسترخاء"}, map[string]string{"ar": "نصائح من مستشفى المدينة، مـــدرسة"}), versions: []string{"ar"}, publish: true},
			{name: "sleep", meta: d(map[string]string{"en": "Sleep well"}, map[string]string{"en": "Less stress, better sleep. Schlaf gut!"}), versions: []string{"en"}, publish: true},
			{name: "hidden", meta: d(map[string]string{"de": "Stress im Entwurf"}, nil)},
			{name: "experts", meta: Meta{Kind: KindDocument, Topic: TopicOther, Audience: AudienceMultipliers, Title: map[string]string{"de": "Stress bei Fachkräften"}}, versions: []string{"de"}, publish: true},
		})
		for _, tt := range []struct {
			lang, q string
			viewer  Viewer
			want    []string
		}{
			// German: case, umlauts with and without e, ß/ss, prefixes.
			{"de", "atemubungen", Viewer{}, []string{"atem"}},
			{"de", "ATEMÜBUNG", Viewer{}, []string{"atem"}},
			{"de", "atemuebungen", Viewer{}, []string{"atem"}},
			{"de", "fuenf", Viewer{}, []string{"atem"}},
			{"de", "strasse", Viewer{}, []string{"atem"}},
			{"de", "STRAẞE", Viewer{}, []string{"atem"}},
			{"de", "schl", Viewer{}, []string{"sleep"}},
			// Turkish: İ, I, ı, i.
			{"tr", "istanbul", Viewer{}, []string{"istanbul"}},
			{"tr", "İSTANBUL", Viewer{}, []string{"istanbul"}},
			{"tr", "ISTANBUL", Viewer{}, []string{"istanbul"}},
			{"tr", "ıstanbul", Viewer{}, []string{"istanbul"}},
			{"tr", "isik", Viewer{}, []string{"istanbul"}},
			{"tr", "IŞIK", Viewer{}, []string{"istanbul"}},
			{"tr", "saglikli yasam", Viewer{}, []string{"istanbul"}},
			// Russian: case, ё = е.
			{"ru", "ежик", Viewer{}, []string{"son"}},
			{"ru", "ЁЖИК", Viewer{}, []string{"son"}},
			{"ru", "Здоров сон", Viewer{}, []string{"son"}},
			{"ru", "йога", Viewer{}, []string{"son"}},
			// Arabic: harakat, tatweel, alef forms, ى/ي, ة/ه, the article.
			{"ar", "الصحة", Viewer{}, []string{"sihha"}},
			{"ar", "الصحه", Viewer{}, []string{"sihha"}},
			{"ar", "صحة", Viewer{}, []string{"sihha"}},
			{"ar", "الصـــحة", Viewer{}, []string{"sihha"}},
			{"ar", "الإسترخاء", Viewer{}, []string{"sihha"}},
			{"ar", "مستشفي", Viewer{}, []string{"sihha"}},
			{"ar", "مَدرسة", Viewer{}, []string{"sihha"}},
			{"ar", "مدينة", Viewer{}, []string{"sihha"}},
			// English, AND, ranking: title matches first, then newest.
			{"en", "sleep", Viewer{}, []string{"sleep"}},
			{"en", "stress", Viewer{}, []string{"atem", "sleep"}},
			{"en", "stress", Viewer{Multiplier: true}, []string{"experts", "atem", "sleep"}},
			{"en", "stress", Viewer{Editor: true}, []string{"experts", "hidden", "atem", "sleep"}},
			{"en", "stress sleep", Viewer{}, []string{"sleep"}},
			{"en", "stress yoga", Viewer{}, nil},
			{"en", "xyz", Viewer{}, nil},
			{"en", "ss", Viewer{}, nil},
		} {
			t.Run(tt.lang+" "+tt.q, func(t *testing.T) {
				res, err := f.c.Search(tt.q, Query{Viewer: tt.viewer})
				if err != nil {
					t.Fatal(err)
				}
				if got := f.names(res.Items); !slices.Equal(got, tt.want) || res.Total != len(tt.want) {
					t.Errorf("Search(%q) = %q (total %d); want %q", tt.q, got, res.Total, tt.want)
				}
			})
		}
		// Filters and paging apply to searches.
		res, err := f.c.Search("stress", Query{Viewer: Viewer{Editor: true}, Kind: KindVideo, PageSize: 1, Page: 2})
		if err != nil || !slices.Equal(f.names(res.Items), []string{"atem"}) || res.Total != 3 {
			t.Errorf("filtered, paged search: %q (total %d), %v", f.names(res.Items), res.Total, err)
		}
		// A query without words lists.
		res, _ = f.c.Search(" ?! ", Query{})
		list, _ := f.c.List(Query{})
		if !reflect.DeepEqual(res, list) {
			t.Errorf("empty search = %q; want the list %q", f.names(res.Items), f.names(list.Items))
		}
	})
}

// countingBlob counts the calls reaching an object store.
type countingBlob struct {
	blob.Store
	opens, stats, lists, puts, deletes atomic.Int64
}

func (s *countingBlob) Open(ctx context.Context, key string) (io.ReadSeekCloser, blob.Info, error) {
	s.opens.Add(1)
	return s.Store.Open(ctx, key)
}

func (s *countingBlob) Stat(ctx context.Context, key string) (blob.Info, error) {
	s.stats.Add(1)
	return s.Store.Stat(ctx, key)
}

func (s *countingBlob) List(ctx context.Context, prefix string) ([]blob.Info, error) {
	s.lists.Add(1)
	return s.Store.List(ctx, prefix)
}

func (s *countingBlob) Put(ctx context.Context, key string, r io.Reader, size int64, ct string) (blob.Info, error) {
	s.puts.Add(1)
	return s.Store.Put(ctx, key, r, size, ct)
}

func (s *countingBlob) Delete(ctx context.Context, key string) error {
	s.deletes.Add(1)
	return s.Store.Delete(ctx, key)
}

func (s *countingBlob) calls() int64 {
	return s.opens.Load() + s.stats.Load() + s.lists.Load() + s.puts.Load() + s.deletes.Load()
}

// countingKV counts the calls reaching a kv.Store.
type countingKV struct {
	kv.Store
	n atomic.Int64
}

func (s *countingKV) Get(ctx context.Context, key string) ([]byte, error) {
	s.n.Add(1)
	return s.Store.Get(ctx, key)
}

// Reads come from the index: no call reaches either store.
func TestReadsStayInMemory(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		cb, ck := &countingBlob{Store: b}, &countingKV{Store: k}
		c := newCatalog(t, cb, ck, Options{})
		it, err := c.Create(ctx, meta(KindVideo, "Entspannung"))
		if err != nil {
			t.Fatal(err)
		}
		addFiles(t, c, b, it.ID, "de")
		if _, err := c.Publish(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
		before, kvBefore := cb.calls(), ck.n.Load()
		if before == 0 {
			t.Fatal("the counting store saw no calls at all")
		}
		for range 10 {
			if _, err := c.Get(it.ID); err != nil {
				t.Fatal(err)
			}
			if _, err := c.GetBySlug(it.Slug); err != nil {
				t.Fatal(err)
			}
			if res, err := c.List(Query{}); err != nil || res.Total != 1 {
				t.Fatal(res, err)
			}
			if res, err := c.Search("entsp", Query{}); err != nil || res.Total != 1 {
				t.Fatal(res, err)
			}
		}
		if d, dk := cb.calls()-before, ck.n.Load()-kvBefore; d != 0 || dk != 0 {
			t.Errorf("reads made %d object store and %d kv calls; want none", d, dk)
		}
	})
}

// Refresh reads again only the manifests whose ETag changed.
func TestRefreshReadsOnlyChanges(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		cb := &countingBlob{Store: b}
		writer := newCatalog(t, b, k, Options{})
		var ids []string
		for _, title := range []string{"Eins", "Zwei", "Drei", "Vier"} {
			it, err := writer.Create(ctx, meta(KindVideo, title))
			if err != nil {
				t.Fatal(err)
			}
			ids = append(ids, it.ID)
		}
		reader := newCatalog(t, cb, k, Options{})
		if got := cb.opens.Load(); got != 4 {
			t.Errorf("start-up read %d manifests; want 4", got)
		}
		// Nothing changed: one listing, no manifest read.
		cb.opens.Store(0)
		if err := reader.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := cb.opens.Load(); got != 0 {
			t.Errorf("refresh without changes read %d manifests", got)
		}
		// Writes on the reader itself need no reading back either.
		cb.opens.Store(0)
		if _, err := reader.Update(ctx, ids[0], 1, meta(KindVideo, "Eins!")); err != nil {
			t.Fatal(err)
		}
		if err := reader.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := cb.opens.Load(); got != 1 { // Update reads the current manifest under the lock
			t.Errorf("own write and refresh read %d manifests; want 1 (the write's own)", got)
		}
		// One change elsewhere: one manifest read; one deletion: none.
		if _, err := writer.Update(ctx, ids[1], 1, meta(KindVideo, "Zwei!")); err != nil {
			t.Fatal(err)
		}
		if err := writer.Delete(ctx, ids[2]); err != nil {
			t.Fatal(err)
		}
		cb.opens.Store(0)
		if err := reader.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got := cb.opens.Load(); got != 1 {
			t.Errorf("refresh after one update and one delete read %d manifests; want 1", got)
		}
		if it, err := reader.Get(ids[1]); err != nil || it.Title["de"] != "Zwei!" {
			t.Errorf("changed item on the reader: %+v, %v", it, err)
		}
		if _, err := reader.Get(ids[2]); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleted item on the reader: %v", err)
		}
	})
}

// A Catalog on an empty kv.Store rebuilds the same index from the bucket
// alone.
func TestRebuildFromBucket(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		f := newFixture(t, b, k, []fixtureItem{
			{name: "a", meta: Meta{Kind: KindVideo, Topic: TopicMovement, Audience: AudiencePublic, Downloadable: true,
				Title: map[string]string{"de": "Bewegung", "ar": "الحركة"}, Description: map[string]string{"tr": "Hareket et"}}, versions: []string{"de", "ar"}, publish: true},
			{name: "b", meta: m(KindEpisode, TopicSleep, AudienceMultipliers, map[string]string{"ru": "Сон"}), versions: []string{"ru"}},
			{name: "c", meta: m(KindDocument, TopicOther, AudiencePublic, map[string]string{"en": "Notes"})},
			{name: "d", meta: m(KindVideo, TopicPain, AudiencePublic, map[string]string{"tr": "Ağrı"}), processing: true},
			{name: "e", meta: Meta{Kind: KindEpisode, Topic: TopicSleep, Audience: AudiencePublic, Title: map[string]string{"de": "Folge 7"},
				Series: "gesund-leben", Season: 2, Number: 7, Explicit: true}, versions: []string{"de"}},
			{name: "f", meta: Meta{Kind: KindDocument, Topic: TopicOther, Audience: AudienceMultipliers, Title: map[string]string{"de": "Flyer"},
				Category: CategoryPromotional, DocVersion: "2026-03"}},
		})
		ids := f.ids
		if _, err := f.c.SetFiles(ctx, ids["e"], func(m *Media) error {
			put(t, b, Prefix(ids["e"])+"source/chapters.json", `{"version":"1.2.0","chapters":[]}`)
			m.Chapters = Prefix(ids["e"]) + "source/chapters.json"
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.c.SetFiles(ctx, ids["a"], func(m *Media) error {
			put(t, b, Prefix(ids["a"])+"poster.jpg", "jpeg")
			m.Poster = Prefix(ids["a"]) + "poster.jpg"
			m.Subtitles = map[string]string{"de": Prefix(ids["a"]) + "de.vtt"}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if _, err := f.c.SetStatus(ctx, ids["c"], StatusFailed, "no file uploaded"); err != nil {
			t.Fatal(err)
		}
		if err := f.c.Delete(ctx, ids["b"]); err != nil {
			t.Fatal(err)
		}

		// Empty the kv store: no counter, no claims, no locks.
		keys, err := k.Keys(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) == 0 {
			t.Fatal("the catalog left nothing in the kv store to remove")
		}
		if err := k.Delete(ctx, keys...); err != nil {
			t.Fatal(err)
		}
		if keys, _ := k.Keys(ctx, ""); len(keys) != 0 {
			t.Fatalf("kv store not empty: %q", keys)
		}

		rebuilt := newCatalog(t, b, k, Options{})
		orig, fresh := f.c.idx.Load(), rebuilt.idx.Load()
		if len(fresh.byID) != 5 {
			t.Errorf("rebuilt %d items; want 5", len(fresh.byID))
		}
		if e, _ := rebuilt.Get(ids["e"]); e.Series != "gesund-leben" || e.Season != 2 || e.Number != 7 || !e.Explicit || e.Chapters != Prefix(ids["e"])+"source/chapters.json" {
			t.Errorf("rebuilt episode %+v", e)
		}
		if d, _ := rebuilt.Get(ids["f"]); d.Category != CategoryPromotional || d.DocVersion != "2026-03" {
			t.Errorf("rebuilt document %+v", d)
		}
		if !reflect.DeepEqual(orig.byID, fresh.byID) || !reflect.DeepEqual(orig.bySlug, fresh.bySlug) || !reflect.DeepEqual(orig.sorted, fresh.sorted) {
			for id, e := range orig.byID {
				if g := fresh.byID[id]; g == nil || !reflect.DeepEqual(e, g) {
					t.Errorf("item %s:\n written %+v\n rebuilt %+v", id, e, g)
				}
			}
			t.Error("the rebuilt index differs")
		}
		for _, q := range []Query{{}, {Viewer: Viewer{Editor: true}}, {Series: "gesund-leben", Viewer: Viewer{Editor: true}}, {Category: CategoryPromotional, Viewer: Viewer{Multiplier: true}}} {
			a, _ := f.c.List(q)
			b, _ := rebuilt.List(q)
			if !reflect.DeepEqual(a, b) {
				t.Errorf("List(%+v): %+v, rebuilt %+v", q, a, b)
			}
		}
		// The rebuilt catalog keeps slugs unique although the claims are gone.
		a, _ := rebuilt.Get(ids["a"])
		_, err = rebuilt.Create(ctx, Meta{Kind: KindVideo, Slug: a.Slug, Title: map[string]string{"en": "x"}, Topic: TopicOther, Audience: AudiencePublic})
		wantInput(t, err, "slug", "slug_taken")
		// ... and writes on.
		if _, err := rebuilt.Update(ctx, ids["c"], 2, m(KindDocument, TopicOther, AudiencePublic, map[string]string{"en": "Notes 2"})); err != nil {
			t.Error(err)
		}
	})
}

// Two nodes on the same stores: a change on one appears on the other.
func TestTwoNodes(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		opt := Options{PollInterval: 20 * time.Millisecond}
		n1, n2 := newCatalog(t, b, k, opt), newCatalog(t, b, k, opt)
		var wg sync.WaitGroup
		wg.Go(func() { n1.Run(ctx) })
		wg.Go(func() { n2.Run(ctx) })
		defer func() { cancel(); wg.Wait() }()

		eventually := func(what string, cond func() bool) {
			t.Helper()
			deadline := time.Now().Add(5 * time.Second)
			for !cond() {
				if time.Now().After(deadline) {
					t.Fatalf("%s: not seen within 5s", what)
				}
				time.Sleep(10 * time.Millisecond)
			}
		}
		it, err := n1.Create(ctx, meta(KindVideo, "Auf Knoten eins"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n1.Get(it.ID); err != nil {
			t.Errorf("the writing node does not see its own write at once: %v", err)
		}
		eventually("create on node 2", func() bool { _, err := n2.Get(it.ID); return err == nil })

		edit := it.Meta.clone()
		edit.Title["de"] = "Auf Knoten zwei geändert"
		if _, err := n2.Update(ctx, it.ID, it.Revision, edit); err != nil {
			t.Fatal(err)
		}
		eventually("update on node 1", func() bool {
			got, _ := n1.Get(it.ID)
			return got.Revision == 2 && got.Title["de"] == "Auf Knoten zwei geändert"
		})
		eventually("search on node 1", func() bool {
			res, _ := n1.Search("geandert", Query{Viewer: Viewer{Editor: true}})
			return res.Total == 1
		})

		// Slugs stay unique across nodes: both create the same title at once.
		var a, bb Item
		var errA, errB error
		var cw sync.WaitGroup
		cw.Go(func() { a, errA = n1.Create(ctx, meta(KindVideo, "Gleicher Titel")) })
		cw.Go(func() { bb, errB = n2.Create(ctx, meta(KindVideo, "Gleicher Titel")) })
		cw.Wait()
		if errA != nil || errB != nil || a.Slug == bb.Slug {
			t.Errorf("concurrent creates: %q %v, %q %v; want two distinct slugs", a.Slug, errA, bb.Slug, errB)
		}

		if err := n2.Delete(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
		eventually("delete on node 1", func() bool { _, err := n1.Get(it.ID); return errors.Is(err, ErrNotFound) })

		// Refresh without Run.
		n3 := newCatalog(t, b, k, Options{})
		c, err := n1.Create(ctx, meta(KindEpisode, "Nur mit Refresh"))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := n3.Get(c.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("node 3 saw the item before refreshing: %v", err)
		}
		if err := n3.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if _, err := n3.Get(c.ID); err != nil {
			t.Errorf("node 3 after Refresh: %v", err)
		}
	})
}

// Run stops when its context ends.
func TestRunStops(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		c := newCatalog(t, b, k, Options{PollInterval: 10 * time.Millisecond})
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() { c.Run(ctx); close(done) }()
		time.Sleep(50 * time.Millisecond)
		cancel()
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			t.Fatal("Run did not return after its context ended")
		}
	})
}

func TestDeleteRemovesEverything(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		c := newCatalog(t, b, k, Options{})
		gone, err := c.Create(ctx, meta(KindVideo, "Weg"))
		if err != nil {
			t.Fatal(err)
		}
		kept, err := c.Create(ctx, meta(KindVideo, "Bleibt"))
		if err != nil {
			t.Fatal(err)
		}
		addFiles(t, c, b, gone.ID, "de", "tr")
		addFiles(t, c, b, kept.ID, "de")
		put(t, b, Prefix(gone.ID)+"uploads/part-1", "unlisted leftover")
		// An item whose ID is a prefix of the other's must not be touched.
		near := "media/" + gone.ID + "x/file"
		put(t, b, near, "other")

		if err := c.Delete(ctx, gone.ID); err != nil {
			t.Fatal(err)
		}
		if left, err := b.List(ctx, Prefix(gone.ID)); err != nil || len(left) != 0 {
			t.Errorf("left under the prefix: %v, %v", left, err)
		}
		if keptFiles, _ := b.List(ctx, Prefix(kept.ID)); len(keptFiles) != 4 {
			t.Errorf("the other item has %d objects; want 4", len(keptFiles))
		}
		if _, err := b.Stat(ctx, near); err != nil {
			t.Errorf("object beside the prefix: %v", err)
		}
		if err := c.Delete(ctx, gone.ID); !errors.Is(err, ErrNotFound) {
			t.Errorf("deleting again: %v", err)
		}
		// A Delete that failed half-way left its marker and some files:
		// deleting again removes them.
		put(t, b, deletingKey(gone.ID), "")
		put(t, b, Prefix(gone.ID)+"de/orphan.ts", "x")
		if err := c.Delete(ctx, gone.ID); err != nil {
			t.Errorf("deleting leftovers: %v", err)
		}
		if left, _ := b.List(ctx, Prefix(gone.ID)); len(left) != 0 {
			t.Errorf("leftovers: %v", left)
		}
		// Without manifest or marker, objects under a prefix are not
		// Delete's business.
		put(t, b, "media/uploads/abc/part-1", "an upload in progress")
		if err := c.Delete(ctx, "uploads"); !errors.Is(err, ErrNotFound) {
			t.Errorf("Delete of a prefix without an item: %v", err)
		}
		if _, err := b.Stat(ctx, "media/uploads/abc/part-1"); err != nil {
			t.Errorf("object under a prefix without an item: %v", err)
		}
	})
}

// Manifests placed in the bucket by hand or damaged: valid ones are
// indexed, invalid ones left out (and logged), and Delete removes them.
func TestForeignManifests(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		demo := `{"format":1,"id":"demo-breathing","kind":"video","slug":"breathing","title":{"en":" Breathing "},
			"topic":"relaxation-and-stress","audience":"public","status":"published","revision":3,
			"created":"2026-01-01T10:00:00Z","updated":"2026-01-02T10:00:00Z","published":"2026-01-02T10:00:00Z",
			"duration_ms":5000,"versions":{"en":{"files":[{"key":"media/demo-breathing/en/master.m3u8","role":"master","size":10,"complete":true}]}}}`
		put(t, b, ManifestKey("demo-breathing"), demo)
		for id, body := range map[string]string{
			"broken":   "{not json",
			"future":   strings.Replace(demo, `"format":1,"id":"demo-breathing"`, `"format":9,"id":"future"`, 1),
			"wrong-id": demo,
			"bad-kind": strings.Replace(strings.Replace(demo, `"kind":"video"`, `"kind":"film"`, 1), "demo-breathing", "bad-kind", -1),
			"escape":   strings.Replace(strings.Replace(demo, "media/demo-breathing/en", "media/other/en", 1), `"id":"demo-breathing"`, `"id":"escape"`, 1),
		} {
			put(t, b, ManifestKey(id), body)
		}
		put(t, b, "media/NOT_AN_ID/manifest.json", demo)
		put(t, b, "media/demo-breathing/en/manifest.json", demo) // not at the top of an item

		var logs bytes.Buffer
		var mu sync.Mutex
		c := newCatalog(t, b, k, Options{Logger: slog.New(slog.NewTextHandler(lockedWriter{&mu, &logs}, nil))})
		all, _ := c.List(Query{Viewer: Viewer{Editor: true}})
		if all.Total != 1 || all.Items[0].ID != "demo-breathing" {
			t.Fatalf("indexed %+v; want only demo-breathing", all.Items)
		}
		it := all.Items[0]
		if it.Title["en"] != "Breathing" || it.Duration != 5*time.Second || it.Revision != 3 || !it.IsPublished() {
			t.Errorf("demo item %+v", it)
		}
		mu.Lock()
		for _, id := range []string{"broken", "future", "wrong-id", "bad-kind", "escape"} {
			if !strings.Contains(logs.String(), "media/"+id+"/manifest.json") {
				t.Errorf("no warning about %s in %s", id, logs.String())
			}
		}
		n := strings.Count(logs.String(), "level=WARN")
		mu.Unlock()
		// Invalid manifests are not read and reported again until they change.
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		mu.Lock()
		if again := strings.Count(logs.String(), "level=WARN"); again != n {
			t.Errorf("a refresh reported the same invalid manifests again (%d warnings, then %d)", n, again)
		}
		mu.Unlock()
		// A repaired manifest is picked up.
		put(t, b, ManifestKey("broken"), strings.Replace(strings.Replace(demo, "demo-breathing", "broken", -1), `"slug":"breathing"`, `"slug":"fixed"`, 1))
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := c.GetBySlug("fixed"); err != nil || got.ID != "broken" {
			t.Errorf("repaired manifest: %+v, %v", got, err)
		}
		// The demo item can be edited; an invalid one can be deleted.
		if _, err := c.Update(ctx, "demo-breathing", 3, it.Meta); err != nil {
			t.Errorf("updating the demo item: %v", err)
		}
		if err := c.Delete(ctx, "future"); err != nil {
			t.Errorf("deleting an invalid item: %v", err)
		}
		if _, err := b.Stat(ctx, ManifestKey("future")); !errors.Is(err, blob.ErrNotFound) {
			t.Errorf("invalid manifest after Delete: %v", err)
		}
	})
}

type lockedWriter struct {
	mu *sync.Mutex
	w  io.Writer
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.w.Write(p)
}

// Two items claiming one slug in the bucket: the older keeps it.
func TestSlugClashInBucket(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		c := newCatalog(t, b, k, Options{Now: newClock().Now})
		older, err := c.Create(ctx, Meta{Kind: KindVideo, Slug: "same", Title: map[string]string{"de": "Alt"}, Topic: TopicOther, Audience: AudiencePublic})
		if err != nil {
			t.Fatal(err)
		}
		newer, err := c.Create(ctx, Meta{Kind: KindVideo, Slug: "other", Title: map[string]string{"de": "Neu"}, Topic: TopicOther, Audience: AudiencePublic})
		if err != nil {
			t.Fatal(err)
		}
		// Someone copies the slug into the newer manifest behind portalo's back.
		r, _, err := b.Open(ctx, ManifestKey(newer.ID))
		if err != nil {
			t.Fatal(err)
		}
		raw, _ := io.ReadAll(r)
		r.Close()
		put(t, b, ManifestKey(newer.ID), strings.Replace(string(raw), `"slug": "other"`, `"slug": "same"`, 1))
		if err := c.Refresh(ctx); err != nil {
			t.Fatal(err)
		}
		if got, err := c.GetBySlug("same"); err != nil || got.ID != older.ID {
			t.Errorf("slug holder %+v, %v; want the older item", got.ID, err)
		}
		if got, _ := c.Get(newer.ID); got.Slug != "same" {
			t.Errorf("newer item's slug %q; the manifest was changed", got.Slug)
		}
	})
}

// A claim left behind by an item that is gone does not block its slug.
func TestStaleSlugClaim(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := context.Background()
		c := newCatalog(t, b, k, Options{})
		claim := func(id string, at time.Time) {
			v, _ := json.Marshal(slugClaim{ID: id, At: at})
			if err := k.Set(ctx, slugPrefix+"walk", v, 0); err != nil {
				t.Fatal(err)
			}
		}
		walk := Meta{Kind: KindVideo, Slug: "walk", Title: map[string]string{"en": "Walk"}, Topic: TopicMovement, Audience: AudiencePublic}
		// A recent claim of an item not written yet is respected ...
		claim("inflight", time.Now())
		_, err := c.Create(ctx, walk)
		wantInput(t, err, "slug", "slug_taken")
		// ... and a derived slug moves on to the next number.
		walk.Slug = ""
		it, err := c.Create(ctx, walk)
		if err != nil || it.Slug != "walk" && it.Slug != "walk-2" {
			t.Errorf("derived slug %q, %v", it.Slug, err)
		}
		if it.Slug != "walk-2" {
			t.Errorf("derived slug %q; want walk-2 while walk is claimed", it.Slug)
		}
		// An old claim whose item does not exist is taken over.
		claim("gone", time.Now().Add(-time.Hour))
		walk.Slug = "walk"
		got, err := c.Create(ctx, walk)
		if err != nil || got.Slug != "walk" {
			t.Errorf("Create over a stale claim: %+v, %v", got.Slug, err)
		}
		v, _ := k.Get(ctx, slugPrefix+"walk")
		var sc slugClaim
		if json.Unmarshal(v, &sc); sc.ID != got.ID {
			t.Errorf("claim after take-over names %q; want %q", sc.ID, got.ID)
		}
	})
}

// Objects that are not manifests (other features' files, uploads in
// progress, files of an item whose manifest is gone) are not items.
func TestIgnoresOtherObjects(t *testing.T) {
	storetest.Blob(t, func(t *testing.T, b blob.Store) {
		ctx := context.Background()
		state, err := boltkv.Open(filepath.Join(t.TempDir(), "state.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { state.Close() })
		for _, key := range []string{
			"documents/manifest.json",
			"mediathek/x/manifest.json",
			"media/manifest.json",
			"media/orphan/de/master.m3u8",
			"media/orphan/manifest.json.tmp",
			"media/uploads/abc/part-1",
		} {
			put(t, b, key, "{}")
		}
		c := newCatalog(t, b, state, Options{})
		if res, _ := c.List(Query{Viewer: Viewer{Editor: true}}); res.Total != 0 {
			t.Errorf("indexed %+v from objects that are no manifests", res.Items)
		}
		// A real item beside them is found.
		it, err := c.Create(ctx, meta(KindDocument, "Echt"))
		if err != nil {
			t.Fatal(err)
		}
		other := newCatalog(t, b, state, Options{})
		if res, _ := other.List(Query{Viewer: Viewer{Editor: true}}); res.Total != 1 || res.Items[0].ID != it.ID {
			t.Errorf("a second catalog found %+v; want the one item", res.Items)
		}
		if _, err := b.Stat(ctx, "media/uploads/abc/part-1"); err != nil {
			t.Errorf("another feature's object: %v", err)
		}
	})
}

// Run also picks up changes that did not bump the counter (a manifest
// edited in the bucket, a kv store that lost the counter) at the resync.
func TestResync(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		c := newCatalog(t, b, k, Options{PollInterval: 10 * time.Millisecond, ResyncInterval: 100 * time.Millisecond})
		var wg sync.WaitGroup
		wg.Go(func() { c.Run(ctx) })
		defer func() { cancel(); wg.Wait() }()
		ver, _ := k.Get(ctx, versionKey)
		demo := `{"format":1,"id":"by-hand","kind":"document","slug":"by-hand","title":{"de":"Von Hand"},
			"topic":"other","audience":"public","status":"draft","revision":1,
			"created":"2026-01-01T10:00:00Z","updated":"2026-01-01T10:00:00Z"}`
		put(t, b, ManifestKey("by-hand"), demo)
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := c.Get("by-hand"); err == nil {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("a manifest put into the bucket was not picked up by the resync")
			}
			time.Sleep(10 * time.Millisecond)
		}
		if now, _ := k.Get(ctx, versionKey); !bytes.Equal(now, ver) {
			t.Errorf("the counter moved (%q → %q); the test wants a change it does not announce", ver, now)
		}
	})
}

// Refreshes running while this node writes never put an older state of a
// written item back into the index.
func TestRefreshDuringWrites(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx, cancel := context.WithCancel(context.Background())
		c := newCatalog(t, b, k, Options{})
		it, err := c.Create(ctx, meta(KindVideo, "Viele Änderungen"))
		if err != nil {
			t.Fatal(err)
		}
		var wg sync.WaitGroup
		var refreshes atomic.Int64
		wg.Go(func() {
			for ctx.Err() == nil {
				if err := c.Refresh(ctx); err != nil && ctx.Err() == nil {
					t.Error(err)
				}
				refreshes.Add(1)
			}
		})
		defer func() { cancel(); wg.Wait() }()
		rev := it.Revision
		for i := range 30 {
			var err error
			var got Item
			if i%3 == 2 {
				// A write elsewhere: the refresh is what brings it in.
				other := newCatalog(t, b, k, Options{})
				got, err = other.SetStatus(ctx, it.ID, []Status{StatusDraft, StatusProcessing}[i%2], strconv.Itoa(i))
				if err == nil {
					if err := c.Refresh(ctx); err != nil {
						t.Fatal(err)
					}
				}
			} else {
				got, err = c.SetStatus(ctx, it.ID, []Status{StatusDraft, StatusProcessing}[i%2], strconv.Itoa(i))
			}
			if err != nil {
				t.Fatal(err)
			}
			rev = got.Revision
			for range 3 {
				if now, _ := c.Get(it.ID); now.Revision < rev {
					t.Fatalf("write %d: index went back to revision %d after %d was written", i, now.Revision, rev)
				}
				time.Sleep(time.Millisecond)
			}
		}
		if refreshes.Load() < 5 {
			t.Errorf("only %d refreshes ran alongside the writes", refreshes.Load())
		}
		// Deletion while refreshing.
		if err := c.Delete(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
		for range 5 {
			if _, err := c.Get(it.ID); !errors.Is(err, ErrNotFound) {
				t.Fatalf("deleted item back in the index: %v", err)
			}
			time.Sleep(2 * time.Millisecond)
		}
	})
}
