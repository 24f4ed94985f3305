package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"html/template"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	ical "github.com/emersion/go-ical"

	"portalo/accounts"
	"portalo/web/i18n"
	"portalo/workshops"
)

// isTrainer is how cmd/portalo tells the workshops service who may lead a
// workshop.
func isTrainer(accts *accounts.Service) func(ctx context.Context, id string) (bool, error) {
	return func(ctx context.Context, id string) (bool, error) {
		a, err := accts.Get(ctx, id)
		if errors.Is(err, accounts.ErrNotFound) {
			return false, nil
		}
		return a.Has(accounts.RoleTrainer), err
	}
}

// member registers an account with roles and returns it with a session
// cookie.
func (h *harness) member(t *testing.T, pseudonym string, roles ...accounts.Role) (accounts.Account, *http.Cookie) {
	t.Helper()
	ctx := context.Background()
	a, err := h.accts.Register(ctx, accounts.Registration{Pseudonym: pseudonym, Password: "long enough"}, "")
	if err != nil {
		t.Fatal(err)
	}
	if len(roles) > 0 {
		if a, err = h.accts.SetRoles(ctx, a.ID, roles); err != nil {
			t.Fatal(err)
		}
	}
	tok, err := h.accts.StartSession(ctx, a.ID)
	if err != nil {
		t.Fatal(err)
	}
	return a, &http.Cookie{Name: sessionCookie, Value: tok}
}

// weekOfWorkshops creates, for trainer: a German yoga workshop starting
// in five minutes (its room is open), an English nutrition workshop
// tomorrow, and a Turkish relaxation workshop whose date tomorrow is
// cancelled.
func (h *harness) weekOfWorkshops(t *testing.T, trainerID string) (open, tomorrow, cancelled workshops.Workshop) {
	t.Helper()
	ctx := context.Background()
	soon := time.Now().In(workshops.Berlin).Add(5 * time.Minute)
	next := soon.AddDate(0, 0, 1)
	mk := func(w workshops.Workshop, at time.Time) workshops.Workshop {
		t.Helper()
		w.TrainerID, w.Weekday = trainerID, at.Weekday()
		w.Start = workshops.TimeOfDay{Hour: at.Hour(), Minute: at.Minute()}
		w.StartsOn = workshops.DateOf(soon).AddDays(-7)
		out, err := h.ws.Create(ctx, w)
		if err != nil {
			t.Fatal(err)
		}
		return out
	}
	open = mk(workshops.Workshop{
		Title:    map[string]string{"de": "Yoga am Morgen", "en": "Morning yoga", "ar": "يوغا الصباح"},
		Topic:    workshops.TopicMovement,
		Language: "de",
	}, soon)
	tomorrow = mk(workshops.Workshop{
		Title:       map[string]string{"en": "Eating well on a budget"},
		Description: map[string]string{"en": "Cheap, healthy recipes & tips."},
		Topic:       workshops.TopicNutrition,
		Language:    "en",
	}, next)
	cancelled = mk(workshops.Workshop{
		Title:    map[string]string{"tr": "Nefes ve rahatlama"},
		Topic:    workshops.TopicRelaxation,
		Language: "tr",
	}, next)
	if _, err := h.ws.CancelDate(ctx, cancelled.ID, workshops.DateOf(next)); err != nil {
		t.Fatal(err)
	}
	return open, tomorrow, cancelled
}

var untranslatedWorkshop = regexp.MustCompile(`>(Workshops?|FieldWorkshop|ErrWorkshop|FlashWorkshop)[A-Z0-9][A-Za-z0-9]*<`)

