package s3blob_test

import (
	"context"
	"errors"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"testing"
	"time"

	"portalo/store/blob"
)

// TestPresignGet: a presigned URL reads the object, ranges included,
// without credentials, only for GET, and not once it has expired; the
// bucket itself stays private.
func TestPresignGet(t *testing.T) {
	s := newStore(t)
	ctx := context.Background()
	body := strings.Repeat("0123456789", 100)
	if _, err := s.Put(ctx, "media/x/seg 1.ts", strings.NewReader(body), int64(len(body)), "video/mp2t"); err != nil {
		t.Fatal(err)
	}
	get := func(method, u string, hdr map[string]string) (*http.Response, string) {
		t.Helper()
		req, err := http.NewRequestWithContext(ctx, method, u, nil)
		if err != nil {
			t.Fatal(err)
		}
		for k, v := range hdr {
			req.Header.Set(k, v)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatal(err)
		}
		return resp, string(b)
	}

	u, err := s.PresignGet(ctx, "media/x/seg 1.ts", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	parsed, err := url.Parse(u)
	if err != nil || parsed.Host != config(t).Endpoint || parsed.Query().Get("X-Amz-Signature") == "" {
		t.Fatalf("presigned URL %q (%v)", u, err)
	}
	if exp, _ := strconv.Atoi(parsed.Query().Get("X-Amz-Expires")); exp != 60 {
		t.Errorf("X-Amz-Expires = %q, want 60", parsed.Query().Get("X-Amz-Expires"))
	}
	for _, tc := range []struct {
		name, method string
		hdr          map[string]string
		status       int
		want         string
	}{
		{"whole", "GET", nil, http.StatusOK, body},
		{"range", "GET", map[string]string{"Range": "bytes=10-14"}, http.StatusPartialContent, "01234"},
		{"suffix", "GET", map[string]string{"Range": "bytes=-3"}, http.StatusPartialContent, "789"},
		// The signature covers the method: the URL grants reading only.
		{"delete refused", "DELETE", nil, http.StatusForbidden, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			resp, got := get(tc.method, u, tc.hdr)
			if resp.StatusCode != tc.status || tc.want != "" && got != tc.want {
				t.Fatalf("%s: %d %q, want %d %q", tc.method, resp.StatusCode, got, tc.status, tc.want)
			}
		})
	}
	if _, err := s.Stat(ctx, "media/x/seg 1.ts"); err != nil {
		t.Fatalf("the object is gone after the refused DELETE: %v", err)
	}

	// Without the signature the bucket does not answer.
	parsed.RawQuery = ""
	if resp, _ := get("GET", parsed.String(), nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("unsigned GET: %d, want 403", resp.StatusCode)
	}

	// An expired URL is refused.
	short, err := s.PresignGet(ctx, "media/x/seg 1.ts", time.Second)
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(2100 * time.Millisecond)
	if resp, _ := get("GET", short, nil); resp.StatusCode != http.StatusForbidden {
		t.Errorf("expired URL: %d, want 403", resp.StatusCode)
	}

	// A missing object: 404 at the URL, not an error when signing.
	missing, err := s.PresignGet(ctx, "media/x/none.ts", time.Minute)
	if err != nil {
		t.Fatal(err)
	}
	if resp, _ := get("GET", missing, nil); resp.StatusCode != http.StatusNotFound {
		t.Errorf("missing object: %d, want 404", resp.StatusCode)
	}

	for _, tc := range []struct {
		key    string
		expiry time.Duration
	}{
		{"../x", time.Minute},
		{"", time.Minute},
		{"media/x/seg 1.ts", 0},
		{"media/x/seg 1.ts", 8 * 24 * time.Hour},
	} {
		if _, err := s.PresignGet(ctx, tc.key, tc.expiry); err == nil {
			t.Errorf("PresignGet(%q, %v) succeeded", tc.key, tc.expiry)
		} else if tc.key != "media/x/seg 1.ts" && !errors.Is(err, blob.ErrInvalidKey) {
			t.Errorf("PresignGet(%q): %v, want ErrInvalidKey", tc.key, err)
		}
	}
}
