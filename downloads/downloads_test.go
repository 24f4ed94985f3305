package downloads

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portalo/internal/storetest"
	"portalo/store/kv"
)

const (
	iPhone  = "AppleCoreMedia/1.0.0.21E236 (iPhone; U; CPU OS 17_4 like Mac OS X; de_de)"
	android = "AntennaPod/3.4.0"
	ip1     = "203.0.113.7"
	ip2     = "198.51.100.23"
	mib     = 1 << 20
	kib     = 1 << 10
)

// clock is a settable fake clock.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func at(t *testing.T, s string) time.Time {
	t.Helper()
	v, err := time.Parse(time.RFC3339, s)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// episode is a whole request of a 30 MiB, 30-minute episode: one minute
// is 1 MiB.
func episode(item, ip, ua string) Request {
	return Request{Item: item, ClientIP: ip, UserAgent: ua, Method: "GET",
		Offset: 0, Length: 30 * mib, Size: 30 * mib, Duration: 30 * time.Minute}
}

func record(t *testing.T, c *Counter, r Request) bool {
	t.Helper()
	ok, err := c.Record(context.Background(), r)
	if err != nil {
		t.Fatalf("Record(%+v): %v", r, err)
	}
	return ok
}

func TestOncePerWindow(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		start := at(t, "2026-03-02T10:00:00Z")
		clk := &clock{t: start}
		c := New(store, Options{Now: clk.Now})
		steps := []struct {
			name  string
			after time.Duration
			req   Request
			want  bool
		}{
			{"first", 0, episode("ep1", ip1, iPhone), true},
			{"repeat", time.Hour, episode("ep1", ip1, iPhone), false},
			{"other user agent", time.Hour, episode("ep1", ip1, android), true},
			{"other IP", time.Hour, episode("ep1", ip2, iPhone), true},
			{"same IP written as IPv4-mapped IPv6", 2 * time.Hour, episode("ep1", "::ffff:"+ip1, iPhone), false},
			{"other item", 2 * time.Hour, episode("ep2", ip1, iPhone), true},
			{"just under 24 h", 24*time.Hour - time.Second, episode("ep1", ip1, iPhone), false},
			{"24 h later", 24 * time.Hour, episode("ep1", ip1, iPhone), true},
			{"repeat after the new count", 30 * time.Hour, episode("ep1", ip1, iPhone), false},
			{"other UA 25 h after its count", 26 * time.Hour, episode("ep1", ip1, android), true},
		}
		for _, s := range steps {
			clk.Set(start.Add(s.after))
			if got := record(t, c, s.req); got != s.want {
				t.Errorf("%s: counted %v, want %v", s.name, got, s.want)
			}
		}
		assertTotals(t, c, map[string]int64{"ep1": 5, "ep2": 1})
	})
}

func TestAcrossMidnight(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		start := at(t, "2026-03-02T23:30:00Z")
		clk := &clock{t: start}
		c := New(store, Options{Now: clk.Now})
		half := func(item string, offset int64) Request {
			r := episode(item, ip1, iPhone)
			r.Offset, r.Length = offset, mib/2
			return r
		}
		steps := []struct {
			name  string
			after time.Duration
			req   Request
			want  bool
		}{
			{"counted before midnight", 0, episode("ep1", ip1, iPhone), true},
			{"again after midnight", time.Hour, episode("ep1", ip1, iPhone), false},
			{"the next evening, under 24 h", 24*time.Hour - time.Minute, episode("ep1", ip1, iPhone), false},
			{"24 h later", 24 * time.Hour, episode("ep1", ip1, iPhone), true},
			// Bytes requested before midnight add to those after it.
			{"half a minute before midnight", 20 * time.Minute, half("ep2", 0), false},
			{"the other half after midnight", 40 * time.Minute, half("ep2", mib/2), true},
			{"the whole file after that", 50 * time.Minute, episode("ep2", ip1, iPhone), false},
		}
		for _, s := range steps {
			clk.Set(start.Add(s.after))
			if got := record(t, c, s.req); got != s.want {
				t.Errorf("%s (%s): counted %v, want %v", s.name, clk.Now().Format(time.RFC3339), got, s.want)
			}
		}
		assertTotals(t, c, map[string]int64{"ep1": 2, "ep2": 1})
	})
}

