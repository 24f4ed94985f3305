package web

import (
	"bytes"
	"context"
	"fmt"
	"image"
	"image/color"
	"image/png"
	"io"
	"log/slog"
	"mime/multipart"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/mmcdole/gofeed"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/downloads"
	"portalo/internal/storetest"
	"portalo/podcasts"
	"portalo/store/blob"
	"portalo/store/kv"
	"portalo/web/i18n"
)

// podcastHarness is a portal with the mediathek, the podcasts and the
// download counter on real stores.
type podcastHarness struct {
	*mediaHarness
	pods   *podcasts.Service
	counts *downloads.Counter
}

// podcastStores runs fn in both deployments: dirblob and the embedded
// store, MinIO and Redis.
func podcastStores(t *testing.T, fn func(t *testing.T, h *podcastHarness)) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		mh := newMediaHarness(t, b, k, "")
		h := &podcastHarness{mediaHarness: mh, pods: podcasts.New(k, podcasts.Options{}), counts: downloads.New(k, downloads.Options{})}
		msgs, err := i18n.Load()
		if err != nil {
			t.Fatal(err)
		}
		h.srv, err = New(Config{
			Accounts:     mh.accts,
			Catalog:      msgs,
			Logger:       slog.New(slog.NewJSONHandler(mh.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
			MaxBodyBytes: 256 << 10,
			Mediathek:    mh.cat,
			Objects:      b,
			Podcasts:     h.pods,
			Downloads:    h.counts,
		})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, h)
	})
}

func (h *podcastHarness) series(t *testing.T, slug string, audience podcasts.Audience) podcasts.Series {
	t.Helper()
	sr, err := h.pods.CreateSeries(context.Background(), podcasts.SeriesMeta{
		Slug:        slug,
		Title:       map[string]string{"de": "portALO fragt nach " + slug, "en": "portALO asks " + slug},
		Description: map[string]string{"de": "Gespräche über Gesundheit.", "en": "Conversations about health."},
		Language:    "de", Category: "Health & Fitness", Subcategory: "Mental Health",
		Audience: audience, Author: "portALO", OwnerEmail: "podcast@example.org",
	})
	if err != nil {
		t.Fatal(err)
	}
	return sr
}

// episodeAudio is the content of a synthetic episode's M4A: size bytes in
// which every position is recognisable.
func episodeAudio(size int) []byte {
	b := make([]byte, size)
	for i := range b {
		b[i] = byte(i*13 + i/251)
	}
	return b
}

const episodeChapters = `{"version":"1.2.0","chapters":[{"startTime":0,"title":"Begrüßung"},{"startTime":65.5,"title":"Schlaf und Stress"}]}`
const episodeVTT = "WEBVTT\n\nNOTE a comment\n\n1\n00:00:00.000 --> 00:00:04.000\n<v Anna>Willkommen bei portALO fragt nach.\n\n00:01:05.500 --> 00:01:09.000\nHeute geht es um Schlaf.\n"

type episodeSpec struct {
	slug           string
	series         podcasts.Series
	audience       catalog.Audience
	season, number int
	size           int
	duration       time.Duration
	extras         bool // transcript and chapters
	draft          bool
}

