package processing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"portalo/catalog"
	"portalo/jobs"
	"portalo/store/blob"
	"portalo/transcode"
)

// Progress of a run, as fractions of the job: fetching the inputs, then
// transcoding, then storing the outputs.
const (
	progressFetched    = 0.05
	progressTranscoded = 0.85
	progressStored     = 0.98
)

// cleanupTimeout bounds the removal of a stopped run's files.
const cleanupTimeout = 2 * time.Minute

var (
	// errSuperseded stops a run whose job is no longer the item's latest.
	errSuperseded = errors.New("processing: a newer job of the item superseded this one")
	// errPeek aborts a SetFiles that only looks.
	errPeek = errors.New("processing: peek")
)

// run is one run of a job.
type run struct {
	p        *Processor
	job      jobs.Job
	item     string
	source   string
	prefix   string // where the outputs go: media/ITEM/out/JOBID-ATTEMPT/
	progress func(float64)
	// names maps the local paths of the inputs to what they are, for the
	// reasons people read.
	names map[string]inputName
}

type inputName struct {
	file  string // the object's file name
	input string // "source", "sound" or "subtitles" (reasons' input)
	lang  string // of a sound file or subtitles
}

// what describes the input in English: "the uploaded file", "the Turkish
// sound file", "the Arabic subtitles".
func (n inputName) what() string {
	switch n.input {
	case "source":
		return "the uploaded file"
	case "sound":
		return "the " + languageName(n.lang) + " sound file"
	case "subtitles":
		return "the " + languageName(n.lang) + " subtitles"
	}
	return "the file"
}

func (p *Processor) handle(ctx context.Context, job jobs.Job, progress func(float64)) error {
	var pl payload
	if err := json.Unmarshal(job.Payload, &pl); err != nil || pl.Item == "" || pl.Source == "" {
		return fmt.Errorf("processing: job %s has an unreadable payload", job.ID)
	}
	r := &run{
		p: p, job: job, item: pl.Item, source: pl.Source, progress: progress,
		prefix: catalog.Prefix(pl.Item) + outDir + job.ID + "-" + strconv.Itoa(job.Attempts) + "/",
		names:  map[string]inputName{},
	}
	return r.do(ctx)
}

func (r *run) do(ctx context.Context) error {
	p := r.p
	log := p.log.With("item", r.item, "job", r.job.ID, "attempt", r.job.Attempts)
	current, err := p.isCurrent(ctx, r.item, r.job.ID)
	if err != nil {
		return err
	}
	if !current {
		log.Info("processing: skipped, a newer job of the item supersedes it")
		return nil
	}
	it, err := r.begin(ctx)
	if errors.Is(err, catalog.ErrNotFound) {
		log.Info("processing: skipped, the item was deleted")
		return nil
	}
	if err != nil {
		return err
	}
	if it.Kind == catalog.KindDocument {
		_, err := p.cat.SetStatus(ctx, r.item, catalog.StatusDraft, "")
		if err != nil && !isPublishedErr(err) && !errors.Is(err, catalog.ErrNotFound) {
			return err
		}
		return nil
	}
	start := time.Now()
	err = r.process(ctx, it)
	if err == nil {
		log.Info("processing: done", "took", time.Since(start).Round(time.Millisecond))
		return nil
	}
	r.removeOwn(ctx)
	switch {
	case ctx.Err() != nil:
		// Shut down (the worker puts the job back) or cancelled (a newer
		// job took over): the status is not this run's to change.
		return err
	case errors.Is(err, errSuperseded):
		log.Info("processing: stopped, a newer job of the item supersedes it")
		return nil
	case errors.Is(err, catalog.ErrNotFound):
		log.Info("processing: stopped, the item was deleted; its files are removed")
		return nil
	}
	reason := explain(err, r.names)
	log.Warn("processing: failed", "reason", reason, "err", err)
	if current, cerr := p.isCurrent(ctx, r.item, r.job.ID); cerr == nil && current {
		p.setFailed(ctx, r.item, reason)
	}
	return &Failure{Reason: reason, Err: err}
}

