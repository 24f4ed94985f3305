package web

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/internal/storetest"
	"portalo/internal/testenv"
	"portalo/store/blob/dirblob"
	"portalo/store/kv/boltkv"
	"portalo/web/i18n"
)

// TestMediathekRanges: every media response supports Range and HEAD, on
// both object stores: the first byte, a middle part, a suffix, an
// unsatisfiable range (416), several ranges, and If-Range.
func TestMediathekRanges(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		it := h.addSynthetic(t, meta(catalog.KindVideo, "atmen", map[string]string{"de": "Atmen"}), false)
		seg := fixtureSegment()
		target := "/media/" + it.ID + "/hls/v/seg0.ts"
		full := h.do(t, "GET", target, nil, nil)
		if full.Code != http.StatusOK || !bytes.Equal(full.Body.Bytes(), seg) {
			t.Fatalf("GET: %d, %d bytes", full.Code, full.Body.Len())
		}
		etag := full.Header().Get("ETag")
		if full.Header().Get("Accept-Ranges") != "bytes" || full.Header().Get("Content-Length") != "10000" || etag == "" {
			t.Fatalf("GET headers: %v", full.Header())
		}
		for _, tc := range []struct {
			name, method string
			hdr          map[string]string
			status       int
			body         []byte // nil: not checked
			contentRange string
			length       string
		}{
			{"first byte", "GET", map[string]string{"Range": "bytes=0-0"}, 206, seg[:1], "bytes 0-0/10000", "1"},
			{"middle", "GET", map[string]string{"Range": "bytes=4000-4999"}, 206, seg[4000:5000], "bytes 4000-4999/10000", "1000"},
			{"open end", "GET", map[string]string{"Range": "bytes=9990-"}, 206, seg[9990:], "bytes 9990-9999/10000", "10"},
			{"suffix", "GET", map[string]string{"Range": "bytes=-100"}, 206, seg[9900:], "bytes 9900-9999/10000", "100"},
			{"beyond the end", "GET", map[string]string{"Range": "bytes=10000-"}, 416, nil, "bytes */10000", ""},
			// Not a valid range at all: refused too.
			{"backwards", "GET", map[string]string{"Range": "bytes=500-100"}, 416, nil, "", ""},
			{"head", "HEAD", nil, 200, []byte{}, "", "10000"},
			{"head with range", "HEAD", map[string]string{"Range": "bytes=0-9"}, 206, []byte{}, "bytes 0-9/10000", "10"},
			{"if-range matches", "GET", map[string]string{"Range": "bytes=0-9", "If-Range": etag}, 206, seg[:10], "bytes 0-9/10000", "10"},
			{"if-range stale", "GET", map[string]string{"Range": "bytes=0-9", "If-Range": `"stale"`}, 200, seg, "", "10000"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := h.do(t, tc.method, target, nil, tc.hdr)
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d", w.Code, tc.status)
				}
				if tc.body != nil && !bytes.Equal(w.Body.Bytes(), tc.body) {
					t.Fatalf("body %d bytes, want %d", w.Body.Len(), len(tc.body))
				}
				if got := w.Header().Get("Content-Range"); got != tc.contentRange {
					t.Errorf("Content-Range %q, want %q", got, tc.contentRange)
				}
				if tc.length != "" && w.Header().Get("Content-Length") != tc.length {
					t.Errorf("Content-Length %q, want %s", w.Header().Get("Content-Length"), tc.length)
				}
				if tc.status < 300 && w.Header().Get("Content-Type") != "video/mp2t" {
					t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
				}
			})
		}
		// Two ranges come as multipart/byteranges.
		w := h.do(t, "GET", target, nil, map[string]string{"Range": "bytes=0-0,-1"})
		if w.Code != 206 || !strings.HasPrefix(w.Header().Get("Content-Type"), "multipart/byteranges") {
			t.Errorf("two ranges: %d %q", w.Code, w.Header().Get("Content-Type"))
		}
	})
}

