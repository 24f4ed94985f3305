package web

import (
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
)

// accountJSON is an account as the API shows it: never the password hash.
type accountJSON struct {
	ID                  string          `json:"id"`
	Pseudonym           string          `json:"pseudonym"`
	Email               string          `json:"email,omitempty"`
	Roles               []accounts.Role `json:"roles"`
	MultiplierRequested bool            `json:"multiplier_requested"`
	Language            string          `json:"language,omitempty"`
	CreatedAt           time.Time       `json:"created_at"`
}

func toJSON(a accounts.Account) accountJSON {
	return accountJSON{
		ID: a.ID, Pseudonym: a.Pseudonym, Email: a.Email,
		Roles:               append([]accounts.Role{accounts.RoleParticipant}, a.Roles...),
		MultiplierRequested: a.MultiplierRequested, Language: a.Language, CreatedAt: a.CreatedAt,
	}
}

// decodeJSON reads a JSON request body strictly (known fields, one value);
// it answers the request itself and returns false when the body is bad.
func (s *Server) decodeJSON(c *gin.Context, v any) bool {
	if ct := c.ContentType(); ct != "application/json" {
		s.fail(c, http.StatusUnsupportedMediaType, "unsupported_media_type", "ErrBadRequest")
		return false
	}
	dec := json.NewDecoder(c.Request.Body)
	dec.DisallowUnknownFields()
	err := dec.Decode(v)
	if err == nil {
		if _, extra := dec.Token(); extra != io.EOF {
			err = errors.New("trailing data after JSON value")
		}
	}
	if err != nil {
		s.failBody(c, err)
		return false
	}
	return true
}

func (s *Server) apiError(c *gin.Context, err error) {
	status, pr := s.explain(c, err)
	c.Header("Cache-Control", "no-store")
	c.AbortWithStatusJSON(status, gin.H{"error": pr})
}

type registerRequest struct {
	Pseudonym       string `json:"pseudonym"`
	Password        string `json:"password"`
	Email           string `json:"email"`
	WantsMultiplier bool   `json:"wants_multiplier"`
	Language        string `json:"language"`
}

func (s *Server) apiRegister(c *gin.Context) {
	var req registerRequest
	if !s.decodeJSON(c, &req) {
		return
	}
	lang := localizer(c).Lang.Code
	if req.Language != "" {
		lang = strings.ToLower(req.Language)
	}
	a, err := s.cfg.Accounts.Register(c.Request.Context(), accounts.Registration{
		Pseudonym: req.Pseudonym, Password: req.Password, Email: req.Email,
		WantsMultiplier: req.WantsMultiplier, Language: languageOrDefault(lang),
	}, c.ClientIP())
	if err != nil {
		s.apiError(c, err)
		return
	}
	if !s.startSession(c, a.ID) {
		return
	}
	c.JSON(http.StatusCreated, gin.H{"account": toJSON(a)})
}

type loginRequest struct {
	Pseudonym string `json:"pseudonym"`
	Password  string `json:"password"`
}

func (s *Server) apiLogin(c *gin.Context) {
	var req loginRequest
	if !s.decodeJSON(c, &req) {
		return
	}
	if tok, ok := c.Get(ctxToken); ok {
		_ = s.cfg.Accounts.Logout(c.Request.Context(), tok.(string))
	}
	a, token, err := s.cfg.Accounts.Login(c.Request.Context(), req.Pseudonym, req.Password, c.ClientIP())
	if err != nil {
		s.apiError(c, err)
		return
	}
	s.setCookie(c, sessionCookie, token, s.cfg.SessionMaxAge)
	c.JSON(http.StatusOK, gin.H{"account": toJSON(a)})
}

func (s *Server) apiLogout(c *gin.Context) {
	if tok, ok := c.Get(ctxToken); ok {
		if err := s.cfg.Accounts.Logout(c.Request.Context(), tok.(string)); err != nil {
			s.apiError(c, err)
			return
		}
	}
	s.clearCookie(c, sessionCookie)
	c.Status(http.StatusNoContent)
}

func (s *Server) apiMe(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"account": toJSON(*account(c))})
}

func (s *Server) apiLogoutEverywhere(c *gin.Context) {
	if err := s.cfg.Accounts.LogoutEverywhere(c.Request.Context(), account(c).ID); err != nil {
		s.apiError(c, err)
		return
	}
	s.clearCookie(c, sessionCookie)
	c.Status(http.StatusNoContent)
}

type deleteRequest struct {
	Password string `json:"password"`
}

func (s *Server) apiDeleteMe(c *gin.Context) {
	var req deleteRequest
	if !s.decodeJSON(c, &req) {
		return
	}
	id := account(c).ID
	if err := s.cfg.Accounts.VerifyPassword(c.Request.Context(), id, req.Password); err != nil {
		s.apiError(c, err)
		return
	}
	if err := s.cfg.Accounts.Delete(c.Request.Context(), id); err != nil {
		s.apiError(c, err)
		return
	}
	s.clearCookie(c, sessionCookie)
	c.Status(http.StatusNoContent)
}

func (s *Server) apiListAccounts(c *gin.Context) {
	all, err := s.cfg.Accounts.List(c.Request.Context())
	if err != nil {
		s.apiError(c, err)
		return
	}
	out := make([]accountJSON, len(all))
	for i, a := range all {
		out[i] = toJSON(a)
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"accounts": out})
}

func (s *Server) apiApprove(c *gin.Context) {
	a, err := s.cfg.Accounts.ApproveMultiplier(c.Request.Context(), c.Param("id"))
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"account": toJSON(a)})
}

type rolesRequest struct {
	Roles []accounts.Role `json:"roles"`
}

func (s *Server) apiSetRoles(c *gin.Context) {
	var req rolesRequest
	if !s.decodeJSON(c, &req) {
		return
	}
	a, err := s.cfg.Accounts.SetRoles(c.Request.Context(), c.Param("id"), req.Roles)
	if err == nil {
		// Without the multiplier role the private feed token goes.
		err = s.revokeFeedOfFormer(c.Request.Context(), a)
	}
	if err != nil {
		s.apiError(c, err)
		return
	}
	c.JSON(http.StatusOK, gin.H{"account": toJSON(a)})
}
