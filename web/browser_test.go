package web

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portalo/accounts"
	"portalo/web/browsertest"
)

// TestBrowserAccountJourney walks a participant through the portal in a
// real headless Chromium at phone width: register (after one mistake), see
// the account, log out, log in, switch to Arabic and see the page
// right-to-left, log out; then an admin approves a multiplier request. axe-core
// checks every page on the way and fails on any violation.
func TestBrowserAccountJourney(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		srv := httptest.NewServer(h.srv)
		defer srv.Close()
		b := browsertest.New(t)
		ctx := b.NewTab(t, browsertest.Viewport(360, 740))

		run := func(step string, actions ...chromedp.Action[chromedp.Void]) {
			t.Helper()
			if err := chromedp.Do(ctx, actions...); err != nil {
				t.Fatalf("%s: %v", step, err)
			}
		}
		text := func(sel string) string {
			t.Helper()
			s, err := chromedp.Run(ctx, chromedp.Text(chromedp.CSS(sel)))
			if err != nil {
				t.Fatalf("read %s: %v", sel, err)
			}
			return s
		}
		eval := func(step, expr string) bool {
			t.Helper()
			v, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr))
			if err != nil {
				t.Fatalf("%s: %v", step, err)
			}
			return v
		}
		// navigate performs an action that loads a new page and waits until
		// the new page (not the old one) shows sel.
		navigate := func(step string, action chromedp.Action[chromedp.Void], sel string) {
			t.Helper()
			if !eval(step+": mark old page", `(window.__oldPage = true)`) {
				t.Fatalf("%s: could not mark the page", step)
			}
			run(step, action)
			probe := fmt.Sprintf(`!window.__oldPage && document.readyState === "complete" && !!document.querySelector(%q)`, sel)
			deadline := time.Now().Add(15 * time.Second)
			for {
				if ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](probe)); err == nil && ok {
					return
				}
				if time.Now().After(deadline) {
					t.Fatalf("%s: no new page with %s", step, sel)
				}
				time.Sleep(100 * time.Millisecond)
			}
		}
		// check runs axe and makes sure nothing sticks out sideways at 360 px.
		check := func(name string) {
			t.Helper()
			browsertest.CheckA11y(t, ctx, name)
			if eval("measure "+name, `document.documentElement.scrollWidth > window.innerWidth`) {
				t.Errorf("%s: the page is wider than a 360 px screen", name)
			}
		}

		run("open home", chromedp.Navigate(srv.URL+"/"), chromedp.WaitVisible(chromedp.CSS("h1")))
		// Headless Chromium asks for en-US: the portal follows the browser.
		if got := text("h1"); got != "Welcome to portalo" {
			t.Fatalf("home in the browser's language, got %q", got)
		}
		check("home")
		navigate("switch to German", chromedp.Click(chromedp.CSS(`nav.langs a[lang="de"]`)), `html[lang="de"]`)
		if got := text("h1"); got != "Willkommen bei portalo" {
			t.Fatalf("home after switching to German, got %q", got)
		}
		check("home in German")

		navigate("go to register", chromedp.Click(chromedp.CSS(`a[href="/register"].button`)), "#pseudonym")
		check("register")

		run("fill in a short password",
			chromedp.SendKeys(chromedp.CSS("#pseudonym"), "Yara"),
			chromedp.SendKeys(chromedp.CSS("#password"), "kurz"),
			chromedp.SendKeys(chromedp.CSS("#password_confirm"), "kurz"),
		)
		navigate("register with a short password", chromedp.Click(chromedp.CSS(`form.stack button[type="submit"]`)), "#error-summary")
		if got := text("#password-error"); !strings.Contains(got, "mindestens 8 Zeichen") {
			t.Fatalf("password error: %q", got)
		}
		pseudonymKept, err := chromedp.Run(ctx, chromedp.Value(chromedp.CSS("#pseudonym")))
		if err != nil || pseudonymKept != "Yara" {
			t.Fatalf("the form lost the pseudonym: %q", pseudonymKept)
		}
		check("register with errors")

		run("fill in the registration",
			chromedp.SendKeys(chromedp.CSS("#password"), "ein gutes Passwort"),
			chromedp.SendKeys(chromedp.CSS("#password_confirm"), "ein gutes Passwort"),
			chromedp.Click(chromedp.CSS("#multiplier")),
		)
		navigate("register", chromedp.Click(chromedp.CSS(`form.stack button[type="submit"]`)), "#flash")
		if got := text("#flash"); !strings.Contains(got, "Willkommen!") {
			t.Fatalf("after registration: %q", got)
		}
		check("home logged in")

		navigate("account page", chromedp.Click(chromedp.CSS(`a[href="/account"]`)), "#del-h")
		if got := text("dl.facts"); !strings.Contains(got, "Yara") {
			t.Fatalf("account page: %q", got)
		}
		check("account")

		navigate("log out", chromedp.Click(chromedp.CSS(`header button.linkbutton`)), "#flash")
		if got := text("#flash"); got != "Sie sind abgemeldet." {
			t.Fatalf("after logout: %q", got)
		}

		navigate("go to login", chromedp.Click(chromedp.CSS(`header a[href="/login"]`)), "#pseudonym")
		check("login")
		run("fill in a wrong password",
			chromedp.SendKeys(chromedp.CSS("#pseudonym"), "yara"),
			chromedp.SendKeys(chromedp.CSS("#password"), "falsches Passwort"),
		)
		navigate("wrong password", chromedp.Submit(chromedp.CSS("#password")), "#error-summary")
		check("login with error")
		run("fill in the password", chromedp.SendKeys(chromedp.CSS("#password"), "ein gutes Passwort"))
		navigate("log in", chromedp.Submit(chromedp.CSS("#password")), "#flash")
		if got := text("#flash"); got != "Sie sind angemeldet." {
			t.Fatalf("after login: %q", got)
		}

		navigate("switch to Arabic", chromedp.Click(chromedp.CSS(`nav.langs a[lang="ar"]`)), `html[dir="rtl"]`)
		type arabicPage struct {
			Lang, Dir  string
			BrandRight bool
			H1         string
		}
		page, err := chromedp.Run(ctx, chromedp.Evaluate[arabicPage](`({
			Lang: document.documentElement.lang,
			Dir: getComputedStyle(document.body).direction,
			BrandRight: document.querySelector('.brand').getBoundingClientRect().left > window.innerWidth / 2,
			H1: document.querySelector('h1').textContent,
		})`))
		if err != nil || page.Lang != "ar" || page.Dir != "rtl" || !page.BrandRight || page.H1 == "" || page.H1 == "Willkommen bei portalo" {
			t.Fatalf("Arabic page not right-to-left: %+v", page)
		}
		check("home in Arabic")
		navigate("account in Arabic", chromedp.Navigate(srv.URL+"/account"), "#del-h")
		check("account in Arabic")

		navigate("log out in Arabic", chromedp.Click(chromedp.CSS(`header button.linkbutton`)), "#flash")
		if !eval("check logged out", `!!document.querySelector('header a[href="/login"]') && document.documentElement.dir === "rtl"`) {
			t.Fatal("not logged out, or the language was lost")
		}

		// An admin approves Yara's request for the multiplier area.
		if _, err := h.accts.CreateAdmin(context.Background(), "Admina", "admin password"); err != nil {
			t.Fatal(err)
		}
		navigate("admin opens login in English", chromedp.Navigate(srv.URL+"/lang/en?next=/login"), "#pseudonym")
		run("admin fills in the login",
			chromedp.SendKeys(chromedp.CSS("#pseudonym"), "Admina"),
			chromedp.SendKeys(chromedp.CSS("#password"), "admin password"),
		)
		navigate("admin logs in", chromedp.Submit(chromedp.CSS("#password")), `header a[href="/admin"]`)
		navigate("admin page", chromedp.Click(chromedp.CSS(`header a[href="/admin"]`)), "table")
		check("admin")
		navigate("approve", chromedp.Click(chromedp.CSS(`button[aria-label="Approve: Yara"]`)), "#flash")
		if got := text("#flash"); got != "The request has been approved." {
			t.Fatalf("after approval: %q", got)
		}
		yara, err := h.accts.ByPseudonym(context.Background(), "Yara")
		if err != nil || !yara.Has(accounts.RoleMultiplier) {
			t.Fatalf("Yara is not a multiplier: %v %+v", err, yara)
		}
		check("admin after approval")
		// The only errors the page may report are the deliberate 4xx answers
		// to the wrong form entries above; a script error or a missing asset
		// fails the test.
		errs, err := browsertest.JSErrors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range errs {
			expected := strings.Contains(e, "status of 422") && strings.HasSuffix(e, "/register]") ||
				strings.Contains(e, "status of 401") && strings.HasSuffix(e, "/login]")
			if !expected {
				t.Errorf("page error: %s", e)
			}
		}
	})
}
