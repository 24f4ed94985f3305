package podcasts

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"portalo/internal/storetest"
	"portalo/store/kv"
)

// clock is a test clock that moves on by a minute at every reading.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(time.Minute)
	return c.t
}

func newService(store kv.Store) *Service {
	c := &clock{t: time.Date(2026, 3, 1, 9, 0, 0, 0, time.UTC)}
	return New(store, Options{Now: c.Now})
}

// sampleMeta is a valid series: the participants' quarterly podcast.
func sampleMeta() SeriesMeta {
	return SeriesMeta{
		Title: map[string]string{
			"de": "portALO fragt nach",
			"ar": "بورتالو يسأل",
		},
		Description: map[string]string{
			"de": "Vierteljährlich: Fragen rund um Gesundheit & Alltag.",
			"en": "Quarterly: questions about health & everyday life.",
		},
		Language:    "de",
		Category:    "Health & Fitness",
		Subcategory: "Mental Health",
		Audience:    AudiencePublic,
		Author:      "portALO",
		OwnerEmail:  "podcast@portalo.example",
		Image:       "podcasts/cover.jpg",
		Locked:      true,
	}
}

func inputCode(err error) string {
	var ie *InputError
	if errors.As(err, &ie) {
		return ie.Field + "/" + ie.Code
	}
	return ""
}

func TestSeriesCRUD(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)

		created, err := s.CreateSeries(ctx, sampleMeta())
		if err != nil {
			t.Fatal(err)
		}
		// No English title: the German one gives the slug, umlauts spelt out.
		if created.ID == "" || created.Slug != "portalo-fragt-nach" || created.Created.IsZero() || !created.Updated.Equal(created.Created) {
			t.Fatalf("created: %+v", created)
		}
		got, err := s.GetSeries(ctx, created.ID)
		if err != nil {
			t.Fatal(err)
		}
		if got.Title["ar"] != "بورتالو يسأل" || got.Subcategory != "Mental Health" || !got.Locked || got.Audience != AudiencePublic {
			t.Fatalf("stored series differs: %+v", got)
		}
		if bySlug, err := s.SeriesBySlug(ctx, "portalo-fragt-nach"); err != nil || bySlug.ID != created.ID {
			t.Fatalf("SeriesBySlug = %+v, %v", bySlug, err)
		}

		// Update: texts are trimmed, the slug changes, the old one is free.
		m := sampleMeta()
		m.Slug = "  Fragt-Nach "
		m.Title = map[string]string{"de": "  portALO fragt nach (neu) ", "en": ""}
		m.Audience = AudienceMultipliers
		m.Explicit = true
		upd, err := s.UpdateSeries(ctx, created.ID, m)
		if err != nil {
			t.Fatal(err)
		}
		if upd.Slug != "fragt-nach" || upd.Title["de"] != "portALO fragt nach (neu)" || len(upd.Title) != 1 ||
			!upd.Explicit || upd.Audience != AudienceMultipliers || !upd.Created.Equal(created.Created) || !upd.Updated.After(created.Updated) {
			t.Fatalf("updated: %+v", upd)
		}
		if _, err := s.SeriesBySlug(ctx, "portalo-fragt-nach"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("old slug still resolves: %v", err)
		}
		if got, err := s.SeriesBySlug(ctx, "fragt-nach"); err != nil || got.ID != created.ID {
			t.Fatalf("new slug: %+v, %v", got, err)
		}
		// An empty slug on update keeps the current one.
		m.Slug = ""
		if upd, err = s.UpdateSeries(ctx, created.ID, m); err != nil || upd.Slug != "fragt-nach" {
			t.Fatalf("update without slug: %+v, %v", upd, err)
		}

		// A second series; the list is sorted by title.
		m2 := sampleMeta()
		m2.Title = map[string]string{"en": "Answers for professionals"}
		m2.Audience = AudienceMultipliers
		second, err := s.CreateSeries(ctx, m2)
		if err != nil {
			t.Fatal(err)
		}
		if second.Slug != "answers-for-professionals" {
			t.Fatalf("second slug %q", second.Slug)
		}
		list, err := s.ListSeries(ctx)
		if err != nil {
			t.Fatal(err)
		}
		var ids []string
		for _, sr := range list {
			ids = append(ids, sr.ID)
		}
		if !slices.Equal(ids, []string{second.ID, created.ID}) {
			t.Fatalf("list order %v, want [%s %s]", ids, second.ID, created.ID)
		}

		// Delete frees the slug; unknown and malformed IDs are not found.
		if err := s.DeleteSeries(ctx, created.ID); err != nil {
			t.Fatal(err)
		}
		for _, id := range []string{created.ID, "nope", "", "a:b", "../x"} {
			if _, err := s.GetSeries(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("GetSeries(%q) after delete: %v", id, err)
			}
			if err := s.DeleteSeries(ctx, id); !errors.Is(err, ErrNotFound) {
				t.Errorf("DeleteSeries(%q): %v", id, err)
			}
			if _, err := s.UpdateSeries(ctx, id, sampleMeta()); !errors.Is(err, ErrNotFound) {
				t.Errorf("UpdateSeries(%q): %v", id, err)
			}
		}
		if _, err := s.SeriesBySlug(ctx, "fragt-nach"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("slug of deleted series resolves: %v", err)
		}
		m3 := sampleMeta()
		m3.Slug = "fragt-nach"
		if third, err := s.CreateSeries(ctx, m3); err != nil || third.Slug != "fragt-nach" {
			t.Fatalf("reusing a freed slug: %+v, %v", third, err)
		}
		if list, err = s.ListSeries(ctx); err != nil || len(list) != 2 {
			t.Fatalf("list after delete and create: %d, %v", len(list), err)
		}
	})
}