func TestSchedulePageInEveryLanguage(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		trainer, _ := h.member(t, "Tina", accounts.RoleTrainer)
		open, _, _ := h.weekOfWorkshops(t, trainer.ID)
		titles := map[string]string{"de": "Yoga am Morgen", "en": "Morning yoga", "tr": "Yoga am Morgen", "ru": "Yoga am Morgen", "ar": "يوغا الصباح"}
		heading := map[string]string{"de": "Live-Workshops", "en": "Live workshops", "tr": "Canlı atölyeler", "ru": "Онлайн-семинары", "ar": "ورش عمل مباشرة"}
		for _, lang := range i18n.Languages {
			t.Run(lang.Code, func(t *testing.T) {
				w := h.do(t, "GET", "/workshops", nil, map[string]string{"Accept-Language": lang.Code})
				body := w.Body.String()
				if w.Code != http.StatusOK {
					t.Fatalf("status %d", w.Code)
				}
				m := htmlLang.FindStringSubmatch(body)
				if m == nil || m[1] != lang.Code || m[2] != lang.Dir {
					t.Fatalf("html element %v, want lang=%s dir=%s", m, lang.Code, lang.Dir)
				}
				if u := untranslated.FindString(body); u != "" {
					t.Fatalf("untranslated message: %s", u)
				}
				if u := untranslatedWorkshop.FindString(body); u != "" {
					t.Fatalf("untranslated message: %s", u)
				}
				if !strings.Contains(body, "<h1>"+heading[lang.Code]+"</h1>") {
					t.Fatalf("no heading %q", heading[lang.Code])
				}
				// The title in the page's language, or marked as another one.
				want := ">" + titles[lang.Code] + "</h4>"
				if !strings.Contains(body, want) {
					t.Fatalf("title %q missing", want)
				}
				if lang.Code == "tr" && !strings.Contains(body, `lang="de">Yoga am Morgen</h4>`) {
					t.Fatal("a fallback title is not marked with its language")
				}
				if !strings.Contains(body, `href="/workshops/`+open.ID+`/room"`) {
					t.Fatal("no join link for the open room")
				}
				if strings.Count(body, `/room"`) != 1 {
					t.Fatal("join links for rooms that are not open")
				}
				if !regexp.MustCompile(`<time datetime="\d{4}-\d\d-\d\dT\d\d:\d\d(\+|&#43;)0[12]:00">`).MatchString(body) {
					t.Fatal("no machine-readable start time with offset")
				}
				if !strings.Contains(body, `href="/workshops.ics?lang=`+lang.Code+`"`) {
					t.Fatal("no link to the feed")
				}
				if !regexp.MustCompile(`\((CET|CEST)\)`).MatchString(body) {
					t.Fatal("time zone not named")
				}
				if !strings.Contains(body, `href="/workshops" aria-current="page"`) {
					t.Fatal("nav link to the schedule missing")
				}
			})
		}
		w := h.do(t, "GET", "/workshops", nil, map[string]string{"Accept-Language": "en"})
		body := w.Body.String()
		for _, s := range []string{"Cancelled", "Nefes ve rahatlama", "Cheap, healthy recipes &amp; tips.", "This week", "Next week", "Nutrition", "Türkçe"} {
			if !strings.Contains(body, s) {
				t.Errorf("page lacks %q", s)
			}
		}
		if strings.Contains(body, "/manage/workshops") {
			t.Error("visitors see the editor link")
		}
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		if w := h.do(t, "GET", "/workshops", nil, nil, editor); !strings.Contains(w.Body.String(), `href="/manage/workshops"`) {
			t.Error("editors do not see the editor link")
		}
	})
}

func TestScheduleFilters(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		trainer, _ := h.member(t, "Tina", accounts.RoleTrainer)
		h.weekOfWorkshops(t, trainer.ID)
		en := map[string]string{"Accept-Language": "en"}
		cases := []struct {
			query string
			want  []string
			not   []string
		}{
			{"", []string{"Morning yoga", "Eating well", "Nefes"}, nil},
			{"?topic=nutrition", []string{"Eating well"}, []string{"Morning yoga", "Nefes"}},
			{"?language=tr", []string{"Nefes"}, []string{"Morning yoga", "Eating well"}},
			{"?topic=movement&language=de", []string{"Morning yoga"}, []string{"Eating well", "Nefes"}},
			{"?topic=movement&language=en", nil, []string{"Morning yoga", "Eating well", "Nefes"}},
			// Unknown values are ignored rather than refused.
			{"?topic=dance&language=xx", []string{"Morning yoga", "Eating well", "Nefes"}, nil},
		}
		for _, tc := range cases {
			t.Run(tc.query, func(t *testing.T) {
				w := h.do(t, "GET", "/workshops"+tc.query, nil, en)
				body := w.Body.String()
				if w.Code != http.StatusOK {
					t.Fatalf("status %d", w.Code)
				}
				for _, s := range tc.want {
					if !strings.Contains(body, s) {
						t.Errorf("lacks %q", s)
					}
				}
				for _, s := range tc.not {
					if strings.Contains(body, s) {
						t.Errorf("shows %q", s)
					}
				}
			})
		}
		if body := h.do(t, "GET", "/workshops?topic=nutrition", nil, en).Body.String(); !strings.Contains(body, `<option value="nutrition" selected>`) {
			t.Error("the form forgets the chosen topic")
		}
	})
}

