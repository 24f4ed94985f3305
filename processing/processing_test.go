package processing_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"slices"
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

// ffmpeg runs ffmpeg to make a test input in dir and returns its path.
func ffmpeg(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	cmd := exec.Command("ffmpeg", append(append([]string{"-hide_banner", "-nostdin", "-v", "error", "-y"}, args...), p)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
	return p
}

// clip writes a test video of the given size and length with a sine tone.
func clip(t *testing.T, size string, seconds int) string {
	t.Helper()
	return ffmpeg(t, t.TempDir(), "clip.mp4",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=25:duration=%d", size, seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest")
}

// tone writes an audio file with a sine tone.
func tone(t *testing.T, freq, seconds int) string {
	t.Helper()
	return ffmpeg(t, t.TempDir(), "tone.m4a",
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=48000:duration=%d", freq, seconds), "-c:a", "aac")
}

const (
	germanVTT = "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nAtmen Sie ruhig ein.\n\n00:00:02.500 --> 00:00:04.500\nUnd wieder aus.\n"
	arabicVTT = "WEBVTT\n\n00:00:01.000 --> 00:00:03.000\nتنفس بهدوء.\n"
)

// env is one deployment: the stores and what runs on them.
type env struct {
	blobs blob.Store
	kv    kv.Store
	cat   *catalog.Catalog
	queue *jobs.Queue
	proc  *processing.Processor
}

func newEnv(t *testing.T, b blob.Store, k kv.Store) *env {
	t.Helper()
	cat, err := catalog.New(t.Context(), b, k, catalog.Options{})
	if err != nil {
		t.Fatal(err)
	}
	q := jobs.New(k, jobs.Options{})
	proc, err := processing.New(cat, b, k, q, processing.Options{TempDir: t.TempDir(), Logger: testLogger(t)})
	if err != nil {
		t.Fatal(err)
	}
	return &env{blobs: b, kv: k, cat: cat, queue: q, proc: proc}
}

// startWorker runs a worker with the processing handlers until the
// returned stop is called (or the test ends).
func (e *env) startWorker(t *testing.T, node string) (stop func()) {
	t.Helper()
	w := e.queue.NewWorker(e.proc.Handlers(), jobs.WorkerOptions{
		Node: node, LeaseTTL: 3 * time.Second, PollInterval: 50 * time.Millisecond, ProgressInterval: 50 * time.Millisecond,
	})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		w.Run(ctx)
	}()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			select {
			case <-done:
			case <-time.After(30 * time.Second):
				t.Errorf("the worker did not stop within 30s")
			}
		})
	}
	t.Cleanup(stop)
	return stop
}