// TestMediathekConditional: ETag and Last-Modified come from the object
// store; a matching If-None-Match (also weak or in a list) or a recent
// If-Modified-Since gives 304 without a body.
func TestMediathekConditional(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		it := h.addSynthetic(t, meta(catalog.KindVideo, "atmen", map[string]string{"de": "Atmen"}), false)
		target := "/media/" + it.ID + "/hls/master.m3u8"
		first := h.do(t, "GET", target, nil, nil)
		etag, modified := first.Header().Get("ETag"), first.Header().Get("Last-Modified")
		info, err := h.blobs.Stat(context.Background(), it.Prefix()+"hls/master.m3u8")
		if err != nil {
			t.Fatal(err)
		}
		if etag != `"`+info.ETag+`"` {
			t.Fatalf("ETag %q, object's %q", etag, info.ETag)
		}
		if lm, err := http.ParseTime(modified); err != nil || !lm.Equal(info.Modified.Truncate(time.Second)) {
			t.Fatalf("Last-Modified %q (%v), object modified %v", modified, err, info.Modified)
		}
		for _, tc := range []struct {
			name   string
			hdr    map[string]string
			status int
		}{
			{"same etag", map[string]string{"If-None-Match": etag}, 304},
			{"weak etag", map[string]string{"If-None-Match": "W/" + etag}, 304},
			{"in a list", map[string]string{"If-None-Match": `"other", ` + etag}, 304},
			{"star", map[string]string{"If-None-Match": "*"}, 304},
			{"other etag", map[string]string{"If-None-Match": `"other"`}, 200},
			{"not modified since", map[string]string{"If-Modified-Since": modified}, 304},
			{"modified since", map[string]string{"If-Modified-Since": info.Modified.Add(-time.Hour).UTC().Format(http.TimeFormat)}, 200},
			// If-None-Match wins over If-Modified-Since.
			{"etag wins", map[string]string{"If-None-Match": `"other"`, "If-Modified-Since": modified}, 200},
		} {
			t.Run(tc.name, func(t *testing.T) {
				w := h.do(t, "GET", target, nil, tc.hdr)
				if w.Code != tc.status {
					t.Fatalf("status %d, want %d", w.Code, tc.status)
				}
				if tc.status == 304 && (w.Body.Len() != 0 || w.Header().Get("ETag") != etag) {
					t.Fatalf("304 with %d bytes, ETag %q", w.Body.Len(), w.Header().Get("ETag"))
				}
			})
		}
	})
}

// TestMediathekTypesAndCaching: each kind of file gets its Content-Type
// and cache policy: playlists briefly, the rest for a year and immutable;
// files of an item for multipliers and of drafts only in the browser.
func TestMediathekTypesAndCaching(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		pub := h.addSynthetic(t, meta(catalog.KindVideo, "atmen", map[string]string{"de": "Atmen"}), false)
		m := meta(catalog.KindVideo, "fachwissen", map[string]string{"de": "Fachwissen"})
		m.Audience = catalog.AudienceMultipliers
		mult := h.addSynthetic(t, m, false)
		draft := h.addSynthetic(t, meta(catalog.KindVideo, "entwurf", map[string]string{"de": "Entwurf"}), true)
		_, multiplier := h.member(t, "Malte", accounts.RoleMultiplier)
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		const long = "max-age=31536000, immutable"
		for _, tc := range []struct {
			file, ctype, cache string
		}{
			{"hls/master.m3u8", "application/vnd.apple.mpegurl", "max-age=5"},
			{"hls/v/index.m3u8", "application/vnd.apple.mpegurl", "max-age=5"},
			{"hls/v/seg0.ts", "video/mp2t", long},
			{"hls/v/seg1.m4s", "video/mp4", long},
			{"hls/v/init.mp4", "video/mp4", long},
			{"hls/subs/de.vtt", "text/vtt; charset=utf-8", long},
			{"subtitles/tr.vtt", "text/vtt; charset=utf-8", long},
			{"poster.jpg", "image/jpeg", long},
			{"download/audio.m4a", "audio/mp4", long},
		} {
			for _, it := range []struct {
				item   catalog.Item
				who    *http.Cookie
				public bool
			}{{pub, nil, true}, {mult, multiplier, false}, {draft, editor, false}} {
				t.Run(it.item.Slug+"/"+tc.file, func(t *testing.T) {
					w := h.do(t, "GET", "/media/"+it.item.ID+"/"+tc.file, nil, nil, cookies(it.who)...)
					if w.Code != 200 {
						t.Fatalf("status %d", w.Code)
					}
					if got := w.Header().Get("Content-Type"); got != tc.ctype {
						t.Errorf("Content-Type %q, want %q", got, tc.ctype)
					}
					want := "private, " + tc.cache
					if it.public {
						want = "public, " + tc.cache
					}
					if got := w.Header().Get("Cache-Control"); got != want {
						t.Errorf("Cache-Control %q, want %q", got, want)
					}
					if w.Header().Get("X-Content-Type-Options") != "nosniff" {
						t.Error("no nosniff")
					}
				})
			}
		}
		// A download is an attachment named after the item.
		w := h.do(t, "GET", "/media/"+pub.ID+"/download/audio.m4a?download=1", nil, nil)
		if cd := w.Header().Get("Content-Disposition"); w.Code != 200 || cd != `attachment; filename=atmen.m4a` {
			t.Errorf("download: %d %q", w.Code, cd)
		}
	})
}

