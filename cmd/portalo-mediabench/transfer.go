package main

import (
	"bufio"
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
)

// object is a file of the video: its URL at portalo and its key in the
// bucket.
type object struct {
	url  string
	key  string
	size int64
}

type video struct {
	slug         string
	segments     []object
	segmentBytes int64
	largest      object
	delivery     string // "proxy" or "redirect"
}

type itemJSON struct {
	Slug     string `json:"slug"`
	Kind     string `json:"kind"`
	Versions []struct {
		Master    string `json:"master"`
		Downloads []struct {
			URL  string `json:"url"`
			Size int64  `json:"size"`
		} `json:"downloads"`
	} `json:"versions"`
}

func getJSON(ctx context.Context, hc *http.Client, u string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 8<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: HTTP %d: %s", u, resp.StatusCode, bytes.TrimSpace(b))
	}
	if err := json.Unmarshal(b, out); err != nil {
		return fmt.Errorf("GET %s: %w", u, err)
	}
	return nil
}

func getText(ctx context.Context, hc *http.Client, u string) (string, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return "", err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(io.LimitReader(resp.Body, 4<<20))
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("GET %s: HTTP %d", u, resp.StatusCode)
	}
	return string(b), nil
}

func login(ctx context.Context, hc *http.Client, base, pseudonym, password string) error {
	body, _ := json.Marshal(map[string]string{"pseudonym": pseudonym, "password": password})
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, base+"/api/v1/session", bytes.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Origin", base)
	resp, err := hc.Do(req)
	if err != nil {
		return fmt.Errorf("logging in as %q: %w", pseudonym, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("logging in as %q: HTTP %d: %s", pseudonym, resp.StatusCode, bytes.TrimSpace(b))
	}
	return nil
}

func urlQuery(s string) string { return url.QueryEscape(s) }

var uriAttr = regexp.MustCompile(`URI="([^"]*)"`)

// findVideo picks the video (slug, or the first published one with a
// master playlist) and collects its segments from its playlists.
func findVideo(ctx context.Context, hc *http.Client, base, slug string) (video, error) {
	var it itemJSON
	if slug == "" {
		var list struct {
			Items []itemJSON `json:"items"`
		}
		if err := getJSON(ctx, hc, base+"/api/v1/mediathek?kind=video&page=1&page_size=50", &list); err != nil {
			return video{}, err
		}
		for _, c := range list.Items {
			if len(c.Versions) > 0 && c.Versions[0].Master != "" {
				it = c
				break
			}
		}
		if it.Slug == "" {
			return video{}, errors.New("the catalog lists no published video with a master playlist: run \"portalo-mediabench seed\" or give -item")
		}
	} else {
		var one struct {
			Item itemJSON `json:"item"`
		}
		if err := getJSON(ctx, hc, base+"/api/v1/mediathek/"+url.PathEscape(slug), &one); err != nil {
			return video{}, err
		}
		it = one.Item
		if len(it.Versions) == 0 || it.Versions[0].Master == "" {
			return video{}, fmt.Errorf("item %q has no playable version", slug)
		}
	}
	v := video{slug: it.Slug}
	baseURL, err := url.Parse(base)
	if err != nil {
		return video{}, err
	}
	masterURL := baseURL.ResolveReference(&url.URL{Path: it.Versions[0].Master})
	master, err := getText(ctx, hc, masterURL.String())
	if err != nil {
		return video{}, err
	}
	// The media playlists: the variants and the audio renditions (the
	// subtitles are one small file each).
	var playlists []*url.URL
	sc := bufio.NewScanner(strings.NewReader(master))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#EXT-X-MEDIA:") && strings.Contains(line, "TYPE=AUDIO"):
			if m := uriAttr.FindStringSubmatch(line); m != nil {
				if u, err := masterURL.Parse(m[1]); err == nil {
					playlists = append(playlists, u)
				}
			}
		case !strings.HasPrefix(line, "#"):
			if u, err := masterURL.Parse(line); err == nil {
				playlists = append(playlists, u)
			}
		}
	}
	seen := map[string]bool{}
	for _, pl := range playlists {
		if seen[pl.String()] {
			continue
		}
		seen[pl.String()] = true
		text, err := getText(ctx, hc, pl.String())
		if err != nil {
			return video{}, err
		}
		for _, line := range strings.Split(text, "\n") {
			line = strings.TrimSpace(line)
			if line == "" || strings.HasPrefix(line, "#") {
				continue
			}
			u, err := pl.Parse(line)
			if err != nil || seen[u.String()] {
				continue
			}
			seen[u.String()] = true
			v.segments = append(v.segments, object{url: u.String(), key: strings.TrimPrefix(path.Clean(u.Path), "/")})
		}
	}
	if len(v.segments) == 0 {
		return video{}, fmt.Errorf("the playlists of %q list no segments", it.Slug)
	}
	// Sizes, and whether portalo proxies or redirects.
	noFollow := *hc
	noFollow.CheckRedirect = func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }
	for i := range v.segments {
		req, _ := http.NewRequestWithContext(ctx, http.MethodHead, v.segments[i].url, nil)
		resp, err := noFollow.Do(req)
		if err != nil {
			return video{}, err
		}
		resp.Body.Close()
		switch {
		case resp.StatusCode/100 == 3:
			v.delivery = "redirect (presigned MinIO URLs)"
		case resp.StatusCode == http.StatusOK:
			if v.delivery == "" {
				v.delivery = "proxy"
			}
		default:
			return video{}, fmt.Errorf("HEAD %s: HTTP %d", v.segments[i].url, resp.StatusCode)
		}
		if resp.StatusCode/100 == 3 {
			// Ask the bucket for the size through the redirect.
			req, _ := http.NewRequestWithContext(ctx, http.MethodGet, v.segments[i].url, nil)
			req.Header.Set("Range", "bytes=0-0")
			r2, err := hc.Do(req)
			if err != nil {
				return video{}, err
			}
			r2.Body.Close()
			v.segments[i].size = totalFromContentRange(r2.Header.Get("Content-Range"))
		} else {
			v.segments[i].size = resp.ContentLength
		}
		v.segmentBytes += v.segments[i].size
	}
	v.largest = slices.MaxFunc(v.segments, func(a, b object) int { return cmp.Compare(a.size, b.size) })
	for _, d := range it.Versions[0].Downloads {
		if d.Size > v.largest.size {
			u := baseURL.ResolveReference(&url.URL{Path: strings.Split(d.URL, "?")[0]})
			v.largest = object{url: u.String(), key: strings.TrimPrefix(path.Clean(u.Path), "/"), size: d.Size}
		}
	}
	return v, nil
}

