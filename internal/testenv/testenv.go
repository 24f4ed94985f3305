// Package testenv tells tests where the real servers of the test environment
// are (Redis, MinIO, Chromium), as started by the README's test command.
//
// When a server is not configured a test is skipped, unless
// PORTALO_TEST_STRICT=1 or CI=true is set: then it fails, so that the full
// test command can never pass by skipping the real components.
package testenv

import (
	"os"
	"os/exec"
	"testing"
)

// Strict reports whether missing test servers are failures.
func Strict() bool {
	return os.Getenv("PORTALO_TEST_STRICT") == "1" || os.Getenv("CI") == "true"
}

func missing(t testing.TB, what string) {
	t.Helper()
	if Strict() {
		t.Fatalf("%s is not configured; run the README's test command (make test)", what)
	}
	t.Skipf("%s is not configured; run the README's test command (make test) to include this test", what)
}

// RedisURL returns the URL of the test Redis server (PORTALO_TEST_REDIS_URL).
func RedisURL(t testing.TB) string {
	t.Helper()
	u := os.Getenv("PORTALO_TEST_REDIS_URL")
	if u == "" {
		missing(t, "Redis (PORTALO_TEST_REDIS_URL)")
	}
	return u
}

// S3 describes the test MinIO server.
type S3 struct {
	Endpoint  string // host:port
	AccessKey string
	SecretKey string
}

// MinIO returns the test MinIO server (PORTALO_TEST_S3_ENDPOINT,
// PORTALO_TEST_S3_ACCESS_KEY, PORTALO_TEST_S3_SECRET_KEY).
func MinIO(t testing.TB) S3 {
	t.Helper()
	s := S3{
		Endpoint:  os.Getenv("PORTALO_TEST_S3_ENDPOINT"),
		AccessKey: os.Getenv("PORTALO_TEST_S3_ACCESS_KEY"),
		SecretKey: os.Getenv("PORTALO_TEST_S3_SECRET_KEY"),
	}
	if s.Endpoint == "" || s.AccessKey == "" || s.SecretKey == "" {
		missing(t, "MinIO (PORTALO_TEST_S3_ENDPOINT, _ACCESS_KEY, _SECRET_KEY)")
	}
	return s
}

// Chromium returns the path of the Chromium binary for browser tests
// (PORTALO_TEST_CHROMIUM, else /usr/lib/chromium/chromium).
func Chromium(t testing.TB) string {
	t.Helper()
	for _, p := range []string{os.Getenv("PORTALO_TEST_CHROMIUM"), "/usr/lib/chromium/chromium", "/usr/bin/chromium"} {
		if p == "" {
			continue
		}
		if _, err := os.Stat(p); err == nil {
			return p
		}
	}
	if p, err := exec.LookPath("chromium"); err == nil {
		return p
	}
	missing(t, "Chromium (apt-get install chromium)")
	return ""
}

// FFmpeg skips the test (fails it in strict mode) unless ffmpeg and ffprobe
// are installed, as the media tests need both.
func FFmpeg(t testing.TB) {
	t.Helper()
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			missing(t, tool+" (apt-get install ffmpeg)")
		}
	}
}
