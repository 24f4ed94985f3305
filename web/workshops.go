package web

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/web/i18n"
	"portalo/workshops"
)

// Workshops is what the web layer needs of the workshops service.
type Workshops interface {
	Create(ctx context.Context, w workshops.Workshop) (workshops.Workshop, error)
	Update(ctx context.Context, w workshops.Workshop) (workshops.Workshop, error)
	Delete(ctx context.Context, id string) error
	Get(ctx context.Context, id string) (workshops.Workshop, error)
	List(ctx context.Context) ([]workshops.Workshop, error)
	CancelDate(ctx context.Context, id string, d workshops.Date) (workshops.Workshop, error)
	MoveDate(ctx context.Context, id string, d workshops.Date, to workshops.Move) (workshops.Workshop, error)
	RestoreDate(ctx context.Context, id string, d workshops.Date) (workshops.Workshop, error)
	Occurrences(ctx context.Context, from, to time.Time, f workshops.Filter) ([]workshops.Occurrence, error)
	EndRoom(ctx context.Context, workshopID string, now time.Time) (workshops.Occurrence, error)
	ExtendRoom(ctx context.Context, workshopID string, now time.Time) (workshops.Occurrence, error)
}

func (s *Server) workshopRoutes(e *gin.Engine) {
	e.GET("/workshops", s.schedulePage)
	e.GET("/workshops.ics", s.workshopFeed)
	e.HEAD("/workshops.ics", s.workshopFeed)

	manage := e.Group("/manage/workshops", s.requireLogin, s.requireWorkshopEditor)
	manage.GET("", s.workshopListPage)
	manage.POST("", s.workshopCreate)
	manage.GET("/new", s.workshopNewPage)
	manage.GET("/:id", s.workshopEditPage)
	manage.POST("/:id", s.workshopSave)
	manage.POST("/:id/delete", s.workshopDeletePage)
	manage.POST("/:id/dates/:date/cancel", s.workshopDatePage("cancel", "FlashWorkshopDateCancelled"))
	manage.POST("/:id/dates/:date/move", s.workshopDatePage("move", "FlashWorkshopDateMoved"))
	manage.POST("/:id/dates/:date/restore", s.workshopDatePage("restore", "FlashWorkshopDateRestored"))

	api := e.Group("/api/v1/workshops", s.requireLogin)
	ed := api.Group("", s.requireWorkshopEditor)
	ed.GET("", s.apiListWorkshops)
	ed.POST("", s.apiCreateWorkshop)
	ed.GET("/:id", s.apiGetWorkshop)
	ed.PUT("/:id", s.apiUpdateWorkshop)
	ed.DELETE("/:id", s.apiDeleteWorkshop)
	ed.POST("/:id/dates/:date/:action", s.apiWorkshopDate)
	api.POST("/:id/room/:action", s.apiWorkshopRoom)
}

// canEditWorkshops: editors and admins plan the workshops.
func canEditWorkshops(a *accounts.Account) bool {
	return a != nil && (a.Has(accounts.RoleEditor) || a.Has(accounts.RoleAdmin))
}

func (s *Server) requireWorkshopEditor(c *gin.Context) {
	if !canEditWorkshops(account(c)) {
		s.fail(c, http.StatusForbidden, "forbidden", "ErrForbidden")
		return
	}
	c.Next()
}

// workshopMessages maps the workshops package's input error codes to
// messages.
var workshopMessages = map[string]string{
	"title_required":            "ErrWorkshopTitleRequired",
	"title_too_long":            "ErrWorkshopTitleTooLong",
	"title_invalid":             "ErrWorkshopTitleInvalid",
	"description_too_long":      "ErrWorkshopDescriptionTooLong",
	"description_invalid":       "ErrWorkshopDescriptionInvalid",
	"text_language_invalid":     "ErrWorkshopTextLanguage",
	"topic_invalid":             "ErrWorkshopTopic",
	"workshop_language_invalid": "ErrWorkshopLanguage",
	"weekday_invalid":           "ErrWorkshopWeekday",
	"start_invalid":             "ErrWorkshopStart",
	"duration_invalid":          "ErrWorkshopDuration",
	"starts_on_required":        "ErrWorkshopStartsOn",
	"date_invalid":              "ErrWorkshopDate",
	"until_before_start":        "ErrWorkshopUntil",
	"trainer_required":          "ErrWorkshopTrainerRequired",
	"trainer_invalid":           "ErrWorkshopTrainerInvalid",
	"date_not_scheduled":        "ErrWorkshopDateNotScheduled",
	"extension_limit":           "ErrWorkshopExtensionLimit",
}

