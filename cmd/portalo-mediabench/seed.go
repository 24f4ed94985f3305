package main

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/minio/minio-go/v7"
	"github.com/minio/minio-go/v7/pkg/credentials"

	"portalo/catalog"
	"portalo/jobs"
	"portalo/processing"
	"portalo/store/blob"
	"portalo/store/blob/s3blob"
	"portalo/store/kv"
	"portalo/store/kv/boltkv"
	"portalo/store/kv/rediskv"
)

// videoSlug names the seeded video.
const videoSlug = "mediabench-video"

// seedMain is "portalo-mediabench seed": it fills the stores a portalo
// uses (MinIO, and Redis or the embedded store of a stopped portalo's data
// directory) with -items published catalog items (small documents with
// titles and descriptions in several languages, for the list and search
// latency) and one video made with ffmpeg and processed into the HLS
// ladder by package processing (for the downloads). It counts what is
// there: running it again adds only what is missing.
func seedMain(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("portalo-mediabench seed", flag.ContinueOnError)
	fs.SetOutput(stderr)
	redisURL := fs.String("redis-url", os.Getenv("PORTALO_REDIS_URL"), "Redis of the portalo (or PORTALO_REDIS_URL); empty: the embedded store in -data-dir")
	redisPrefix := fs.String("redis-prefix", envOr("PORTALO_REDIS_PREFIX", "portalo:"), "Redis key prefix (or PORTALO_REDIS_PREFIX)")
	dataDir := fs.String("data-dir", envOr("PORTALO_DATA_DIR", "./data"), "data directory of a stopped portalo (with the embedded store)")
	endpoint := fs.String("s3-endpoint", os.Getenv("PORTALO_S3_ENDPOINT"), "MinIO host:port")
	access := fs.String("s3-access-key", os.Getenv("PORTALO_S3_ACCESS_KEY"), "MinIO access key")
	secret := fs.String("s3-secret-key", os.Getenv("PORTALO_S3_SECRET_KEY"), "MinIO secret key")
	bucket := fs.String("s3-bucket", envOr("PORTALO_S3_BUCKET", "portalo"), "MinIO bucket (created if missing)")
	region := fs.String("s3-region", os.Getenv("PORTALO_S3_REGION"), "MinIO region")
	tls := fs.Bool("s3-tls", false, "reach MinIO over HTTPS")
	items := fs.Int("items", 1000, "catalog items to have (besides the video)")
	seconds := fs.Int("video-seconds", 30, "length of the video")
	videoSize := fs.String("video-size", "1280x720", "picture size of the video")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *endpoint == "" || *access == "" || *secret == "" {
		return errors.New("-s3-endpoint, -s3-access-key and -s3-secret-key are required")
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))

	blobs, err := s3blob.Open(ctx, s3blob.Config{Endpoint: *endpoint, AccessKey: *access, SecretKey: *secret, Bucket: *bucket, Region: *region, TLS: *tls})
	if err != nil {
		return err
	}
	var state kv.Store
	if *redisURL != "" {
		state, err = rediskv.Open(ctx, *redisURL, *redisPrefix)
	} else {
		if err := os.MkdirAll(*dataDir, 0o700); err != nil {
			return err
		}
		state, err = boltkv.Open(filepath.Join(*dataDir, "state.db"))
	}
	if err != nil {
		return err
	}
	defer state.Close()

	cat, err := catalog.New(ctx, blobs, state, catalog.Options{Logger: log})
	if err != nil {
		return err
	}
	queue := jobs.New(state, jobs.Options{})
	tmp, err := os.MkdirTemp("", "portalo-mediabench-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	proc, err := processing.New(cat, blobs, state, queue, processing.Options{TempDir: tmp, Logger: log, NormalPriority: true})
	if err != nil {
		return err
	}
	// A worker of its own runs the video's processing.
	wctx, stopWorker := context.WithCancel(ctx)
	worker := queue.NewWorker(proc.Handlers(), jobs.WorkerOptions{Logger: log, PollInterval: 100 * time.Millisecond})
	workerDone := make(chan struct{})
	go func() {
		defer close(workerDone)
		worker.Run(wctx)
	}()
	defer func() {
		stopWorker()
		<-workerDone
	}()

	start := time.Now()
	made, err := seedDocuments(ctx, cat, proc, blobs, *items)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seed: %d catalog items (%d new) in %s\n", *items, made, time.Since(start).Round(time.Millisecond))
	start = time.Now()
	if err := seedVideo(ctx, cat, proc, blobs, tmp, *videoSize, *seconds); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "seed: video %q ready in %s\n", videoSlug, time.Since(start).Round(time.Millisecond))
	return nil
}

