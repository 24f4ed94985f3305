package web

import (
	"context"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/courses"
	"portalo/podcasts"
	"portalo/web/browsertest"
)

// TestBrowserMultiplierArea drives the area in a real headless Chromium at
// 320 px: a multiplier logs in, signs up for a course (the page then says
// booked), downloads a document, creates the private podcast feed on the
// account page and copies its address; a participant who logs in then is
// refused on /multipliers and /multipliers/courses and sees none of the
// content. axe-core finds no violation on the area's pages in German and
// in Arabic, and nothing sticks out sideways.
func TestBrowserMultiplierArea(t *testing.T) {
	areaStores(t, func(t *testing.T, h *areaHarness) {
		ctx := context.Background()
		h.member(t, "Malte", accounts.RoleMultiplier)
		h.member(t, "Paula")
		co := h.course(t, "Gesprächsführung kompakt", "", 4, courses.FormatOnsite)
		doc := h.document(t, "flyer-fachkraefte", "Flyer für Fachkräfte", catalog.AudienceMultipliers, catalog.CategoryPromotional)
		if _, err := h.pods.CreateSeries(ctx, podcasts.SeriesMeta{Slug: "fachfunk",
			Title: map[string]string{"de": "Fachfunk"}, Description: map[string]string{"de": "Für Fachkräfte."},
			Language: "de", Category: "Health & Fitness", Audience: podcasts.AudienceMultipliers}); err != nil {
			t.Fatal(err)
		}
		srv := httptest.NewServer(h.srv)
		defer srv.Close()
		b := browsertest.New(t)
		tab := b.NewTab(t, browsertest.Viewport(320, 740), browsertest.Timeout(3*time.Minute))
		do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			if err := chromedp.Do(tab, actions...); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		text := func(step, sel string) string {
			t.Helper()
			s, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(sel)))
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			return s
		}
		check := func(name string) {
			t.Helper()
			browsertest.CheckA11y(t, tab, name)
			wide, err := chromedp.Run(tab, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
			if err != nil {
				t.Fatal(err)
			}
			if wide {
				t.Errorf("%s is wider than a 320 px screen", name)
			}
		}
		login := func(who string, next string) {
			t.Helper()
			do("log in as "+who,
				chromedp.Navigate(srv.URL+"/login?next="+next),
				chromedp.WaitVisible(chromedp.CSS("#pseudonym")),
				chromedp.SendKeys(chromedp.CSS("#pseudonym"), who),
				chromedp.SendKeys(chromedp.CSS("#password"), "long enough"),
				chromedp.Submit(chromedp.CSS("#password")),
				chromedp.WaitVisible(chromedp.CSS("#flash")),
			)
		}

		do("German", chromedp.Navigate(srv.URL+"/lang/de?next=/login"), chromedp.WaitVisible(chromedp.CSS(`html[lang="de"] #pseudonym`)))
		login("Malte", "/multipliers")
		check("area home in German")

		do("open the courses",
			chromedp.Click(chromedp.CSS(`main a[href="/multipliers/courses"]`)),
			chromedp.WaitVisible(chromedp.CSS("#course-"+co.ID)),
		)
		check("courses in German")
		do("open the course",
			chromedp.Click(chromedp.CSS(`#course-`+co.ID+` h2 a`)),
			chromedp.WaitVisible(chromedp.CSS("#course-signup")),
		)
		check("course page in German")
		do("sign up",
			chromedp.Click(chromedp.CSS("#course-signup")),
			chromedp.WaitVisible(chromedp.CSS("#flash")),
			chromedp.WaitVisible(chromedp.CSS("#course-cancel")),
		)
		if got := text("confirmation", "#flash"); got != "Sie sind angemeldet: Ihr Platz ist gebucht." {
			t.Errorf("confirmation %q", got)
		}
		if got := text("status", "#my-status"); !strings.Contains(got, "angemeldet") {
			t.Errorf("status %q", got)
		}
		check("course page after signing up")
		if r, err := h.courses.Roster(ctx, co.ID); err != nil || len(r.Booked) != 1 {
			t.Fatalf("roster %+v %v", r, err)
		}

		do("open the materials",
			chromedp.Click(chromedp.CSS(`nav.area-nav a[href="/multipliers/materials"]`)),
			chromedp.WaitVisible(chromedp.CSS("#doc-"+doc.ID+" a.download")),
		)
		check("materials in German")
		href, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.querySelector('#doc-`+doc.ID+` a.download').getAttribute('href')`))
		if err != nil || href != "/media/"+doc.ID+"/download/flyer-de.pdf?download=1" {
			t.Fatalf("download link %q %v", href, err)
		}
		got, err := chromedp.Run(tab, chromedp.Evaluate[string](`fetch(document.querySelector('#doc-`+doc.ID+` a.download').href)
			.then(r => r.text().then(body => r.status + '|' + r.headers.get('content-type') + '|' + r.headers.get('content-disposition') + '|' + body))`, chromedp.EvalAwaitPromise))
		if err != nil {
			t.Fatal(err)
		}
		if want := "200|application/pdf|attachment; filename=\"flyer-fachkraefte-de.pdf\"|" + string(pdfContent); got != want &&
			!(strings.HasPrefix(got, "200|application/pdf|attachment") && strings.HasSuffix(got, string(pdfContent))) {
			t.Errorf("download: %q", got)
		}

		do("open the professionals' podcast",
			chromedp.Click(chromedp.CSS(`nav.area-nav a[href="/multipliers/podcast"]`)),
			chromedp.WaitVisible(chromedp.CSS(`main a[href="/podcasts/fachfunk"]`)),
		)
		check("podcast page in German")

		do("open the account page and create the private feed",
			chromedp.Click(chromedp.CSS(`main a[href="/account#podcast-feed"]`)),
			chromedp.WaitVisible(chromedp.CSS("#create-feed")),
			chromedp.Click(chromedp.CSS("#create-feed")),
			chromedp.WaitVisible(chromedp.CSS("#copy-feed-url")),
		)
		feed, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS("#private-feed-url")))
		if err != nil || !strings.HasPrefix(feed, srv.URL+"/") || !strings.Contains(feed, "/podcasts/private/") {
			t.Fatalf("private feed address %q %v", feed, err)
		}
		copied, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.getElementById('copy-feed-url').dataset.copied`))
		if err != nil || copied == "" {
			t.Fatalf("copied text %q %v", copied, err)
		}
		do("copy the address",
			chromedp.Click(chromedp.CSS("#copy-feed-url")),
			chromedp.Poll[chromedp.Void](`document.getElementById('copy-feed-status').textContent !== ''`, chromedp.WithPollingTimeout(10*time.Second)),
		)
		if got := text("copy confirmation", "#copy-feed-status"); got != copied {
			t.Errorf("after copying the page says %q, want %q", got, copied)
		}

		// Arabic, right to left.
		for _, p := range []struct{ path, sel, name string }{
			{"/multipliers", `nav.area-nav`, "area home in Arabic"},
			{"/multipliers/materials", "#doc-" + doc.ID, "materials in Arabic"},
			{"/multipliers/courses", "#course-" + co.ID, "courses in Arabic"},
			{"/multipliers/courses/" + co.ID, "#course-cancel", "course page in Arabic"},
			{"/multipliers/podcast", `main a[href="/podcasts/fachfunk"]`, "podcast page in Arabic"},
		} {
			do("open "+p.name, chromedp.Navigate(srv.URL+"/lang/ar?next="+p.path), chromedp.WaitVisible(chromedp.CSS(`html[dir="rtl"] `+p.sel)))
			check(p.name)
		}
		browsertest.AssertNoJSErrors(t, tab)

		// A participant is refused.
		do("log out", chromedp.Navigate(srv.URL+"/lang/de?next=/"), chromedp.WaitVisible(chromedp.CSS(`html[lang="de"]`)),
			chromedp.Click(chromedp.CSS(`header button.linkbutton`)), chromedp.WaitVisible(chromedp.CSS("#flash")))
		login("Paula", "/multipliers")
		for _, p := range []string{"/multipliers", "/multipliers/courses"} {
			do("open "+p+" as a participant", chromedp.Navigate(srv.URL+p), chromedp.WaitVisible(chromedp.CSS("#refused")))
			body, err := chromedp.Run(tab, chromedp.Evaluate[string](`document.body.innerText`))
			if err != nil {
				t.Fatal(err)
			}
			if !strings.Contains(body, "Nur für registrierte Fachkräfte") || strings.Contains(body, "Gesprächsführung kompakt") || strings.Contains(body, "Flyer für Fachkräfte") {
				t.Errorf("%s as a participant:\n%s", p, body)
			}
			if n, err := chromedp.Run(tab, chromedp.Evaluate[int](`document.querySelectorAll('#request-multiplier').length`)); err != nil || n != 1 {
				t.Errorf("%s: request button %d %v", p, n, err)
			}
			check(p + " refused")
		}
		do("refusal in Arabic", chromedp.Navigate(srv.URL+"/lang/ar?next=/multipliers"), chromedp.WaitVisible(chromedp.CSS(`html[dir="rtl"] #refused`)))
		check("refusal in Arabic")
		// The refusals are 403s, which the browser logs; nothing else may
		// have gone wrong.
		errs, err := browsertest.JSErrors(tab)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			if !strings.Contains(e, "status of 403") {
				t.Errorf("page error: %s", e)
			}
		}
	})
}