// mainOf returns the <main> element of a page.
func mainOf(page string) string {
	_, rest, _ := strings.Cut(page, "<main")
	main, _, _ := strings.Cut(rest, "</main>")
	return main
}

func cookies(c *http.Cookie) []*http.Cookie {
	if c == nil {
		return nil
	}
	return []*http.Cookie{c}
}

// TestMediathekAccess: who sees what, for every kind of visitor, on the
// item page, the API, the lists and every file: items for multipliers
// only for approved multipliers, editors and admins; drafts only for
// editors and admins; everyone else gets the same 404 as for an item
// that does not exist. Files nobody lists, the manifest, other items'
// files and the uploaded source (except for editors) are never served.
func TestMediathekAccess(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		pub := h.addSynthetic(t, meta(catalog.KindVideo, "fuer-alle", map[string]string{"de": "Für alle"}), false)
		m := meta(catalog.KindVideo, "fuer-fachkraefte", map[string]string{"de": "Für Fachkräfte"})
		m.Audience = catalog.AudienceMultipliers
		mult := h.addSynthetic(t, m, false)
		draft := h.addSynthetic(t, meta(catalog.KindVideo, "entwurf", map[string]string{"de": "Entwurf"}), true)
		sees := map[string]map[string]bool{
			"anonymous":             {"fuer-alle": true},
			"participant":           {"fuer-alle": true},
			"unapproved multiplier": {"fuer-alle": true},
			"multiplier":            {"fuer-alle": true, "fuer-fachkraefte": true},
			"editor":                {"fuer-alle": true, "fuer-fachkraefte": true, "entwurf": true},
			"admin":                 {"fuer-alle": true, "fuer-fachkraefte": true, "entwurf": true},
		}
		files := []string{"hls/master.m3u8", "hls/v/index.m3u8", "hls/v/seg0.ts", "hls/v/init.mp4", "hls/subs/de.m3u8", "hls/subs/de.vtt", "poster.jpg", "subtitles/tr.vtt", "download/audio.m4a"}
		for _, v := range h.visitors(t) {
			for _, it := range []catalog.Item{pub, mult, draft} {
				want := sees[v.name][it.Slug]
				t.Run(v.name+"/"+it.Slug, func(t *testing.T) {
					c := cookies(v.cookie)
					de := map[string]string{"Accept-Language": "de"}
					page := h.do(t, "GET", "/mediathek/"+it.Slug, nil, de, c...)
					missing := h.do(t, "GET", "/mediathek/gibt-es-nicht", nil, de, c...)
					api := h.do(t, "GET", "/api/v1/mediathek/"+it.Slug, nil, nil, c...)
					list := h.do(t, "GET", "/api/v1/mediathek?page_size=50", nil, nil, c...)
					browse := h.do(t, "GET", "/mediathek", nil, de, c...)
					listed := strings.Contains(list.Body.String(), `"slug":"`+it.Slug+`"`)
					inBrowse := strings.Contains(browse.Body.String(), `href="/mediathek/`+it.Slug+`"`)
					if want {
						if page.Code != 200 || api.Code != 200 {
							t.Fatalf("page %d, api %d; want it visible", page.Code, api.Code)
						}
						// The lists show published items (also to editors,
						// who have their own list with drafts).
						if listed != it.IsPublished() || inBrowse != it.IsPublished() {
							t.Errorf("on /mediathek: %v", inBrowse)
						}
					} else {
						if page.Code != 404 || api.Code != 404 || listed || inBrowse {
							t.Fatalf("page %d, api %d, listed %v, browse %v; want it hidden", page.Code, api.Code, listed, inBrowse)
						}
						// Never reveal: the same answer as for nothing.
						if mainOf(page.Body.String()) != mainOf(missing.Body.String()) || missing.Code != 404 {
							t.Errorf("the 404 of a hidden item differs from that of a missing one")
						}
					}
					for _, f := range files {
						for _, method := range []string{"GET", "HEAD"} {
							w := h.do(t, method, "/media/"+it.ID+"/"+f, nil, nil, c...)
							if want && w.Code != 200 || !want && w.Code != 404 {
								t.Errorf("%s %s: %d, visible %v", method, f, w.Code, want)
							}
						}
					}
					editor := v.name == "editor" || v.name == "admin"
					for _, tc := range []struct {
						path string
						ok   bool
					}{
						{"source.mp4", want && editor},
						{"secret.ts", false},
						{"manifest.json", false},
						{"hls/v/../v/seg0.ts", false},
						{"hls/nothing.ts", false},
						{"", false},
					} {
						w := h.do(t, "GET", "/media/"+it.ID+"/"+tc.path, nil, nil, c...)
						if tc.ok && w.Code != 200 || !tc.ok && w.Code != 404 {
							t.Errorf("%q: %d, want ok=%v", tc.path, w.Code, tc.ok)
						}
					}
				})
			}
		}
		// The playlist's reference to another item or site is not served,
		// nor is one item's file under another's ID.
		for _, p := range []string{"/media/" + pub.ID + "/other/x.ts", "/media/" + mult.ID + "/../" + pub.ID + "/hls/v/seg0.ts", "/media/nope/hls/master.m3u8"} {
			if w := h.do(t, "GET", p, nil, nil); w.Code != 404 {
				t.Errorf("%s: %d", p, w.Code)
			}
		}
	})
}