func TestWorkshopFeed(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		trainer, _ := h.member(t, "Tina", accounts.RoleTrainer)
		open, _, cancelled := h.weekOfWorkshops(t, trainer.ID)
		w := h.do(t, "GET", "/workshops.ics?lang=ar", nil, map[string]string{"Host": "portal.example"})
		if w.Code != http.StatusOK || w.Header().Get("Content-Type") != "text/calendar; charset=utf-8" {
			t.Fatalf("status %d, type %q", w.Code, w.Header().Get("Content-Type"))
		}
		etag := w.Header().Get("ETag")
		if !regexp.MustCompile(`^"[0-9a-f]{32}"$`).MatchString(etag) {
			t.Fatalf("ETag %q", etag)
		}
		cal, err := ical.NewDecoder(bytes.NewReader(w.Body.Bytes())).Decode()
		if err != nil {
			t.Fatal(err)
		}
		events := cal.Events()
		if len(events) != 3 {
			t.Fatalf("%d events", len(events))
		}
		byUID := map[string]ical.Event{}
		for _, e := range events {
			uid, _ := e.Props.Text(ical.PropUID)
			byUID[uid] = e
		}
		if s, _ := byUID[open.ID+"@portalo"].Props.Text(ical.PropSummary); s != "يوغا الصباح" {
			t.Errorf("summary in Arabic: %q", s)
		}
		if u := byUID[open.ID+"@portalo"].Props.Get(ical.PropURL); u == nil || u.Value != "http://example.com/workshops" {
			t.Errorf("URL %+v", u)
		}
		if ex := byUID[cancelled.ID+"@portalo"].Props.Values(ical.PropExceptionDates); len(ex) != 1 {
			t.Errorf("EXDATE of the cancelled date: %+v", ex)
		}

		for _, inm := range []string{etag, "W/" + etag, `"other", ` + etag, "*"} {
			w := h.do(t, "GET", "/workshops.ics?lang=ar", nil, map[string]string{"If-None-Match": inm})
			if w.Code != http.StatusNotModified || w.Body.Len() != 0 || w.Header().Get("ETag") != etag {
				t.Fatalf("If-None-Match %s: %d, %d bytes", inm, w.Code, w.Body.Len())
			}
		}
		if w := h.do(t, "GET", "/workshops.ics?lang=ar", nil, map[string]string{"If-None-Match": `"stale"`}); w.Code != http.StatusOK {
			t.Fatalf("stale ETag: %d", w.Code)
		}
		// Another language or a change gives another ETag.
		if h.do(t, "GET", "/workshops.ics?lang=de", nil, nil).Header().Get("ETag") == etag {
			t.Fatal("same ETag for another language")
		}
		if _, err := h.ws.RestoreDate(context.Background(), cancelled.ID, workshops.DateOf(time.Now().In(workshops.Berlin).Add(5*time.Minute)).AddDays(1)); err != nil {
			t.Fatal(err)
		}
		if w := h.do(t, "GET", "/workshops.ics?lang=ar", nil, map[string]string{"If-None-Match": etag}); w.Code != http.StatusOK {
			t.Fatalf("after a change: %d", w.Code)
		}
		// Without ?lang= the feed follows the page language.
		w = h.do(t, "GET", "/workshops.ics", nil, map[string]string{"Accept-Language": "en"})
		if !strings.Contains(w.Body.String(), "SUMMARY;LANGUAGE=en:Morning yoga") {
			t.Fatalf("feed not in English:\n%s", w.Body)
		}
	})
}

func jsonBody(v any) (*bytes.Reader, map[string]string) {
	b, _ := json.Marshal(v)
	return bytes.NewReader(b), map[string]string{"Content-Type": "application/json", "Accept-Language": "en"}
}

