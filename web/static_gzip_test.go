package web

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"strings"
	"testing"
)

// TestStaticGzip: scripts and style sheets go out compressed to clients
// that take gzip and as they are to the others, always with Vary; small
// files and images are never compressed; ranges and caching still work.
func TestStaticGzip(t *testing.T) {
	backends(t, func(t *testing.T, h *harness) {
		static, err := fs.Sub(staticFiles, "static")
		if err != nil {
			t.Fatal(err)
		}
		hls, err := fs.ReadFile(static, "vendor/hls.min.js")
		if err != nil {
			t.Fatal(err)
		}
		favicon, err := fs.ReadFile(static, "favicon.svg")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct {
			name, file, accept string
			gzipped            bool
			want               []byte
			vary               bool
		}{
			{"hls.js gzipped", "vendor/hls.min.js", "gzip, deflate, br", true, hls, true},
			{"hls.js plain without Accept-Encoding", "vendor/hls.min.js", "", false, hls, true},
			{"gzip refused with q=0", "vendor/hls.min.js", "gzip;q=0, br", false, hls, true},
			{"gzip with a weight", "vendor/hls.min.js", "br;q=1.0, gzip;q=0.8", true, hls, true},
			{"small file plain", "favicon.svg", "gzip", len(favicon) >= gzipMinSize, favicon, len(favicon) >= gzipMinSize},
		} {
			t.Run(tc.name, func(t *testing.T) {
				hdr := map[string]string{}
				if tc.accept != "" {
					hdr["Accept-Encoding"] = tc.accept
				}
				w := h.do(t, "GET", "/static/"+tc.file+"?v="+h.srv.assetVersion, nil, hdr)
				if w.Code != 200 {
					t.Fatalf("status %d", w.Code)
				}
				body := w.Body.Bytes()
				if got := w.Header().Get("Content-Encoding") == "gzip"; got != tc.gzipped {
					t.Fatalf("Content-Encoding %q, want gzip: %v", w.Header().Get("Content-Encoding"), tc.gzipped)
				}
				if tc.gzipped {
					if len(body) > len(tc.want)/2 {
						t.Errorf("gzip body %d bytes of %d", len(body), len(tc.want))
					}
					zr, err := gzip.NewReader(bytes.NewReader(body))
					if err != nil {
						t.Fatal(err)
					}
					if body, err = io.ReadAll(zr); err != nil {
						t.Fatal(err)
					}
				}
				if !bytes.Equal(body, tc.want) {
					t.Errorf("body differs from the file (%d bytes, want %d)", len(body), len(tc.want))
				}
				if got := strings.Contains(w.Header().Get("Vary"), "Accept-Encoding"); got != tc.vary {
					t.Errorf("Vary %q", w.Header().Get("Vary"))
				}
				if !strings.Contains(w.Header().Get("Cache-Control"), "immutable") {
					t.Errorf("Cache-Control %q", w.Header().Get("Cache-Control"))
				}
				if strings.HasSuffix(tc.file, ".js") && !strings.Contains(w.Header().Get("Content-Type"), "javascript") {
					t.Errorf("Content-Type %q", w.Header().Get("Content-Type"))
				}
			})
		}
	})
}
