package podcasts

import (
	"bytes"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"
	ext "github.com/mmcdole/gofeed/extensions"
)

var update = flag.Bool("update", false, "rewrite the golden feeds in testdata")

const (
	site      = "https://portalo.example"
	publicURL = site + "/podcasts/fragt-nach/feed.xml"
	token     = "tok3nT0k3nT0k3nT0k3nT0k3nT0k3nT0k3nT0k3nXYZ"
)

func sampleSeries() Series {
	return Series{
		ID:         "s1",
		SeriesMeta: sampleMeta(),
		Created:    time.Date(2026, 1, 5, 10, 0, 0, 0, time.UTC),
		Updated:    time.Date(2026, 3, 1, 10, 0, 0, 0, time.UTC),
	}
}

// sampleFeed is a public feed with two episodes, given oldest first: the
// first of season 1, episode 1 with a transcript in two languages and
// chapters; the second a video without season or number.
func sampleFeed() Feed {
	return Feed{
		Series:   sampleSeries(),
		SelfURL:  publicURL,
		SiteURL:  site + "/podcasts/fragt-nach",
		ImageURL: site + "/podcasts/fragt-nach/cover.jpg",
		Lang:     "de",
		Updated:  time.Date(2026, 4, 2, 8, 30, 0, 0, time.UTC),
		Episodes: []Episode{
			{
				GUID:            "item-0001",
				Title:           "Folge 1: Schlaf & Stress",
				Description:     "Wie schlafen wir besser? Tipps für <alle>.",
				Link:            site + "/mediathek/schlaf-und-stress",
				EnclosureURL:    site + "/media/item-0001/audio.m4a",
				EnclosureLength: 12345678,
				EnclosureType:   "audio/mp4",
				Published:       time.Date(2026, 1, 15, 7, 0, 0, 0, time.FixedZone("CET", 3600)),
				Duration:        31*time.Minute + 7*time.Second + 400*time.Millisecond,
				Season:          1,
				Number:          1,
				Transcripts: []Transcript{
					{URL: site + "/media/item-0001/de.vtt", Language: "de"},
					{URL: site + "/media/item-0001/en.vtt", Language: "en", Captions: true},
				},
				ChaptersURL: site + "/media/item-0001/chapters.json",
			},
			{
				GUID:            "item-0002",
				Title:           "Bewegung im Alltag (Video)",
				Description:     "Kleine Übungen für zwischendurch.",
				EnclosureURL:    site + "/media/item-0002/video.mp4",
				EnclosureLength: 98765432,
				EnclosureType:   "video/mp4",
				Published:       time.Date(2026, 4, 1, 6, 0, 0, 0, time.UTC),
				Duration:        12 * time.Minute,
				ImageURL:        site + "/media/item-0002/poster.jpg",
				Explicit:        true,
			},
		},
	}
}

// samplePrivateFeed is the professionals' feed of one multiplier: the
// token is in every URL but not in podcast:guid.
func samplePrivateFeed() Feed {
	f := sampleFeed()
	f.Series.Title = map[string]string{"de": "portALO für Fachkräfte", "en": "portALO for professionals"}
	f.Series.Audience = AudienceMultipliers
	f.Series.Category, f.Series.Subcategory = "Education", "Courses"
	f.Series.OwnerEmail = ""
	f.Series.Locked = false
	f.Lang = "en"
	f.Private = true
	f.GUIDURL = site + "/podcasts/fachkraefte/feed.xml"
	f.SelfURL = site + "/podcasts/fachkraefte/feed/" + token + ".xml"
	f.SiteURL = site + "/podcasts/fachkraefte"
	f.ImageURL = site + "/podcasts/fachkraefte/cover.jpg"
	for i := range f.Episodes {
		e := &f.Episodes[i]
		e.EnclosureURL = strings.Replace(e.EnclosureURL, "/media/", "/podcasts/private/"+token+"/", 1)
	}
	return f
}

func TestFeedGolden(t *testing.T) {
	tests := []struct {
		name string
		feed Feed
	}{
		{"public", sampleFeed()},
		{"private", samplePrivateFeed()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got, err := RenderFeed(tc.feed)
			if err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.name+".xml")
			if *update {
				if err := os.WriteFile(path, got, 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatalf("%v (run with -update to write it)", err)
			}
			if !bytes.Equal(got, want) {
				t.Errorf("feed differs from %s (run with -update after checking):\n%s", path, got)
			}
			// Rendering is deterministic, and so is its ETag.
			again, _ := RenderFeed(tc.feed)
			if !bytes.Equal(again, got) || FeedETag(again) != FeedETag(got) {
				t.Error("rendering twice gave different bytes")
			}
		})
	}
}