func TestWorkshopAPI(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		trainer, trainerCk := h.member(t, "Tina", accounts.RoleTrainer)
		_, otherTrainerCk := h.member(t, "Tom", accounts.RoleTrainer)
		_, participant := h.member(t, "Paula")
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		admin, err := h.accts.CreateAdmin(context.Background(), "Boss", "long enough")
		if err != nil {
			t.Fatal(err)
		}
		tok, _ := h.accts.StartSession(context.Background(), admin.ID)
		adminCk := &http.Cookie{Name: sessionCookie, Value: tok}
		soon := time.Now().In(workshops.Berlin).Add(5 * time.Minute)
		wd := int(soon.Weekday())
		valid := map[string]any{
			"title": map[string]string{"de": "Yoga", "ar": "يوغا"}, "description": map[string]string{"de": "Für alle"},
			"topic": "movement", "language": "de", "trainer_id": trainer.ID, "weekday": wd,
			"start": soon.Format("15:04"), "starts_on": workshops.DateOf(soon).AddDays(-7).String(),
		}
		call := func(method, path string, body any, cookies ...*http.Cookie) *httptest.ResponseRecorder {
			t.Helper()
			r, hdr := jsonBody(body)
			if body == nil {
				return h.do(t, method, path, nil, map[string]string{"Accept-Language": "en"}, cookies...)
			}
			return h.do(t, method, path, r, hdr, cookies...)
		}

		// Who may plan workshops.
		for _, tc := range []struct {
			name    string
			cookies []*http.Cookie
			status  int
		}{
			{"anonymous", nil, 401}, {"participant", []*http.Cookie{participant}, 403},
			{"trainer", []*http.Cookie{trainerCk}, 403}, {"editor", []*http.Cookie{editor}, 200}, {"admin", []*http.Cookie{adminCk}, 200},
		} {
			if w := call("GET", "/api/v1/workshops", nil, tc.cookies...); w.Code != tc.status {
				t.Errorf("%s lists: %d, want %d", tc.name, w.Code, tc.status)
			}
			if tc.status != 200 {
				if w := call("POST", "/api/v1/workshops", valid, tc.cookies...); w.Code != tc.status {
					t.Errorf("%s creates: %d, want %d", tc.name, w.Code, tc.status)
				}
			}
		}
		w := call("POST", "/api/v1/workshops", valid, editor)
		if w.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", w.Code, w.Body)
		}
		var created struct{ Workshop workshops.Workshop }
		if err := json.Unmarshal(w.Body.Bytes(), &created); err != nil || created.Workshop.ID == "" || created.Workshop.Duration != 60 {
			t.Fatalf("created: %v %s", err, w.Body)
		}
		id := created.Workshop.ID
		if w.Header().Get("Location") != "/api/v1/workshops/"+id {
			t.Errorf("Location %q", w.Header().Get("Location"))
		}
		if w := call("GET", "/api/v1/workshops/"+id, nil, adminCk); w.Code != 200 || !strings.Contains(w.Body.String(), `"يوغا"`) {
			t.Fatalf("get: %d %s", w.Code, w.Body)
		}
		upd := map[string]any{}
		for k, v := range valid {
			upd[k] = v
		}
		upd["duration_minutes"] = 90
		if w := call("PUT", "/api/v1/workshops/"+id, upd, editor); w.Code != 200 || !strings.Contains(w.Body.String(), `"duration_minutes":90`) {
			t.Fatalf("update: %d %s", w.Code, w.Body)
		}

		// Bad input: a 4xx with a message in the person's language.
		long := map[string]any{}
		for k, v := range valid {
			long[k] = v
		}
		long["title"] = map[string]string{"ru": strings.Repeat("ж", 121)}
		badTrainer := map[string]any{}
		for k, v := range valid {
			badTrainer[k] = v
		}
		badTrainer["trainer_id"] = admin.ID
		next := workshops.DateOf(soon).AddDays(7).String()
		bad := []struct {
			name, method, path string
			body               any
			status             int
			code, msg          string
		}{
			{"title too long", "POST", "/api/v1/workshops", long, 422, "title_too_long", "at most 120 characters"},
			{"not a trainer", "POST", "/api/v1/workshops", badTrainer, 422, "trainer_invalid", "does not have the trainer role"},
			{"no weekday", "POST", "/api/v1/workshops", map[string]any{"title": map[string]string{"de": "x"}}, 422, "weekday_invalid", "day of the week"},
			{"unknown field", "POST", "/api/v1/workshops", map[string]any{"colour": "red"}, 400, "bad_request", "could not be read"},
			{"unknown workshop", "GET", "/api/v1/workshops/nope", nil, 404, "not_found", "does not exist"},
			{"bad date", "POST", "/api/v1/workshops/" + id + "/dates/tomorrow/cancel", nil, 422, "date_invalid", "valid date"},
			{"not scheduled", "POST", "/api/v1/workshops/" + id + "/dates/" + workshops.DateOf(soon).AddDays(1).String() + "/cancel", nil, 422, "date_not_scheduled", "does not regularly"},
			{"bad move", "POST", "/api/v1/workshops/" + id + "/dates/" + next + "/move", map[string]any{"date": next, "start": "25:00"}, 422, "start_invalid", "like 10:00"},
			{"unknown action", "POST", "/api/v1/workshops/" + id + "/dates/" + next + "/postpone", nil, 404, "not_found", ""},
		}
		for _, tc := range bad {
			w := call(tc.method, tc.path, tc.body, editor)
			var e struct{ Error problem }
			_ = json.Unmarshal(w.Body.Bytes(), &e)
			if w.Code != tc.status || e.Error.Code != tc.code || !strings.Contains(e.Error.Message, tc.msg) {
				t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
			}
		}
		w = h.do(t, "POST", "/api/v1/workshops", strings.NewReader("{}"), map[string]string{"Content-Type": "text/plain"}, editor)
		if w.Code != http.StatusUnsupportedMediaType {
			t.Errorf("text/plain body: %d", w.Code)
		}
		// German, too.
		r, hdr := jsonBody(long)
		hdr["Accept-Language"] = "de"
		if w := h.do(t, "POST", "/api/v1/workshops", r, hdr, editor); !strings.Contains(w.Body.String(), "höchstens 120 Zeichen") {
			t.Errorf("German message: %s", w.Body)
		}

		// Dates: cancel, move, restore.
		if w := call("POST", "/api/v1/workshops/"+id+"/dates/"+next+"/cancel", nil, participant); w.Code != 403 {
			t.Errorf("participant cancels: %d", w.Code)
		}
		if w := call("POST", "/api/v1/workshops/"+id+"/dates/"+next+"/cancel", nil, editor); w.Code != 200 || !strings.Contains(w.Body.String(), `"cancelled":true`) {
			t.Fatalf("cancel: %d %s", w.Code, w.Body)
		}
		if w := call("POST", "/api/v1/workshops/"+id+"/dates/"+next+"/move", map[string]any{"date": next, "start": "18:00", "duration_minutes": 45}, editor); w.Code != 200 || !strings.Contains(w.Body.String(), `"start":"18:00"`) {
			t.Fatalf("move: %d %s", w.Code, w.Body)
		}
		if w := call("POST", "/api/v1/workshops/"+id+"/dates/"+next+"/restore", nil, editor); w.Code != 200 || strings.Contains(w.Body.String(), "exceptions") {
			t.Fatalf("restore: %d %s", w.Code, w.Body)
		}

		// The room: its trainer, editors and admins may end or extend it.
		room := "/api/v1/workshops/" + id + "/room/"
		if w := call("POST", room+"extend", nil); w.Code != 401 {
			t.Errorf("anonymous extends: %d", w.Code)
		}
		for _, ck := range []*http.Cookie{participant, otherTrainerCk} {
			if w := call("POST", room+"extend", nil, ck); w.Code != 403 {
				t.Errorf("someone else extends: %d", w.Code)
			}
		}
		w = call("POST", room+"extend", nil, trainerCk)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `"extension_minutes":15`) {
			t.Fatalf("trainer extends: %d %s", w.Code, w.Body)
		}
		for i := 0; i < 3; i++ {
			if w := call("POST", room+"extend", nil, editor); w.Code != 200 {
				t.Fatalf("extend %d: %d", i, w.Code)
			}
		}
		if w := call("POST", room+"extend", nil, trainerCk); w.Code != 409 || !strings.Contains(w.Body.String(), "at most 60 minutes") {
			t.Fatalf("fifth extension: %d %s", w.Code, w.Body)
		}
		if w := call("POST", room+"end", nil, trainerCk); w.Code != 200 || !strings.Contains(w.Body.String(), `"ended_early":true`) {
			t.Fatalf("end: %d %s", w.Code, w.Body)
		}
		if w := call("POST", room+"end", nil, trainerCk); w.Code != 409 || !strings.Contains(w.Body.String(), "not open") {
			t.Fatalf("end again: %d %s", w.Code, w.Body)
		}
		if w := call("POST", "/api/v1/workshops/nope/room/end", nil, trainerCk); w.Code != 404 {
			t.Fatalf("unknown workshop's room: %d", w.Code)
		}

		if w := call("DELETE", "/api/v1/workshops/"+id, nil, participant); w.Code != 403 {
			t.Errorf("participant deletes: %d", w.Code)
		}
		if w := call("DELETE", "/api/v1/workshops/"+id, nil, editor); w.Code != http.StatusNoContent {
			t.Fatalf("delete: %d", w.Code)
		}
		if w := call("DELETE", "/api/v1/workshops/"+id, nil, editor); w.Code != 404 {
			t.Fatalf("delete again: %d", w.Code)
		}
	})
}