func TestSeriesValidation(t *testing.T) {
	long := strings.Repeat("x", MaxTitleLen+1)
	tests := []struct {
		name   string
		change func(*SeriesMeta)
		want   string // field/code
	}{
		{"no title", func(m *SeriesMeta) { m.Title = nil }, "title/title_required"},
		{"blank titles", func(m *SeriesMeta) { m.Title = map[string]string{"de": "  ", "en": ""} }, "title/title_required"},
		{"title language", func(m *SeriesMeta) { m.Title["fr"] = "Bonjour" }, "title/text_language_invalid"},
		{"title too long", func(m *SeriesMeta) { m.Title["de"] = long }, "title_de/title_too_long"},
		{"title with line break", func(m *SeriesMeta) { m.Title["de"] = "a\nb" }, "title_de/title_invalid"},
		{"title with control char", func(m *SeriesMeta) { m.Title["de"] = "a\x00b" }, "title_de/title_invalid"},
		{"title invalid UTF-8", func(m *SeriesMeta) { m.Title["de"] = "a\xffb" }, "title_de/title_invalid"},
		{"no description", func(m *SeriesMeta) { m.Description = nil }, "description/description_required"},
		{"description too long", func(m *SeriesMeta) { m.Description["ar"] = strings.Repeat("ي", MaxDescriptionLen/2+1) }, "description_ar/description_too_long"},
		{"description control char", func(m *SeriesMeta) { m.Description["en"] = "a\x1bb" }, "description_en/description_invalid"},
		{"slug uppercase ok but symbols not", func(m *SeriesMeta) { m.Slug = "a_b" }, "slug/slug_invalid"},
		{"slug double hyphen", func(m *SeriesMeta) { m.Slug = "a--b" }, "slug/slug_invalid"},
		{"slug trailing hyphen", func(m *SeriesMeta) { m.Slug = "ab-" }, "slug/slug_invalid"},
		{"slug too long", func(m *SeriesMeta) { m.Slug = strings.Repeat("a", MaxSlugLen+1) }, "slug/slug_invalid"},
		{"slug non-ASCII", func(m *SeriesMeta) { m.Slug = "grüße" }, "slug/slug_invalid"},
		{"slug reserved for the web layer", func(m *SeriesMeta) { m.Slug = "manage" }, "slug/slug_invalid"},
		{"no language", func(m *SeriesMeta) { m.Language = "" }, "language/language_invalid"},
		{"unknown language", func(m *SeriesMeta) { m.Language = "fr" }, "language/language_invalid"},
		{"no category", func(m *SeriesMeta) { m.Category, m.Subcategory = "", "" }, "category/category_invalid"},
		{"unknown category", func(m *SeriesMeta) { m.Category = "Health" }, "category/category_invalid"},
		{"subcategory of another category", func(m *SeriesMeta) { m.Subcategory = "Courses" }, "subcategory/subcategory_invalid"},
		{"subcategory case", func(m *SeriesMeta) { m.Subcategory = "mental health" }, "subcategory/subcategory_invalid"},
		{"no audience", func(m *SeriesMeta) { m.Audience = "" }, "audience/audience_invalid"},
		{"unknown audience", func(m *SeriesMeta) { m.Audience = "trainers" }, "audience/audience_invalid"},
		{"author line break", func(m *SeriesMeta) { m.Author = "a\nb" }, "author/author_invalid"},
		{"author too long", func(m *SeriesMeta) { m.Author = long }, "author/author_too_long"},
		{"e-mail without @", func(m *SeriesMeta) { m.OwnerEmail = "podcast.portalo.example" }, "owner_email/owner_email_invalid"},
		{"e-mail with name", func(m *SeriesMeta) { m.OwnerEmail = "P <p@portalo.example>" }, "owner_email/owner_email_invalid"},
		{"e-mail without dotted domain", func(m *SeriesMeta) { m.OwnerEmail = "p@localhost" }, "owner_email/owner_email_invalid"},
		{"image absolute path", func(m *SeriesMeta) { m.Image = "/etc/passwd" }, "image/image_invalid"},
		{"image dot segment", func(m *SeriesMeta) { m.Image = "podcasts/../secret" }, "image/image_invalid"},
		{"image with space", func(m *SeriesMeta) { m.Image = "a b.jpg" }, "image/image_invalid"},
	}
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)
		base, err := s.CreateSeries(ctx, sampleMeta())
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range tests {
			t.Run(tc.name, func(t *testing.T) {
				m := sampleMeta()
				tc.change(&m)
				if _, err := s.CreateSeries(ctx, m); inputCode(err) != tc.want {
					t.Errorf("CreateSeries: %v, want %s", err, tc.want)
				}
				if _, err := s.UpdateSeries(ctx, base.ID, m); inputCode(err) != tc.want {
					t.Errorf("UpdateSeries: %v, want %s", err, tc.want)
				}
			})
		}
		// Nothing of the refused requests was stored.
		list, err := s.ListSeries(ctx)
		if err != nil || len(list) != 1 || list[0].Slug != base.Slug || list[0].Title["de"] != base.Title["de"] {
			t.Fatalf("after refused requests: %+v, %v", list, err)
		}
		if keys, _ := store.Keys(ctx, slugPrefix); len(keys) != 1 {
			t.Fatalf("slug keys left by refused requests: %v", keys)
		}
		// Valid edge cases are accepted.
		m := sampleMeta()
		m.Slug, m.OwnerEmail, m.Image, m.Author, m.Subcategory, m.Category = "", "", "", "", "", "Government"
		m.Title = map[string]string{"de": strings.Repeat("ä", MaxTitleLen)}
		if _, err := s.CreateSeries(ctx, m); err != nil {
			t.Fatalf("edge case refused: %v", err)
		}
	})
}

