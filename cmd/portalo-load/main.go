// Command portalo-load is the SFU benchmark (issue 3): against a running
// portalo it connects one publisher (the trainer, a looped 720p VP8 clip at
// about 1.5 Mbit/s, 30 fps, one layer without simulcast, plus Opus) and N
// subscribers (viewers that count RTP packets without decoding), then
// measures the server process's CPU and memory per subscriber.
//
//	go run ./cmd/portalo-load -url http://127.0.0.1:8080 -admin NAME -admin-password PW -subscribers 50
//
// Setup goes through the HTTP API: the admin logs in, the accounts
// "load-trainer" and "load-viewer" are logged in (registered the first
// time; registration is rate limited, so they are reused, and all
// subscribers share the viewer's session, each with its own WebSocket),
// the trainer gets the trainer role and a new workshop that started two
// minutes ago (Berlin time) makes a room that is open.
//
// The server process is -pid, or else the process listening on the TCP
// port of -url (found through /proc/net/tcp and /proc/*/fd; it must be
// visible to this user). CPU is utime+stime from /proc/PID/stat, sampled at
// the start and the end of the -duration window that begins -warmup after
// every subscriber joined. Memory is VmRSS from /proc/PID/status: the RSS
// per subscriber is the median RSS during the window minus the lowest RSS
// seen during -baseline with only the publisher connected (when the Go
// runtime has returned its start-up memory); the publisher-only CPU is
// measured over -baseline too.
//
// All media stays on 127.0.0.1. The last line of the output is
//
//	subscribers=N server_cpu_ms_per_sub=X server_rss_mb_per_sub=Y loss_pct=Z join_p95_ms=W
//
// and the exit status is non-zero if a subscriber failed to join or got no
// video.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"time"
)

type options struct {
	url         string
	admin       string
	adminPW     string
	accountPW   string
	subscribers int
	duration    time.Duration
	warmup      time.Duration
	baseline    time.Duration
	settle      time.Duration
	debugURL    string
	pid         int
	clip        string
	concurrency int
	joinTimeout time.Duration
	profile     string // CPU profile of the window, through debugURL
	baseProfile string // CPU profile of the baseline
}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

func run(args []string, stdout, stderr io.Writer) int {
	var o options
	fs := flag.NewFlagSet("portalo-load", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "base URL of the running portalo")
	fs.StringVar(&o.admin, "admin", "", "pseudonym of an admin account (required)")
	fs.StringVar(&o.adminPW, "admin-password", os.Getenv("PORTALO_ADMIN_PASSWORD"), "the admin's password (default $PORTALO_ADMIN_PASSWORD)")
	fs.StringVar(&o.accountPW, "account-password", "portalo-load-password", "password of the load-trainer and load-viewer accounts")
	fs.IntVar(&o.subscribers, "subscribers", 10, "number of subscribers")
	fs.DurationVar(&o.duration, "duration", 30*time.Second, "measurement window after all subscribers joined and the warmup")
	fs.DurationVar(&o.warmup, "warmup", 5*time.Second, "wait after all subscribers joined before measuring")
	fs.StringVar(&o.debugURL, "debug-url", "", "the server's profiler address (PORTALO_DEBUG_ADDR, e.g. http://127.0.0.1:6060): a garbage collection there before the RSS baseline")
	fs.DurationVar(&o.settle, "settle", 90*time.Second, "longest wait for the server's RSS to stop falling before the baseline (0 skips it)")
	fs.DurationVar(&o.baseline, "baseline", 10*time.Second, "publisher-only CPU measurement before the subscribers join (0 skips it)")
	fs.IntVar(&o.pid, "pid", 0, "PID of the portalo server process (default: the process listening on the port of -url)")
	fs.StringVar(&o.clip, "clip", "", "directory with clip.ivf and audio.ogg (generated with ffmpeg if missing; default a cache directory)")
	fs.IntVar(&o.concurrency, "concurrency", 10, "subscribers connecting at the same time")
	fs.DurationVar(&o.joinTimeout, "join-timeout", 20*time.Second, "per subscriber: from dialing to the first video packet")
	fs.StringVar(&o.profile, "profile", "", "save a CPU profile of the server taken over the measurement window to this file (needs -debug-url)")
	fs.StringVar(&o.baseProfile, "baseline-profile", "", "save a CPU profile of the server taken over the publisher-only baseline to this file (needs -debug-url)")
	fs.BoolVar(&verbose, "v", false, "log signaling (SDP, candidates) and ICE states")
	if err := fs.Parse(args); err != nil {
		return 2
	}
	if o.admin == "" || o.adminPW == "" || o.subscribers < 1 || o.duration <= 0 || o.concurrency < 1 {
		fmt.Fprintln(stderr, "portalo-load: -admin, -admin-password (or PORTALO_ADMIN_PASSWORD), -subscribers ≥ 1, -duration > 0 and -concurrency ≥ 1 are required")
		return 2
	}
	if (o.profile != "" || o.baseProfile != "") && o.debugURL == "" {
		fmt.Fprintln(stderr, "portalo-load: -profile and -baseline-profile need -debug-url")
		return 2
	}
	if err := checkLoopback(o.url); err != nil {
		fmt.Fprintln(stderr, "portalo-load:", err)
		return 2
	}
	// Bounded total runtime: setup, joining in waves, warmup, window,
	// cleanup, with slack.
	waves := (o.subscribers + o.concurrency - 1) / o.concurrency
	limit := 2*time.Minute + time.Duration(waves)*o.joinTimeout + o.warmup + o.duration + o.baseline + o.settle
	ctx, cancel := context.WithTimeout(context.Background(), limit)
	defer cancel()
	watchdog := time.AfterFunc(limit+30*time.Second, func() {
		fmt.Fprintf(stderr, "portalo-load: still running after %s: giving up\n", limit+30*time.Second)
		os.Exit(3)
	})
	defer watchdog.Stop()
	code, err := bench(ctx, o, stdout, stderr)
	if err != nil {
		fmt.Fprintln(stderr, "portalo-load:", err)
		if code == 0 {
			code = 1
		}
	}
	return code
}