func parseFeed(t *testing.T, f Feed) *gofeed.Feed {
	t.Helper()
	b, err := RenderFeed(f)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := gofeed.NewParser().ParseString(string(b))
	if err != nil {
		t.Fatalf("gofeed cannot parse the feed: %v\n%s", err, b)
	}
	if parsed.FeedType != "rss" || parsed.FeedVersion != "2.0" {
		t.Fatalf("parsed as %s %s", parsed.FeedType, parsed.FeedVersion)
	}
	return parsed
}

// ext1 returns the only extension element prefix:name of exts, or fails.
func ext1(exts ext.Extensions, prefix, name string) (ext.Extension, error) {
	els := exts[prefix][name]
	if len(els) != 1 {
		return ext.Extension{}, fmt.Errorf("%d %s:%s elements, want 1", len(els), prefix, name)
	}
	return els[0], nil
}

func wantExt(exts ext.Extensions, prefix, name, value string, attrs map[string]string) error {
	el, err := ext1(exts, prefix, name)
	if err != nil {
		return err
	}
	if el.Value != value {
		return fmt.Errorf("%s:%s = %q, want %q", prefix, name, el.Value, value)
	}
	for k, v := range attrs {
		if el.Attrs[k] != v {
			return fmt.Errorf("%s:%s %s=%q, want %q", prefix, name, k, el.Attrs[k], v)
		}
	}
	if len(el.Attrs) != len(attrs) {
		return fmt.Errorf("%s:%s has attributes %v, want %v", prefix, name, el.Attrs, attrs)
	}
	return nil
}