func TestWorkshopEditorPages(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		trainer, _ := h.member(t, "Tina", accounts.RoleTrainer)
		_, participant := h.member(t, "Paula")
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		en := map[string]string{"Accept-Language": "en"}
		if w := h.do(t, "GET", "/manage/workshops", nil, en); w.Code != http.StatusSeeOther {
			t.Fatalf("visitor: %d", w.Code)
		}
		if w := h.do(t, "GET", "/manage/workshops", nil, en, participant); w.Code != http.StatusForbidden {
			t.Fatalf("participant: %d", w.Code)
		}
		w := h.do(t, "GET", "/manage/workshops/new", nil, en, editor)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `<option value="`+trainer.ID+`">Tina</option>`) {
			t.Fatalf("new form: %d %s", w.Code, w.Body)
		}
		if u := untranslatedWorkshop.FindString(w.Body.String()); u != "" {
			t.Fatalf("untranslated: %s", u)
		}
		vals := map[string]string{
			"title_de": "Entspannung am Abend", "title_ru": strings.Repeat("ж", 121), "topic": "relaxation", "language": "ru",
			"trainer_id": trainer.ID, "weekday": "3", "start": "19:30", "duration": "45", "starts_on": "2026-01-07",
		}
		post := func(path string, vals map[string]string) *httptest.ResponseRecorder {
			body, hdr := form(vals)
			hdr["Accept-Language"] = "en"
			return h.do(t, "POST", path, body, hdr, editor)
		}
		w = post("/manage/workshops", vals)
		if w.Code != 422 || !strings.Contains(w.Body.String(), "at most 120 characters") || !strings.Contains(w.Body.String(), `id="title_ru" name="title_ru" lang="ru" dir="auto" value="жжж`) || !strings.Contains(w.Body.String(), `aria-invalid="true"`) {
			t.Fatalf("too long: %d %s", w.Code, w.Body)
		}
		vals["title_ru"] = "Вечернее расслабление"
		vals["description_ar"] = strings.Repeat("ب", 1500) // longer than other form fields may be
		if w = post("/manage/workshops", vals); w.Code != http.StatusSeeOther || w.Header().Get("Location") != "/manage/workshops" {
			t.Fatalf("create: %d %s", w.Code, w.Body)
		}
		list, err := h.ws.List(context.Background())
		if err != nil || len(list) != 1 || list[0].Description["ar"] != vals["description_ar"] || list[0].Weekday != time.Wednesday {
			t.Fatalf("stored: %v %+v", err, list)
		}
		id := list[0].ID
		if w := h.do(t, "GET", "/manage/workshops", nil, en, editor); !strings.Contains(w.Body.String(), `lang="ru">Вечернее расслабление</a>`) || !strings.Contains(w.Body.String(), "Wednesday, 19:30 (45 minutes)") {
			t.Fatalf("list: %s", w.Body)
		}
		w = h.do(t, "GET", "/manage/workshops/"+id, nil, en, editor)
		if w.Code != 200 || !strings.Contains(w.Body.String(), `value="19:30"`) {
			t.Fatalf("edit form: %d", w.Code)
		}
		m := regexp.MustCompile(`action="/manage/workshops/` + id + `/dates/(\d{4}-\d\d-\d\d)/cancel"`).FindStringSubmatch(w.Body.String())
		if m == nil {
			t.Fatal("no date to cancel")
		}
		if w := post("/manage/workshops/"+id+"/dates/"+m[1]+"/cancel", nil); w.Code != http.StatusSeeOther {
			t.Fatalf("cancel: %d", w.Code)
		}
		if w := h.do(t, "GET", "/manage/workshops/"+id, nil, en, editor); !strings.Contains(w.Body.String(), "/dates/"+m[1]+"/restore") {
			t.Fatal("cancelled date cannot be restored")
		}
		if w := post("/manage/workshops/"+id+"/dates/"+m[1]+"/restore", nil); w.Code != http.StatusSeeOther {
			t.Fatalf("restore: %d", w.Code)
		}
		vals["start"] = "7 pm"
		if w := post("/manage/workshops/"+id, vals); w.Code != 422 || !strings.Contains(w.Body.String(), "like 10:00") {
			t.Fatalf("bad start: %d", w.Code)
		}
		vals["start"] = "18:00"
		if w := post("/manage/workshops/"+id, vals); w.Code != http.StatusSeeOther {
			t.Fatalf("save: %d %s", w.Code, w.Body)
		}
		if w := post("/manage/workshops/"+id+"/delete", nil); w.Code != http.StatusSeeOther {
			t.Fatalf("delete: %d", w.Code)
		}
		if w := h.do(t, "GET", "/manage/workshops/"+id, nil, en, editor); w.Code != 404 {
			t.Fatalf("after delete: %d", w.Code)
		}
	})
}

