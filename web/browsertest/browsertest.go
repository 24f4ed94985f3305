// Package browsertest owns the headless Chromium harness for end-to-end tests
// of portalo's pages.
//
// A test starts one browser with [New] and opens tabs on it with
// [Browser.NewTab]. The tabs are chromedp contexts: drive them with
// chromedp.Do and chromedp.Run (chromedp v0.23 API). The harness forwards the
// errors of each page (uncaught exceptions, console.error, failed loads) to
// t.Logf, and [AssertNoJSErrors] fails a test that saw any. [CheckA11y] runs
// axe-core on the page of a tab and fails the test on any violation.
//
//	b := browsertest.New(t)
//	ctx := b.NewTab(t, browsertest.Viewport(360, 740))
//	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL)); err != nil {
//		t.Fatal(err)
//	}
//	browsertest.CheckA11y(t, ctx, "home")
//	browsertest.AssertNoJSErrors(t, ctx)
//
// The browser is Debian's Chromium, found by testenv.Chromium: the test is
// skipped when it is missing, or fails under PORTALO_TEST_STRICT=1 / CI=true.
// It runs headless, talks only to the servers that the test starts on
// 127.0.0.1, and has the flags that WebRTC tests need (fake camera and
// microphone, no permission prompt, loopback ICE candidates, no mDNS).
package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/cdproto/log"
	"github.com/chromedp/cdproto/runtime"
	"github.com/chromedp/chromedp"

	"portalo/internal/testenv"
)

const (
	// startTimeout bounds the start of the browser.
	startTimeout = 60 * time.Second
	// stopTimeout bounds the graceful close of the browser.
	stopTimeout = 10 * time.Second
	// DefaultTabTimeout is the overall time limit of a tab; see [Timeout].
	DefaultTabTimeout = 90 * time.Second
)

// Browser is a headless Chromium that lives until the end of the test that
// started it.
type Browser struct {
	ctx context.Context // chromedp context of the browser (its first tab)
	out *tailBuffer     // the last output of the browser process
	log *guardedLog
}

// BrowserOption changes the Chromium that [New] starts.
type BrowserOption func(*browserConfig)

type browserConfig struct {
	switches []chromedp.ExecAllocatorOption
	prefs    map[string]any
}

// Switch adds a command-line switch (value "" for a bare one), such as
// Switch("webrtc-ip-handling-policy", "disable_non_proxied_udp").
func Switch(name, value string) BrowserOption {
	return func(c *browserConfig) {
		if value == "" {
			c.switches = append(c.switches, chromedp.Flag(name, true))
		} else {
			c.switches = append(c.switches, chromedp.Flag(name, value))
		}
	}
}

// Preferences writes prefs as the profile's preferences (the settings a
// managed computer may have), such as {"webrtc": {"udp_port_range": "…"}}.
func Preferences(prefs map[string]any) BrowserOption {
	return func(c *browserConfig) { c.prefs = prefs }
}