// addEpisode creates an episode with a German M4A download (and, with
// extras, a German WebVTT transcript and JSON chapters) and publishes it
// unless draft.
func (h *podcastHarness) addEpisode(t *testing.T, e episodeSpec) catalog.Item {
	t.Helper()
	ctx := context.Background()
	m := catalog.Meta{Kind: catalog.KindEpisode, Slug: e.slug, Topic: catalog.TopicSleep, Audience: e.audience,
		Title:       map[string]string{"de": "Folge " + e.slug, "tr": "Bölüm " + e.slug},
		Description: map[string]string{"de": "Worum es in " + e.slug + " geht."},
		Series:      e.series.ID, Season: e.season, Number: e.number, Downloadable: true}
	it, err := h.cat.Create(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	files := map[string][]byte{
		"out/download/audio-de.m4a": episodeAudio(e.size),
		"out/hls/master.m3u8":       []byte("#EXTM3U\n#EXT-X-STREAM-INF:BANDWIDTH=64000\na.m3u8\n"),
	}
	if e.extras {
		files["subtitles/de.vtt"] = []byte(episodeVTT)
		files["chapters.json"] = []byte(episodeChapters)
	}
	for name, data := range files {
		if _, err := h.blobs.Put(ctx, it.Prefix()+name, bytes.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	it, err = h.cat.SetFiles(ctx, it.ID, func(md *catalog.Media) error {
		md.Duration = e.duration
		md.Versions = map[string]catalog.Version{"de": {Files: []catalog.File{
			{Key: it.Prefix() + "out/hls/master.m3u8", Role: catalog.RoleMaster, Complete: true},
			{Key: it.Prefix() + "out/download/audio-de.m4a", Role: catalog.RoleDownload, ContentType: "audio/mp4", Size: int64(e.size), Complete: true},
		}}}
		if e.extras {
			md.Subtitles = map[string]string{"de": it.Prefix() + "subtitles/de.vtt"}
			md.Chapters = it.Prefix() + "chapters.json"
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !e.draft {
		if it, err = h.cat.Publish(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
	}
	return it
}

// get fetches u with a plain client: no cookies, no session.
func get(t *testing.T, method, u string, hdr map[string]string) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, u, nil)
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(b)
}

func parseFeed(t *testing.T, body string) *gofeed.Feed {
	t.Helper()
	f, err := gofeed.NewParser().ParseString(body)
	if err != nil {
		t.Fatalf("gofeed cannot read the feed: %v\n%s", err, body)
	}
	return f
}

// psp1Required are elements PSP-1 requires of a feed (channel and item).
var psp1Required = []string{
	`<rss version="2.0"`, `xmlns:itunes="http://www.itunes.com/dtds/podcast-1.0.dtd"`, `xmlns:podcast="https://podcastindex.org/namespace/1.0"`,
	`<atom:link href="`, `rel="self"`, `<title>`, `<description>`, `<link>`, `<language>de</language>`,
	`<itunes:image href="`, `<itunes:category text="Health &amp; Fitness">`, `<itunes:explicit>false</itunes:explicit>`,
	`<podcast:guid>`, `<podcast:locked`, `<enclosure url="`, `<guid isPermaLink="false">`,
}

func TestPodcastPublicFeed(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		pub := h.series(t, "fragt-nach", podcasts.AudiencePublic)
		pro := h.series(t, "fachlich", podcasts.AudienceMultipliers)
		first := h.addEpisode(t, episodeSpec{slug: "schlaf", series: pub, audience: catalog.AudiencePublic, season: 1, number: 1, size: 30000, duration: 90 * time.Second, extras: true})
		second := h.addEpisode(t, episodeSpec{slug: "stress", series: pub, audience: catalog.AudiencePublic, season: 1, number: 2, size: 20000, duration: 60 * time.Second})
		h.addEpisode(t, episodeSpec{slug: "entwurf", series: pub, audience: catalog.AudiencePublic, size: 100, duration: time.Second, draft: true})
		h.addEpisode(t, episodeSpec{slug: "nur-fuer-fachleute", series: pub, audience: catalog.AudienceMultipliers, size: 100, duration: time.Second})
		h.addEpisode(t, episodeSpec{slug: "fach-1", series: pro, audience: catalog.AudiencePublic, size: 100, duration: time.Second})
		ts := httptest.NewServer(h.srv)
		defer ts.Close()

		resp, body := get(t, "GET", ts.URL+"/podcasts/fragt-nach/feed.xml", nil)
		if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/rss+xml; charset=utf-8" {
			t.Fatalf("feed: %d %q\n%s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
		}
		if cc := resp.Header.Get("Cache-Control"); !strings.HasPrefix(cc, "public, max-age=") {
			t.Errorf("Cache-Control %q", cc)
		}
		for _, want := range psp1Required {
			if !strings.Contains(body, want) {
				t.Errorf("feed lacks %s", want)
			}
		}
		for _, unwanted := range []string{"block>", "entwurf", "nur-fuer-fachleute", "fach-1"} {
			if strings.Contains(body, unwanted) {
				t.Errorf("public feed contains %q", unwanted)
			}
		}
		if want := "<podcast:guid>" + podcasts.FeedGUID(ts.URL+"/podcasts/fragt-nach/feed.xml") + "</podcast:guid>"; !strings.Contains(body, want) {
			t.Errorf("feed lacks %s", want)
		}
		f := parseFeed(t, body)
		if f.Title != "portALO fragt nach fragt-nach" || f.Language != "de" || f.FeedLink != ts.URL+"/podcasts/fragt-nach/feed.xml" || f.Link != ts.URL+"/podcasts/fragt-nach" {
			t.Errorf("channel: title %q, language %q, self %q, link %q", f.Title, f.Language, f.FeedLink, f.Link)
		}
		if f.ITunesExt == nil || f.ITunesExt.Image == "" || f.ITunesExt.Author != "portALO" || len(f.ITunesExt.Categories) != 1 ||
			f.ITunesExt.Categories[0].Subcategory == nil || f.ITunesExt.Categories[0].Subcategory.Text != "Mental Health" {
			t.Fatalf("itunes: %+v", f.ITunesExt)
		}
		if len(f.Items) != 2 {
			t.Fatalf("%d items; want the 2 published public episodes", len(f.Items))
		}
		// Newest first.
		if f.Items[0].GUID != second.ID || f.Items[1].GUID != first.ID {
			t.Errorf("GUIDs %s, %s; want %s, %s", f.Items[0].GUID, f.Items[1].GUID, second.ID, first.ID)
		}
		it := f.Items[1]
		if it.ITunesExt == nil || it.ITunesExt.Season != "1" || it.ITunesExt.Episode != "1" || it.ITunesExt.Duration != "90" {
			t.Errorf("item itunes: %+v", it.ITunesExt)
		}
		if len(it.Enclosures) != 1 {
			t.Fatalf("enclosures %+v", it.Enclosures)
		}
		enc := it.Enclosures[0]
		if enc.URL != ts.URL+"/podcasts/fragt-nach/schlaf/schlaf-de.m4a" || enc.Length != "30000" || enc.Type != "audio/mp4" {
			t.Errorf("enclosure %+v", enc)
		}
		for _, want := range []string{
			`<podcast:transcript url="` + ts.URL + `/podcasts/fragt-nach/schlaf/schlaf-de.vtt" type="text/vtt" language="de" rel="captions">`,
			`<podcast:chapters url="` + ts.URL + `/podcasts/fragt-nach/schlaf/schlaf-chapters.json" type="application/json+chapters">`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("feed lacks %s", want)
			}
		}
		// The enclosure, transcript and chapters through the server.
		r, audio := get(t, "GET", enc.URL, nil)
		if r.StatusCode != 200 || r.Header.Get("Content-Type") != "audio/mp4" || r.ContentLength != 30000 || audio != string(episodeAudio(30000)) {
			t.Errorf("enclosure: %d %q %d bytes", r.StatusCode, r.Header.Get("Content-Type"), len(audio))
		}
		if r, vtt := get(t, "GET", ts.URL+"/podcasts/fragt-nach/schlaf/schlaf-de.vtt", nil); r.StatusCode != 200 || vtt != episodeVTT || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/vtt") {
			t.Errorf("transcript: %d %q", r.StatusCode, r.Header.Get("Content-Type"))
		}
		if r, ch := get(t, "GET", ts.URL+"/podcasts/fragt-nach/schlaf/schlaf-chapters.json", nil); r.StatusCode != 200 || ch != episodeChapters {
			t.Errorf("chapters: %d", r.StatusCode)
		}
		if r, _ := get(t, "GET", f.ITunesExt.Image, nil); r.StatusCode != 200 || r.Header.Get("Content-Type") != "image/png" {
			t.Errorf("cover %s: %d %q", f.ITunesExt.Image, r.StatusCode, r.Header.Get("Content-Type"))
		}

		// ETag and If-None-Match.
		etag := resp.Header.Get("ETag")
		if etag == "" {
			t.Fatal("no ETag")
		}
		if r, b := get(t, "GET", ts.URL+"/podcasts/fragt-nach/feed.xml", map[string]string{"If-None-Match": etag}); r.StatusCode != 304 || b != "" {
			t.Errorf("If-None-Match: %d", r.StatusCode)
		}
		if r, _ := get(t, "GET", ts.URL+"/podcasts/fragt-nach/feed.xml", map[string]string{"If-None-Match": `"other"`}); r.StatusCode != 200 {
			t.Errorf("other ETag: %d", r.StatusCode)
		}
		// The professionals' series has no public feed.
		for _, u := range []string{"/podcasts/fachlich/feed.xml", "/podcasts/gibt-es-nicht/feed.xml"} {
			if r, _ := get(t, "GET", ts.URL+u, nil); r.StatusCode != 404 {
				t.Errorf("%s: %d, want 404", u, r.StatusCode)
			}
		}
	})
}

// privateURL matches the private feed address on the account page.
var privateURL = regexp.MustCompile(`id="private-feed-url" value="([^"]+)"`)

// postForm posts a form through the test server with a session cookie.
func postForm(t *testing.T, u string, cookie *http.Cookie, vals map[string]string) (*http.Response, string) {
	t.Helper()
	body, hdr := form(vals)
	req, _ := http.NewRequest("POST", u, body)
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	req.AddCookie(cookie)
	client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func getWith(t *testing.T, u string, cookie *http.Cookie) (*http.Response, string) {
	t.Helper()
	req, _ := http.NewRequest("GET", u, nil)
	req.AddCookie(cookie)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp, string(b)
}

func TestPodcastPrivateFeedLifecycle(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		ctx := context.Background()
		pro := h.series(t, "fachlich", podcasts.AudienceMultipliers)
		h.addEpisode(t, episodeSpec{slug: "fach-1", series: pro, audience: catalog.AudienceMultipliers, season: 2, number: 7, size: 5000, duration: 30 * time.Second, extras: true})
		ts := httptest.NewServer(h.srv)
		defer ts.Close()
		malte, cookie := h.member(t, "Malte", accounts.RoleMultiplier)
		_, participant := h.member(t, "Paula")

		// Not for participants.
		if r, _ := postForm(t, ts.URL+"/account/podcast-feed", participant, nil); r.StatusCode != 403 {
			t.Errorf("participant creates a feed: %d", r.StatusCode)
		}
		if _, page := getWith(t, ts.URL+"/account", participant); strings.Contains(page, "podcast-feed") {
			t.Error("a participant's account page offers a private feed")
		}
		if _, page := getWith(t, ts.URL+"/account", cookie); !strings.Contains(page, `id="create-feed"`) {
			t.Fatalf("no create button:\n%s", mainOf(page))
		}

		b := newBrowserSession(t, ts, cookie)
		create := func() (string, string) {
			t.Helper()
			return b.issueFeed(t)
		}
		feedURL, token := create()
		resp, body := get(t, "GET", feedURL, nil)
		if resp.StatusCode != 200 || !strings.Contains(resp.Header.Get("Cache-Control"), "no-store") {
			t.Fatalf("private feed: %d %q\n%s", resp.StatusCode, resp.Header.Get("Cache-Control"), body)
		}
		for _, want := range append(psp1Required, "<itunes:block>Yes</itunes:block>", "<podcast:block>yes</podcast:block>",
			"<podcast:guid>"+podcasts.FeedGUID(ts.URL+"/podcasts/fachlich/feed.xml")+"</podcast:guid>") {
			if !strings.Contains(body, want) {
				t.Errorf("private feed lacks %s", want)
			}
		}
		f := parseFeed(t, body)
		if len(f.Items) != 1 || len(f.Items[0].Enclosures) != 1 {
			t.Fatalf("items %+v", f.Items)
		}
		if strings.Contains(f.Items[0].GUID, token) || strings.Contains(f.Link, token) || strings.Contains(f.Items[0].Link, token) {
			t.Error("a GUID or page link carries the token")
		}
		enc := f.Items[0].Enclosures[0].URL
		if enc != ts.URL+"/podcasts/private/"+token+"/fachlich/fach-1/fach-1-de.m4a" {
			t.Errorf("enclosure %q does not carry the token", enc)
		}
		r, part := get(t, "GET", enc, map[string]string{"Range": "bytes=0-1"})
		if r.StatusCode != 206 || part != string(episodeAudio(5000)[:2]) || r.Header.Get("Content-Range") != "bytes 0-1/5000" {
			t.Errorf("Range: %d %q", r.StatusCode, r.Header.Get("Content-Range"))
		}
		if r, b := get(t, "HEAD", enc, nil); r.StatusCode != 200 || r.ContentLength != 5000 || b != "" || r.Header.Get("Accept-Ranges") != "bytes" {
			t.Errorf("HEAD: %d %d", r.StatusCode, r.ContentLength)
		}
		if r, _ := get(t, "GET", ts.URL+"/podcasts/private/"+token+"/fachlich/fach-1/fach-1-de.vtt", nil); r.StatusCode != 200 {
			t.Errorf("private transcript: %d", r.StatusCode)
		}
		if r, _ := get(t, "GET", f.ITunesExt.Image, nil); r.StatusCode != 200 {
			t.Errorf("private cover %s: %d", f.ITunesExt.Image, r.StatusCode)
		}
		// Without the token the files are the multipliers'.
		if r, _ := get(t, "GET", ts.URL+"/podcasts/fachlich/fach-1/fach-1-de.m4a", nil); r.StatusCode != 404 {
			t.Errorf("public path of a private file: %d", r.StatusCode)
		}
		// The account page never shows the token again.
		if _, page := getWith(t, ts.URL+"/account", cookie); strings.Contains(page, token) || !strings.Contains(page, `id="renew-feed"`) || !strings.Contains(page, `id="private-feed-state"`) {
			t.Errorf("account page after creation:\n%s", mainOf(page))
		}

		// Renew: the old address stops, the new one works.
		newURL, newToken := create()
		if newToken == token {
			t.Fatal("renewal kept the token")
		}
		for u, want := range map[string]int{feedURL: 404, enc: 404, newURL: 200} {
			if r, b := get(t, "GET", u, nil); r.StatusCode != want {
				t.Errorf("after renewal %s: %d, want %d\n%s", u, r.StatusCode, want, b)
			} else if want == 404 && (!strings.HasPrefix(r.Header.Get("Content-Type"), "text/plain") || !strings.Contains(b, "portalo")) {
				t.Errorf("refusal %q: %q", r.Header.Get("Content-Type"), b)
			}
		}

		// Revoke.
		if r, _ := postForm(t, ts.URL+"/account/podcast-feed/revoke", cookie, nil); r.StatusCode != http.StatusSeeOther {
			t.Fatalf("revoke: %d", r.StatusCode)
		}
		if r, _ := get(t, "GET", newURL, nil); r.StatusCode != 404 {
			t.Errorf("revoked feed: %d", r.StatusCode)
		}
		if _, page := getWith(t, ts.URL+"/account", cookie); !strings.Contains(page, `id="create-feed"`) {
			t.Error("after revocation no create button")
		}

		// Approval withdrawn.
		thirdURL, thirdToken := create()
		if r, _ := get(t, "GET", thirdURL, nil); r.StatusCode != 200 {
			t.Fatalf("third feed: %d", r.StatusCode)
		}
		if _, err := h.accts.SetRoles(ctx, malte.ID, nil); err != nil {
			t.Fatal(err)
		}
		thirdEnc := strings.Replace(enc, token, thirdToken, 1)
		for _, u := range []string{thirdURL, thirdEnc} {
			if r, _ := get(t, "GET", u, nil); r.StatusCode != 404 {
				t.Errorf("after withdrawal %s: %d", u, r.StatusCode)
			}
		}
		// No token reaches a log.
		for _, tok := range []string{token, newToken, thirdToken} {
			if strings.Contains(h.logs.String(), tok) {
				t.Fatal("a private feed token is in the logs")
			}
		}
	})
}