// weekly creates a workshop for trainerID every week on the weekday of
// tomorrow at 10:00 (Berlin), from today on; its first date is tomorrow.
func (h *harness) weekly(t *testing.T, trainerID string) (workshops.Workshop, workshops.Date) {
	t.Helper()
	today := workshops.DateOf(time.Now().In(workshops.Berlin))
	w, err := h.ws.Create(context.Background(), workshops.Workshop{
		Title: map[string]string{"de": "Rückenfit", "en": "Healthy back"}, Topic: workshops.TopicMovement,
		Language: "de", TrainerID: trainerID, Weekday: today.AddDays(1).Weekday(),
		Start: workshops.TimeOfDay{Hour: 10}, StartsOn: today,
	})
	if err != nil {
		t.Fatal(err)
	}
	return w, today.AddDays(1)
}

// stored is the workshop as the store has it, for comparing before and
// after a request.
func (h *harness) stored(t *testing.T, id string) string {
	t.Helper()
	w, err := h.ws.Get(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	b, err := json.Marshal(w)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestWorkshopEditorDates: an editor cancels, moves and restores single
// dates with the forms of the edit page; wrong entries come back on the
// page, in the person's language, at the field concerned, and change
// nothing; only editors and admins may.
func TestWorkshopEditorDates(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		trainer, trainerCk := h.member(t, "Tina", accounts.RoleTrainer)
		_, participant := h.member(t, "Paula")
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		w, d1 := h.weekly(t, trainer.ID)
		d2, d3, far := d1.AddDays(7), d1.AddDays(14), d1.AddDays(70)
		base := "/manage/workshops/" + w.ID
		// A date beyond the listed weeks, changed through the API.
		if _, err := h.ws.CancelDate(ctx, w.ID, far); err != nil {
			t.Fatal(err)
		}
		post := func(path, lang string, vals map[string]string, cookies ...*http.Cookie) *httptest.ResponseRecorder {
			t.Helper()
			body, hdr := form(vals)
			hdr["Accept-Language"] = lang
			return h.do(t, "POST", path, body, hdr, cookies...)
		}
		page := func(cookies ...*http.Cookie) string {
			t.Helper()
			w := h.do(t, "GET", base, nil, map[string]string{"Accept-Language": "en"}, cookies...)
			if w.Code != http.StatusOK {
				t.Fatalf("edit page: %d", w.Code)
			}
			return w.Body.String()
		}
		// followFlash checks a Post/Redirect/Get answer and returns the page
		// it leads to, with its confirmation.
		followFlash := func(step string, w *httptest.ResponseRecorder, flash string) string {
			t.Helper()
			if w.Code != http.StatusSeeOther || w.Header().Get("Location") != base+"#dates" {
				t.Fatalf("%s: %d to %q, %s", step, w.Code, w.Header().Get("Location"), w.Body)
			}
			body := page(editor, cookieFrom(w, flashCookie))
			if !strings.Contains(body, `role="status">`+flash+`</p>`) {
				t.Fatalf("%s: no confirmation %q", step, flash)
			}
			return body
		}

		body := page(editor)
		if n := strings.Count(body, `/cancel"`); n != 8 {
			t.Errorf("%d dates to cancel, want the 8 of the next 8 weeks", n)
		}
		for _, want := range []string{
			`action="` + base + `/dates/` + d1.String() + `/move"`,
			`<label for="move-` + d1.String() + `-date">New date</label>`,
			`id="move-` + d1.String() + `-date" name="date" value="` + d1.String() + `"`,
			`id="move-` + d1.String() + `-start" name="start" value="10:00"`,
			`aria-label="Cancel this date: `, `aria-label="Move this date: `, "<legend>Move ",
			`<li id="changed-` + far.String() + `">`, `/dates/` + far.String() + `/restore"`,
		} {
			if !strings.Contains(body, want) {
				t.Errorf("edit page lacks %s", want)
			}
		}
		if strings.Contains(body, `/dates/`+far.String()+`/cancel"`) || strings.Contains(body, "<details open") {
			t.Error("a date beyond 8 weeks is listed to cancel, or a move form is unfolded without reason")
		}
		for _, lang := range i18n.Languages {
			w := h.do(t, "GET", base, nil, map[string]string{"Accept-Language": lang.Code}, editor)
			if u := untranslatedWorkshop.FindString(w.Body.String()); w.Code != 200 || u != "" {
				t.Errorf("%s: %d, untranslated %q", lang.Code, w.Code, u)
			}
		}

		// Cancel, move, undo.
		body = followFlash("cancel", post(base+"/dates/"+d1.String()+"/cancel", "en", nil, editor), "The date has been cancelled.")
		if got, _ := h.ws.Get(ctx, w.ID); !got.Exceptions[d1].Cancelled {
			t.Fatalf("not cancelled: %+v", got.Exceptions)
		}
		if strings.Contains(body, `/dates/`+d1.String()+`/cancel"`) || !strings.Contains(body, `<li id="changed-`+d1.String()+`">`) {
			t.Error("the cancelled date is not listed as changed")
		}
		moveTo := d2.AddDays(1)
		body = followFlash("move", post(base+"/dates/"+d2.String()+"/move", "en", map[string]string{"date": " " + moveTo.String() + " ", "start": "18:30"}, editor), "The date has been moved.")
		got, _ := h.ws.Get(ctx, w.ID)
		if ex := got.Exceptions[d2]; ex.Cancelled || ex.Date != moveTo || ex.Start != (workshops.TimeOfDay{Hour: 18, Minute: 30}) || ex.Duration != 60 {
			t.Fatalf("moved: %+v", got.Exceptions)
		}
		if !regexp.MustCompile(`moved to [A-Za-z]+day, \d\d/\d\d/\d{4}, 18:30`).MatchString(body) {
			t.Error("the page does not say where the date went")
		}
		followFlash("undo", post(base+"/dates/"+d1.String()+"/restore", "en", nil, editor), "The date takes place again.")
		if got, _ := h.ws.Get(ctx, w.ID); len(got.Exceptions) != 2 || got.Exceptions[d1] != (workshops.Exception{}) {
			t.Fatalf("after undo: %+v", got.Exceptions)
		}

		// Wrong entries: a 4xx with the message on the page, at the field
		// when it is one of the move form's, the entries kept, nothing
		// changed.
		moveField := func(field string) string { return "move-" + d3.String() + "-" + field }
		cases := []struct {
			name, action, date, lang string
			vals                     map[string]string
			status                   int
			msg, field               string
		}{
			{"impossible date", "move", d3.String(), "en", map[string]string{"date": "2026-02-30", "start": "10:00"}, 422, "Please enter a valid date like 2026-03-30.", moveField("date")},
			{"date written another way", "move", d3.String(), "de", map[string]string{"date": "30.03.2026", "start": "10:00"}, 422, "Bitte geben Sie ein gültiges Datum wie 2026-03-30 ein.", moveField("date")},
			{"no date", "move", d3.String(), "tr", map[string]string{"date": "", "start": "10:00"}, 422, "2026-03-30", moveField("date")},
			{"impossible time", "move", d3.String(), "ru", map[string]string{"date": d3.String(), "start": "25:00"}, 422, "10:00", moveField("start")},
			{"time written another way", "move", d3.String(), "ar", map[string]string{"date": d3.String(), "start": "6 pm"}, 422, "10:00", moveField("start")},
			{"not a regular date", "move", d3.AddDays(1).String(), "en", map[string]string{"date": d3.String(), "start": "10:00"}, 422, "does not regularly take place", ""},
			{"cancel a date that is not regular", "cancel", d3.AddDays(1).String(), "en", nil, 422, "does not regularly take place", ""},
			{"undo on a date that is not regular", "restore", d3.AddDays(-2).String(), "de", nil, 422, "nicht regulär", ""},
			{"no date in the address", "cancel", "soon", "en", nil, 422, "valid date", ""},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				before := h.stored(t, w.ID)
				rec := post(base+"/dates/"+tc.date+"/"+tc.action, tc.lang, tc.vals, editor)
				body := rec.Body.String()
				if rec.Code != tc.status || !strings.Contains(body, tc.msg) || !strings.Contains(body, `<html lang="`+tc.lang+`"`) {
					t.Fatalf("%d, want %d with %q in %s", rec.Code, tc.status, tc.msg, tc.lang)
				}
				if !strings.Contains(body, `id="error-summary"`) {
					t.Error("no error summary")
				}
				if tc.field != "" {
					for _, want := range []string{
						`<a href="#` + tc.field + `">`, `<p class="field-error" id="` + tc.field + `-error">`,
						`id="` + tc.field + `" name="` + strings.TrimPrefix(tc.field, "move-"+d3.String()+"-") + `" value="` + template.HTMLEscapeString(tc.vals[strings.TrimPrefix(tc.field, "move-"+d3.String()+"-")]) + `"`,
						`aria-describedby="` + tc.field + `-hint ` + tc.field + `-error" aria-invalid="true"`,
						"<details open>",
					} {
						if !strings.Contains(body, want) {
							t.Errorf("page lacks %s", want)
						}
					}
				} else if strings.Contains(body, `aria-invalid="true"`) {
					t.Error("a field is marked although the address was wrong")
				}
				if strings.Count(body, `aria-invalid="true"`) > 1 {
					t.Error("more than one field marked")
				}
				if after := h.stored(t, w.ID); after != before {
					t.Errorf("changed:\n%s\n%s", before, after)
				}
			})
		}
		if rec := post("/manage/workshops/nope/dates/"+d1.String()+"/cancel", "en", nil, editor); rec.Code != http.StatusNotFound || !strings.Contains(rec.Body.String(), "This workshop does not exist.") {
			t.Errorf("unknown workshop: %d", rec.Code)
		}

		// Only editors and admins.
		before := h.stored(t, w.ID)
		for _, action := range []string{"cancel", "move", "restore"} {
			path := base + "/dates/" + d3.String() + "/" + action
			vals := map[string]string{"date": d3.AddDays(1).String(), "start": "12:00"}
			if rec := post(path, "en", vals); rec.Code != http.StatusUnauthorized {
				t.Errorf("anonymous %s: %d", action, rec.Code)
			}
			for name, ck := range map[string]*http.Cookie{"participant": participant, "trainer": trainerCk} {
				if rec := post(path, "en", vals, ck); rec.Code != http.StatusForbidden || !strings.Contains(rec.Body.String(), "not allowed") {
					t.Errorf("%s %s: %d", name, action, rec.Code)
				}
			}
		}
		if after := h.stored(t, w.ID); after != before {
			t.Errorf("refused requests changed the workshop:\n%s\n%s", before, after)
		}
	})
}

