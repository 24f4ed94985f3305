// Package web owns portalo's HTTP surface: the Gin router, the
// server-rendered pages in five languages, the JSON API under /api/, the
// embedded static assets, health and readiness endpoints, Prometheus
// metrics, and the middleware every request passes (recovery, structured
// logs without personal data, security headers, body limits, cross-origin
// protection, language and session).
//
// It calls the domain packages (accounts, later catalog and signaling) and
// never touches storage itself.
package web

import (
	"context"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"html/template"
	"io/fs"
	"log/slog"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/store/blob"
	"portalo/web/i18n"
)

//go:embed templates/*.html
var templateFiles embed.FS

//go:embed static
var staticFiles embed.FS

// Accounts is what the web layer needs of the accounts service.
type Accounts interface {
	Register(ctx context.Context, reg accounts.Registration, client string) (accounts.Account, error)
	Login(ctx context.Context, pseudonym, password, client string) (accounts.Account, string, error)
	StartSession(ctx context.Context, accountID string) (string, error)
	Authenticate(ctx context.Context, token string) (accounts.Session, accounts.Account, error)
	Logout(ctx context.Context, token string) error
	LogoutEverywhere(ctx context.Context, accountID string) error
	SessionCount(ctx context.Context, accountID string) (int, error)
	Get(ctx context.Context, id string) (accounts.Account, error)
	List(ctx context.Context) ([]accounts.Account, error)
	RequestMultiplier(ctx context.Context, id string) (accounts.Account, error)
	ApproveMultiplier(ctx context.Context, id string) (accounts.Account, error)
	DeclineMultiplier(ctx context.Context, id string) (accounts.Account, error)
	SetRoles(ctx context.Context, id string, roles []accounts.Role) (accounts.Account, error)
	SetLanguage(ctx context.Context, id, lang string) (accounts.Account, error)
	ChangePassword(ctx context.Context, id, current, next string) error
	VerifyPassword(ctx context.Context, id, password string) error
	Export(ctx context.Context, id string) (accounts.Export, error)
	Delete(ctx context.Context, id string) error
}

// Check is one dependency that /readyz asks.
type Check struct {
	Name string
	Ping func(ctx context.Context) error
}

// CookieSecurity says when cookies get the Secure attribute.
type CookieSecurity string

// The cookie security modes.
const (
	// SecureAuto marks cookies Secure when the request came over TLS, or
	// through a trusted proxy that says it did (X-Forwarded-Proto: https).
	SecureAuto   CookieSecurity = "auto"
	SecureAlways CookieSecurity = "always"
	SecureNever  CookieSecurity = "never"
)

// Config holds what a Server is built from.
type Config struct {
	Accounts Accounts
	Catalog  *i18n.Catalog
	Logger   *slog.Logger
	// Registry receives the HTTP metrics; /metrics serves it. Nil makes a
	// new one.
	Registry *prometheus.Registry
	// Ready are the dependencies /readyz checks.
	Ready []Check
	// SecureCookies is SecureAuto when empty.
	SecureCookies CookieSecurity
	// TrustedProxies are the addresses or CIDRs whose X-Forwarded-For and
	// X-Forwarded-Proto headers are believed. None by default.
	TrustedProxies []string
	// MaxBodyBytes limits request bodies (1 MiB).
	MaxBodyBytes int64
	// SessionMaxAge is the lifetime of the session cookie (60 days); the
	// server ends idle sessions earlier.
	SessionMaxAge time.Duration
	// Workshops serves the workshop schedule and its editor; nil leaves
	// those routes out.
	Workshops Workshops
	// Uploads takes editors' resumable uploads of media files (nil: no
	// upload routes); UploadHooks tie them to the mediathek.
	Uploads     Uploads
	UploadHooks UploadHooks
	// Rooms runs the live rooms and RoomSchedule says when they are open;
	// with either nil the room routes are left out.
	Rooms        Rooms
	RoomSchedule RoomSchedule
	// Mediathek is the catalog of videos, podcast episodes and documents;
	// nil leaves the mediathek's routes out. Objects is the object store
	// it was opened on, from which /media/ serves the items' files.
	Mediathek *catalog.Catalog
	Objects   blob.Store
	// MediaDelivery is how media files reach viewers: DeliveryProxy
	// ("proxy", the default) streams them through portalo,
	// DeliveryRedirect ("redirect") answers with a 302 to a presigned URL
	// of the bucket valid for a few minutes (Objects must presign: s3blob).
	MediaDelivery string
	// MediaCacheBytes is the memory for the media cache, which keeps the
	// small files of processed items (segments, posters, subtitles: they
	// never change) so that popular ones are not fetched from the object
	// store for every viewer: 0 is DefaultMediaCacheBytes, < 0 turns it
	// off.
	MediaCacheBytes int64
	// PublicURL is the address people reach portalo at ("https://host",
	// no trailing slash), used for the absolute URLs of feeds and
	// calendars, so that a podcast feed's URLs and podcast:guid do not
	// change with the host name a request used; empty: taken from each
	// request.
	PublicURL string
	// MediaProgress, if set, tells the editor pages how far the processing
	// of an item is.
	MediaProgress MediaProgress
	// Podcasts are the podcast series and private feed tokens, Downloads
	// counts the episodes' downloads (nil: not counted); with Podcasts nil
	// (or no Mediathek) the podcast routes are left out.
	Podcasts  Podcasts
	Downloads Downloads
	// Courses are the training courses of the multipliers' area; nil
	// leaves the area (/multipliers) out.
	Courses Courses
}