func TestPodcastRangeHeadAndCounting(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		ctx := context.Background()
		pub := h.series(t, "fragt-nach", podcasts.AudiencePublic)
		// 200,000 bytes for 2 minutes: a minute is 100,000 bytes.
		it := h.addEpisode(t, episodeSpec{slug: "schlaf", series: pub, audience: catalog.AudiencePublic, size: 200000, duration: 2 * time.Minute})
		audio := episodeAudio(200000)
		const u = "/podcasts/fragt-nach/schlaf/schlaf-de.m4a"
		app := "AppleCoreMedia/1.0.0.20E247 (iPhone; U; CPU OS 16_4 like Mac OS X; de_de)"
		total := func() int64 {
			t.Helper()
			n, err := h.counts.Totals(ctx, []string{it.ID})
			if err != nil {
				t.Fatal(err)
			}
			return n[it.ID]
		}
		steps := []struct {
			name, method, ua, rng string
			status                int
			body                  []byte
			contentRange          string
			count                 int64
		}{
			{"probe bytes=0-1", "GET", app, "bytes=0-1", 206, audio[:2], "bytes 0-1/200000", 0},
			{"HEAD", "HEAD", app, "", 200, nil, "", 0},
			{"a small range", "GET", app, "bytes=100-199", 206, audio[100:200], "bytes 100-199/200000", 0},
			{"past the end", "GET", app, "bytes=300000-", 416, nil, "bytes */200000", 0},
			{"a bot, whole file", "GET", "Googlebot/2.1 (+http://www.google.com/bot.html)", "", 200, audio, "", 0},
			{"no User-Agent", "GET", "", "", 200, audio, "", 0},
			{"the app, whole file", "GET", app, "", 200, audio, "", 1},
			{"the app again", "GET", app, "", 200, audio, "", 1},
			{"another app, from the middle", "GET", "AntennaPod/3.4", "bytes=100000-", 206, audio[100000:], "bytes 100000-199999/200000", 2},
		}
		for _, s := range steps {
			hdr := map[string]string{"User-Agent": s.ua}
			if s.rng != "" {
				hdr["Range"] = s.rng
			}
			w := h.do(t, s.method, u, nil, hdr)
			if w.Code != s.status {
				t.Fatalf("%s: %d, want %d", s.name, w.Code, s.status)
			}
			if s.body != nil && !bytes.Equal(w.Body.Bytes(), s.body) {
				t.Errorf("%s: body of %d bytes differs", s.name, w.Body.Len())
			}
			if got := w.Header().Get("Content-Range"); got != s.contentRange {
				t.Errorf("%s: Content-Range %q, want %q", s.name, got, s.contentRange)
			}
			if s.method == "HEAD" && (w.Header().Get("Content-Length") != "200000" || w.Body.Len() != 0) {
				t.Errorf("HEAD: length %q, body %d", w.Header().Get("Content-Length"), w.Body.Len())
			}
			if s.status < 300 && (w.Header().Get("Content-Type") != "audio/mp4" || w.Header().Get("ETag") == "" || w.Header().Get("Accept-Ranges") != "bytes") {
				t.Errorf("%s: headers %v", s.name, w.Header())
			}
			if n := total(); n != s.count {
				t.Fatalf("after %s: %d downloads, want %d", s.name, n, s.count)
			}
		}
		w := h.do(t, "GET", u+"?download=1", nil, map[string]string{"User-Agent": app, "Range": "bytes=0-1"})
		if w.Code != 206 || w.Header().Get("Content-Disposition") != `attachment; filename=schlaf-de.m4a` {
			t.Errorf("download: %d %q", w.Code, w.Header().Get("Content-Disposition"))
		}
		if w := h.do(t, "GET", "/podcasts/fragt-nach/schlaf/andere-de.m4a", nil, nil); w.Code != 404 {
			t.Errorf("unknown file: %d", w.Code)
		}

		// The editor sees the count.
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		w = h.do(t, "GET", "/podcasts/manage/"+pub.ID, nil, nil, editor)
		row := regexp.MustCompile(`(?s)<tr data-episode="` + it.ID + `">.*?<td class="downloads-total">(\d+)</td>\s*<td class="downloads-recent">(\d+)</td>`).FindStringSubmatch(w.Body.String())
		if w.Code != 200 || row == nil || row[1] != "2" || row[2] != "2" {
			t.Errorf("editor page: %d %v\n%s", w.Code, row, mainOf(w.Body.String()))
		}
		if w := h.do(t, "GET", "/podcasts/fragt-nach/schlaf", nil, nil, editor); !strings.Contains(w.Body.String(), ": 2<") {
			t.Errorf("episode page shows no count to the editor:\n%s", mainOf(w.Body.String()))
		}
		_, participant := h.member(t, "Paula")
		if w := h.do(t, "GET", "/podcasts/manage/"+pub.ID, nil, nil, participant); w.Code != 403 {
			t.Errorf("participant on the editor page: %d", w.Code)
		}
	})
}