type rng struct{ off, n int64 }

func TestBytesThreshold(t *testing.T) {
	cases := []struct {
		name     string
		size     int64
		duration time.Duration
		ranges   []rng
		want     []bool
	}{
		{"probe alone", 30 * mib, 30 * time.Minute, []rng{{0, 2}}, []bool{false}},
		{"probes never add up", 30 * mib, 30 * time.Minute, []rng{{0, 2}, {0, 2}, {0, 1}}, []bool{false, false, false}},
		{"probe of a file whose minute is two bytes", 100, time.Hour, []rng{{0, 2}, {0, 2}, {0, 3}}, []bool{false, false, true}},
		{"probe then whole file", 30 * mib, 30 * time.Minute, []rng{{0, 2}, {0, 30 * mib}}, []bool{false, true}},
		{"ranges summing past one minute", 30 * mib, 30 * time.Minute,
			[]rng{{0, 2}, {0, 400 * kib}, {400 * kib, 400 * kib}, {800 * kib, 400 * kib}, {1200 * kib, 400 * kib}},
			[]bool{false, false, false, true, false}},
		{"overlapping ranges add up", 30 * mib, 30 * time.Minute, []rng{{0, 600 * kib}, {0, 600 * kib}}, []bool{false, true}},
		{"exactly one minute", 6 * mib, 6 * time.Minute, []rng{{0, mib - 1}, {mib - 1, 3}}, []bool{false, true}},
		{"a range from the middle", 60 * mib, time.Hour, []rng{{30 * mib, mib}}, []bool{true}},
		{"short file, part", 100 * kib, 50 * time.Second, []rng{{0, 50 * kib}}, []bool{false}},
		{"short file, whole", 100 * kib, 50 * time.Second, []rng{{0, 100 * kib}}, []bool{true}},
		{"short file in two halves", 100 * kib, 50 * time.Second, []rng{{0, 50 * kib}, {50 * kib, 50 * kib}}, []bool{false, true}},
		{"two-byte file, whole", 2, time.Second, []rng{{0, 2}}, []bool{true}},
		{"unknown duration: default 1 MiB", 10 * mib, 0, []rng{{0, mib - 1}, {5 * mib, 10}}, []bool{false, true}},
		{"unknown duration, file under 1 MiB", 512 * kib, 0, []rng{{0, 256 * kib}, {0, 512 * kib}}, []bool{false, true}},
		{"unknown size and duration", 0, 0, []rng{{0, mib / 2}, {mib / 2, mib / 2}}, []bool{false, true}},
		{"nothing requested", 30 * mib, 30 * time.Minute, []rng{{0, 0}}, []bool{false}},
	}
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		clk := &clock{t: at(t, "2026-03-02T10:00:00Z")}
		c := New(store, Options{Now: clk.Now})
		for i, tc := range cases {
			item := fmt.Sprintf("item%d", i)
			for j, r := range tc.ranges {
				clk.Set(clk.Now().Add(time.Minute))
				req := Request{Item: item, ClientIP: ip1, UserAgent: iPhone, Method: "GET",
					Offset: r.off, Length: r.n, Size: tc.size, Duration: tc.duration}
				if got := record(t, c, req); got != tc.want[j] {
					t.Errorf("%s: request %d (%d+%d): counted %v, want %v", tc.name, j, r.off, r.n, got, tc.want[j])
				}
			}
		}
	})
}

