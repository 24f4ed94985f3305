package main

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// config is every setting of portalo. Each one is an environment variable
// and a flag; the flag wins over the variable, the variable over the
// default.
type config struct {
	Addr            string
	DataDir         string
	RedisURL        string
	RedisPrefix     string
	S3Endpoint      string
	S3AccessKey     string
	S3SecretKey     string
	S3Bucket        string
	S3Region        string
	S3TLS           bool
	LogFormat       string
	LogLevel        string
	SecureCookies   string
	TrustedProxies  []string
	SessionIdle     time.Duration
	SessionMaxAge   time.Duration
	ShutdownTimeout time.Duration
	MediaUDPPort    int
	MediaTCPPort    int
	MediaListenIP   string
	MediaPublicIPs  []string
	TURNPort        int
	TURNSecret      string
	TURNURLs        []string
	DebugAddr       string
	MediaDelivery   string
	MediaCacheMB    int
	PublicURL       string
	DemoContent     bool
	AdaptProcs      bool
	// FixedProcs: GOMAXPROCS is set in the environment (to a number the
	// runtime takes), the operator's choice; AdaptProcs does not change it.
	FixedProcs bool
}

// setting describes one configuration value.
type setting struct {
	flag, env, def, usage string
	set                   func(string) error
}

func (c *config) settings() []setting {
	str := func(p *string) func(string) error {
		return func(v string) error { *p = v; return nil }
	}
	oneOf := func(p *string, allowed ...string) func(string) error {
		return func(v string) error {
			for _, a := range allowed {
				if v == a {
					*p = v
					return nil
				}
			}
			return fmt.Errorf("%q is not one of %s", v, strings.Join(allowed, ", "))
		}
	}
	boolean := func(p *bool) func(string) error {
		return func(v string) error {
			b, err := strconv.ParseBool(v)
			if err != nil {
				return fmt.Errorf("%q is not true or false", v)
			}
			*p = b
			return nil
		}
	}
	duration := func(p *time.Duration) func(string) error {
		return func(v string) error {
			d, err := time.ParseDuration(v)
			if err != nil || d <= 0 {
				return fmt.Errorf("%q is not a positive duration such as 90s, 15m or 336h", v)
			}
			*p = d
			return nil
		}
	}
	port := func(p *int, allowOff bool) func(string) error {
		return func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n > 65535 || n < 0 && !(allowOff && n == -1) {
				return fmt.Errorf("%q is not a port number (0-65535)", v)
			}
			*p = n
			return nil
		}
	}
	return []setting{
		{"addr", "PORTALO_ADDR", "127.0.0.1:8080", "address to listen on (host:port)", func(v string) error {
			if _, _, err := net.SplitHostPort(v); err != nil {
				return fmt.Errorf("%q is not host:port", v)
			}
			c.Addr = v
			return nil
		}},
		{"data-dir", "PORTALO_DATA_DIR", "./data", "directory for the embedded store and local objects", func(v string) error {
			if strings.TrimSpace(v) == "" {
				return errors.New("must not be empty")
			}
			c.DataDir = v
			return nil
		}},
		{"redis-url", "PORTALO_REDIS_URL", "", "Redis URL (redis://host:port/db); empty keeps state in the data directory", str(&c.RedisURL)},
		{"redis-prefix", "PORTALO_REDIS_PREFIX", "portalo:", "prefix of every Redis key", str(&c.RedisPrefix)},
		{"s3-endpoint", "PORTALO_S3_ENDPOINT", "", "MinIO/S3 endpoint (host:port); empty keeps objects in the data directory", str(&c.S3Endpoint)},
		{"s3-access-key", "PORTALO_S3_ACCESS_KEY", "", "MinIO/S3 access key", str(&c.S3AccessKey)},
		{"s3-secret-key", "PORTALO_S3_SECRET_KEY", "", "MinIO/S3 secret key", str(&c.S3SecretKey)},
		{"s3-bucket", "PORTALO_S3_BUCKET", "portalo", "MinIO/S3 bucket (created if missing)", str(&c.S3Bucket)},
		{"s3-region", "PORTALO_S3_REGION", "", "MinIO/S3 region (optional)", str(&c.S3Region)},
		{"s3-tls", "PORTALO_S3_TLS", "false", "use HTTPS to reach MinIO/S3", boolean(&c.S3TLS)},
		{"log-format", "PORTALO_LOG_FORMAT", "text", "log format: text or json", oneOf(&c.LogFormat, "text", "json")},
		{"log-level", "PORTALO_LOG_LEVEL", "info", "log level: debug, info, warn or error", oneOf(&c.LogLevel, "debug", "info", "warn", "error")},
		{"secure-cookies", "PORTALO_SECURE_COOKIES", "auto", "Secure cookies: auto (when the request came over HTTPS), always or never", oneOf(&c.SecureCookies, "auto", "always", "never")},
		{"trusted-proxies", "PORTALO_TRUSTED_PROXIES", "", "comma-separated addresses or CIDRs of reverse proxies whose X-Forwarded-* headers are believed", func(v string) error {
			c.TrustedProxies = nil
			for _, p := range strings.Split(v, ",") {
				p = strings.TrimSpace(p)
				if p == "" {
					continue
				}
				if net.ParseIP(p) == nil {
					if _, _, err := net.ParseCIDR(p); err != nil {
						return fmt.Errorf("%q is not an IP address or CIDR", p)
					}
				}
				c.TrustedProxies = append(c.TrustedProxies, p)
			}
			return nil
		}},
		{"session-idle", "PORTALO_SESSION_IDLE", "336h", "a session ends after this long without use", duration(&c.SessionIdle)},
		{"session-max-age", "PORTALO_SESSION_MAX_AGE", "1440h", "a session ends this long after login", duration(&c.SessionMaxAge)},
		{"media-udp-port", "PORTALO_MEDIA_UDP_PORT", "50000", "the one UDP port for all live-workshop media (0 picks a free one)", port(&c.MediaUDPPort, false)},
		{"media-tcp-port", "PORTALO_MEDIA_TCP_PORT", "50000", "ICE-TCP fallback port for networks that block UDP (0 picks a free one, -1 turns it off)", port(&c.MediaTCPPort, true)},
		{"media-listen-ip", "PORTALO_MEDIA_LISTEN_IP", "", "address the media ports bind to (empty: all)", func(v string) error {
			if v != "" && net.ParseIP(v) == nil {
				return fmt.Errorf("%q is not an IP address", v)
			}
			c.MediaListenIP = v
			return nil
		}},
		{"media-public-ip", "PORTALO_MEDIA_PUBLIC_IP", "", "public IP addresses (comma-separated) to announce for media behind 1:1 NAT", func(v string) error {
			c.MediaPublicIPs = nil
			for _, p := range strings.Split(v, ",") {
				if p = strings.TrimSpace(p); p == "" {
					continue
				}
				if net.ParseIP(p) == nil {
					return fmt.Errorf("%q is not an IP address", p)
				}
				c.MediaPublicIPs = append(c.MediaPublicIPs, p)
			}
			return nil
		}},
		{"turn-port", "PORTALO_TURN_PORT", "3478", "UDP port of the embedded TURN server for networks that block direct media (0 picks a free one, -1 turns it off)", port(&c.TURNPort, true)},
		{"turn-secret", "PORTALO_TURN_SECRET", "", "shared secret of the short-lived TURN credentials; empty: a random one per start (set it when several nodes or an external coturn share it)", str(&c.TURNSecret)},
		{"turn-urls", "PORTALO_TURN_URLS", "", "external TURN servers (comma-separated turn:/turns: URLs, coturn with use-auth-secret and PORTALO_TURN_SECRET); set, the embedded one is off", func(v string) error {
			c.TURNURLs = nil
			for _, u := range strings.Split(v, ",") {
				if u = strings.TrimSpace(u); u == "" {
					continue
				}
				if !strings.HasPrefix(u, "turn:") && !strings.HasPrefix(u, "turns:") {
					return fmt.Errorf("%q is not a turn: or turns: URL", u)
				}
				c.TURNURLs = append(c.TURNURLs, u)
			}
			return nil
		}},
		{"media-delivery", "PORTALO_MEDIA_DELIVERY", "proxy", "how mediathek files reach viewers: proxy (streamed through portalo) or redirect (a 302 to a short-lived presigned URL of the bucket; needs MinIO/S3 reachable by viewers)", oneOf(&c.MediaDelivery, "proxy", "redirect")},
		{"public-url", "PORTALO_PUBLIC_URL", "", "the address people reach portalo at (https://host, without a path), for the absolute URLs of podcast feeds and calendars; empty: taken from each request's Host", func(v string) error {
			v = strings.TrimRight(strings.TrimSpace(v), "/")
			if v != "" {
				u, err := url.Parse(v)
				if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || u.Path != "" || u.RawQuery != "" || u.Fragment != "" || u.User != nil {
					return fmt.Errorf("%q is not an address such as https://portalo.example", v)
				}
			}
			c.PublicURL = v
			return nil
		}},
		{"media-cache-mb", "PORTALO_MEDIA_CACHE_MB", "128", "memory (MB) for keeping small media files (segments, posters, subtitles) of processed items, which never change, so that popular videos are not fetched from the object store for every viewer; 0: off", func(v string) error {
			n, err := strconv.Atoi(v)
			if err != nil || n < 0 || n > 1<<20 {
				return fmt.Errorf("%q is not a size in MB (0 or more)", v)
			}
			c.MediaCacheMB = n
			return nil
		}},
		{"demo-content", "PORTALO_DEMO_CONTENT", "true", "on the first start with the embedded default (no Redis, no MinIO), make a few small demo items for the mediathek with ffmpeg", boolean(&c.DemoContent)},
		{"debug-addr", "PORTALO_DEBUG_ADDR", "", "address (host:port) for Go's profiler at /debug/pprof/, for operators measuring the server; keep it on localhost; empty: off", func(v string) error {
			if v != "" {
				if _, _, err := net.SplitHostPort(v); err != nil {
					return fmt.Errorf("%q is not host:port", v)
				}
			}
			c.DebugAddr = v
			return nil
		}},
		{"adapt-procs", "PORTALO_ADAPT_PROCS", "true", "run on as many processors as the load needs, up to Go's default (the machine's or the container's CPU limit); false: all of them all the time; setting GOMAXPROCS fixes the number", boolean(&c.AdaptProcs)},
		{"shutdown-timeout", "PORTALO_SHUTDOWN_TIMEOUT", "15s", "how long in-flight requests may take to finish on shutdown", duration(&c.ShutdownTimeout)},
	}
}