func TestPodcastAccess(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		pub := h.series(t, "fragt-nach", podcasts.AudiencePublic)
		pro := h.series(t, "fachlich", podcasts.AudienceMultipliers)
		h.addEpisode(t, episodeSpec{slug: "schlaf", series: pub, audience: catalog.AudiencePublic, size: 1000, duration: time.Minute})
		h.addEpisode(t, episodeSpec{slug: "entwurf", series: pub, audience: catalog.AudiencePublic, size: 1000, duration: time.Minute, draft: true})
		h.addEpisode(t, episodeSpec{slug: "fach-1", series: pro, audience: catalog.AudiencePublic, size: 1000, duration: time.Minute})
		// As in multipliers_test.go: a trainer who is no multiplier is
		// refused like a participant.
		_, trainer := h.member(t, "Tina", accounts.RoleTrainer)
		for _, v := range append(h.visitors(t), roleCase{"trainer", trainer}) {
			t.Run(v.name, func(t *testing.T) {
				c := cookies(v.cookie)
				allowed := v.name == "multiplier" || v.name == "editor" || v.name == "admin"
				editor := v.name == "editor" || v.name == "admin"
				check := func(u string, want int, contains ...string) string {
					t.Helper()
					w := h.do(t, "GET", u, nil, nil, c...)
					if w.Code != want {
						t.Fatalf("%s: %d, want %d", u, w.Code, want)
					}
					for _, s := range contains {
						if !strings.Contains(w.Body.String(), s) {
							t.Errorf("%s lacks %q", u, s)
						}
					}
					return w.Body.String()
				}
				list := check("/podcasts", 200, "/podcasts/fragt-nach")
				if strings.Contains(list, "/podcasts/fachlich") != allowed {
					t.Errorf("list shows the professionals' series: %v", !allowed)
				}
				check("/podcasts/fragt-nach", 200, "/podcasts/fragt-nach/schlaf", "feed.xml")
				check("/podcasts/fragt-nach/schlaf", 200, `<audio controls preload="none" src="/podcasts/fragt-nach/schlaf/schlaf-de.m4a"`)
				check("/podcasts/fragt-nach/schlaf/schlaf-de.m4a", 200)
				if editor {
					check("/podcasts/fragt-nach/entwurf", 200)
				} else {
					check("/podcasts/fragt-nach/entwurf", 404)
					check("/podcasts/fragt-nach/entwurf/entwurf-de.m4a", 404)
				}
				if allowed {
					page := check("/podcasts/fachlich", 200, "/podcasts/fachlich/fach-1")
					// The private feed is for approved multipliers only:
					// editors and admins get no link to make one.
					if got := strings.Contains(mainOf(page), `href="/account#podcast-feed-h"`); got != (v.name == "multiplier") {
						t.Errorf("link to the private feed on the account page: %v", got)
					}
					if got := strings.Contains(page, `id="private-feed-multipliers-only"`); got != editor {
						t.Errorf("note that the private feed is for multipliers: %v", got)
					}
					check("/podcasts/fachlich/fach-1", 200, "fach-1-de.m4a")
					check("/podcasts/fachlich/fach-1/fach-1-de.m4a", 200)
				} else {
					for _, u := range []string{"/podcasts/fachlich", "/podcasts/fachlich/fach-1"} {
						page := check(u, 403)
						if strings.Contains(page, "Folge fach-1") || strings.Contains(page, "fach-1-de.m4a") || strings.Contains(page, "portALO fragt nach fachlich") {
							t.Errorf("%s shows the content to %s", u, v.name)
						}
						want := `href="/login?next=`
						if v.cookie != nil {
							want = `href="/account"`
						}
						if !strings.Contains(mainOf(page), want) {
							t.Errorf("%s: no %s", u, want)
						}
					}
					check("/podcasts/fachlich/fach-1/fach-1-de.m4a", 404)
					check("/podcasts/fachlich/cover.png", 404)
				}
				check("/podcasts/gibt-es-nicht", 404)
				check("/podcasts/fragt-nach/gibt-es-nicht", 404)
				if editor {
					check("/podcasts/manage", 200, "/podcasts/manage/"+pro.ID)
				} else if v.cookie != nil {
					check("/podcasts/manage", 403)
				}
			})
		}
	})
}