func (e *env) newItem(t *testing.T, kind catalog.Kind) catalog.Item {
	t.Helper()
	it, err := e.cat.Create(t.Context(), catalog.Meta{
		Kind:        kind,
		Title:       map[string]string{"de": "Atemübung", "tr": "Nefes egzersizi"},
		Description: map[string]string{"de": "Ruhig atmen."},
		Topic:       catalog.TopicRelaxation, Audience: catalog.AudiencePublic, Downloadable: true,
	})
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// put stores the local file at the item's key, as an upload would.
func (e *env) put(t *testing.T, key, local, contentType string) {
	t.Helper()
	f, err := os.Open(local)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	if _, err := e.blobs.Put(t.Context(), key, f, st.Size(), contentType); err != nil {
		t.Fatal(err)
	}
}

func (e *env) putBytes(t *testing.T, key string, data []byte, contentType string) {
	t.Helper()
	if _, err := e.blobs.Put(t.Context(), key, bytes.NewReader(data), int64(len(data)), contentType); err != nil {
		t.Fatal(err)
	}
}

// waitJob waits until the item's latest job is finished and returns it.
func (e *env) waitJob(t *testing.T, id string, timeout time.Duration) jobs.Job {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		j, found, err := e.proc.LatestJob(t.Context(), id)
		if err != nil {
			t.Fatal(err)
		}
		if found && j.State != jobs.Queued && j.State != jobs.Running {
			return j
		}
		if time.Now().After(deadline) {
			t.Fatalf("the job of item %s did not finish within %s (last: %+v)", id, timeout, j)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func (e *env) get(t *testing.T, id string) catalog.Item {
	t.Helper()
	it, err := e.cat.Get(id)
	if err != nil {
		t.Fatal(err)
	}
	return it
}

// keys lists the object keys under prefix.
func (e *env) keys(t *testing.T, prefix string) []string {
	t.Helper()
	infos, err := e.blobs.List(t.Context(), prefix)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, in := range infos {
		out = append(out, in.Key)
	}
	return out
}

func (e *env) read(t *testing.T, key string) string {
	t.Helper()
	r, _, err := e.blobs.Open(t.Context(), key)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	b, err := io.ReadAll(r)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// runs returns the names of the run directories under the item's out/.
func (e *env) runs(t *testing.T, id string) []string {
	t.Helper()
	base := catalog.Prefix(id) + "out/"
	var out []string
	for _, k := range e.keys(t, base) {
		run, _, _ := strings.Cut(strings.TrimPrefix(k, base), "/")
		if !slices.Contains(out, run) {
			out = append(out, run)
		}
	}
	return out
}

type logWriter struct{ t *testing.T }

func (w logWriter) Write(p []byte) (int, error) {
	w.t.Log(strings.TrimSpace(string(p)))
	return len(p), nil
}

// A source, a Turkish sound file and German and Arabic subtitles become
// the whole ladder, listed complete in both language versions; then the
// item can be published.
func TestProcessClipIntoLadder(t *testing.T) {
	testenv.FFmpeg(t)
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		e := newEnv(t, b, k)
		ctx := t.Context()
		it := e.newItem(t, catalog.KindVideo)
		src := it.Prefix() + "source/original.mp4"
		e.put(t, src, clip(t, "1280x720", 5), "video/mp4")
		if err := e.proc.OnUpload(ctx, it.ID, "source", src); err != nil {
			t.Fatal(err)
		}
		if got := e.get(t, it.ID).Status; got != catalog.StatusProcessing {
			t.Fatalf("status after Start = %s, want processing", got)
		}
		first, _, _ := e.proc.LatestJob(ctx, it.ID)
		tr := it.Prefix() + "source/original-tr.m4a"
		e.put(t, tr, tone(t, 660, 5), "audio/mp4")
		if err := e.proc.OnUpload(ctx, it.ID, "source-tr", tr); err != nil {
			t.Fatal(err)
		}
		for lang, vtt := range map[string]string{"de": germanVTT, "ar": arabicVTT} {
			key := it.Prefix() + "source/subtitles-" + lang + ".vtt"
			e.putBytes(t, key, []byte(vtt), "text/vtt")
			if err := e.proc.OnUpload(ctx, it.ID, "subtitle-"+lang, key); err != nil {
				t.Fatal(err)
			}
		}
		// Each upload queued a job that superseded the one before.
		if j, err := e.queue.Get(ctx, first.ID); err != nil || j.State != jobs.Cancelled {
			t.Fatalf("first job = %+v, %v; want cancelled by the later uploads", j, err)
		}
		if _, err := e.cat.Publish(ctx, it.ID); !errors.Is(err, catalog.ErrNotReady) {
			t.Fatalf("Publish while processing = %v, want ErrNotReady", err)
		}

		e.startWorker(t, "node-1")
		var sawProgress bool
		deadline := time.Now().Add(3 * time.Minute)
		for {
			f, ok := e.proc.Progress(ctx, it.ID)
			if ok && f > 0 && f < 1 {
				sawProgress = true
			}
			if j, _, _ := e.proc.LatestJob(ctx, it.ID); j.State == jobs.Done || j.State == jobs.Failed {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("processing did not finish within 3 minutes")
			}
			time.Sleep(20 * time.Millisecond)
		}
		j := e.waitJob(t, it.ID, time.Second)
		if j.State != jobs.Done || j.Progress != 1 {
			t.Fatalf("job = %+v, want done at 1", j)
		}
		if !sawProgress {
			t.Error("Progress never reported a fraction between 0 and 1 while the job ran")
		}

		got := e.get(t, it.ID)
		if got.Status != catalog.StatusDraft || got.StatusDetail != "" {
			t.Fatalf("status = %s (%q), want draft", got.Status, got.StatusDetail)
		}
		if got.Duration < 4900*time.Millisecond || got.Duration > 5200*time.Millisecond {
			t.Errorf("duration = %s, want about 5s", got.Duration)
		}
		runs := e.runs(t, it.ID)
		if len(runs) != 1 {
			t.Fatalf("output runs = %v, want exactly one (the superseded jobs wrote nothing)", runs)
		}
		out := it.Prefix() + "out/" + runs[0] + "/"
		if got.Poster != out+"poster.jpg" {
			t.Errorf("poster = %q, want %q", got.Poster, out+"poster.jpg")
		}
		if got.Subtitles["de"] != it.Prefix()+"source/subtitles-de.vtt" || got.Subtitles["ar"] != it.Prefix()+"source/subtitles-ar.vtt" {
			t.Errorf("subtitles = %v", got.Subtitles)
		}
		want := map[string][]string{
			"de": {
				"source:" + src, "master:" + out + "master.m3u8",
				"rendition:" + out + "video/240p/index.m3u8", "rendition:" + out + "video/360p/index.m3u8", "rendition:" + out + "video/720p/index.m3u8",
				"audio:" + out + "audio/de-64k/index.m3u8", "audio:" + out + "audio/de-128k/index.m3u8",
				"download:" + out + "download/video-de.mp4", "download:" + out + "download/audio-de.m4a",
			},
			"tr": {
				"source:" + tr, "master:" + out + "master.m3u8",
				"rendition:" + out + "video/240p/index.m3u8", "rendition:" + out + "video/360p/index.m3u8", "rendition:" + out + "video/720p/index.m3u8",
				"audio:" + out + "audio/tr-64k/index.m3u8", "audio:" + out + "audio/tr-128k/index.m3u8",
				"download:" + out + "download/video-tr.mp4", "download:" + out + "download/audio-tr.m4a",
			},
		}
		if len(got.Versions) != len(want) {
			t.Errorf("versions = %v, want de and tr", slices.Collect(mapKeys(got.Versions)))
		}
		stored := map[string]blob.Info{}
		infos, err := b.List(ctx, it.Prefix())
		if err != nil {
			t.Fatal(err)
		}
		for _, in := range infos {
			stored[in.Key] = in
		}
		for lang, files := range want {
			v := got.Versions[lang]
			var have []string
			for _, f := range v.Files {
				have = append(have, f.Role+":"+f.Key)
				if !f.Complete {
					t.Errorf("%s: %s is not complete", lang, f.Key)
				}
				if in, ok := stored[f.Key]; !ok || in.Size != f.Size {
					t.Errorf("%s: %s listed with %d bytes, stored: %v (%d bytes)", lang, f.Key, f.Size, ok, in.Size)
				}
			}
			slices.Sort(have)
			slices.Sort(files)
			if !slices.Equal(have, files) {
				t.Errorf("version %s lists\n%s\nwant\n%s", lang, strings.Join(have, "\n"), strings.Join(files, "\n"))
			}
		}
		master := e.read(t, out+"master.m3u8")
		for _, s := range []string{"RESOLUTION=426x240", "RESOLUTION=640x360", "RESOLUTION=1280x720",
			`LANGUAGE="de"`, `LANGUAGE="tr"`, `TYPE=SUBTITLES`, `LANGUAGE="ar"`, `CODECS="mp4a.40.2"`} {
			if !strings.Contains(master, s) {
				t.Errorf("master playlist lacks %s:\n%s", s, master)
			}
		}
		// Every segment a playlist names is stored.
		for _, pl := range []string{"video/240p/index.m3u8", "video/720p/index.m3u8", "audio/tr-64k/index.m3u8", "subtitles/ar.m3u8"} {
			for _, line := range strings.Split(e.read(t, out+pl), "\n") {
				if line != "" && !strings.HasPrefix(line, "#") {
					if _, ok := stored[path.Join(path.Dir(out+pl), line)]; !ok {
						t.Errorf("%s names %s, which is not stored", pl, line)
					}
				}
			}
		}
		if _, err := e.cat.Publish(ctx, it.ID); err != nil {
			t.Fatalf("Publish after processing: %v", err)
		}
	})
}

func mapKeys[V any](m map[string]V) func(func(string) bool) {
	return func(yield func(string) bool) {
		for k := range m {
			if !yield(k) {
				return
			}
		}
	}
}

// A file that is not media fails with a reason naming it, lists no
// output, and a retry after a good upload under the same name succeeds.
func TestNotMediaFailsAndRetries(t *testing.T) {
	testenv.FFmpeg(t)
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		e := newEnv(t, b, k)
		ctx := t.Context()
		e.startWorker(t, "node-1")
		it := e.newItem(t, catalog.KindVideo)
		src := it.Prefix() + "source/original.mp4"
		e.putBytes(t, src, []byte("Dies ist kein Video, sondern ein Einkaufszettel.\n"), "video/mp4")
		if err := e.proc.Start(ctx, it.ID, src); err != nil {
			t.Fatal(err)
		}
		j := e.waitJob(t, it.ID, time.Minute)
		got := e.get(t, it.ID)
		if j.State != jobs.Failed || got.Status != catalog.StatusFailed {
			t.Fatalf("job %s, item %s; want both failed", j.State, got.Status)
		}
		// The item keeps the reason's code and parameters, the job its
		// English text.
		r, ok := catalog.ParseReason(got.StatusDetail)
		if !ok || r.Code != processing.ReasonNotMedia || r.Params["file"] != "original.mp4" || r.Params["input"] != "source" {
			t.Errorf("status detail %q: reason %+v (%v), want not_media of the source original.mp4", got.StatusDetail, r, ok)
		}
		for _, s := range []string{`"original.mp4"`, "not an audio or video file"} {
			if !strings.Contains(j.Error, s) {
				t.Errorf("job error %q lacks %q", j.Error, s)
			}
		}
		if files := got.Files(); len(files) != 1 || files[0].Key != src || got.Poster != "" || got.Duration != 0 {
			t.Errorf("after the failure the item lists %+v (poster %q, duration %s); want only the source", files, got.Poster, got.Duration)
		}
		if keys := e.keys(t, it.Prefix()+"out/"); len(keys) != 0 {
			t.Errorf("outputs left after the failure: %v", keys)
		}

		// The editor uploads the right file under the same name and retries.
		e.put(t, src, clip(t, "320x240", 2), "video/mp4")
		if err := e.proc.Retry(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
		if st := e.get(t, it.ID).Status; st != catalog.StatusProcessing && st != catalog.StatusDraft {
			t.Errorf("status after Retry = %s, want processing", st)
		}
		j2 := e.waitJob(t, it.ID, 2*time.Minute)
		if j2.ID != j.ID || j2.State != jobs.Done || j2.Attempts != 2 {
			t.Fatalf("after Retry the job is %+v; want the same job done on attempt 2", j2)
		}
		got = e.get(t, it.ID)
		if got.Status != catalog.StatusDraft || got.StatusDetail != "" {
			t.Fatalf("status = %s (%q), want draft", got.Status, got.StatusDetail)
		}
		if _, ok := got.Versions["de"].File(catalog.RoleMaster); !ok {
			t.Fatalf("no master playlist after the retry: %+v", got.Versions)
		}
		if _, err := e.cat.Publish(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// A job queued while no worker runs, or interrupted by a worker's
// shutdown, is done by a worker started later on a fresh Catalog, Queue
// and Processor (a restarted node); running the job once more is
// harmless: it replaces the outputs and removes the old ones.
func TestRestartAndRerun(t *testing.T) {
	testenv.FFmpeg(t)
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := t.Context()
		e1 := newEnv(t, b, k)
		it := e1.newItem(t, catalog.KindVideo)
		src := it.Prefix() + "source/original.mp4"
		e1.put(t, src, clip(t, "640x360", 3), "video/mp4")
		if err := e1.proc.Start(ctx, it.ID, src); err != nil {
			t.Fatal(err)
		}
		// A worker starts it, and its node shuts down while it runs.
		stop := e1.startWorker(t, "node-1")
		deadline := time.Now().Add(time.Minute)
		for {
			j, _, _ := e1.proc.LatestJob(ctx, it.ID)
			if j.State == jobs.Running {
				break
			}
			if j.State == jobs.Done || time.Now().After(deadline) {
				t.Fatalf("job is %s; wanted to catch it running", j.State)
			}
			time.Sleep(5 * time.Millisecond)
		}
		stop()
		j, _, _ := e1.proc.LatestJob(ctx, it.ID)
		if j.State != jobs.Queued {
			t.Fatalf("after the shutdown the job is %s, want queued", j.State)
		}
		if got := e1.get(t, it.ID); got.Status != catalog.StatusProcessing || len(got.Files()) != 1 {
			t.Fatalf("after the shutdown: status %s, files %+v", got.Status, got.Files())
		}

		e2 := newEnv(t, b, k) // the restarted node
		e2.startWorker(t, "node-2")
		j = e2.waitJob(t, it.ID, 2*time.Minute)
		if j.State != jobs.Done || j.Node != "node-2" {
			t.Fatalf("job = %+v, want done by node-2", j)
		}
		got := e2.get(t, it.ID)
		if got.Status != catalog.StatusDraft {
			t.Fatalf("status %s (%s)", got.Status, got.StatusDetail)
		}
		firstRuns := e2.runs(t, it.ID)
		if len(firstRuns) != 1 {
			t.Fatalf("runs = %v, want one (the interrupted run removed its files)", firstRuns)
		}

		// The same job once more (a duplicate after a lost lease).
		j.Attempts++
		if err := e2.proc.Handlers()[processing.Kind](ctx, j, func(float64) {}); err != nil {
			t.Fatal(err)
		}
		again := e2.get(t, it.ID)
		runs := e2.runs(t, it.ID)
		if len(runs) != 1 || runs[0] == firstRuns[0] {
			t.Fatalf("runs after the rerun = %v (before %v); want only the new one", runs, firstRuns)
		}
		if again.Poster == got.Poster || !strings.Contains(again.Poster, runs[0]) {
			t.Errorf("poster %q after the rerun, want the new run's", again.Poster)
		}
		if _, err := e2.cat.Publish(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
	})
}

// deletingStore deletes the item (through the catalog, on the real store)
// just before the first output file is stored: the run's uploads then
// come after the catalog removed the item's files.
type deletingStore struct {
	blob.Store
	cat  *catalog.Catalog
	id   string
	once sync.Once
	err  error
}

func (s *deletingStore) Put(ctx context.Context, key string, r io.Reader, size int64, ctype string) (blob.Info, error) {
	if strings.HasPrefix(key, catalog.Prefix(s.id)+"out/") {
		s.once.Do(func() { s.err = s.cat.Delete(ctx, s.id) })
	}
	return s.Store.Put(ctx, key, r, size, ctype)
}

// An item deleted while it is processed leaves no file behind; one
// deleted while its job waits is skipped.
func TestItemDeletedDuringProcessing(t *testing.T) {
	testenv.FFmpeg(t)
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		ctx := t.Context()
		base := newEnv(t, b, k)
		it := base.newItem(t, catalog.KindVideo)
		src := it.Prefix() + "source/original.mp4"
		base.put(t, src, clip(t, "320x240", 2), "video/mp4")

		ds := &deletingStore{Store: b, cat: base.cat, id: it.ID}
		proc, err := processing.New(base.cat, ds, k, base.queue, processing.Options{TempDir: t.TempDir(), Logger: testLogger(t)})
		if err != nil {
			t.Fatal(err)
		}
		e := &env{blobs: b, kv: k, cat: base.cat, queue: base.queue, proc: proc}
		if err := e.proc.Start(ctx, it.ID, src); err != nil {
			t.Fatal(err)
		}
		e.startWorker(t, "node-1")
		j := e.waitJob(t, it.ID, 2*time.Minute)
		if ds.err != nil {
			t.Fatalf("deleting the item: %v", ds.err)
		}
		if j.State != jobs.Done {
			t.Errorf("job = %+v; want done (there is nothing left to do)", j)
		}
		if _, err := e.cat.Get(it.ID); !errors.Is(err, catalog.ErrNotFound) {
			t.Fatalf("item still there: %v", err)
		}
		if keys := e.keys(t, it.Prefix()); len(keys) != 0 {
			t.Errorf("orphaned files of the deleted item: %v", keys)
		}

		// Deleted while queued.
		it2 := base.newItem(t, catalog.KindVideo)
		src2 := it2.Prefix() + "source/original.mp4"
		base.put(t, src2, clip(t, "320x240", 1), "video/mp4")
		q2 := jobs.New(k, jobs.Options{})
		p2, _ := processing.New(base.cat, b, k, q2, processing.Options{TempDir: t.TempDir()})
		if err := p2.Start(ctx, it2.ID, src2); err != nil {
			t.Fatal(err)
		}
		if err := base.cat.Delete(ctx, it2.ID); err != nil {
			t.Fatal(err)
		}
		e2 := &env{blobs: b, kv: k, cat: base.cat, queue: q2, proc: p2}
		j2 := e2.waitJob(t, it2.ID, time.Minute) // the worker above shares the store
		if j2.State != jobs.Done {
			t.Errorf("job of the item deleted while queued = %+v, want done", j2)
		}
		if keys := e.keys(t, it2.Prefix()); len(keys) != 0 {
			t.Errorf("files of the item deleted while queued: %v", keys)
		}
	})
}

// OnUpload refuses what is not a file of the item or not in the store, and
// a document's source is listed without processing.
func TestOnUploadChecks(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		e := newEnv(t, b, k)
		ctx := t.Context()
		it := e.newItem(t, catalog.KindDocument)
		other := e.newItem(t, catalog.KindVideo)
		pdf := it.Prefix() + "source/original.pdf"
		e.putBytes(t, pdf, []byte("%PDF-1.4\n%%EOF\n"), "application/pdf")
		e.putBytes(t, other.Prefix()+"source/original.mp4", []byte("x"), "video/mp4")
		for _, c := range []struct {
			name, role, key string
			want            error
		}{
			{"other item's file", "source", other.Prefix() + "source/original.mp4", processing.ErrInvalidSource},
			{"manifest", "source", catalog.ManifestKey(it.ID), processing.ErrInvalidSource},
			{"output", "source", it.Prefix() + "out/x/master.m3u8", processing.ErrInvalidSource},
			{"traversal", "source", it.Prefix() + "../" + other.ID + "/source/original.mp4", processing.ErrInvalidSource},
			{"unknown role", "thumbnail", pdf, processing.ErrInvalidSource},
			{"unknown language", "source-fr", pdf, processing.ErrInvalidSource},
			{"subtitle without language", "subtitle", pdf, processing.ErrInvalidSource},
			{"not stored", "source", it.Prefix() + "source/missing.pdf", processing.ErrSourceMissing},
		} {
			if err := e.proc.OnUpload(ctx, it.ID, c.role, c.key); !errors.Is(err, c.want) {
				t.Errorf("%s: OnUpload = %v, want %v", c.name, err, c.want)
			}
		}
		if err := e.proc.OnUpload(ctx, "nosuchitem", "source", catalog.Prefix("nosuchitem")+"source/a.mp4"); err == nil {
			t.Error("OnUpload for a missing item succeeded")
		}
		if err := e.proc.OnUpload(ctx, it.ID, "source", pdf); err != nil {
			t.Fatal(err)
		}
		got := e.get(t, it.ID)
		if f, ok := got.Versions["de"].File(catalog.RoleSource); !ok || f.Key != pdf || !f.Complete || got.Status != catalog.StatusDraft {
			t.Fatalf("document after upload: %+v, status %s", got.Versions, got.Status)
		}
		if _, found, _ := e.proc.LatestJob(ctx, it.ID); found {
			t.Error("a document's upload queued processing")
		}
		// A new upload under another name replaces the source and
		// removes the old file.
		pdf2 := it.Prefix() + "source/original-2.pdf"
		e.putBytes(t, pdf2, []byte("%PDF-1.4\n%%EOF\n"), "application/pdf")
		if err := e.proc.OnUpload(ctx, it.ID, "source", pdf2); err != nil {
			t.Fatal(err)
		}
		if files := e.get(t, it.ID).Files(); len(files) != 1 || files[0].Key != pdf2 {
			t.Errorf("files after the second upload: %+v", files)
		}
		if keys := e.keys(t, it.Prefix()+"source/"); !slices.Equal(keys, []string{pdf2}) {
			t.Errorf("stored sources: %v, want only %s", keys, pdf2)
		}
		if _, err := e.cat.Publish(ctx, it.ID); err != nil {
			t.Errorf("publishing the document: %v", err)
		}
		if err := e.proc.Retry(ctx, other.ID); !errors.Is(err, processing.ErrNoSource) {
			t.Errorf("Retry without a source = %v, want ErrNoSource", err)
		}
	})
}