// parseConfig reads the settings from defaults, then getenv, then args. It
// returns the remaining arguments.
func parseConfig(name string, args []string, getenv func(string) string, out io.Writer) (config, []string, error) {
	var c config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(out)
	settings := c.settings()
	for _, s := range settings {
		if err := s.set(s.def); err != nil {
			return c, nil, fmt.Errorf("default of %s: %w", s.env, err)
		}
	}
	for _, s := range settings {
		if v, ok := lookup(getenv, s.env); ok {
			if err := s.set(v); err != nil {
				return c, nil, fmt.Errorf("invalid setting %s: %w", s.env, err)
			}
		}
		fs.Func(s.flag, s.usage+" (env "+s.env+", default "+quoteEmpty(s.def)+")", func(v string) error { return s.set(v) })
	}
	if err := fs.Parse(args); err != nil {
		return c, nil, err
	}
	// The runtime takes GOMAXPROCS when it is a positive number.
	if v, ok := lookup(getenv, "GOMAXPROCS"); ok {
		n, err := strconv.Atoi(v)
		c.FixedProcs = err == nil && n > 0
	}
	if err := c.validate(); err != nil {
		return c, nil, err
	}
	return c, fs.Args(), nil
}

func lookup(getenv func(string) string, key string) (string, bool) {
	v := getenv(key)
	return v, v != ""
}