// coverPNG is a square PNG of n pixels (w × h).
func coverPNG(t *testing.T, w, hgt int) []byte {
	t.Helper()
	img := image.NewRGBA(image.Rect(0, 0, w, hgt))
	for i := range img.Pix {
		img.Pix[i] = 0x80
	}
	img.Set(0, 0, color.RGBA{255, 0, 0, 255})
	var buf bytes.Buffer
	if err := png.Encode(&buf, img); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// multipartForm builds a multipart body with fields and, if cover is set,
// a file field "cover".
func multipartForm(t *testing.T, fields map[string]string, cover []byte) (io.Reader, map[string]string) {
	t.Helper()
	var buf bytes.Buffer
	mw := multipart.NewWriter(&buf)
	for k, v := range fields {
		mw.WriteField(k, v)
	}
	if cover != nil {
		fw, err := mw.CreateFormFile("cover", "cover.png")
		if err != nil {
			t.Fatal(err)
		}
		fw.Write(cover)
	}
	mw.Close()
	return &buf, map[string]string{"Content-Type": mw.FormDataContentType()}
}

func TestPodcastManageSeries(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		ctx := context.Background()
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		fields := func(extra map[string]string) map[string]string {
			f := map[string]string{"title_de": "portALO fragt nach", "description_de": "Gespräche.", "language": "de",
				"category": "Health & Fitness > Mental Health", "audience": "public", "author": "portALO"}
			for k, v := range extra {
				f[k] = v
			}
			return f
		}
		count := func() int {
			all, err := h.pods.ListSeries(ctx)
			if err != nil {
				t.Fatal(err)
			}
			return len(all)
		}
		bad := []struct {
			name   string
			fields map[string]string
			cover  []byte
			status int
			msg    string
		}{
			{"no title", fields(map[string]string{"title_de": ""}), nil, 422, "Please enter a title"},
			{"no category", fields(map[string]string{"category": "Cooking"}), nil, 422, "choose a category"},
			{"bad e-mail", fields(map[string]string{"owner_email": "nobody"}), nil, 422, "valid e-mail"},
			{"cover not square", fields(nil), coverPNG(t, 1400, 1000), 422, "must be square"},
			{"cover not an image", fields(nil), []byte("GIF89a no"), 422, "JPEG or PNG"},
		}
		for _, b := range bad {
			body, hdr := multipartForm(t, b.fields, b.cover)
			hdr["Accept-Language"] = "en"
			w := h.do(t, "POST", "/podcasts/manage", body, hdr, editor)
			if w.Code != b.status || !strings.Contains(w.Body.String(), b.msg) {
				t.Errorf("%s: %d\n%s", b.name, w.Code, mainOf(w.Body.String()))
			}
			if n := count(); n != 0 {
				t.Fatalf("%s: %d series stored", b.name, n)
			}
		}
		// A 6 MB body is refused before anything is read.
		big, hdr := multipartForm(t, fields(nil), bytes.Repeat([]byte("x"), 6<<20))
		if w := h.do(t, "POST", "/podcasts/manage", big, hdr, editor); w.Code != 413 {
			t.Errorf("oversized cover: %d", w.Code)
		}

		body, hdr := multipartForm(t, fields(map[string]string{"slug": "fragt-nach"}), coverPNG(t, 1400, 1400))
		w := h.do(t, "POST", "/podcasts/manage", body, hdr, editor)
		if w.Code != http.StatusSeeOther {
			t.Fatalf("create: %d\n%s", w.Code, mainOf(w.Body.String()))
		}
		sr, err := h.pods.SeriesBySlug(ctx, "fragt-nach")
		if err != nil || sr.Image == "" || sr.Subcategory != "Mental Health" || w.Header().Get("Location") != "/podcasts/manage/"+sr.ID {
			t.Fatalf("stored %+v, %v", sr, err)
		}
		if w := h.do(t, "GET", "/podcasts/fragt-nach/cover.png", nil, nil); w.Code != 200 || w.Header().Get("Content-Type") != "image/png" {
			t.Errorf("cover: %d", w.Code)
		}
		if w := h.do(t, "GET", "/podcasts/fragt-nach/cover.jpg", nil, nil); w.Code != 404 {
			t.Errorf("cover of the wrong type: %d", w.Code)
		}

		// Edit: a new cover replaces the old; a taken slug is refused.
		other := h.series(t, "andere", podcasts.AudiencePublic)
		body, hdr = multipartForm(t, fields(map[string]string{"slug": "andere"}), nil)
		hdr["Accept-Language"] = "en"
		if w := h.do(t, "POST", "/podcasts/manage/"+sr.ID, body, hdr, editor); w.Code != 409 || !strings.Contains(w.Body.String(), "already has this address") {
			t.Errorf("taken slug: %d", w.Code)
		}
		body, hdr = multipartForm(t, fields(map[string]string{"title_en": "portALO asks", "audience": "multipliers"}), coverPNG(t, 1500, 1500))
		if w := h.do(t, "POST", "/podcasts/manage/"+sr.ID, body, hdr, editor); w.Code != http.StatusSeeOther {
			t.Fatalf("save: %d\n%s", w.Code, mainOf(w.Body.String()))
		}
		saved, _ := h.pods.GetSeries(ctx, sr.ID)
		if saved.Title["en"] != "portALO asks" || saved.Audience != podcasts.AudienceMultipliers || saved.Image == sr.Image || saved.Slug != "fragt-nach" {
			t.Errorf("saved %+v", saved)
		}
		if _, err := h.blobs.Stat(ctx, sr.Image); err == nil {
			t.Error("the old cover is still stored")
		}
		// Delete needs the confirmation.
		b2, hdr2 := form(map[string]string{})
		if w := h.do(t, "POST", "/podcasts/manage/"+sr.ID+"/delete", b2, hdr2, editor); w.Code != 422 {
			t.Errorf("delete without confirmation: %d", w.Code)
		}
		b2, hdr2 = form(map[string]string{"confirm": "1"})
		if w := h.do(t, "POST", "/podcasts/manage/"+sr.ID+"/delete", b2, hdr2, editor); w.Code != http.StatusSeeOther {
			t.Errorf("delete: %d", w.Code)
		}
		if _, err := h.pods.GetSeries(ctx, sr.ID); err == nil {
			t.Error("series still there")
		}
		if _, err := h.blobs.Stat(ctx, saved.Image); err == nil {
			t.Error("the cover of the deleted series is still stored")
		}
		if _, err := h.pods.GetSeries(ctx, other.ID); err != nil {
			t.Error("the other series went too")
		}
	})
}

