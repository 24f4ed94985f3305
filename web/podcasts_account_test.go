package web

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/podcasts"
	"portalo/web/i18n"
)

// serverWith builds another server on the harness's stores, with edit
// applied to its configuration.
func (h *podcastHarness) serverWith(t *testing.T, edit func(*Config)) *Server {
	t.Helper()
	msgs, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	cfg := Config{
		Accounts:     h.accts,
		Catalog:      msgs,
		Logger:       slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxBodyBytes: 256 << 10,
		Mediathek:    h.cat,
		Objects:      h.blobs,
		Podcasts:     h.pods,
		Downloads:    h.counts,
	}
	edit(&cfg)
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return srv
}

// browserSession is a logged-in person's browser on a test server: it
// keeps cookies like a browser (a cookie jar) and does not follow
// redirects by itself.
type browserSession struct {
	base   string
	client *http.Client
}

func newBrowserSession(t *testing.T, ts *httptest.Server, session *http.Cookie) *browserSession {
	t.Helper()
	jar, err := cookiejar.New(nil)
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(ts.URL + "/")
	jar.SetCookies(u, []*http.Cookie{session})
	return &browserSession{base: ts.URL, client: &http.Client{Jar: jar,
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}}
}

func (b *browserSession) do(t *testing.T, method, path, contentType string, body io.Reader) (*http.Response, string) {
	t.Helper()
	req, err := http.NewRequest(method, b.base+path, body)
	if err != nil {
		t.Fatal(err)
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	resp, err := b.client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	out, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, string(out)
}

func (b *browserSession) get(t *testing.T, path string) (*http.Response, string) {
	t.Helper()
	return b.do(t, "GET", path, "", nil)
}

func (b *browserSession) post(t *testing.T, path string, vals url.Values) (*http.Response, string) {
	t.Helper()
	return b.do(t, "POST", path, "application/x-www-form-urlencoded", strings.NewReader(vals.Encode()))
}

// setCookie returns the cookie named name that resp sets, or nil.
func setCookie(resp *http.Response, name string) *http.Cookie {
	for _, c := range resp.Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

// issueFeed presses "create/renew" on the account page and follows the
// redirect as a browser does; it returns the feed address shown and its
// token.
func (b *browserSession) issueFeed(t *testing.T) (string, string) {
	t.Helper()
	r, body := b.post(t, "/account/podcast-feed", nil)
	if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/account#podcast-feed" {
		t.Fatalf("create: %d %q\n%s", r.StatusCode, r.Header.Get("Location"), mainOf(body))
	}
	r, page := b.get(t, "/account")
	m := privateURL.FindStringSubmatch(page)
	if r.StatusCode != 200 || m == nil || !strings.Contains(page, `id="copy-feed-url"`) {
		t.Fatalf("account page after create: %d\n%s", r.StatusCode, mainOf(page))
	}
	tok := strings.TrimPrefix(m[1], b.base+"/podcasts/private/")
	tok, _, _ = strings.Cut(tok, "/")
	if len(tok) < 40 || m[1] != b.base+"/podcasts/private/"+tok+"/fachlich/feed.xml" {
		t.Fatalf("feed URL %q", m[1])
	}
	return m[1], tok
}

// TestPodcastFeedPostRedirectGet: creating or renewing the private feed
// answers with a redirect; the address reaches the one GET /account after
// it in a short-lived cookie, which that GET clears, so that reloading
// the page neither shows the address again nor issues another token.
func TestPodcastFeedPostRedirectGet(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		ctx := context.Background()
		pro := h.series(t, "fachlich", podcasts.AudienceMultipliers)
		h.addEpisode(t, episodeSpec{slug: "fach-1", series: pro, audience: catalog.AudienceMultipliers, size: 1000, duration: time.Second})
		ts := httptest.NewServer(h.srv)
		defer ts.Close()
		_, cookie := h.member(t, "Malte", accounts.RoleMultiplier)
		b := newBrowserSession(t, ts, cookie)

		// POST: a redirect, the token in an HttpOnly cookie for /account
		// only, never in the URL.
		r, _ := b.post(t, "/account/podcast-feed", nil)
		if r.StatusCode != http.StatusSeeOther || r.Header.Get("Location") != "/account#podcast-feed" {
			t.Fatalf("create: %d %q", r.StatusCode, r.Header.Get("Location"))
		}
		ck := setCookie(r, freshFeedCookie)
		if ck == nil || len(ck.Value) < 40 {
			t.Fatalf("no fresh feed cookie: %v", r.Header.Values("Set-Cookie"))
		}
		token := ck.Value
		if !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode || ck.Path != "/account" || ck.MaxAge != 300 || ck.Secure {
			t.Errorf("fresh feed cookie %+v", ck)
		}
		if strings.Contains(r.Header.Get("Location"), token) {
			t.Error("the redirect carries the token")
		}

		// The one GET shows it, clears the cookie and is not cached.
		r, page := b.get(t, "/account")
		if r.StatusCode != 200 || r.Header.Get("Cache-Control") != "no-store" {
			t.Fatalf("account page: %d %q", r.StatusCode, r.Header.Get("Cache-Control"))
		}
		m := privateURL.FindStringSubmatch(page)
		feedURL := ts.URL + "/podcasts/private/" + token + "/fachlich/feed.xml"
		if m == nil || m[1] != feedURL || !strings.Contains(page, `id="copy-feed-url"`) {
			t.Fatalf("the new address is not shown:\n%s", mainOf(page))
		}
		if cl := setCookie(r, freshFeedCookie); cl == nil || cl.MaxAge >= 0 || cl.Path != "/account" || cl.Value != "" {
			t.Errorf("the fresh feed cookie is not cleared: %+v", cl)
		}

		// Reloading: no address, no new token; the address still works.
		for i := range 2 {
			r, page = b.get(t, "/account")
			if r.StatusCode != 200 || strings.Contains(page, token) || privateURL.MatchString(page) || !strings.Contains(page, `id="private-feed-state"`) {
				t.Fatalf("reload %d: %d\n%s", i+1, r.StatusCode, mainOf(page))
			}
		}
		if r, body := get(t, "GET", feedURL, nil); r.StatusCode != 200 {
			t.Fatalf("the feed after reloading the account page: %d\n%s", r.StatusCode, body)
		}

		// Renewing: the same way, the old address stops.
		newURL, newToken := b.issueFeed(t)
		if newToken == token {
			t.Fatal("renewal kept the token")
		}
		for u, want := range map[string]int{feedURL: 404, newURL: 200} {
			if r, _ := get(t, "GET", u, nil); r.StatusCode != want {
				t.Errorf("after renewal %s: %d, want %d", u, r.StatusCode, want)
			}
		}

		// A cookie with a token that is not the account's current one
		// (replaced since, or someone else's) shows nothing.
		mia, _ := h.member(t, "Mia", accounts.RoleMultiplier)
		miaToken, err := h.pods.IssueFeedToken(ctx, mia.ID)
		if err != nil {
			t.Fatal(err)
		}
		for name, tok := range map[string]string{"replaced": token, "someone else's": miaToken, "malformed": "x"} {
			w := h.do(t, "GET", "/account", nil, nil, cookie, &http.Cookie{Name: freshFeedCookie, Value: tok})
			if w.Code != 200 || privateURL.MatchString(w.Body.String()) || (len(tok) > 1 && strings.Contains(w.Body.String(), tok)) {
				t.Errorf("%s token in the cookie: %d\n%s", name, w.Code, mainOf(w.Body.String()))
			}
			if cl := cookieFrom(w, freshFeedCookie); cl == nil || cl.MaxAge >= 0 {
				t.Errorf("%s token: cookie not cleared", name)
			}
		}

		// Secure follows the server's cookie setting.
		secure := h.serverWith(t, func(c *Config) { c.SecureCookies = SecureAlways })
		body, hdr := form(nil)
		w := httptest.NewRecorder()
		req := httptest.NewRequest("POST", "/account/podcast-feed", body)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		req.AddCookie(cookie)
		secure.ServeHTTP(w, req)
		if ck := cookieFrom(w, freshFeedCookie); w.Code != http.StatusSeeOther || ck == nil || !ck.Secure || !ck.HttpOnly || ck.SameSite != http.SameSiteStrictMode {
			t.Errorf("with secure cookies: %d %+v", w.Code, ck)
		} else {
			w = httptest.NewRecorder()
			req = httptest.NewRequest("GET", "/account", nil)
			req.AddCookie(cookie)
			req.AddCookie(&http.Cookie{Name: freshFeedCookie, Value: ck.Value})
			secure.ServeHTTP(w, req)
			if cl := cookieFrom(w, freshFeedCookie); w.Code != 200 || !strings.Contains(w.Body.String(), ck.Value) || cl == nil || cl.MaxAge >= 0 || !cl.Secure {
				t.Errorf("with secure cookies, the GET: %d %+v", w.Code, cl)
			}
		}

		// No token reaches a log.
		for _, tok := range []string{token, newToken, miaToken} {
			if strings.Contains(h.logs.String(), tok) {
				t.Fatal("a private feed token is in the logs")
			}
		}
	})
}