// Server is portalo's HTTP handler.
type Server struct {
	cfg          Config
	pages        map[string]*template.Template
	engine       *gin.Engine
	handler      http.Handler
	metrics      *httpMetrics
	assetVersion string
	gzipped      *staticGzip
	// files serves the object store's files (nil without Objects).
	files *objectServer
}

// New builds the handler. Call gin.SetMode before, once per process.
func New(cfg Config) (*Server, error) {
	if cfg.Accounts == nil || cfg.Catalog == nil {
		return nil, fmt.Errorf("web: Accounts and Catalog are required")
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if cfg.Registry == nil {
		cfg.Registry = prometheus.NewRegistry()
	}
	if cfg.SecureCookies == "" {
		cfg.SecureCookies = SecureAuto
	}
	if cfg.MaxBodyBytes <= 0 {
		cfg.MaxBodyBytes = 1 << 20
	}
	if cfg.SessionMaxAge <= 0 {
		cfg.SessionMaxAge = 60 * 24 * time.Hour
	}
	s := &Server{cfg: cfg}
	var err error
	if s.pages, err = parsePages(); err != nil {
		return nil, err
	}
	if s.assetVersion, err = hashStatic(); err != nil {
		return nil, err
	}
	static, err := fs.Sub(staticFiles, "static")
	if err != nil {
		return nil, err
	}
	s.gzipped = newStaticGzip(static)
	if s.metrics, err = newHTTPMetrics(cfg.Registry); err != nil {
		return nil, err
	}
	if cfg.Objects != nil {
		size := cfg.MediaCacheBytes
		if size == 0 {
			size = DefaultMediaCacheBytes
		}
		cache, err := newMediaCache(size, cfg.Registry)
		if err != nil {
			return nil, err
		}
		s.files = &objectServer{objects: cfg.Objects, bufs: newCopyBuffers(), cache: cache}
	}
	if err := s.routes(); err != nil {
		return nil, err
	}
	cop := http.NewCrossOriginProtection()
	cop.SetDenyHandler(http.HandlerFunc(s.denyCrossOrigin))
	s.handler = cop.Handler(s.engine)
	return s, nil
}

// ServeHTTP serves a request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	s.handler.ServeHTTP(w, r)
}

var pageNames = []string{"home", "register", "login", "account", "admin", "error", "schedule", "workshop_list", "workshop_edit", "room"}

func parsePages() (map[string]*template.Template, error) {
	pages := map[string]*template.Template{}
	for _, name := range pageNames {
		t, err := template.ParseFS(templateFiles, "templates/layout.html", "templates/"+name+".html")
		if err != nil {
			return nil, fmt.Errorf("web: parsing template %s: %w", name, err)
		}
		pages[name] = t
	}
	return pages, nil
}

