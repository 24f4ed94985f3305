package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/internal/storetest"
	"portalo/store/kv"
	"portalo/store/kv/boltkv"
	"portalo/web/i18n"
	"portalo/workshops"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.TestMode)
	os.Exit(m.Run())
}

// syncBuffer collects log output from concurrent handlers.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}
func (s *syncBuffer) String() string { s.mu.Lock(); defer s.mu.Unlock(); return s.b.String() }

type harness struct {
	srv   *Server
	accts *accounts.Service
	ws    *workshops.Service
	store kv.Store
	logs  *syncBuffer
	ready *error // what the fake readiness check returns
}

// backends runs fn against a portal on the embedded store and on Redis.
func backends(t *testing.T, fn func(t *testing.T, h *harness)) {
	storetest.KV(t, func(t *testing.T, store kv.Store) { fn(t, newHarness(t, store)) })
}

func newHarness(t *testing.T, store kv.Store) *harness {
	t.Helper()
	h := &harness{store: store, logs: &syncBuffer{}, ready: new(error)}
	accts, err := accounts.New(context.Background(), store, accounts.Options{
		Hash:                    accounts.HashParams{MemoryKiB: 64, Time: 1, Threads: 1},
		LoginAttemptsPerAccount: 5,
		// As in cmd/portalo: a deleted trainer leaves their workshops.
		BeforeDelete: []func(context.Context, string) error{func(ctx context.Context, id string) error { return h.ws.UnassignTrainer(ctx, id) }},
	})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	h.accts = accts
	h.ws = workshops.New(store, workshops.Options{IsTrainer: isTrainer(accts)})
	h.srv, err = New(Config{
		Accounts: accts,
		Catalog:  cat,
		Logger:   slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		Ready: []Check{
			{Name: "state store", Ping: store.Ping},
			{Name: "object store", Ping: func(context.Context) error { return *h.ready }},
		},
		MaxBodyBytes: 64 << 10,
		Workshops:    h.ws,
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// do sends one request straight to the handler, as a browser at
// 203.0.113.7 would, with the given cookies.
func (h *harness) do(t *testing.T, method, target string, body io.Reader, hdr map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
	t.Helper()
	r := httptest.NewRequest(method, target, body)
	r.RemoteAddr = "203.0.113.7:40123"
	for k, v := range hdr {
		r.Header.Set(k, v)
	}
	for _, c := range cookies {
		r.AddCookie(c)
	}
	w := httptest.NewRecorder()
	h.srv.ServeHTTP(w, r)
	return w
}

func form(vals map[string]string) (io.Reader, map[string]string) {
	v := url.Values{}
	for k, x := range vals {
		v.Set(k, x)
	}
	return strings.NewReader(v.Encode()), map[string]string{"Content-Type": "application/x-www-form-urlencoded"}
}

func cookieFrom(w *httptest.ResponseRecorder, name string) *http.Cookie {
	for _, c := range w.Result().Cookies() {
		if c.Name == name {
			return c
		}
	}
	return nil
}

var (
	htmlLang = regexp.MustCompile(`<html lang="([a-z]+)" dir="(ltr|rtl)">`)
	// Every message of every language, to prove that pages are translated.
	untranslated = regexp.MustCompile(`>(Nav|Home|Field|Err|Account|Admin|Flash|Role)[A-Z][A-Za-z]+<`)
)

func TestPagesInEveryLanguage(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		for _, lang := range i18n.Languages {
			for _, path := range []string{"/", "/register", "/login"} {
				t.Run(lang.Code+path, func(t *testing.T) {
					w := h.do(t, "GET", path, nil, map[string]string{"Accept-Language": lang.Code + ";q=0.9"})
					if w.Code != http.StatusOK {
						t.Fatalf("status %d", w.Code)
					}
					m := htmlLang.FindStringSubmatch(w.Body.String())
					if m == nil || m[1] != lang.Code || m[2] != lang.Dir {
						t.Fatalf("html element %v, want lang=%s dir=%s", m, lang.Code, lang.Dir)
					}
					if u := untranslated.FindString(w.Body.String()); u != "" {
						t.Fatalf("untranslated message id on the page: %s", u)
					}
					if w.Header().Get("Content-Language") != lang.Code {
						t.Fatalf("Content-Language %q", w.Header().Get("Content-Language"))
					}
					csp := w.Header().Get("Content-Security-Policy")
					if !strings.Contains(csp, "default-src 'self'") || !strings.Contains(csp, "frame-ancestors 'none'") {
						t.Fatalf("CSP %q", csp)
					}
					// No page loads anything from a third party.
					if ext := regexp.MustCompile(`(src|href)="(https?:)?//`).FindString(w.Body.String()); ext != "" {
						t.Fatalf("page refers to another site: %s", ext)
					}
				})
			}
		}
	})
}

func TestLanguageSwitchIsRemembered(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		w := h.do(t, "GET", "/lang/ar?next=/register", nil, nil)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/register" {
			t.Fatalf("switch: %d %s", w.Code, w.Header().Get("Location"))
		}
		lc := cookieFrom(w, langCookie)
		if lc == nil || lc.Value != "ar" || lc.MaxAge < 86400 {
			t.Fatalf("language cookie %+v", lc)
		}
		w = h.do(t, "GET", "/", nil, map[string]string{"Accept-Language": "en"}, lc)
		if !strings.Contains(w.Body.String(), `<html lang="ar" dir="rtl">`) {
			t.Fatal("remembered language not used")
		}
		for _, bad := range []string{"/lang/ar?next=//evil.example/", "/lang/ar?next=https://evil.example/", "/lang/ar?next=/\\evil.example"} {
			if loc := h.do(t, "GET", bad, nil, nil).Header().Get("Location"); loc != "/" {
				t.Fatalf("%s redirects to %q", bad, loc)
			}
		}
		if w := h.do(t, "GET", "/lang/xx", nil, nil); w.Code != http.StatusNotFound {
			t.Fatalf("unknown language: %d", w.Code)
		}
	})
}

