package web

import (
	"context"
	"encoding/json"
	"fmt"
	"html"
	"io/fs"
	"maps"
	"net/http"
	"net/http/httptest"
	"net/url"
	"regexp"
	"slices"
	"strings"
	"testing"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/processing"
	"portalo/web/i18n"
)

// untranslatedMedia finds a message ID of the mediathek left on a page.
var untranslatedMedia = regexp.MustCompile(`(>|")\s*(Mediathek|ErrMediathek|FlashMediathek)[A-Z][A-Za-z]+\s*(<|")`)

// TestMediathekPagesInEveryLanguage: every page of the mediathek, for
// viewers and editors, comes in all five languages, right-to-left in
// Arabic, with no message ID left untranslated; a title that is missing
// in the page's language comes in another one, marked with its lang and
// dir.
func TestMediathekPagesInEveryLanguage(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		it := h.addSynthetic(t, meta(catalog.KindVideo, "atmen", map[string]string{"de": "Ruhig atmen", "ar": "تنفس بهدوء"}), false)
		m := meta(catalog.KindEpisode, "", map[string]string{"de": "Entwurf"})
		m.Description = map[string]string{"de": "Erster Absatz.\n\nZweiter Absatz."}
		draft, err := h.cat.Create(context.Background(), m)
		if err != nil {
			t.Fatal(err)
		}
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		pages := []struct {
			path   string
			cookie *http.Cookie
		}{
			{"/mediathek", nil},
			{"/mediathek?q=atmen&topic=relaxation-and-stress&language=de&kind=video", nil},
			{"/mediathek?q=nichts-zu-finden", nil},
			{"/mediathek/atmen", nil},
			{"/mediathek/" + draft.Slug, editor},
			{"/manage/mediathek", editor},
			{"/manage/mediathek/new", editor},
			{"/manage/mediathek/" + it.ID, editor},
			{"/manage/mediathek/" + draft.ID, editor},
			{"/manage/mediathek/" + it.ID + "/delete", editor},
		}
		for _, lang := range i18n.Languages {
			for _, pg := range pages {
				t.Run(lang.Code+pg.path, func(t *testing.T) {
					w := h.do(t, "GET", pg.path, nil, map[string]string{"Accept-Language": lang.Code}, cookies(pg.cookie)...)
					body := w.Body.String()
					if w.Code != http.StatusOK {
						t.Fatalf("status %d", w.Code)
					}
					m := htmlLang.FindStringSubmatch(body)
					if m == nil || m[1] != lang.Code || m[2] != lang.Dir {
						t.Fatalf("html element %v, want lang=%s dir=%s", m, lang.Code, lang.Dir)
					}
					if u := untranslatedMedia.FindString(body); u != "" {
						t.Fatalf("untranslated message id: %s", u)
					}
					if u := untranslated.FindString(body); u != "" {
						t.Fatalf("untranslated message id: %s", u)
					}
					if ext := regexp.MustCompile(`(src|href)="(https?:)?//`).FindString(body); ext != "" {
						t.Fatalf("page refers to another site: %s", ext)
					}
					if w.Header().Get("Content-Language") != lang.Code {
						t.Fatalf("Content-Language %q", w.Header().Get("Content-Language"))
					}
				})
			}
			// The item page: the title in Arabic where there is one, else
			// the German one marked as German.
			w := h.do(t, "GET", "/mediathek/atmen", nil, map[string]string{"Accept-Language": lang.Code})
			switch lang.Code {
			case "ar":
				if !strings.Contains(w.Body.String(), `<h1 id="media-title">تنفس بهدوء</h1>`) {
					t.Errorf("ar: Arabic title missing")
				}
			case "de":
				if !strings.Contains(w.Body.String(), `<h1 id="media-title">Ruhig atmen</h1>`) {
					t.Errorf("de: German title missing")
				}
			default:
				if !strings.Contains(w.Body.String(), `<h1 id="media-title" lang="de" dir="ltr">Ruhig atmen</h1>`) {
					t.Errorf("%s: fallback title not marked as German", lang.Code)
				}
			}
		}
		// The player page alone allows data: media (hls.js gives its
		// <track> elements an empty data: WebVTT file); everything else
		// keeps the site's policy.
		site := h.do(t, "GET", "/mediathek", nil, nil).Header().Get("Content-Security-Policy")
		player := h.do(t, "GET", "/mediathek/atmen", nil, nil).Header().Get("Content-Security-Policy")
		if want := strings.Replace(site, "media-src 'self' blob:", "media-src 'self' blob: data:", 1); player != want || site == want {
			t.Errorf("player page CSP %q, site %q", player, site)
		}
		// Paragraphs of the description; the draft is marked as preview.
		w := h.do(t, "GET", "/mediathek/"+draft.Slug, nil, map[string]string{"Accept-Language": "de"}, editor)
		if !strings.Contains(w.Body.String(), "<p>Erster Absatz.</p>\n<p>Zweiter Absatz.</p>") || !strings.Contains(w.Body.String(), "Vorschau – Status: Entwurf") {
			t.Errorf("draft page: %s", mainOf(w.Body.String()))
		}
	})
}

