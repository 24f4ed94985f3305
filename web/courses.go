package web

// The training courses of the multipliers' area (multipliers.go): the
// list of upcoming courses, a course's page with sign-up and cancellation,
// its iCalendar entry, the roster (page and CSV) for the course's trainer,
// editors and admins, and the editors' pages. Times are entered and shown
// in Europe/Berlin.

import (
	"bytes"
	"encoding/csv"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/courses"
	"portalo/internal/slug"
	"portalo/web/i18n"
	"portalo/workshops"
)

const (
	// courseEmptyRows is how many empty date rows the editor form offers
	// beyond the filled ones.
	courseEmptyRows = 3
	// courseMaxRows bounds the date rows read from a form.
	courseMaxRows = courses.MaxSessions + 10
	// flashCourseWaiting is the flash after a sign-up that went onto the
	// waiting list; the course page adds the position.
	flashCourseWaiting = "FlashCourseWaiting"
)

// courseMessages maps the courses package's input error codes (and the
// form's own) to messages.
var courseMessages = map[string]string{
	"title_required":           "CourseErrTitleRequired",
	"title_invalid":            "CourseErrTitleInvalid",
	"title_too_long":           "CourseErrTitleTooLong",
	"description_invalid":      "CourseErrDescriptionInvalid",
	"description_too_long":     "CourseErrDescriptionTooLong",
	"text_language_invalid":    "CourseErrTextLanguage",
	"course_language_invalid":  "CourseErrLanguage",
	"address_required":         "CourseErrAddressRequired",
	"address_invalid":          "CourseErrAddressInvalid",
	"address_too_long":         "CourseErrAddressTooLong",
	"online_url_invalid":       "CourseErrOnlineURL",
	"format_invalid":           "CourseErrFormat",
	"sessions_required":        "CourseErrSessionsRequired",
	"sessions_too_many":        "CourseErrSessionsTooMany",
	"session_invalid":          "CourseErrSessionInvalid",
	"session_end_before_start": "CourseErrSessionEndBeforeStart",
	"session_too_long":         "CourseErrSessionTooLong",
	"sessions_overlap":         "CourseErrSessionsOverlap",
	"seats_invalid":            "CourseErrSeats",
	"seats_below_booked":       "CourseErrSeatsBelowBooked",
	"trainer_invalid":          "CourseErrTrainer",
	"account_invalid":          "CourseErrAccount",
	// The form's own.
	"session_date_invalid": "CourseErrSessionDate",
	"session_time_invalid": "CourseErrSessionTime",
}

// explainCourse turns the courses package's errors into a status and a
// problem in the person's language; other errors go to explain.
func (s *Server) explainCourse(c *gin.Context, err error) (int, problem) {
	l := localizer(c)
	var ie *courses.InputError
	switch {
	case errors.As(err, &ie):
		id, ok := courseMessages[ie.Code]
		if !ok {
			id = "ErrBadRequest"
		}
		lang := ""
		if _, code, ok := strings.Cut(ie.Field, "_"); ok {
			lang = langName(code)
		}
		msg := l.T(id, "Lang", lang, "MaxTitle", courses.MaxTitleLen, "MaxDescription", courses.MaxDescriptionLen,
			"MaxAddress", courses.MaxAddressLen, "MaxLines", courses.MaxAddressLines, "MaxSessions", courses.MaxSessions,
			"MaxHours", int(courses.MaxSessionLength/time.Hour), "Min", courses.MinSeats, "Max", courses.MaxSeats)
		status := http.StatusUnprocessableEntity
		if ie.Code == "seats_below_booked" {
			status = http.StatusConflict
		}
		return status, problem{Field: ie.Field, Code: ie.Code, Message: msg}
	case errors.Is(err, courses.ErrNotFound):
		return http.StatusNotFound, problem{Code: "not_found", Message: l.T("CourseNotFound")}
	case errors.Is(err, courses.ErrClosed):
		return http.StatusConflict, problem{Code: "closed", Message: l.T("CourseErrClosed")}
	case errors.Is(err, courses.ErrFull):
		return http.StatusConflict, problem{Code: "full", Message: l.T("CourseErrFull")}
	}
	return s.explain(c, err)
}

