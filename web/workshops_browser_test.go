package web

import (
	"context"
	"net/http/httptest"
	"strings"
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

// TestBrowserEditorCancelsDate drives the editor's date controls in a real
// headless Chromium at phone width, by keyboard: an editor unfolds the move
// form of the next date, enters an impossible date and gets the error at
// the field with the entry kept, then cancels that date; the public
// schedule shows it cancelled. axe-core finds no violation on the edit page
// in any of these states, in German and in Arabic, and once the trainer's
// account is deleted (the page then says there is no trainer); nothing
// sticks out sideways.
func TestBrowserEditorCancelsDate(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		ctx := context.Background()
		trainer, _ := h.member(t, "Tina", accounts.RoleTrainer)
		editor, err := h.accts.Register(ctx, accounts.Registration{Pseudonym: "Edda", Password: "editor password"}, "")
		if err != nil {
			t.Fatal(err)
		}
		if _, err := h.accts.SetRoles(ctx, editor.ID, []accounts.Role{accounts.RoleEditor}); err != nil {
			t.Fatal(err)
		}
		w, d1 := h.weekly(t, trainer.ID)
		srv := httptest.NewServer(h.srv)
		defer srv.Close()
		edit := "/manage/workshops/" + w.ID
		b := browsertest.New(t)
		tab := b.NewTab(t, browsertest.Viewport(360, 740))
		do := func(step string, actions ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			if err := chromedp.Do(tab, actions...); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		check := func(name string) {
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

		do("log in",
			chromedp.Navigate(srv.URL+"/lang/de?next=/login"),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="de"] #pseudonym`)),
			chromedp.Navigate(srv.URL+"/login?next="+edit),
			chromedp.WaitVisible(chromedp.CSS("#pseudonym")),
			chromedp.SendKeys(chromedp.CSS("#pseudonym"), "Edda"),
			chromedp.SendKeys(chromedp.CSS("#password"), "editor password"),
			chromedp.Submit(chromedp.CSS("#password")),
			chromedp.WaitVisible(chromedp.CSS("#dates")),
		)
		check("workshop edit page")

		dateField := "#move-" + d1.String() + "-date"
		do("enter an impossible date by keyboard",
			chromedp.Focus(chromedp.CSS("#date-"+d1.String()+" summary")),
			chromedp.KeyEvent("\r"),
			chromedp.WaitVisible(chromedp.CSS(dateField)),
			chromedp.Evaluate[chromedp.Void](`document.querySelector('`+dateField+`').value = ''; undefined`),
			chromedp.SendKeys(chromedp.CSS(dateField), "2026-02-30"),
			chromedp.KeyEvent("\r"),
			chromedp.WaitVisible(chromedp.CSS(dateField+`[aria-invalid="true"]`)),
		)
		msg, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS(dateField+"-error")))
		if err != nil || !strings.Contains(msg, "gültiges Datum") {
			t.Fatalf("error at the field: %q %v", msg, err)
		}
		if v, err := chromedp.Run(tab, chromedp.Value(chromedp.CSS(dateField))); err != nil || v != "2026-02-30" {
			t.Fatalf("entry not kept: %q %v", v, err)
		}
		check("workshop edit page with an error")

		do("cancel the date by keyboard",
			chromedp.Focus(chromedp.CSS(`form[action$="/dates/`+d1.String()+`/cancel"] button`)),
			chromedp.KeyEvent("\r"),
			chromedp.WaitVisible(chromedp.CSS("#flash")),
			chromedp.WaitVisible(chromedp.CSS("#changed-"+d1.String())),
		)
		if flash, err := chromedp.Run(tab, chromedp.Text(chromedp.CSS("#flash"))); err != nil || flash != "Der Termin wurde abgesagt." {
			t.Fatalf("confirmation %q %v", flash, err)
		}
		check("workshop edit page after cancelling")
		if got, err := h.ws.Get(ctx, w.ID); err != nil || !got.Exceptions[d1].Cancelled || len(got.Exceptions) != 1 {
			t.Fatalf("stored: %v %+v", err, got.Exceptions)
		}

		do("open the schedule",
			chromedp.Navigate(srv.URL+"/workshops"),
			chromedp.WaitVisible(chromedp.CSS("h1")),
		)
		shown, err := chromedp.Run(tab, chromedp.Evaluate[string](`[...document.querySelectorAll('li.card')]
			.filter(li => li.querySelector('h4').textContent === 'Rückenfit' && li.querySelector('time').getAttribute('datetime').startsWith('`+d1.String()+`'))
			.map(li => li.textContent.includes('Fällt aus') + '/' + (li.querySelector('del') !== null)).join(',')`))
		if err != nil || shown != "true/true" {
			t.Fatalf("schedule shows the date as %q (%v), want cancelled", shown, err)
		}

		do("open the edit page in Arabic",
			chromedp.Navigate(srv.URL+"/lang/ar?next="+edit),
			chromedp.WaitVisible(chromedp.CSS(`html[dir="rtl"] #dates`)),
		)
		check("workshop edit page in Arabic")

		// The trainer's account goes: the page says the workshop has none.
		if err := h.accts.Delete(ctx, trainer.ID); err != nil {
			t.Fatal(err)
		}
		do("open the edit page of a workshop without trainer",
			chromedp.Navigate(srv.URL+"/lang/de?next="+edit),
			chromedp.WaitVisible(chromedp.CSS(`html[lang="de"] #trainer_id-note`)),
		)
		check("workshop edit page without trainer")
		// The only error the page may report is the deliberate 422 answer
		// to the impossible date; a script error or a missing asset fails.
		errs, err := browsertest.JSErrors(tab)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			if !strings.Contains(e, "status of 422") || !strings.HasSuffix(e, "/dates/"+d1.String()+"/move]") {
				t.Errorf("page error: %s", e)
			}
		}
	})
}