func totalFromContentRange(s string) int64 {
	_, total, ok := strings.Cut(s, "/")
	if !ok {
		return 0
	}
	var n int64
	fmt.Sscan(total, &n)
	return n
}

// rate is a throughput in bytes per second.
type rate float64

func (r rate) String() string { return fmt.Sprintf("%.1f MB/s", float64(r)/1e6) }

type comparison struct{ proxy, direct rate }

func (c comparison) ratio() float64 {
	if c.direct <= 0 {
		return 0
	}
	return float64(c.proxy) / float64(c.direct)
}

type transferResult struct{ segments, ranges comparison }

// measureTransfers downloads the segments and the ranges through portalo
// and straight from MinIO, each once untimed first (both sides then read
// from warm caches).
func measureTransfers(ctx context.Context, o options, hc *http.Client, mc *minio.Client, v video, log io.Writer) (transferResult, error) {
	var res transferResult
	segAt := func(i int) object { return v.segments[i%len(v.segments)] }
	proxySeg := func(ctx context.Context, i int) (int64, error) { return proxyGet(ctx, hc, segAt(i).url, -1, 0) }
	directSeg := func(ctx context.Context, i int) (int64, error) {
		return directGet(ctx, mc, o.s3Bucket, segAt(i).key, -1, 0)
	}
	// The ranges: the same pseudo-random offsets on both sides.
	n := min(o.rangeSize, v.largest.size)
	offsets := make([]int64, o.ranges)
	rng := rand.New(rand.NewPCG(4, 2))
	for i := range offsets {
		if span := v.largest.size - n; span > 0 {
			offsets[i] = rng.Int64N(span + 1)
		}
	}
	proxyRange := func(ctx context.Context, i int) (int64, error) {
		return proxyGet(ctx, hc, v.largest.url, offsets[i], n)
	}
	directRange := func(ctx context.Context, i int) (int64, error) {
		return directGet(ctx, mc, o.s3Bucket, v.largest.key, offsets[i], n)
	}

	fmt.Fprintln(log, "warming up ...")
	for _, f := range []func(context.Context, int) (int64, error){proxySeg, directSeg} {
		if _, err := parallel(ctx, len(v.segments), o.clients, f); err != nil {
			return res, err
		}
	}
	for _, m := range []struct {
		name   string
		n      int
		fn     func(context.Context, int) (int64, error)
		result *rate
	}{
		{"segments through portalo", o.segments, proxySeg, &res.segments.proxy},
		{"segments from MinIO", o.segments, directSeg, &res.segments.direct},
		{"ranges through portalo", o.ranges, proxyRange, &res.ranges.proxy},
		{"ranges from MinIO", o.ranges, directRange, &res.ranges.direct},
	} {
		r, err := parallel(ctx, m.n, o.clients, m.fn)
		if err != nil {
			return res, fmt.Errorf("%s: %w", m.name, err)
		}
		*m.result = r
		fmt.Fprintf(log, "%-28s %s\n", m.name, r)
	}
	return res, nil
}