// checkLoopback refuses a -url that is not on 127.0.0.1 (or localhost):
// the benchmark must not send anything elsewhere.
func checkLoopback(raw string) error {
	u, err := url.Parse(raw)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return fmt.Errorf("-url %q: want http://127.0.0.1:PORT", raw)
	}
	h := u.Hostname()
	if h == "localhost" {
		return nil
	}
	if ip := net.ParseIP(h); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-url %q: only loopback addresses are allowed", raw)
	}
	return nil
}

// serverPID returns -pid, checked to be the process listening on the
// port of -url (a wrapper such as `go run` or a shell would give wrong
// figures), or that process when -pid is not given.
func serverPID(o options) (string, error) {
	u, _ := url.Parse(o.url)
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	}
	p, _ := strconv.Atoi(port)
	listener, err := findListener(p)
	if o.pid <= 0 {
		return listener, err
	}
	pid := strconv.Itoa(o.pid)
	if err == nil && listener != pid {
		return "", fmt.Errorf("-pid %s does not listen on port %d, process %s does (a wrapper such as `go run`? measure the server itself)", pid, p, listener)
	}
	return pid, nil
}

func bench(ctx context.Context, o options, stdout, stderr io.Writer) (int, error) {
	logf := func(format string, a ...any) {
		fmt.Fprintf(stderr, "%s "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
	}
	pid, err := serverPID(o)
	if err != nil {
		return 2, fmt.Errorf("server process: %w", err)
	}
	if _, err := sampleProc(pid); err != nil {
		return 2, fmt.Errorf("server process %s: %w", pid, err)
	}
	clipDir := o.clip
	if clipDir == "" {
		cache, err := os.UserCacheDir()
		if err != nil {
			cache = os.TempDir()
		}
		clipDir = filepath.Join(cache, "portalo-load")
	}
	vPath, aPath, err := ensureClip(ctx, clipDir)
	if err != nil {
		return 2, fmt.Errorf("clip: %w", err)
	}
	cl, err := loadClip(vPath, aPath)
	if err != nil {
		return 2, err
	}
	clipKbps := float64(cl.videoBytes) * 8 / (float64(len(cl.video)) * cl.frameDur.Seconds()) / 1000
	logf("clip: %d VP8 frames (%d keyframes, %.0f fps, %.0f kbit/s), %d Opus packets; server PID %s",
		len(cl.video), len(cl.keyframes), 1/cl.frameDur.Seconds(), clipKbps, len(cl.audio), pid)

	st, err := setup(ctx, o.url, o.admin, o.adminPW, o.accountPW)
	if err != nil {
		return 2, fmt.Errorf("setup: %w", err)
	}
	logf("setup: trainer %s, viewer %s, workshop %s", st.trainer.id, st.viewer.id, st.workshopID)
	defer func() {
		if err := st.deleteWorkshop(); err != nil {
			logf("deleting workshop %s: %v", st.workshopID, err)
		}
	}()

	api, err := newAPI()
	if err != nil {
		return 2, err
	}
	sendCtx, stopSending := context.WithCancel(ctx)
	defer stopSending()
	pubCtx, pubCancel := context.WithTimeout(ctx, 20*time.Second)
	pub, err := startPublisher(pubCtx, sendCtx, o.url, st.workshopID, st.trainer, api, cl)
	pubCancel()
	if err != nil {
		return 1, fmt.Errorf("publisher: %w", err)
	}
	defer func() {
		stopSending()
		pub.stop()
	}()

	// Baseline: the publisher alone.
	if err := sleep(ctx, time.Second); err != nil {
		return 1, err
	}
	base0, err := sampleProc(pid)
	if err != nil {
		return 1, err
	}
	// Logging in hashes passwords with argon2 (64 MiB each): the Go
	// runtime gives that memory back to the system over tens of seconds.
	// Wait for the RSS to settle before taking the baseline.
	if o.settle > 0 {
		if o.debugURL != "" {
			// A garbage collection lets the runtime return that memory
			// (Go's profiler runs one before a heap profile).
			if err := forceGC(ctx, o.debugURL); err != nil {
				return 1, err
			}
		}
		settled, err := settleRSS(ctx, pid, o.settle)
		if err != nil {
			return 1, err
		}
		logf("server RSS settled at %.1f MB", mb(settled))
		if base0, err = sampleProc(pid); err != nil {
			return 1, err
		}
	}
	baseCPU := 0.0
	baseRSS := base0.rss
	if o.baseline > 0 {
		// The lowest RSS seen: the Go runtime returns start-up memory to
		// the system over several seconds.
		prof := startProfile(ctx, o.debugURL, o.baseProfile, o.baseline)
		rss, err := sampleRSS(ctx, pid, o.baseline, 250*time.Millisecond)
		if err != nil {
			return 1, err
		}
		if err := prof(); err != nil {
			return 1, err
		}
		b1, err := sampleProc(pid)
		if err != nil {
			return 1, err
		}
		baseCPU = cpuMsPerSec(base0, b1)
		base0 = b1
		baseRSS = slices.Min(rss)
	}
	logf("publisher up; server RSS %.1f MB, CPU %.1f ms/s with the publisher alone", mb(baseRSS), baseCPU)

	// Subscribers, o.concurrency at a time.
	subs := make([]*subscriber, o.subscribers)
	errs := make([]error, o.subscribers)
	sem := make(chan struct{}, o.concurrency)
	var wg sync.WaitGroup
	joinStart := time.Now()
	for i := range subs {
		sem <- struct{}{}
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			sctx, cancel := context.WithTimeout(ctx, o.joinTimeout)
			defer cancel()
			subs[i], errs[i] = connectSubscriber(sctx, i+1, o.url, st.workshopID, st.viewer.jar, api)
		}()
	}
	wg.Wait()
	defer func() {
		// Close the subscribers, o.concurrency at a time.
		var cw sync.WaitGroup
		for _, s := range subs {
			sem <- struct{}{}
			cw.Add(1)
			go func() {
				defer cw.Done()
				defer func() { <-sem }()
				s.close()
			}()
		}
		cw.Wait()
	}()
	failed := 0
	for i, e := range errs {
		if e != nil {
			failed++
			if failed <= 10 {
				logf("subscriber %d failed: %v", i+1, e)
			}
		}
	}
	logf("%d subscribers joined in %s, %d failed", o.subscribers-failed, time.Since(joinStart).Round(time.Millisecond), failed)

	if err := sleep(ctx, o.warmup); err != nil {
		return 1, err
	}
	srv0, err := sampleProc(pid)
	if err != nil {
		return 1, err
	}
	self0, _ := sampleProc("self")
	snap0 := make([]subSnapshot, len(subs))
	for i, s := range subs {
		snap0[i] = s.snapshot()
	}
	logf("measuring for %s", o.duration)
	prof := startProfile(ctx, o.debugURL, o.profile, o.duration)
	windowRSS, err := sampleRSS(ctx, pid, o.duration, time.Second)
	if err != nil {
		return 1, err
	}
	if err := prof(); err != nil {
		return 1, err
	}
	srv1, err := sampleProc(pid)
	if err != nil {
		return 1, err
	}
	self1, _ := sampleProc("self")
	snap1 := make([]subSnapshot, len(subs))
	for i, s := range subs {
		snap1[i] = s.snapshot()
	}

	r := report{
		n: o.subscribers, failed: failed, window: o.duration,
		pubPLIs: pub.plis.Load(), pubNACKs: pub.nacks.Load(), pubTWCCs: pub.twccs.Load(),
		clipKbps: clipKbps, baseCPU: baseCPU,
		srvBase: base0, srv0: srv0, srv1: srv1, self0: self0, self1: self1,
		baseRSS: baseRSS, windowRSS: percentileU(windowRSS, 50), windowRSSMax: slices.Max(windowRSS),
	}
	for i, s := range subs {
		if errs[i] == nil {
			r.joinMs = append(r.joinMs, float64(s.joinTime)/float64(time.Millisecond))
		}
		a, b := snap0[i], snap1[i]
		secs := b.at.Sub(a.at).Seconds()
		r.videoKbps = append(r.videoKbps, float64(b.vBytes-a.vBytes)*8/secs/1000)
		r.audioKbps = append(r.audioKbps, float64(b.aBytes-a.aBytes)*8/secs/1000)
		ve, vl := b.vExpected-a.vExpected, int64(b.vLost)-int64(a.vLost)
		ae, al := b.aExpected-a.aExpected, int64(b.aLost)-int64(a.aLost)
		vl, al = max(vl, 0), max(al, 0)
		r.videoLossPct = append(r.videoLossPct, pct(float64(vl), float64(ve)))
		r.expected += ve + ae
		r.lost += uint64(vl + al)
		if b.vPackets == a.vPackets {
			r.noVideo++
		}
	}
	r.print(stdout)
	if failed > 0 || r.noVideo > 0 {
		return 1, fmt.Errorf("%d subscribers failed to join, %d received no video in the window", failed, r.noVideo)
	}
	return 0, nil
}