// Words of the seeded titles and descriptions, per language.
var seedWords = map[string][]string{
	"de": {"Atemübung", "Rückenschmerzen", "gesunder", "Schlaf", "Ernährung", "Bewegung", "Stress", "Entspannung", "Pause",
		"Frühstück", "Spaziergang", "rauchfrei", "Achtsamkeit", "Müdigkeit", "Kopfschmerzen", "Gemüse", "Wasser", "Treppe",
		"Gelassenheit", "Alltag", "Familie", "Nacken", "Übung", "Grübeln", "Abend", "Morgen"},
	"tr": {"nefes", "uyku", "beslenme", "hareket", "stres", "rahatlama", "yürüyüş", "ağrı", "sağlıklı", "kahvaltı", "dinlenme",
		"ılık", "sebze", "su", "merdiven", "sakinlik", "aile", "boyun", "egzersiz", "akşam", "sabah"},
	"ru": {"сон", "дыхание", "питание", "движение", "стресс", "отдых", "боль", "прогулка", "завтрак", "вода", "лестница", "семья"},
	"ar": {"النوم", "التنفس", "التغذية", "الحركة", "التوتر", "الاسترخاء", "الألم", "المشي", "الإفطار", "الماء", "العائلة"},
	"en": {"breathing", "sleep", "nutrition", "movement", "stress", "relaxation", "walk", "pain", "breakfast", "water", "stairs", "family"},
}

func words(rng *rand.Rand, lang string, n int) string {
	ws := seedWords[lang]
	out := make([]string, n)
	for i := range out {
		out[i] = ws[rng.IntN(len(ws))]
	}
	return strings.Join(out, " ")
}

// seedDocuments creates published documents until the catalog has n items
// besides the video, 8 at a time, and returns how many it made.
func seedDocuments(ctx context.Context, cat *catalog.Catalog, proc *processing.Processor, blobs blob.Store, n int) (int, error) {
	res, err := cat.List(catalog.Query{Viewer: catalog.Viewer{Editor: true}, PageSize: 1})
	if err != nil {
		return 0, err
	}
	have := res.Total
	if _, err := cat.GetBySlug(videoSlug); err == nil {
		have--
	}
	missing := n - have
	if missing <= 0 {
		return 0, nil
	}
	pdf := []byte("%PDF-1.4\n1 0 obj << /Type /Catalog /Pages 2 0 R >> endobj\n2 0 obj << /Type /Pages /Kids [] /Count 0 >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n")
	var next, made atomic.Int64
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var wg sync.WaitGroup
	for w := range 8 {
		wg.Go(func() {
			rng := rand.New(rand.NewPCG(uint64(w), uint64(time.Now().UnixNano())))
			for {
				i := int(next.Add(1)) + have
				if i > n || ctx.Err() != nil {
					return
				}
				if err := seedDocument(ctx, cat, proc, blobs, rng, i, pdf); err != nil {
					cancel(err)
					return
				}
				made.Add(1)
			}
		})
	}
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return int(made.Load()), err
	}
	return int(made.Load()), nil
}

func seedDocument(ctx context.Context, cat *catalog.Catalog, proc *processing.Processor, blobs blob.Store, rng *rand.Rand, i int, pdf []byte) error {
	m := catalog.Meta{
		Kind: catalog.KindDocument, Slug: fmt.Sprintf("bench-%05d-%04x", i, rng.IntN(1<<16)),
		Title: map[string]string{
			"de": fmt.Sprintf("%s (%d)", words(rng, "de", 3), i),
			"tr": words(rng, "tr", 3),
		},
		Description: map[string]string{"de": words(rng, "de", 25), "tr": words(rng, "tr", 20)},
		Topic:       catalog.Topics[rng.IntN(len(catalog.Topics))],
		Audience:    catalog.AudiencePublic,
	}
	for _, l := range []string{"ru", "ar", "en"} {
		if rng.IntN(3) == 0 {
			m.Title[l] = words(rng, l, 3)
			m.Description[l] = words(rng, l, 15)
		}
	}
	if rng.IntN(10) == 0 {
		m.Audience = catalog.AudienceMultipliers
	}
	it, err := cat.Create(ctx, m)
	if err != nil {
		return fmt.Errorf("creating item %d: %w", i, err)
	}
	key := it.Prefix() + "source/original.pdf"
	if _, err := blobs.Put(ctx, key, bytes.NewReader(pdf), int64(len(pdf)), "application/pdf"); err != nil {
		return err
	}
	if err := proc.OnUpload(ctx, it.ID, "source", key); err != nil {
		return fmt.Errorf("item %d: %w", i, err)
	}
	if _, err := cat.Publish(ctx, it.ID); err != nil {
		return fmt.Errorf("publishing item %d: %w", i, err)
	}
	return nil
}