// TestPodcastFeedRevokedWithRole: when an admin takes the multiplier role
// away (on the admin page or through the API), the private feed token is
// revoked, so that approving the account again does not bring the old
// address back; changes that keep the role keep the address.
func TestPodcastFeedRevokedWithRole(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		ctx := context.Background()
		pro := h.series(t, "fachlich", podcasts.AudienceMultipliers)
		h.addEpisode(t, episodeSpec{slug: "fach-1", series: pro, audience: catalog.AudienceMultipliers, size: 1000, duration: time.Second})
		ts := httptest.NewServer(h.srv)
		defer ts.Close()
		_, adminCookie := h.member(t, "Ada", accounts.RoleAdmin)
		admin := newBrowserSession(t, ts, adminCookie)

		rolesForm := func(roles ...string) func(t *testing.T, id string) {
			return func(t *testing.T, id string) {
				t.Helper()
				if r, body := admin.post(t, "/admin/accounts/"+id+"/roles", url.Values{"role": roles}); r.StatusCode != http.StatusSeeOther {
					t.Fatalf("admin page roles %v: %d\n%s", roles, r.StatusCode, mainOf(body))
				}
			}
		}
		cases := []struct {
			name     string
			change   func(t *testing.T, id string)
			feedWant int
		}{
			{"admin page: no roles", rolesForm(), 404},
			{"admin page: trainer instead", rolesForm(string(accounts.RoleTrainer)), 404},
			{"API: no roles", func(t *testing.T, id string) {
				t.Helper()
				if r, body := admin.do(t, "PUT", "/api/v1/admin/accounts/"+id+"/roles", "application/json", strings.NewReader(`{"roles":[]}`)); r.StatusCode != 200 {
					t.Fatalf("API roles: %d %s", r.StatusCode, body)
				}
			}, 404},
			{"admin page: editor added, multiplier kept", rolesForm(string(accounts.RoleMultiplier), string(accounts.RoleEditor)), 200},
			{"decline: the role stays", func(t *testing.T, id string) {
				t.Helper()
				if r, _ := admin.post(t, "/admin/accounts/"+id+"/decline", nil); r.StatusCode != http.StatusSeeOther {
					t.Fatalf("decline: %d", r.StatusCode)
				}
			}, 200},
		}
		for i, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				m, cookie := h.member(t, "Malte"+string(rune('a'+i)))
				if r, _ := admin.post(t, "/admin/accounts/"+m.ID+"/approve", nil); r.StatusCode != http.StatusSeeOther {
					t.Fatalf("approve: %d", r.StatusCode)
				}
				feedURL, _ := newBrowserSession(t, ts, cookie).issueFeed(t)
				if r, _ := get(t, "GET", feedURL, nil); r.StatusCode != 200 {
					t.Fatalf("feed before: %d", r.StatusCode)
				}
				tc.change(t, m.ID)
				// Approved again: the old address works only if the role
				// was never taken away.
				if r, _ := admin.post(t, "/admin/accounts/"+m.ID+"/approve", nil); r.StatusCode != http.StatusSeeOther {
					t.Fatalf("approve again: %d", r.StatusCode)
				}
				if a, err := h.accts.Get(ctx, m.ID); err != nil || !a.Has(accounts.RoleMultiplier) {
					t.Fatalf("not a multiplier again: %+v %v", a.Roles, err)
				}
				if r, _ := get(t, "GET", feedURL, nil); r.StatusCode != tc.feedWant {
					t.Errorf("old feed address after re-approval: %d, want %d", r.StatusCode, tc.feedWant)
				}
				has, _, err := h.pods.HasFeedToken(ctx, m.ID)
				if err != nil || has != (tc.feedWant == 200) {
					t.Errorf("HasFeedToken %v %v", has, err)
				}
			})
		}
	})
}