// untranslatedPodcast finds message IDs of this feature left in a page.
var untranslatedPodcast = regexp.MustCompile(`\b(FlashPodcast|Podcast)[A-Z][A-Za-z]+\b`)

func TestPodcastPagesInEveryLanguage(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		pub := h.series(t, "fragt-nach", podcasts.AudiencePublic)
		h.series(t, "fachlich", podcasts.AudienceMultipliers)
		h.addEpisode(t, episodeSpec{slug: "schlaf", series: pub, audience: catalog.AudiencePublic, season: 1, number: 3, size: 1000, duration: 95 * time.Second, extras: true})
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		_, multiplier := h.member(t, "Malte", accounts.RoleMultiplier)
		_, participant := h.member(t, "Paula")
		for _, lang := range i18n.Languages {
			t.Run(lang.Code, func(t *testing.T) {
				lc := &http.Cookie{Name: langCookie, Value: lang.Code}
				pages := []struct {
					method, path string
					who          *http.Cookie
					status       int
					// carry sends the cookies the answer before set (the
					// redirect after creating the private feed).
					carry bool
				}{
					{"GET", "/podcasts", nil, 200, false},
					{"GET", "/podcasts/fragt-nach", nil, 200, false},
					{"GET", "/podcasts/fragt-nach/schlaf", nil, 200, false},
					{"GET", "/podcasts/fachlich", participant, 403, false},
					{"GET", "/podcasts/fachlich", multiplier, 200, false},
					{"GET", "/podcasts/fachlich", editor, 200, false},
					{"GET", "/podcasts/fachlich", nil, 403, false},
					{"GET", "/podcasts/gibt-es-nicht", nil, 404, false},
					{"GET", "/podcasts/manage", editor, 200, false},
					{"GET", "/podcasts/manage/new", editor, 200, false},
					{"GET", "/podcasts/manage/" + pub.ID, editor, 200, false},
					{"GET", "/account", multiplier, 200, false},
					{"POST", "/account/podcast-feed", multiplier, http.StatusSeeOther, false},
					{"GET", "/account", multiplier, 200, true},
					{"GET", "/account", multiplier, 200, false},
				}
				var carried []*http.Cookie
				for _, pg := range pages {
					var body io.Reader
					var hdr map[string]string
					if pg.method == "POST" {
						body, hdr = form(map[string]string{})
					}
					cs := []*http.Cookie{lc}
					if pg.who != nil {
						cs = append(cs, pg.who)
					}
					if pg.carry {
						cs = append(cs, carried...)
					}
					w := h.do(t, pg.method, pg.path, body, hdr, cs...)
					carried = w.Result().Cookies()
					page := w.Body.String()
					if w.Code != pg.status {
						t.Fatalf("%s %s: %d, want %d\n%s", pg.method, pg.path, w.Code, pg.status, mainOf(page))
					}
					if pg.carry && !strings.Contains(page, `id="copy-feed-url"`) {
						t.Errorf("%s %s: the new feed address is not shown", pg.method, pg.path)
					}
					if pg.status == http.StatusSeeOther {
						continue
					}
					if m := htmlLang.FindStringSubmatch(page); m == nil || m[1] != lang.Code || m[2] != lang.Dir {
						t.Errorf("%s: html lang %v", pg.path, m)
					}
					if m := untranslatedPodcast.FindString(page); m != "" {
						t.Errorf("%s %s: untranslated %s", pg.method, pg.path, m)
					}
					if m := untranslated.FindString(page); m != "" {
						t.Errorf("%s %s: untranslated %s", pg.method, pg.path, m)
					}
				}
				// The episode page: player, download, chapters, transcript.
				w := h.do(t, "GET", "/podcasts/fragt-nach/schlaf", nil, nil, lc)
				page := mainOf(w.Body.String())
				for _, want := range []string{
					`<audio controls preload="none" src="/podcasts/fragt-nach/schlaf/schlaf-de.m4a"`,
					`href="/podcasts/fragt-nach/schlaf/schlaf-de.m4a?download=1" download`,
					`<time datetime="PT1M5S">1:05</time> <span>Schlaf und Stress</span>`,
					`href="/podcasts/fragt-nach/schlaf/schlaf-de.vtt"`,
					`<time datetime="PT1M5S">1:05</time> Heute geht es um Schlaf.`,
					`<time datetime="PT1M35S">1:35</time>`,
				} {
					if !strings.Contains(page, want) {
						t.Errorf("episode page lacks %s", want)
					}
				}
				if strings.Contains(page, "<v Anna>") || !strings.Contains(page, "Willkommen bei portALO fragt nach.") {
					t.Error("transcript cue text not shown cleanly")
				}
				if lang.Code != "de" && !strings.Contains(page, `class="podcast-transcript" lang="de" dir="ltr"`) {
					t.Error("the German transcript on a foreign page has no lang")
				}
				if lang.Code == "tr" && !strings.Contains(page, "Bölüm schlaf") {
					t.Error("the Turkish title is not used")
				}
				if lang.Code == "en" && !strings.Contains(page, `lang="de" dir="ltr">Folge schlaf`) {
					t.Error("the German title on an English page has no lang")
				}
			})
		}
	})
}