// TestFeedPSP1 parses the rendered feeds with gofeed and checks PSP-1's
// required elements and the recommended ones rendered, one by one.
func TestFeedPSP1(t *testing.T) {
	pub, priv := sampleFeed(), samplePrivateFeed()
	feeds := map[string]*gofeed.Feed{"public": parseFeed(t, pub), "private": parseFeed(t, priv)}
	check := func(errs ...error) error {
		for _, err := range errs {
			if err != nil {
				return err
			}
		}
		return nil
	}
	channel := []struct {
		name  string
		feed  string
		check func(f *gofeed.Feed) error
	}{
		{"atom:link rel=self", "public", func(f *gofeed.Feed) error {
			return check(wantExt(f.Extensions, "atom", "link", "", map[string]string{"href": publicURL, "rel": "self", "type": "application/rss+xml"}),
				eq("FeedLink", f.FeedLink, publicURL))
		}},
		{"title", "public", func(f *gofeed.Feed) error { return eq("title", f.Title, "portALO fragt nach") }},
		{"description", "public", func(f *gofeed.Feed) error {
			return eq("description", f.Description, "Vierteljährlich: Fragen rund um Gesundheit & Alltag.")
		}},
		{"link", "public", func(f *gofeed.Feed) error { return eq("link", f.Link, site+"/podcasts/fragt-nach") }},
		{"language", "public", func(f *gofeed.Feed) error { return eq("language", f.Language, "de") }},
		{"itunes:category", "public", func(f *gofeed.Feed) error {
			c := f.ITunesExt.Categories
			if len(c) != 1 || c[0].Text != "Health & Fitness" || c[0].Subcategory == nil || c[0].Subcategory.Text != "Mental Health" {
				return fmt.Errorf("categories %+v", c)
			}
			if !ValidCategory(c[0].Text, c[0].Subcategory.Text) {
				return fmt.Errorf("not in Apple's list")
			}
			return nil
		}},
		{"itunes:explicit", "public", func(f *gofeed.Feed) error { return eq("itunes:explicit", f.ITunesExt.Explicit, "false") }},
		{"itunes:image", "public", func(f *gofeed.Feed) error {
			return check(eq("itunes:image", f.ITunesExt.Image, pub.ImageURL), eq("image", f.Image.URL, pub.ImageURL))
		}},
		{"podcast:guid", "public", func(f *gofeed.Feed) error {
			return wantExt(f.Extensions, "podcast", "guid", FeedGUID(publicURL), nil)
		}},
		{"podcast:locked with owner", "public", func(f *gofeed.Feed) error {
			return wantExt(f.Extensions, "podcast", "locked", "yes", map[string]string{"owner": "podcast@portalo.example"})
		}},
		{"itunes:author", "public", func(f *gofeed.Feed) error { return eq("itunes:author", f.ITunesExt.Author, "portALO") }},
		{"itunes:owner", "public", func(f *gofeed.Feed) error {
			if o := f.ITunesExt.Owner; o == nil || o.Email != "podcast@portalo.example" || o.Name != "portALO" {
				return fmt.Errorf("owner %+v", o)
			}
			return nil
		}},
		{"itunes:type", "public", func(f *gofeed.Feed) error { return eq("itunes:type", f.ITunesExt.Type, "episodic") }},
		{"lastBuildDate", "public", func(f *gofeed.Feed) error {
			if f.UpdatedParsed == nil || !f.UpdatedParsed.Equal(pub.Updated) {
				return fmt.Errorf("lastBuildDate %v", f.UpdatedParsed)
			}
			return nil
		}},
		{"public is not blocked", "public", func(f *gofeed.Feed) error {
			if f.ITunesExt.Block != "" || len(f.Extensions["podcast"]["block"]) != 0 {
				return fmt.Errorf("public feed blocked")
			}
			return nil
		}},
		{"private: itunes:block", "private", func(f *gofeed.Feed) error { return eq("itunes:block", f.ITunesExt.Block, "Yes") }},
		{"private: podcast:block", "private", func(f *gofeed.Feed) error {
			return wantExt(f.Extensions, "podcast", "block", "yes", nil)
		}},
		{"private: podcast:guid from the public URL form", "private", func(f *gofeed.Feed) error {
			el, err := ext1(f.Extensions, "podcast", "guid")
			if err != nil {
				return err
			}
			if el.Value != FeedGUID(priv.GUIDURL) || el.Value == FeedGUID(priv.SelfURL) {
				return fmt.Errorf("guid %s computed from the token URL", el.Value)
			}
			return nil
		}},
		{"private: self link carries the token", "private", func(f *gofeed.Feed) error { return eq("FeedLink", f.FeedLink, priv.SelfURL) }},
		{"private: title in the chosen language", "private", func(f *gofeed.Feed) error {
			return check(eq("title", f.Title, "portALO for professionals"), eq("language", f.Language, "de"))
		}},
		{"private: locked without owner", "private", func(f *gofeed.Feed) error {
			return wantExt(f.Extensions, "podcast", "locked", "no", nil)
		}},
	}
	for _, tc := range channel {
		t.Run("channel/"+tc.name, func(t *testing.T) {
			if err := tc.check(feeds[tc.feed]); err != nil {
				t.Error(err)
			}
		})
	}

	// Items, newest first.
	for name, f := range feeds {
		src := pub
		if name == "private" {
			src = priv
		}
		if len(f.Items) != 2 {
			t.Fatalf("%s: %d items", name, len(f.Items))
		}
		newest, oldest := src.Episodes[1], src.Episodes[0]
		for i, e := range []Episode{newest, oldest} {
			it := f.Items[i]
			t.Run(fmt.Sprintf("%s/item%d", name, i), func(t *testing.T) {
				if err := eq("title", it.Title, e.Title); err != nil {
					t.Error(err)
				}
				if len(it.Enclosures) != 1 {
					t.Fatalf("%d enclosures", len(it.Enclosures))
				}
				enc := it.Enclosures[0]
				if enc.URL != e.EnclosureURL || enc.Length != fmt.Sprint(e.EnclosureLength) || enc.Type != e.EnclosureType {
					t.Errorf("enclosure %+v", enc)
				}
				if name == "private" && !strings.Contains(enc.URL, token) {
					t.Errorf("private enclosure without token: %s", enc.URL)
				}
				if err := eq("guid", it.GUID, e.GUID); err != nil {
					t.Error(err)
				}
				if it.PublishedParsed == nil || !it.PublishedParsed.Equal(e.Published) {
					t.Errorf("pubDate %q parsed %v, want %v", it.Published, it.PublishedParsed, e.Published)
				}
				if it.ITunesExt == nil {
					t.Fatal("no itunes elements")
				}
				wantDur := fmt.Sprint(int(e.Duration.Round(time.Second).Seconds()))
				if err := eq("itunes:duration", it.ITunesExt.Duration, wantDur); err != nil {
					t.Error(err)
				}
				if err := eq("itunes:episodeType", it.ITunesExt.EpisodeType, "full"); err != nil {
					t.Error(err)
				}
				if err := eq("description", it.Description, e.Description); err != nil {
					t.Error(err)
				}
			})
		}
		t.Run(name+"/item with season, number, transcripts, chapters", func(t *testing.T) {
			it := f.Items[1]
			if it.ITunesExt.Season != "1" || it.ITunesExt.Episode != "1" || it.ITunesExt.Duration != "1867" {
				t.Errorf("season %q episode %q duration %q", it.ITunesExt.Season, it.ITunesExt.Episode, it.ITunesExt.Duration)
			}
			if it.Link != oldest.Link {
				t.Errorf("link %q", it.Link)
			}
			tr := it.Extensions["podcast"]["transcript"]
			if len(tr) != 2 ||
				tr[0].Attrs["url"] != oldest.Transcripts[0].URL || tr[0].Attrs["type"] != "text/vtt" || tr[0].Attrs["language"] != "de" || tr[0].Attrs["rel"] != "" ||
				tr[1].Attrs["url"] != oldest.Transcripts[1].URL || tr[1].Attrs["type"] != "text/vtt" || tr[1].Attrs["language"] != "en" || tr[1].Attrs["rel"] != "captions" {
				t.Errorf("transcripts %+v", tr)
			}
			if err := wantExt(it.Extensions, "podcast", "chapters", "", map[string]string{"url": oldest.ChaptersURL, "type": "application/json+chapters"}); err != nil {
				t.Error(err)
			}
		})
		t.Run(name+"/item without season, number, transcripts, chapters", func(t *testing.T) {
			it := f.Items[0]
			if it.ITunesExt.Season != "" || it.ITunesExt.Episode != "" || len(it.Extensions["podcast"]) != 0 {
				t.Errorf("season %q episode %q podcast elements %v", it.ITunesExt.Season, it.ITunesExt.Episode, it.Extensions["podcast"])
			}
			if it.ITunesExt.Image != newest.ImageURL {
				t.Errorf("itunes:image %q", it.ITunesExt.Image)
			}
			if it.ITunesExt.Explicit != "true" || f.Items[1].ITunesExt.Explicit != "" {
				t.Errorf("itunes:explicit of the explicit episode %q, of the other %q", it.ITunesExt.Explicit, f.Items[1].ITunesExt.Explicit)
			}
		})
	}
}