// explainWorkshop turns the workshops package's errors into a status and a
// problem; ok is false for any other error. explain calls it.
func explainWorkshop(l *i18n.Localizer, err error) (status int, pr problem, ok bool) {
	var ie *workshops.InputError
	switch {
	case errors.As(err, &ie):
		id, ok := workshopMessages[ie.Code]
		if !ok {
			id = "ErrBadRequest"
		}
		msg := l.T(id,
			"MaxTitle", workshops.MaxTitleLen, "MaxDescription", workshops.MaxDescriptionLen,
			"Min", workshops.MinDuration, "Max", workshops.MaxDuration,
			"MaxExtension", int(workshops.MaxExtension/time.Minute))
		status := http.StatusUnprocessableEntity
		if ie.Code == "extension_limit" {
			status = http.StatusConflict
		}
		return status, problem{Field: ie.Field, Code: ie.Code, Message: msg}, true
	case errors.Is(err, workshops.ErrNotFound):
		return http.StatusNotFound, problem{Code: "not_found", Message: l.T("ErrWorkshopNotFound")}, true
	case errors.Is(err, workshops.ErrRoomNotOpen):
		return http.StatusConflict, problem{Code: "room_not_open", Message: l.T("ErrWorkshopRoomNotOpen")}, true
	}
	return 0, problem{}, false
}

// topicLabels are the message IDs of the topics' names.
var topicLabels = map[workshops.Topic]string{
	workshops.TopicMovement:   "WorkshopTopicMovement",
	workshops.TopicRelaxation: "WorkshopTopicRelaxation",
	workshops.TopicNutrition:  "WorkshopTopicNutrition",
}

func topicLabel(l *i18n.Localizer, t workshops.Topic) string {
	if id, ok := topicLabels[t]; ok {
		return l.T(id)
	}
	return string(t)
}

func weekdayName(l *i18n.Localizer, d time.Weekday) string {
	return l.T("WorkshopWeekday" + strconv.Itoa(int(d)))
}

// dateText writes a date the way the language usually does.
func dateText(l *i18n.Localizer, t time.Time) string {
	switch l.Lang.Code {
	case "en", "ar":
		return t.Format("02/01/2006")
	}
	return t.Format("02.01.2006")
}

type option struct {
	Value, Label, Lang string
	Selected           bool
}

type scheduleItem struct {
	ID, Title, TitleLang   string
	Description, DescLang  string
	Topic                  string
	HeldIn                 i18n.Lang
	Start, End             time.Time
	StartText, EndText     string
	Zone                   string
	Cancelled, Moved, Join bool
	MovedFrom              string
}

type scheduleDay struct {
	Date  time.Time
	Label string
	Items []scheduleItem
}

type scheduleWeek struct {
	ID, Title string
	Count     int
	Days      []scheduleDay
}

type scheduleData struct {
	Topics, Languages []option
	Weeks             []scheduleWeek
	FeedURL           string
	CanEdit           bool
}