// TestMediathekWithdrawnApproval: a multiplier whose role an admin takes
// away is refused at the next segment, with the same session.
func TestMediathekWithdrawnApproval(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		m := meta(catalog.KindVideo, "fuer-fachkraefte", map[string]string{"de": "Für Fachkräfte"})
		m.Audience = catalog.AudienceMultipliers
		it := h.addSynthetic(t, m, false)
		a, sess := h.member(t, "Malte", accounts.RoleMultiplier)
		seg := "/media/" + it.ID + "/hls/v/seg0.ts"
		if w := h.do(t, "GET", seg, nil, map[string]string{"Range": "bytes=0-99"}, sess); w.Code != 206 {
			t.Fatalf("approved multiplier: %d", w.Code)
		}
		if _, err := h.accts.SetRoles(context.Background(), a.ID, nil); err != nil {
			t.Fatal(err)
		}
		if w := h.do(t, "GET", seg, nil, map[string]string{"Range": "bytes=100-199"}, sess); w.Code != 404 {
			t.Fatalf("after the approval was withdrawn: %d", w.Code)
		}
		if w := h.do(t, "GET", "/mediathek/"+it.Slug, nil, nil, sess); w.Code != 404 {
			t.Fatalf("item page after withdrawal: %d", w.Code)
		}
		// And back.
		if _, err := h.accts.ApproveMultiplier(context.Background(), a.ID); err != nil {
			t.Fatal(err)
		}
		if w := h.do(t, "GET", seg, nil, nil, sess); w.Code != 200 {
			t.Fatalf("approved again: %d", w.Code)
		}
	})
}