func TestRegisterLoginLogoutForms(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		en := map[string]string{"Accept-Language": "en", "Content-Type": "application/x-www-form-urlencoded"}
		post := func(path string, vals map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
			body, _ := form(vals)
			return h.do(t, "POST", path, body, en, cookies...)
		}
		cases := []struct {
			name   string
			vals   map[string]string
			status int
			msg    string
		}{
			{"empty pseudonym", map[string]string{"pseudonym": "", "password": "long enough", "password_confirm": "long enough"}, 422, "Please enter a pseudonym."},
			{"short password", map[string]string{"pseudonym": "Olga", "password": "short", "password_confirm": "short"}, 422, "at least 8 characters"},
			{"mismatch", map[string]string{"pseudonym": "Olga", "password": "long enough", "password_confirm": "long enuff"}, 422, "not the same"},
			{"over-long pseudonym", map[string]string{"pseudonym": strings.Repeat("o", 5000), "password": "long enough", "password_confirm": "long enough"}, 422, "3 to 32 characters"},
			{"bad email", map[string]string{"pseudonym": "Olga", "password": "long enough", "password_confirm": "long enough", "email": "olga"}, 422, "does not look like an e-mail"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				w := post("/register", tc.vals)
				if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.msg) {
					t.Fatalf("status %d, body lacks %q", w.Code, tc.msg)
				}
				if !strings.Contains(w.Body.String(), `aria-invalid="true"`) || !strings.Contains(w.Body.String(), `role="alert"`) {
					t.Fatal("error not tied to the field for screen readers")
				}
				if cookieFrom(w, sessionCookie) != nil {
					t.Fatal("a failed registration started a session")
				}
			})
		}

		w := post("/register", map[string]string{"pseudonym": "Olga", "password": "long enough", "password_confirm": "long enough", "multiplier": "1"})
		if w.Code != http.StatusSeeOther {
			t.Fatalf("register: %d %s", w.Code, w.Body)
		}
		first := cookieFrom(w, sessionCookie)
		if first == nil || !first.HttpOnly || first.SameSite != http.SameSiteLaxMode || first.Secure || len(first.Value) < 40 {
			t.Fatalf("session cookie %+v", first)
		}
		flash := cookieFrom(w, flashCookie)
		page := h.do(t, "GET", "/", nil, en, first, flash)
		if !strings.Contains(page.Body.String(), "Your account has been created") || !strings.Contains(page.Body.String(), "Good to see you again, Olga.") {
			t.Fatalf("home after registration: %s", page.Body)
		}
		if w := post("/register", map[string]string{"pseudonym": "OLGA", "password": "long enough", "password_confirm": "long enough"}); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "already taken") {
			t.Fatalf("taken pseudonym: %d", w.Code)
		}

		if w := post("/login", map[string]string{"pseudonym": "Olga", "password": "wrong pass"}); w.Code != http.StatusUnauthorized || !strings.Contains(w.Body.String(), "Pseudonym or password is not correct.") {
			t.Fatalf("wrong password: %d", w.Code)
		}
		w = post("/login", map[string]string{"pseudonym": "olga", "password": "long enough", "next": "/account"}, first)
		if w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/account" {
			t.Fatalf("login: %d %s", w.Code, w.Header().Get("Location"))
		}
		second := cookieFrom(w, sessionCookie)
		if second == nil || second.Value == first.Value {
			t.Fatal("login did not issue a new session ID")
		}
		if w := h.do(t, "GET", "/account", nil, en, first); w.Code != http.StatusSeeOther {
			t.Fatalf("the session before login still works: %d", w.Code)
		}
		acct := h.do(t, "GET", "/account", nil, en, second)
		if acct.Code != http.StatusOK || !strings.Contains(acct.Body.String(), "is being checked") {
			t.Fatalf("account page: %d", acct.Code)
		}

		w = post("/logout", nil, second)
		if w.Code != http.StatusSeeOther {
			t.Fatalf("logout: %d", w.Code)
		}
		if w := h.do(t, "GET", "/account", nil, en, second); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/login?next=/account" {
			t.Fatalf("after logout /account gives %d %s", w.Code, w.Header().Get("Location"))
		}

		// Too many attempts for one account: 429 with Retry-After.
		var last *httptest.ResponseRecorder
		for range 6 {
			last = post("/login", map[string]string{"pseudonym": "Olga", "password": "guess guess"})
		}
		if last.Code != http.StatusTooManyRequests || last.Header().Get("Retry-After") == "" || !strings.Contains(last.Body.String(), "Too many attempts") {
			t.Fatalf("rate limit: %d %q", last.Code, last.Header().Get("Retry-After"))
		}
	})
}

