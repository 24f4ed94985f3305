package web

import (
	"context"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"time"

	"portalo/catalog"
	"portalo/podcasts"
)

// TestEpisodeTakesTheSeriesAudience: an episode an editor puts in the
// professionals' series becomes an item for multipliers, even when the
// form said "public", so that no path (/mediathek, /api, /media, which
// check the item's audience) shows it to others; an unknown series is
// refused; a public series keeps the editor's choice, until the series is
// made one for multipliers.
func TestEpisodeTakesTheSeriesAudience(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		pub := h.series(t, "fragt-nach", podcasts.AudiencePublic)
		pro := h.series(t, "fachlich", podcasts.AudienceMultipliers)
		var editor *http.Cookie
		for _, v := range h.visitors(t) {
			if v.name == "editor" {
				editor = v.cookie
			}
		}
		create := func(slug, series string) (int, string) {
			body, _ := form(map[string]string{"kind": "episode", "slug": slug, "title_de": "Folge " + slug, "topic": "sleep",
				"audience": "public", "series": series})
			w := h.do(t, "POST", "/manage/mediathek", body, map[string]string{"Accept-Language": "de", "Content-Type": "application/x-www-form-urlencoded"}, editor)
			return w.Code, w.Body.String()
		}
		for _, tc := range []struct {
			slug, series string
			want         catalog.Audience
		}{
			{"fuer-fachleute", pro.ID, catalog.AudienceMultipliers},
			{"fuer-alle", pub.ID, catalog.AudiencePublic},
			{"ohne-reihe", "", catalog.AudiencePublic},
		} {
			if code, body := create(tc.slug, tc.series); code != http.StatusSeeOther {
				t.Fatalf("create %s: %d %s", tc.slug, code, mainOf(body))
			}
			it, err := h.cat.GetBySlug(tc.slug)
			if err != nil || it.Audience != tc.want || it.Series != tc.series {
				t.Fatalf("%s: audience %q, series %q (%v); want %q", tc.slug, it.Audience, it.Series, err, tc.want)
			}
		}
		if code, body := create("verirrt", "gibt-es-nicht"); code != http.StatusUnprocessableEntity || !strings.Contains(body, "Diese Podcast-Reihe gibt es nicht") {
			t.Fatalf("unknown series: %d %s", code, mainOf(body))
		}
		if _, err := h.cat.GetBySlug("verirrt"); err == nil {
			t.Fatal("an episode of an unknown series was stored")
		}
		// The public series becomes one for multipliers: its episodes follow.
		body, hdr := multipartForm(t, map[string]string{"title_de": "portALO fragt nach", "description_de": "Gespräche.", "language": "de",
			"category": "Health & Fitness > Mental Health", "audience": "multipliers", "author": "portALO"}, nil)
		if w := h.do(t, "POST", "/podcasts/manage/"+pub.ID, body, hdr, editor); w.Code != http.StatusSeeOther {
			t.Fatalf("series to multipliers: %d %s", w.Code, mainOf(w.Body.String()))
		}
		if it, err := h.cat.GetBySlug("fuer-alle"); err != nil || it.Audience != catalog.AudienceMultipliers {
			t.Errorf("the series' episode after the change: audience %q (%v)", it.Audience, err)
		}
		if it, err := h.cat.GetBySlug("ohne-reihe"); err != nil || it.Audience != catalog.AudiencePublic {
			t.Errorf("an episode of no series changed: audience %q (%v)", it.Audience, err)
		}
	})
}

// TestBaseURL: feeds and calendars use the configured public address when
// there is one, whatever host a request named.
func TestBaseURL(t *testing.T) {
	for _, tc := range []struct {
		public, host, want string
	}{
		{"", "portalo.example:8080", "http://portalo.example:8080"},
		{"https://portalo.example", "10.0.0.5:8080", "https://portalo.example"},
		{"https://portalo.example", "www.portalo.example", "https://portalo.example"},
	} {
		s := &Server{cfg: Config{PublicURL: tc.public, SecureCookies: SecureAuto}}
		r := httptest.NewRequest("GET", "http://"+tc.host+"/podcasts/x/feed.xml", nil)
		if got := s.baseURL(r); got != tc.want {
			t.Errorf("public %q, host %q: %q, want %q", tc.public, tc.host, got, tc.want)
		}
	}
}

// TestPodcastGUIDStaysPut: the first feed fixes podcast:guid; asked for
// under another host name, or after the series got a new slug, the feed
// names the same podcast.
func TestPodcastGUIDStaysPut(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		sr := h.series(t, "fragt-nach", podcasts.AudiencePublic)
		h.addEpisode(t, episodeSpec{slug: "schlaf", series: sr, audience: catalog.AudiencePublic, size: 1000, duration: time.Minute})
		guidOf := func(u string) string {
			t.Helper()
			w := h.do(t, "GET", u, nil, nil)
			m := regexp.MustCompile(`<podcast:guid>([^<]+)</podcast:guid>`).FindStringSubmatch(w.Body.String())
			if w.Code != http.StatusOK || m == nil {
				t.Fatalf("%s: %d, no podcast:guid", u, w.Code)
			}
			return m[1]
		}
		first := guidOf("http://portalo.example/podcasts/fragt-nach/feed.xml")
		if first != podcasts.FeedGUID("http://portalo.example/podcasts/fragt-nach/feed.xml") {
			t.Errorf("the first feed's GUID %s is not that of its URL", first)
		}
		if got := guidOf("http://10.0.0.5:8080/podcasts/fragt-nach/feed.xml"); got != first {
			t.Errorf("under another host: %s, want %s", got, first)
		}
		m := sr.SeriesMeta
		m.Slug = "nachgefragt"
		if _, err := h.pods.UpdateSeries(context.Background(), sr.ID, m); err != nil {
			t.Fatal(err)
		}
		if got := guidOf("http://portalo.example/podcasts/nachgefragt/feed.xml"); got != first {
			t.Errorf("after a new slug: %s, want %s", got, first)
		}
	})
}