// TestMediathekBrowse: the list is newest first and paginated, filters by
// kind, topic and language, and searches titles and descriptions in every
// language regardless of case and diacritics.
func TestMediathekBrowse(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		ctx := context.Background()
		add := func(kind catalog.Kind, slug string, topic catalog.Topic, titles, descs map[string]string) {
			t.Helper()
			m := meta(kind, slug, titles)
			m.Topic, m.Description = topic, descs
			h.addSynthetic(t, m, false)
		}
		add(catalog.KindVideo, "ruecken", catalog.TopicPain, map[string]string{"de": "Rückenschmerzen lindern"}, nil)
		add(catalog.KindEpisode, "uyku", catalog.TopicSleep, map[string]string{"tr": "İyi uyku için ipuçları"}, nil)
		add(catalog.KindVideo, "stress", catalog.TopicRelaxation, map[string]string{"ru": "Как справиться со стрессом"}, map[string]string{"en": "Calm down with a breathing exercise"})
		add(catalog.KindVideo, "essen", catalog.TopicNutrition, map[string]string{"ar": "الأكل الصحي"}, nil)
		names := func(w string) []string {
			var out []string
			for _, m := range regexp.MustCompile(`<h3[^>]*><a href="/mediathek/([a-z0-9-]+)"`).FindAllStringSubmatch(w, -1) {
				out = append(out, m[1])
			}
			return out
		}
		for _, tc := range []struct {
			query string
			want  []string
		}{
			{"", []string{"essen", "stress", "uyku", "ruecken"}},
			{"q=ruckenschmerzen", []string{"ruecken"}},
			{"q=R%C3%9CCKEN", []string{"ruecken"}},
			{"q=iyi", []string{"uyku"}},
			{"q=IYI+UYKU", []string{"uyku"}},
			{"q=стресс", []string{"stress"}},
			{"q=breathing", []string{"stress"}},
			{"q=الاكل", []string{"essen"}},
			{"kind=episode", []string{"uyku"}},
			{"topic=pain", []string{"ruecken"}},
			{"language=tr", []string{"uyku"}},
			{"language=ru&kind=episode", nil},
		} {
			t.Run(tc.query, func(t *testing.T) {
				w := h.do(t, "GET", "/mediathek?"+tc.query, nil, map[string]string{"Accept-Language": "en"})
				if w.Code != 200 {
					t.Fatalf("status %d", w.Code)
				}
				if got := names(w.Body.String()); !slices.Equal(got, tc.want) {
					t.Fatalf("got %v, want %v", got, tc.want)
				}
				if tc.want == nil && !strings.Contains(w.Body.String(), "Nothing found") {
					t.Fatal("no 'nothing found' message")
				}
			})
		}

		// 25 more: two pages, with links between them.
		for i := range 25 {
			m := meta(catalog.KindVideo, fmt.Sprintf("video-%02d", i), map[string]string{"de": fmt.Sprintf("Video %d", i)})
			it, err := h.cat.Create(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			if _, err := h.cat.SetFiles(ctx, it.ID, func(md *catalog.Media) error {
				md.Versions = map[string]catalog.Version{"de": {Files: []catalog.File{{Key: it.Prefix() + "x.mp4", Role: catalog.RoleDownload, Complete: true}}}}
				return nil
			}); err != nil {
				t.Fatal(err)
			}
			if err := putText(h, it.Prefix()+"x.mp4", "x"); err != nil {
				t.Fatal(err)
			}
			if _, err := h.cat.Publish(ctx, it.ID); err != nil {
				t.Fatal(err)
			}
		}
		first := h.do(t, "GET", "/mediathek", nil, map[string]string{"Accept-Language": "en"})
		got := names(first.Body.String())
		if len(got) != catalog.DefaultPageSize || got[0] != "video-24" || !strings.Contains(first.Body.String(), `href="/mediathek?page=2" rel="next"`) || !strings.Contains(first.Body.String(), "Page 1 of 2") {
			t.Fatalf("first page: %v", got)
		}
		second := h.do(t, "GET", "/mediathek?page=2", nil, map[string]string{"Accept-Language": "en"})
		got = names(second.Body.String())
		if len(got) != 29-catalog.DefaultPageSize || got[len(got)-1] != "ruecken" || !strings.Contains(second.Body.String(), `href="/mediathek" rel="prev"`) {
			t.Fatalf("second page: %v", got)
		}
		// Filters stay in the page links.
		w := h.do(t, "GET", "/mediathek?q=video&kind=video", nil, nil)
		if !strings.Contains(w.Body.String(), `href="/mediathek?kind=video&amp;page=2&amp;q=video"`) {
			t.Errorf("filters lost in the page link: %s", mainOf(w.Body.String()))
		}
	})
}

func putText(h *mediaHarness, key, s string) error {
	_, err := h.blobs.Put(context.Background(), key, strings.NewReader(s), int64(len(s)), "")
	return err
}