func TestBotsAndMethods(t *testing.T) {
	cases := []struct {
		name, ua, method string
		want             bool
	}{
		// Real players and browsers.
		{"Apple Podcasts", iPhone, "GET", true},
		{"Apple Podcasts app", "Podcasts/1720.1 CFNetwork/1496.0.7 Darwin/23.5.0", "GET", true},
		{"Spotify iOS", "Spotify/8.9.38 iOS/17.4.1 (iPhone15,2)", "GET", true},
		{"Spotify Android", "Spotify/124000581 Android/34 (SM-S911B)", "GET", true},
		{"Pocket Casts", "Pocket Casts", "GET", true},
		{"Pocket Casts Android", "PocketCasts/1.0 (Pocket Casts Android, v7.60)", "GET", true},
		{"Overcast", "Overcast/3.0 (+http://overcast.fm/; iOS podcast app)", "GET", true},
		{"AntennaPod", android, "GET", true},
		{"Podcast Addict", "PodcastAddict/v5 (+https://podcastaddict.com/; Android podcast app)", "GET", true},
		{"Castro", "Castro 2024.2/1234 Like iTunes", "GET", true},
		{"Android download manager", "AndroidDownloadManager/14 (Linux; U; Android 14; Pixel 8 Build/AP1A)", "GET", true},
		{"okhttp", "okhttp/4.12.0", "GET", true},
		{"Chrome", "Mozilla/5.0 (Windows NT 10.0; Win64; x64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/124.0.0.0 Safari/537.36", "GET", true},
		{"Cubot phone", "Mozilla/5.0 (Linux; Android 12; CUBOT X30) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/120.0 Mobile Safari/537.36", "GET", true},
		{"Firefox", "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0", "GET", true},
		{"empty method is GET", iPhone, "", true},
		// Bots.
		{"empty UA", "", "GET", false},
		{"blank UA", "   ", "GET", false},
		{"Googlebot", "Mozilla/5.0 (compatible; Googlebot/2.1; +http://www.google.com/bot.html)", "GET", false},
		{"bingbot", "Mozilla/5.0 (compatible; bingbot/2.0; +http://www.bing.com/bingbot.htm)", "GET", false},
		{"AhrefsBot", "Mozilla/5.0 (compatible; AhrefsBot/7.0; +http://ahrefs.com/robot/)", "GET", false},
		{"facebookexternalhit", "facebookexternalhit/1.1 (+http://www.facebook.com/externalhit_uatext.php)", "GET", false},
		{"Twitterbot", "Twitterbot/1.0", "GET", false},
		{"Slackbot", "Slackbot-LinkExpanding 1.0 (+https://api.slack.com/robots)", "GET", false},
		{"curl", "curl/8.5.0", "GET", false},
		{"Wget", "Wget/1.21.4", "GET", false},
		{"python-requests", "python-requests/2.31.0", "GET", false},
		{"Go", "Go-http-client/1.1", "GET", false},
		{"libwww-perl", "libwww-perl/6.72", "GET", false},
		{"bare Mozilla", "Mozilla/5.0", "GET", false},
		{"headless Chrome", "Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) HeadlessChrome/120.0.0.0 Safari/537.36", "GET", false},
		{"Overcast feed sync", "Overcast/1.0 Podcast Sync (123 subscribers; feed-id=456789; +http://overcast.fm/)", "GET", false},
		{"Pocket Casts feed parser", "PocketCasts/1.0 (Pocket Casts Feed Parser; +http://pocketcasts.com/)", "GET", false},
		{"Podcast Addict feed parser", "PodcastAddict/v2 (Feed Parser; +https://podcastaddict.com/)", "GET", false},
		{"Spotify cache", "Spotify/1.0", "GET", false},
		{"Apple automated check", "iTMS", "GET", false},
		{"Amazon Music ingest", "Amazon Music Podcast", "GET", false},
		{"Podbean", "PodbeanFeedReader/1.0", "GET", false},
		{"Podchaser", "PodchaserParser/1.0", "GET", false},
		{"UptimeRobot", "Mozilla/5.0+(compatible; UptimeRobot/2.0; http://www.uptimerobot.com/)", "GET", false},
		{"extra bot", "PortaloProbe/1.0", "GET", false},
		// Methods.
		{"HEAD", iPhone, "HEAD", false},
		{"head in lower case", iPhone, "head", false},
		{"POST", iPhone, "POST", false},
	}
	for _, tc := range cases {
		if tc.name == "extra bot" || tc.method != "GET" && tc.method != "" {
			continue
		}
		if got := IsBot(tc.ua); got == tc.want {
			t.Errorf("IsBot(%q) = %v, want %v", tc.ua, got, !tc.want)
		}
	}
	if IsBot("PortaloProbe/1.0") {
		t.Error("IsBot knows the extra bot, which only the Counter should")
	}
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		clk := &clock{t: at(t, "2026-03-02T10:00:00Z")}
		c := New(store, Options{Now: clk.Now, ExtraBots: []string{"portaloprobe"}})
		for i, tc := range cases {
			r := episode(fmt.Sprintf("item%d", i), ip1, tc.ua)
			r.Method = tc.method
			if got := record(t, c, r); got != tc.want {
				t.Errorf("%s (%q, %s): counted %v, want %v", tc.name, tc.ua, tc.method, got, tc.want)
			}
			if tc.method == "HEAD" {
				// A HEAD leaves nothing behind: the GET after it counts.
				r.Method = "GET"
				if !record(t, c, r) {
					t.Errorf("%s: the GET after a HEAD was not counted", tc.name)
				}
			}
		}
	})
}