// TestMediathekRedirect: with MediaDelivery=redirect on MinIO, segments
// and other large files are a 302 to a presigned URL of the private
// bucket that MinIO answers (ranges too) for a few minutes, after the
// same access check; playlists, posters, subtitles, HEAD and downloads
// stay proxied; the item page allows the bucket in its CSP, only there.
func TestMediathekRedirect(t *testing.T) {
	state, err := boltkv.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer state.Close()
	h := newMediaHarness(t, storetest.NewS3Blob(t), state, DeliveryRedirect)
	it := h.addSynthetic(t, meta(catalog.KindVideo, "atmen", map[string]string{"de": "Atmen"}), false)
	m := meta(catalog.KindVideo, "fuer-fachkraefte", map[string]string{"de": "Für Fachkräfte"})
	m.Audience = catalog.AudienceMultipliers
	mult := h.addSynthetic(t, m, false)
	seg := "/media/" + it.ID + "/hls/v/seg0.ts"

	w := h.do(t, "GET", seg, nil, nil)
	loc := w.Header().Get("Location")
	u, err := url.Parse(loc)
	if w.Code != http.StatusFound || err != nil || u.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("segment: %d Location %q", w.Code, loc)
	}
	if w.Header().Get("Cache-Control") != "no-store" {
		t.Errorf("redirect Cache-Control %q", w.Header().Get("Cache-Control"))
	}
	if exp, _ := strconv.Atoi(u.Query().Get("X-Amz-Expires")); exp < 60 || exp > 600 {
		t.Errorf("presigned for %ds", exp)
	}
	if u.Host != testenv.MinIO(t).Endpoint {
		t.Errorf("redirect to %q, not to MinIO", u.Host)
	}
	get := func(target string, hdr map[string]string) (*http.Response, []byte) {
		t.Helper()
		req, _ := http.NewRequest("GET", target, nil)
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, _ := io.ReadAll(resp.Body)
		return resp, b
	}
	if resp, body := get(loc, nil); resp.StatusCode != 200 || !bytes.Equal(body, fixtureSegment()) {
		t.Fatalf("MinIO answered %d with %d bytes", resp.StatusCode, len(body))
	}
	if resp, body := get(loc, map[string]string{"Range": "bytes=-100"}); resp.StatusCode != 206 || !bytes.Equal(body, fixtureSegment()[9900:]) {
		t.Fatalf("MinIO range: %d, %d bytes", resp.StatusCode, len(body))
	}
	// Without the signature MinIO refuses: the bucket is private.
	u.RawQuery = ""
	if resp, _ := get(u.String(), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned: %d", resp.StatusCode)
	}

	for _, tc := range []struct {
		method, file string
	}{
		{"GET", "hls/master.m3u8"}, {"GET", "hls/v/index.m3u8"}, {"GET", "poster.jpg"}, {"GET", "hls/subs/de.vtt"},
		{"HEAD", "hls/v/seg0.ts"}, {"GET", "download/audio.m4a?download=1"},
	} {
		if w := h.do(t, tc.method, "/media/"+it.ID+"/"+tc.file, nil, nil); w.Code != 200 {
			t.Errorf("%s %s: %d, want it proxied", tc.method, tc.file, w.Code)
		}
	}
	// The access check comes first.
	if w := h.do(t, "GET", "/media/"+mult.ID+"/hls/v/seg0.ts", nil, nil); w.Code != 404 || w.Header().Get("Location") != "" {
		t.Errorf("hidden item: %d Location %q", w.Code, w.Header().Get("Location"))
	}
	page := h.do(t, "GET", "/mediathek/atmen", nil, nil)
	origin := u.Scheme + "://" + u.Host
	csp := page.Header().Get("Content-Security-Policy")
	if !strings.Contains(csp, "connect-src 'self' "+origin) || !strings.Contains(csp, "media-src 'self' blob: data: "+origin) || !strings.Contains(csp, "default-src 'self'") {
		t.Errorf("item page CSP %q lacks %s", csp, origin)
	}
	if csp := h.do(t, "GET", "/mediathek", nil, nil).Header().Get("Content-Security-Policy"); strings.Contains(csp, origin) {
		t.Errorf("browse page CSP %q allows the bucket", csp)
	}

	// A store that cannot presign cannot redirect: New says so.
	dir, err := dirblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	defer dir.Close()
	msgs, _ := i18n.Load()
	_, err = New(Config{Accounts: h.accts, Catalog: msgs, Mediathek: h.cat, Objects: dir, MediaDelivery: DeliveryRedirect})
	if err == nil || !strings.Contains(err.Error(), "presign") {
		t.Errorf("redirect on a directory store: %v", err)
	}
	if _, err = New(Config{Accounts: h.accts, Catalog: msgs, Mediathek: h.cat, Objects: dir, MediaDelivery: "teleport"}); err == nil {
		t.Error("an unknown delivery was accepted")
	}
	if _, err = New(Config{Accounts: h.accts, Catalog: msgs, Mediathek: h.cat}); err == nil {
		t.Error("a mediathek without object store was accepted")
	}
}