// TestMediathekBadInput: wrong parameters are a 4xx with a message in the
// person's language, on pages and in the API; never a 500.
func TestMediathekBadInput(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		it := h.addSynthetic(t, meta(catalog.KindVideo, "atmen", map[string]string{"de": "Atmen"}), false)
		long := url.QueryEscape(strings.Repeat("ä", catalog.MaxQueryLen+1))
		huge := url.QueryEscape(strings.Repeat("x", 100000))
		for _, tc := range []struct {
			path   string
			status int
			msg    string // in German
		}{
			{"/mediathek/gibt-es-nicht", 404, "Diesen Beitrag gibt es nicht"},
			{"/mediathek/" + strings.Repeat("a", 300), 404, "Diesen Beitrag gibt es nicht"},
			{"/mediathek/%00", 404, "Diesen Beitrag gibt es nicht"},
			{"/mediathek?page=-1", 400, "Die Seitenzahl muss"},
			{"/mediathek?page=0", 400, "Die Seitenzahl muss"},
			{"/mediathek?page=abc", 400, "Die Seitenzahl muss"},
			{"/mediathek?page=99999999999999999999", 400, "Die Seitenzahl muss"},
			{"/mediathek?page=9999", 200, ""},
			{"/mediathek?q=" + long, 400, "höchstens 200 Zeichen"},
			{"/mediathek?q=" + huge, 400, "höchstens 200 Zeichen"},
			{"/mediathek?q=%01", 400, "Der Suchtext enthält Zeichen"},
			{"/mediathek?q=%ff", 400, "Der Suchtext enthält Zeichen"},
			{"/mediathek?topic=yoga", 400, "Bitte wählen Sie ein Thema"},
			{"/mediathek?kind=film", 400, "Bitte wählen Sie eine Art"},
			{"/mediathek?language=fr", 400, "Diese Sprache gibt es hier nicht"},
			{"/api/v1/mediathek?page=-1", 400, "Die Seitenzahl muss"},
			{"/api/v1/mediathek?page_size=0", 400, "page_size muss"},
			{"/api/v1/mediathek?page_size=51", 400, "page_size muss"},
			{"/api/v1/mediathek?q=" + long, 400, "höchstens 200 Zeichen"},
			{"/api/v1/mediathek?topic=yoga", 400, "Bitte wählen Sie ein Thema"},
			{"/api/v1/mediathek/gibt-es-nicht", 404, "Diesen Beitrag gibt es nicht"},
			{"/media/gibt-es-nicht/hls/master.m3u8", 404, "Diesen Beitrag gibt es nicht"},
			{"/media/" + it.ID + "/", 404, "Diesen Beitrag gibt es nicht"},
			{"/media/" + it.ID + "/hls//master.m3u8", 404, "Diesen Beitrag gibt es nicht"},
			{"/media/" + it.ID + "/hls/%5C..%5Cmanifest.json", 404, "Diesen Beitrag gibt es nicht"},
			{"/media/" + strings.Repeat("x", 2000) + "/a", 404, "Diesen Beitrag gibt es nicht"},
			{"/manage/mediathek?page=abc", 303, ""}, // anonymous: to the login
		} {
			t.Run(tc.path[:min(len(tc.path), 60)], func(t *testing.T) {
				w := h.do(t, "GET", tc.path, nil, map[string]string{"Accept-Language": "de"})
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d: %s", w.Code, tc.status, mainOf(w.Body.String()))
				}
				if tc.msg == "" {
					return
				}
				body := w.Body.String()
				if strings.HasPrefix(tc.path, "/api/") {
					var got struct {
						Error problem `json:"error"`
					}
					if err := json.Unmarshal(w.Body.Bytes(), &got); err != nil || got.Error.Code == "" {
						t.Fatalf("not a JSON error: %s", body)
					}
					body = got.Error.Message
				}
				if !strings.Contains(body, tc.msg) {
					t.Fatalf("message %q missing: %s", tc.msg, mainOf(body))
				}
			})
		}
		// The search form keeps a bad entry and ties the error to it.
		w := h.do(t, "GET", "/mediathek?q="+long, nil, map[string]string{"Accept-Language": "de"})
		if !strings.Contains(w.Body.String(), `id="q-error"`) || !strings.Contains(w.Body.String(), `aria-invalid="true"`) {
			t.Errorf("the search error is not at the field")
		}
		// Methods that do not exist.
		if w := h.do(t, "POST", "/media/"+it.ID+"/poster.jpg", nil, nil); w.Code != http.StatusMethodNotAllowed {
			t.Errorf("POST on a file: %d", w.Code)
		}
	})
}

// TestMediathekAPI: list and item in JSON, with the addresses of the
// files; status and revision only for editors.
func TestMediathekAPI(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		m := meta(catalog.KindVideo, "atmen", map[string]string{"de": "Atmen", "en": "Breathe"})
		m.Downloadable = true
		it := h.addSynthetic(t, m, false)
		draft := h.addSynthetic(t, meta(catalog.KindVideo, "entwurf", map[string]string{"de": "Entwurf"}), true)
		_, editor := h.member(t, "Edda", accounts.RoleEditor)

		w := h.do(t, "GET", "/api/v1/mediathek?q=breathe", nil, nil)
		var list struct {
			Items              []mediaItemJSON
			Total, Page, Pages int
			PageSize           int `json:"page_size"`
		}
		if err := json.Unmarshal(w.Body.Bytes(), &list); err != nil || w.Code != 200 {
			t.Fatalf("list: %d %s", w.Code, w.Body)
		}
		if list.Total != 1 || list.Page != 1 || list.Pages != 1 || list.PageSize != catalog.DefaultPageSize || len(list.Items) != 1 {
			t.Fatalf("list: %+v", list)
		}
		got := list.Items[0]
		base := "/media/" + it.ID + "/"
		if got.Slug != "atmen" || got.URL != "/mediathek/atmen" || got.Title["en"] != "Breathe" || got.Poster != base+"poster.jpg" ||
			got.DurationMS != 9000 || len(got.Versions) != 1 || got.Versions[0].Master != base+"hls/master.m3u8" ||
			len(got.Versions[0].Downloads) != 1 || got.Versions[0].Downloads[0].URL != base+"download/audio.m4a?download=1" ||
			len(got.Subtitles) != 1 || got.Subtitles[0].URL != base+"subtitles/tr.vtt" || got.Status != "" || got.Revision != 0 {
			t.Fatalf("item: %+v", got)
		}
		if strings.Contains(w.Body.String(), "source.mp4") {
			t.Error("the API names the uploaded source")
		}
		w = h.do(t, "GET", "/api/v1/mediathek/atmen", nil, nil, editor)
		var one struct{ Item mediaItemJSON }
		if err := json.Unmarshal(w.Body.Bytes(), &one); err != nil || one.Item.Status != catalog.StatusPublished || one.Item.Revision < 1 {
			t.Fatalf("editor's item: %s", w.Body)
		}
		// Editors list drafts with status=draft; others cannot.
		w = h.do(t, "GET", "/api/v1/mediathek?status=draft", nil, nil, editor)
		if !strings.Contains(w.Body.String(), `"slug":"`+draft.Slug+`"`) || strings.Contains(w.Body.String(), `"slug":"atmen"`) {
			t.Errorf("editor's drafts: %s", w.Body)
		}
		w = h.do(t, "GET", "/api/v1/mediathek?status=draft", nil, nil)
		if strings.Contains(w.Body.String(), `"slug":"`+draft.Slug+`"`) {
			t.Errorf("anonymous sees a draft: %s", w.Body)
		}
		if w := h.do(t, "GET", "/api/v1/mediathek?status=gone", nil, nil, editor); w.Code != 400 {
			t.Errorf("unknown status: %d", w.Code)
		}
	})
}

