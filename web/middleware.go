package web

import (
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"reflect"
	"slices"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/web/i18n"
)

// Names of things kept on the gin.Context and in cookies.
const (
	ctxAccount   = "portalo.account"
	ctxToken     = "portalo.token"
	ctxLocalizer = "portalo.localizer"

	sessionCookie = "portalo_session"
	langCookie    = "portalo_lang"
	flashCookie   = "portalo_flash"
)

// observe logs every request and counts it in the metrics. Logs hold the
// route pattern, never the raw path or query (they could hold tokens), and
// never the client's address or session.
func (s *Server) observe(c *gin.Context) {
	start := time.Now()
	c.Next()
	route := c.FullPath()
	if route == "" {
		route = "unmatched"
	}
	status := c.Writer.Status()
	elapsed := time.Since(start)
	s.metrics.observe(c.Request.Method, route, status, elapsed)
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelError
	}
	if route == "/healthz" || route == "/readyz" || route == "/metrics" || route == "/static/*file" {
		level = slog.LevelDebug
	}
	s.cfg.Logger.LogAttrs(c.Request.Context(), level, "request",
		slog.String("method", c.Request.Method),
		slog.String("route", route),
		slog.Int("status", status),
		slog.Int("bytes", c.Writer.Size()),
		slog.Duration("duration", elapsed),
	)
}

// recoverPanics turns a panic into a 500 in the person's language and an
// error log line, so one bad request never takes the process down.
func (s *Server) recoverPanics(c *gin.Context) {
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			s.cfg.Logger.Error("panic in handler", "route", c.FullPath(), "panic", fmt.Sprint(v))
			if !c.Writer.Written() {
				s.fail(c, http.StatusInternalServerError, "internal", "ErrInternal")
			}
			c.Abort()
		}
	}()
	c.Next()
}

func (s *Server) securityHeaders(c *gin.Context) {
	h := c.Writer.Header()
	h.Set("Content-Security-Policy", "default-src 'self'; img-src 'self' data:; media-src 'self' blob:; style-src 'self'; script-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'; form-action 'self'")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(self), microphone=(self), geolocation=(), payment=(), usb=()")
	c.Next()
}

func (s *Server) limitBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.MaxBodyBytes)
	}
	c.Next()
}

// withBodyLimit returns the chain with the general s.limitBody replaced by
// limit, for the few routes whose bodies are larger (upload chunks, cover
// images); it logs when the chain has no limitBody to replace.
func (s *Server) withBodyLimit(chain gin.HandlersChain, limit gin.HandlerFunc) gin.HandlersChain {
	general := reflect.ValueOf(s.limitBody).Pointer()
	out := slices.Clone(chain)
	found := false
	for i, h := range out {
		if reflect.ValueOf(h).Pointer() == general {
			out[i], found = limit, true
		}
	}
	if !found {
		s.cfg.Logger.Error("web: a route keeps the general body limit: limitBody is not in the middleware chain")
	}
	return out
}

// maxBody bounds a request's body to n bytes.
func maxBody(n int64) gin.HandlerFunc {
	return func(c *gin.Context) {
		if c.Request.Body != nil {
			c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, n)
		}
		c.Next()
	}
}

// loadSession puts the logged-in account, if any, on the context.
func (s *Server) loadSession(c *gin.Context) {
	ck, err := c.Request.Cookie(sessionCookie)
	if err == nil && ck.Value != "" {
		_, acct, err := s.cfg.Accounts.Authenticate(c.Request.Context(), ck.Value)
		switch {
		case err == nil:
			c.Set(ctxAccount, acct)
			c.Set(ctxToken, ck.Value)
		case errors.Is(err, accounts.ErrNoSession):
			s.clearCookie(c, sessionCookie)
		default:
			// The store is down: carry on as a visitor; /readyz reports it.
			s.cfg.Logger.Warn("session lookup failed", "err", err)
		}
	}
	c.Next()
}

// chooseLanguage picks the page language: the remembered choice (cookie),
// then the account's language, then the browser's Accept-Language.
func (s *Server) chooseLanguage(c *gin.Context) {
	c.Set(ctxLocalizer, s.cfg.Catalog.For(s.languageOf(c.Request, account(c))))
	c.Next()
}

func (s *Server) languageOf(r *http.Request, acct *accounts.Account) string {
	if ck, err := r.Cookie(langCookie); err == nil {
		if l, ok := i18n.Lookup(ck.Value); ok {
			return l.Code
		}
	}
	if acct != nil {
		if l, ok := i18n.Lookup(acct.Language); ok {
			return l.Code
		}
	}
	return s.cfg.Catalog.Match(r.Header.Get("Accept-Language")).Code
}

// account returns the logged-in account, or nil.
func account(c *gin.Context) *accounts.Account {
	if v, ok := c.Get(ctxAccount); ok {
		a := v.(accounts.Account)
		return &a
	}
	return nil
}

func localizer(c *gin.Context) *i18n.Localizer {
	if v, ok := c.Get(ctxLocalizer); ok {
		return v.(*i18n.Localizer)
	}
	return nil
}

func isAPI(c *gin.Context) bool { return strings.HasPrefix(c.Request.URL.Path, "/api/") }

// requireLogin sends visitors to the login page (pages) or answers 401 (API).
func (s *Server) requireLogin(c *gin.Context) {
	if account(c) != nil {
		c.Next()
		return
	}
	if isAPI(c) || c.Request.Method != http.MethodGet {
		s.fail(c, http.StatusUnauthorized, "login_required", "ErrLoginRequired")
		return
	}
	c.Redirect(http.StatusSeeOther, "/login?next="+c.Request.URL.Path)
	c.Abort()
}

func (s *Server) requireRole(r accounts.Role) gin.HandlerFunc {
	return func(c *gin.Context) {
		if a := account(c); a == nil || !a.Has(r) {
			s.fail(c, http.StatusForbidden, "forbidden", "ErrForbidden")
			return
		}
		c.Next()
	}
}

// denyCrossOrigin answers requests that net/http's cross-origin protection
// refused (a form posted from another site, CSRF).
func (s *Server) denyCrossOrigin(w http.ResponseWriter, r *http.Request) {
	l := s.cfg.Catalog.For(s.languageOf(r, nil))
	msg := l.T("ErrCrossOrigin")
	if strings.HasPrefix(r.URL.Path, "/api/") {
		writeJSONError(w, http.StatusForbidden, "cross_origin", msg)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(http.StatusForbidden)
	fmt.Fprintln(w, msg)
}

func (s *Server) setCookie(c *gin.Context, name, value string, maxAge time.Duration) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     name,
		Value:    value,
		Path:     "/",
		MaxAge:   int(maxAge.Seconds()),
		HttpOnly: true,
		Secure:   s.secure(c.Request),
		SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) clearCookie(c *gin.Context, name string) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name: name, Value: "", Path: "/", MaxAge: -1,
		HttpOnly: true, Secure: s.secure(c.Request), SameSite: http.SameSiteLaxMode,
	})
}

func (s *Server) secure(r *http.Request) bool {
	switch s.cfg.SecureCookies {
	case SecureAlways:
		return true
	case SecureNever:
		return false
	}
	if r.TLS != nil {
		return true
	}
	return len(s.cfg.TrustedProxies) > 0 && r.Header.Get("X-Forwarded-Proto") == "https"
}