func TestInvalid(t *testing.T) {
	good := episode("ep1", ip1, iPhone)
	cases := []struct {
		name   string
		change func(*Request)
	}{
		{"empty item", func(r *Request) { r.Item = "" }},
		{"long item", func(r *Request) { r.Item = strings.Repeat("x", MaxItemLen+1) }},
		{"control character", func(r *Request) { r.Item = "ep\n1" }},
		{"invalid UTF-8", func(r *Request) { r.Item = "ep\xff" }},
		{"no IP", func(r *Request) { r.ClientIP = " " }},
		{"negative offset", func(r *Request) { r.Offset = -1 }},
		{"negative length", func(r *Request) { r.Length = -1 }},
		{"negative size", func(r *Request) { r.Size = -1 }},
		{"negative duration", func(r *Request) { r.Duration = -time.Second }},
		{"range beyond the size", func(r *Request) { r.Offset = 1 }},
		{"offset beyond the size", func(r *Request) { r.Offset, r.Length = r.Size+1, 0 }},
	}
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		c := New(store, Options{})
		for _, tc := range cases {
			r := good
			tc.change(&r)
			if ok, err := c.Record(ctx, r); !errors.Is(err, ErrInvalid) || ok {
				t.Errorf("%s: Record = %v, %v; want ErrInvalid", tc.name, ok, err)
			}
		}
		for _, days := range []int{0, -1, MaxStatsDays + 1} {
			if _, err := c.Stats(ctx, "ep1", days); !errors.Is(err, ErrInvalid) {
				t.Errorf("Stats(%d days): %v, want ErrInvalid", days, err)
			}
		}
		if _, err := c.Stats(ctx, "", 7); !errors.Is(err, ErrInvalid) {
			t.Errorf("Stats of an empty item: %v, want ErrInvalid", err)
		}
		if _, err := c.Totals(ctx, []string{"ep1", ""}); !errors.Is(err, ErrInvalid) {
			t.Errorf("Totals with an empty item: %v, want ErrInvalid", err)
		}
		keys, err := store.Keys(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		if len(keys) != 0 {
			t.Errorf("invalid requests left keys behind: %q", keys)
		}
	})
}

func TestNoIPStored(t *testing.T) {
	ips := []string{ip1, ip2, "2001:db8::1", "2001:db8:0:0:0:0:0:2"}
	uas := []string{iPhone, android, "Mozilla/5.0 (X11; Linux x86_64; rv:125.0) Gecko/20100101 Firefox/125.0"}
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		clk := &clock{t: at(t, "2026-03-02T23:00:00Z")}
		c := New(store, Options{Now: clk.Now})
		n := 0
		for _, day := range []time.Duration{0, 2 * time.Hour} { // two days, two salts
			clk.Set(at(t, "2026-03-02T23:00:00Z").Add(day))
			for _, ip := range ips {
				for _, ua := range uas {
					r := episode("episode-one", ip, ua)
					r.Length = mib / 2 // leaves a byte count behind
					record(t, c, r)
					r = episode("episode-two", ip, ua)
					if record(t, c, r) {
						n++
					}
				}
			}
		}
		if want := len(ips) * len(uas); n != want {
			t.Errorf("%d downloads counted, want %d", n, want)
		}
		keys, err := store.Keys(ctx, "")
		if err != nil {
			t.Fatal(err)
		}
		var salts, clients int
		for _, k := range keys {
			v, err := store.Get(ctx, k)
			if err != nil {
				t.Fatal(err)
			}
			for _, secret := range append(append([]string{"2001:db8::2", "::1"}, ips...), uas...) {
				if strings.Contains(k, secret) || bytes.Contains(v, []byte(secret)) {
					t.Errorf("key %q (value %q) contains %q", k, v, secret)
				}
			}
			switch {
			case strings.HasPrefix(k, "downloads:salt:"):
				salts++
				if len(v) != 32 {
					t.Errorf("salt %q has %d bytes", k, len(v))
				}
			case strings.HasPrefix(k, "downloads:client:"):
				clients++
				if strings.Contains(k, "episode") {
					t.Errorf("client key %q names the item", k)
				}
			}
		}
		if salts != 2 || clients == 0 {
			t.Errorf("%d salts and %d client states among %q", salts, clients, keys)
		}
	})
}