// schedulePage shows this week's and next week's workshops (Berlin time),
// filtered by topic and language with a plain GET form.
func (s *Server) schedulePage(c *gin.Context) {
	l := localizer(c)
	f := workshops.Filter{Topic: workshops.Topic(c.Query("topic")), Language: c.Query("language")}
	if !workshops.ValidTopic(f.Topic) {
		f.Topic = ""
	}
	if !workshops.ValidLanguage(f.Language) {
		f.Language = ""
	}
	now := time.Now()
	today := workshops.DateOf(now.In(workshops.Berlin))
	monday := today.AddDays(-((int(today.Weekday()) + 6) % 7))
	at := func(d workshops.Date) time.Time {
		return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, workshops.Berlin)
	}
	occs, err := s.cfg.Workshops.Occurrences(c.Request.Context(), at(monday), at(monday.AddDays(14)), f)
	if err != nil {
		s.failWith(c, err)
		return
	}
	d := scheduleData{FeedURL: "/workshops.ics?lang=" + l.Lang.Code, CanEdit: canEditWorkshops(account(c))}
	d.Topics = append(d.Topics, option{Value: "", Label: l.T("WorkshopsFilterAll")})
	for _, t := range workshops.Topics {
		d.Topics = append(d.Topics, option{Value: string(t), Label: topicLabel(l, t), Selected: t == f.Topic})
	}
	d.Languages = append(d.Languages, option{Value: "", Label: l.T("WorkshopsFilterAll")})
	for _, lg := range i18n.Languages {
		d.Languages = append(d.Languages, option{Value: lg.Code, Label: lg.Name, Lang: lg.Code, Selected: lg.Code == f.Language})
	}
	d.Weeks = []scheduleWeek{{ID: "this-week", Title: l.T("WorkshopsThisWeek")}, {ID: "next-week", Title: l.T("WorkshopsNextWeek")}}
	for _, o := range occs {
		start := o.Start.In(workshops.Berlin)
		wk := 0
		if !start.Before(at(monday.AddDays(7))) {
			wk = 1
		}
		if start.Before(at(monday)) {
			continue // began last week, still running on Monday
		}
		item := scheduleItem{
			ID: o.Workshop.ID, Topic: topicLabel(l, o.Workshop.Topic),
			Start: start, End: o.End.In(workshops.Berlin),
			StartText: start.Format("15:04"), EndText: o.End.In(workshops.Berlin).Format("15:04"),
			Cancelled: o.Cancelled, Moved: o.Moved,
			Join: !o.Cancelled && workshops.RoomWindow(o).Contains(now),
		}
		item.Zone, _ = start.Zone()
		item.Title, item.TitleLang = o.Workshop.TitleIn(l.Lang.Code)
		item.Description, item.DescLang = o.Workshop.DescriptionIn(l.Lang.Code)
		item.HeldIn, _ = i18n.Lookup(o.Workshop.Language)
		if o.Moved {
			item.MovedFrom = whenText(l, o.Date, o.Workshop.Start)
		}
		w := &d.Weeks[wk]
		w.Count++
		day := workshops.DateOf(start)
		if n := len(w.Days); n == 0 || workshops.DateOf(w.Days[n-1].Date) != day {
			w.Days = append(w.Days, scheduleDay{Date: at(day), Label: weekdayName(l, start.Weekday()) + ", " + dateText(l, start)})
		}
		w.Days[len(w.Days)-1].Items = append(w.Days[len(w.Days)-1].Items, item)
	}
	p := s.newPage(c, "WorkshopsTitle")
	p.Data = d
	s.render(c, http.StatusOK, "schedule", p)
}

// baseURL is the address of this site as the request reached it.
func (s *Server) baseURL(r *http.Request) string {
	if s.cfg.PublicURL != "" {
		return s.cfg.PublicURL
	}
	scheme := "http"
	if s.secure(r) {
		scheme = "https"
	}
	return scheme + "://" + r.Host
}

// workshopFeed serves all workshops as an iCalendar feed, in the language
// of ?lang= (else the page language), with an ETag so that calendar apps
// polling it get a 304 while nothing changed.
func (s *Server) workshopFeed(c *gin.Context) {
	lang := localizer(c).Lang.Code
	if l, ok := i18n.Lookup(c.Query("lang")); ok {
		lang = l.Code
	}
	all, err := s.cfg.Workshops.List(c.Request.Context())
	if err != nil {
		s.failWith(c, err)
		return
	}
	body := workshops.ICS(all, lang, s.baseURL(c.Request))
	sum := sha256.Sum256(body)
	etag := `"` + hex.EncodeToString(sum[:16]) + `"`
	c.Header("ETag", etag)
	c.Header("Cache-Control", "no-cache")
	c.Header("Content-Language", lang)
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Header("Content-Disposition", `inline; filename="portalo-workshops.ics"`)
	c.Data(http.StatusOK, "text/calendar; charset=utf-8", body)
}

// etagMatches reads an If-None-Match header (a list, weak tags allowed).
func etagMatches(header, etag string) bool {
	for _, t := range strings.Split(header, ",") {
		t = strings.TrimPrefix(strings.TrimSpace(t), "W/")
		if t == etag || t == "*" {
			return true
		}
	}
	return false
}

