package web

import (
	"bytes"
	"context"
	"encoding/csv"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/courses"
	"portalo/internal/storetest"
	"portalo/podcasts"
	"portalo/store/blob"
	"portalo/store/kv"
	"portalo/web/i18n"
	"portalo/workshops"
)

// areaHarness is a portal with the multipliers' area: mediathek, podcasts
// and courses on real stores.
type areaHarness struct {
	*mediaHarness
	courses *courses.Service
	pods    *podcasts.Service
}

// areaStores runs fn in both deployments: dirblob and the embedded store,
// MinIO and Redis.
func areaStores(t *testing.T, fn func(t *testing.T, h *areaHarness)) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		mh := newMediaHarness(t, b, k, "")
		h := &areaHarness{mediaHarness: mh, pods: podcasts.New(k, podcasts.Options{})}
		h.courses = courses.New(k, courses.Options{IsTrainer: isTrainer(mh.accts)})
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
			Courses:      h.courses,
		})
		if err != nil {
			t.Fatal(err)
		}
		fn(t, h)
	})
}

// nextWeek is a day next week at hour:00 in Berlin.
func nextWeek(days, hour int) time.Time {
	d := time.Now().In(workshops.Berlin).AddDate(0, 0, 7+days)
	return time.Date(d.Year(), d.Month(), d.Day(), hour, 0, 0, 0, workshops.Berlin)
}

// course creates a course next week with two sessions.
func (h *areaHarness) course(t *testing.T, title, trainer string, seats int, format courses.Format) courses.Course {
	t.Helper()
	m := courses.CourseMeta{
		Title:       map[string]string{"de": title},
		Description: map[string]string{"de": "Worum es geht.\n\nZweiter Absatz."},
		Format:      format, Seats: seats, Trainer: trainer, Language: "de",
		Sessions: []courses.Session{{Start: nextWeek(0, 9), End: nextWeek(0, 12)}, {Start: nextWeek(1, 9), End: nextWeek(1, 12)}},
	}
	if format == courses.FormatOnsite {
		m.Address = "Jobcenter Mitte\nRaum 4"
	} else {
		m.OnlineURL = "https://meet.example.org/kurs-geheim"
	}
	co, err := h.courses.Create(context.Background(), m)
	if err != nil {
		t.Fatal(err)
	}
	return co
}

// pdfContent is the content of the test document's file.
var pdfContent = []byte("%PDF-1.4\n% portalo test document\n%%EOF\n")