// begin sets the item to processing (a retried job's item may be failed)
// and returns it as stored; a published item stays published.
func (r *run) begin(ctx context.Context) (catalog.Item, error) {
	it, err := r.p.cat.SetStatus(ctx, r.item, catalog.StatusProcessing, "")
	if !isPublishedErr(err) {
		return it, err
	}
	return r.p.cat.Get(r.item)
}

// process does the work; on error the caller removes what it uploaded.
func (r *run) process(ctx context.Context, it catalog.Item) error {
	p := r.p
	log := p.log.With("item", r.item, "job", r.job.ID, "attempt", r.job.Attempts)
	mainLang, ok := sourceLanguage(it, r.source)
	if !ok {
		return &missingError{name: inputName{file: path.Base(r.source), input: "source"}, fromItem: true}
	}
	tmp, err := os.MkdirTemp(p.opt.TempDir, "portalo-processing-")
	if err != nil {
		return fmt.Errorf("processing: temporary directory: %w", err)
	}
	defer os.RemoveAll(tmp)
	in := filepath.Join(tmp, "in")
	if err := os.Mkdir(in, 0o700); err != nil {
		return fmt.Errorf("processing: %w", err)
	}

	// The inputs: the main source, one sound file per further language
	// version, the subtitles.
	type fetch struct {
		key, local string
		name       inputName
	}
	mainLocal := filepath.Join(in, "source"+safeExt(r.source))
	fetches := []fetch{{r.source, mainLocal, inputName{file: path.Base(r.source), input: "source"}}}
	job := transcode.Job{
		Source: mainLocal, SourceLanguage: mainLang, OutDir: filepath.Join(tmp, "out"),
		Threads: p.opt.Threads, NormalPriority: p.opt.NormalPriority,
		// The source's own subtitle streams in the catalog's languages
		// become subtitles too (in the languages no file was uploaded
		// for); the catalog has no others.
		EmbeddedSubtitleLanguages: catalog.Languages,
	}
	for _, l := range catalog.Languages {
		if l == mainLang {
			continue
		}
		f, ok := it.Versions[l].File(catalog.RoleSource)
		if !ok {
			continue
		}
		local := filepath.Join(in, "audio-"+l+safeExt(f.Key))
		fetches = append(fetches, fetch{f.Key, local, inputName{file: path.Base(f.Key), input: "sound", lang: l}})
		job.Audio = append(job.Audio, transcode.AudioInput{Language: l, Path: local})
	}
	for _, l := range catalog.Languages {
		key, ok := it.Subtitles[l]
		if !ok || r.isOutput(key) {
			// Subtitles an earlier run extracted from the source are
			// extracted again.
			continue
		}
		local := filepath.Join(in, "subtitles-"+l+".vtt")
		fetches = append(fetches, fetch{key, local, inputName{file: path.Base(key), input: "subtitles", lang: l}})
		job.Subtitles = append(job.Subtitles, transcode.SubtitleInput{Language: l, Path: local})
	}
	var total, done int64
	for _, f := range fetches {
		r.names[f.local] = f.name
		info, err := p.blobs.Stat(ctx, f.key)
		if errors.Is(err, blob.ErrNotFound) {
			return &missingError{name: f.name}
		}
		if err != nil {
			return &storeError{op: "read", err: err}
		}
		total += info.Size
	}
	for _, f := range fetches {
		n, err := r.fetch(ctx, f.key, f.local, func(n int64) {
			r.progress(progressFetched * float64(done+n) / float64(max(total, 1)))
		})
		if errors.Is(err, blob.ErrNotFound) {
			return &missingError{name: f.name}
		}
		if err != nil {
			return err
		}
		done += n
	}
	r.progress(progressFetched)

	if _, err := transcode.Probe(ctx, mainLocal); err != nil {
		return err
	}
	job.Progress = func(f float64) { r.progress(progressFetched + f*(progressTranscoded-progressFetched)) }
	res, err := transcode.HLS(ctx, job)
	if err != nil {
		return err
	}
	for _, n := range res.Notes {
		log.Info("processing: a subtitle stream of the uploaded file is left out",
			"stream", n.Stream, "codec", n.Codec, "language", n.Language, "title", n.Title, "code", n.Code, "why", n.Detail)
	}

	// Nothing is uploaded for an item deleted meanwhile, or by a run
	// that was superseded.
	if err := r.stillWanted(ctx); err != nil {
		return err
	}
	if err := r.upload(ctx, job.OutDir, res); err != nil {
		return err
	}
	if err := r.commit(ctx, mainLang, res); err != nil {
		return err
	}
	r.removeOlderRuns(ctx)
	if current, err := p.isCurrent(ctx, r.item, r.job.ID); err == nil && current {
		_, err := p.cat.SetStatus(ctx, r.item, catalog.StatusDraft, "")
		if err != nil && !isPublishedErr(err) && !errors.Is(err, catalog.ErrNotFound) {
			p.log.Warn("processing: cannot set the item back to draft", "item", r.item, "err", err)
		}
	}
	r.progress(1)
	return nil
}