// workshopRequest is a workshop as the API receives it.
type workshopRequest struct {
	Title       map[string]string `json:"title"`
	Description map[string]string `json:"description"`
	Topic       string            `json:"topic"`
	Language    string            `json:"language"`
	TrainerID   string            `json:"trainer_id"`
	Weekday     *int              `json:"weekday"`
	Start       string            `json:"start"`
	Duration    int               `json:"duration_minutes"`
	StartsOn    string            `json:"starts_on"`
	Until       string            `json:"until"`
}

// workshopFrom turns what was entered into a Workshop, or an InputError
// for a field that cannot be read.
func workshopFrom(r workshopRequest) (workshops.Workshop, error) {
	w := workshops.Workshop{
		Title: r.Title, Description: r.Description, Topic: workshops.Topic(r.Topic),
		Language: r.Language, TrainerID: r.TrainerID, Duration: r.Duration,
	}
	if r.Weekday == nil || *r.Weekday < 0 || *r.Weekday > 6 {
		return w, &workshops.InputError{Field: "weekday", Code: "weekday_invalid"}
	}
	w.Weekday = time.Weekday(*r.Weekday)
	var err error
	if w.Start, err = workshops.ParseTimeOfDay(strings.TrimSpace(r.Start)); err != nil {
		return w, &workshops.InputError{Field: "start", Code: "start_invalid"}
	}
	if strings.TrimSpace(r.StartsOn) == "" {
		return w, &workshops.InputError{Field: "starts_on", Code: "starts_on_required"}
	}
	if w.StartsOn, err = workshops.ParseDate(strings.TrimSpace(r.StartsOn)); err != nil {
		return w, &workshops.InputError{Field: "starts_on", Code: "date_invalid"}
	}
	if u := strings.TrimSpace(r.Until); u != "" {
		if w.Until, err = workshops.ParseDate(u); err != nil {
			return w, &workshops.InputError{Field: "until", Code: "date_invalid"}
		}
	}
	return w, nil
}

func (s *Server) apiListWorkshops(c *gin.Context) {
	all, err := s.cfg.Workshops.List(c.Request.Context())
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"workshops": all})
}

func (s *Server) apiGetWorkshop(c *gin.Context) {
	w, err := s.cfg.Workshops.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"workshop": w})
}

func (s *Server) apiCreateWorkshop(c *gin.Context) {
	s.apiSaveWorkshop(c, "")
}

func (s *Server) apiUpdateWorkshop(c *gin.Context) {
	s.apiSaveWorkshop(c, c.Param("id"))
}

func (s *Server) apiSaveWorkshop(c *gin.Context, id string) {
	var req workshopRequest
	if !s.decodeJSON(c, &req) {
		return
	}
	w, err := workshopFrom(req)
	status := http.StatusOK
	if err == nil && id == "" {
		w, err = s.cfg.Workshops.Create(c.Request.Context(), w)
		status = http.StatusCreated
	} else if err == nil {
		w.ID = id
		w, err = s.cfg.Workshops.Update(c.Request.Context(), w)
	}
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	if status == http.StatusCreated {
		c.Header("Location", "/api/v1/workshops/"+w.ID)
	}
	c.JSON(status, gin.H{"workshop": w})
}

func (s *Server) apiDeleteWorkshop(c *gin.Context) {
	if err := s.cfg.Workshops.Delete(c.Request.Context(), c.Param("id")); err != nil {
		s.apiError(c, err)
		return
	}
	c.Status(http.StatusNoContent)
}

// moveRequest is where a date moves to, as the API receives it.
type moveRequest struct {
	Date     string `json:"date"`
	Start    string `json:"start"`
	Duration int    `json:"duration_minutes"`
}