// seedVideo makes, processes and publishes the video unless it is there.
// The picture is a test pattern with noise, so that the renditions reach
// their bit rates (about 1.3 MB per 720p segment) as a real video would.
func seedVideo(ctx context.Context, cat *catalog.Catalog, proc *processing.Processor, blobs blob.Store, tmp, size string, seconds int) error {
	it, err := cat.GetBySlug(videoSlug)
	if err == nil && it.IsPublished() {
		return nil
	}
	if errors.Is(err, catalog.ErrNotFound) {
		it, err = cat.Create(ctx, catalog.Meta{
			Kind: catalog.KindVideo, Slug: videoSlug,
			Title:       map[string]string{"de": "Benchmark-Video", "en": "Benchmark video"},
			Description: map[string]string{"de": "Testbild mit Rauschen und Sinuston für den Mediathek-Benchmark."},
			Topic:       catalog.TopicOther, Audience: catalog.AudiencePublic, Downloadable: true,
		})
	}
	if err != nil {
		return err
	}
	src := filepath.Join(tmp, "video.mp4")
	cmd := exec.CommandContext(ctx, "ffmpeg", "-hide_banner", "-nostdin", "-v", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc2=size=%s:rate=25:duration=%d,noise=alls=12:allf=t", size, seconds),
		"-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=440:sample_rate=48000:duration=%d", seconds),
		"-c:v", "libx264", "-preset", "ultrafast", "-crf", "18", "-pix_fmt", "yuv420p", "-c:a", "aac", "-shortest", src)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("making the video with ffmpeg: %w: %s", err, bytes.TrimSpace(out))
	}
	f, err := os.Open(src)
	if err != nil {
		return err
	}
	defer f.Close()
	st, err := f.Stat()
	if err != nil {
		return err
	}
	key := it.Prefix() + "source/original.mp4"
	if _, err := blobs.Put(ctx, key, f, st.Size(), "video/mp4"); err != nil {
		return err
	}
	if err := proc.Start(ctx, it.ID, key); err != nil {
		return err
	}
	for {
		j, found, err := proc.LatestJob(ctx, it.ID)
		if err != nil {
			return err
		}
		if found && j.State == jobs.Failed {
			return fmt.Errorf("processing the video failed: %s", j.Error)
		}
		if found && j.State == jobs.Done {
			break
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(250 * time.Millisecond):
		}
	}
	_, err = cat.Publish(ctx, it.ID)
	return err
}

// dropMain is "portalo-mediabench drop": it removes a bucket that seed
// filled, with every object in it (for deploy/media-bench.sh on a shared
// MinIO).
func dropMain(ctx context.Context, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("portalo-mediabench drop", flag.ContinueOnError)
	fs.SetOutput(stderr)
	endpoint := fs.String("s3-endpoint", os.Getenv("PORTALO_S3_ENDPOINT"), "MinIO host:port")
	access := fs.String("s3-access-key", os.Getenv("PORTALO_S3_ACCESS_KEY"), "MinIO access key")
	secret := fs.String("s3-secret-key", os.Getenv("PORTALO_S3_SECRET_KEY"), "MinIO secret key")
	bucket := fs.String("s3-bucket", "", "the bucket to remove")
	tls := fs.Bool("s3-tls", false, "reach MinIO over HTTPS")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *endpoint == "" || *access == "" || *secret == "" || *bucket == "" {
		return errors.New("-s3-endpoint, -s3-access-key, -s3-secret-key and -s3-bucket are required")
	}
	mc, err := minio.New(*endpoint, &minio.Options{Creds: credentials.NewStaticV4(*access, *secret, ""), Secure: *tls})
	if err != nil {
		return err
	}
	objects := mc.ListObjects(ctx, *bucket, minio.ListObjectsOptions{Recursive: true})
	for res := range mc.RemoveObjects(ctx, *bucket, objects, minio.RemoveObjectsOptions{}) {
		return fmt.Errorf("removing %s: %w", res.ObjectName, res.Err)
	}
	for u := range mc.ListIncompleteUploads(ctx, *bucket, "", true) {
		if u.Err == nil {
			_ = mc.RemoveIncompleteUpload(ctx, *bucket, u.Key)
		}
	}
	return mc.RemoveBucket(ctx, *bucket)
}
