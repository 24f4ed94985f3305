// Command portalo runs the portalo portal: one binary that serves the pages,
// the API and (later) the live workshops and the mediathek.
//
// With no settings it keeps everything in a local data directory (./data)
// and needs no other server. With PORTALO_REDIS_URL its keyed state lives in
// Redis and with PORTALO_S3_ENDPOINT its objects live in MinIO, so several
// nodes can share them. `portalo admin create` makes an admin account.
package main

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"runtime/debug"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gin-gonic/gin"
	"github.com/prometheus/client_golang/prometheus"
	"golang.org/x/term"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/courses"
	"portalo/downloads"
	"portalo/internal/redact"
	"portalo/jobs"
	"portalo/media"
	"portalo/podcasts"
	"portalo/processing"
	"portalo/procs"
	"portalo/signaling"
	"portalo/store/blob"
	"portalo/store/blob/dirblob"
	"portalo/store/blob/s3blob"
	"portalo/store/kv"
	"portalo/store/kv/boltkv"
	"portalo/store/kv/rediskv"
	"portalo/upload"
	"portalo/web"
	"portalo/web/i18n"
	"portalo/workshops"
)

// defaultGCPercent is the garbage collector's target (GOGC) when the
// environment does not set one. The SFU holds about 0.2 MB per receiver
// and allocates little per packet, so collecting at 50 % growth instead of
// Go's 100 % costs little CPU (collection was 0.8 % of the CPU samples at
// 100 receivers with Go's default) and holds less memory per receiver
// (0.29 against 0.33 MB in a pair of runs at 200; deploy/sfu-bench.sh,
// see the README).
const defaultGCPercent = 50

func main() {
	gin.SetMode(gin.ReleaseMode)
	if _, set := os.LookupEnv("GOGC"); !set {
		debug.SetGCPercent(defaultGCPercent)
	}
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Getenv, os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "portalo:", err)
		}
		os.Exit(2)
	}
}

var errUsage = errors.New("usage")

// run is the whole program; main only supplies the process's environment.
func run(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	cmd := "serve"
	if len(args) > 0 && !strings.HasPrefix(args[0], "-") {
		cmd, args = args[0], args[1:]
	}
	switch cmd {
	case "serve":
		cfg, rest, err := parseConfig("portalo", args, getenv, stderr)
		if err != nil {
			return usageErr(err)
		}
		if len(rest) > 0 {
			return fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
		}
		return serve(ctx, cfg, nil, stdout, stderr)
	case "admin":
		if len(args) == 0 || args[0] != "create" {
			fmt.Fprintln(stderr, "usage: portalo admin create -pseudonym NAME [settings]\n  The password is read from PORTALO_ADMIN_PASSWORD or asked for on the terminal.")
			return errUsage
		}
		return adminCreate(ctx, args[1:], getenv, stdin, stdout, stderr)
	case "help", "-h", "--help":
		_, _, _ = parseConfig("portalo", []string{"-h"}, getenv, stderr)
		return nil
	}
	return fmt.Errorf("unknown command %q (commands: serve, admin create)", cmd)
}

func usageErr(err error) error {
	if errors.Is(err, flag.ErrHelp) {
		return nil
	}
	return err
}

// stores are the opened backends and how to close them.
type stores struct {
	kv      kv.Store
	blob    blob.Store
	kvName  string
	objName string
	closers []func() error
}

func (s *stores) Close() {
	for i := len(s.closers) - 1; i >= 0; i-- {
		_ = s.closers[i]()
	}
}