func eq(what, got, want string) error {
	if got != want {
		return fmt.Errorf("%s = %q, want %q", what, got, want)
	}
	return nil
}

func TestFeedGUID(t *testing.T) {
	tests := []struct{ url, want string }{
		// The examples of the Podcast Index's podcast:guid documentation.
		{"https://mp3s.nashownotes.com/pc20rss.xml", "917393e3-1b1e-5cef-ace4-edaa54e1f810"},
		{"podnews.net/rss", "9b024349-ccf0-5f69-a609-6b82873eab3c"},
		// The scheme and trailing slashes do not count.
		{"http://mp3s.nashownotes.com/pc20rss.xml", "917393e3-1b1e-5cef-ace4-edaa54e1f810"},
		{"mp3s.nashownotes.com/pc20rss.xml//", "917393e3-1b1e-5cef-ace4-edaa54e1f810"},
		{"https://podnews.net/rss/", "9b024349-ccf0-5f69-a609-6b82873eab3c"},
	}
	for _, tc := range tests {
		if got := FeedGUID(tc.url); got != tc.want {
			t.Errorf("FeedGUID(%q) = %s, want %s", tc.url, got, tc.want)
		}
	}
	if FeedGUID("https://a.example/feed") == FeedGUID("https://b.example/feed") {
		t.Error("different feeds, same GUID")
	}
}

func TestFeedETag(t *testing.T) {
	a, b := FeedETag([]byte("<rss/>")), FeedETag([]byte("<rss />"))
	if a == b || a != FeedETag([]byte("<rss/>")) {
		t.Errorf("ETags %s, %s", a, b)
	}
	if len(a) < 20 || !strings.HasPrefix(a, `"`) || !strings.HasSuffix(a, `"`) || strings.HasPrefix(a, "W/") ||
		strings.ContainsAny(a[1:len(a)-1], `" `) {
		t.Errorf("not a strong ETag: %s", a)
	}
}

