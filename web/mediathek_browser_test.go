package web

import (
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/web/browsertest"
)

// TestBrowserMediathek plays a real HLS presentation in headless Chromium
// at phone width: the browse and item pages pass axe-core in German and in
// Arabic (right-to-left) and fit 360 px; pressing play on the video makes
// its currentTime advance; choosing German subtitles by keyboard shows
// their cue; choosing the Turkish sound switches the audio track while
// the video keeps playing; the editor's pages pass axe-core as well; no
// script error happens.
func TestBrowserMediathek(t *testing.T) {
	fix := makeHLS(t)
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		m := meta(catalog.KindVideo, "ruhig-atmen", map[string]string{"de": "Ruhig atmen", "ar": "تنفس بهدوء"})
		m.Description = map[string]string{"de": "Eine kurze Übung für zwischendurch.", "ar": "تمرين قصير لأي وقت."}
		m.Downloadable = true
		h.addHLS(t, fix, m)
		h.addSynthetic(t, meta(catalog.KindEpisode, "schlaf", map[string]string{"tr": "İyi uyku"}), false)
		srv := httptest.NewServer(h.srv)
		defer srv.Close()

		b := browsertest.New(t)
		tab := b.NewTab(t, browsertest.Viewport(360, 740), browsertest.Timeout(3*time.Minute))
		do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			if err := chromedp.Do(tab, actions...); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		eval := func(step, expr string) any {
			t.Helper()
			v, err := chromedp.Run(tab, chromedp.Evaluate[any](expr))
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			return v
		}
		waitFor := func(step, expr string, limit time.Duration) {
			t.Helper()
			deadline := time.Now().Add(limit)
			for {
				ok, err := chromedp.Run(tab, chromedp.Evaluate[bool](expr))
				if err == nil && ok {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: %s not true within %v (%v); player: %v", step, expr, limit, err,
						eval("state", `(() => { const v = document.getElementById('media-video'); const p = document.getElementById('player');
							return v ? {t: v.currentTime, paused: v.paused, ready: v.readyState, err: v.error && v.error.message, engine: p.dataset.engine,
							audio: p.dataset.audioLang, status: document.getElementById('player-status').textContent,
							tracks: Array.from(v.textTracks).map(x => x.language + ':' + x.mode + ':' + (x.activeCues ? x.activeCues.length : -1))} : null })()`))
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		fits := func(name string) {
			t.Helper()
			browsertest.CheckA11y(t, tab, name)
			wide, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
			if err != nil {
				t.Fatal(err)
			}
			if wide {
				t.Errorf("%s is wider than a 360 px screen", name)
			}
		}

		do("open the mediathek in German",
			chromedp.Navigate(srv.URL+"/lang/de?next=/mediathek"),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="de"] a[href="/mediathek/ruhig-atmen"]`)),
		)
		fits("mediathek in German")

		do("open the video page",
			chromedp.Click(chromedp.CSS(`a[href="/mediathek/ruhig-atmen"]`)),
			chromedp.WaitVisible(chromedp.CSS(`#player[data-engine]`)),
		)
		engine := eval("engine", `document.getElementById('player').dataset.engine`)
		if engine != "hls.js" && engine != "native" {
			t.Fatalf("player engine %v", engine)
		}
		fits("video page in German")

		// Subtitles by keyboard: from "none" one step down is German.
		do("choose German subtitles by keyboard",
			chromedp.Focus(chromedp.CSS("#player-subtitles")),
			chromedp.KeyEvent(kb.ArrowDown),
		)
		waitFor("the choice applies", `document.getElementById('player-subtitles').value === 'de'`, 5*time.Second)

		// Play: focus the video and press the space bar, as a keyboard
		// user would.
		do("press play", chromedp.Focus(chromedp.CSS("#media-video")), chromedp.KeyEvent(" "))
		waitFor("the video plays", `document.getElementById('media-video').currentTime > 1`, 60*time.Second)
		waitFor("the German subtitle shows", `Array.from(document.getElementById('media-video').textTracks).some(tr =>
			tr.language.startsWith('de') && tr.mode === 'showing' && tr.activeCues && tr.activeCues.length > 0 &&
			tr.activeCues[0].text.includes(`+"`"+subtitleText+"`"+`))`, 20*time.Second)
		if got := eval("status", `document.getElementById('player-status').textContent`); !strings.Contains(got.(string), "Untertitel") {
			t.Errorf("the status line says %q", got)
		}
		if got := eval("apply button", `document.getElementById('player-apply').hidden`); got != true {
			t.Errorf("the apply button is still shown: %v", got)
		}

		// The Turkish sound: the audio track switches, playback goes on.
		do("choose the Turkish sound",
			chromedp.SetValue(chromedp.CSS("#player-version"), "tr"),
			chromedp.Evaluate[chromedp.Void](`document.getElementById('player-version').dispatchEvent(new Event('change')); undefined`),
		)
		waitFor("the Turkish audio track", `document.getElementById('player').dataset.audioLang === 'tr'`, 20*time.Second)
		if !strings.Contains(eval("address", `location.search`).(string), "version=tr") {
			t.Error("the address does not keep the choice")
		}
		before := eval("time", `document.getElementById('media-video').currentTime`).(float64)
		waitFor("it keeps playing", `document.getElementById('media-video').currentTime > `+strconv.FormatFloat(before, 'f', 3, 64)+` || document.getElementById('media-video').ended`, 20*time.Second)
		fits("video page while playing")

		do("open the video page in Arabic",
			chromedp.Navigate(srv.URL+"/lang/ar?next=/mediathek/ruhig-atmen"),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="ar"] #player[data-engine]`)),
		)
		dir := eval("direction", `getComputedStyle(document.body).direction + ' ' + document.documentElement.dir`)
		if dir != "rtl rtl" {
			t.Fatalf("Arabic page direction %v", dir)
		}
		if title := eval("title", `document.getElementById('media-title').textContent`); title != "تنفس بهدوء" {
			t.Errorf("Arabic title %v", title)
		}
		fits("video page in Arabic")
		do("open the mediathek in Arabic",
			chromedp.Navigate(srv.URL+"/mediathek"),
			chromedp.WaitVisible(chromedp.CSS(`html[dir="rtl"] #q`)),
		)
		fits("mediathek in Arabic")

		// The editor's pages, logged in as an editor.
		h.member(t, "Edda", accounts.RoleEditor)
		do("log in as an editor",
			chromedp.Navigate(srv.URL+"/lang/de?next=/login"),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="de"] #pseudonym`)),
			chromedp.Navigate(srv.URL+"/login?next=/manage/mediathek"),
			chromedp.WaitVisible(chromedp.CSS("#pseudonym")),
			chromedp.SendKeys(chromedp.CSS("#pseudonym"), "Edda"),
			chromedp.SendKeys(chromedp.CSS("#password"), "long enough"),
			chromedp.Submit(chromedp.CSS("#password")),
			chromedp.WaitVisible(chromedp.CSS(`a[href="/manage/mediathek/new"]`)),
		)
		fits("editor's list")
		do("create an item with an error first",
			chromedp.Click(chromedp.CSS(`a[href="/manage/mediathek/new"]`)),
			chromedp.WaitVisible(chromedp.CSS("#title_de")),
			chromedp.SendKeys(chromedp.CSS("#slug"), "Nicht gut!"),
			chromedp.SendKeys(chromedp.CSS("#title_de"), "Gut schlafen"),
			chromedp.Submit(chromedp.CSS("#title_de")),
			chromedp.WaitVisible(chromedp.CSS(`#slug[aria-invalid="true"]`)),
		)
		fits("new item with an error")
		do("correct it",
			chromedp.Evaluate[chromedp.Void](`document.getElementById('slug').value = ''; undefined`),
			chromedp.Submit(chromedp.CSS("#title_de")),
			chromedp.WaitVisible(chromedp.CSS("#media-files")),
		)
		fits("edit page")
		do("the delete page",
			chromedp.Click(chromedp.CSS(`a[href$="/delete"]`)),
			chromedp.WaitVisible(chromedp.CSS("#confirm")),
		)
		fits("delete page")
		do("the editor's list in Arabic",
			chromedp.Navigate(srv.URL+"/lang/ar?next=/manage/mediathek"),
			chromedp.WaitVisible(chromedp.CSS(`html[dir="rtl"] table`)),
		)
		fits("editor's list in Arabic")
		// The only error the pages may report is the deliberate 422 answer
		// to the wrong address; a script error, a refused resource (CSP) or
		// a missing asset fails.
		errs, err := browsertest.JSErrors(tab)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			if !strings.Contains(e, "status of 422") || !strings.HasSuffix(e, "/manage/mediathek]") {
				t.Errorf("page error: %s", e)
			}
		}
	})
}