// startProfile starts fetching a CPU profile of d from the server's
// profiler into file (nothing when file is empty); the returned function
// waits for it.
func startProfile(ctx context.Context, debugURL, file string, d time.Duration) func() error {
	if file == "" {
		return func() error { return nil }
	}
	done := make(chan error, 1)
	go func() {
		done <- fetchProfile(ctx, debugURL, file, d)
	}()
	return func() error { return <-done }
}

func fetchProfile(ctx context.Context, debugURL, file string, d time.Duration) error {
	body, err := debugGet(ctx, debugURL, fmt.Sprintf("/debug/pprof/profile?seconds=%d", max(int(d/time.Second), 1)), "CPU profile")
	if err != nil {
		return err
	}
	defer body.Close()
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if _, err := io.Copy(f, body); err != nil {
		f.Close()
		return fmt.Errorf("CPU profile: %w", err)
	}
	return f.Close()
}

// forceGC asks the server's profiler for a heap profile, which runs a
// garbage collection first.
func forceGC(ctx context.Context, debugURL string) error {
	body, err := debugGet(ctx, debugURL, "/debug/pprof/heap?gc=1", "garbage collection")
	if err != nil {
		return err
	}
	defer body.Close()
	_, _ = io.Copy(io.Discard, body)
	return nil
}