// failCourse answers err on an error page.
func (s *Server) failCourse(c *gin.Context, err error) {
	status, pr := s.explainCourse(c, err)
	p := s.newPage(c, "ErrorPageTitle")
	p.Data = pr.Message
	s.render(c, status, "error", p)
	c.Abort()
}

// What the pages show of a course.

type sessionView struct {
	Day              string
	Start, End       string
	StartISO, EndISO string
	Zone             string
	DateISO          string
}

func newSessionView(l *i18n.Localizer, ss courses.Session) sessionView {
	start, end := ss.Start.In(workshops.Berlin), ss.End.In(workshops.Berlin)
	v := sessionView{
		Day:   weekdayName(l, start.Weekday()) + ", " + dateText(l, start),
		Start: start.Format("15:04"), End: end.Format("15:04"),
		StartISO: start.Format(time.RFC3339), EndISO: end.Format(time.RFC3339),
		DateISO: start.Format("2006-01-02"),
	}
	v.Zone, _ = start.Zone()
	if !sameDay(start, end) {
		v.End = weekdayName(l, end.Weekday()) + ", " + dateText(l, end) + ", " + v.End
	}
	return v
}

func sameDay(a, b time.Time) bool {
	ay, am, ad := a.Date()
	by, bm, bd := b.Date()
	return ay == by && am == bm && ad == bd
}

type courseView struct {
	ID                 string
	Title, Description textIn
	Paragraphs         []string
	Online             bool
	Format             string
	Address            []string
	Sessions           []sessionView
	HeldIn             i18n.Lang
	Seats, Booked      int
	Free, Waiting      int
	Cancelled, Open    bool
	Full               bool
	// SeatsText says how many seats are free, or that the course is full
	// and has a waiting list.
	SeatsText string
	// The viewer's place.
	Status   courses.PlaceStatus
	Position int
}

func newCourseView(l *i18n.Localizer, c courses.Course, r courses.Roster, accountID string, now time.Time) courseView {
	v := courseView{ID: c.ID, Online: c.Format == courses.FormatOnline, Seats: c.Seats, Booked: len(r.Booked),
		Waiting: len(r.Waiting), Cancelled: c.Cancelled, Open: c.SignUpOpen(now)}
	t, tl := c.TitleIn(l.Lang.Code)
	v.Title = pickText(l, t, tl)
	desc, dl := c.DescriptionIn(l.Lang.Code)
	v.Description = pickText(l, desc, dl)
	for _, para := range strings.Split(desc, "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			v.Paragraphs = append(v.Paragraphs, para)
		}
	}
	v.Format = l.T("CourseFormatOnsite")
	if v.Online {
		v.Format = l.T("CourseFormatOnline")
	}
	if c.Address != "" {
		v.Address = strings.Split(c.Address, "\n")
	}
	for _, ss := range c.Sessions {
		v.Sessions = append(v.Sessions, newSessionView(l, ss))
	}
	v.HeldIn, _ = i18n.Lookup(c.Language)
	v.Free = max(c.Seats-len(r.Booked), 0)
	v.Full = v.Free == 0
	if v.Full {
		v.SeatsText = l.N("CourseFullWaiting", len(r.Waiting))
	} else {
		v.SeatsText = l.N("CourseSeatsFree", v.Free, "Seats", c.Seats)
	}
	for _, e := range r.Booked {
		if e.Account == accountID {
			v.Status = courses.StatusBooked
		}
	}
	for i, e := range r.Waiting {
		if e.Account == accountID {
			v.Status, v.Position = courses.StatusWaiting, i+1
		}
	}
	return v
}

// The list.

type courseListData struct {
	Courses []courseView
	CanEdit bool
}

