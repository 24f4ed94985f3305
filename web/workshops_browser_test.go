package web

import (
	"net/http/httptest"
	"testing"

	"github.com/chromedp/chromedp"

	"portalo/accounts"
	"portalo/web/browsertest"
)

// TestBrowserSchedule opens the workshop schedule in a real headless
// Chromium at phone width, in German and in Arabic (right-to-left), with an
// open room, a cancelled date and a fallback title on it: axe-core finds no
// violation and nothing sticks out sideways.
func TestBrowserSchedule(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		trainer, _ := h.member(t, "Tina", accounts.RoleTrainer)
		h.weekOfWorkshops(t, trainer.ID)
		srv := httptest.NewServer(h.srv)
		defer srv.Close()
		b := browsertest.New(t)
		ctx := b.NewTab(t, browsertest.Viewport(360, 740))
		for _, tc := range []struct{ lang, dir string }{{"de", "ltr"}, {"ar", "rtl"}} {
			if err := chromedp.Do(ctx,
				chromedp.Navigate(srv.URL+"/lang/"+tc.lang+"?next=/workshops"),
				chromedp.WaitVisible(chromedp.CSS(`html[lang="`+tc.lang+`"] h1`)),
			); err != nil {
				t.Fatalf("open the schedule in %s: %v", tc.lang, err)
			}
			dir, err := chromedp.Run(ctx, chromedp.Evaluate[string](`getComputedStyle(document.body).direction`))
			if err != nil || dir != tc.dir {
				t.Fatalf("%s: direction %q %v", tc.lang, dir, err)
			}
			joins, err := chromedp.Run(ctx, chromedp.Evaluate[int](`document.querySelectorAll('a[href$="/room"]').length`))
			if err != nil || joins != 1 {
				t.Fatalf("%s: %d join links %v", tc.lang, joins, err)
			}
			browsertest.CheckA11y(t, ctx, "schedule in "+tc.lang)
			wide, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`document.documentElement.scrollWidth > window.innerWidth`))
			if err != nil {
				t.Fatal(err)
			}
			if wide {
				t.Errorf("schedule in %s is wider than a 360 px screen", tc.lang)
			}
		}
		browsertest.AssertNoJSErrors(t, ctx)
	})
}