// debugGet GETs path from the server's profiler; what names the request
// in errors.
func debugGet(ctx context.Context, debugURL, path, what string) (io.ReadCloser, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, strings.TrimRight(debugURL, "/")+path, nil)
	if err != nil {
		return nil, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s through %s: %w", what, debugURL, err)
	}
	if resp.StatusCode != http.StatusOK {
		resp.Body.Close()
		return nil, fmt.Errorf("%s through %s: %s", what, debugURL, resp.Status)
	}
	return resp.Body, nil
}

// settleRSS waits, at most max, until the RSS of pid has not fallen by
// more than 1 MB over 10 s, and returns it.
func settleRSS(ctx context.Context, pid string, limit time.Duration) (uint64, error) {
	const window, every = 10 * time.Second, 500 * time.Millisecond
	var rss []uint64
	end := time.Now().Add(limit)
	for {
		p, err := sampleProc(pid)
		if err != nil {
			return 0, err
		}
		rss = append(rss, p.rss)
		n := int(window / every)
		if len(rss) > n && rss[len(rss)-1-n] < p.rss+(1<<20) || time.Now().After(end) {
			return p.rss, nil
		}
		if err := sleep(ctx, every); err != nil {
			return 0, err
		}
	}
}

// sampleRSS samples the RSS of pid every interval for d.
func sampleRSS(ctx context.Context, pid string, d, every time.Duration) ([]uint64, error) {
	var rss []uint64
	end := time.Now().Add(d)
	for {
		p, err := sampleProc(pid)
		if err != nil {
			return nil, err
		}
		rss = append(rss, p.rss)
		left := time.Until(end)
		if left <= 0 {
			return rss, nil
		}
		if err := sleep(ctx, min(every, left)); err != nil {
			return nil, err
		}
	}
}