// changeDate cancels, restores or moves (with to) one date of a workshop.
func (s *Server) changeDate(ctx context.Context, id, dateParam, action string, to *moveRequest) (workshops.Workshop, error) {
	d, err := workshops.ParseDate(dateParam)
	if err != nil {
		return workshops.Workshop{}, &workshops.InputError{Field: "date", Code: "date_invalid"}
	}
	switch action {
	case "cancel":
		return s.cfg.Workshops.CancelDate(ctx, id, d)
	case "restore":
		return s.cfg.Workshops.RestoreDate(ctx, id, d)
	case "move":
		m := workshops.Move{Duration: to.Duration}
		if m.Date, err = workshops.ParseDate(strings.TrimSpace(to.Date)); err != nil {
			return workshops.Workshop{}, &workshops.InputError{Field: "date", Code: "date_invalid"}
		}
		if m.Start, err = workshops.ParseTimeOfDay(strings.TrimSpace(to.Start)); err != nil {
			return workshops.Workshop{}, &workshops.InputError{Field: "start", Code: "start_invalid"}
		}
		return s.cfg.Workshops.MoveDate(ctx, id, d, m)
	}
	return workshops.Workshop{}, errUnknownAction
}

var errUnknownAction = errors.New("web: unknown action")

func (s *Server) apiWorkshopDate(c *gin.Context) {
	action := c.Param("action")
	var to moveRequest
	if action == "move" && !s.decodeJSON(c, &to) {
		return
	}
	w, err := s.changeDate(c.Request.Context(), c.Param("id"), c.Param("date"), action, &to)
	if errors.Is(err, errUnknownAction) {
		s.fail(c, http.StatusNotFound, "not_found", "ErrNotFound")
		return
	}
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"workshop": w})
}

// apiWorkshopRoom ends or extends the open room of a workshop: its trainer,
// editors and admins may.
func (s *Server) apiWorkshopRoom(c *gin.Context) {
	a := account(c)
	w, err := s.cfg.Workshops.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	if a.ID != w.TrainerID && !canEditWorkshops(a) {
		s.fail(c, http.StatusForbidden, "forbidden", "ErrForbidden")
		return
	}
	var occ workshops.Occurrence
	switch c.Param("action") {
	case "end":
		occ, err = s.cfg.Workshops.EndRoom(c.Request.Context(), w.ID, time.Now())
	case "extend":
		occ, err = s.cfg.Workshops.ExtendRoom(c.Request.Context(), w.ID, time.Now())
	default:
		s.fail(c, http.StatusNotFound, "not_found", "ErrNotFound")
		return
	}
	if err != nil {
		s.apiError(c, err)
		return
	}
	win := workshops.RoomWindow(occ)
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"room": gin.H{
		"workshop_id": w.ID, "date": occ.Date, "opens_at": win.Opens.UTC(), "closes_at": win.Closes.UTC(),
		"extension_minutes": int(occ.Room.Extension / time.Minute), "ended_early": !occ.Room.EndedAt.IsZero(),
	}})
}

// The editor pages.

type workshopRow struct {
	ID, Title, TitleLang, When, Topic string
	// Trainer is empty when the workshop has no trainer (any more).
	Trainer string
	HeldIn  i18n.Lang
}

func (s *Server) trainerNames(ctx context.Context) (map[string]string, []accounts.Account, error) {
	all, err := s.cfg.Accounts.List(ctx)
	if err != nil {
		return nil, nil, err
	}
	names := map[string]string{}
	var trainers []accounts.Account
	for _, a := range all {
		names[a.ID] = a.Pseudonym
		if a.Has(accounts.RoleTrainer) {
			trainers = append(trainers, a)
		}
	}
	return names, trainers, nil
}

func (s *Server) workshopListPage(c *gin.Context) {
	l := localizer(c)
	all, err := s.cfg.Workshops.List(c.Request.Context())
	if err != nil {
		s.failWith(c, err)
		return
	}
	names, _, err := s.trainerNames(c.Request.Context())
	if err != nil {
		s.failWith(c, err)
		return
	}
	rows := make([]workshopRow, 0, len(all))
	for _, w := range all {
		r := workshopRow{ID: w.ID, Topic: topicLabel(l, w.Topic), Trainer: names[w.TrainerID],
			When: weekdayName(l, w.Weekday) + ", " + w.Start.String() + " (" + l.N("WorkshopsMinutes", w.Duration) + ")"}
		r.Title, r.TitleLang = w.TitleIn(l.Lang.Code)
		r.HeldIn, _ = i18n.Lookup(w.Language)
		rows = append(rows, r)
	}
	p := s.newPage(c, "WorkshopsManageTitle")
	p.Data = rows
	s.render(c, http.StatusOK, "workshop_list", p)
}

