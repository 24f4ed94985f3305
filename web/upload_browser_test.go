package web

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portalo/accounts"
	"portalo/web/browsertest"
)

// uploadGate stands between the browser and the portal: it slows the
// bodies of upload chunks down to rate bytes per second, so that the
// progress bar has time to move, and from the cutAt-th chunk request on
// cuts the connection of every chunk after its first megabyte, as a failing
// network would, until mend is called. (Chromium itself sends a PUT again a
// few times when a kept-alive connection breaks; only then does the page
// see the failure.)
type uploadGate struct {
	next  http.Handler
	rate  float64
	cutAt int

	logf   func(string, ...any)
	mu     sync.Mutex
	puts   int
	cut    bool // a connection was cut
	mended bool
}

func (g *uploadGate) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPut || !strings.HasPrefix(r.URL.Path, "/api/v1/uploads/") {
		g.next.ServeHTTP(w, r)
		return
	}
	g.mu.Lock()
	g.puts++
	cut := g.puts >= g.cutAt && !g.mended
	g.mu.Unlock()
	body := &slowBody{r: r.Body, rate: g.rate, start: time.Now()}
	r.Body = body
	if !cut {
		t0 := time.Now()
		rec := &statusRecorder{ResponseWriter: w}
		g.next.ServeHTTP(rec, r)
		if g.logf != nil {
			g.logf("chunk request %s %s: %d after %v, %d bytes read", r.URL.Path, r.Header.Get("Content-Range"), rec.code, time.Since(t0), body.read)
		}
		return
	}
	body.failAfter = 1 << 20
	g.next.ServeHTTP(httptest.NewRecorder(), r) // its answer never reaches the browser
	g.mu.Lock()
	g.cut = true
	g.mu.Unlock()
	panic(http.ErrAbortHandler) // closes the connection without an answer
}

type statusRecorder struct {
	http.ResponseWriter
	code int
}

