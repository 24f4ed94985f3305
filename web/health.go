package web

import (
	"context"
	"io/fs"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"portalo/web/i18n"
)

// healthz answers while the process runs.
func (s *Server) healthz(c *gin.Context) {
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"status": "ok"})
}

// readyz asks every dependency, in parallel with a short timeout, and names
// those that do not answer.
func (s *Server) readyz(c *gin.Context) {
	ctx, cancel := context.WithTimeout(c.Request.Context(), 2*time.Second)
	defer cancel()
	failing := make([]string, len(s.cfg.Ready))
	var wg sync.WaitGroup
	for i, chk := range s.cfg.Ready {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := chk.Ping(ctx); err != nil {
				failing[i] = chk.Name + ": " + err.Error()
			}
		}()
	}
	wg.Wait()
	var bad []string
	for _, f := range failing {
		if f != "" {
			bad = append(bad, f)
		}
	}
	c.Header("Cache-Control", "no-store")
	if len(bad) > 0 {
		c.JSON(http.StatusServiceUnavailable, gin.H{"status": "unavailable", "failing": bad})
		return
	}
	c.JSON(http.StatusOK, gin.H{"status": "ready"})
}

func (s *Server) serveMetrics(c *gin.Context) {
	promhttp.HandlerFor(s.cfg.Registry, promhttp.HandlerOpts{}).ServeHTTP(c.Writer, c.Request)
}

// serveStatic serves the embedded assets. URLs carry the assets' version
// (?v=...), so versioned requests may be cached for a year.
func (s *Server) serveStatic(c *gin.Context) {
	sub, _ := fs.Sub(staticFiles, "static")
	name := strings.TrimPrefix(c.Param("file"), "/")
	if name == "" || strings.HasSuffix(name, "/") {
		s.fail(c, http.StatusNotFound, "not_found", "ErrNotFound")
		return
	}
	if _, err := fs.Stat(sub, name); err != nil {
		s.fail(c, http.StatusNotFound, "not_found", "ErrNotFound")
		return
	}
	if c.Query("v") == s.assetVersion {
		c.Header("Cache-Control", "public, max-age=31536000, immutable")
	} else {
		c.Header("Cache-Control", "public, max-age=300")
	}
	if s.gzipped.serve(c.Writer, c.Request, name, time.Time{}) {
		return
	}
	c.FileFromFS(name, http.FS(sub))
}

// httpMetrics counts requests by route and status.
type httpMetrics struct {
	requests *prometheus.CounterVec
	duration *prometheus.HistogramVec
}

func newHTTPMetrics(reg *prometheus.Registry) (*httpMetrics, error) {
	m := &httpMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "portalo_http_requests_total", Help: "HTTP requests by method, route and status.",
		}, []string{"method", "route", "status"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "portalo_http_request_duration_seconds", Help: "HTTP request duration by method and route.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"method", "route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	// The Go and process collectors may already be registered by the
	// caller; a duplicate is fine.
	for _, c := range []prometheus.Collector{collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		if err := reg.Register(c); err != nil {
			if _, dup := err.(prometheus.AlreadyRegisteredError); !dup {
				return nil, err
			}
		}
	}
	return m, nil
}

func (m *httpMetrics) observe(method, route string, status int, d time.Duration) {
	m.requests.WithLabelValues(method, route, strconv.Itoa(status)).Inc()
	m.duration.WithLabelValues(method, route).Observe(d.Seconds())
}

func languageOrDefault(code string) string {
	if l, ok := i18n.Lookup(code); ok {
		return l.Code
	}
	return i18n.Default
}
