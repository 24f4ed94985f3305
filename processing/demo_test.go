package processing_test

import (
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"portalo/catalog"
	"portalo/internal/testenv"
	"portalo/processing"
	"portalo/store/blob/dirblob"
	"portalo/store/kv/boltkv"
)

// childCPU returns the CPU time of the finished child processes (ffmpeg,
// ffprobe) of the test so far.
func childCPU(t *testing.T) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_CHILDREN, &ru); err != nil {
		t.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// The embedded default's first start makes three published demo items,
// once: not again on the next start, nor after an editor deleted them;
// and not at all when the catalog had items.
func TestSeedDemo(t *testing.T) {
	testenv.FFmpeg(t)
	b, err := dirblob.Open(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	k, err := boltkv.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k.Close() })
	e := newEnv(t, b, k)
	e.startWorker(t, "node-1")
	ctx := t.Context()

	cpu := childCPU(t)
	start := time.Now()
	seeded, err := processing.SeedDemo(ctx, e.proc)
	if err != nil || !seeded {
		t.Fatalf("SeedDemo = %v, %v; want true", seeded, err)
	}
	used := childCPU(t) - cpu
	t.Logf("demo content made in %s, ffmpeg CPU %s", time.Since(start).Round(time.Millisecond), used.Round(time.Millisecond))
	if used > 20*time.Second {
		t.Errorf("making the demo content took %s of CPU, want under 20s", used)
	}

	res, err := e.cat.List(catalog.Query{Viewer: catalog.Viewer{}})
	if err != nil {
		t.Fatal(err)
	}
	if res.Total != 3 {
		t.Fatalf("viewers see %d items, want the 3 demo items", res.Total)
	}
	bySlug := map[string]catalog.Item{}
	for _, it := range res.Items {
		bySlug[it.Slug] = it
		if !it.IsPublished() {
			t.Errorf("%s is %s", it.Slug, it.Status)
		}
		if it.Duration <= 0 {
			t.Errorf("%s has no duration", it.Slug)
		}
		for lang, v := range it.Versions {
			if !v.Complete() {
				t.Errorf("%s: version %s is incomplete", it.Slug, lang)
			}
			if _, ok := v.File(catalog.RoleMaster); !ok {
				t.Errorf("%s: version %s has no master playlist", it.Slug, lang)
			}
		}
	}
	breathing := bySlug["gefuehrte-atemuebung"]
	if breathing.Kind != catalog.KindVideo || breathing.Title["tr"] == "" || breathing.Description["tr"] == "" ||
		breathing.Subtitles["de"] == "" || breathing.Subtitles["ar"] == "" || breathing.Poster == "" {
		t.Errorf("breathing video: %+v", breathing)
	}
	if d := breathing.Duration; d < 11*time.Second || d > 13*time.Second {
		t.Errorf("breathing video lasts %s, want about 12s", d)
	}
	if master, ok := breathing.Versions["de"].File(catalog.RoleMaster); ok {
		m := e.read(t, master.Key)
		for _, s := range []string{"RESOLUTION=426x240", "RESOLUTION=640x360", `TYPE=SUBTITLES`, `LANGUAGE="ar"`} {
			if !strings.Contains(m, s) {
				t.Errorf("breathing master lacks %s:\n%s", s, m)
			}
		}
	}
	podcast := bySlug["podcast-gut-schlafen-folge-1"]
	if podcast.Kind != catalog.KindEpisode || len(podcast.Versions) != 1 {
		t.Errorf("podcast: %+v", podcast)
	}
	for _, f := range podcast.Versions["de"].Files {
		if f.Role == catalog.RoleRendition {
			t.Errorf("the audio-only podcast lists a video rendition %s", f.Key)
		}
	}
	shoulders := bySlug["schulterkreisen"]
	if _, tr := shoulders.Versions["tr"]; !tr || len(shoulders.Versions) != 2 {
		t.Errorf("exercise video versions: %v, want de and tr", shoulders.Versions)
	}
	if found, err := e.cat.Search("atemübung", catalog.Query{}); err != nil || found.Total != 1 {
		t.Errorf("search for the demo video: %+v, %v", found, err)
	}

	// The next start does nothing.
	if seeded, err := processing.SeedDemo(ctx, e.proc); err != nil || seeded {
		t.Fatalf("second SeedDemo = %v, %v; want false", seeded, err)
	}
	// An editor deletes the demo items: they stay deleted.
	for _, it := range res.Items {
		if err := e.cat.Delete(ctx, it.ID); err != nil {
			t.Fatal(err)
		}
	}
	if seeded, err := processing.SeedDemo(ctx, e.proc); err != nil || seeded {
		t.Fatalf("SeedDemo after the deletion = %v, %v; want false", seeded, err)
	}
	if res, _ := e.cat.List(catalog.Query{Viewer: catalog.Viewer{Editor: true}}); res.Total != 0 {
		t.Errorf("after deleting the demo items the catalog has %d", res.Total)
	}

	// A catalog with content (a fresh kv.Store on a used bucket) gets no
	// demo items, now or later.
	k2, err := boltkv.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { k2.Close() })
	e2 := newEnv(t, b, k2)
	own, err := e2.cat.Create(ctx, catalog.Meta{Kind: catalog.KindDocument, Title: map[string]string{"de": "Eigenes"},
		Topic: catalog.TopicOther, Audience: catalog.AudiencePublic})
	if err != nil {
		t.Fatal(err)
	}
	if seeded, err := processing.SeedDemo(ctx, e2.proc); err != nil || seeded {
		t.Fatalf("SeedDemo on a catalog with items = %v, %v; want false", seeded, err)
	}
	if err := e2.cat.Delete(ctx, own.ID); err != nil {
		t.Fatal(err)
	}
	if seeded, err := processing.SeedDemo(ctx, e2.proc); err != nil || seeded {
		t.Fatalf("SeedDemo after the own item's deletion = %v, %v; want false", seeded, err)
	}
	if keys := e2.keys(t, "media/"); len(keys) != 0 {
		t.Errorf("objects left in the bucket: %v", keys)
	}
}
