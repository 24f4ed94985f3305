package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/internal/testenv"
)

func TestMain(m *testing.M) {
	gin.SetMode(gin.ReleaseMode)
	os.Exit(m.Run())
}

func env(m map[string]string) func(string) string {
	return func(k string) string { return m[k] }
}

func TestConfig(t *testing.T) {
	cases := []struct {
		name    string
		env     map[string]string
		args    []string
		check   func(config) bool
		wantErr string
	}{
		{"defaults", nil, nil, func(c config) bool {
			return c.Addr == "127.0.0.1:8080" && c.DataDir == "./data" && c.RedisURL == "" && c.S3Bucket == "portalo" && c.LogFormat == "text" && c.SessionIdle == 336*time.Hour
		}, ""},
		{"env", map[string]string{"PORTALO_ADDR": "0.0.0.0:9000", "PORTALO_LOG_FORMAT": "json", "PORTALO_S3_TLS": "true"}, nil, func(c config) bool {
			return c.Addr == "0.0.0.0:9000" && c.LogFormat == "json" && c.S3TLS
		}, ""},
		{"flag wins over env", map[string]string{"PORTALO_ADDR": "0.0.0.0:9000", "PORTALO_DATA_DIR": "/env"}, []string{"-addr", "127.0.0.1:7000", "-data-dir=/flag"}, func(c config) bool {
			return c.Addr == "127.0.0.1:7000" && c.DataDir == "/flag"
		}, ""},
		{"trusted proxies", map[string]string{"PORTALO_TRUSTED_PROXIES": "10.0.0.1, 192.168.0.0/16"}, nil, func(c config) bool {
			return len(c.TrustedProxies) == 2 && c.TrustedProxies[1] == "192.168.0.0/16"
		}, ""},
		{"bad addr", map[string]string{"PORTALO_ADDR": "8080"}, nil, nil, "PORTALO_ADDR"},
		{"bad bool", map[string]string{"PORTALO_S3_TLS": "maybe"}, nil, nil, "PORTALO_S3_TLS"},
		{"bad log format", map[string]string{"PORTALO_LOG_FORMAT": "xml"}, nil, nil, "PORTALO_LOG_FORMAT"},
		{"bad duration", map[string]string{"PORTALO_SESSION_IDLE": "forever"}, nil, nil, "PORTALO_SESSION_IDLE"},
		{"bad proxy", map[string]string{"PORTALO_TRUSTED_PROXIES": "proxy.local"}, nil, nil, "PORTALO_TRUSTED_PROXIES"},
		{"s3 without key", map[string]string{"PORTALO_S3_ENDPOINT": "127.0.0.1:9000"}, nil, nil, "PORTALO_S3_ACCESS_KEY"},
		{"s3 with scheme", map[string]string{"PORTALO_S3_ENDPOINT": "http://minio:9000", "PORTALO_S3_ACCESS_KEY": "a", "PORTALO_S3_SECRET_KEY": "b"}, nil, nil, "PORTALO_S3_ENDPOINT"},
		{"bad bucket", map[string]string{"PORTALO_S3_ENDPOINT": "m:9000", "PORTALO_S3_ACCESS_KEY": "a", "PORTALO_S3_SECRET_KEY": "b", "PORTALO_S3_BUCKET": "Bad_Bucket"}, nil, nil, "PORTALO_S3_BUCKET"},
		{"bad redis url", map[string]string{"PORTALO_REDIS_URL": "localhost:6379"}, nil, nil, "PORTALO_REDIS_URL"},
		{"bad flag value", nil, []string{"-log-level", "loud"}, nil, "log-level"},
		{"unknown flag", nil, []string{"-colour", "blue"}, nil, "colour"},
		{"bad turn url", map[string]string{"PORTALO_TURN_URLS": "stun:x:3478", "PORTALO_TURN_SECRET": "s"}, nil, nil, "PORTALO_TURN_URLS"},
		{"bad debug addr", map[string]string{"PORTALO_DEBUG_ADDR": "6060"}, nil, nil, "PORTALO_DEBUG_ADDR"},
		{"debug addr", map[string]string{"PORTALO_DEBUG_ADDR": "127.0.0.1:6060"}, nil, func(c config) bool { return c.DebugAddr == "127.0.0.1:6060" }, ""},
		{"turn url without secret", map[string]string{"PORTALO_TURN_URLS": "turn:turn.example:3478"}, nil, nil, "PORTALO_TURN_SECRET"},
		{"bad media port", map[string]string{"PORTALO_MEDIA_UDP_PORT": "70000"}, nil, nil, "PORTALO_MEDIA_UDP_PORT"},
		{"public url", map[string]string{"PORTALO_PUBLIC_URL": "https://portalo.example/"}, nil, func(c config) bool { return c.PublicURL == "https://portalo.example" }, ""},
		{"public url with a path", map[string]string{"PORTALO_PUBLIC_URL": "https://portalo.example/app"}, nil, nil, "PORTALO_PUBLIC_URL"},
		{"public url without scheme", map[string]string{"PORTALO_PUBLIC_URL": "portalo.example"}, nil, nil, "PORTALO_PUBLIC_URL"},
		{"media cache", map[string]string{"PORTALO_MEDIA_CACHE_MB": "0"}, nil, func(c config) bool { return c.MediaCacheMB == 0 && mediaCacheBytes(0) < 0 }, ""},
		{"bad media cache", map[string]string{"PORTALO_MEDIA_CACHE_MB": "-5"}, nil, nil, "PORTALO_MEDIA_CACHE_MB"},
		{"processors adapt by default", nil, nil, func(c config) bool { return c.AdaptProcs && !c.FixedProcs }, ""},
		{"processors all the time", map[string]string{"PORTALO_ADAPT_PROCS": "false"}, nil, func(c config) bool { return !c.AdaptProcs }, ""},
		{"GOMAXPROCS fixes the processors", map[string]string{"GOMAXPROCS": "2"}, nil, func(c config) bool { return c.AdaptProcs && c.FixedProcs }, ""},
		{"GOMAXPROCS the runtime ignores", map[string]string{"GOMAXPROCS": "lots"}, nil, func(c config) bool { return c.AdaptProcs && !c.FixedProcs }, ""},
		{"bad adapt procs", map[string]string{"PORTALO_ADAPT_PROCS": "sometimes"}, nil, nil, "PORTALO_ADAPT_PROCS"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var out bytes.Buffer
			c, _, err := parseConfig("portalo", tc.args, env(tc.env), &out)
			if tc.wantErr != "" {
				if err == nil || !strings.Contains(err.Error()+out.String(), tc.wantErr) {
					t.Fatalf("err = %v (output %q), want it to name %s", err, out.String(), tc.wantErr)
				}
				return
			}
			if err != nil || !tc.check(c) {
				t.Fatalf("err %v, config %+v", err, c)
			}
		})
	}
}