// fakeProgress reports a fixed progress for one item (as the processing
// step would).
type fakeProgress struct {
	id       string
	fraction float64
	retried  *[]string // items Retry was called for
}

func (f fakeProgress) Retry(_ context.Context, id string) error {
	if f.retried != nil {
		*f.retried = append(*f.retried, id)
	}
	return nil
}

func (f fakeProgress) Progress(_ context.Context, id string) (float64, bool) {
	return f.fraction, id == f.id
}

// TestMediathekEditor: an editor creates an item (a wrong entry comes back
// at its field, entries kept), edits it, meets a concurrent edit (409 with
// what is stored now; saving again applies the entries), tries to publish
// it without files (409 saying why), publishes and unpublishes it, and
// deletes it after confirming. Others may not.
func TestMediathekEditor(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		ctx := context.Background()
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		_, participant := h.member(t, "Paula")
		_, multiplier := h.member(t, "Malte", accounts.RoleMultiplier)
		de := map[string]string{"Accept-Language": "de", "Content-Type": "application/x-www-form-urlencoded"}
		post := func(path string, vals map[string]string, c *http.Cookie) *httptest.ResponseRecorder {
			body, _ := form(vals)
			return h.do(t, "POST", path, body, de, cookies(c)...)
		}

		for _, c := range []*http.Cookie{participant, multiplier} {
			if w := h.do(t, "GET", "/manage/mediathek", nil, de, c); w.Code != http.StatusForbidden {
				t.Fatalf("non-editor on the list: %d", w.Code)
			}
			if w := post("/manage/mediathek", map[string]string{"kind": "video", "title_de": "X", "topic": "pain", "audience": "public"}, c); w.Code != http.StatusForbidden {
				t.Fatalf("non-editor creates: %d", w.Code)
			}
		}
		if w := h.do(t, "GET", "/manage/mediathek", nil, de); w.Code != http.StatusSeeOther || !strings.HasPrefix(w.Header().Get("Location"), "/login") {
			t.Fatalf("anonymous: %d %s", w.Code, w.Header().Get("Location"))
		}

		valid := map[string]string{"kind": "video", "title_de": "Rücken stärken", "title_tr": "Sırtı güçlendirmek",
			"description_de": "Fünf Minuten.", "topic": "movement", "audience": "public", "downloadable": "1"}
		for _, tc := range []struct {
			name  string
			set   map[string]string
			field string
			msg   string
		}{
			{"no title", map[string]string{"title_de": " ", "title_tr": ""}, "title_de", "mindestens einen Titel"},
			{"long title", map[string]string{"title_tr": strings.Repeat("ş", 201)}, "title_tr", "Der Titel (Türkçe) darf höchstens 200 Zeichen"},
			{"bad slug", map[string]string{"slug": "Nicht Gut!"}, "slug", "Die Adresse darf nur"},
			{"no topic", map[string]string{"topic": ""}, "topic", "Bitte wählen Sie ein Thema"},
			{"bad audience", map[string]string{"audience": "alle"}, "audience", "für wen"},
			{"bad kind", map[string]string{"kind": "film"}, "kind", "Bitte wählen Sie eine Art"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				vals := map[string]string{}
				for k, v := range valid {
					vals[k] = v
				}
				for k, v := range tc.set {
					vals[k] = v
				}
				w := post("/manage/mediathek", vals, editor)
				body := w.Body.String()
				if w.Code != http.StatusUnprocessableEntity || !strings.Contains(body, tc.msg) {
					t.Fatalf("status %d, message %q missing: %s", w.Code, tc.msg, mainOf(body))
				}
				if !strings.Contains(body, `href="#`+tc.field+`"`) || !strings.Contains(body, `id="`+tc.field+`-error"`) {
					t.Fatalf("error not tied to field %s", tc.field)
				}
				if !strings.Contains(body, ">Fünf Minuten.</textarea>") || !strings.Contains(body, `value="`+vals["title_de"]+`"`) {
					t.Fatal("entries lost")
				}
			})
		}
		if res, _ := h.cat.List(catalog.Query{Viewer: catalog.Viewer{Editor: true}}); res.Total != 0 {
			t.Fatalf("invalid forms stored %d items", res.Total)
		}

		w := post("/manage/mediathek", valid, editor)
		loc := w.Header().Get("Location")
		if w.Code != http.StatusSeeOther || !strings.HasPrefix(loc, "/manage/mediathek/") {
			t.Fatalf("create: %d %s %s", w.Code, loc, mainOf(w.Body.String()))
		}
		id := strings.TrimPrefix(loc, "/manage/mediathek/")
		it, err := h.cat.Get(id)
		if err != nil || it.Slug != "ruecken-staerken" || !it.Downloadable || it.Status != catalog.StatusDraft || it.Title["tr"] != "Sırtı güçlendirmek" {
			t.Fatalf("created %+v %v", it, err)
		}
		page := h.do(t, "GET", loc, nil, de, editor, cookieFrom(w, flashCookie))
		if !strings.Contains(page.Body.String(), "Der Beitrag ist angelegt") || !strings.Contains(page.Body.String(), `id="media-files"`) ||
			!strings.Contains(page.Body.String(), `name="revision" value="1"`) {
			t.Fatalf("edit page: %s", mainOf(page.Body.String()))
		}

		// The upload widget fills the marked place once its template is
		// there; until then the place says uploads come later.
		if _, err := fs.Stat(templateFiles, "templates/upload_widget.html"); err == nil {
			if !strings.Contains(page.Body.String(), "data-upload-widget") || !strings.Contains(page.Body.String(), `data-item="`+id+`"`) {
				t.Errorf("the upload widget is not on the edit page")
			}
		} else if !strings.Contains(page.Body.String(), "Das Hochladen von Dateien ist hier bald möglich") {
			t.Errorf("the place of the upload widget is not marked")
		}

		// Save with the revision read.
		edit := map[string]string{}
		for k, v := range valid {
			edit[k] = v
		}
		edit["title_de"], edit["revision"] = "Rücken stärken am Morgen", "1"
		if w := post(loc, edit, editor); w.Code != http.StatusSeeOther {
			t.Fatalf("save: %d %s", w.Code, mainOf(w.Body.String()))
		}
		// Someone else saves meanwhile; this editor's save (from revision 2)
		// comes back with what is stored now.
		cur, _ := h.cat.Get(id)
		other := cur.Meta
		other.Title = map[string]string{"de": "Von jemand anderem"}
		if _, err := h.cat.Update(ctx, id, cur.Revision, other); err != nil {
			t.Fatal(err)
		}
		edit["title_de"], edit["revision"] = "Meine Fassung", fmt.Sprint(cur.Revision)
		w = post(loc, edit, editor)
		body := w.Body.String()
		if w.Code != http.StatusConflict || !strings.Contains(body, "Jemand anderes hat diesen Beitrag gespeichert") ||
			!strings.Contains(body, "Von jemand anderem") || !strings.Contains(body, `value="Meine Fassung"`) ||
			!strings.Contains(body, fmt.Sprintf(`name="revision" value="%d"`, cur.Revision+1)) {
			t.Fatalf("conflict: %d %s", w.Code, mainOf(body))
		}
		// Saving again applies the entries.
		edit["revision"] = fmt.Sprint(cur.Revision + 1)
		if w := post(loc, edit, editor); w.Code != http.StatusSeeOther {
			t.Fatalf("save after conflict: %d", w.Code)
		}
		if it, _ := h.cat.Get(id); it.Title["de"] != "Meine Fassung" {
			t.Fatalf("title %q", it.Title["de"])
		}

		// Publishing without files says why, in German.
		w = post(loc+"/publish", nil, editor)
		if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "hat noch keine Dateien") {
			t.Fatalf("publish without files: %d %s", w.Code, mainOf(w.Body.String()))
		}
		w = h.do(t, "POST", loc+"/publish", nil, map[string]string{"Accept-Language": "ar"}, editor)
		if !strings.Contains(w.Body.String(), "لا توجد ملفات للمادة بعد") {
			t.Fatalf("publish error in Arabic: %s", mainOf(w.Body.String()))
		}
		// While processing, with its progress on the list.
		if _, err := h.cat.SetStatus(ctx, id, catalog.StatusProcessing, "Video 360p"); err != nil {
			t.Fatal(err)
		}
		h.srv.cfg.MediaProgress = fakeProgress{id: id, fraction: 0.42}
		list := h.do(t, "GET", "/manage/mediathek", nil, de, editor).Body.String()
		if !strings.Contains(list, `<progress max="100" value="42"`) || !strings.Contains(list, "Video 360p") || !strings.Contains(list, "Wird verarbeitet") {
			t.Fatalf("list while processing: %s", mainOf(list))
		}
		if w := post(loc+"/publish", nil, editor); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "noch verarbeitet") {
			t.Fatalf("publish while processing: %d", w.Code)
		}
		if _, err := h.cat.SetStatus(ctx, id, catalog.StatusFailed, "ffmpeg: kein Videostrom"); err != nil {
			t.Fatal(err)
		}
		if list := h.do(t, "GET", "/manage/mediathek?status=failed", nil, de, editor).Body.String(); !strings.Contains(list, "ffmpeg: kein Videostrom") || !strings.Contains(list, "Verarbeitung fehlgeschlagen") {
			t.Fatalf("failed item on the list: %s", mainOf(list))
		}
		// A failed item can be processed again from its page.
		var retried []string
		h.srv.cfg.MediaProgress = fakeProgress{id: id, retried: &retried}
		if page := h.do(t, "GET", loc, nil, de, editor).Body.String(); !strings.Contains(page, `action="`+loc+`/retry"`) || !strings.Contains(page, "Verarbeitung wiederholen") {
			t.Fatalf("failed item's page has no retry: %s", mainOf(page))
		}
		if w := post(loc+"/retry", nil, editor); w.Code != http.StatusSeeOther || len(retried) != 1 || retried[0] != id {
			t.Fatalf("retry: %d, retried %v", w.Code, retried)
		}
		if w := post(loc+"/retry", nil, participant); w.Code != http.StatusForbidden {
			t.Fatalf("a participant retries: %d", w.Code)
		}
		if _, err := h.cat.SetStatus(ctx, id, catalog.StatusDraft, ""); err != nil {
			t.Fatal(err)
		}
		// With files, it publishes; then unpublishes.
		if err := putText(h, it.Prefix()+"master.m3u8", "#EXTM3U\n"); err != nil {
			t.Fatal(err)
		}
		if _, err := h.cat.SetFiles(ctx, id, func(md *catalog.Media) error {
			md.Versions = map[string]catalog.Version{"de": {Files: []catalog.File{{Key: it.Prefix() + "master.m3u8", Role: catalog.RoleMaster, Complete: true}}}}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if w := post(loc+"/publish", nil, editor); w.Code != http.StatusSeeOther {
			t.Fatalf("publish: %d %s", w.Code, mainOf(w.Body.String()))
		}
		if it, _ := h.cat.Get(id); !it.IsPublished() {
			t.Fatal("not published")
		}
		if w := post(loc+"/unpublish", nil, editor); w.Code != http.StatusSeeOther {
			t.Fatalf("unpublish: %d", w.Code)
		}
		if it, _ := h.cat.Get(id); it.IsPublished() {
			t.Fatal("still published")
		}

		// Deleting needs the confirmation.
		if w := h.do(t, "GET", loc+"/delete", nil, de, editor); w.Code != 200 || !strings.Contains(w.Body.String(), "Meine Fassung") {
			t.Fatalf("delete page: %d", w.Code)
		}
		if w := post(loc+"/delete", nil, editor); w.Code != http.StatusUnprocessableEntity || !strings.Contains(w.Body.String(), "mit dem Häkchen") {
			t.Fatalf("delete without confirmation: %d", w.Code)
		}
		if _, err := h.cat.Get(id); err != nil {
			t.Fatal("deleted without confirmation")
		}
		if w := post(loc+"/delete", map[string]string{"confirm": "yes"}, editor); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/manage/mediathek" {
			t.Fatalf("delete: %d", w.Code)
		}
		if _, err := h.cat.Get(id); err == nil {
			t.Fatal("still there")
		}
		if infos, _ := h.blobs.List(ctx, it.Prefix()); len(infos) != 0 {
			t.Fatalf("files left: %v", infos)
		}
		for _, p := range []string{loc, loc + "/delete"} {
			if w := h.do(t, "GET", p, nil, de, editor); w.Code != 404 {
				t.Errorf("%s after delete: %d", p, w.Code)
			}
		}
		if w := post(loc+"/publish", nil, editor); w.Code != 404 {
			t.Errorf("publish after delete: %d", w.Code)
		}
	})
}