// hashStatic fingerprints the static assets so that their URLs change when
// they do and browsers may cache them for long.
func hashStatic() (string, error) {
	h := sha256.New()
	err := fs.WalkDir(staticFiles, "static", func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := staticFiles.ReadFile(path)
		if err != nil {
			return err
		}
		h.Write([]byte(path))
		h.Write(b)
		return nil
	})
	if err != nil {
		return "", fmt.Errorf("web: hashing static files: %w", err)
	}
	return hex.EncodeToString(h.Sum(nil))[:12], nil
}

func (s *Server) routes() error {
	e := gin.New()
	e.HandleMethodNotAllowed = true
	e.RedirectTrailingSlash = true
	if err := e.SetTrustedProxies(s.cfg.TrustedProxies); err != nil {
		return fmt.Errorf("web: trusted proxies: %w", err)
	}
	e.Use(s.observe, s.recoverPanics, s.securityHeaders, s.limitBody, s.loadSession, s.chooseLanguage)

	e.GET("/healthz", s.healthz)
	e.HEAD("/healthz", s.healthz)
	e.GET("/readyz", s.readyz)
	e.GET("/metrics", s.serveMetrics)
	e.GET("/static/*file", s.serveStatic)
	e.HEAD("/static/*file", s.serveStatic)

	e.GET("/", s.home)
	e.GET("/lang/:code", s.switchLanguage)
	e.GET("/register", s.registerForm)
	e.POST("/register", s.register)
	e.GET("/login", s.loginForm)
	e.POST("/login", s.login)
	e.POST("/logout", s.logout)

	acct := e.Group("/account", s.requireLogin)
	acct.GET("", s.accountPage)
	acct.GET("/export", s.exportData)
	acct.POST("/language", s.saveLanguage)
	acct.POST("/password", s.changePassword)
	acct.POST("/logout-everywhere", s.logoutEverywhere)
	acct.POST("/request-multiplier", s.requestMultiplier)
	acct.POST("/delete", s.deleteAccount)

	admin := e.Group("/admin", s.requireLogin, s.requireRole(accounts.RoleAdmin))
	admin.GET("", s.adminPage)
	admin.POST("/accounts/:id/approve", s.adminApprove)
	admin.POST("/accounts/:id/decline", s.adminDecline)
	admin.POST("/accounts/:id/roles", s.adminRoles)

	api := e.Group("/api/v1")
	api.POST("/accounts", s.apiRegister)
	api.POST("/session", s.apiLogin)
	api.DELETE("/session", s.apiLogout)
	me := api.Group("/me", s.requireLogin)
	me.GET("", s.apiMe)
	me.GET("/export", s.exportData)
	me.POST("/logout-everywhere", s.apiLogoutEverywhere)
	me.DELETE("", s.apiDeleteMe)
	apiAdmin := api.Group("/admin", s.requireLogin, s.requireRole(accounts.RoleAdmin))
	apiAdmin.GET("/accounts", s.apiListAccounts)
	apiAdmin.POST("/accounts/:id/approve", s.apiApprove)
	apiAdmin.PUT("/accounts/:id/roles", s.apiSetRoles)

	if s.cfg.Rooms != nil && s.cfg.RoomSchedule != nil {
		s.roomRoutes(e)
	}
	if s.cfg.Workshops != nil {
		s.workshopRoutes(e)
	}
	if s.cfg.Uploads != nil {
		s.uploadRoutes(e)
	}
	if s.cfg.Mediathek != nil {
		if err := s.mediathekRoutes(e); err != nil {
			return err
		}
	}
	if s.cfg.Podcasts != nil && s.cfg.Mediathek != nil {
		if err := s.podcastRoutes(e); err != nil {
			return err
		}
	}

	if s.cfg.Courses != nil {
		if err := s.multiplierRoutes(e); err != nil {
			return err
		}
	}

	e.NoRoute(func(c *gin.Context) { s.fail(c, http.StatusNotFound, "not_found", "ErrNotFound") })
	e.NoMethod(func(c *gin.Context) {
		s.fail(c, http.StatusMethodNotAllowed, "method_not_allowed", "ErrMethodNotAllowed")
	})
	s.engine = e
	return nil
}