// upcomingWeeks is how far ahead the editor lists a workshop's dates.
const upcomingWeeks = 8

// upcomingDate is one regular date on the editor page, with the form that
// moves it.
type upcomingDate struct {
	Date, Label      string
	Cancelled, Moved bool
	MovedTo          string
	// The move form: its fields' IDs, values and errors; Open when it
	// is to be shown unfolded (it has an error).
	MoveDateID, MoveStartID       string
	MoveDateValue, MoveStartValue string
	MoveDateError, MoveStartError *problem
	Open                          bool
}

// changedDate is a cancelled or moved date on the editor page.
type changedDate struct {
	Date, Label string
	Cancelled   bool
	MovedTo     string
}

type workshopEditData struct {
	ID        string
	Texts     []option // one per language: Value = code, Label = name
	Topics    []option
	Languages []option
	Trainers  []option
	// NoTrainer: the workshop being edited has no (valid) trainer.
	NoTrainer  bool
	Weekdays   []option
	Upcoming   []upcomingDate
	Changed    []changedDate
	Weeks      int
	MaxTitle   int
	MaxDesc    int
	MinMinutes int
	MaxMinutes int
}

// moveFieldID is the ID of a field ("date", "start") of the form that moves
// the regular date d; problems with it are reported under this ID.
func moveFieldID(d workshops.Date, field string) string {
	return "move-" + d.String() + "-" + field
}

// whenText is a date and time in Berlin the way the language writes it.
func whenText(l *i18n.Localizer, d workshops.Date, at workshops.TimeOfDay) string {
	t := time.Date(d.Year, d.Month, d.Day, at.Hour, at.Minute, 0, 0, workshops.Berlin)
	return weekdayName(l, t.Weekday()) + ", " + dateText(l, t) + ", " + at.String()
}

// datesOf lists, for the editor, the regular dates of w in the next
// upcomingWeeks that have not ended by now, and the cancelled or moved
// dates that are not over yet (also further ahead).
func datesOf(l *i18n.Localizer, p *page, w workshops.Workshop, now time.Time) ([]upcomingDate, []changedDate) {
	today := workshops.DateOf(now.In(workshops.Berlin))
	var upcoming []upcomingDate
	for d := today; d.Before(today.AddDays(7 * upcomingWeeks)); d = d.AddDays(1) {
		if !w.Scheduled(d) {
			continue
		}
		start := time.Date(d.Year, d.Month, d.Day, w.Start.Hour, w.Start.Minute, 0, 0, workshops.Berlin)
		if !start.Add(time.Duration(w.Duration) * time.Minute).After(now) {
			continue // over
		}
		u := upcomingDate{Date: d.String(), Label: whenText(l, d, w.Start),
			MoveDateID: moveFieldID(d, "date"), MoveStartID: moveFieldID(d, "start")}
		if ex, ok := w.Exceptions[d]; ok {
			u.Cancelled, u.Moved = ex.Cancelled, !ex.Cancelled
			if u.Moved {
				u.MovedTo = whenText(l, ex.Date, ex.Start)
			}
		}
		u.MoveDateValue, u.MoveStartValue = d.String(), w.Start.String()
		if v, ok := p.Form[u.MoveDateID]; ok {
			u.MoveDateValue = v
		}
		if v, ok := p.Form[u.MoveStartID]; ok {
			u.MoveStartValue = v
		}
		u.MoveDateError, u.MoveStartError = p.FieldError[u.MoveDateID], p.FieldError[u.MoveStartID]
		u.Open = u.MoveDateError != nil || u.MoveStartError != nil
		upcoming = append(upcoming, u)
	}
	var changed []changedDate
	for d, ex := range w.Exceptions {
		if d.Before(today) && (ex.Cancelled || ex.Date.Before(today)) {
			continue // in the past
		}
		cd := changedDate{Date: d.String(), Label: whenText(l, d, w.Start), Cancelled: ex.Cancelled}
		if !ex.Cancelled {
			cd.MovedTo = whenText(l, ex.Date, ex.Start)
		}
		changed = append(changed, cd)
	}
	slices.SortFunc(changed, func(a, b changedDate) int { return strings.Compare(a.Date, b.Date) })
	return upcoming, changed
}