// TestMediathekFailureReasons: a processing failure stored as a reason
// (catalog.Reason) reaches editors as a sentence in their language on the
// list, the edit page and the API; free text from before reasons is shown
// as it is.
func TestMediathekFailureReasons(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		ctx := context.Background()
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		it := h.addSynthetic(t, meta(catalog.KindVideo, "atmen", map[string]string{"de": "Atmen"}), true)
		reason := catalog.Reason{Code: "not_media", Params: map[string]string{
			"input": "sound", "lang": "tr", "file": "original-tr.m4a", "detail": "Invalid data found when processing input"}}
		if _, err := h.cat.SetStatus(ctx, it.ID, catalog.StatusFailed, reason.Detail()); err != nil {
			t.Fatal(err)
		}
		lang := func(code string) map[string]string { return map[string]string{"Accept-Language": code} }
		german := "Die Tondatei „original-tr.m4a“ (Türkçe) ist keine Audio- oder Videodatei, die umgewandelt werden kann (Invalid data found when processing input)."
		arabic := "الملف الصوتي «original-tr.m4a» (Türkçe) ليس ملف صوت أو فيديو يمكن تحويله (Invalid data found when processing input)."
		for _, tc := range []struct{ path, lang, want string }{
			{"/manage/mediathek?status=failed", "de", german},
			{"/manage/mediathek/" + it.ID, "de", german},
			{"/manage/mediathek/" + it.ID, "ar", arabic},
			{"/manage/mediathek", "ar", arabic},
		} {
			w := h.do(t, "GET", tc.path, nil, lang(tc.lang), editor)
			body := html.UnescapeString(w.Body.String())
			if w.Code != http.StatusOK || !strings.Contains(body, tc.want) {
				t.Errorf("%s (%s): %d, lacks %q: %s", tc.path, tc.lang, w.Code, tc.want, mainOf(body))
			}
			for _, raw := range []string{`"reason"`, "not_media", "not an audio or video file"} {
				if strings.Contains(body, raw) {
					t.Errorf("%s (%s) shows %s", tc.path, tc.lang, raw)
				}
			}
		}
		// The API gives editors the sentence and the code with its
		// parameters; others neither.
		w := h.do(t, "GET", "/api/v1/mediathek/atmen", nil, lang("de"), editor)
		var one struct{ Item mediaItemJSON }
		if err := json.Unmarshal(w.Body.Bytes(), &one); err != nil || w.Code != 200 {
			t.Fatalf("API: %d %s", w.Code, w.Body)
		}
		if !strings.HasPrefix(one.Item.StatusDetail, german) || one.Item.StatusReason == nil || one.Item.StatusReason.Code != "not_media" ||
			one.Item.StatusReason.Params["lang"] != "tr" || one.Item.StatusReason.Params["file"] != "original-tr.m4a" {
			t.Errorf("API item: detail %q, reason %+v", one.Item.StatusDetail, one.Item.StatusReason)
		}
		w = h.do(t, "GET", "/api/v1/mediathek?status=failed", nil, lang("ar"), editor)
		if !strings.Contains(w.Body.String(), arabic) {
			t.Errorf("API list in Arabic: %s", w.Body)
		}

		// Other reasons, an unknown code, and free text.
		for _, tc := range []struct {
			detail string
			lang   string
			want   string
		}{
			{catalog.Reason{Code: "tool_failed", Params: map[string]string{"step": "encode", "exit": "187", "detail": "Conversion failed!"}}.Detail(), "en",
				"Converting failed at the step “converting picture and sound” (exit code 187) (Conversion failed!)."},
			{catalog.Reason{Code: "tool_failed", Params: map[string]string{"step": "thumbnails", "exit": "1"}}.Detail(), "de",
				"Die Umwandlung ist beim Schritt „thumbnails“ abgebrochen (Exit-Code 1)."},
			{catalog.Reason{Code: "store_failed", Params: map[string]string{"op": "write", "detail": "disk full"}}.Detail(), "ru",
				"Сбой хранилища (действие: сохранение преобразованных файлов) (disk full)."},
			{catalog.Reason{Code: "input_missing", Params: map[string]string{"input": "subtitles", "lang": "ar", "file": "subtitles-ar.vtt"}}.Detail(), "tr",
				`"subtitles-ar.vtt" altyazı dosyası (العربية) depoda eksik.`},
			{catalog.Reason{Code: "queue_failed"}.Detail(), "de", "Die Verarbeitung konnte nicht eingeplant werden."},
			{catalog.Reason{Code: "some_new_code", Params: map[string]string{"x": "y"}}.Detail(), "en", "Processing failed. Process it again."},
			{"Converting failed: ffmpeg stopped while reading the file (exit code 1: x).", "de", "Converting failed: ffmpeg stopped while reading the file (exit code 1: x)."},
		} {
			if _, err := h.cat.SetStatus(ctx, it.ID, catalog.StatusFailed, tc.detail); err != nil {
				t.Fatal(err)
			}
			w := h.do(t, "GET", "/manage/mediathek/"+it.ID, nil, lang(tc.lang), editor)
			if body := html.UnescapeString(w.Body.String()); !strings.Contains(body, tc.want) {
				t.Errorf("%s (%s): lacks %q: %s", tc.detail, tc.lang, tc.want, mainOf(body))
			}
		}
	})
}