// New starts a headless Chromium for the test and stops it in t.Cleanup.
//
// The browser has a fresh profile in t.TempDir() and a desktop window of
// 1280×800; use [Viewport] to give a tab another size, such as a phone's.
func New(t *testing.T, options ...BrowserOption) *Browser {
	t.Helper()
	path := testenv.Chromium(t)
	profile := t.TempDir() // removed after the browser stopped (cleanups run LIFO)
	var cfg browserConfig
	for _, o := range options {
		o(&cfg)
	}
	if cfg.prefs != nil {
		b, err := json.Marshal(cfg.prefs)
		if err != nil {
			t.Fatal(err)
		}
		if err := os.MkdirAll(filepath.Join(profile, "Default"), 0o700); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(profile, "Default", "Preferences"), b, 0o600); err != nil {
			t.Fatal(err)
		}
	}

	b := &Browser{out: &tailBuffer{max: 32 << 10}, log: &guardedLog{t: t}}
	opts := append(slices.Clone(chromedp.DefaultExecAllocatorOptions[:]),
		chromedp.ExecPath(path),
		chromedp.UserDataDir(profile),
		chromedp.Headless,
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.NoFirstRun,
		chromedp.WindowSize(1280, 800),
		chromedp.Flag("disable-quic", true),
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		// WebRTC: a synthetic camera and microphone without a permission
		// prompt, and host candidates on 127.0.0.1 instead of mDNS names.
		chromedp.Flag("use-fake-device-for-media-stream", true),
		chromedp.Flag("use-fake-ui-for-media-stream", true),
		chromedp.Flag("allow-loopback-in-peer-connection", true),
		// Replaces the default list of chromedp, so keep its entries.
		chromedp.Flag("disable-features", "Translate,BlinkGenPropertyTrees,WebRtcHideLocalIpsWithMdns"),
		chromedp.CombinedOutput(b.out),
	)
	opts = append(opts, cfg.switches...)
	allocCtx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancel := chromedp.NewContext(allocCtx, chromedp.WithErrorf(b.log.logf))
	b.ctx = ctx

	t.Cleanup(func() {
		// Close gracefully, so that Chromium ends its child processes before
		// the testing package removes the profile directory.
		sctx, scancel := context.WithTimeout(ctx, stopTimeout)
		if err := chromedp.Cancel(sctx); err != nil {
			b.log.logf("browsertest: stopping Chromium: %v", err)
		}
		scancel()
		cancel()
		cancelAlloc()
		if t.Failed() {
			b.log.logf("browsertest: last output of Chromium:\n%s", b.out.String())
		}
		b.log.close()
	})

	// The first Run starts the browser and binds it to ctx, so it must not
	// get a context with a deadline: bound it with a timer instead.
	timer := time.AfterFunc(startTimeout, cancel)
	err := chromedp.Do(ctx)
	timedOut := !timer.Stop()
	if err != nil {
		if timedOut {
			err = fmt.Errorf("no answer within %v: %w", startTimeout, err)
		}
		t.Fatalf("browsertest: starting Chromium %s: %v\noutput:\n%s", path, err, b.out.String())
	}
	return b
}

// TabOption changes a tab that [Browser.NewTab] opens.
type TabOption func(*tabConfig)

type tabConfig struct {
	timeout  time.Duration
	viewport []chromedp.Action[chromedp.Void]
}

// Viewport gives the tab a viewport of width×height CSS pixels, for example
// Viewport(360, 740) for the width of a small phone. The emulation stays for
// every page that the tab loads. Add chromedp.EmulateMobile and
// chromedp.EmulateTouch to emulate a mobile device fully (then the layout width
// follows the page's meta viewport).
func Viewport(width, height int64, opts ...chromedp.EmulateViewportOption) TabOption {
	return func(c *tabConfig) {
		c.viewport = append(c.viewport, chromedp.EmulateViewport(width, height, opts...))
	}
}

// Timeout sets the overall time limit of the tab (default [DefaultTabTimeout]).
// When it ends, every action on the tab fails and the tab closes.
func Timeout(d time.Duration) TabOption {
	return func(c *tabConfig) { c.timeout = d }
}

// NewTab opens a new tab and returns its chromedp context. The tab closes at
// the end of the test or when its time limit ends ([Timeout]).
//
// The errors of its pages go to t.Logf as they happen; see [AssertNoJSErrors].
func (b *Browser) NewTab(t *testing.T, opts ...TabOption) context.Context {
	t.Helper()
	cfg := tabConfig{timeout: DefaultTabTimeout}
	for _, o := range opts {
		o(&cfg)
	}
	st := &tabState{log: &guardedLog{t: t}}
	tctx, cancelTimeout := context.WithTimeout(b.ctx, cfg.timeout)
	tabCtx, cancelTab := chromedp.NewContext(tctx, chromedp.WithListener(st.event))
	t.Cleanup(func() {
		cancelTab() // closes the tab and waits for that
		cancelTimeout()
		st.log.close()
	})
	if err := chromedp.Do(tabCtx, cfg.viewport...); err != nil {
		t.Fatalf("browsertest: opening a tab: %v", err)
	}
	return context.WithValue(tabCtx, tabKey{}, st)
}

type tabKey struct{}

// tabState collects the errors of the pages of one tab.
type tabState struct {
	log  *guardedLog
	mu   sync.Mutex
	errs []string
}