func (s *Server) workshopForm(c *gin.Context, p *page, id string) bool {
	l := p.L
	_, trainers, err := s.trainerNames(c.Request.Context())
	if err != nil {
		s.failWith(c, err)
		return false
	}
	d := workshopEditData{ID: id, MaxTitle: workshops.MaxTitleLen, MaxDesc: workshops.MaxDescriptionLen,
		MinMinutes: workshops.MinDuration, MaxMinutes: workshops.MaxDuration}
	for _, lg := range i18n.Languages {
		d.Texts = append(d.Texts, option{Value: lg.Code, Label: lg.Name, Lang: lg.Code})
		d.Languages = append(d.Languages, option{Value: lg.Code, Label: lg.Name, Lang: lg.Code, Selected: p.Form["language"] == lg.Code})
	}
	for _, t := range workshops.Topics {
		d.Topics = append(d.Topics, option{Value: string(t), Label: topicLabel(l, t), Selected: p.Form["topic"] == string(t)})
	}
	d.NoTrainer = id != ""
	for _, a := range trainers {
		sel := p.Form["trainer_id"] == a.ID
		d.NoTrainer = d.NoTrainer && !sel
		d.Trainers = append(d.Trainers, option{Value: a.ID, Label: a.Pseudonym, Selected: sel})
	}
	for i := 1; i <= 7; i++ {
		wd := strconv.Itoa(i % 7)
		d.Weekdays = append(d.Weekdays, option{Value: wd, Label: weekdayName(l, time.Weekday(i%7)), Selected: p.Form["weekday"] == wd})
	}
	if id != "" {
		w, err := s.cfg.Workshops.Get(c.Request.Context(), id)
		if err != nil {
			s.failWith(c, err)
			return false
		}
		d.Upcoming, d.Changed = datesOf(l, p, w, time.Now())
		d.Weeks = upcomingWeeks
	}
	p.Data = d
	return true
}

func formFromWorkshop(p *page, w workshops.Workshop) {
	for _, lg := range workshops.Languages {
		p.Form["title_"+lg] = w.Title[lg]
		p.Form["description_"+lg] = w.Description[lg]
	}
	p.Form["topic"] = string(w.Topic)
	p.Form["language"] = w.Language
	p.Form["trainer_id"] = w.TrainerID
	p.Form["weekday"] = strconv.Itoa(int(w.Weekday))
	p.Form["start"] = w.Start.String()
	p.Form["duration"] = strconv.Itoa(w.Duration)
	p.Form["starts_on"] = w.StartsOn.String()
	p.Form["until"] = w.Until.String()
}

func (s *Server) workshopNewPage(c *gin.Context) {
	p := s.newPage(c, "WorkshopsNewTitle")
	p.Form["language"], p.Form["weekday"] = "de", "1"
	p.Form["duration"] = strconv.Itoa(workshops.DefaultDuration)
	p.Form["starts_on"] = workshops.DateOf(time.Now().In(workshops.Berlin)).String()
	if s.workshopForm(c, p, "") {
		s.render(c, http.StatusOK, "workshop_edit", p)
	}
}

func (s *Server) workshopEditPage(c *gin.Context) {
	w, err := s.cfg.Workshops.Get(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.failWith(c, err)
		return
	}
	p := s.newPage(c, "WorkshopsEditTitle")
	formFromWorkshop(p, w)
	if s.workshopForm(c, p, w.ID) {
		s.render(c, http.StatusOK, "workshop_edit", p)
	}
}

func (s *Server) workshopCreate(c *gin.Context) { s.workshopSubmit(c, "") }
func (s *Server) workshopSave(c *gin.Context)   { s.workshopSubmit(c, c.Param("id")) }