// document creates and publishes a document with a German PDF.
func (h *areaHarness) document(t *testing.T, slug, title string, audience catalog.Audience, cat catalog.DocumentCategory) catalog.Item {
	t.Helper()
	ctx := context.Background()
	it, err := h.cat.Create(ctx, catalog.Meta{Kind: catalog.KindDocument, Slug: slug, Title: map[string]string{"de": title, "en": title + " (en)"},
		Description: map[string]string{"de": "Beschreibung von " + title}, Topic: catalog.TopicOther, Audience: audience,
		Category: cat, DocVersion: "2.1"})
	if err != nil {
		t.Fatal(err)
	}
	key := it.Prefix() + "download/flyer-de.pdf"
	if _, err := h.blobs.Put(ctx, key, bytes.NewReader(pdfContent), int64(len(pdfContent)), "application/pdf"); err != nil {
		t.Fatal(err)
	}
	if _, err = h.cat.SetFiles(ctx, it.ID, func(md *catalog.Media) error {
		md.Versions = map[string]catalog.Version{"de": {Files: []catalog.File{{Key: key, Role: catalog.RoleDownload, ContentType: "application/pdf", Size: int64(len(pdfContent)), Complete: true}}}}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	if it, err = h.cat.Publish(ctx, it.ID); err != nil {
		t.Fatal(err)
	}
	return it
}

// areaRole is one kind of visitor of the area.
type areaRole struct {
	name    string
	cookie  *http.Cookie // nil: anonymous
	account accounts.Account
}

// The kinds of visitors.
const (
	roleAnonymous    = "anonymous"
	roleParticipant  = "participant"
	rolePending      = "multiplier not yet approved"
	roleMultiplier   = "multiplier"
	roleTrainer      = "trainer of the course"
	roleOtherTrainer = "trainer of another course"
	roleEditor       = "editor"
	roleAdmin        = "admin"
)

func (h *areaHarness) areaRoles(t *testing.T) []areaRole {
	t.Helper()
	ctx := context.Background()
	p, pc := h.member(t, "Paula")
	asked, ac := h.member(t, "Mira")
	var err error
	if asked, err = h.accts.RequestMultiplier(ctx, asked.ID); err != nil {
		t.Fatal(err)
	}
	m, mc := h.member(t, "Malte", accounts.RoleMultiplier)
	tr, tc := h.member(t, "Tina", accounts.RoleTrainer)
	ot, oc := h.member(t, "Otto", accounts.RoleTrainer)
	e, ec := h.member(t, "Edda", accounts.RoleEditor)
	a, adc := h.member(t, "Ada", accounts.RoleAdmin)
	return []areaRole{
		{roleAnonymous, nil, accounts.Account{}}, {roleParticipant, pc, p}, {rolePending, ac, asked},
		{roleMultiplier, mc, m}, {roleTrainer, tc, tr}, {roleOtherTrainer, oc, ot}, {roleEditor, ec, e}, {roleAdmin, adc, a},
	}
}

func cookieList(c *http.Cookie) []*http.Cookie {
	if c == nil {
		return nil
	}
	return []*http.Cookie{c}
}

// validCourseForm is a complete editor form.
func validCourseForm(title string) map[string]string {
	d := nextWeek(3, 0)
	return map[string]string{
		"title_de": title, "format": "online", "online_url": "https://meet.example.org/neu", "seats": "8", "language": "de",
		"session_0_date": d.Format("2006-01-02"), "session_0_start": "10:00", "session_0_end": "12:30",
	}
}

// TestMultipliersRoutesByRole asks every route of the area as every kind
// of visitor: who may not gets a 403 that never shows the content.
func TestMultipliersRoutesByRole(t *testing.T) {
	areaStores(t, func(t *testing.T, h *areaHarness) {
		roles := h.areaRoles(t)
		var trainer accounts.Account
		for _, r := range roles {
			if r.name == roleTrainer {
				trainer = r.account
			}
		}
		doc := h.document(t, "geheimes-dokument", "Geheimdokument Flyer", catalog.AudienceMultipliers, catalog.CategoryPromotional)
		pub := h.document(t, "oeffentliches-dokument", "Öffentliches Faltblatt", catalog.AudiencePublic, catalog.CategoryProject)
		if _, err := h.pods.CreateSeries(context.Background(), podcasts.SeriesMeta{Slug: "fachfunk",
			Title: map[string]string{"de": "Geheimer Fachfunk"}, Description: map[string]string{"de": "Für Fachkräfte."},
			Language: "de", Category: "Health & Fitness", Audience: podcasts.AudienceMultipliers}); err != nil {
			t.Fatal(err)
		}
		secrets := []string{"Geheimkurs", "Geheimdokument", "Öffentliches Faltblatt", "Geheimer Fachfunk", "kurs-geheim", doc.ID, pub.ID}

		type route struct {
			method, path string
			form         map[string]string
			who          string // "area", "roster" or "editor"
			okStatus     int
			okContains   string
		}
		for i, role := range roles {
			co := h.course(t, fmt.Sprintf("Geheimkurs %d", i), trainer.ID, 3, courses.FormatOnline)
			base := "/multipliers/courses/" + co.ID
			routes := []route{
				{"GET", "/multipliers", nil, "area", 200, "/multipliers/materials"},
				{"GET", "/multipliers/materials", nil, "area", 200, "Geheimdokument Flyer"},
				{"GET", "/multipliers/materials?q=geheim&category=promotional&topic=other&language=de", nil, "area", 200, "/media/" + doc.ID + "/download/flyer-de.pdf?download=1"},
				{"GET", "/multipliers/podcast", nil, "area", 200, "/podcasts/fachfunk"},
				{"GET", "/multipliers/courses", nil, "area", 200, co.Title["de"]},
				{"GET", base, nil, "area", 200, co.Title["de"]},
				{"GET", base + "/course.ics", nil, "area", 200, "BEGIN:VCALENDAR"},
				{"GET", base + "/roster", nil, "roster", 200, co.Title["de"]},
				{"GET", base + "/roster.csv", nil, "roster", 200, "\ufeff"},
				{"GET", "/multipliers/courses/new", nil, "editor", 200, `action="/multipliers/courses/new"`},
				{"GET", base + "/edit", nil, "editor", 200, co.Title["de"]},
				{"GET", base + "/delete", nil, "editor", 200, co.Title["de"]},
				{"POST", base + "/signup", map[string]string{}, "area", 303, ""},
				{"POST", base + "/cancel", map[string]string{}, "area", 303, ""},
				{"POST", "/multipliers/courses/new", map[string]string{"title_de": ""}, "editor", 422, "title_de"},
				{"POST", "/multipliers/courses/new", validCourseForm("Neuer Kurs " + role.name), "editor", 303, ""},
				{"POST", base + "/edit", map[string]string{"title_de": co.Title["de"], "format": "online", "seats": "x", "language": "de"}, "editor", 422, co.Title["de"]},
				{"POST", base + "/cancel-course", map[string]string{}, "editor", 303, ""},
				{"POST", base + "/delete", map[string]string{}, "editor", 422, co.Title["de"]},
				{"POST", base + "/delete", map[string]string{"confirm": "1"}, "editor", 303, ""},
			}
			allowed := map[string]bool{}
			switch role.name {
			case roleMultiplier:
				allowed["area"] = true
			case roleTrainer:
				allowed["roster"] = true
			case roleEditor, roleAdmin:
				allowed["area"], allowed["roster"], allowed["editor"] = true, true, true
			}
			for _, rt := range routes {
				var body io.Reader
				var hdr map[string]string
				if rt.form != nil {
					body, hdr = form(rt.form)
				}
				w := h.do(t, rt.method, rt.path, body, hdr, cookieList(role.cookie)...)
				got := w.Body.String()
				if allowed[rt.who] {
					if w.Code != rt.okStatus || !strings.Contains(got, rt.okContains) {
						t.Errorf("%s: %s %s: %d, want %d with %q\n%s", role.name, rt.method, rt.path, w.Code, rt.okStatus, rt.okContains, mainOf(got))
					}
					continue
				}
				if w.Code != http.StatusForbidden {
					t.Errorf("%s: %s %s: %d, want 403", role.name, rt.method, rt.path, w.Code)
				}
				for _, s := range append(secrets, co.Title["de"]) {
					if strings.Contains(got, s) {
						t.Errorf("%s: %s %s: the refusal shows %q", role.name, rt.method, rt.path, s)
					}
				}
				// Those outside the area learn how to get in.
				want := map[string]string{roleAnonymous: "/login?next=", roleParticipant: `action="/account/request-multiplier"`,
					rolePending: `id="refused-pending"`, roleOtherTrainer: `action="/account/request-multiplier"`}[role.name]
				if role.name == roleTrainer && rt.who != "roster" {
					want = `action="/account/request-multiplier"`
				}
				if want != "" && !strings.Contains(got, want) {
					t.Errorf("%s: %s %s: the refusal lacks %q\n%s", role.name, rt.method, rt.path, want, mainOf(got))
				}
			}
			// What was refused changed nothing.
			if !allowed["editor"] {
				if r, err := h.courses.Roster(context.Background(), co.ID); err != nil || len(r.Booked)+len(r.Waiting) != 0 {
					t.Errorf("%s: roster after refused requests: %+v %v", role.name, r, err)
				}
				if got, err := h.courses.Get(context.Background(), co.ID); err != nil || got.Cancelled {
					t.Errorf("%s: course after refused requests: %+v %v", role.name, got, err)
				}
			} else if _, err := h.courses.Get(context.Background(), co.ID); err == nil {
				t.Errorf("%s: course not deleted", role.name)
			}
		}
		// The document's file itself: approved multipliers download it.
		for _, role := range roles {
			w := h.do(t, "GET", "/media/"+doc.ID+"/download/flyer-de.pdf?download=1", nil, nil, cookieList(role.cookie)...)
			want := http.StatusNotFound
			if role.name == roleMultiplier || role.name == roleEditor || role.name == roleAdmin {
				want = http.StatusOK
			}
			if w.Code != want || want == 200 && !bytes.Equal(w.Body.Bytes(), pdfContent) {
				t.Errorf("%s: document file: %d, want %d", role.name, w.Code, want)
			}
		}
	})
}

// TestMultipliersPagesInEveryLanguage renders the area's pages in each
// language: translated, with the right lang and dir, nothing left as an ID.
func TestMultipliersPagesInEveryLanguage(t *testing.T) {
	areaStores(t, func(t *testing.T, h *areaHarness) {
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		_, participant := h.member(t, "Paula")
		co := h.course(t, "Gesprächsführung", "", 2, courses.FormatOnsite)
		h.document(t, "flyer", "Flyer", catalog.AudienceMultipliers, catalog.CategoryPromotional)
		pages := []struct {
			path   string
			cookie *http.Cookie
		}{
			{"/multipliers", editor}, {"/multipliers/materials", editor}, {"/multipliers/podcast", editor},
			{"/multipliers/courses", editor}, {"/multipliers/courses/" + co.ID, editor}, {"/multipliers/courses/" + co.ID + "/roster", editor},
			{"/multipliers/courses/new", editor}, {"/multipliers/courses/" + co.ID + "/edit", editor}, {"/multipliers/courses/" + co.ID + "/delete", editor},
			{"/multipliers", participant}, {"/multipliers", nil},
		}
		for _, lang := range i18n.Languages {
			for _, pg := range pages {
				w := h.do(t, "GET", pg.path, nil, map[string]string{"Accept-Language": lang.Code}, cookieList(pg.cookie)...)
				body := w.Body.String()
				if w.Code != 200 && w.Code != 403 {
					t.Errorf("%s %s: %d", lang.Code, pg.path, w.Code)
				}
				m := htmlLang.FindStringSubmatch(body)
				if m == nil || m[1] != lang.Code || m[2] != lang.Dir {
					t.Errorf("%s %s: html element %v", lang.Code, pg.path, m)
				}
				for _, prefix := range []string{">Multipliers", ">Course", "\"Multipliers", "\"Course", "<no value>"} {
					if i := strings.Index(body, prefix); i >= 0 {
						t.Errorf("%s %s: untranslated %q", lang.Code, pg.path, body[i:min(len(body), i+40)])
					}
				}
			}
		}
	})
}

// signUp posts a sign-up or cancellation and returns the flash it set.
func (h *areaHarness) post(t *testing.T, path string, cookie *http.Cookie, vals map[string]string) *httptest.ResponseRecorder {
	t.Helper()
	body, hdr := form(vals)
	return h.do(t, "POST", path, body, hdr, cookie)
}

func flashOf(w *httptest.ResponseRecorder) string {
	if c := cookieFrom(w, flashCookie); c != nil {
		return c.Value
	}
	return ""
}

// TestCourseSignUpFlow: sign-up, a full course puts people on the waiting
// list, a cancellation moves the first one up; the online URL is for
// booked people only; the roster as page and CSV; the calendar entry.
func TestCourseSignUpFlow(t *testing.T) {
	areaStores(t, func(t *testing.T, h *areaHarness) {
		tina, trainer := h.member(t, "Tina", accounts.RoleTrainer)
		co := h.course(t, "Online-Beratung", tina.ID, 2, courses.FormatOnline)
		ctx := context.Background()
		a, ac := h.member(t, "Anna", accounts.RoleMultiplier)
		evil, err := h.accts.Register(ctx, accounts.Registration{Pseudonym: `=1+1,"x"`, Password: "long enough", Email: "evil@example.org"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if evil, err = h.accts.SetRoles(ctx, evil.ID, []accounts.Role{accounts.RoleMultiplier}); err != nil {
			t.Fatal(err)
		}
		tok, err := h.accts.StartSession(ctx, evil.ID)
		if err != nil {
			t.Fatal(err)
		}
		ec := &http.Cookie{Name: sessionCookie, Value: tok}
		c, cc := h.member(t, "Cem", accounts.RoleMultiplier)
		base := "/multipliers/courses/" + co.ID
		de := map[string]string{"Accept-Language": "de"}

		for _, step := range []struct {
			cookie *http.Cookie
			flash  string
		}{{ac, "FlashCourseBooked"}, {ec, "FlashCourseBooked"}, {cc, flashCourseWaiting}} {
			w := h.post(t, base+"/signup", step.cookie, nil)
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != base+"#status" || flashOf(w) != step.flash {
				t.Fatalf("sign-up: %d %s %q", w.Code, w.Header().Get("Location"), flashOf(w))
			}
		}
		// Cem's page says where on the list he is, in the confirmation too.
		w := h.do(t, "GET", base, nil, de, cc, &http.Cookie{Name: flashCookie, Value: flashCourseWaiting})
		body := w.Body.String()
		for _, want := range []string{"Sie stehen auf der Warteliste, Platz 1.", "Die Schulung ist voll: Sie stehen auf der Warteliste, Platz 1.", "Ausgebucht – Warteliste (1 wartet)", `id="course-cancel"`} {
			if !strings.Contains(body, want) {
				t.Errorf("waiting page lacks %q\n%s", want, mainOf(body))
			}
		}
		if strings.Contains(body, "kurs-geheim") {
			t.Error("the online URL is shown to someone waiting")
		}
		// Anna's page: booked, with the online URL.
		body = h.do(t, "GET", base, nil, de, ac).Body.String()
		if !strings.Contains(body, "Sie sind angemeldet – Ihr Platz ist gebucht.") || !strings.Contains(body, `href="https://meet.example.org/kurs-geheim"`) {
			t.Errorf("booked page:\n%s", mainOf(body))
		}
		// The list shows each their status.
		body = h.do(t, "GET", "/multipliers/courses", nil, de, cc).Body.String()
		if !strings.Contains(body, "Sie stehen auf der Warteliste, Platz 1.") {
			t.Errorf("list lacks the waiting status\n%s", mainOf(body))
		}

		// The roster as CSV: BOM, header, the formula defused, quoted.
		w = h.do(t, "GET", base+"/roster.csv", nil, de, trainer)
		if w.Code != 200 || w.Header().Get("Content-Type") != "text/csv; charset=utf-8" ||
			w.Header().Get("Content-Disposition") != `attachment; filename="online-beratung.csv"` {
			t.Fatalf("csv: %d %v", w.Code, w.Header())
		}
		raw := w.Body.String()
		if !strings.HasPrefix(raw, "\ufeffStatus,Nr.,Pseudonym,E-Mail,Seit\r\n") {
			t.Fatalf("csv head %q", raw[:min(len(raw), 60)])
		}
		if !strings.Contains(raw, `"'=1+1,""x""",evil@example.org`) {
			t.Errorf("csv does not defuse the formula:\n%s", raw)
		}
		recs, err := csv.NewReader(strings.NewReader(strings.TrimPrefix(raw, "\ufeff"))).ReadAll()
		if err != nil || len(recs) != 4 {
			t.Fatalf("csv records %v %v", recs, err)
		}
		if recs[1][0] != "Angemeldet" && recs[1][0] != "Sie sind angemeldet – Ihr Platz ist gebucht." || recs[1][2] != "Anna" || recs[3][0] != "Warteliste" || recs[3][1] != "1" || recs[3][2] != "Cem" {
			t.Errorf("csv records %q", recs)
		}
		if _, err := time.ParseInLocation("02.01.2006 15:04", recs[1][4], workshops.Berlin); err != nil {
			t.Errorf("since %q: %v", recs[1][4], err)
		}
		// The roster page.
		body = h.do(t, "GET", base+"/roster", nil, de, trainer).Body.String()
		for _, want := range []string{"Anna", "Cem", "evil@example.org", base + "/roster.csv"} {
			if !strings.Contains(body, want) {
				t.Errorf("roster page lacks %q", want)
			}
		}

		// Anna cancels: Cem moves up and sees it.
		w = h.post(t, base+"/cancel", ac, nil)
		if w.Code != http.StatusSeeOther || flashOf(w) != "FlashCourseSignUpCancelled" {
			t.Fatalf("cancel: %d %q", w.Code, flashOf(w))
		}
		body = h.do(t, "GET", base, nil, de, cc).Body.String()
		if !strings.Contains(body, "Sie sind angemeldet – Ihr Platz ist gebucht.") || !strings.Contains(body, "kurs-geheim") {
			t.Errorf("Cem not booked after Anna cancelled\n%s", mainOf(body))
		}
		if place, err := h.courses.PlaceOf(ctx, co.ID, c.ID); err != nil || place.Status != courses.StatusBooked {
			t.Errorf("Cem's place %+v %v", place, err)
		}
		if place, err := h.courses.PlaceOf(ctx, co.ID, a.ID); err != nil || place.Status != courses.StatusNone {
			t.Errorf("Anna's place %+v %v", place, err)
		}

		// The calendar entry.
		w = h.do(t, "GET", base+"/course.ics", nil, de, cc)
		ics := w.Body.String()
		if w.Code != 200 || w.Header().Get("Content-Type") != "text/calendar; charset=utf-8" || !strings.Contains(ics, "SUMMARY;LANGUAGE=de:Online-Beratung (1/2)") ||
			!strings.Contains(ics, "URL:http://example.com"+base) || strings.Contains(ics, "kurs-geheim") || strings.Count(ics, "BEGIN:VEVENT") != 2 {
			t.Errorf("ics %d:\n%s", w.Code, ics)
		}

		// Closed: a cancelled course takes no sign-ups (409, in German).
		_, ed := h.member(t, "Edda", accounts.RoleEditor)
		if w := h.post(t, base+"/cancel-course", ed, nil); w.Code != http.StatusSeeOther {
			t.Fatalf("cancel course: %d", w.Code)
		}
		w = h.post(t, base+"/signup", ac, nil)
		if w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), "keine Anmeldung mehr möglich") {
			t.Errorf("sign-up for a cancelled course: %d\n%s", w.Code, mainOf(w.Body.String()))
		}
		// Unknown courses are a 404.
		for _, p := range []string{"/multipliers/courses/nope", "/multipliers/courses/nope/course.ics", "/multipliers/courses/nope/roster"} {
			if w := h.do(t, "GET", p, nil, de, ac); w.Code != http.StatusNotFound {
				t.Errorf("%s: %d", p, w.Code)
			}
		}
		if w := h.post(t, "/multipliers/courses/nope/signup", ac, nil); w.Code != http.StatusNotFound {
			t.Errorf("sign-up for an unknown course: %d", w.Code)
		}
	})
}

// TestCourseEditorForm: the editor creates a course; wrong input is
// refused at its field in the person's language with the entries kept and
// nothing stored.
func TestCourseEditorForm(t *testing.T) {
	areaStores(t, func(t *testing.T, h *areaHarness) {
		ctx := context.Background()
		tina, _ := h.member(t, "Tina", accounts.RoleTrainer)
		_, ed := h.member(t, "Edda", accounts.RoleEditor)
		day := nextWeek(2, 0).Format("2006-01-02")
		good := map[string]string{
			"title_de": "Motivierende Gesprächsführung", "title_ar": "المقابلة التحفيزية", "description_de": "Zwei Vormittage.",
			"format": "onsite", "address": "Jobcenter Nord\nRaum 12", "seats": "10", "language": "de", "trainer": tina.ID,
			"session_0_date": day, "session_0_start": "09:00", "session_0_end": "12:00",
			"session_2_date": nextWeek(3, 0).Format("2006-01-02"), "session_2_start": "9:30", "session_2_end": "12:00",
		}
		with := func(changes map[string]string) map[string]string {
			m := map[string]string{}
			for k, v := range good {
				m[k] = v
			}
			for k, v := range changes {
				m[k] = v
			}
			return m
		}
		en := map[string]string{"Accept-Language": "en", "Content-Type": "application/x-www-form-urlencoded"}
		cases := []struct {
			name    string
			form    map[string]string
			status  int
			field   string
			message string
		}{
			{"no title", with(map[string]string{"title_de": "", "title_ar": ""}), 422, "title", "Please enter a title in at least one language."},
			{"bad date", with(map[string]string{"session_2_date": "2026-02-30"}), 422, "session_2_date", "Please enter a valid date as YYYY-MM-DD"},
			{"bad time", with(map[string]string{"session_0_end": "25:00"}), 422, "session_0_end", "Please enter a valid time as HH:MM"},
			{"end before start", with(map[string]string{"session_2_end": "08:00"}), 422, "session_2_date", "The end must be after the start."},
			{"overlap", with(map[string]string{"session_2_date": day, "session_2_start": "11:00"}), 422, "session_2_date", "This date overlaps with another one."},
			{"no sessions", with(map[string]string{"session_0_date": "", "session_0_start": "", "session_0_end": "", "session_2_date": "", "session_2_start": "", "session_2_end": ""}), 422, "sessions", "Please enter at least one date."},
			{"no address", with(map[string]string{"address": " "}), 422, "address", "Please enter the address of a course on site."},
			{"bad url", with(map[string]string{"format": "online", "online_url": "http://x.example"}), 422, "online_url", "starts with https://"},
			{"bad format", with(map[string]string{"format": "hybrid"}), 422, "format", "Please choose: online or on site."},
			{"bad seats", with(map[string]string{"seats": "0"}), 422, "seats", "between 1 and 1000"},
			{"seats not a number", with(map[string]string{"seats": "zehn"}), 422, "seats", "between 1 and 1000"},
			{"bad language", with(map[string]string{"language": "fr"}), 422, "language", "Please choose the language of the course"},
			{"not a trainer", with(map[string]string{"trainer": "someone"}), 422, "trainer", "Please choose a trainer from the list."},
			{"title too long", with(map[string]string{"title_de": strings.Repeat("x", 121)}), 422, "title_de", "at most 120 characters"},
		}
		for _, tc := range cases {
			body, _ := form(tc.form)
			w := h.do(t, "POST", "/multipliers/courses/new", body, en, ed)
			got := w.Body.String()
			if w.Code != tc.status || !strings.Contains(got, `id="`+tc.field+`-error"`) || !strings.Contains(got, tc.message) {
				t.Errorf("%s: %d, want %d with the message at %s\n%s", tc.name, w.Code, tc.status, tc.field, mainOf(got))
				continue
			}
			// The entries are kept.
			if !strings.Contains(got, `value="`+template.HTMLEscapeString(tc.form["title_de"])+`"`) {
				t.Errorf("%s: title not kept", tc.name)
			}
			if v := tc.form["session_2_start"]; v != "" && !strings.Contains(got, `value="`+v+`"`) {
				t.Errorf("%s: session entry not kept", tc.name)
			}
		}
		if all, err := h.courses.List(ctx, courses.ListOptions{}); err != nil || len(all) != 0 {
			t.Fatalf("refused forms stored %d courses %v", len(all), err)
		}
		body, _ := form(good)
		w := h.do(t, "POST", "/multipliers/courses/new", body, en, ed)
		if w.Code != http.StatusSeeOther || flashOf(w) != "FlashCourseSaved" {
			t.Fatalf("create: %d\n%s", w.Code, mainOf(w.Body.String()))
		}
		all, err := h.courses.List(ctx, courses.ListOptions{})
		if err != nil || len(all) != 1 {
			t.Fatalf("stored %d %v", len(all), err)
		}
		co := all[0]
		if w.Header().Get("Location") != "/multipliers/courses/"+co.ID || co.Trainer != tina.ID || co.Seats != 10 || len(co.Sessions) != 2 ||
			co.Address != "Jobcenter Nord\nRaum 12" || co.Title["ar"] != "المقابلة التحفيزية" {
			t.Fatalf("stored %+v", co)
		}
		if start := co.Sessions[1].Start.In(workshops.Berlin); start.Format("15:04") != "09:30" {
			t.Errorf("second session starts %v", start)
		}
		// The edit page shows the stored values, Berlin time.
		page := h.do(t, "GET", "/multipliers/courses/"+co.ID+"/edit", nil, en, ed).Body.String()
		for _, want := range []string{`value="09:30"`, `value="` + day + `"`, `<option value="` + tina.ID + `" selected>Tina</option>`, "Jobcenter Nord\nRaum 12"} {
			if !strings.Contains(page, want) {
				t.Errorf("edit page lacks %q", want)
			}
		}
		// Fewer seats than booked: refused, 409.
		_, m1 := h.member(t, "Malte", accounts.RoleMultiplier)
		_, m2 := h.member(t, "Mona", accounts.RoleMultiplier)
		h.post(t, "/multipliers/courses/"+co.ID+"/signup", m1, nil)
		h.post(t, "/multipliers/courses/"+co.ID+"/signup", m2, nil)
		body, _ = form(with(map[string]string{"seats": "1"}))
		if w := h.do(t, "POST", "/multipliers/courses/"+co.ID+"/edit", body, en, ed); w.Code != http.StatusConflict || !strings.Contains(w.Body.String(), `id="seats-error"`) {
			t.Errorf("seats below booked: %d", w.Code)
		}
		// Deleting asks first.
		if w := h.post(t, "/multipliers/courses/"+co.ID+"/delete", ed, nil); w.Code != 422 || !strings.Contains(w.Body.String(), `id="confirm-error"`) {
			t.Errorf("delete without confirmation: %d", w.Code)
		}
		if w := h.post(t, "/multipliers/courses/"+co.ID+"/delete", ed, map[string]string{"confirm": "1"}); w.Code != 303 || w.Header().Get("Location") != "/multipliers/courses" {
			t.Errorf("delete: %d", w.Code)
		}
		if _, err := h.courses.Get(ctx, co.ID); err == nil {
			t.Error("not deleted")
		}
	})
}

// TestMultipliersMaterials: search, filters, paging and bad parameters.
func TestMultipliersMaterials(t *testing.T) {
	areaStores(t, func(t *testing.T, h *areaHarness) {
		_, mc := h.member(t, "Malte", accounts.RoleMultiplier)
		_, ed := h.member(t, "Edda", accounts.RoleEditor)
		flyer := h.document(t, "flyer", "Flyer Gesundheit", catalog.AudienceMultipliers, catalog.CategoryPromotional)
		h.document(t, "bericht", "Jahresbericht", catalog.AudiencePublic, catalog.CategoryReport)
		// A draft and a video are never listed.
		if _, err := h.cat.Create(context.Background(), catalog.Meta{Kind: catalog.KindDocument, Slug: "entwurf", Title: map[string]string{"de": "Entwurfsdokument"}, Topic: catalog.TopicOther, Audience: catalog.AudiencePublic}); err != nil {
			t.Fatal(err)
		}
		h.addSynthetic(t, meta(catalog.KindVideo, "video", map[string]string{"de": "Ein Video"}), false)
		de := map[string]string{"Accept-Language": "de"}
		cases := []struct {
			query       string
			status      int
			want, avoid []string
		}{
			{"", 200, []string{"Flyer Gesundheit", "Jahresbericht", "2 Dokumente", "Werbematerial", "PDF", "2.1", `lang="de"`}, []string{"Entwurfsdokument", "Ein Video"}},
			{"?q=gesundheit", 200, []string{"Flyer Gesundheit", "1 Dokument"}, []string{"Jahresbericht"}},
			{"?category=report", 200, []string{"Jahresbericht"}, []string{"Flyer Gesundheit"}},
			{"?language=ar", 200, []string{"0 Dokumente"}, []string{"Flyer Gesundheit"}},
			{"?topic=sleep", 200, []string{"0 Dokumente"}, []string{"Jahresbericht"}},
			{"?category=nope", 400, []string{"Dieser Filter ist unbekannt."}, []string{"Flyer Gesundheit"}},
			{"?page=0", 400, []string{"Diese Seite gibt es nicht."}, nil},
			{"?q=" + url.QueryEscape(strings.Repeat("lang ", 60)), 400, []string{"höchstens 200 Zeichen"}, nil},
		}
		for _, tc := range cases {
			w := h.do(t, "GET", "/multipliers/materials"+tc.query, nil, de, mc)
			body := mainOf(w.Body.String())
			if w.Code != tc.status {
				t.Errorf("%s: %d, want %d", tc.query, w.Code, tc.status)
			}
			for _, s := range tc.want {
				if !strings.Contains(body, s) {
					t.Errorf("%s: lacks %q\n%s", tc.query, s, body)
				}
			}
			for _, s := range tc.avoid {
				if strings.Contains(body, s) {
					t.Errorf("%s: shows %q", tc.query, s)
				}
			}
		}
		// English page: English title; editors get the editor's links.
		body := h.do(t, "GET", "/multipliers/materials", nil, map[string]string{"Accept-Language": "en"}, ed).Body.String()
		if !strings.Contains(body, "Flyer Gesundheit (en)") || !strings.Contains(body, `href="/manage/mediathek/`+flyer.ID+`"`) || !strings.Contains(body, `href="/manage/mediathek/new"`) {
			t.Errorf("editor's English page:\n%s", mainOf(body))
		}
		// Paging: 22 documents, 20 a page.
		for i := range 20 {
			h.document(t, fmt.Sprintf("blatt-%d", i), fmt.Sprintf("Blatt %d", i), catalog.AudiencePublic, catalog.CategoryOther)
		}
		body = h.do(t, "GET", "/multipliers/materials?category=other", nil, de, mc).Body.String()
		if !strings.Contains(body, "Seite 1 von 1") && !strings.Contains(body, "20 Dokumente") {
			t.Errorf("20 documents of a category")
		}
		body = h.do(t, "GET", "/multipliers/materials", nil, de, mc).Body.String()
		if !strings.Contains(body, "Seite 1 von 2") || !strings.Contains(body, `href="/multipliers/materials?page=2"`) {
			t.Errorf("first page lacks the pager\n%s", mainOf(body))
		}
		body = h.do(t, "GET", "/multipliers/materials?page=2", nil, de, mc).Body.String()
		if !strings.Contains(body, "Seite 2 von 2") || strings.Count(body, `class="card document"`) != 2 {
			t.Errorf("second page\n%s", mainOf(body))
		}
	})
}

// TestCourseSignUpRaceHTTP: 20 multipliers sign up at the same time, over
// HTTP, for a course with 5 seats: exactly 5 get a seat, 15 wait.
func TestCourseSignUpRaceHTTP(t *testing.T) {
	areaStores(t, func(t *testing.T, h *areaHarness) {
		co := h.course(t, "Ansturm", "", 5, courses.FormatOnsite)
		srv := httptest.NewServer(h.srv)
		defer srv.Close()
		const n = 20
		cookies := make([]*http.Cookie, n)
		for i := range cookies {
			_, cookies[i] = h.member(t, fmt.Sprintf("Person%02d", i), accounts.RoleMultiplier)
		}
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		flashes := make([]string, n)
		codes := make([]int, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Add(1)
			go func() {
				defer wg.Done()
				req, _ := http.NewRequest("POST", srv.URL+"/multipliers/courses/"+co.ID+"/signup", strings.NewReader(""))
				req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
				req.AddCookie(cookies[i])
				<-start
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				resp.Body.Close()
				codes[i] = resp.StatusCode
				for _, c := range resp.Cookies() {
					if c.Name == flashCookie {
						flashes[i] = c.Value
					}
				}
			}()
		}
		close(start)
		wg.Wait()
		booked, waiting := 0, 0
		for i := range n {
			if codes[i] != http.StatusSeeOther {
				t.Errorf("sign-up %d: %d", i, codes[i])
			}
			switch flashes[i] {
			case "FlashCourseBooked":
				booked++
			case flashCourseWaiting:
				waiting++
			}
		}
		r, err := h.courses.Roster(context.Background(), co.ID)
		if err != nil {
			t.Fatal(err)
		}
		if booked != 5 || waiting != 15 || len(r.Booked) != 5 || len(r.Waiting) != 15 {
			t.Fatalf("answers: %d booked, %d waiting; roster: %d booked, %d waiting", booked, waiting, len(r.Booked), len(r.Waiting))
		}
	})
}

// TestMultipliersPodcastFeedLink: the professionals' podcast page points
// approved multipliers to their private feed, and tells editors who are
// not multipliers (and cannot have one) so instead.
func TestMultipliersPodcastFeedLink(t *testing.T) {
	areaStores(t, func(t *testing.T, h *areaHarness) {
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		_, multiplier := h.member(t, "Malte", accounts.RoleMultiplier)
		for _, tc := range []struct {
			name   string
			cookie *http.Cookie
			link   bool
		}{{"multiplier", multiplier, true}, {"editor", editor, false}} {
			w := h.do(t, "GET", "/multipliers/podcast", nil, map[string]string{"Accept-Language": "en"}, cookieList(tc.cookie)...)
			body := w.Body.String()
			shown := strings.Contains(body, `href="/account#podcast-feed"`)
			told := strings.Contains(body, "Only approved professionals can have a private feed address.")
			if w.Code != 200 || shown != tc.link || told == tc.link {
				t.Errorf("%s: %d, link to the private feed shown %v, told it is for multipliers %v; want the link: %v", tc.name, w.Code, shown, told, tc.link)
			}
		}
	})
}
