package web

import (
	"encoding/json"
	"errors"
	"net/http"
	"slices"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/web/i18n"
)

// Form field limits checked before anything reaches the domain.
const maxFieldBytes = 1024

// langCookieAge is how long a language choice is remembered.
const langCookieAge = 365 * 24 * time.Hour

func formValue(c *gin.Context, name string) string {
	v := c.PostForm(name)
	if len(v) > maxFieldBytes {
		return v[:maxFieldBytes]
	}
	return v
}

// parseForm reads a posted form; an oversized or unreadable body is a 4xx.
func (s *Server) parseForm(c *gin.Context) bool {
	if err := c.Request.ParseForm(); err != nil {
		s.failBody(c, err)
		return false
	}
	return true
}

// failBody answers a request whose body could not be read: too large (413)
// or unreadable (400).
func (s *Server) failBody(c *gin.Context, err error) {
	var mbe *http.MaxBytesError
	if errors.As(err, &mbe) {
		s.fail(c, http.StatusRequestEntityTooLarge, "too_large", "ErrBodyTooLarge")
		return
	}
	s.fail(c, http.StatusBadRequest, "bad_request", "ErrBadRequest")
}

func (s *Server) home(c *gin.Context) {
	s.render(c, http.StatusOK, "home", s.newPage(c, "HomeTitle"))
}

// switchLanguage remembers a language choice (cookie, and the account's
// preference when logged in) and goes back to the page it came from.
func (s *Server) switchLanguage(c *gin.Context) {
	l, ok := i18n.Lookup(c.Param("code"))
	if !ok {
		s.fail(c, http.StatusNotFound, "language_invalid", "ErrLanguageInvalid")
		return
	}
	s.setCookie(c, langCookie, l.Code, langCookieAge)
	if a := account(c); a != nil {
		if _, err := s.cfg.Accounts.SetLanguage(c.Request.Context(), a.ID, l.Code); err != nil {
			s.cfg.Logger.Warn("saving language", "err", err)
		}
	}
	c.Redirect(http.StatusSeeOther, localPath(c.Query("next")))
}

func (s *Server) registerForm(c *gin.Context) {
	if account(c) != nil {
		c.Redirect(http.StatusSeeOther, "/account")
		return
	}
	s.render(c, http.StatusOK, "register", s.newPage(c, "RegisterTitle"))
}

func (s *Server) register(c *gin.Context) {
	if !s.parseForm(c) {
		return
	}
	p := s.newPage(c, "RegisterTitle")
	p.Form["pseudonym"] = formValue(c, "pseudonym")
	p.Form["email"] = formValue(c, "email")
	if formValue(c, "multiplier") != "" {
		p.Form["multiplier"] = "1"
	}
	password := formValue(c, "password")
	if formValue(c, "password_confirm") != password {
		status, pr := s.explain(c, &accounts.InputError{Field: "password_confirm", Code: "password_mismatch"})
		p.addProblem(pr)
		s.render(c, status, "register", p)
		return
	}
	a, err := s.cfg.Accounts.Register(c.Request.Context(), accounts.Registration{
		Pseudonym:       p.Form["pseudonym"],
		Password:        password,
		Email:           p.Form["email"],
		WantsMultiplier: p.Form["multiplier"] != "",
		Language:        p.L.Lang.Code,
	}, c.ClientIP())
	if err != nil {
		status, pr := s.explain(c, err)
		p.addProblem(pr)
		s.render(c, status, "register", p)
		return
	}
	if !s.startSession(c, a.ID) {
		return
	}
	s.flashAndRedirect(c, "FlashRegistered", "/")
}

func (s *Server) startSession(c *gin.Context, accountID string) bool {
	token, err := s.cfg.Accounts.StartSession(c.Request.Context(), accountID)
	if err != nil {
		s.failWith(c, err)
		return false
	}
	s.setCookie(c, sessionCookie, token, s.cfg.SessionMaxAge)
	return true
}

func (s *Server) loginForm(c *gin.Context) {
	if account(c) != nil {
		c.Redirect(http.StatusSeeOther, localPath(c.Query("next")))
		return
	}
	p := s.newPage(c, "LoginTitle")
	p.Form["next"] = localPath(c.Query("next"))
	s.render(c, http.StatusOK, "login", p)
}