func percentileU(xs []uint64, p float64) uint64 {
	f := make([]float64, len(xs))
	for i, x := range xs {
		f[i] = float64(x)
	}
	return uint64(percentile(f, p))
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return errors.New("total time limit reached")
	}
}

func mb(b uint64) float64 { return float64(b) / (1 << 20) }

func pct(part, whole float64) float64 {
	if whole <= 0 {
		return 0
	}
	return 100 * part / whole
}

type report struct {
	n, failed, noVideo int
	window             time.Duration
	joinMs             []float64
	videoKbps          []float64
	audioKbps          []float64
	videoLossPct       []float64
	expected, lost     uint64
	pubPLIs, pubNACKs  uint64
	pubTWCCs           uint64
	clipKbps, baseCPU  float64
	srvBase, srv0      procSample
	srv1, self0, self1 procSample
	// baseRSS is the lowest RSS with the publisher alone; windowRSS the
	// median and windowRSSMax the highest during the measurement.
	baseRSS, windowRSS, windowRSSMax uint64
}

func (r report) print(w io.Writer) {
	med := func(xs []float64) float64 { return percentile(xs, 50) }
	minmax := func(xs []float64) (float64, float64) {
		if len(xs) == 0 {
			return 0, 0
		}
		s := append([]float64(nil), xs...)
		sort.Float64s(s)
		return s[0], s[len(s)-1]
	}
	cpu := cpuMsPerSec(r.srv0, r.srv1)
	cpuPerSub := cpu / float64(r.n)
	marginal := (cpu - r.baseCPU) / float64(r.n)
	rssPerSub := (mb(r.windowRSS) - mb(r.baseRSS)) / float64(r.n)
	lossPct := pct(float64(r.lost), float64(r.expected))
	joinP95 := percentile(r.joinMs, 95)
	vmin, vmax := minmax(r.videoKbps)
	lmin, lmax := minmax(r.videoLossPct)

	row := func(k, format string, a ...any) { fmt.Fprintf(w, "  %-34s "+format+"\n", append([]any{k}, a...)...) }
	fmt.Fprintf(w, "portalo SFU load: 1 publisher (720p VP8 %.0f kbit/s clip, 30 fps, single layer, + Opus 32k), %s window\n", r.clipKbps, r.window)
	row("subscribers", "%d", r.n)
	row("joined OK / failed", "%d / %d", r.n-r.failed, r.failed)
	row("join time p50 / p95 ms", "%.1f / %.1f", med(r.joinMs), joinP95)
	row("video kbit/s per sub min/med/max", "%.1f / %.1f / %.1f", vmin, med(r.videoKbps), vmax)
	row("audio kbit/s per sub median", "%.1f", med(r.audioKbps))
	row("video loss % per sub min/med/max", "%.3f / %.3f / %.3f", lmin, med(r.videoLossPct), lmax)
	row("loss % (all subs, audio+video)", "%.3f (%d of %d packets)", lossPct, r.lost, r.expected)
	row("subs with no video in window", "%d", r.noVideo)
	row("publisher got PLI+FIR / NACK", "%d / %d", r.pubPLIs, r.pubNACKs)
	row("publisher got TWCC feedback", "%d", r.pubTWCCs)
	row("server CPU ms/s total", "%.1f (publisher alone: %.1f)", cpu, r.baseCPU)
	row("  of which in the kernel", "%.1f", sysMsPerSec(r.srv0, r.srv1))
	row("server CPU ms/s per sub", "%.3f (marginal, minus publisher-only: %.3f)", cpuPerSub, marginal)
	row("server RSS MB base / window median / max", "%.1f / %.1f / %.1f", mb(r.baseRSS), mb(r.windowRSS), mb(r.windowRSSMax))
	row("server RSS MB per sub", "%.3f", rssPerSub)
	row("load tool CPU ms/s / RSS MB", "%.1f / %.1f", cpuMsPerSec(r.self0, r.self1), mb(r.self1.rss))
	fmt.Fprintf(w, "subscribers=%d server_cpu_ms_per_sub=%.3f server_rss_mb_per_sub=%.3f loss_pct=%.3f join_p95_ms=%.2f\n",
		r.n, cpuPerSub, rssPerSub, lossPct, joinP95)
}