func (s *Server) courseList(c *gin.Context) {
	ctx := c.Request.Context()
	l := localizer(c)
	a := account(c)
	now := time.Now()
	all, err := s.cfg.Courses.List(ctx, courses.ListOptions{From: now})
	if err != nil {
		s.failCourse(c, err)
		return
	}
	d := courseListData{CanEdit: canEditCourses(a)}
	for _, co := range all {
		r, err := s.cfg.Courses.Roster(ctx, co.ID)
		if errors.Is(err, courses.ErrNotFound) {
			continue // deleted meanwhile
		}
		if err != nil {
			s.failCourse(c, err)
			return
		}
		d.Courses = append(d.Courses, newCourseView(l, co, r, a.ID, now))
	}
	p := s.newPage(c, "CourseListTitle")
	p.Data = d
	s.render(c, http.StatusOK, "course_list", p)
}

// The course's page.

type courseDetailData struct {
	Course courseView
	// OnlineURL is set for booked people only.
	OnlineURL          string
	CanEdit, CanRoster bool
}

func (s *Server) courseDetail(c *gin.Context) {
	ctx := c.Request.Context()
	a := account(c)
	// The flash of a sign-up onto the waiting list gets the position.
	waitingFlash := false
	if ck, err := c.Request.Cookie(flashCookie); err == nil && ck.Value == flashCourseWaiting {
		waitingFlash = true
	}
	co, err := s.cfg.Courses.Get(ctx, c.Param("id"))
	if err != nil {
		s.failCourse(c, err)
		return
	}
	r, err := s.cfg.Courses.Roster(ctx, co.ID)
	if err != nil {
		s.failCourse(c, err)
		return
	}
	p := s.newPage(c, "CourseListTitle")
	l := p.L
	d := courseDetailData{Course: newCourseView(l, co, r, a.ID, time.Now()), CanEdit: canEditCourses(a)}
	d.CanRoster = d.CanEdit || co.Trainer == a.ID
	if d.Course.Status == courses.StatusBooked && co.Format == courses.FormatOnline {
		d.OnlineURL = co.OnlineURL
	}
	if waitingFlash && d.Course.Status == courses.StatusWaiting {
		p.Flash = l.T(flashCourseWaiting, "Position", d.Course.Position)
	} else if waitingFlash {
		p.Flash = "" // moved up or left meanwhile: the status says it
	}
	p.Title = d.Course.Title.Text
	p.Data = d
	s.render(c, http.StatusOK, "course_detail", p)
}

func (s *Server) courseSignUp(c *gin.Context) {
	id := c.Param("id")
	place, err := s.cfg.Courses.SignUp(c.Request.Context(), id, account(c).ID)
	if err != nil {
		s.failCourse(c, err)
		return
	}
	flash := "FlashCourseBooked"
	if place.Status == courses.StatusWaiting {
		flash = flashCourseWaiting
	}
	s.flashAndRedirect(c, flash, "/multipliers/courses/"+id+"#status")
}

func (s *Server) courseCancelSignUp(c *gin.Context) {
	id := c.Param("id")
	if _, err := s.cfg.Courses.CancelSignUp(c.Request.Context(), id, account(c).ID); err != nil {
		s.failCourse(c, err)
		return
	}
	s.flashAndRedirect(c, "FlashCourseSignUpCancelled", "/multipliers/courses/"+id+"#status")
}

// courseICS serves the course's dates as an iCalendar entry in the page's
// language.
func (s *Server) courseICS(c *gin.Context) {
	co, err := s.cfg.Courses.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failCourse(c, err)
		return
	}
	lang := localizer(c).Lang.Code
	body := courses.ICS(co, lang, s.baseURL(c.Request)+"/multipliers/courses/"+co.ID)
	c.Header("Cache-Control", "private, no-cache")
	c.Header("Content-Language", lang)
	c.Header("Content-Disposition", `inline; filename="`+courseFileName(co)+`.ics"`)
	c.Data(http.StatusOK, "text/calendar; charset=utf-8", body)
}

// courseFileName is an ASCII name for the course's files: the slug of
// its German (or other) title.
func courseFileName(co courses.Course) string {
	if name := (slug.Maker{Max: 60}).FromTitles(co.Title); name != "" {
		return name
	}
	return "course-" + co.ID
}

// The roster.

type rosterRow struct {
	Status           string
	Position         int
	Pseudonym, Email string
	Since, SinceISO  string
	Gone             bool
}