func TestAPIBadInput(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		js := map[string]string{"Content-Type": "application/json", "Accept-Language": "de"}
		cases := []struct {
			name, method, path, body string
			hdr                      map[string]string
			status                   int
			code                     string
		}{
			{"malformed", "POST", "/api/v1/accounts", `{"pseudonym":`, js, 400, "bad_request"},
			{"unknown field", "POST", "/api/v1/accounts", `{"pseudonym":"Pia","password":"long enough","admin":true}`, js, 400, "bad_request"},
			{"two values", "POST", "/api/v1/accounts", `{"pseudonym":"Pia","password":"long enough"}{}`, js, 400, "bad_request"},
			{"wrong type", "POST", "/api/v1/accounts", `{"pseudonym":5}`, js, 400, "bad_request"},
			{"not json", "POST", "/api/v1/accounts", `pseudonym=Pia`, map[string]string{"Content-Type": "application/x-www-form-urlencoded"}, 415, "unsupported_media_type"},
			{"oversized", "POST", "/api/v1/accounts", `{"pseudonym":"` + strings.Repeat("x", 100<<10) + `"}`, js, 413, "too_large"},
			{"short password", "POST", "/api/v1/accounts", `{"pseudonym":"Pia","password":"kurz"}`, js, 422, "password_too_short"},
			{"login unknown", "POST", "/api/v1/session", `{"pseudonym":"Nobody","password":"long enough"}`, js, 401, "invalid_credentials"},
			{"me anonymous", "GET", "/api/v1/me", ``, nil, 401, "login_required"},
			{"admin anonymous", "GET", "/api/v1/admin/accounts", ``, nil, 401, "login_required"},
			{"no route", "GET", "/api/v1/nothing", ``, nil, 404, "not_found"},
			{"wrong method", "PUT", "/api/v1/session", `{}`, js, 405, "method_not_allowed"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				w := h.do(t, tc.method, tc.path, strings.NewReader(tc.body), tc.hdr)
				var got struct {
					Error problem `json:"error"`
				}
				if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil {
					t.Fatalf("status %d, body not JSON: %s", w.Code, w.Body)
				}
				if w.Code != tc.status || got.Error.Code != tc.code || got.Error.Message == "" {
					t.Fatalf("got %d %+v, want %d %s", w.Code, got.Error, tc.status, tc.code)
				}
			})
		}
		// Messages come in the person's language.
		w := h.do(t, "POST", "/api/v1/accounts", strings.NewReader(`{"pseudonym":"Pia","password":"kurz"}`), js)
		if !strings.Contains(w.Body.String(), "mindestens 8 Zeichen") {
			t.Fatalf("German error expected: %s", w.Body)
		}
	})
}