func (s *Server) login(c *gin.Context) {
	if !s.parseForm(c) {
		return
	}
	p := s.newPage(c, "LoginTitle")
	p.Form["pseudonym"] = formValue(c, "pseudonym")
	p.Form["next"] = localPath(formValue(c, "next"))
	// A new session ID at every login; the old session (if any) ends.
	if tok, ok := c.Get(ctxToken); ok {
		_ = s.cfg.Accounts.Logout(c.Request.Context(), tok.(string))
	}
	_, token, err := s.cfg.Accounts.Login(c.Request.Context(), p.Form["pseudonym"], formValue(c, "password"), c.ClientIP())
	if err != nil {
		status, pr := s.explain(c, err)
		p.addProblem(pr)
		s.render(c, status, "login", p)
		return
	}
	s.setCookie(c, sessionCookie, token, s.cfg.SessionMaxAge)
	s.flashAndRedirect(c, "FlashLoggedIn", p.Form["next"])
}

func (s *Server) logout(c *gin.Context) {
	if tok, ok := c.Get(ctxToken); ok {
		if err := s.cfg.Accounts.Logout(c.Request.Context(), tok.(string)); err != nil {
			s.failWith(c, err)
			return
		}
	}
	s.clearCookie(c, sessionCookie)
	s.flashAndRedirect(c, "FlashLoggedOut", "/")
}

type accountData struct {
	Roles    []string
	Sessions int
	// PodcastFeed is the private podcast feed section (approved
	// multipliers only; podcasts_account.go).
	PodcastFeed *podcastFeedView
}

// roleLabels are the message IDs of the roles' names.
var roleLabels = map[accounts.Role]string{
	accounts.RoleParticipant: "RoleParticipant",
	accounts.RoleMultiplier:  "RoleMultiplier",
	accounts.RoleTrainer:     "RoleTrainer",
	accounts.RoleEditor:      "RoleEditor",
	accounts.RoleAdmin:       "RoleAdmin",
}

func (s *Server) accountPage(c *gin.Context) {
	s.takeFreshFeedToken(c)
	s.renderAccount(c, http.StatusOK, s.newPage(c, "AccountTitle"))
}

func (s *Server) renderAccount(c *gin.Context, status int, p *page) {
	a := account(c)
	n, err := s.cfg.Accounts.SessionCount(c.Request.Context(), a.ID)
	if err != nil {
		s.failWith(c, err)
		return
	}
	d := accountData{Roles: []string{roleLabels[accounts.RoleParticipant]}, Sessions: n}
	for _, r := range a.Roles {
		d.Roles = append(d.Roles, roleLabels[r])
	}
	if d.PodcastFeed, err = s.podcastFeedSection(c, a); err != nil {
		// The rest of the page still works: show it without the section.
		s.cfg.Logger.Error("account page: reading the private podcast feed", "err", err)
		d.PodcastFeed = nil
	}
	p.Data = d
	s.render(c, status, "account", p)
}

func (s *Server) saveLanguage(c *gin.Context) {
	if !s.parseForm(c) {
		return
	}
	l, ok := i18n.Lookup(formValue(c, "language"))
	if !ok {
		s.fail(c, http.StatusUnprocessableEntity, "language_invalid", "ErrLanguageInvalid")
		return
	}
	if _, err := s.cfg.Accounts.SetLanguage(c.Request.Context(), account(c).ID, l.Code); err != nil {
		s.failWith(c, err)
		return
	}
	s.setCookie(c, langCookie, l.Code, langCookieAge)
	s.flashAndRedirect(c, "FlashLanguageSaved", "/account")
}

func (s *Server) changePassword(c *gin.Context) {
	if !s.parseForm(c) {
		return
	}
	err := s.cfg.Accounts.ChangePassword(c.Request.Context(), account(c).ID, formValue(c, "current_password"), formValue(c, "new_password"))
	if err != nil {
		status, pr := s.explain(c, err)
		if pr.Field == "password" {
			pr.Field = "new_password"
		}
		p := s.newPage(c, "AccountTitle")
		p.addProblem(pr)
		s.renderAccount(c, status, p)
		return
	}
	s.flashAndRedirect(c, "FlashPasswordChanged", "/account")
}