// parallel runs fn(0..n-1) on clients goroutines and returns the bytes
// per second; it stops at the first error.
func parallel(ctx context.Context, n, clients int, fn func(context.Context, int) (int64, error)) (rate, error) {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var next, total atomic.Int64
	var wg sync.WaitGroup
	start := time.Now()
	for range clients {
		wg.Go(func() {
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				b, err := fn(ctx, i)
				if err != nil {
					cancel(err)
					return
				}
				total.Add(b)
			}
		})
	}
	wg.Wait()
	took := time.Since(start)
	if err := context.Cause(ctx); err != nil {
		return 0, err
	}
	return rate(float64(total.Load()) / took.Seconds()), nil
}

// proxyGet downloads u (the n bytes at off when off ≥ 0) and returns the
// bytes read.
func proxyGet(ctx context.Context, hc *http.Client, u string, off, n int64) (int64, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return 0, err
	}
	want := http.StatusOK
	if off >= 0 {
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+n-1))
		want = http.StatusPartialContent
	}
	resp, err := hc.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	got, err := io.Copy(io.Discard, resp.Body)
	if err != nil {
		return got, err
	}
	if resp.StatusCode != want {
		return got, fmt.Errorf("GET %s: HTTP %d, want %d", u, resp.StatusCode, want)
	}
	if off >= 0 && got != n {
		return got, fmt.Errorf("GET %s with a range of %d bytes: got %d", u, n, got)
	}
	return got, nil
}

// directGet reads the object (the n bytes at off when off ≥ 0) from MinIO.
func directGet(ctx context.Context, mc *minio.Client, bucket, key string, off, n int64) (int64, error) {
	opts := minio.GetObjectOptions{}
	if off >= 0 {
		if err := opts.SetRange(off, off+n-1); err != nil {
			return 0, err
		}
	}
	obj, err := mc.GetObject(ctx, bucket, key, opts)
	if err != nil {
		return 0, fmt.Errorf("MinIO %s: %w", key, err)
	}
	defer obj.Close()
	got, err := io.Copy(io.Discard, obj)
	if err != nil {
		return got, fmt.Errorf("MinIO %s: %w", key, err)
	}
	if off >= 0 && got != n {
		return got, fmt.Errorf("MinIO %s with a range of %d bytes: got %d", key, n, got)
	}
	return got, nil
}