func TestSaltExpires(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		clk := &clock{t: at(t, "2026-03-02T10:00:00Z")}
		c := New(store, Options{Now: clk.Now, SaltTTL: 300 * time.Millisecond})
		if !record(t, c, episode("ep1", ip1, iPhone)) {
			t.Fatal("not counted")
		}
		salt1, err := store.Get(ctx, saltKey("2026-03-02"))
		if err != nil {
			t.Fatalf("no salt of the day: %v", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			if _, err := store.Get(ctx, saltKey("2026-03-02")); errors.Is(err, kv.ErrNotFound) {
				break
			} else if err != nil {
				t.Fatal(err)
			}
			if time.Now().After(deadline) {
				t.Fatal("the salt is still there after its TTL")
			}
			time.Sleep(50 * time.Millisecond)
		}
		if keys, err := store.Keys(ctx, "downloads:salt:"); err != nil || len(keys) != 0 {
			t.Fatalf("salts after expiry: %q, %v", keys, err)
		}
		// A new salt is made, and the client is a stranger under it.
		clk.Set(clk.Now().Add(time.Minute))
		if !record(t, c, episode("ep1", ip1, iPhone)) {
			t.Error("under a new salt the client is not counted anew")
		}
		salt2, err := store.Get(ctx, saltKey("2026-03-02"))
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Equal(salt1, salt2) {
			t.Error("the new salt equals the old one")
		}
	})
}

func TestDefaultSaltTTL(t *testing.T) {
	c := New(nil, Options{})
	cases := []struct {
		now  string
		want time.Duration
	}{
		{"2026-03-02T00:00:00Z", 48 * time.Hour},
		{"2026-03-02T23:00:00Z", 25 * time.Hour},
		{"2026-03-02T12:30:00+01:00", 36*time.Hour + 30*time.Minute}, // 11:30 UTC
	}
	for _, tc := range cases {
		if got := c.saltTTL(at(t, tc.now)); got != tc.want {
			t.Errorf("salt made at %s kept %v, want %v", tc.now, got, tc.want)
		}
	}
}