func (s *Server) logoutEverywhere(c *gin.Context) {
	if err := s.cfg.Accounts.LogoutEverywhere(c.Request.Context(), account(c).ID); err != nil {
		s.failWith(c, err)
		return
	}
	s.clearCookie(c, sessionCookie)
	s.flashAndRedirect(c, "FlashLoggedOutEverywhere", "/login")
}

func (s *Server) requestMultiplier(c *gin.Context) {
	if _, err := s.cfg.Accounts.RequestMultiplier(c.Request.Context(), account(c).ID); err != nil {
		s.failWith(c, err)
		return
	}
	s.flashAndRedirect(c, "FlashMultiplierRequested", "/account")
}

// exportData sends everything kept about the person as a JSON download.
func (s *Server) exportData(c *gin.Context) {
	e, err := s.cfg.Accounts.Export(c.Request.Context(), account(c).ID)
	if err != nil {
		s.failWith(c, err)
		return
	}
	b, err := json.MarshalIndent(e, "", "  ")
	if err != nil {
		s.failWith(c, err)
		return
	}
	c.Header("Content-Disposition", `attachment; filename="portalo-my-data.json"`)
	c.Header("Cache-Control", "no-store")
	c.Data(http.StatusOK, "application/json; charset=utf-8", b)
}

func (s *Server) deleteAccount(c *gin.Context) {
	if !s.parseForm(c) {
		return
	}
	a := account(c)
	p := s.newPage(c, "AccountTitle")
	err := s.cfg.Accounts.VerifyPassword(c.Request.Context(), a.ID, formValue(c, "delete_password"))
	if err == nil && formValue(c, "confirm") == "" {
		err = &accounts.InputError{Field: "confirm", Code: "confirm_required"}
	}
	if err == nil {
		err = s.cfg.Accounts.Delete(c.Request.Context(), a.ID)
	}
	if err != nil {
		status, pr := s.explain(c, err)
		if pr.Field == "password" {
			pr.Field = "delete_password"
		}
		p.addProblem(pr)
		s.renderAccount(c, status, p)
		return
	}
	s.clearCookie(c, sessionCookie)
	s.flashAndRedirect(c, "FlashAccountDeleted", "/")
}

type roleOption struct {
	Value accounts.Role
	Label string
}

type adminData struct {
	Pending  []accounts.Account
	Accounts []accounts.Account
	Roles    []roleOption
}

func (s *Server) adminPage(c *gin.Context) {
	all, err := s.cfg.Accounts.List(c.Request.Context())
	if err != nil {
		s.failWith(c, err)
		return
	}
	d := adminData{Accounts: all}
	for _, a := range all {
		if a.MultiplierRequested {
			d.Pending = append(d.Pending, a)
		}
	}
	for _, r := range accounts.GrantableRoles {
		d.Roles = append(d.Roles, roleOption{Value: r, Label: roleLabels[r]})
	}
	p := s.newPage(c, "AdminTitle")
	p.Data = d
	s.render(c, http.StatusOK, "admin", p)
}

func (s *Server) adminApprove(c *gin.Context) {
	if _, err := s.cfg.Accounts.ApproveMultiplier(c.Request.Context(), c.Param("id")); err != nil {
		s.failWith(c, err)
		return
	}
	s.flashAndRedirect(c, "FlashMultiplierApproved", "/admin")
}

func (s *Server) adminDecline(c *gin.Context) {
	// Declining a request takes no role away: no feed token to revoke.
	if _, err := s.cfg.Accounts.DeclineMultiplier(c.Request.Context(), c.Param("id")); err != nil {
		s.failWith(c, err)
		return
	}
	s.flashAndRedirect(c, "FlashMultiplierDeclined", "/admin")
}

func (s *Server) adminRoles(c *gin.Context) {
	if !s.parseForm(c) {
		return
	}
	var roles []accounts.Role
	for _, r := range c.Request.PostForm["role"] {
		if !slices.Contains(roles, accounts.Role(r)) {
			roles = append(roles, accounts.Role(r))
		}
	}
	// Without the multiplier role the private feed token is revoked: a
	// failure there is reported, and saving again retries it.
	a, err := s.cfg.Accounts.SetRoles(c.Request.Context(), c.Param("id"), roles)
	if err == nil {
		err = s.revokeFeedOfFormer(c.Request.Context(), a)
	}
	if err != nil {
		s.failWith(c, err)
		return
	}
	s.flashAndRedirect(c, "FlashRolesSaved", "/admin")
}