// event receives the events of the tab. chromedp calls it on the goroutine
// that reads the tab's messages, so it must be fast and must not call chromedp.
func (s *tabState) event(ev any) {
	var msg string
	switch e := ev.(type) {
	case *runtime.EventExceptionThrown:
		msg = "uncaught exception: " + exceptionText(e.ExceptionDetails)
	case *runtime.EventConsoleAPICalled:
		if e.Type != runtime.ConsoleAPICalledTypeError && e.Type != runtime.ConsoleAPICalledTypeAssert {
			return
		}
		msg = "console." + string(e.Type) + ": " + argsText(e.Args) + stackPlace(e.StackTrace)
	case *log.EventEntryAdded:
		en := e.Entry
		if en.Level != log.EntryLevelError {
			return
		}
		// A page without a favicon is not an error of the page.
		if en.Source == log.EntrySourceNetwork && strings.HasSuffix(en.URL, "/favicon.ico") {
			return
		}
		msg = fmt.Sprintf("browser log (%s): %s", en.Source, en.Text)
		if en.URL != "" {
			msg += " [" + en.URL + "]"
		}
	default:
		return
	}
	s.mu.Lock()
	s.errs = append(s.errs, msg)
	s.mu.Unlock()
	s.log.logf("browser: %s", msg)
}

func exceptionText(d *runtime.ExceptionDetails) string {
	if d == nil {
		return "(no details)"
	}
	text := d.Text
	if d.Exception != nil && d.Exception.Description != "" {
		// The description is the error and its stack: keep the first line.
		first, _, _ := strings.Cut(d.Exception.Description, "\n")
		text += " " + first
	}
	place := d.URL
	if place == "" && d.StackTrace != nil && len(d.StackTrace.CallFrames) > 0 {
		place = d.StackTrace.CallFrames[0].URL
	}
	if place != "" {
		text += fmt.Sprintf(" (%s:%d:%d)", place, d.LineNumber+1, d.ColumnNumber+1)
	}
	return text
}

func argsText(args []*runtime.RemoteObject) string {
	parts := make([]string, 0, len(args))
	for _, a := range args {
		var s string
		switch {
		case a.Type == runtime.RemoteObjectTypeString && json.Unmarshal(a.Value, &s) == nil:
		case a.UnserializableValue != "":
			s = string(a.UnserializableValue)
		case a.Description != "":
			s, _, _ = strings.Cut(a.Description, "\n")
		case len(a.Value) > 0:
			s = string(a.Value)
		default:
			s = string(a.Type)
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func stackPlace(st *runtime.StackTrace) string {
	if st == nil || len(st.CallFrames) == 0 {
		return ""
	}
	f := st.CallFrames[0]
	return fmt.Sprintf(" (%s:%d:%d)", f.URL, f.LineNumber+1, f.ColumnNumber+1)
}

// JSErrors returns the errors that the pages of the tab of ctx reported so
// far: uncaught exceptions and unhandled promise rejections, calls of
// console.error and console.assert that failed, and errors of the browser log
// such as a script or a stylesheet that did not load (a missing
// /favicon.ico is not counted). ctx must come from [Browser.NewTab].
func JSErrors(ctx context.Context) ([]string, error) {
	st, ok := ctx.Value(tabKey{}).(*tabState)
	if !ok {
		return nil, fmt.Errorf("browsertest: the context does not come from Browser.NewTab")
	}
	// A round trip to the page: the events that the browser sent before the
	// answer have reached the listener when it returns.
	if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void]("0")); err != nil {
		return nil, err
	}
	st.mu.Lock()
	defer st.mu.Unlock()
	return slices.Clone(st.errs), nil
}

// AssertNoJSErrors fails the test if the pages of the tab of ctx reported any
// error so far (see [JSErrors]).
func AssertNoJSErrors(t testing.TB, ctx context.Context) {
	t.Helper()
	errs, err := JSErrors(ctx)
	if err != nil {
		t.Fatalf("browsertest: reading the errors of the page: %v", err)
	}
	if len(errs) > 0 {
		t.Errorf("browsertest: the page reported %d error(s):\n  %s", len(errs), strings.Join(errs, "\n  "))
	}
}

// guardedLog logs to a test until close, so that a browser goroutine never
// logs after the test ended (which panics).
type guardedLog struct {
	mu     sync.Mutex
	t      testing.TB
	closed bool
}

func (l *guardedLog) logf(format string, args ...any) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if !l.closed {
		l.t.Logf(format, args...)
	}
}

func (l *guardedLog) close() {
	l.mu.Lock()
	l.closed = true
	l.mu.Unlock()
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	max int
	buf []byte
}

func (b *tailBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf = append(b.buf, p...)
	if over := len(b.buf) - b.max; over > 0 {
		b.buf = append(b.buf[:0], b.buf[over:]...)
	}
	return len(p), nil
}

func (b *tailBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return string(b.buf)
}