func TestSlugUniqueness(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)
		m := sampleMeta()
		m.Slug = "fragt-nach"
		first, err := s.CreateSeries(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.CreateSeries(ctx, m); inputCode(err) != "slug/slug_taken" {
			t.Fatalf("second create with the same slug: %v", err)
		}
		m.Slug = "other"
		other, err := s.CreateSeries(ctx, m)
		if err != nil {
			t.Fatal(err)
		}
		m.Slug = "fragt-nach"
		if _, err := s.UpdateSeries(ctx, other.ID, m); inputCode(err) != "slug/slug_taken" {
			t.Fatalf("update to a taken slug: %v", err)
		}
		if got, err := s.GetSeries(ctx, other.ID); err != nil || got.Slug != "other" {
			t.Fatalf("refused update changed the series: %+v, %v", got, err)
		}
		// Updating a series with its own slug is fine.
		if _, err := s.UpdateSeries(ctx, first.ID, m); err != nil {
			t.Fatalf("update keeping its slug: %v", err)
		}

		// Derived slugs are made unique; Cyrillic is transliterated; an
		// Arabic title alone gives a slug from the ID.
		derived := []struct {
			title map[string]string
			want  string
		}{
			{map[string]string{"de": "Gesundheit für alle"}, "gesundheit-fuer-alle"},
			{map[string]string{"de": "Gesundheit für alle!"}, "gesundheit-fuer-alle-2"},
			{map[string]string{"en": "Gesundheit fuer alle", "de": "Anders"}, "gesundheit-fuer-alle-3"},
			{map[string]string{"ru": "Здоровье для всех"}, "zdorove-dlya-vsekh"},
			{map[string]string{"tr": "Sağlık İçin"}, "saglik-icin"},
			{map[string]string{"en": "Private"}, "private-podcast"},
		}
		for _, d := range derived {
			m := sampleMeta()
			m.Title = d.title
			sr, err := s.CreateSeries(ctx, m)
			if err != nil || sr.Slug != d.want {
				t.Errorf("derived slug for %v = %q, %v; want %q", d.title, sr.Slug, err, d.want)
			}
		}
		m = sampleMeta()
		m.Title = map[string]string{"ar": "بورتالو يسأل"}
		sr, err := s.CreateSeries(ctx, m)
		if err != nil || sr.Slug != "podcast-"+sr.ID || !ValidSlug(sr.Slug) {
			t.Errorf("Arabic-only title: slug %q, %v", sr.Slug, err)
		}

		// Concurrent creates with one slug: exactly one wins.
		const n = 6
		var wg sync.WaitGroup
		errs := make([]error, n)
		for i := range n {
			wg.Go(func() {
				m := sampleMeta()
				m.Slug = "race"
				_, errs[i] = s.CreateSeries(ctx, m)
			})
		}
		wg.Wait()
		won := 0
		for _, err := range errs {
			switch {
			case err == nil:
				won++
			case inputCode(err) != "slug/slug_taken":
				t.Errorf("concurrent create: %v", err)
			}
		}
		if won != 1 {
			t.Fatalf("%d concurrent creates with one slug succeeded, want 1", won)
		}
	})
}