// openStores opens Redis or the embedded store, and MinIO or the local
// object directory, as the configuration says.
func openStores(ctx context.Context, cfg config) (*stores, error) {
	s := &stores{}
	needDir := cfg.RedisURL == "" || cfg.S3Endpoint == ""
	if needDir {
		if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
			return nil, fmt.Errorf("creating data directory %s (PORTALO_DATA_DIR): %w", cfg.DataDir, err)
		}
	}
	if cfg.RedisURL != "" {
		r, err := rediskv.Open(ctx, cfg.RedisURL, cfg.RedisPrefix)
		if err != nil {
			return nil, fmt.Errorf("connecting to Redis (PORTALO_REDIS_URL): %w", err)
		}
		s.kv, s.kvName = r, "redis"
		s.closers = append(s.closers, r.Close)
	} else {
		b, err := boltkv.Open(filepath.Join(cfg.DataDir, "state.db"))
		if err != nil {
			return nil, fmt.Errorf("opening the embedded store in %s (PORTALO_DATA_DIR): %w", cfg.DataDir, err)
		}
		s.kv, s.kvName = b, "embedded"
		s.closers = append(s.closers, b.Close)
	}
	if cfg.S3Endpoint != "" {
		o, err := s3blob.Open(ctx, s3blob.Config{
			Endpoint: cfg.S3Endpoint, AccessKey: cfg.S3AccessKey, SecretKey: cfg.S3SecretKey,
			Bucket: cfg.S3Bucket, Region: cfg.S3Region, TLS: cfg.S3TLS,
		})
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("connecting to MinIO (PORTALO_S3_ENDPOINT): %w", err)
		}
		s.blob, s.objName = o, "minio"
	} else {
		d, err := dirblob.Open(filepath.Join(cfg.DataDir, "objects"))
		if err != nil {
			s.Close()
			return nil, fmt.Errorf("opening the object directory in %s (PORTALO_DATA_DIR): %w", cfg.DataDir, err)
		}
		s.blob, s.objName = d, "local"
		s.closers = append(s.closers, d.Close)
	}
	return s, nil
}

