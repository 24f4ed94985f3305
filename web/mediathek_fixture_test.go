package web

import (
	"bytes"
	"context"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/internal/storetest"
	"portalo/internal/testenv"
	"portalo/store/blob"
	"portalo/store/kv"
	"portalo/transcode"
	"portalo/web/i18n"
)

// mediaHarness is a portal with the mediathek on a real object store and
// kv.Store.
type mediaHarness struct {
	*harness
	cat   *catalog.Catalog
	blobs blob.Store
}

// mediaStores runs fn against a portal with the mediathek in both
// deployments: dirblob and the embedded store, MinIO and Redis.
func mediaStores(t *testing.T, fn func(t *testing.T, h *mediaHarness)) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		fn(t, newMediaHarness(t, b, k, ""))
	})
}

func newMediaHarness(t *testing.T, b blob.Store, k kv.Store, delivery string) *mediaHarness {
	t.Helper()
	ctx := context.Background()
	h := &mediaHarness{harness: &harness{store: k, logs: &syncBuffer{}, ready: new(error)}, blobs: b}
	accts, err := accounts.New(ctx, k, accounts.Options{
		Hash:                    accounts.HashParams{MemoryKiB: 64, Time: 1, Threads: 1},
		LoginAttemptsPerAccount: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	h.accts = accts
	if h.cat, err = catalog.New(ctx, b, k, catalog.Options{}); err != nil {
		t.Fatal(err)
	}
	msgs, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	h.srv, err = New(Config{
		Accounts:      accts,
		Catalog:       msgs,
		Logger:        slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		MaxBodyBytes:  256 << 10,
		Mediathek:     h.cat,
		Objects:       b,
		MediaDelivery: delivery,
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// No request may have failed on the server's side.
		if strings.Contains(h.logs.String(), `"status":5`) {
			t.Errorf("a request answered 5xx:\n%s", h.logs.String())
		}
	})
	return h
}

// roleCase is one kind of visitor, with a session cookie (nil: anonymous).
type roleCase struct {
	name   string
	cookie *http.Cookie
}

// visitors registers one account of each kind: anonymous, participant,
// multiplier who asked but is not approved, approved multiplier, editor
// and admin.
func (h *mediaHarness) visitors(t *testing.T) []roleCase {
	t.Helper()
	ctx := context.Background()
	_, participant := h.member(t, "Paula")
	asked, asking := h.member(t, "Mira")
	if _, err := h.accts.RequestMultiplier(ctx, asked.ID); err != nil {
		t.Fatal(err)
	}
	_, multiplier := h.member(t, "Malte", accounts.RoleMultiplier)
	_, editor := h.member(t, "Edda", accounts.RoleEditor)
	_, admin := h.member(t, "Ada", accounts.RoleAdmin)
	return []roleCase{
		{"anonymous", nil}, {"participant", participant}, {"unapproved multiplier", asking},
		{"multiplier", multiplier}, {"editor", editor}, {"admin", admin},
	}
}

func meta(kind catalog.Kind, slug string, titles map[string]string) catalog.Meta {
	return catalog.Meta{Kind: kind, Slug: slug, Title: titles, Topic: catalog.TopicRelaxation, Audience: catalog.AudiencePublic}
}

// fixtureSegment is the content of the synthetic item's segment: 10,000
// bytes in which every position is recognisable.
func fixtureSegment() []byte {
	b := make([]byte, 10000)
	for i := range b {
		b[i] = byte(i*7 + i/256)
	}
	return b
}

// syntheticFiles are the files of an item made without ffmpeg: a master
// playlist, a media playlist with one segment, a poster, subtitles, a
// download, the uploaded source and a file that nothing lists.
var syntheticFiles = map[string][]byte{
	"hls/master.m3u8":    []byte("#EXTM3U\n#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=\"subs\",NAME=\"Deutsch\",LANGUAGE=\"de\",URI=\"subs/de.m3u8\"\n#EXT-X-STREAM-INF:BANDWIDTH=300000,SUBTITLES=\"subs\"\nv/index.m3u8\n"),
	"hls/v/index.m3u8":   []byte("#EXTM3U\n#EXT-X-TARGETDURATION:4\n#EXT-X-MAP:URI=\"init.mp4\"\n#EXTINF:4.0,\nseg0.ts\n#EXTINF:4.0,\nseg1.m4s\n#EXTINF:1.0,\nhttps://elsewhere.example/x.ts\n#EXTINF:1.0,\n../../../other/x.ts\n#EXT-X-ENDLIST\n"),
	"hls/v/init.mp4":     []byte("init"),
	"hls/v/seg0.ts":      fixtureSegment(),
	"hls/v/seg1.m4s":     []byte("fragment"),
	"hls/subs/de.m3u8":   []byte("#EXTM3U\n#EXTINF:4.0,\nde.vtt\n#EXT-X-ENDLIST\n"),
	"hls/subs/de.vtt":    []byte("WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nHallo\n"),
	"poster.jpg":         []byte("\xff\xd8\xff\xe0 not really a jpeg"),
	"subtitles/tr.vtt":   []byte("WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nMerhaba\n"),
	"download/audio.m4a": []byte("m4a audio"),
	"source.mp4":         []byte("the uploaded original"),
	"secret.ts":          []byte("nobody lists me"),
}

// addSynthetic creates an item with syntheticFiles (a German version)
// and, unless draft, publishes it.
func (h *mediaHarness) addSynthetic(t *testing.T, m catalog.Meta, draft bool) catalog.Item {
	t.Helper()
	ctx := context.Background()
	it, err := h.cat.Create(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	for name, data := range syntheticFiles {
		if _, err := h.blobs.Put(ctx, it.Prefix()+name, bytes.NewReader(data), int64(len(data)), ""); err != nil {
			t.Fatal(err)
		}
	}
	it, err = h.cat.SetFiles(ctx, it.ID, func(md *catalog.Media) error {
		md.Duration = 9 * time.Second
		md.Poster = it.Prefix() + "poster.jpg"
		md.Subtitles = map[string]string{"tr": it.Prefix() + "subtitles/tr.vtt"}
		md.Versions = map[string]catalog.Version{"de": {Files: []catalog.File{
			{Key: it.Prefix() + "hls/master.m3u8", Role: catalog.RoleMaster, Complete: true},
			{Key: it.Prefix() + "download/audio.m4a", Role: catalog.RoleDownload, Size: 9, Complete: true},
			{Key: it.Prefix() + "source.mp4", Role: catalog.RoleSource, Complete: true},
		}}}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if !draft {
		if it, err = h.cat.Publish(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
	}
	return it
}

func runFFmpeg(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-nostdin", "-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// hlsFixture is a real HLS presentation made by package transcode from a
// 4-second 640×360 clip with German sound, a Turkish sound version and
// German subtitles: two video renditions (240p, 360p), audio-only, a
// subtitle rendition, a poster and downloads.
type hlsFixture struct {
	dir string
	res transcode.Result
}

// subtitleText is the German subtitle, shown during the whole clip.
const subtitleText = "Atmen Sie ruhig ein"

func makeHLS(t *testing.T) hlsFixture {
	t.Helper()
	testenv.FFmpeg(t)
	dir := t.TempDir()
	src, tr, vtt := filepath.Join(dir, "src.mp4"), filepath.Join(dir, "tr.m4a"), filepath.Join(dir, "de.vtt")
	runFFmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=640x360:rate=25:duration=4",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=4",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", src)
	runFFmpeg(t, "-f", "lavfi", "-i", "sine=frequency=660:sample_rate=44100:duration=4", tr)
	if err := os.WriteFile(vtt, []byte("WEBVTT\n\n00:00:00.000 --> 00:00:10.000\n"+subtitleText+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	out := filepath.Join(dir, "out")
	res, err := transcode.HLS(ctx, transcode.Job{
		Source: src, SourceLanguage: "de",
		Audio:     []transcode.AudioInput{{Language: "tr", Path: tr}},
		Subtitles: []transcode.SubtitleInput{{Language: "de", Path: vtt}},
		OutDir:    out,
	})
	if err != nil {
		t.Fatal(err)
	}
	return hlsFixture{dir: out, res: res}
}

// addHLS stores the presentation as an item (the master playlist in the
// German and the Turkish version, each with its downloads) and publishes
// it.
func (h *mediaHarness) addHLS(t *testing.T, f hlsFixture, m catalog.Meta) catalog.Item {
	t.Helper()
	ctx := context.Background()
	it, err := h.cat.Create(ctx, m)
	if err != nil {
		t.Fatal(err)
	}
	prefix := it.Prefix() + "hls/"
	for _, file := range f.res.Files {
		r, err := os.Open(filepath.Join(f.dir, filepath.FromSlash(file.Path)))
		if err != nil {
			t.Fatal(err)
		}
		_, err = h.blobs.Put(ctx, prefix+file.Path, r, file.Size, file.ContentType)
		r.Close()
		if err != nil {
			t.Fatal(err)
		}
	}
	_, err = h.cat.SetFiles(ctx, it.ID, func(md *catalog.Media) error {
		md.Duration = f.res.Duration
		md.Poster = prefix + f.res.Poster
		md.Versions = map[string]catalog.Version{}
		for _, lang := range f.res.AudioLanguages {
			files := []catalog.File{{Key: prefix + f.res.Master, Role: catalog.RoleMaster, Complete: true}}
			for _, d := range f.res.Downloads {
				if d.Language == lang {
					files = append(files, catalog.File{Key: prefix + d.Path, Role: catalog.RoleDownload, Complete: true})
				}
			}
			md.Versions[lang] = catalog.Version{Files: files}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if it, err = h.cat.Publish(ctx, it.ID); err != nil {
		t.Fatal(err)
	}
	return it
}

func readAll(t *testing.T, r io.Reader) string {
	t.Helper()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