func quoteEmpty(s string) string {
	if s == "" {
		return `""`
	}
	return s
}

// validate checks what single settings cannot check alone.
func (c config) validate() error {
	if c.S3Endpoint != "" {
		if c.S3AccessKey == "" {
			return errors.New("invalid setting PORTALO_S3_ACCESS_KEY: required when PORTALO_S3_ENDPOINT is set")
		}
		if c.S3SecretKey == "" {
			return errors.New("invalid setting PORTALO_S3_SECRET_KEY: required when PORTALO_S3_ENDPOINT is set")
		}
		if strings.Contains(c.S3Endpoint, "://") || strings.Contains(c.S3Endpoint, "/") {
			return fmt.Errorf("invalid setting PORTALO_S3_ENDPOINT: %q must be host:port without a scheme (use PORTALO_S3_TLS for HTTPS)", c.S3Endpoint)
		}
		if !validBucket(c.S3Bucket) {
			return fmt.Errorf("invalid setting PORTALO_S3_BUCKET: %q is not a valid bucket name (3-63 lowercase letters, digits, dots, hyphens)", c.S3Bucket)
		}
	}
	if c.RedisURL != "" && !strings.HasPrefix(c.RedisURL, "redis://") && !strings.HasPrefix(c.RedisURL, "rediss://") && !strings.HasPrefix(c.RedisURL, "unix://") {
		return fmt.Errorf("invalid setting PORTALO_REDIS_URL: %q must start with redis://, rediss:// or unix://", c.RedisURL)
	}
	if len(c.TURNURLs) > 0 && c.TURNSecret == "" {
		return errors.New("invalid setting PORTALO_TURN_SECRET: required with PORTALO_TURN_URLS (the secret the external TURN server checks)")
	}
	if c.SessionIdle > c.SessionMaxAge {
		return errors.New("invalid setting PORTALO_SESSION_IDLE: longer than PORTALO_SESSION_MAX_AGE")
	}
	return nil
}

func validBucket(b string) bool {
	if len(b) < 3 || len(b) > 63 {
		return false
	}
	for i, r := range b {
		ok := r >= 'a' && r <= 'z' || r >= '0' && r <= '9' || (r == '-' || r == '.') && i > 0 && i < len(b)-1
		if !ok {
			return false
		}
	}
	return true
}