type rosterData struct {
	Course courseView
	// Lists are the booked and the waiting, each shown as a table.
	Lists []rosterList
	CSV   string
}

// rosterList is one table of the roster page.
type rosterList struct {
	ID, Heading string // the heading's id and message
	Rows        []rosterRow
}

// rosterCourse returns the course whose roster the person asks for, if
// they may see it: its trainer, editors and admins. Otherwise it has
// answered.
func (s *Server) rosterCourse(c *gin.Context) (courses.Course, bool) {
	a := account(c)
	if a == nil || !inArea(a) && !a.Has(accounts.RoleTrainer) {
		s.refuse(c)
		return courses.Course{}, false
	}
	co, err := s.cfg.Courses.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failCourse(c, err)
		return courses.Course{}, false
	}
	if !canEditCourses(a) && co.Trainer != a.ID {
		if !inArea(a) {
			s.refuse(c)
		} else {
			s.fail(c, http.StatusForbidden, "forbidden", "ErrForbidden")
		}
		return courses.Course{}, false
	}
	return co, true
}

func (s *Server) rosterRows(c *gin.Context, r courses.Roster) (booked, waiting []rosterRow, err error) {
	l := localizer(c)
	row := func(e courses.Entry, status string, pos int) (rosterRow, error) {
		since := e.Since.In(workshops.Berlin)
		rr := rosterRow{Status: status, Position: pos, Since: dateText(l, since) + " " + since.Format("15:04"), SinceISO: since.Format(time.RFC3339)}
		a, err := s.cfg.Accounts.Get(c.Request.Context(), e.Account)
		switch {
		case errors.Is(err, accounts.ErrNotFound):
			rr.Pseudonym, rr.Gone = l.T("CourseRosterGone"), true
		case err != nil:
			return rr, err
		default:
			rr.Pseudonym, rr.Email = a.Pseudonym, a.Email
		}
		return rr, nil
	}
	bookedLabel, waitingLabel := l.T("CourseRosterBooked"), l.T("CourseRosterWaiting")
	for i, e := range r.Booked {
		rr, err := row(e, bookedLabel, i+1)
		if err != nil {
			return nil, nil, err
		}
		booked = append(booked, rr)
	}
	for i, e := range r.Waiting {
		rr, err := row(e, waitingLabel, i+1)
		if err != nil {
			return nil, nil, err
		}
		waiting = append(waiting, rr)
	}
	return booked, waiting, nil
}

func (s *Server) courseRoster(c *gin.Context) {
	co, ok := s.rosterCourse(c)
	if !ok {
		return
	}
	r, err := s.cfg.Courses.Roster(c.Request.Context(), co.ID)
	if err != nil {
		s.failCourse(c, err)
		return
	}
	p := s.newPage(c, "CourseRosterTitle")
	d := rosterData{Course: newCourseView(p.L, co, r, "", time.Now()), CSV: "/multipliers/courses/" + co.ID + "/roster.csv"}
	booked, waiting, err := s.rosterRows(c, r)
	if err != nil {
		s.failCourse(c, err)
		return
	}
	d.Lists = []rosterList{{"booked", "CourseRosterBooked", booked}, {"waiting", "CourseRosterWaiting", waiting}}
	p.Data = d
	s.render(c, http.StatusOK, "course_roster", p)
}

// csvCell keeps a spreadsheet from reading a cell as a formula (CSV
// injection): cells that begin with one of = + - @ (or a tab or carriage
// return) get a leading apostrophe.
func csvCell(v string) string {
	if v != "" && strings.ContainsRune("=+-@\t\r", rune(v[0])) {
		return "'" + v
	}
	return v
}