func TestAPIAccountLifecycle(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		js := map[string]string{"Content-Type": "application/json"}
		w := h.do(t, "POST", "/api/v1/accounts", strings.NewReader(`{"pseudonym":"Quinn","password":"long enough","email":"q@example.org","wants_multiplier":true}`), js)
		if w.Code != http.StatusCreated {
			t.Fatalf("register: %d %s", w.Code, w.Body)
		}
		if strings.Contains(w.Body.String(), "argon2") || strings.Contains(w.Body.String(), "password") {
			t.Fatalf("API leaks the password hash: %s", w.Body)
		}
		sess := cookieFrom(w, sessionCookie)
		if w := h.do(t, "GET", "/api/v1/admin/accounts", nil, nil, sess); w.Code != http.StatusForbidden {
			t.Fatalf("participant on admin API: %d", w.Code)
		}
		if w := h.do(t, "GET", "/admin", nil, nil, sess); w.Code != http.StatusForbidden {
			t.Fatalf("participant on admin page: %d", w.Code)
		}

		admin, err := h.accts.CreateAdmin(context.Background(), "Boss", "long enough")
		if err != nil {
			t.Fatal(err)
		}
		w = h.do(t, "POST", "/api/v1/session", strings.NewReader(`{"pseudonym":"Boss","password":"long enough"}`), js)
		adminSess := cookieFrom(w, sessionCookie)
		w = h.do(t, "GET", "/api/v1/admin/accounts", nil, nil, adminSess)
		if w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"multiplier_requested":true`) {
			t.Fatalf("admin list: %d %s", w.Code, w.Body)
		}
		var list struct{ Accounts []accountJSON }
		_ = json.Unmarshal(w.Body.Bytes(), &list)
		var quinn string
		for _, a := range list.Accounts {
			if a.Pseudonym == "Quinn" {
				quinn = a.ID
			}
		}
		if w := h.do(t, "POST", "/api/v1/admin/accounts/"+quinn+"/approve", nil, nil, adminSess); w.Code != http.StatusOK || !strings.Contains(w.Body.String(), `"multiplier"`) {
			t.Fatalf("approve: %d %s", w.Code, w.Body)
		}
		if w := h.do(t, "PUT", "/api/v1/admin/accounts/"+quinn+"/roles", strings.NewReader(`{"roles":["king"]}`), js, adminSess); w.Code != 422 {
			t.Fatalf("invalid role: %d", w.Code)
		}
		if w := h.do(t, "PUT", "/api/v1/admin/accounts/"+admin.ID+"/roles", strings.NewReader(`{"roles":[]}`), js, adminSess); w.Code != http.StatusConflict {
			t.Fatalf("last admin demoted: %d", w.Code)
		}
		if w := h.do(t, "POST", "/api/v1/admin/accounts/nope/approve", nil, nil, adminSess); w.Code != http.StatusNotFound {
			t.Fatalf("approve unknown: %d", w.Code)
		}

		// Export, then delete with the password.
		w = h.do(t, "GET", "/api/v1/me/export", nil, nil, sess)
		if w.Code != 200 || !strings.Contains(w.Header().Get("Content-Disposition"), "attachment") || !strings.Contains(w.Body.String(), "q@example.org") || strings.Contains(w.Body.String(), "argon2") {
			t.Fatalf("export: %d %s", w.Code, w.Body)
		}
		if w := h.do(t, "DELETE", "/api/v1/me", strings.NewReader(`{"password":"wrong one"}`), js, sess); w.Code != 422 {
			t.Fatalf("delete with wrong password: %d", w.Code)
		}
		if w := h.do(t, "DELETE", "/api/v1/me", strings.NewReader(`{"password":"long enough"}`), js, sess); w.Code != http.StatusNoContent {
			t.Fatalf("delete: %d %s", w.Code, w.Body)
		}
		if _, err := h.accts.Get(context.Background(), quinn); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("account survived: %v", err)
		}
		if w := h.do(t, "GET", "/api/v1/me", nil, nil, sess); w.Code != http.StatusUnauthorized {
			t.Fatalf("session survived deletion: %d", w.Code)
		}
	})
}

func TestAccountPageActions(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		en := map[string]string{"Accept-Language": "en", "Content-Type": "application/x-www-form-urlencoded"}
		ctx := context.Background()
		a, _ := h.accts.Register(ctx, accounts.Registration{Pseudonym: "Rosa", Password: "long enough"}, "x")
		tok1, _ := h.accts.StartSession(ctx, a.ID)
		tok2, _ := h.accts.StartSession(ctx, a.ID)
		c1 := &http.Cookie{Name: sessionCookie, Value: tok1}
		c2 := &http.Cookie{Name: sessionCookie, Value: tok2}
		post := func(path string, vals map[string]string, c *http.Cookie) *httptest.ResponseRecorder {
			body, _ := form(vals)
			return h.do(t, "POST", path, body, en, c)
		}
		if w := h.do(t, "GET", "/account", nil, en, c1); !strings.Contains(w.Body.String(), "logged in on 2 devices") {
			t.Fatalf("session count missing: %s", w.Body)
		}
		if w := post("/account/language", map[string]string{"language": "tr"}, c1); w.Code != http.StatusSeeOther {
			t.Fatalf("language: %d", w.Code)
		}
		if got, _ := h.accts.Get(ctx, a.ID); got.Language != "tr" {
			t.Fatalf("language not saved: %q", got.Language)
		}
		// Without a language cookie, the account's language wins over the browser's.
		if w := h.do(t, "GET", "/", nil, map[string]string{"Accept-Language": "en"}, c1); !strings.Contains(w.Body.String(), `<html lang="tr"`) {
			t.Fatal("account language not used")
		}
		if w := post("/account/language", map[string]string{"language": "xx"}, c1); w.Code != 422 {
			t.Fatalf("invalid language: %d", w.Code)
		}
		if w := post("/account/password", map[string]string{"current_password": "nope nope", "new_password": "new password"}, c1); w.Code != 422 {
			t.Fatalf("wrong current password: %d", w.Code)
		}
		if w := post("/account/delete", map[string]string{"delete_password": "long enough"}, c1); w.Code != 422 || !strings.Contains(w.Body.String(), `id="confirm-error"`) {
			t.Fatalf("delete without confirmation: %d", w.Code)
		}
		if w := post("/account/logout-everywhere", nil, c1); w.Code != http.StatusSeeOther {
			t.Fatalf("logout everywhere: %d", w.Code)
		}
		for _, c := range []*http.Cookie{c1, c2} {
			if w := h.do(t, "GET", "/account", nil, en, c); w.Code != http.StatusSeeOther {
				t.Fatalf("session survived logout everywhere: %d", w.Code)
			}
		}
		tok3, _ := h.accts.StartSession(ctx, a.ID)
		c3 := &http.Cookie{Name: sessionCookie, Value: tok3}
		if w := post("/account/delete", map[string]string{"delete_password": "long enough", "confirm": "1"}, c3); w.Code != http.StatusSeeOther {
			t.Fatalf("delete: %d %s", w.Code, w.Body)
		}
		if _, err := h.accts.Get(ctx, a.ID); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatal("account not deleted")
		}
	})
}

func TestCrossOriginPostsAreRefused(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		body, hdr := form(map[string]string{"pseudonym": "Sam", "password": "long enough", "password_confirm": "long enough"})
		hdr["Origin"] = "https://evil.example"
		hdr["Sec-Fetch-Site"] = "cross-site"
		hdr["Accept-Language"] = "en"
		w := h.do(t, "POST", "/register", body, hdr)
		if w.Code != http.StatusForbidden || !strings.Contains(w.Body.String(), "another website") {
			t.Fatalf("cross-site form post: %d %s", w.Code, w.Body)
		}
		if _, err := h.accts.ByPseudonym(context.Background(), "Sam"); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatal("cross-site post created an account")
		}
		// The same request from the site itself works.
		body, hdr = form(map[string]string{"pseudonym": "Sam", "password": "long enough", "password_confirm": "long enough"})
		hdr["Origin"] = "http://example.com"
		hdr["Sec-Fetch-Site"] = "same-origin"
		if w := h.do(t, "POST", "/register", body, hdr); w.Code != http.StatusSeeOther {
			t.Fatalf("same-origin post: %d", w.Code)
		}
	})
}

func TestHealthReadinessMetrics(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		if w := h.do(t, "GET", "/healthz", nil, nil); w.Code != 200 {
			t.Fatalf("healthz %d", w.Code)
		}
		if w := h.do(t, "GET", "/readyz", nil, nil); w.Code != 200 {
			t.Fatalf("readyz %d %s", w.Code, w.Body)
		}
		*h.ready = errors.New("connection refused")
		w := h.do(t, "GET", "/readyz", nil, nil)
		if w.Code != http.StatusServiceUnavailable || !strings.Contains(w.Body.String(), "object store: connection refused") || strings.Contains(w.Body.String(), "state store") {
			t.Fatalf("readyz with a failing part: %d %s", w.Code, w.Body)
		}
		w = h.do(t, "GET", "/metrics", nil, nil)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `portalo_http_requests_total{method="GET",route="/readyz",status="503"} 1`) || !strings.Contains(w.Body.String(), "go_goroutines") {
			t.Fatalf("metrics: %s", w.Body)
		}
		w = h.do(t, "GET", "/static/portalo.css?v="+h.srv.assetVersion, nil, nil)
		if w.Code != 200 || !strings.HasPrefix(w.Header().Get("Content-Type"), "text/css") || !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
			t.Fatalf("static: %d %v", w.Code, w.Header())
		}
		for _, p := range []string{"/static/", "/static/nope.css", "/static/../server.go", "/nope"} {
			if w := h.do(t, "GET", p, nil, nil); w.Code != http.StatusNotFound && w.Code != http.StatusMovedPermanently {
				t.Fatalf("%s: %d", p, w.Code)
			}
		}
	})
}

// Logs never hold passwords, session IDs or participants' IP addresses.
func TestLogsHoldNoPersonalData(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		body, hdr := form(map[string]string{"pseudonym": "Tara", "password": "secret-pass-123", "password_confirm": "secret-pass-123"})
		w := h.do(t, "POST", "/register", body, hdr)
		sess := cookieFrom(w, sessionCookie)
		h.do(t, "GET", "/account?token=abc", nil, nil, sess)
		body, hdr = form(map[string]string{"pseudonym": "Tara", "password": "wrong-pass-456"})
		h.do(t, "POST", "/login", body, hdr)
		logs := h.logs.String()
		if !strings.Contains(logs, `"route":"/account"`) {
			t.Fatalf("requests were not logged: %s", logs)
		}
		for _, secret := range []string{"secret-pass-123", "wrong-pass-456", sess.Value, "203.0.113.7", "token=abc"} {
			if strings.Contains(logs, secret) {
				t.Fatalf("log holds %q:\n%s", secret, logs)
			}
		}
	})
}

func TestSecureCookieBehindTLS(t *testing.T) {
	h := newHarness(t, func() kv.Store {
		s, err := boltkv.Open(filepath.Join(t.TempDir(), "s.db"))
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { s.Close() })
		return s
	}())
	srv := httptest.NewTLSServer(h.srv)
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	client := srv.Client()
	client.Jar = jar
	client.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	resp, err := client.PostForm(srv.URL+"/register", url.Values{"pseudonym": {"Uwe"}, "password": {"long enough"}, "password_confirm": {"long enough"}})
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	var found bool
	for _, c := range resp.Cookies() {
		if c.Name == sessionCookie {
			found = true
			if !c.Secure {
				t.Fatal("session cookie over TLS lacks Secure")
			}
		}
	}
	if !found {
		t.Fatalf("no session cookie: %d", resp.StatusCode)
	}
}