func TestConcurrentRecords(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		clk := &clock{t: at(t, "2026-03-02T10:00:00Z")}
		c := New(store, Options{Now: clk.Now})
		var counted atomic.Int64
		var wg sync.WaitGroup
		errs := make(chan error, 20)
		for range 20 {
			wg.Go(func() {
				ok, err := c.Record(context.Background(), episode("ep1", ip1, iPhone))
				if err != nil {
					errs <- err
				}
				if ok {
					counted.Add(1)
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		if n := counted.Load(); n != 1 {
			t.Errorf("%d of 20 concurrent requests counted, want 1", n)
		}
		keys, err := store.Keys(context.Background(), "downloads:salt:")
		if err != nil || len(keys) != 1 {
			t.Errorf("salts: %q, %v; want one", keys, err)
		}
		assertTotals(t, c, map[string]int64{"ep1": 1})
	})
}

func TestStats(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		clk := &clock{}
		c := New(store, Options{Now: clk.Now})
		downloads := []struct {
			at, item, ip string
		}{
			{"2026-02-27T08:00:00Z", "ep1", "192.0.2.1"}, // outside the last 4 days
			{"2026-03-01T08:00:00Z", "ep1", "192.0.2.1"},
			{"2026-03-01T23:59:59Z", "ep1", "192.0.2.2"},
			{"2026-03-03T00:00:00Z", "ep1", "192.0.2.1"},
			{"2026-03-03T09:00:00Z", "ep1", "192.0.2.2"},
			{"2026-03-03T10:00:00Z", "ep1", "192.0.2.3"},
			{"2026-03-03T11:00:00Z", "ep2", "192.0.2.3"},
		}
		for _, d := range downloads {
			clk.Set(at(t, d.at))
			if !record(t, c, episode(d.item, d.ip, iPhone)) {
				t.Fatalf("download at %s not counted", d.at)
			}
		}
		clk.Set(at(t, "2026-03-03T23:00:00Z"))
		cases := []struct {
			item string
			days int
			want Stats
		}{
			{"ep1", 5, Stats{Total: 6, Days: []Day{
				{"2026-02-27", 1}, {"2026-02-28", 0}, {"2026-03-01", 2}, {"2026-03-02", 0}, {"2026-03-03", 3}}}},
			{"ep1", 4, Stats{Total: 6, Days: []Day{
				{"2026-02-28", 0}, {"2026-03-01", 2}, {"2026-03-02", 0}, {"2026-03-03", 3}}}},
			{"ep1", 1, Stats{Total: 6, Days: []Day{{"2026-03-03", 3}}}},
			{"ep2", 2, Stats{Total: 1, Days: []Day{{"2026-03-02", 0}, {"2026-03-03", 1}}}},
			{"never", 2, Stats{Total: 0, Days: []Day{{"2026-03-02", 0}, {"2026-03-03", 0}}}},
		}
		for _, tc := range cases {
			got, err := c.Stats(ctx, tc.item, tc.days)
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != fmt.Sprint(tc.want) {
				t.Errorf("Stats(%s, %d) = %+v, want %+v", tc.item, tc.days, got, tc.want)
			}
		}
		if got, err := c.Stats(ctx, "ep1", MaxStatsDays); err != nil || len(got.Days) != MaxStatsDays ||
			got.Days[MaxStatsDays-1].Date != "2026-03-03" {
			t.Errorf("Stats over %d days: %v", MaxStatsDays, err)
		}
		assertTotals(t, c, map[string]int64{"ep1": 6, "ep2": 1, "never": 0})
	})
}

func assertTotals(t *testing.T, c *Counter, want map[string]int64) {
	t.Helper()
	items := make([]string, 0, len(want)+1)
	for item := range want {
		items = append(items, item, item) // duplicates are fine
	}
	got, err := c.Totals(context.Background(), items)
	if err != nil {
		t.Fatal(err)
	}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("Totals = %v, want %v", got, want)
	}
}

// saltReads counts the reads of salts from a kv.Store.
type saltReads struct {
	kv.Store
	n atomic.Int64
}

func (s *saltReads) Get(ctx context.Context, key string) ([]byte, error) {
	if strings.HasPrefix(key, "downloads:salt:") {
		s.n.Add(1)
	}
	return s.Store.Get(ctx, key)
}

// TestSaltsReadOnce: a Counter reads a day's salt from the store once,
// not with every request; across midnight yesterday's salt is the one
// it knows, and the new day's is made once.
func TestSaltsReadOnce(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		st := &saltReads{Store: store}
		clk := &clock{t: at(t, "2026-03-02T23:59:00Z")}
		c := New(st, Options{Now: clk.Now})
		record(t, c, episode("ep1", ip1, iPhone))
		first := st.n.Load()
		for range 5 {
			record(t, c, episode("ep1", ip1, iPhone))
			record(t, c, episode("ep2", ip2, android))
		}
		if n := st.n.Load(); n != first {
			t.Errorf("%d more salt reads for 10 more requests, want none", n-first)
		}
		// Across midnight: the counting still works under the new salt.
		clk.Set(at(t, "2026-03-03T00:01:00Z"))
		if record(t, c, episode("ep1", ip1, iPhone)) {
			t.Error("counted again two minutes later, across midnight")
		}
		if !record(t, c, episode("ep3", ip1, iPhone)) {
			t.Error("a new episode after midnight not counted")
		}
		after := st.n.Load()
		record(t, c, episode("ep3", ip2, android))
		if n := st.n.Load(); n != after {
			t.Errorf("%d salt reads after midnight's first request, want none", n-after)
		}
	})
}