// workshopSubmit creates (id == "") or updates a workshop from the editor
// form and shows the form again, with the entries kept, when something is
// wrong.
func (s *Server) workshopSubmit(c *gin.Context, id string) {
	if !s.parseForm(c) {
		return
	}
	titleID := "WorkshopsNewTitle"
	if id != "" {
		titleID = "WorkshopsEditTitle"
	}
	p := s.newPage(c, titleID)
	req := workshopRequest{Title: map[string]string{}, Description: map[string]string{}}
	for _, lg := range workshops.Languages {
		// Descriptions may be longer than other fields; the body limit
		// bounds them and the domain checks their length.
		p.Form["title_"+lg] = c.PostForm("title_" + lg)
		p.Form["description_"+lg] = c.PostForm("description_" + lg)
		req.Title[lg], req.Description[lg] = p.Form["title_"+lg], p.Form["description_"+lg]
	}
	for _, f := range []string{"topic", "language", "trainer_id", "weekday", "start", "duration", "starts_on", "until"} {
		p.Form[f] = formValue(c, f)
	}
	req.Topic, req.Language, req.TrainerID = p.Form["topic"], p.Form["language"], p.Form["trainer_id"]
	req.Start, req.StartsOn, req.Until = p.Form["start"], p.Form["starts_on"], p.Form["until"]
	if wd, err := strconv.Atoi(p.Form["weekday"]); err == nil {
		req.Weekday = &wd
	}
	// Empty takes the default duration; anything unreadable is refused.
	if v := strings.TrimSpace(p.Form["duration"]); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n == 0 {
			n = -1
		}
		req.Duration = n
	}
	w, err := workshopFrom(req)
	if err == nil && id == "" {
		_, err = s.cfg.Workshops.Create(c.Request.Context(), w)
	} else if err == nil {
		w.ID = id
		_, err = s.cfg.Workshops.Update(c.Request.Context(), w)
	}
	if err != nil {
		status, pr := s.explain(c, err)
		if status >= 500 || status == http.StatusNotFound {
			s.failWith(c, err)
			return
		}
		p.addProblem(pr)
		if s.workshopForm(c, p, id) {
			s.render(c, status, "workshop_edit", p)
		}
		return
	}
	s.flashAndRedirect(c, "FlashWorkshopSaved", "/manage/workshops")
}

func (s *Server) workshopDeletePage(c *gin.Context) {
	if err := s.cfg.Workshops.Delete(c.Request.Context(), c.Param("id")); err != nil {
		s.failWith(c, err)
		return
	}
	s.flashAndRedirect(c, "FlashWorkshopDeleted", "/manage/workshops")
}

// workshopDatePage cancels, moves or restores one date from the editor
// page and returns to it with a confirmation. When something is wrong it
// shows the page again with the problem, at the move form's fields when
// they are the cause, and the entries kept.
func (s *Server) workshopDatePage(action, flashID string) gin.HandlerFunc {
	return func(c *gin.Context) {
		var to moveRequest
		if action == "move" {
			if !s.parseForm(c) {
				return
			}
			to.Date, to.Start = formValue(c, "date"), formValue(c, "start")
		}
		w, changeErr := s.changeDate(c.Request.Context(), c.Param("id"), c.Param("date"), action, &to)
		if changeErr == nil {
			s.flashAndRedirect(c, flashID, fmt.Sprintf("/manage/workshops/%s#dates", w.ID))
			return
		}
		status, pr := s.explain(c, changeErr)
		if status >= 500 || status == http.StatusNotFound {
			s.failWith(c, changeErr)
			return
		}
		w, err := s.cfg.Workshops.Get(c.Request.Context(), c.Param("id"))
		if err != nil {
			s.failWith(c, err)
			return
		}
		p := s.newPage(c, "WorkshopsEditTitle")
		formFromWorkshop(p, w)
		// Only the move form's entries are fields on the page; a problem
		// with the date in the address (not a regular date, or not a date
		// at all) goes to the summary alone.
		pr.Field = ""
		regular, dateErr := workshops.ParseDate(c.Param("date"))
		var ie *workshops.InputError
		if action == "move" && dateErr == nil {
			p.Form[moveFieldID(regular, "date")], p.Form[moveFieldID(regular, "start")] = to.Date, to.Start
			if errors.As(changeErr, &ie) && (ie.Code == "date_invalid" || ie.Code == "start_invalid") {
				pr.Field = moveFieldID(regular, ie.Field)
			}
		}
		p.addProblem(pr)
		if s.workshopForm(c, p, w.ID) {
			s.render(c, status, "workshop_edit", p)
		}
	}
}
