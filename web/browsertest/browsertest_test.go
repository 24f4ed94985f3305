package browsertest

import (
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

const goodPage = `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Sign in – portalo</title>
</head>
<body>
<main>
<h1>Sign in</h1>
<form action="/login" method="post">
<label for="email">Email address</label>
<input id="email" name="email" type="email" autocomplete="email">
<button type="submit">Continue</button>
</form>
</main>
</body>
</html>`

// badPage breaks axe rules on purpose: no lang, an image without alt text,
// an input without a label.
const badPage = `<!doctype html>
<html>
<head><meta charset="utf-8"><title>Bad page</title></head>
<body>
<img src="/pixel.gif">
<input type="text" name="q">
</body>
</html>`

const errorPage = `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Errors</title></head>
<body><main><h1>Errors</h1></main>
<script>console.error("something went wrong", 42); throw new Error("boom");</script>
</body></html>`

// pixel is a 1×1 transparent GIF.
const pixel = "GIF89a\x01\x00\x01\x00\x80\x00\x00\x00\x00\x00\xff\xff\xff!\xf9\x04\x01\x00\x00\x00\x00,\x00\x00\x00\x00\x01\x00\x01\x00\x00\x02\x02D\x01\x00;"

func testServer(t *testing.T) *httptest.Server {
	t.Helper()
	mux := http.NewServeMux()
	page := func(body string) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Content-Type", "text/html; charset=utf-8")
			w.Write([]byte(body))
		}
	}
	mux.HandleFunc("GET /good", page(goodPage))
	mux.HandleFunc("GET /bad", page(badPage))
	mux.HandleFunc("GET /errors", page(errorPage))
	mux.HandleFunc("GET /pixel.gif", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/gif")
		w.Write([]byte(pixel))
	})
	srv := httptest.NewServer(mux) // listens on 127.0.0.1
	t.Cleanup(srv.Close)
	return srv
}

func TestAxeVersion(t *testing.T) {
	if want := "/*! axe v" + AxeVersion + "\n"; !strings.HasPrefix(axeSource, want) {
		t.Fatalf("axe.min.js does not start with %q: update AxeVersion with the file", want)
	}
}

func TestBrowser(t *testing.T) {
	srv := testServer(t)
	b := New(t)

	t.Run("good page passes the a11y check", func(t *testing.T) {
		ctx := b.NewTab(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good")); err != nil {
			t.Fatal(err)
		}
		title, err := chromedp.Run(ctx, chromedp.Title())
		if err != nil || title != "Sign in – portalo" {
			t.Fatalf("title = %q, %v", title, err)
		}
		CheckA11y(t, ctx, "good")
		CheckA11y(t, ctx, "good, axe already injected")
		AssertNoJSErrors(t, ctx)
	})

	t.Run("bad page has violations", func(t *testing.T) {
		ctx := b.NewTab(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/bad")); err != nil {
			t.Fatal(err)
		}
		v, err := A11yViolations(ctx)
		if err != nil {
			t.Fatal(err)
		}
		report := FormatViolations("bad", v)
		t.Logf("expected violations:\n%s", report)
		var ids []string
		for _, x := range v {
			ids = append(ids, x.ID)
		}
		for _, want := range []string{"html-has-lang", "image-alt", "label"} {
			if !slices.Contains(ids, want) {
				t.Errorf("violation %q not found in %v", want, ids)
			}
		}
		for _, want := range []string{"image-alt [critical]", `<img src="/pixel.gif">`, "- img"} {
			if !strings.Contains(report, want) {
				t.Errorf("report lacks %q", want)
			}
		}
	})

	t.Run("page errors are recorded", func(t *testing.T) {
		ctx := b.NewTab(t)
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/errors")); err != nil {
			t.Fatal(err)
		}
		errs, err := JSErrors(ctx)
		if err != nil {
			t.Fatal(err)
		}
		all := strings.Join(errs, "\n")
		for _, want := range []string{"console.error: something went wrong 42", "uncaught exception: Uncaught Error: boom"} {
			if !strings.Contains(all, want) {
				t.Errorf("errors lack %q:\n%s", want, all)
			}
		}
	})

	t.Run("phone viewport", func(t *testing.T) {
		ctx := b.NewTab(t, Viewport(360, 740))
		if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/good")); err != nil {
			t.Fatal(err)
		}
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.innerWidth"))
		if err != nil || w != 360 {
			t.Fatalf("window.innerWidth = %d, %v; want 360", w, err)
		}
		CheckA11y(t, ctx, "good at 360 px")
	})

	t.Run("default viewport is not a phone", func(t *testing.T) {
		ctx := b.NewTab(t)
		w, err := chromedp.Run(ctx, chromedp.Evaluate[int]("window.innerWidth"))
		if err != nil || w < 1000 {
			t.Fatalf("window.innerWidth = %d, %v; want a desktop width", w, err)
		}
	})
}