// safeExt returns the key's extension if it is a plain one (for the local
// file name; ffprobe does not need it).
func safeExt(key string) string {
	ext := strings.ToLower(path.Ext(key))
	if len(ext) < 2 || len(ext) > 6 {
		return ""
	}
	for _, c := range ext[1:] {
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9') {
			return ""
		}
	}
	return ext
}

// fetch streams the object at key into the file local and returns its
// size; report gets the bytes copied so far.
func (r *run) fetch(ctx context.Context, key, local string, report func(int64)) (int64, error) {
	rc, _, err := r.p.blobs.Open(ctx, key)
	if err != nil {
		if errors.Is(err, blob.ErrNotFound) {
			return 0, err
		}
		return 0, &storeError{op: "read", err: err}
	}
	defer rc.Close()
	f, err := os.OpenFile(local, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err != nil {
		return 0, fmt.Errorf("processing: %w", err)
	}
	n, err := io.Copy(f, &countingReader{r: rc, report: report})
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		if ctx.Err() != nil {
			return n, ctx.Err()
		}
		return n, &storeError{op: "read", err: err}
	}
	return n, nil
}

type countingReader struct {
	r      io.Reader
	n      int64
	report func(int64)
	last   time.Time
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if now := time.Now(); now.Sub(c.last) > 200*time.Millisecond || err != nil {
		c.last = now
		c.report(c.n)
	}
	return n, err
}

// stillWanted returns catalog.ErrNotFound when the item was deleted and
// errSuperseded when a newer job took over.
func (r *run) stillWanted(ctx context.Context) error {
	if err := r.p.exists(ctx, r.item); err != nil {
		return err
	}
	current, err := r.p.isCurrent(ctx, r.item, r.job.ID)
	if err != nil {
		return err
	}
	if !current {
		return errSuperseded
	}
	return nil
}

// exists returns nil when the item exists and catalog.ErrNotFound when
// not, asking the object store (the index of this node may lag behind
// another node's change).
func (p *Processor) exists(ctx context.Context, id string) error {
	_, err := p.cat.SetFiles(ctx, id, func(*catalog.Media) error { return errPeek })
	if errors.Is(err, errPeek) {
		return nil
	}
	return err
}

// upload streams the files in dir to the run's prefix: everything but the
// playlists first, then the media playlists, the master playlist last, so
// that a playlist in the store has everything it refers to.
func (r *run) upload(ctx context.Context, dir string, res transcode.Result) error {
	var first, playlists, last []transcode.File
	var total int64
	for _, f := range res.Files {
		total += f.Size
		switch {
		case f.Path == res.Master:
			last = append(last, f)
		case strings.HasSuffix(f.Path, ".m3u8"):
			playlists = append(playlists, f)
		default:
			first = append(first, f)
		}
	}
	var sent atomic.Int64
	report := func(n int64) {
		r.progress(progressTranscoded + (progressStored-progressTranscoded)*float64(sent.Add(n))/float64(max(total, 1)))
	}
	lastCheck := time.Now()
	for _, batch := range [][]transcode.File{first, playlists, last} {
		if time.Since(lastCheck) > 5*time.Second {
			// A long upload: stop early if the item went away.
			if err := r.stillWanted(ctx); err != nil {
				return err
			}
			lastCheck = time.Now()
		}
		if err := r.uploadBatch(ctx, dir, batch, report); err != nil {
			return err
		}
	}
	return nil
}

