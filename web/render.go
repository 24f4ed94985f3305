package web

import (
	"bytes"
	"encoding/json"
	"errors"
	"math"
	"net/http"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/web/i18n"
)

// page is what every template receives.
type page struct {
	L            *i18n.Localizer
	Title        string
	Account      *accounts.Account
	Path         string
	Langs        []i18n.Lang
	AssetVersion string
	Flash        string
	Errors       []problem
	FieldError   map[string]*problem
	Form         map[string]string
	Limits       limits
	Data         any
}

type limits struct {
	MinPseudonym, MaxPseudonym, MinPassword int
}

// problem is one thing wrong with a request, in the person's language.
type problem struct {
	Field   string `json:"field,omitempty"`
	Code    string `json:"code"`
	Message string `json:"message"`
}

func (s *Server) newPage(c *gin.Context, titleID string) *page {
	l := localizer(c)
	p := &page{
		L:            l,
		Title:        l.T(titleID),
		Account:      account(c),
		Path:         c.Request.URL.Path,
		Langs:        i18n.Languages,
		AssetVersion: s.assetVersion,
		FieldError:   map[string]*problem{},
		Form:         map[string]string{},
		Limits:       limits{accounts.MinPseudonymLen, accounts.MaxPseudonymLen, accounts.MinPasswordLen},
	}
	if ck, err := c.Request.Cookie(flashCookie); err == nil && strings.HasPrefix(ck.Value, "Flash") {
		p.Flash = l.T(ck.Value)
		s.clearCookie(c, flashCookie)
	}
	return p
}

func (p *page) addProblem(pr problem) {
	p.Errors = append(p.Errors, pr)
	if pr.Field != "" {
		p.FieldError[pr.Field] = &pr
	}
}

// render writes a page with status.
func (s *Server) render(c *gin.Context, status int, name string, p *page) {
	var buf bytes.Buffer
	if err := s.pages[name].ExecuteTemplate(&buf, "layout", p); err != nil {
		s.cfg.Logger.Error("rendering page", "page", name, "err", err)
		c.Data(http.StatusInternalServerError, "text/plain; charset=utf-8", []byte(p.L.T("ErrInternal")))
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Header("Content-Language", p.L.Lang.Code)
	c.Data(status, "text/html; charset=utf-8", buf.Bytes())
}

// flashAndRedirect shows a message on the next page (Post/Redirect/Get).
func (s *Server) flashAndRedirect(c *gin.Context, flashID, to string) {
	s.setCookie(c, flashCookie, flashID, time.Minute)
	c.Redirect(http.StatusSeeOther, to)
}

// fail answers with an error in the person's language: a JSON error for the
// API, an error page otherwise.
func (s *Server) fail(c *gin.Context, status int, code, msgID string, pairs ...any) {
	l := localizer(c)
	if l == nil {
		l = s.cfg.Catalog.For(s.languageOf(c.Request, nil))
		c.Set(ctxLocalizer, l)
	}
	msg := l.T(msgID, pairs...)
	if isAPI(c) {
		writeJSONError(c.Writer, status, code, msg)
		c.Abort()
		return
	}
	p := s.newPage(c, "ErrorPageTitle")
	p.Data = msg
	s.render(c, status, "error", p)
	c.Abort()
}

func writeJSONError(w http.ResponseWriter, status int, code, msg string) {
	w.Header().Set("Content-Type", "application/json; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(map[string]any{"error": problem{Code: code, Message: msg}})
}

// inputMessages maps the accounts package's input error codes to messages.
var inputMessages = map[string]string{
	"pseudonym_required": "ErrPseudonymRequired",
	"pseudonym_length":   "ErrPseudonymLength",
	"pseudonym_invalid":  "ErrPseudonymInvalid",
	"pseudonym_taken":    "ErrPseudonymTaken",
	"password_required":  "ErrPasswordRequired",
	"password_too_short": "ErrPasswordTooShort",
	"password_too_long":  "ErrPasswordTooLong",
	"password_wrong":     "ErrPasswordWrong",
	"password_mismatch":  "ErrPasswordMismatch",
	"email_invalid":      "ErrEmailInvalid",
	"role_invalid":       "ErrRoleInvalid",
	"confirm_required":   "ErrConfirmDelete",
	"language_invalid":   "ErrLanguageInvalid",
}

// explain turns a domain error into a status and a problem in the person's
// language. Unknown errors are logged and become a 500 without details.
func (s *Server) explain(c *gin.Context, err error) (int, problem) {
	l := localizer(c)
	if status, pr, ok := explainWorkshop(l, err); ok {
		return status, pr
	}
	var ie *accounts.InputError
	var rl *accounts.RateLimitedError
	var mbe *http.MaxBytesError
	switch {
	case errors.As(err, &ie):
		id, ok := inputMessages[ie.Code]
		if !ok {
			id = "ErrBadRequest"
		}
		status := http.StatusUnprocessableEntity
		if ie.Code == "pseudonym_taken" {
			status = http.StatusConflict
		}
		msg := l.T(id, "Min", minFor(ie.Code), "Max", maxFor(ie.Code))
		return status, problem{Field: ie.Field, Code: ie.Code, Message: msg}
	case errors.As(err, &rl):
		minutes := int(math.Ceil(rl.RetryAfter.Minutes()))
		if minutes < 1 {
			minutes = 1
		}
		c.Header("Retry-After", strconv.Itoa(int(math.Ceil(rl.RetryAfter.Seconds()))))
		return http.StatusTooManyRequests, problem{Code: "rate_limited", Message: l.N("ErrRateLimited", minutes)}
	case errors.Is(err, accounts.ErrInvalidCredentials):
		return http.StatusUnauthorized, problem{Code: "invalid_credentials", Message: l.T("ErrInvalidCredentials")}
	case errors.Is(err, accounts.ErrLastAdmin):
		return http.StatusConflict, problem{Code: "last_admin", Message: l.T("ErrLastAdmin")}
	case errors.Is(err, accounts.ErrNotFound):
		return http.StatusNotFound, problem{Code: "not_found", Message: l.T("ErrNotFound")}
	case errors.As(err, &mbe):
		return http.StatusRequestEntityTooLarge, problem{Code: "too_large", Message: l.T("ErrBodyTooLarge")}
	}
	s.cfg.Logger.Error("request failed", "route", c.FullPath(), "err", err)
	return http.StatusInternalServerError, problem{Code: "internal", Message: l.T("ErrInternal")}
}

func minFor(code string) int {
	if strings.HasPrefix(code, "pseudonym") {
		return accounts.MinPseudonymLen
	}
	return accounts.MinPasswordLen
}

func maxFor(code string) int {
	if strings.HasPrefix(code, "pseudonym") {
		return accounts.MaxPseudonymLen
	}
	return accounts.MaxPasswordLen
}

// failWith answers an error from a domain call on a page without a form.
func (s *Server) failWith(c *gin.Context, err error) {
	status, pr := s.explain(c, err)
	if isAPI(c) {
		writeJSONError(c.Writer, status, pr.Code, pr.Message)
		c.Abort()
		return
	}
	p := s.newPage(c, "ErrorPageTitle")
	p.Data = pr.Message
	s.render(c, status, "error", p)
	c.Abort()
}

// localPath returns next if it is a path on this site, else "/": a login
// link must never send anyone elsewhere.
func localPath(next string) string {
	if next == "" || !strings.HasPrefix(next, "/") || strings.HasPrefix(next, "//") || strings.ContainsAny(next, "\\\r\n") {
		return "/"
	}
	return next
}