// TestDeletedTrainerLeavesWorkshop: a trainer deletes their account
// through the API; their workshop stays on the schedule with no trainer,
// the editor pages say so, and it can be edited and given a new trainer.
func TestDeletedTrainerLeavesWorkshop(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		trainer, trainerCk := h.member(t, "Tina", accounts.RoleTrainer)
		other, _ := h.member(t, "Tom", accounts.RoleTrainer)
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		w, _ := h.weekly(t, trainer.ID)
		kept, _ := h.weekly(t, other.ID)
		en := map[string]string{"Accept-Language": "en"}

		r, hdr := jsonBody(map[string]string{"password": "long enough"})
		if rec := h.do(t, "DELETE", "/api/v1/me", r, hdr, trainerCk); rec.Code != http.StatusNoContent {
			t.Fatalf("delete account: %d %s", rec.Code, rec.Body)
		}
		if _, err := h.accts.Get(ctx, trainer.ID); !errors.Is(err, accounts.ErrNotFound) {
			t.Fatalf("account still there: %v", err)
		}

		rec := h.do(t, "GET", "/api/v1/workshops/"+w.ID, nil, en, editor)
		var got struct{ Workshop workshops.Workshop }
		if err := json.Unmarshal(rec.Body.Bytes(), &got); rec.Code != 200 || err != nil || got.Workshop.ID != w.ID || got.Workshop.TrainerID != "" || got.Workshop.Weekday != w.Weekday {
			t.Fatalf("workshop after the deletion: %d %s", rec.Code, rec.Body)
		}
		if k, _ := h.ws.Get(ctx, kept.ID); k.TrainerID != other.ID {
			t.Fatalf("another trainer's workshop lost its trainer: %+v", k)
		}
		if body := h.do(t, "GET", "/workshops", nil, en).Body.String(); !strings.Contains(body, "Healthy back") {
			t.Error("the workshop left the public schedule")
		}
		list := h.do(t, "GET", "/manage/workshops", nil, en, editor).Body.String()
		if !strings.Contains(list, "<td><strong>No trainer assigned</strong></td>") || !strings.Contains(list, "<td>Tom</td>") {
			t.Fatalf("list does not show the missing trainer:\n%s", list)
		}
		edit := h.do(t, "GET", "/manage/workshops/"+w.ID, nil, en, editor).Body.String()
		for _, want := range []string{
			`<p class="hint" id="trainer_id-note"><strong>No trainer assigned.</strong>`,
			`aria-describedby="trainer_id-note"`, `<option value="" selected>No trainer assigned</option>`,
			`<option value="` + other.ID + `">Tom</option>`,
		} {
			if !strings.Contains(edit, want) {
				t.Errorf("edit page lacks %s", want)
			}
		}
		if strings.Contains(h.do(t, "GET", "/manage/workshops/"+kept.ID, nil, en, editor).Body.String(), "trainer_id-note") {
			t.Error("a workshop with a trainer says it has none")
		}

		// The editor fixes a title without a trainer at hand, then assigns
		// one.
		vals := map[string]string{"title_en": "Healthy back", "title_de": "Rücken fit", "topic": "movement", "language": "de",
			"trainer_id": "", "weekday": strconv.Itoa(int(w.Weekday)), "start": "10:00", "duration": "60", "starts_on": w.StartsOn.String()}
		save := func() *httptest.ResponseRecorder {
			body, hdr := form(vals)
			hdr["Accept-Language"] = "en"
			return h.do(t, "POST", "/manage/workshops/"+w.ID, body, hdr, editor)
		}
		if rec := save(); rec.Code != http.StatusSeeOther {
			t.Fatalf("save without trainer: %d %s", rec.Code, rec.Body)
		}
		if g, _ := h.ws.Get(ctx, w.ID); g.Title["de"] != "Rücken fit" || g.TrainerID != "" {
			t.Fatalf("after save: %+v", g)
		}
		vals["trainer_id"] = other.ID
		if rec := save(); rec.Code != http.StatusSeeOther {
			t.Fatalf("assign a trainer: %d %s", rec.Code, rec.Body)
		}
		if g, _ := h.ws.Get(ctx, w.ID); g.TrainerID != other.ID {
			t.Fatalf("after assigning: %+v", g)
		}
		if body := h.do(t, "GET", "/manage/workshops", nil, en, editor).Body.String(); strings.Contains(body, "No trainer assigned") {
			t.Error("the list still says no trainer")
		}
	})
}