// TestFeedEscaping renders titles and descriptions with markup characters
// and right-to-left and Cyrillic text and checks they parse back unchanged.
func TestFeedEscaping(t *testing.T) {
	tests := []struct{ name, title, desc string }{
		{"markup", `Fish & Chips <b>bold</b> "quoted" 'single'`, `a < b && c > d; <script>alert("x")</script>`},
		{"entity-like", "&amp; &lt; &#34;", "]]> <![CDATA[ x ]]>"},
		{"arabic", "بورتالو يسأل: الصحة والنوم", "سلسلة فصلية عن الصحة & الحياة اليومية."},
		{"cyrillic", "Здоровье и «сон»", "Ежеквартально: вопросы о здоровье <и> быте."},
		{"turkish", "Sağlık & İyi Uyku", "Çeyrek yıllık: \"sağlık\" hakkında sorular."},
		{"multi-line description", "Zeilen", "erste Zeile\nzweite Zeile\n\tdritte"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := sampleFeed()
			f.Series.Title = map[string]string{"de": tc.title}
			f.Series.Description = map[string]string{"de": tc.desc}
			f.Episodes[0].Title = tc.title
			f.Episodes[0].Description = tc.desc
			f.Episodes[1].Title = tc.title + " 2"
			f.Episodes[0].EnclosureURL += "?a=1&b=2"
			p := parseFeed(t, f)
			if p.Title != tc.title || p.Description != tc.desc || p.Image.Title != tc.title {
				t.Errorf("channel: title %q, description %q, image title %q", p.Title, p.Description, p.Image.Title)
			}
			it := p.Items[1]
			if it.Title != tc.title || it.Description != tc.desc || p.Items[0].Title != tc.title+" 2" {
				t.Errorf("item: title %q, description %q", it.Title, it.Description)
			}
			if it.Enclosures[0].URL != f.Episodes[0].EnclosureURL {
				t.Errorf("enclosure URL %q", it.Enclosures[0].URL)
			}
		})
	}
}

func TestFeedRefusesInvalid(t *testing.T) {
	tests := []struct {
		name   string
		change func(*Feed)
		want   string // in the error
	}{
		{"no image URL", func(f *Feed) { f.ImageURL = "" }, "image URL"},
		{"relative image URL", func(f *Feed) { f.ImageURL = "/cover.jpg" }, "image URL"},
		{"no self URL", func(f *Feed) { f.SelfURL = "" }, "feed URL"},
		{"self URL not http", func(f *Feed) { f.SelfURL = "ftp://x.example/feed" }, "feed URL"},
		{"no site URL", func(f *Feed) { f.SiteURL = "" }, "site URL"},
		{"no title", func(f *Feed) { f.Series.Title = nil }, "no title"},
		{"no description", func(f *Feed) { f.Series.Description = map[string]string{"de": " "} }, "no description"},
		{"bad language", func(f *Feed) { f.Series.Language = "xx" }, "language"},
		{"no category", func(f *Feed) { f.Series.Category, f.Series.Subcategory = "", "" }, "category"},
		{"bad subcategory", func(f *Feed) { f.Series.Subcategory = "Drama" }, "category"},
		{"episode without GUID", func(f *Feed) { f.Episodes[0].GUID = " " }, "no GUID"},
		{"episode without title", func(f *Feed) { f.Episodes[1].Title = "" }, "no title"},
		{"episode without enclosure length", func(f *Feed) { f.Episodes[0].EnclosureLength = 0 }, "enclosure length"},
		{"episode without enclosure URL", func(f *Feed) { f.Episodes[0].EnclosureURL = "" }, "enclosure URL"},
		{"episode without enclosure type", func(f *Feed) { f.Episodes[0].EnclosureType = "" }, "enclosure type"},
		{"episode with a text enclosure", func(f *Feed) { f.Episodes[0].EnclosureType = "text/html" }, "enclosure type"},
		{"negative season", func(f *Feed) { f.Episodes[0].Season = -1 }, "negative"},
		{"relative transcript URL", func(f *Feed) { f.Episodes[0].Transcripts[0].URL = "de.vtt" }, "transcript URL"},
		{"bad transcript language", func(f *Feed) { f.Episodes[0].Transcripts[0].Language = "d e" }, "transcript language"},
		{"relative chapters URL", func(f *Feed) { f.Episodes[0].ChaptersURL = "chapters.json" }, "chapters URL"},
		{"duplicate GUID", func(f *Feed) { f.Episodes[1].GUID = f.Episodes[0].GUID }, "GUID used twice"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			f := sampleFeed()
			tc.change(&f)
			b, err := RenderFeed(f)
			if err == nil || b != nil || !strings.Contains(err.Error(), tc.want) {
				t.Errorf("RenderFeed = %d bytes, %v; want an error about %q", len(b), err, tc.want)
			}
		})
	}
	// A feed without episodes is valid (a new series).
	f := sampleFeed()
	f.Episodes = nil
	if _, err := RenderFeed(f); err != nil {
		t.Errorf("empty feed: %v", err)
	}
}