func (r *statusRecorder) WriteHeader(c int)           { r.code = c; r.ResponseWriter.WriteHeader(c) }
func (r *statusRecorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func (g *uploadGate) mend() {
	g.mu.Lock()
	g.mended = true
	g.mu.Unlock()
}

func (g *uploadGate) wasCut() bool {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.cut
}

// slowBody reads at most rate bytes per second and, with failAfter set,
// fails after that many bytes.
type slowBody struct {
	r         io.ReadCloser
	rate      float64
	start     time.Time
	read      int64
	failAfter int64
}

func (b *slowBody) Read(p []byte) (int, error) {
	if b.failAfter > 0 && b.read >= b.failAfter {
		return 0, errors.New("uploadGate: connection cut")
	}
	if len(p) > 32<<10 {
		p = p[:32<<10]
	}
	n, err := b.r.Read(p)
	b.read += int64(n)
	if due := time.Duration(float64(b.read) / b.rate * float64(time.Second)); due > time.Since(b.start) {
		time.Sleep(due - time.Since(b.start))
	}
	return n, err
}

func (b *slowBody) Close() error { return b.r.Close() }

// recordProgress makes the page note every value its progress bar takes
// (in window.progressSeen).
const recordProgress = `(() => {
  window.progressSeen = [];
  window.statusSeen = [];
  const st = document.getElementById('upload-status');
  new MutationObserver(() => window.statusSeen.push(st.textContent)).observe(st, { childList: true, characterData: true, subtree: true });
  const p = document.getElementById('upload-progress');
  new MutationObserver(() => window.progressSeen.push(Number(p.value))).observe(p, { attributes: true, attributeFilter: ['value'] });
})()`

// TestBrowserUpload: an editor uploads a generated 30 MiB file in a real
// headless Chromium with the progress bar moving; the connection breaks in
// the middle of a chunk and the widget carries on by itself; the editor
// pauses, reloads the page, chooses the same file again and resumes where
// the upload stopped; the stored object is byte-identical and the
// processing hook ran once. axe-core finds no violation on the widget at
// rest, paused and done (and in Arabic), and the page reports no error but
// the broken connection.
func TestBrowserUpload(t *testing.T) {
	uploadBackends(t, func(t *testing.T, h *uploadHarness) {
		addUploadTestPage(t, h.srv)
		h.member(t, "Edda", accounts.RoleEditor)

		data := testFile(7, 30<<20)
		dir := t.TempDir()
		file := filepath.Join(dir, "Übung.mp4")
		if err := os.WriteFile(file, data, 0o600); err != nil {
			t.Fatal(err)
		}
		gate := &uploadGate{next: h.srv, rate: 8 << 20, cutAt: 3, logf: t.Logf}
		srv := httptest.NewServer(gate)
		defer srv.Close()

		b := browsertest.New(t)
		tab := b.NewTab(t, browsertest.Viewport(360, 740), browsertest.Timeout(3*time.Minute))
		do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			if err := chromedp.Do(tab, actions...); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		eval := func(expr string) float64 {
			t.Helper()
			v, err := chromedp.Run(tab, chromedp.Evaluate[float64](expr))
			if err != nil {
				t.Fatalf("%s: %v", expr, err)
			}
			return v
		}
		text := func(sel string) string {
			t.Helper()
			s, err := chromedp.Run(tab, chromedp.TextContent(chromedp.CSS(sel)))
			if err != nil {
				t.Fatalf("text of %s: %v", sel, err)
			}
			// The script isolates the values in its texts (bidi).
			return strings.TrimSpace(strings.NewReplacer("\u2068", "", "\u2069", "").Replace(s))
		}
		shown := func(id string) bool {
			t.Helper()
			v, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.getElementById('`+id+`').getClientRects().length > 0`))
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		seen := func() []float64 {
			t.Helper()
			v, err := chromedp.Run(tab, chromedp.Evaluate[[]float64](`window.progressSeen || []`))
			if err != nil {
				t.Fatal(err)
			}
			return v
		}
		waitFor := func(what, expr string, timeout time.Duration) {
			t.Helper()
			if err := chromedp.Do(tab, chromedp.Poll[chromedp.Void](expr, chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(timeout))); err != nil {
				st, _ := chromedp.Run(tab, chromedp.Evaluate[[]string](`window.statusSeen || []`))
				gate.mu.Lock()
				t.Logf("statuses %q; chunk requests %d, cut %v", st, gate.puts, gate.cut)
				gate.mu.Unlock()
				t.Fatalf("waiting for %s: %v (status %q, progress %v)", what, err, text("#upload-status"), eval(`document.getElementById('upload-progress').value`))
			}
		}

		do("log in and open the widget",
			chromedp.Navigate(srv.URL+"/lang/de?next=/login"),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="de"] #pseudonym`)),
			chromedp.Navigate(srv.URL+"/login?next=/test/upload-widget"),
			chromedp.WaitVisible(chromedp.CSS("#pseudonym")),
			chromedp.SendKeys(chromedp.CSS("#pseudonym"), "Edda"),
			chromedp.SendKeys(chromedp.CSS("#password"), "long enough"),
			chromedp.Submit(chromedp.CSS("#password")),
			chromedp.WaitVisible(chromedp.CSS("#upload-file")),
			chromedp.Evaluate[chromedp.Void](recordProgress),
		)
		browsertest.CheckA11y(t, tab, "upload widget")
		if !shown("upload-start") || shown("upload-pause") || shown("upload-cancel") || shown("upload-progress") {
			t.Errorf("at rest: start shown %v, pause %v, cancel %v, progress %v", shown("upload-start"), shown("upload-pause"), shown("upload-cancel"), shown("upload-progress"))
		}

		do("choose the file and upload",
			chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{file}),
			chromedp.Click(chromedp.CSS("#upload-start")),
		)
		// The bar moves; the third chunk's connection breaks and the widget
		// tries again by itself.
		waitFor("the broken connection", `document.getElementById('upload-status').textContent.includes('Verbindung wurde unterbrochen')`, 60*time.Second)
		if !gate.wasCut() {
			t.Fatal("the widget says the connection broke, but it was not cut")
		}
		gate.mend()
		before := seen()
		var rising []float64
		for _, v := range before {
			if len(rising) == 0 || v > rising[len(rising)-1] {
				rising = append(rising, v)
			}
		}
		if len(rising) < 3 {
			t.Fatalf("the progress bar took only the increasing values %v before the break (all: %v)", rising, before)
		}
		if shown("upload-start") || !shown("upload-pause") || !shown("upload-cancel") {
			t.Errorf("while uploading: start shown %v, pause %v, cancel %v", shown("upload-start"), shown("upload-pause"), shown("upload-cancel"))
		}
		waitFor("60 %", `document.getElementById('upload-progress').value >= 60 && document.getElementById('upload-status').textContent.includes('Wird hochgeladen')`, 60*time.Second)
		pt := text("#upload-progress-text")
		if !regexp.MustCompile(`^\d+[ \x{a0}\x{202f}]% – [\d,]+[ \x{a0}\x{202f}]MB von 31,5[ \x{a0}\x{202f}]MB$`).MatchString(pt) {
			t.Errorf("progress text %q", pt)
		}

		do("pause", chromedp.Click(chromedp.CSS("#upload-pause")))
		waitFor("the pause", `document.getElementById('upload-status').textContent.startsWith('Pausiert')`, 10*time.Second)
		if got := text("#upload-pause"); got != "Fortsetzen" {
			t.Errorf("the pause button says %q while paused", got)
		}
		paused := eval(`document.getElementById('upload-progress').value`)
		browsertest.CheckA11y(t, tab, "paused upload")
		time.Sleep(700 * time.Millisecond)
		if now := eval(`document.getElementById('upload-progress').value`); now != paused {
			t.Errorf("the progress moved from %v to %v while paused", paused, now)
		}

		// A reload: the editor chooses the same file again and the widget
		// finds the earlier upload and where it stands on the server.
		do("reload and choose the file again",
			chromedp.Reload(),
			chromedp.WaitVisible(chromedp.CSS("#upload-file")),
			chromedp.Evaluate[chromedp.Void](recordProgress),
			chromedp.SetUploadFiles(chromedp.CSS("#upload-file"), []string{file}),
		)
		waitFor("the earlier upload", `document.getElementById('upload-status').textContent.includes('schon teilweise hochgeladen')`, 10*time.Second)
		ids, err := chromedp.Run(tab, chromedp.Evaluate[[]string](`Object.keys(localStorage).filter((k) => k.startsWith('portalo.upload:')).map((k) => localStorage.getItem(k))`))
		if err != nil || len(ids) != 1 {
			t.Fatalf("upload IDs in localStorage: %v %v", ids, err)
		}
		upID := ids[0]
		st, err := h.svc.Status(context.Background(), upID)
		if err != nil {
			t.Fatal(err)
		}
		if st.Offset < 5<<20 || st.Offset >= st.Size {
			t.Fatalf("the server holds %d of %d bytes after the pause", st.Offset, st.Size)
		}
		if shown := eval(`document.getElementById('upload-progress').value`); shown != float64(int(float64(st.Offset)/float64(st.Size)*1000))/10 {
			t.Errorf("after the reload the bar shows %v; the server holds %d of %d bytes", shown, st.Offset, st.Size)
		}
		do("resume", chromedp.Click(chromedp.CSS("#upload-start")))
		waitFor("the end", `document.getElementById('upload-status').textContent.startsWith('Hochladen abgeschlossen')`, 90*time.Second)
		if got := text("#upload-status"); got != "Hochladen abgeschlossen: Übung.mp4. Die Verarbeitung beginnt jetzt." {
			t.Errorf("status at the end %q", got)
		}
		after := seen()
		if len(after) == 0 || after[0] < float64(int(float64(st.Offset)/float64(st.Size)*100)) || after[len(after)-1] != 100 {
			t.Errorf("after resuming the bar went %v; it should start at the resume point and end at 100", after)
		}
		browsertest.CheckA11y(t, tab, "finished upload")
		if !shown("upload-start") || shown("upload-pause") || shown("upload-cancel") {
			t.Errorf("when done: start shown %v, pause %v, cancel %v", shown("upload-start"), shown("upload-pause"), shown("upload-cancel"))
		}
		if left := eval(`Object.keys(localStorage).filter((k) => k.startsWith('portalo.upload:')).length`); left != 0 {
			t.Errorf("%v upload IDs left in localStorage", left)
		}

		rc, _, err := h.blobs.Open(context.Background(), "media/item1/source/original.mp4")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got := sha256.New()
		n, err := io.Copy(got, rc)
		if want := sha256.Sum256(data); err != nil || n != int64(len(data)) || !bytes.Equal(got.Sum(nil), want[:]) {
			t.Fatalf("stored object: %d bytes (%v), identical: %v", n, err, bytes.Equal(got.Sum(nil), want[:]))
		}
		if calls := h.hookCalls(); len(calls) != 1 || calls[0] != "item1 source media/item1/source/original.mp4" {
			t.Fatalf("OnComplete calls %q", calls)
		}

		do("the widget in Arabic",
			chromedp.Navigate(srv.URL+"/lang/ar?next=/test/upload-widget"),
			chromedp.WaitVisible(chromedp.CSS(`html[dir="rtl"] #upload-file`)),
		)
		browsertest.CheckA11y(t, tab, "upload widget in Arabic")
		wide, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
		if err != nil || wide {
			t.Errorf("the widget is wider than a 360 px screen (%v)", err)
		}

		// Only the cut connections (and a chunk refused as busy while the
		// aborted one was still being given up) may show as errors.
		errs, err := browsertest.JSErrors(tab)
		if err != nil {
			t.Fatal(err)
		}
		broken := 0
		for _, e := range errs {
			switch {
			case strings.Contains(e, "/api/v1/uploads/") && strings.Contains(e, "net::ERR_"):
				broken++
			case strings.Contains(e, "/api/v1/uploads/") && strings.Contains(e, "409"):
			default:
				t.Errorf("the page reported: %s", e)
			}
		}
		if broken == 0 {
			t.Errorf("the page did not see the cut connection")
		}
	})
}
