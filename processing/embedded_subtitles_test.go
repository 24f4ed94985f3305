package processing_test

import (
	"bytes"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"portalo/catalog"
	"portalo/internal/storetest"
	"portalo/internal/testenv"
	"portalo/jobs"
	"portalo/processing"
	"portalo/store/blob"
	"portalo/store/kv"
)

// syncBuffer is a bytes.Buffer for a logger that runs on the worker's
// goroutine while the test reads it.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// subtitledClip writes a 2 s 160x120 Matroska clip with German sound,
// German SubRip (#2), English ASS with a title (#3), SubRip without
// language (#4) and French SubRip (#5), a language the catalog does not
// have.
func subtitledClip(t *testing.T) string {
	t.Helper()
	dir := t.TempDir()
	srt := func(name, text string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("1\n00:00:00,200 --> 00:00:01,500\n"+text+"\n"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return ffmpeg(t, dir, "film.mkv",
		"-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=2",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
		"-i", srt("de.srt", "Eingebettet auf Deutsch"),
		"-i", srt("en.srt", "Embedded in English"),
		"-i", srt("und.srt", "Ohne Sprache"),
		"-i", srt("fr.srt", "Intégré en français"),
		"-map", "0", "-map", "1", "-map", "2", "-map", "3", "-map", "4", "-map", "5",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac",
		"-c:s:0", "subrip", "-c:s:1", "ass", "-c:s:2", "subrip", "-c:s:3", "subrip",
		"-metadata:s:a:0", "language=ger",
		"-metadata:s:s:0", "language=ger",
		"-metadata:s:s:1", "language=eng", "-metadata:s:s:1", "title=English",
		"-metadata:s:s:3", "language=fre")
}

// The text subtitle streams of an uploaded video become the item's
// subtitles in the catalog's languages, as renditions and as files; a
// subtitle file uploaded later wins over the stream in its language, and
// the earlier run's extracted subtitles go with its outputs.
func TestProcessEmbeddedSubtitles(t *testing.T) {
	testenv.FFmpeg(t)
	source := subtitledClip(t)
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		var logs syncBuffer
		cat, err := catalog.New(t.Context(), b, k, catalog.Options{})
		if err != nil {
			t.Fatal(err)
		}
		q := jobs.New(k, jobs.Options{})
		logger := slog.New(slog.NewTextHandler(io.MultiWriter(&logs, logWriter{t}), nil))
		proc, err := processing.New(cat, b, k, q, processing.Options{TempDir: t.TempDir(), Logger: logger})
		if err != nil {
			t.Fatal(err)
		}
		e := &env{blobs: b, kv: k, cat: cat, queue: q, proc: proc}
		ctx := t.Context()
		it := e.newItem(t, catalog.KindVideo)
		src := it.Prefix() + "source/original.mkv"
		e.put(t, src, source, "video/x-matroska")
		if err := e.proc.OnUpload(ctx, it.ID, "source", src); err != nil {
			t.Fatal(err)
		}
		e.startWorker(t, "node-1")
		if j := e.waitJob(t, it.ID, 2*time.Minute); j.State != jobs.Done {
			t.Fatalf("job = %+v, want done", j)
		}

		got := e.get(t, it.ID)
		runs := e.runs(t, it.ID)
		if len(runs) != 1 {
			t.Fatalf("runs = %v, want one", runs)
		}
		out := it.Prefix() + "out/" + runs[0] + "/"
		want := map[string]string{"de": out + "subtitles/de.vtt", "en": out + "subtitles/en.vtt"}
		if len(got.Subtitles) != len(want) || got.Subtitles["de"] != want["de"] || got.Subtitles["en"] != want["en"] {
			t.Fatalf("subtitles = %v, want %v", got.Subtitles, want)
		}
		if vtt := e.read(t, got.Subtitles["de"]); !strings.HasPrefix(vtt, "WEBVTT") || !strings.Contains(vtt, "Eingebettet auf Deutsch") {
			t.Errorf("German subtitles:\n%s", vtt)
		}
		if vtt := e.read(t, got.Subtitles["en"]); !strings.Contains(vtt, "Embedded in English") {
			t.Errorf("English subtitles:\n%s", vtt)
		}
		master := e.read(t, out+"master.m3u8")
		for _, lang := range []string{"de", "en"} {
			if !strings.Contains(master, `TYPE=SUBTITLES,GROUP-ID="subs"`) || !strings.Contains(master, `LANGUAGE="`+lang+`"`) ||
				!strings.Contains(master, `URI="subtitles/`+lang+`.m3u8"`) {
				t.Errorf("master playlist without %s subtitles:\n%s", lang, master)
			}
		}
		if strings.Contains(master, `LANGUAGE="fr"`) {
			t.Errorf("master playlist has French subtitles the catalog cannot list:\n%s", master)
		}
		// The streams left out are logged with the reason.
		for _, note := range []string{"stream=4 codec=subrip", "code=subtitles_no_language", "stream=5", "code=subtitles_language"} {
			if !strings.Contains(logs.String(), note) {
				t.Errorf("the log does not say %q:\n%s", note, logs.String())
			}
		}
		if _, err := e.cat.Publish(ctx, it.ID); err != nil {
			t.Fatalf("Publish with extracted subtitles: %v", err)
		}

		// A German file uploaded now wins; English is extracted again.
		first, _, _ := e.proc.LatestJob(ctx, it.ID)
		uploaded := it.Prefix() + "source/subtitles-de.vtt"
		e.putBytes(t, uploaded, []byte("WEBVTT\n\n00:00:00.500 --> 00:00:01.500\nHochgeladen\n"), "text/vtt")
		if err := e.proc.OnUpload(ctx, it.ID, "subtitle-de", uploaded); err != nil {
			t.Fatal(err)
		}
		if j, _, _ := e.proc.LatestJob(ctx, it.ID); j.ID == first.ID {
			t.Fatal("uploading subtitles queued no job")
		}
		if j := e.waitJob(t, it.ID, 2*time.Minute); j.State != jobs.Done {
			t.Fatalf("second job = %+v, want done", j)
		}
		got = e.get(t, it.ID)
		runs = e.runs(t, it.ID)
		if len(runs) != 1 || it.Prefix()+"out/"+runs[0]+"/" == out {
			t.Fatalf("runs = %v, want only the second one", runs)
		}
		out = it.Prefix() + "out/" + runs[0] + "/"
		want = map[string]string{"de": uploaded, "en": out + "subtitles/en.vtt"}
		if len(got.Subtitles) != len(want) || got.Subtitles["de"] != want["de"] || got.Subtitles["en"] != want["en"] {
			t.Fatalf("subtitles after the upload = %v, want %v", got.Subtitles, want)
		}
		if vtt := e.read(t, out+"subtitles/de.vtt"); !strings.Contains(vtt, "Hochgeladen") || strings.Contains(vtt, "Eingebettet") {
			t.Errorf("German rendition after the upload:\n%s", vtt)
		}
		if vtt := e.read(t, got.Subtitles["en"]); !strings.Contains(vtt, "Embedded in English") {
			t.Errorf("English subtitles after the upload:\n%s", vtt)
		}
		if !strings.Contains(logs.String(), "code=subtitles_uploaded") {
			t.Errorf("the log does not say the German stream gave way to the upload:\n%s", logs.String())
		}
	})
}