// Every reason code of package processing has a message, and every
// message the reasons use exists in every language.
func TestReasonMessagesComplete(t *testing.T) {
	for _, code := range processing.ReasonCodes {
		if _, ok := reasonMessages[code]; !ok {
			t.Errorf("reason %s has no message", code)
		}
	}
	msgs, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, m := range []map[string]string{reasonMessages, reasonInputs, reasonSteps, reasonOps} {
		for _, id := range m {
			ids = append(ids, id)
		}
	}
	ids = append(ids, "MediathekReasonUnknown", "MediathekReasonOpOther")
	for _, lang := range i18n.Languages {
		l := msgs.For(lang.Code)
		for _, id := range ids {
			if got := l.T(id); got == id || got == "" {
				t.Errorf("%s: no message %s", lang.Code, id)
			}
		}
	}
}

// TestMediathekEpisodeAndDocumentFields: the editor's form shows, saves
// and checks an episode's series, season, number and explicit flag and a
// document's category and version, with errors in the editor's language;
// the API includes them.
func TestMediathekEpisodeAndDocumentFields(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		post := func(path, lang string, vals map[string]string) *httptest.ResponseRecorder {
			body, _ := form(vals)
			return h.do(t, "POST", path, body, map[string]string{"Accept-Language": lang, "Content-Type": "application/x-www-form-urlencoded"}, editor)
		}
		// The create page shows both groups of fields.
		page := h.do(t, "GET", "/manage/mediathek/new", nil, map[string]string{"Accept-Language": "de"}, editor).Body.String()
		for _, want := range []string{`id="episode-fields"`, `id="document-fields"`, `name="season"`, `name="explicit"`, `<option value="promotional">Werbematerial</option>`} {
			if !strings.Contains(page, want) {
				t.Errorf("create page lacks %s", want)
			}
		}
		episode := map[string]string{"kind": "episode", "title_de": "Folge 3", "topic": "sleep", "audience": "public",
			"series": "gesund-leben", "season": "2", "number": "3", "explicit": "1"}
		with := func(base map[string]string, set ...string) map[string]string {
			out := maps.Clone(base)
			for i := 0; i+1 < len(set); i += 2 {
				out[set[i]] = set[i+1]
			}
			return out
		}
		for _, tc := range []struct {
			name       string
			vals       map[string]string
			lang       string
			field, msg string
		}{
			{"series", with(episode, "series", "Gesund Leben"), "de", "series", "Diese Podcast-Reihe gibt es nicht"},
			{"season text", with(episode, "season", "zwei"), "de", "season", "Die Staffel muss eine ganze Zahl von 1 bis 9999 sein"},
			{"season negative", with(episode, "season", "-2"), "en", "season", "The season must be a whole number from 1 to 9999"},
			{"number too high", with(episode, "number", "100000"), "ar", "number", "يجب أن يكون رقم الحلقة عددًا صحيحًا من 1 إلى 99999"},
			{"category", with(episode, "kind", "document", "category", "flyer"), "de", "category", "Bitte wählen Sie eine Kategorie"},
			{"doc version", with(episode, "kind", "document", "doc_version", strings.Repeat("1", 33)), "tr", "doc_version", "Sürüm en fazla 32 karakter"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := post("/manage/mediathek", tc.lang, tc.vals)
				body := html.UnescapeString(w.Body.String())
				if w.Code != http.StatusUnprocessableEntity || !strings.Contains(body, tc.msg) || !strings.Contains(body, `id="`+tc.field+`-error"`) {
					t.Fatalf("%d, want %q at %s: %s", w.Code, tc.msg, tc.field, mainOf(body))
				}
				if !strings.Contains(body, `value="`+tc.vals[tc.field]+`"`) && tc.field != "category" {
					t.Errorf("entry of %s lost", tc.field)
				}
			})
		}
		w := post("/manage/mediathek", "de", episode)
		loc := w.Header().Get("Location")
		if w.Code != http.StatusSeeOther {
			t.Fatalf("create episode: %d %s", w.Code, mainOf(w.Body.String()))
		}
		it, err := h.cat.Get(strings.TrimPrefix(loc, "/manage/mediathek/"))
		if err != nil || it.Series != "gesund-leben" || it.Season != 2 || it.Number != 3 || !it.Explicit {
			t.Fatalf("episode %+v, %v", it.Meta, err)
		}
		page = h.do(t, "GET", loc, nil, map[string]string{"Accept-Language": "de"}, editor).Body.String()
		for _, want := range []string{`id="episode-fields"`, `<option value="gesund-leben" selected>`, `name="season" value="2"`, `name="number" value="3"`, `name="explicit" value="1" checked`} {
			if !strings.Contains(page, want) {
				t.Errorf("episode page lacks %s", want)
			}
		}
		if strings.Contains(page, `id="document-fields"`) {
			t.Error("an episode's page shows the document's fields")
		}
		// Emptied season and number are none; unticked is not explicit.
		save := with(episode, "season", "", "number", " ", "revision", "1")
		delete(save, "explicit")
		if w := post(loc, "de", save); w.Code != http.StatusSeeOther {
			t.Fatalf("save: %d %s", w.Code, mainOf(w.Body.String()))
		}
		if it, _ = h.cat.Get(it.ID); it.Season != 0 || it.Number != 0 || it.Explicit || it.Series != "gesund-leben" {
			t.Errorf("after saving: %+v", it.Meta)
		}

		// A document: category and version.
		doc := map[string]string{"kind": "document", "title_de": "Flyer", "topic": "other", "audience": "multipliers",
			"category": "promotional", "doc_version": "2026-03", "season": "4"}
		w = post("/manage/mediathek", "de", doc)
		if w.Code != http.StatusSeeOther {
			t.Fatalf("create document: %d %s", w.Code, mainOf(w.Body.String()))
		}
		dloc := w.Header().Get("Location")
		d, err := h.cat.Get(strings.TrimPrefix(dloc, "/manage/mediathek/"))
		if err != nil || d.Category != catalog.CategoryPromotional || d.DocVersion != "2026-03" || d.Season != 0 {
			t.Fatalf("document %+v, %v", d.Meta, err)
		}
		page = h.do(t, "GET", dloc, nil, map[string]string{"Accept-Language": "ar"}, editor).Body.String()
		if !strings.Contains(page, `<option value="promotional" selected>مواد ترويجية</option>`) || !strings.Contains(page, `value="2026-03"`) || strings.Contains(page, `id="episode-fields"`) {
			t.Errorf("document page: %s", mainOf(page))
		}

		// The API.
		for _, tc := range []struct {
			slug string
			want []string
			not  []string
		}{
			{it.Slug, []string{`"series":"gesund-leben"`}, []string{`"season"`, `"explicit"`, `"category"`}},
			{d.Slug, []string{`"category":"promotional"`, `"doc_version":"2026-03"`}, []string{`"series"`, `"season"`}},
		} {
			w := h.do(t, "GET", "/api/v1/mediathek/"+tc.slug, nil, nil, editor)
			for _, s := range tc.want {
				if !strings.Contains(w.Body.String(), s) {
					t.Errorf("API %s lacks %s: %s", tc.slug, s, w.Body)
				}
			}
			for _, s := range tc.not {
				if strings.Contains(w.Body.String(), s) {
					t.Errorf("API %s has %s: %s", tc.slug, s, w.Body)
				}
			}
		}
	})
}