// uploadBatch uploads files, a few at a time, and stops at the first
// error.
func (r *run) uploadBatch(ctx context.Context, dir string, files []transcode.File, report func(int64)) error {
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	work := make(chan transcode.File)
	var wg sync.WaitGroup
	for range min(r.p.opt.UploadParallelism, max(len(files), 1)) {
		wg.Go(func() {
			for f := range work {
				if err := r.put(ctx, dir, f); err != nil {
					cancel(err)
					continue
				}
				report(f.Size)
			}
		})
	}
feed:
	for _, f := range files {
		select {
		case work <- f:
		case <-ctx.Done():
			break feed
		}
	}
	close(work)
	wg.Wait()
	// The first failure, or why the run's context ended.
	return context.Cause(ctx)
}

func (r *run) put(ctx context.Context, dir string, f transcode.File) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	file, err := os.Open(filepath.Join(dir, filepath.FromSlash(f.Path)))
	if err != nil {
		return fmt.Errorf("processing: %w", err)
	}
	defer file.Close()
	if _, err := r.p.blobs.Put(ctx, r.prefix+f.Path, file, f.Size, f.ContentType); err != nil {
		if ctx.Err() != nil {
			return ctx.Err()
		}
		return &storeError{op: "write", err: err}
	}
	return nil
}

// commit replaces the item's outputs by this run's, all complete, in one
// catalog write.
func (r *run) commit(ctx context.Context, mainLang string, res transcode.Result) error {
	p := r.p
	_, err := p.cat.SetFiles(ctx, r.item, func(m *catalog.Media) error {
		current, err := p.isCurrent(ctx, r.item, r.job.ID)
		if err != nil {
			return err
		}
		if !current {
			return errSuperseded
		}
		m.Versions = r.versions(m.Versions, mainLang, res)
		m.Subtitles = r.subtitles(m.Subtitles, res)
		m.Duration = res.Duration.Truncate(time.Millisecond)
		uploaded := m.Poster != "" && strings.HasPrefix(m.Poster, catalog.Prefix(r.item)+sourceDir)
		switch {
		case uploaded:
		case res.Poster != "":
			m.Poster = r.prefix + res.Poster
		default:
			m.Poster = ""
		}
		return nil
	})
	return err
}

// subtitles returns the item's subtitles with those extracted from the
// source replaced by this run's: uploaded files stay (the run used them,
// or one was uploaded since, which queued a newer job), and a language
// without one gets the subtitles the run extracted, if any.
func (r *run) subtitles(old map[string]string, res transcode.Result) map[string]string {
	out := map[string]string{}
	for l, key := range old {
		if !r.isOutput(key) {
			out[l] = key
		}
	}
	byPath := map[string]bool{}
	for _, f := range res.Files {
		byPath[f.Path] = true
	}
	for _, s := range res.Subtitles {
		if !s.Embedded || !catalog.ValidLanguage(s.Language) || !byPath[s.File] {
			continue
		}
		if _, uploaded := out[s.Language]; !uploaded {
			out[s.Language] = r.prefix + s.File
		}
	}
	if len(out) == 0 {
		return nil
	}
	return out
}

// isOutput reports whether key is an output of a run (of any job) of the
// item, not an upload.
func (r *run) isOutput(key string) bool {
	return strings.HasPrefix(key, catalog.Prefix(r.item)+outDir)
}