// courseRosterCSV sends the roster as a CSV file for spreadsheets: UTF-8
// with a byte order mark, RFC 4180 quoting, a header row.
func (s *Server) courseRosterCSV(c *gin.Context) {
	co, ok := s.rosterCourse(c)
	if !ok {
		return
	}
	l := localizer(c)
	r, err := s.cfg.Courses.Roster(c.Request.Context(), co.ID)
	if err != nil {
		s.failCourse(c, err)
		return
	}
	booked, waiting, err := s.rosterRows(c, r)
	if err != nil {
		s.failCourse(c, err)
		return
	}
	var buf bytes.Buffer
	buf.WriteString("\ufeff")
	w := csv.NewWriter(&buf)
	w.UseCRLF = true
	records := [][]string{{l.T("CourseColStatus"), l.T("CourseColPosition"), l.T("CourseColPseudonym"), l.T("CourseColEmail"), l.T("CourseColSince")}}
	for _, rr := range append(booked, waiting...) {
		records = append(records, []string{rr.Status, strconv.Itoa(rr.Position), rr.Pseudonym, rr.Email, rr.Since})
	}
	for _, rec := range records {
		for i := range rec {
			rec[i] = csvCell(rec[i])
		}
		if err := w.Write(rec); err != nil {
			s.failCourse(c, err)
			return
		}
	}
	w.Flush()
	if err := w.Error(); err != nil {
		s.failCourse(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Disposition", `attachment; filename="`+courseFileName(co)+`.csv"`)
	c.Data(http.StatusOK, "text/csv; charset=utf-8", buf.Bytes())
}

// The editor's pages.

type sessionRow struct {
	Index                     int
	DateID, StartID, EndID    string
	Date, Start, End          string
	DateErr, StartErr, EndErr *problem
}

type courseEditData struct {
	ID                                                string
	Texts                                             []option
	Languages                                         []option
	Trainers                                          []option
	Rows                                              []sessionRow
	Online                                            bool
	Cancelled                                         bool
	MaxTitle, MaxDesc, MaxAddress, MinSeats, MaxSeats int
}

func formFromCourse(p *page, co courses.Course) {
	for _, lg := range courses.Languages {
		p.Form["title_"+lg] = co.Title[lg]
		p.Form["description_"+lg] = co.Description[lg]
	}
	p.Form["format"] = string(co.Format)
	p.Form["address"] = co.Address
	p.Form["online_url"] = co.OnlineURL
	p.Form["seats"] = strconv.Itoa(co.Seats)
	p.Form["language"] = co.Language
	p.Form["trainer"] = co.Trainer
	for i, ss := range co.Sessions {
		start, end := ss.Start.In(workshops.Berlin), ss.End.In(workshops.Berlin)
		p.Form[rowField(i, "date")] = start.Format("2006-01-02")
		p.Form[rowField(i, "start")] = start.Format("15:04")
		p.Form[rowField(i, "end")] = end.Format("15:04")
	}
}

func rowField(i int, part string) string { return "session_" + strconv.Itoa(i) + "_" + part }

// courseForm fills the editor form's choices and rows from p.Form.
func (s *Server) courseForm(c *gin.Context, p *page, id string, cancelled bool) bool {
	_, trainers, err := s.trainerNames(c.Request.Context())
	if err != nil {
		s.failCourse(c, err)
		return false
	}
	d := courseEditData{ID: id, Online: p.Form["format"] == string(courses.FormatOnline), Cancelled: cancelled,
		MaxTitle: courses.MaxTitleLen, MaxDesc: courses.MaxDescriptionLen, MaxAddress: courses.MaxAddressLen,
		MinSeats: courses.MinSeats, MaxSeats: courses.MaxSeats}
	for _, code := range courses.Languages {
		lg, _ := i18n.Lookup(code)
		d.Texts = append(d.Texts, option{Value: lg.Code, Label: lg.Name, Lang: lg.Code})
		d.Languages = append(d.Languages, option{Value: lg.Code, Label: lg.Name, Lang: lg.Code, Selected: p.Form["language"] == lg.Code})
	}
	d.Trainers = append(d.Trainers, option{Value: "", Label: p.L.T("CourseNoTrainer"), Selected: p.Form["trainer"] == ""})
	for _, a := range trainers {
		d.Trainers = append(d.Trainers, option{Value: a.ID, Label: a.Pseudonym, Selected: p.Form["trainer"] == a.ID})
	}
	last := -1
	for i := 0; i < courseMaxRows; i++ {
		if p.Form[rowField(i, "date")] != "" || p.Form[rowField(i, "start")] != "" || p.Form[rowField(i, "end")] != "" {
			last = i
		}
	}
	n := min(max(last+1+courseEmptyRows, courseEmptyRows), courseMaxRows)
	for i := 0; i < n; i++ {
		r := sessionRow{Index: i + 1, DateID: rowField(i, "date"), StartID: rowField(i, "start"), EndID: rowField(i, "end")}
		r.Date, r.Start, r.End = p.Form[r.DateID], p.Form[r.StartID], p.Form[r.EndID]
		r.DateErr, r.StartErr, r.EndErr = p.FieldError[r.DateID], p.FieldError[r.StartID], p.FieldError[r.EndID]
		d.Rows = append(d.Rows, r)
	}
	p.Data = d
	return true
}

func (s *Server) courseNewPage(c *gin.Context) {
	p := s.newPage(c, "CourseNewTitle")
	p.Form["format"], p.Form["language"], p.Form["seats"] = string(courses.FormatOnsite), "de", "12"
	if s.courseForm(c, p, "", false) {
		s.render(c, http.StatusOK, "course_edit", p)
	}
}

func (s *Server) courseEditPage(c *gin.Context) {
	co, err := s.cfg.Courses.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failCourse(c, err)
		return
	}
	p := s.newPage(c, "CourseEditTitle")
	formFromCourse(p, co)
	if s.courseForm(c, p, co.ID, co.Cancelled) {
		s.render(c, http.StatusOK, "course_edit", p)
	}
}

func (s *Server) courseCreate(c *gin.Context) { s.courseSubmit(c, "") }
func (s *Server) courseSave(c *gin.Context)   { s.courseSubmit(c, c.Param("id")) }

// courseFromForm reads the editor form into p.Form and a CourseMeta. The
// rows of dates map the index of each session in the CourseMeta to its
// row on the form.
func courseFromForm(c *gin.Context, p *page) (courses.CourseMeta, []int, error) {
	m := courses.CourseMeta{Title: map[string]string{}, Description: map[string]string{}}
	for _, lg := range courses.Languages {
		// Descriptions may be longer than other fields; the body limit
		// bounds them and the domain checks their length.
		p.Form["title_"+lg] = formValue(c, "title_"+lg)
		p.Form["description_"+lg] = c.PostForm("description_" + lg)
		m.Title[lg], m.Description[lg] = p.Form["title_"+lg], p.Form["description_"+lg]
	}
	for _, f := range []string{"format", "address", "online_url", "seats", "language", "trainer"} {
		p.Form[f] = formValue(c, f)
	}
	m.Format, m.Address, m.OnlineURL = courses.Format(p.Form["format"]), p.Form["address"], p.Form["online_url"]
	m.Language, m.Trainer = p.Form["language"], p.Form["trainer"]
	var rows []int
	var firstErr error
	for i := 0; i < courseMaxRows; i++ {
		date, start, end := strings.TrimSpace(formValue(c, rowField(i, "date"))), strings.TrimSpace(formValue(c, rowField(i, "start"))), strings.TrimSpace(formValue(c, rowField(i, "end")))
		p.Form[rowField(i, "date")], p.Form[rowField(i, "start")], p.Form[rowField(i, "end")] = date, start, end
		if date == "" && start == "" && end == "" {
			continue
		}
		if firstErr != nil {
			continue
		}
		d, err := workshops.ParseDate(date)
		if err != nil {
			firstErr = &courses.InputError{Field: rowField(i, "date"), Code: "session_date_invalid"}
			continue
		}
		st, err := workshops.ParseTimeOfDay(start)
		if err != nil {
			firstErr = &courses.InputError{Field: rowField(i, "start"), Code: "session_time_invalid"}
			continue
		}
		en, err := workshops.ParseTimeOfDay(end)
		if err != nil {
			firstErr = &courses.InputError{Field: rowField(i, "end"), Code: "session_time_invalid"}
			continue
		}
		m.Sessions = append(m.Sessions, courses.Session{
			Start: time.Date(d.Year, d.Month, d.Day, st.Hour, st.Minute, 0, 0, workshops.Berlin),
			End:   time.Date(d.Year, d.Month, d.Day, en.Hour, en.Minute, 0, 0, workshops.Berlin),
		})
		rows = append(rows, i)
	}
	if firstErr != nil {
		return m, rows, firstErr
	}
	seats, err := strconv.Atoi(strings.TrimSpace(p.Form["seats"]))
	if err != nil {
		return m, rows, &courses.InputError{Field: "seats", Code: "seats_invalid"}
	}
	m.Seats = seats
	return m, rows, nil
}

// courseSubmit creates (id == "") or updates a course from the editor form
// and shows the form again, with the entries kept and the problem at its
// field, when something is wrong.
func (s *Server) courseSubmit(c *gin.Context, id string) {
	if !s.parseForm(c) {
		return
	}
	titleID := "CourseNewTitle"
	cancelled := false
	if id != "" {
		titleID = "CourseEditTitle"
		co, err := s.cfg.Courses.Get(c.Request.Context(), id)
		if err != nil {
			s.failCourse(c, err)
			return
		}
		cancelled = co.Cancelled
	}
	p := s.newPage(c, titleID)
	m, rows, err := courseFromForm(c, p)
	var saved courses.Course
	if err == nil && id == "" {
		saved, err = s.cfg.Courses.Create(c.Request.Context(), m)
	} else if err == nil {
		saved, err = s.cfg.Courses.Update(c.Request.Context(), id, m)
	}
	if err != nil {
		status, pr := s.explainCourse(c, err)
		if status >= 500 || status == http.StatusNotFound {
			s.failCourse(c, err)
			return
		}
		// A session's problem goes to the date of its row.
		if n, ok := strings.CutPrefix(pr.Field, "session_"); ok {
			if i, convErr := strconv.Atoi(n); convErr == nil && i >= 0 && i < len(rows) {
				pr.Field = rowField(rows[i], "date")
			}
		}
		if pr.Field == "text_language" {
			pr.Field = ""
		}
		p.addProblem(pr)
		if s.courseForm(c, p, id, cancelled) {
			s.render(c, status, "course_edit", p)
		}
		return
	}
	s.flashAndRedirect(c, "FlashCourseSaved", "/multipliers/courses/"+saved.ID)
}

func (s *Server) courseCancelCourse(c *gin.Context) {
	co, err := s.cfg.Courses.Cancel(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failCourse(c, err)
		return
	}
	s.flashAndRedirect(c, "FlashCourseCancelled", "/multipliers/courses/"+co.ID)
}

type courseDeleteData struct {
	Course courseView
	// People is how many are booked or waiting.
	People int
}

func (s *Server) renderCourseDelete(c *gin.Context, status int, p *page) {
	co, err := s.cfg.Courses.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failCourse(c, err)
		return
	}
	r, err := s.cfg.Courses.Roster(c.Request.Context(), co.ID)
	if err != nil {
		s.failCourse(c, err)
		return
	}
	p.Data = courseDeleteData{Course: newCourseView(p.L, co, r, "", time.Now()), People: len(r.Booked) + len(r.Waiting)}
	s.render(c, status, "course_delete", p)
}

func (s *Server) courseDeletePage(c *gin.Context) {
	s.renderCourseDelete(c, http.StatusOK, s.newPage(c, "CourseDeleteTitle"))
}

// courseDelete deletes the course once the confirmation box is ticked;
// otherwise it shows the confirmation again.
func (s *Server) courseDelete(c *gin.Context) {
	if !s.parseForm(c) {
		return
	}
	if formValue(c, "confirm") == "" {
		p := s.newPage(c, "CourseDeleteTitle")
		p.addProblem(problem{Field: "confirm", Code: "confirm_required", Message: p.L.T("CourseDeleteConfirmRequired")})
		s.renderCourseDelete(c, http.StatusUnprocessableEntity, p)
		return
	}
	if err := s.cfg.Courses.Delete(c.Request.Context(), c.Param("id")); err != nil {
		s.failCourse(c, err)
		return
	}
	s.flashAndRedirect(c, "FlashCourseDeleted", "/multipliers/courses")
}