// failingPodcasts is the podcast store with one method failing as a store
// that is down does.
type failingPodcasts struct {
	Podcasts
	method string
}

var errPodcastStoreDown = errors.New("fake: the podcast store is down")

func (f failingPodcasts) HasFeedToken(ctx context.Context, accountID string) (bool, time.Time, error) {
	if f.method == "HasFeedToken" {
		return false, time.Time{}, errPodcastStoreDown
	}
	return f.Podcasts.HasFeedToken(ctx, accountID)
}

func (f failingPodcasts) ListSeries(ctx context.Context) ([]podcasts.Series, error) {
	if f.method == "ListSeries" {
		return nil, errPodcastStoreDown
	}
	return f.Podcasts.ListSeries(ctx)
}

func (f failingPodcasts) FeedTokenAccount(ctx context.Context, token string) (string, error) {
	if f.method == "FeedTokenAccount" {
		return "", errPodcastStoreDown
	}
	return f.Podcasts.FeedTokenAccount(ctx, token)
}

// TestAccountPageWithoutPodcastStore: when the podcast store fails, the
// account page is still there, without the private feed section, and the
// failure is logged.
func TestAccountPageWithoutPodcastStore(t *testing.T) {
	podcastStores(t, func(t *testing.T, h *podcastHarness) {
		h.series(t, "fachlich", podcasts.AudienceMultipliers)
		m, cookie := h.member(t, "Malte", accounts.RoleMultiplier)
		token, err := h.pods.IssueFeedToken(context.Background(), m.ID)
		if err != nil {
			t.Fatal(err)
		}
		for _, method := range []string{"HasFeedToken", "ListSeries", "FeedTokenAccount"} {
			t.Run(method, func(t *testing.T) {
				before := strings.Count(h.logs.String(), errPodcastStoreDown.Error())
				srv := h.serverWith(t, func(c *Config) { c.Podcasts = failingPodcasts{Podcasts: h.pods, method: method} })
				req := httptest.NewRequest("GET", "/account", nil)
				req.AddCookie(cookie)
				// A token just issued, so that the page asks for its owner.
				req.AddCookie(&http.Cookie{Name: freshFeedCookie, Value: token})
				w := httptest.NewRecorder()
				srv.ServeHTTP(w, req)
				page := w.Body.String()
				if w.Code != 200 || !strings.Contains(page, `id="lang-h"`) || !strings.Contains(page, `id="pw-h"`) {
					t.Fatalf("account page: %d\n%s", w.Code, mainOf(page))
				}
				if strings.Contains(page, `id="podcast-feed"`) || strings.Contains(page, token) {
					t.Errorf("the private feed section is shown:\n%s", mainOf(page))
				}
				if strings.Count(h.logs.String(), errPodcastStoreDown.Error()) <= before {
					t.Error("the failure is not logged")
				}
			})
		}
		// With the store back, the section is there again.
		if w := h.do(t, "GET", "/account", nil, nil, cookie); w.Code != 200 || !strings.Contains(w.Body.String(), `id="podcast-feed"`) {
			t.Errorf("with the store working: %d", w.Code)
		}
		if strings.Contains(h.logs.String(), token) {
			t.Fatal("the token is in the logs")
		}
	})
}
