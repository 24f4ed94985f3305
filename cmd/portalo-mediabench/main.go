// Command portalo-mediabench is the mediathek benchmark (issue 4). Against
// a running portalo and the MinIO it stores its objects in, it prints side
// by side:
//
//   - segment download throughput: the HLS segments of a published video
//     (every rendition), downloaded -segments times by -clients parallel
//     clients through portalo, and the same objects straight from MinIO
//     with minio-go;
//   - byte-range throughput: -ranges random ranges of -range-size bytes of
//     the video's largest file, through portalo (Range header) and from
//     MinIO (GetObject with a range);
//   - their ratios (portalo / MinIO; the target is at least 0.9);
//   - the latency (p50, p99, max) of the catalog list
//     (GET /api/v1/mediathek?page=1) and of a search
//     (GET /api/v1/mediathek?q=-query) at a fixed rate (-rate requests/s
//     for -duration, open loop: requests are sent at their intended times
//     whatever the answers do, and latency runs from the intended send
//     time, so a stalled server cannot hide behind a stalled client).
//
// The video is -item (a slug), or the first published video of the
// catalog list. With -editor and -editor-password the tool logs in first
// (to reach an unpublished or multipliers-only item). The last line is
//
//	proxy_vs_direct=R catalog_p99_ms=X search_p99_ms=Y
//
// where R is the lower of the two ratios.
//
//	go run ./cmd/portalo-mediabench -url http://127.0.0.1:8080 \
//	    -s3-endpoint 127.0.0.1:9000 -s3-access-key KEY -s3-secret-key SECRET -s3-bucket portalo
//
// The columns "late" (requests that found every sender busy for more than
// 5 ms) and "req/s" (the rate achieved) tell whether the client kept up.
//
// "portalo-mediabench seed ..." prepares the stores of a portalo for the
// benchmark and "portalo-mediabench drop ..." removes a bucket it filled
// (see seed.go); deploy/media-bench.sh runs them against a fresh portalo.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"
)

type options struct {
	url                 string
	item                string
	editor, editorPW    string
	s3Endpoint          string
	s3Access, s3Secret  string
	s3Bucket, s3Region  string
	s3TLS               bool
	clients             int
	segments            int
	ranges              int
	rangeSize           int64
	rate                int
	duration            time.Duration
	query               string
	workers             int
	skipTransfer        bool
	skipLatency         bool
	requestTimeout      time.Duration
	warmupLatencyWindow time.Duration
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if len(os.Args) > 1 && os.Args[1] == "seed" {
		if err := seedMain(ctx, os.Args[2:], os.Stdout, os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "portalo-mediabench seed:", err)
			os.Exit(1)
		}
		return
	}
	if len(os.Args) > 1 && os.Args[1] == "drop" {
		if err := dropMain(ctx, os.Args[2:], os.Stderr); err != nil {
			fmt.Fprintln(os.Stderr, "portalo-mediabench drop:", err)
			os.Exit(1)
		}
		return
	}
	if err := benchMain(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "portalo-mediabench:", err)
		os.Exit(1)
	}
}

func benchMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	fs := flag.NewFlagSet("portalo-mediabench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.url, "url", "http://127.0.0.1:8080", "portalo's base URL")
	fs.StringVar(&o.item, "item", "", "slug of the video to download (default: the first published video)")
	fs.StringVar(&o.editor, "editor", "", "pseudonym of an editor to log in as (optional)")
	fs.StringVar(&o.editorPW, "editor-password", os.Getenv("PORTALO_EDITOR_PASSWORD"), "the editor's password (or PORTALO_EDITOR_PASSWORD)")
	fs.StringVar(&o.s3Endpoint, "s3-endpoint", os.Getenv("PORTALO_S3_ENDPOINT"), "MinIO host:port (or PORTALO_S3_ENDPOINT)")
	fs.StringVar(&o.s3Access, "s3-access-key", os.Getenv("PORTALO_S3_ACCESS_KEY"), "MinIO access key (or PORTALO_S3_ACCESS_KEY)")
	fs.StringVar(&o.s3Secret, "s3-secret-key", os.Getenv("PORTALO_S3_SECRET_KEY"), "MinIO secret key (or PORTALO_S3_SECRET_KEY)")
	fs.StringVar(&o.s3Bucket, "s3-bucket", envOr("PORTALO_S3_BUCKET", "portalo"), "MinIO bucket (or PORTALO_S3_BUCKET)")
	fs.StringVar(&o.s3Region, "s3-region", os.Getenv("PORTALO_S3_REGION"), "MinIO region (optional)")
	fs.BoolVar(&o.s3TLS, "s3-tls", false, "reach MinIO over HTTPS")
	fs.IntVar(&o.clients, "clients", 4, "parallel clients of the downloads")
	fs.IntVar(&o.segments, "segments", 300, "segment downloads per side")
	fs.IntVar(&o.ranges, "ranges", 400, "range requests per side")
	fs.Int64Var(&o.rangeSize, "range-size", 256<<10, "bytes per range request")
	fs.IntVar(&o.rate, "rate", 1000, "catalog requests per second")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "length of each latency measurement")
	fs.StringVar(&o.query, "query", "schlaf", "search text")
	fs.IntVar(&o.workers, "workers", 256, "most catalog requests in flight at once")
	fs.BoolVar(&o.skipTransfer, "no-transfer", false, "skip the download throughput")
	fs.BoolVar(&o.skipLatency, "no-latency", false, "skip the catalog latency")
	fs.DurationVar(&o.requestTimeout, "timeout", 30*time.Second, "timeout of one request")
	fs.DurationVar(&o.warmupLatencyWindow, "warmup", 2*time.Second, "paced warm-up before each latency measurement (not counted)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.url = strings.TrimRight(o.url, "/")
	switch {
	case !o.skipTransfer && (o.s3Endpoint == "" || o.s3Access == "" || o.s3Secret == ""):
		return errors.New("-s3-endpoint, -s3-access-key and -s3-secret-key are required to compare with MinIO (or -no-transfer)")
	case o.clients < 1 || o.segments < 1 || o.ranges < 1 || o.rangeSize < 1 || o.rate < 1 || o.duration <= 0 || o.workers < 1:
		return errors.New("-clients, -segments, -ranges, -range-size, -rate, -duration and -workers must be positive")
	}

	jar, _ := cookiejar.New(nil)
	transport := &http.Transport{
		Proxy: nil, MaxIdleConns: 1024, MaxIdleConnsPerHost: 1024, IdleConnTimeout: time.Minute,
		DisableCompression: true,
	}
	hc := &http.Client{Jar: jar, Transport: transport, Timeout: o.requestTimeout}
	if err := checkUp(ctx, hc, o.url); err != nil {
		return err
	}
	if o.editor != "" {
		if err := login(ctx, hc, o.url, o.editor, o.editorPW); err != nil {
			return err
		}
	}

	var tr transferResult
	ratio := 0.0
	if !o.skipTransfer {
		mc, err := minio.New(o.s3Endpoint, &minio.Options{
			Creds: credentials.NewStaticV4(o.s3Access, o.s3Secret, ""), Secure: o.s3TLS, Region: o.s3Region,
		})
		if err != nil {
			return fmt.Errorf("MinIO client: %w", err)
		}
		v, err := findVideo(ctx, hc, o.url, o.item)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "video %q: %d segments (%s), largest file %s (%s), delivery %s\n",
			v.slug, len(v.segments), mb(v.segmentBytes), v.largest.key, mb(v.largest.size), v.delivery)
		tr, err = measureTransfers(ctx, o, hc, mc, v, stdout)
		if err != nil {
			return err
		}
		ratio = min(tr.segments.ratio(), tr.ranges.ratio())
	}

	var list, search latencyResult
	if !o.skipLatency {
		var err error
		fmt.Fprintf(stdout, "catalog latency: %d requests/s for %s each (open loop, latency from the intended send time)\n", o.rate, o.duration)
		list, err = paced(ctx, hc, o.url+"/api/v1/mediathek?page=1", o)
		if err != nil {
			return err
		}
		search, err = paced(ctx, hc, o.url+"/api/v1/mediathek?q="+urlQuery(o.query), o)
		if err != nil {
			return err
		}
	}

	fmt.Fprintln(stdout)
	if !o.skipTransfer {
		fmt.Fprintf(stdout, "%-42s %14s %14s %7s\n", "throughput", "portalo", "MinIO direct", "ratio")
		fmt.Fprintf(stdout, "%-42s %14s %14s %7.2f\n",
			fmt.Sprintf("segments (%d, %d clients)", o.segments, o.clients), tr.segments.proxy, tr.segments.direct, tr.segments.ratio())
		fmt.Fprintf(stdout, "%-42s %14s %14s %7.2f\n",
			fmt.Sprintf("byte ranges (%d x %s, %d clients)", o.ranges, size(o.rangeSize), o.clients), tr.ranges.proxy, tr.ranges.direct, tr.ranges.ratio())
	}
	if !o.skipLatency {
		fmt.Fprintf(stdout, "%-42s %9s %9s %9s %9s %8s %7s %7s\n", "latency", "p50 ms", "p99 ms", "max ms", "requests", "errors", "late", "req/s")
		for _, r := range []struct {
			name string
			res  latencyResult
		}{{"catalog list (page 1)", list}, {fmt.Sprintf("search %q", o.query), search}} {
			fmt.Fprintf(stdout, "%-42s %9.2f %9.2f %9.2f %9d %8d %7d %7.0f\n", r.name, ms(r.res.p50), ms(r.res.p99), ms(r.res.max), r.res.requests, r.res.errors, r.res.lateSends, r.res.achievedPerSecond)
			if r.res.firstError != "" {
				fmt.Fprintf(stdout, "  first error: %s\n", r.res.firstError)
			}
		}
	}
	fmt.Fprintf(stdout, "proxy_vs_direct=%.2f catalog_p99_ms=%.2f search_p99_ms=%.2f\n", ratio, ms(list.p99), ms(search.p99))
	return nil
}

func envOr(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func ms(d time.Duration) float64 { return float64(d) / float64(time.Millisecond) }

func mb(n int64) string { return fmt.Sprintf("%.1f MB", float64(n)/1e6) }

func size(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1<<10 && n%(1<<10) == 0:
		return fmt.Sprintf("%d KiB", n>>10)
	}
	return fmt.Sprintf("%d B", n)
}

// checkUp waits up to 10 s for portalo's /healthz.
func checkUp(ctx context.Context, hc *http.Client, base string) error {
	deadline := time.Now().Add(10 * time.Second)
	for {
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, base+"/healthz", nil)
		resp, err := hc.Do(req)
		if err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return nil
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			return fmt.Errorf("portalo at %s does not answer /healthz: %w", base, err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}