func TestParseVTT(t *testing.T) {
	cases := []struct {
		in   string
		want []string
	}{
		{episodeVTT, []string{"0:00 Willkommen bei portALO fragt nach.", "1:05 Heute geht es um Schlaf."}},
		{"WEBVTT\n\n01:02:03.000 --> 01:02:04.000\n<i>a</i> &amp; b\nzwei\n", []string{"1:02:03 a & b zwei"}},
		{"WEBVTT\n\nSTYLE\n::cue { color: red }\n\nbad --> time\nx\n", nil},
		{"", nil},
	}
	for i, c := range cases {
		var got []string
		for _, l := range parseVTT([]byte(c.in)) {
			got = append(got, l.Start+" "+l.Text)
		}
		if fmt.Sprint(got) != fmt.Sprint(c.want) {
			t.Errorf("case %d: %q, want %q", i, got, c.want)
		}
	}
}

// TestPodcastPagesHead: the pages answer HEAD as they answer GET, without
// a body (link checkers, podcast directories probing the pages).
func TestPodcastPagesHead(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		pub := h.series(t, "fragt-nach", podcasts.AudiencePublic)
		pro := h.series(t, "fachlich", podcasts.AudienceMultipliers)
		h.addEpisode(t, episodeSpec{slug: "schlaf", series: pub, audience: catalog.AudiencePublic, size: 1000, duration: time.Minute})
		h.addEpisode(t, episodeSpec{slug: "fach-1", series: pro, audience: catalog.AudiencePublic, size: 1000, duration: time.Minute})
		_, multiplier := h.member(t, "Malte", accounts.RoleMultiplier)
		ts := httptest.NewServer(h.srv)
		defer ts.Close()
		cases := []struct {
			path   string
			who    *http.Cookie
			status int
		}{
			{"/podcasts", nil, 200},
			{"/podcasts/fragt-nach", nil, 200},
			{"/podcasts/fragt-nach/schlaf", nil, 200},
			{"/podcasts/fachlich", multiplier, 200},
			{"/podcasts/fachlich/fach-1", multiplier, 200},
			{"/podcasts/fachlich", nil, 403},
			{"/podcasts/fachlich/fach-1", nil, 403},
			{"/podcasts/gibt-es-nicht", nil, 404},
			{"/podcasts/fragt-nach/gibt-es-nicht", nil, 404},
		}
		for _, tc := range cases {
			req, err := http.NewRequest("HEAD", ts.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.who != nil {
				req.AddCookie(tc.who)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status || len(body) != 0 || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
				t.Errorf("HEAD %s: %d, %d bytes, %q; want %d without a body", tc.path, resp.StatusCode, len(body), resp.Header.Get("Content-Type"), tc.status)
			}
			// GET answers the same, with the page.
			g, err := http.NewRequest("GET", ts.URL+tc.path, nil)
			if err != nil {
				t.Fatal(err)
			}
			if tc.who != nil {
				g.AddCookie(tc.who)
			}
			gr, err := http.DefaultClient.Do(g)
			if err != nil {
				t.Fatal(err)
			}
			page, _ := io.ReadAll(gr.Body)
			gr.Body.Close()
			if gr.StatusCode != tc.status || !strings.Contains(string(page), "<main") {
				t.Errorf("GET %s: %d", tc.path, gr.StatusCode)
			}
		}
	})
}