func TestCategories(t *testing.T) {
	cats := AppleCategories()
	if len(cats) != 19 {
		t.Errorf("%d top-level categories, want Apple's 19", len(cats))
	}
	cats[0].Subcategories[0] = "changed" // a copy: the package's list stays
	if !ValidCategory("Arts", "Books") || ValidCategory("Arts", "changed") {
		t.Error("AppleCategories returned the package's own list")
	}
	tests := []struct {
		cat, sub string
		want     bool
	}{
		{"Health & Fitness", "", true},
		{"Health & Fitness", "Mental Health", true},
		{"Health & Fitness", "Nutrition", true},
		{"Health & Fitness", "Fitness", true},
		{"Health & Fitness", "Alternative Health", true},
		{"Health & Fitness", "Medicine", true},
		{"Health & Fitness", "Sexuality", true},
		{"Education", "Self-Improvement", true},
		{"Society & Culture", "Relationships", true},
		{"Government", "", true},
		{"Government", "Local", false},
		{"Kids & Family", "Parenting", true},
		{"TV & Film", "After Shows", true},
		{"Health", "", false},
		{"", "", false},
		{"", "Mental Health", false},
		{"health & fitness", "", false},
		{"Education", "Mental Health", false},
	}
	for _, tc := range tests {
		if got := ValidCategory(tc.cat, tc.sub); got != tc.want {
			t.Errorf("ValidCategory(%q, %q) = %v, want %v", tc.cat, tc.sub, got, tc.want)
		}
	}
	choices := CategoryChoices()
	total := 0
	for _, c := range cats {
		total += 1 + len(c.Subcategories)
	}
	if len(choices) != total || choices[0] != (CategoryChoice{"Arts", ""}) || choices[1] != (CategoryChoice{"Arts", "Books"}) {
		t.Fatalf("choices: %d (want %d), starting %v", len(choices), total, choices[:2])
	}
	for _, c := range choices {
		cat, sub, ok := ParseCategoryValue(c.Value())
		if !ok || cat != c.Category || sub != c.Subcategory {
			t.Errorf("ParseCategoryValue(%q) = %q, %q, %v", c.Value(), cat, sub, ok)
		}
	}
	for _, v := range []string{"", "Health", "Health & Fitness > ", "Health & Fitness > Books", " > Books"} {
		if _, _, ok := ParseCategoryValue(v); ok {
			t.Errorf("ParseCategoryValue(%q) accepted", v)
		}
	}
	if got := (CategoryChoice{"Health & Fitness", "Mental Health"}).Value(); got != "Health & Fitness > Mental Health" {
		t.Errorf("Value = %q", got)
	}
}

// TestKeepFeedGUID: the first GUID given is kept for good, through a new
// slug too; a feed renders the kept one whatever URL it is made for.
func TestKeepFeedGUID(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store)
		sr, err := s.CreateSeries(ctx, sampleMeta())
		if err != nil {
			t.Fatal(err)
		}
		first, second := FeedGUID("https://a.example/podcasts/x/feed.xml"), FeedGUID("https://b.example/podcasts/y/feed.xml")
		for _, give := range []string{first, second} {
			if got, err := s.KeepFeedGUID(ctx, sr.ID, give); err != nil || got != first {
				t.Fatalf("KeepFeedGUID(%s) = %q, %v; want the first, %s", give, got, err, first)
			}
		}
		m := sr.SeriesMeta
		m.Slug = "ganz-neu"
		if _, err := s.UpdateSeries(ctx, sr.ID, m); err != nil {
			t.Fatal(err)
		}
		got, err := s.GetSeries(ctx, sr.ID)
		if err != nil || got.FeedGUID != first || got.Slug != "ganz-neu" {
			t.Fatalf("after a new slug: GUID %q slug %q (%v)", got.FeedGUID, got.Slug, err)
		}
		f := sampleFeed()
		f.Series = got
		body, err := RenderFeed(f)
		if err != nil || !strings.Contains(string(body), "<podcast:guid>"+first+"</podcast:guid>") {
			t.Fatalf("the feed does not carry the kept GUID (%v)", err)
		}
		for _, tc := range []struct{ id, guid string }{{sr.ID, "not-a-uuid"}, {"nope", first}, {"", first}} {
			if _, err := s.KeepFeedGUID(ctx, tc.id, tc.guid); err == nil {
				t.Errorf("KeepFeedGUID(%q, %q) took it", tc.id, tc.guid)
			}
		}
	})
}