// versions returns the item's versions with their sources kept and their
// outputs replaced by res.
func (r *run) versions(old map[string]catalog.Version, mainLang string, res transcode.Result) map[string]catalog.Version {
	out := map[string]catalog.Version{}
	for l, v := range old {
		for _, f := range v.Files {
			if f.Role == catalog.RoleSource {
				nv := out[l]
				nv.Files = append(nv.Files, f)
				out[l] = nv
			}
		}
	}
	byPath := map[string]transcode.File{}
	for _, f := range res.Files {
		byPath[f.Path] = f
	}
	seen := map[string]map[string]bool{}
	add := func(lang, rel, role string) {
		f, ok := byPath[rel]
		if !ok {
			return
		}
		if seen[lang] == nil {
			seen[lang] = map[string]bool{}
		}
		key := r.prefix + rel
		if seen[lang][key] {
			return
		}
		seen[lang][key] = true
		v := out[lang]
		v.Files = append(v.Files, catalog.File{Key: key, Role: role, ContentType: f.ContentType, Size: f.Size, Complete: true})
		out[lang] = v
	}
	shared := func(lang string) {
		add(lang, res.Master, catalog.RoleMaster)
		for _, f := range res.Files {
			if f.Role == transcode.RoleVideoPlaylist {
				add(lang, f.Path, catalog.RoleRendition)
			}
		}
	}
	langs := res.AudioLanguages
	if len(langs) == 0 {
		langs = []string{""} // pictures without sound
	}
	for _, al := range langs {
		lang := versionLanguage(al, mainLang)
		shared(lang)
		dirKey := "und"
		if al != "" {
			dirKey = strings.ToLower(al)
		}
		for _, f := range res.Files {
			if f.Role == transcode.RoleAudioPlaylist && strings.HasPrefix(f.Path, "audio/"+dirKey+"-") {
				add(lang, f.Path, catalog.RoleAudio)
			}
		}
		for _, d := range res.Downloads {
			if d.Language == al {
				add(lang, d.Path, catalog.RoleDownload)
			}
		}
	}
	return out
}

// versionLanguage is the catalog version of a sound in language tag: its
// base language if the catalog has it, else the main version.
func versionLanguage(tag, mainLang string) string {
	base, _, _ := strings.Cut(strings.ToLower(tag), "-")
	if catalog.ValidLanguage(base) {
		return base
	}
	return mainLang
}

// removeOwn deletes what the run uploaded.
func (r *run) removeOwn(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	r.p.removePrefix(ctx, r.prefix)
}

// removeOlderRuns deletes the outputs of the item's earlier runs (this
// one's are listed now); those of newer jobs are theirs.
func (r *run) removeOlderRuns(ctx context.Context) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), cleanupTimeout)
	defer cancel()
	base := catalog.Prefix(r.item) + outDir
	infos, err := r.p.blobs.List(ctx, base)
	if err != nil {
		r.p.log.Warn("processing: cannot list earlier outputs", "item", r.item, "err", err)
		return
	}
	mine := strings.TrimSuffix(strings.TrimPrefix(r.prefix, base), "/")
	for _, in := range infos {
		runName, _, _ := strings.Cut(strings.TrimPrefix(in.Key, base), "/")
		jobID, _, _ := strings.Cut(runName, "-")
		if runName == mine || jobID > r.job.ID {
			continue
		}
		if err := r.p.blobs.Delete(ctx, in.Key); err != nil {
			r.p.log.Warn("processing: cannot delete an earlier output", "key", in.Key, "err", err)
		}
	}
}

// removePrefix deletes every object under prefix.
func (p *Processor) removePrefix(ctx context.Context, prefix string) {
	infos, err := p.blobs.List(ctx, prefix)
	if err != nil {
		p.log.Warn("processing: cannot list outputs to remove", "prefix", prefix, "err", err)
		return
	}
	for _, in := range infos {
		if err := p.blobs.Delete(ctx, in.Key); err != nil {
			p.log.Warn("processing: cannot remove an output", "key", in.Key, "err", err)
		}
	}
}