// portal runs serve in the background on a free 127.0.0.1 port.
type portal struct {
	url    string
	stdout *lockedBuffer
	stop   context.CancelFunc
	done   chan error
}

type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}
func (l *lockedBuffer) String() string { l.mu.Lock(); defer l.mu.Unlock(); return l.b.String() }

func startPortal(t *testing.T, vars map[string]string) *portal {
	t.Helper()
	cfg, _, err := parseConfig("portalo", nil, env(vars), io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	p := &portal{url: "http://" + ln.Addr().String(), stdout: &lockedBuffer{}, stop: cancel, done: make(chan error, 1)}
	go func() { p.done <- serve(ctx, cfg, ln, p.stdout, io.Discard) }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get(p.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == 200 {
				break
			}
		}
		select {
		case err := <-p.done:
			t.Fatalf("portal stopped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatal("portal did not start")
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Cleanup(func() { p.shutdown(t) })
	return p
}

func (p *portal) shutdown(t *testing.T) {
	if p.stop == nil {
		return
	}
	p.stop()
	p.stop = nil
	select {
	case err := <-p.done:
		if err != nil {
			t.Errorf("serve returned %v", err)
		}
	case <-time.After(20 * time.Second):
		t.Error("portal did not stop")
	}
}

func backendVars(t *testing.T, name string) map[string]string {
	vars := map[string]string{"PORTALO_DATA_DIR": t.TempDir(), "PORTALO_MEDIA_UDP_PORT": "0", "PORTALO_MEDIA_TCP_PORT": "0", "PORTALO_MEDIA_LISTEN_IP": "127.0.0.1", "PORTALO_TURN_PORT": "0",
		"PORTALO_DEMO_CONTENT": "false"}
	if name == "servers" {
		s3 := testenv.MinIO(t)
		vars["PORTALO_REDIS_URL"] = testenv.RedisURL(t)
		vars["PORTALO_REDIS_PREFIX"] = fmt.Sprintf("cmdtest%d:", time.Now().UnixNano())
		vars["PORTALO_S3_ENDPOINT"] = s3.Endpoint
		vars["PORTALO_S3_ACCESS_KEY"] = s3.AccessKey
		vars["PORTALO_S3_SECRET_KEY"] = s3.SecretKey
		vars["PORTALO_S3_BUCKET"] = fmt.Sprintf("cmdtest-%d", time.Now().UnixNano())
	}
	return vars
}

// An account made on one run of the portal is there on the next: on the
// embedded default and on Redis + MinIO.
func TestStateSurvivesRestart(t *testing.T) {
	for _, name := range []string{"embedded", "servers"} {
		t.Run(name, func(t *testing.T) {
			vars := backendVars(t, name)
			p := startPortal(t, vars)
			out := p.stdout.String()
			if !strings.Contains(out, "portalo is running at "+p.url) || !strings.Contains(out, "admin create") {
				t.Fatalf("start-up message: %q", out)
			}
			resp, err := http.Get(p.url + "/readyz")
			if err != nil || resp.StatusCode != 200 {
				t.Fatalf("readyz: %v %v", err, resp)
			}
			resp.Body.Close()
			post(t, p.url+"/register", url.Values{"pseudonym": {"Vera"}, "password": {"long enough"}, "password_confirm": {"long enough"}}, http.StatusSeeOther)
			p.shutdown(t)

			p2 := startPortal(t, vars)
			post(t, p2.url+"/login", url.Values{"pseudonym": {"Vera"}, "password": {"long enough"}}, http.StatusSeeOther)
		})
	}
}

func post(t *testing.T, target string, vals url.Values, want int) {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	c := &http.Client{Jar: jar, CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
	resp, err := c.PostForm(target, vals)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != want {
		t.Fatalf("POST %s: %d, want %d: %s", target, resp.StatusCode, want, b)
	}
}

// Shutdown lets a request that is in flight finish.
func TestGracefulShutdown(t *testing.T) {
	p := startPortal(t, backendVars(t, "embedded"))
	// A slow client: it sends the headers now and the body later, so the
	// request is in flight when shutdown starts.
	conn, err := net.Dial("tcp", strings.TrimPrefix(p.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	body := "pseudonym=Wolf&password=long+enough&password_confirm=long+enough"
	fmt.Fprintf(conn, "POST /register HTTP/1.1\r\nHost: x\r\nContent-Type: application/x-www-form-urlencoded\r\nContent-Length: %d\r\n\r\n", len(body))
	time.Sleep(200 * time.Millisecond)
	stopped := make(chan struct{})
	go func() { p.shutdown(t); close(stopped) }()
	time.Sleep(300 * time.Millisecond)
	select {
	case <-stopped:
		t.Fatal("shutdown did not wait for the request in flight")
	default:
	}
	if _, err := io.WriteString(conn, body); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64)
	n, _ := conn.Read(buf)
	if !strings.HasPrefix(string(buf[:n]), "HTTP/1.1 303") {
		t.Fatalf("in-flight request got %q", buf[:n])
	}
	<-stopped
}

func TestAdminCreate(t *testing.T) {
	dir := t.TempDir()
	var out, errOut bytes.Buffer
	vars := map[string]string{"PORTALO_DATA_DIR": dir, "PORTALO_MEDIA_UDP_PORT": "0", "PORTALO_MEDIA_TCP_PORT": "0", "PORTALO_MEDIA_LISTEN_IP": "127.0.0.1", "PORTALO_TURN_PORT": "0"}
	err := run(context.Background(), []string{"admin", "create", "-pseudonym", "Chefin"}, env(vars), strings.NewReader("long enough\n"), &out, &errOut)
	if err != nil || !strings.Contains(out.String(), `Admin "Chefin" created`) {
		t.Fatalf("admin create: %v %s %s", err, out.String(), errOut.String())
	}
	err = run(context.Background(), []string{"admin", "create", "-pseudonym", "chefin"}, env(vars), strings.NewReader("long enough\n"), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "pseudonym taken") {
		t.Fatalf("duplicate admin: %v", err)
	}
	err = run(context.Background(), []string{"admin", "create", "-pseudonym", "Kurz"}, env(vars), strings.NewReader("short\n"), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "password too short") {
		t.Fatalf("short password: %v", err)
	}
	// The admin can log in to a portal on that data directory, and the
	// start-up message no longer asks for one.
	p := startPortal(t, vars)
	if strings.Contains(p.stdout.String(), "No admin account yet") {
		t.Fatal("start-up still asks for an admin")
	}
	post(t, p.url+"/login", url.Values{"pseudonym": {"Chefin"}, "password": {"long enough"}}, http.StatusSeeOther)
	// While the portal runs, the embedded store is locked: a clear error.
	err = run(context.Background(), []string{"admin", "create", "-pseudonym", "Zweite"}, env(map[string]string{"PORTALO_DATA_DIR": dir, "PORTALO_ADMIN_PASSWORD": "long enough"}), strings.NewReader(""), &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "in use") {
		t.Fatalf("admin create beside a running portal: %v", err)
	}
}

func TestInvalidSettingStopsStartup(t *testing.T) {
	var out, errOut bytes.Buffer
	err := run(context.Background(), nil, env(map[string]string{"PORTALO_LOG_FORMAT": "yaml"}), nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "PORTALO_LOG_FORMAT") {
		t.Fatalf("err = %v", err)
	}
	err = run(context.Background(), nil, env(map[string]string{"PORTALO_REDIS_URL": "redis://127.0.0.1:1/0", "PORTALO_DATA_DIR": t.TempDir()}), nil, &out, &errOut)
	if err == nil || !strings.Contains(err.Error(), "PORTALO_REDIS_URL") {
		t.Fatalf("unreachable Redis: %v", err)
	}
}

func TestTURNServersForClients(t *testing.T) {
	cases := []struct {
		name    string
		cfg     config
		host    string
		wantURL string // with PORT for the embedded server's port; empty: no servers
	}{
		{"embedded, host of the request", config{TURNPort: 0, MediaListenIP: "127.0.0.1"}, "portal.example", "turn:portal.example:PORT?transport=udp"},
		{"embedded behind 1:1 NAT", config{TURNPort: 0, MediaListenIP: "127.0.0.1", MediaPublicIPs: []string{"203.0.113.5"}}, "portal.example", "turn:203.0.113.5:PORT?transport=udp"},
		{"external coturn", config{TURNURLs: []string{"turns:turn.example:5349"}, TURNSecret: "s"}, "portal.example", "turns:turn.example:5349"},
		{"off", config{TURNPort: -1}, "portal.example", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			servers, stop, err := startTURN(tc.cfg, slog.New(slog.DiscardHandler))
			if err != nil {
				t.Fatal(err)
			}
			defer stop()
			if tc.wantURL == "" {
				if servers != nil {
					t.Fatalf("servers offered although TURN is off: %v", servers(tc.host))
				}
				return
			}
			got := servers(tc.host)
			if len(got) != 1 || len(got[0].URLs) == 0 {
				t.Fatalf("servers %+v", got)
			}
			url := got[0].URLs[0]
			if strings.Contains(tc.wantURL, "PORT") {
				// The embedded server also takes TURN over TCP, same port.
				if len(got[0].URLs) != 2 || got[0].URLs[1] != strings.TrimSuffix(url, "udp")+"tcp" {
					t.Fatalf("urls %q: want UDP and TCP on the same port", got[0].URLs)
				}
				if !strings.HasPrefix(url, strings.Split(tc.wantURL, "PORT")[0]) || !strings.HasSuffix(url, "?transport=udp") {
					t.Fatalf("url %q, want %q", url, tc.wantURL)
				}
			} else if url != tc.wantURL {
				t.Fatalf("url %q, want %q", url, tc.wantURL)
			}
			if !strings.Contains(got[0].Username, ":") || got[0].Credential == "" || strings.Contains(got[0].Username, "portal") {
				t.Fatalf("credentials %q/%q", got[0].Username, got[0].Credential)
			}
			// Two clients never share a credential.
			if again := servers(tc.host); again[0].Username == got[0].Username {
				t.Fatal("the same TURN username twice")
			}
		})
	}
}

// A newcomer's first start: the embedded default makes demo items, and the
// running binary serves them: the list API, the item page, and a master
// playlist that ffprobe (a client nobody here wrote) reads.
func TestFirstStartHasDemoMediathek(t *testing.T) {
	vars := backendVars(t, "embedded")
	vars["PORTALO_DEMO_CONTENT"] = "true"
	p := startPortal(t, vars)
	type item struct {
		Slug     string `json:"slug"`
		URL      string `json:"url"`
		Kind     string `json:"kind"`
		Versions []struct {
			Master string `json:"master"`
		} `json:"versions"`
	}
	var list struct {
		Items []item `json:"items"`
	}
	deadline := time.Now().Add(4 * time.Minute)
	for {
		resp, err := http.Get(p.url + "/api/v1/mediathek")
		if err != nil {
			t.Fatal(err)
		}
		list.Items = nil
		err = json.NewDecoder(resp.Body).Decode(&list)
		resp.Body.Close()
		if err != nil {
			t.Fatal(err)
		}
		if len(list.Items) >= 3 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("after 4 minutes the mediathek lists %d demo items, want 3", len(list.Items))
		}
		time.Sleep(time.Second)
	}
	var video *item
	for i, it := range list.Items {
		if it.Kind == "video" && len(it.Versions) > 0 && it.Versions[0].Master != "" {
			video = &list.Items[i]
		}
	}
	if video == nil {
		t.Fatalf("no demo video with a master playlist: %+v", list.Items)
	}
	resp, err := http.Get(p.url + video.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: %s", video.URL, resp.Status)
	}
	out, err := exec.Command("ffprobe", "-v", "error", "-show_entries", "stream=codec_type,height",
		"-of", "csv=p=0", p.url+video.Versions[0].Master).CombinedOutput()
	if err != nil {
		t.Fatalf("ffprobe: %v: %s", err, out)
	}
	if !strings.Contains(string(out), "video") || !strings.Contains(string(out), "audio") {
		t.Errorf("ffprobe found no video and audio renditions in the demo video:\n%s", out)
	}
	// The demo episode is in the demo series, whose feed offers it.
	var feed string
	for deadline := time.Now().Add(time.Minute); ; time.Sleep(time.Second) {
		resp, err := http.Get(p.url + "/podcasts/portalo-fragt-nach/feed.xml")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		feed = string(body)
		if resp.StatusCode == http.StatusOK && strings.Contains(feed, "<enclosure ") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the demo podcast feed: %s\n%s", resp.Status, feed)
		}
	}
	if !strings.Contains(feed, "podcast-gut-schlafen-folge-1") || !strings.Contains(feed, "<itunes:season>1</itunes:season>") {
		t.Errorf("the demo feed lacks the demo episode:\n%s", feed)
	}
}