func newLogger(cfg config, w io.Writer) *slog.Logger {
	var level slog.Level
	_ = level.UnmarshalText([]byte(cfg.LogLevel))
	opts := &slog.HandlerOptions{Level: level}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

func accountOptions(cfg config) accounts.Options {
	return accounts.Options{IdleTimeout: cfg.SessionIdle, MaxSessionAge: cfg.SessionMaxAge}
}

// serve runs the portal until ctx ends, then shuts down gracefully: it stops
// accepting, lets in-flight requests finish (up to the shutdown timeout) and
// closes the stores. ln may be nil to listen on cfg.Addr.
func serve(ctx context.Context, cfg config, ln net.Listener, stdout, stderr io.Writer) error {
	log := newLogger(cfg, stderr)
	st, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()

	// Deleting a trainer's account unassigns it from its workshops; ws is
	// set below, before the server can delete any account.
	// Deleting an account also unassigns it from the workshops it leads,
	// takes it off the courses' lists and revokes its private podcast
	// feed; the services are set below, before the server can delete any
	// account.
	var (
		ws   *workshops.Service
		cs   *courses.Service
		pods *podcasts.Service
	)
	acctOpt := accountOptions(cfg)
	acctOpt.BeforeDelete = append(acctOpt.BeforeDelete,
		func(ctx context.Context, id string) error { return ws.UnassignTrainer(ctx, id) },
		func(ctx context.Context, id string) error { return cs.ForgetAccount(ctx, id) },
		func(ctx context.Context, id string) error { return pods.RevokeFeedToken(ctx, id) },
	)
	acct, err := accounts.New(ctx, st.kv, acctOpt)
	if err != nil {
		return err
	}
	messages, err := i18n.Load()
	if err != nil {
		return err
	}
	isTrainer := func(ctx context.Context, id string) (bool, error) {
		a, err := acct.Get(ctx, id)
		if errors.Is(err, accounts.ErrNotFound) {
			return false, nil
		}
		return a.Has(accounts.RoleTrainer), err
	}
	ws = workshops.New(st.kv, workshops.Options{IsTrainer: isTrainer})
	cs = courses.New(st.kv, courses.Options{IsTrainer: isTrainer})
	pods = podcasts.New(st.kv, podcasts.Options{})
	sfu, err := media.New(media.Config{
		UDPPort: cfg.MediaUDPPort, TCPPort: cfg.MediaTCPPort,
		ListenIP: cfg.MediaListenIP, PublicIPs: cfg.MediaPublicIPs,
		Logger: log.With("component", "sfu"),
	})
	if err != nil {
		return fmt.Errorf("starting the media server (PORTALO_MEDIA_UDP_PORT, PORTALO_MEDIA_TCP_PORT): %w", err)
	}
	defer sfu.Close()
	iceServers, stopTURN, err := startTURN(cfg, log.With("component", "turn"))
	if err != nil {
		return err
	}
	defer stopTURN()
	stopDebug, err := startDebug(cfg.DebugAddr, log)
	if err != nil {
		return err
	}
	defer stopDebug()
	hub := signaling.NewHub(signaling.Config{
		Media:      signaling.SFU(sfu),
		Logger:     log.With("component", "signaling"),
		ICEServers: iceServers,
		OnEnd: func(roomID string) {
			// The moderator ended the room: the schedule shows it closed.
			workshopID, _, _ := strings.Cut(roomID, "@")
			if _, err := ws.EndRoom(context.WithoutCancel(ctx), workshopID, time.Now()); err != nil {
				log.Warn("marking a room ended", "err", err)
			}
		},
	})
	// The mediathek: its catalog, the processing of uploads on a job
	// queue, resumable uploads. Their loops run until bg ends, after the
	// HTTP server has stopped.
	bg, stopBG := context.WithCancel(context.WithoutCancel(ctx))
	var bgWG sync.WaitGroup
	goBG := func(f func()) {
		bgWG.Add(1)
		go func() {
			defer bgWG.Done()
			f()
		}()
	}
	defer func() {
		stopBG()
		bgWG.Wait()
	}()
	mediaCat, err := catalog.New(ctx, st.blob, st.kv, catalog.Options{Logger: log.With("component", "catalog")})
	if err != nil {
		return fmt.Errorf("loading the mediathek catalog: %w", err)
	}
	goBG(func() { mediaCat.Run(bg) })
	if cfg.AdaptProcs && !cfg.FixedProcs {
		goBG(func() { procs.Run(bg, procs.Options{Logger: log.With("component", "procs")}) })
	}
	queue := jobs.New(st.kv, jobs.Options{})
	tmpDir := filepath.Join(cfg.DataDir, "tmp")
	if err := os.MkdirAll(tmpDir, 0o750); err != nil {
		return fmt.Errorf("the processing directory in %s (PORTALO_DATA_DIR): %w", cfg.DataDir, err)
	}
	proc, err := processing.New(mediaCat, st.blob, st.kv, queue, processing.Options{
		TempDir: tmpDir, Logger: log.With("component", "processing"),
	})
	if err != nil {
		return err
	}
	worker := queue.NewWorker(proc.Handlers(), jobs.WorkerOptions{Logger: log.With("component", "jobs")})
	goBG(func() { worker.Run(bg) })
	uploads, err := upload.New(st.blob, st.kv, upload.Options{
		StagingDir: filepath.Join(cfg.DataDir, "uploads"), Logger: log.With("component", "upload"),
	})
	if err != nil {
		return err
	}
	goBG(func() { uploads.Run(bg) })
	if cfg.DemoContent && st.kvName == "embedded" && st.objName == "local" {
		// A newcomer's first start: a few small demo items (ffmpeg).
		goBG(func() {
			if _, err := processing.SeedDemo(bg, proc); err != nil && bg.Err() == nil {
				log.Warn("demo content for the mediathek", "err", err)
				return
			}
			if err := seedPodcastDemo(bg, pods, mediaCat); err != nil && bg.Err() == nil {
				log.Warn("demo content for the podcasts", "err", err)
			}
		})
		goBG(func() {
			if err := seedCourseDemo(bg, cs, time.Now()); err != nil && bg.Err() == nil {
				log.Warn("demo content for the courses", "err", err)
			}
		})
	}

	reg := prometheus.NewRegistry()
	srv, err := web.New(web.Config{
		Accounts: acct,
		Catalog:  messages,
		Logger:   log,
		Registry: reg,
		Ready: []web.Check{
			{Name: "state store (" + st.kvName + ")", Ping: st.kv.Ping},
			{Name: "object store (" + st.objName + ")", Ping: st.blob.Ping},
		},
		SecureCookies:   web.CookieSecurity(cfg.SecureCookies),
		TrustedProxies:  cfg.TrustedProxies,
		SessionMaxAge:   cfg.SessionMaxAge,
		Workshops:       ws,
		Rooms:           hub,
		RoomSchedule:    ws,
		Mediathek:       mediaCat,
		Objects:         st.blob,
		MediaDelivery:   cfg.MediaDelivery,
		MediaCacheBytes: mediaCacheBytes(cfg.MediaCacheMB),
		PublicURL:       cfg.PublicURL,
		Podcasts:        pods,
		Downloads:       downloads.New(st.kv, downloads.Options{}),
		Courses:         cs,
		MediaProgress:   proc,
		Uploads:         uploads,
		UploadHooks: web.UploadHooks{
			OnComplete: proc.OnUpload,
			ItemExists: func(ctx context.Context, id string) (bool, error) {
				_, err := mediaCat.Get(id)
				if errors.Is(err, catalog.ErrNotFound) {
					return false, nil
				}
				return err == nil, err
			},
		},
	})
	if err != nil {
		return err
	}
	if ln == nil {
		if ln, err = net.Listen("tcp", cfg.Addr); err != nil {
			return fmt.Errorf("listening on %s (PORTALO_ADDR): %w", cfg.Addr, err)
		}
	}
	httpSrv := &http.Server{
		Handler:           srv,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(redactingHandler{log.Handler()}, slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}

	fmt.Fprintf(stdout, "portalo is running at http://%s\n", displayAddr(ln.Addr()))
	fmt.Fprintf(stdout, "  state: %s, objects: %s", st.kvName, st.objName)
	if st.kvName == "embedded" || st.objName == "local" {
		abs, _ := filepath.Abs(cfg.DataDir)
		fmt.Fprintf(stdout, " (data directory %s)", abs)
	}
	fmt.Fprintln(stdout)
	if has, err := acct.HasAdmin(ctx); err == nil && !has {
		fmt.Fprintln(stdout, "  No admin account yet. Create the first one with:")
		fmt.Fprintln(stdout, "    go run ./cmd/portalo admin create -pseudonym NAME")
		if st.kvName == "embedded" {
			fmt.Fprintln(stdout, "  (stop this server first: the embedded store allows one process at a time)")
		}
	}
	log.Info("portalo started", "addr", ln.Addr().String(), "state", st.kvName, "objects", st.objName)

	errc := make(chan error, 1)
	go func() { errc <- httpSrv.Serve(ln) }()
	select {
	case err := <-errc:
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down; letting in-flight requests finish", "timeout", cfg.ShutdownTimeout)
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	if err := httpSrv.Shutdown(sctx); err != nil {
		log.Warn("shutdown did not finish in time", "err", err)
	}
	// Live rooms' WebSockets are hijacked connections Shutdown does not
	// wait for: close them (clients reconnect to another node or later).
	if err := hub.Close(sctx); err != nil {
		log.Warn("closing live rooms did not finish in time", "err", err)
	}
	<-errc
	log.Info("portalo stopped")
	return nil
}

func displayAddr(a net.Addr) string {
	tcp, ok := a.(*net.TCPAddr)
	if ok && (tcp.IP.IsUnspecified()) {
		return fmt.Sprintf("localhost:%d", tcp.Port)
	}
	return a.String()
}

// adminCreate makes an account with the admin role.
func adminCreate(ctx context.Context, args []string, getenv func(string) string, stdin io.Reader, stdout, stderr io.Writer) error {
	var pseudonym string
	cfgArgs := make([]string, 0, len(args))
	for i := 0; i < len(args); i++ {
		a := args[i]
		switch {
		case a == "-pseudonym" || a == "--pseudonym":
			if i+1 >= len(args) {
				return errors.New("-pseudonym needs a value")
			}
			pseudonym = args[i+1]
			i++
		case strings.HasPrefix(a, "-pseudonym=") || strings.HasPrefix(a, "--pseudonym="):
			pseudonym = a[strings.Index(a, "=")+1:]
		default:
			cfgArgs = append(cfgArgs, a)
		}
	}
	if pseudonym == "" {
		return errors.New("admin create: -pseudonym NAME is required")
	}
	cfg, rest, err := parseConfig("portalo admin create", cfgArgs, getenv, stderr)
	if err != nil {
		return usageErr(err)
	}
	if len(rest) > 0 {
		return fmt.Errorf("unexpected arguments: %s", strings.Join(rest, " "))
	}
	password := getenv("PORTALO_ADMIN_PASSWORD")
	if password == "" {
		if password, err = readPassword(stdin, stderr); err != nil {
			return err
		}
	}
	st, err := openStores(ctx, cfg)
	if err != nil {
		return err
	}
	defer st.Close()
	svc, err := accounts.New(ctx, st.kv, accountOptions(cfg))
	if err != nil {
		return err
	}
	a, err := svc.CreateAdmin(ctx, pseudonym, password)
	var ie *accounts.InputError
	if errors.As(err, &ie) {
		return fmt.Errorf("admin create: %s (%s)", ie.Field, strings.ReplaceAll(ie.Code, "_", " "))
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "Admin %q created. Log in at /login.\n", a.Pseudonym)
	return nil
}

// readPassword asks for the password on a terminal without echo, or reads
// one line from a pipe.
func readPassword(stdin io.Reader, stderr io.Writer) (string, error) {
	if f, ok := stdin.(*os.File); ok && term.IsTerminal(int(f.Fd())) {
		fmt.Fprint(stderr, "Password for the admin (at least 8 characters): ")
		b, err := term.ReadPassword(int(f.Fd()))
		fmt.Fprintln(stderr)
		if err != nil {
			return "", fmt.Errorf("reading password: %w", err)
		}
		return string(b), nil
	}
	line, err := bufio.NewReader(stdin).ReadString('\n')
	if err != nil && line == "" {
		return "", errors.New("admin create: no password given (set PORTALO_ADMIN_PASSWORD or type it when asked)")
	}
	return strings.TrimRight(line, "\r\n"), nil
}

// redactingHandler removes IP addresses from net/http's own error lines
// (such as "TLS handshake error from 203.0.113.9:5123") before logging.
type redactingHandler struct{ slog.Handler }

func (h redactingHandler) Handle(ctx context.Context, r slog.Record) error {
	nr := slog.NewRecord(r.Time, r.Level, redact.Addresses(r.Message), r.PC)
	r.Attrs(func(a slog.Attr) bool { nr.AddAttrs(a); return true })
	return h.Handler.Handle(ctx, nr)
}

// turnCredentialTTL is how long a client's TURN credentials last: a
// workshop, its extensions and reconnects.
const turnCredentialTTL = 4 * time.Hour

// startTURN starts the embedded TURN server (unless external ones are
// configured or it is turned off) and returns what clients are told.
func startTURN(cfg config, log *slog.Logger) (func(host string) []signaling.ICEServer, func(), error) {
	secret := cfg.TURNSecret
	if secret == "" {
		b := make([]byte, 32)
		if _, err := rand.Read(b); err != nil {
			return nil, nil, err
		}
		secret = hex.EncodeToString(b)
	}
	urls := cfg.TURNURLs
	stop := func() {}
	if len(urls) == 0 {
		if cfg.TURNPort < 0 {
			return nil, stop, nil
		}
		relayIP := cfg.MediaListenIP
		if len(cfg.MediaPublicIPs) > 0 {
			relayIP = cfg.MediaPublicIPs[0]
		}
		srv, err := media.NewTURN(media.TURNConfig{Port: cfg.TURNPort, ListenIP: cfg.MediaListenIP, RelayIP: relayIP, Secret: secret, Logger: log})
		if err != nil {
			return nil, nil, fmt.Errorf("starting the TURN server (PORTALO_TURN_PORT): %w", err)
		}
		stop = func() { _ = srv.Close() }
		port := srv.Addr().Port
		return func(host string) []signaling.ICEServer {
			if len(cfg.MediaPublicIPs) > 0 {
				host = cfg.MediaPublicIPs[0]
			}
			if strings.Contains(host, ":") {
				host = "[" + host + "]"
			}
			user, pass := media.TURNCredentials(secret, randomTag(), turnCredentialTTL, time.Now())
			return []signaling.ICEServer{{URLs: []string{
				fmt.Sprintf("turn:%s:%d?transport=udp", host, port),
				fmt.Sprintf("turn:%s:%d?transport=tcp", host, port),
			}, Username: user, Credential: pass}}
		}, stop, nil
	}
	return func(string) []signaling.ICEServer {
		user, pass := media.TURNCredentials(secret, randomTag(), turnCredentialTTL, time.Now())
		return []signaling.ICEServer{{URLs: urls, Username: user, Credential: pass}}
	}, stop, nil
}

// randomTag names a TURN credential without naming the person.
func randomTag() string {
	b := make([]byte, 6)
	_, _ = rand.Read(b)
	return hex.EncodeToString(b)
}

// mediaCacheBytes turns the media cache setting (MB, 0: off) into
// web.Config's (bytes, < 0: off).
func mediaCacheBytes(mb int) int64 {
	if mb == 0 {
		return -1
	}
	return int64(mb) << 20
}