// A chapters upload is listed as the episode's Chapters (not processed); a
// new one replaces and removes the old file; other kinds refuse it.
func TestOnUploadChapters(t *testing.T) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) {
		e := newEnv(t, b, k)
		ctx := t.Context()
		ep := e.newItem(t, catalog.KindEpisode)
		video := e.newItem(t, catalog.KindVideo)
		const chapters = `{"version":"1.2.0","chapters":[{"startTime":0,"title":"Einatmen"}]}`
		first := ep.Prefix() + "source/chapters.json"
		e.putBytes(t, first, []byte(chapters), "application/json+chapters")
		if err := e.proc.OnUpload(ctx, ep.ID, "chapters", first); err != nil {
			t.Fatal(err)
		}
		got := e.get(t, ep.ID)
		if got.Chapters != first || got.Status != catalog.StatusDraft {
			t.Fatalf("episode after the chapters upload: chapters %q, status %s", got.Chapters, got.Status)
		}
		if _, found, _ := e.proc.LatestJob(ctx, ep.ID); found {
			t.Error("a chapters upload queued processing")
		}
		second := ep.Prefix() + "source/chapters-2.json"
		e.putBytes(t, second, []byte(chapters), "application/json")
		if err := e.proc.OnUpload(ctx, ep.ID, "chapters", second); err != nil {
			t.Fatal(err)
		}
		if got := e.get(t, ep.ID); got.Chapters != second {
			t.Errorf("chapters after the second upload: %q, want %q", got.Chapters, second)
		}
		if keys := e.keys(t, ep.Prefix()+"source/"); !slices.Equal(keys, []string{second}) {
			t.Errorf("stored uploads: %v, want only %s", keys, second)
		}
		for _, c := range []struct {
			name, item, role, key string
			want                  error
		}{
			{"not stored", ep.ID, "chapters", ep.Prefix() + "source/missing.json", processing.ErrSourceMissing},
			{"with a language", ep.ID, "chapters-de", second, processing.ErrInvalidSource},
			{"a video", video.ID, "chapters", video.Prefix() + "source/chapters.json", processing.ErrInvalidSource},
		} {
			if err := e.proc.OnUpload(ctx, c.item, c.role, c.key); !errors.Is(err, c.want) {
				t.Errorf("%s: OnUpload = %v, want %v", c.name, err, c.want)
			}
		}
		if got := e.get(t, ep.ID); got.Chapters != second {
			t.Errorf("a refused upload changed the chapters to %q", got.Chapters)
		}
	})
}

func testLogger(t *testing.T) *slog.Logger {
	return slog.New(slog.NewTextHandler(logWriter{t}, &slog.HandlerOptions{Level: slog.LevelDebug}))
}