// TestMediathekFFprobe: ffprobe, a client nobody here wrote, reads the
// master playlist of a real HLS presentation from the running server and
// finds every rendition: two video renditions, the audio-only one, both
// language versions of the sound and the German subtitles.
func TestMediathekFFprobe(t *testing.T) {
	fix := makeHLS(t)
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		it := h.addHLS(t, fix, meta(catalog.KindVideo, "atmen", map[string]string{"de": "Atmen"}))
		srv := httptest.NewServer(h.srv)
		defer srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		master := srv.URL + "/media/" + it.ID + "/hls/" + fix.res.Master
		cmd := exec.CommandContext(ctx, "ffprobe", "-v", "error", "-strict", "experimental",
			"-print_format", "json", "-show_programs", "-show_streams", master)
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			t.Fatalf("ffprobe: %v\n%s", err, stderr.String())
		}
		var probe struct {
			Programs []struct {
				Tags map[string]string `json:"tags"`
			} `json:"programs"`
			Streams []struct {
				CodecType string            `json:"codec_type"`
				CodecName string            `json:"codec_name"`
				Height    int               `json:"height"`
				Tags      map[string]string `json:"tags"`
			} `json:"streams"`
		}
		if err := json.Unmarshal(out, &probe); err != nil {
			t.Fatal(err)
		}
		if len(probe.Programs) != len(fix.res.Variants) {
			t.Errorf("ffprobe found %d variants, the presentation has %d", len(probe.Programs), len(fix.res.Variants))
		}
		heights := map[int]bool{}
		langs := map[string]map[string]bool{"audio": {}, "subtitle": {}}
		for _, s := range probe.Streams {
			switch s.CodecType {
			case "video":
				heights[s.Height] = true
			case "audio", "subtitle":
				langs[s.CodecType][primaryLang(s.Tags["language"])] = true
			}
		}
		for _, v := range fix.res.Variants {
			if v.Height > 0 && !heights[v.Height] {
				t.Errorf("rendition %s (%dp) not found: %v", v.Name, v.Height, heights)
			}
		}
		if len(heights) < 2 {
			t.Errorf("only %d video renditions found", len(heights))
		}
		for _, lang := range []string{"de", "tr"} {
			if !langs["audio"][lang] {
				t.Errorf("no %s sound found: %v", lang, langs["audio"])
			}
		}
		if !langs["subtitle"]["de"] {
			t.Errorf("no German subtitles found: %v", langs["subtitle"])
		}
	})
}

// TestMediathekChaptersAndDocuments: an episode's chapters file is served
// with the chapters type, and office documents with theirs, not as
// octet-stream.
func TestMediathekChaptersAndDocuments(t *testing.T) {
	mediaStores(t, func(t *testing.T, h *mediaHarness) {
		ctx := context.Background()
		it := h.addSynthetic(t, meta(catalog.KindEpisode, "folge", map[string]string{"de": "Folge"}), true)
		chapters := `{"version":"1.2.0","chapters":[{"startTime":0,"title":"Start"}]}`
		if _, err := h.blobs.Put(ctx, it.Prefix()+"source/chapters.json", strings.NewReader(chapters), int64(len(chapters)), ""); err != nil {
			t.Fatal(err)
		}
		if _, err := h.cat.SetFiles(ctx, it.ID, func(m *catalog.Media) error { m.Chapters = it.Prefix() + "source/chapters.json"; return nil }); err != nil {
			t.Fatal(err)
		}
		if _, err := h.cat.Publish(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
		w := h.do(t, "GET", "/media/"+it.ID+"/source/chapters.json", nil, nil)
		if w.Code != 200 || w.Body.String() != chapters || w.Header().Get("Content-Type") != "application/json+chapters" {
			t.Fatalf("chapters: %d %q %q", w.Code, w.Header().Get("Content-Type"), w.Body)
		}
		for ext, want := range map[string]string{
			"docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
			"odt":  "application/vnd.oasis.opendocument.text",
			"zip":  "application/zip",
		} {
			if got := mediaContentType("media/x/source/original." + ext); got != want {
				t.Errorf(".%s: %q, want %q", ext, got, want)
			}
		}
	})
}
