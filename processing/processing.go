package processing

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"path"
	"slices"
	"strings"
	"time"

	"portalo/catalog"
	"portalo/jobs"
	"portalo/store/blob"
	"portalo/store/kv"
)

// Kind is the kind of the jobs this package enqueues and handles.
const Kind = "mediathek-process"

const (
	// statePrefix + item ID holds the item's itemState.
	statePrefix = "processing:item:"
	// stateTTL keeps an item's state a little longer than its job.
	stateTTL = jobs.DefaultRetention + 24*time.Hour
	// sourceDir holds an item's uploads (as the web upload names them:
	// source/original.mp4, source/original-tr.m4a,
	// source/subtitles-de.vtt, source/poster.jpg).
	sourceDir = "source/"
	// outDir holds the runs' outputs: out/JOBID-ATTEMPT/...
	outDir = "out/"
)

var (
	// ErrInvalidSource is returned by Start and OnUpload for a key that is
	// not an object of the item, a role they do not know, or a language
	// the catalog does not have.
	ErrInvalidSource = errors.New("processing: invalid source")
	// ErrSourceMissing is returned by Start and OnUpload when the object
	// is not in the store.
	ErrSourceMissing = errors.New("processing: the uploaded file is not in the object store")
	// ErrNoSource is returned by Retry for an item without a source.
	ErrNoSource = errors.New("processing: the item has no uploaded source to process")
)

// Options tune a Processor. Zero values take the defaults.
type Options struct {
	// TempDir is where each run makes its temporary directory
	// (os.TempDir()). It needs room for a source and its outputs, on disk:
	// on a tmpfs /tmp a large upload would sit in memory.
	TempDir string
	// Threads is the number of threads of each encoder (transcode's
	// default, 2).
	Threads int
	// NormalPriority runs ffmpeg at portalo's CPU priority instead of a
	// lower one (for nodes that only transcode).
	NormalPriority bool
	// UploadParallelism is the number of files uploaded at once (4).
	UploadParallelism int
	// Logger receives what runs do and why they fail (discarded when nil).
	Logger *slog.Logger
}

// Processor turns uploads into streamable files. It is safe for
// concurrent use.
type Processor struct {
	cat   *catalog.Catalog
	blobs blob.Store
	state kv.Store
	queue *jobs.Queue
	opt   Options
	log   *slog.Logger
}

// New returns a Processor on the catalog, the object store the catalog
// uses, the kv.Store and the job queue. It does nothing until a worker
// runs its Handlers.
func New(cat *catalog.Catalog, blobs blob.Store, state kv.Store, queue *jobs.Queue, opt Options) (*Processor, error) {
	if cat == nil || blobs == nil || state == nil || queue == nil {
		return nil, errors.New("processing: New needs a catalog, a blob.Store, a kv.Store and a job queue")
	}
	if opt.UploadParallelism <= 0 {
		opt.UploadParallelism = 4
	}
	p := &Processor{cat: cat, blobs: blobs, state: state, queue: queue, opt: opt, log: opt.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	return p, nil
}

// Handlers are the job handlers a jobs.Worker needs to run the processing
// jobs: pass them to Queue.NewWorker (with other kinds' handlers, if any).
func (p *Processor) Handlers() map[string]jobs.Handler {
	return map[string]jobs.Handler{Kind: p.handle}
}

// payload names a job's work.
type payload struct {
	Item   string `json:"item"`
	Source string `json:"source"` // the main source's key
}

// itemState is what the kv.Store keeps per item: its latest job and that
// job's main source.
type itemState struct {
	Job    string `json:"job"`
	Source string `json:"source"`
}

func (p *Processor) readState(ctx context.Context, id string) (itemState, bool, error) {
	b, err := p.state.Get(ctx, statePrefix+id)
	if errors.Is(err, kv.ErrNotFound) {
		return itemState{}, false, nil
	}
	if err != nil {
		return itemState{}, false, fmt.Errorf("processing: reading the state of %s: %w", id, err)
	}
	var st itemState
	if err := json.Unmarshal(b, &st); err != nil {
		return itemState{}, false, nil // unreadable: as if there were none
	}
	return st, true, nil
}

// setState records st unless the item's state names a newer job already.
func (p *Processor) setState(ctx context.Context, id string, st itemState) error {
	next, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("processing: %w", err)
	}
	err = p.state.Update(ctx, statePrefix+id, func(cur []byte, found bool) ([]byte, time.Duration, error) {
		var old itemState
		if found && json.Unmarshal(cur, &old) == nil && old.Job > st.Job {
			return cur, stateTTL, nil
		}
		return next, stateTTL, nil
	})
	if err != nil {
		return fmt.Errorf("processing: recording the job of %s: %w", id, err)
	}
	return nil
}

// isCurrent reports whether job is the item's latest (job IDs are
// time-ordered): a run of an older job lists nothing.
func (p *Processor) isCurrent(ctx context.Context, id, job string) (bool, error) {
	st, found, err := p.readState(ctx, id)
	if err != nil || !found {
		return err == nil, err
	}
	return st.Job <= job, nil
}

// Start processes the source at sourceKey (an object under the item's
// prefix, fully uploaded) as the item's main source: it lists it in the
// catalog (in its version if it is listed already, else in the version of
// the current main source's language, else of the item's first title
// language, replacing the source that version had), sets the item to processing (unless it is published) and
// enqueues the job, which supersedes an earlier job of the item. A
// document's source is only listed: it is offered as it is.
func (p *Processor) Start(ctx context.Context, itemID, sourceKey string) error {
	return p.start(ctx, itemID, sourceKey, "")
}

func (p *Processor) start(ctx context.Context, itemID, sourceKey, lang string) error {
	info, err := p.statUpload(ctx, itemID, sourceKey)
	if err != nil {
		return err
	}
	it, err := p.cat.Get(itemID)
	if err != nil {
		return err
	}
	if lang == "" {
		if listed, ok := sourceLanguage(it, sourceKey); ok {
			lang = listed // a source listed already stays in its version
		} else {
			lang = p.mainLanguage(ctx, it)
		}
	}
	it, err = p.listSource(ctx, itemID, lang, info)
	if err != nil {
		return err
	}
	if it.Kind == catalog.KindDocument {
		return nil
	}
	return p.enqueue(ctx, it, sourceKey)
}

// OnUpload is the upload's completion hook (web.UploadHooks.OnComplete):
// role says what the file at key is, as the web upload names it:
//
//	source        the main source: Start
//	source-LANG   a language version: the main source when the item has
//	              none (or it is in LANG), else a further sound file,
//	              listed in the version LANG, and the item is processed
//	              again
//	subtitle-LANG WebVTT subtitles: listed in Subtitles, and the item is
//	              processed again (when it has a source)
//	poster        the poster image: listed, kept by processing
//	chapters      an episode's chapters file (Podcasting 2.0 JSON
//	              chapters): listed as the item's Chapters, not processed
func (p *Processor) OnUpload(ctx context.Context, itemID, role, key string) error {
	kind, lang, _ := strings.Cut(role, "-")
	if lang != "" && !catalog.ValidLanguage(lang) {
		return fmt.Errorf("%w: unknown language in role %q", ErrInvalidSource, role)
	}
	switch {
	case kind == "source" && lang == "":
		return p.Start(ctx, itemID, key)
	case kind == "source":
		info, err := p.statUpload(ctx, itemID, key)
		if err != nil {
			return err
		}
		it, err := p.cat.Get(itemID)
		if err != nil {
			return err
		}
		main, mainLang := p.mainSource(ctx, it)
		if main == "" || mainLang == lang {
			return p.start(ctx, itemID, key, lang)
		}
		if it, err = p.listSource(ctx, itemID, lang, info); err != nil {
			return err
		}
		if it.Kind == catalog.KindDocument {
			return nil
		}
		return p.enqueue(ctx, it, main)
	case kind == "subtitle" && lang != "":
		if _, err := p.statUpload(ctx, itemID, key); err != nil {
			return err
		}
		var replaced string
		it, err := p.cat.SetFiles(ctx, itemID, func(m *catalog.Media) error {
			replaced = ""
			// An extracted subtitle (under out/) is still what the live
			// playlists refer to: the next run's clean-up removes it.
			if old := m.Subtitles[lang]; old != key && strings.HasPrefix(old, catalog.Prefix(itemID)+sourceDir) {
				replaced = old
			}
			if m.Subtitles == nil {
				m.Subtitles = map[string]string{}
			}
			m.Subtitles[lang] = key
			return nil
		})
		if err != nil {
			return err
		}
		p.deleteUnlisted(ctx, it, replaced)
		if main, _ := p.mainSource(ctx, it); main != "" && it.Kind != catalog.KindDocument {
			return p.enqueue(ctx, it, main)
		}
		return nil
	case kind == "poster" && lang == "":
		if _, err := p.statUpload(ctx, itemID, key); err != nil {
			return err
		}
		var replaced string
		it, err := p.cat.SetFiles(ctx, itemID, func(m *catalog.Media) error {
			replaced = ""
			if m.Poster != key && strings.HasPrefix(m.Poster, catalog.Prefix(itemID)+sourceDir) {
				replaced = m.Poster
			}
			m.Poster = key
			return nil
		})
		if err != nil {
			return err
		}
		p.deleteUnlisted(ctx, it, replaced)
		return nil
	case kind == "chapters" && lang == "":
		it, err := p.cat.Get(itemID)
		if err != nil {
			return err
		}
		if it.Kind != catalog.KindEpisode {
			return fmt.Errorf("%w: only a podcast episode has chapters", ErrInvalidSource)
		}
		if _, err := p.statUpload(ctx, itemID, key); err != nil {
			return err
		}
		var replaced string
		it, err = p.cat.SetFiles(ctx, itemID, func(m *catalog.Media) error {
			replaced = ""
			if m.Chapters != key {
				replaced = m.Chapters
			}
			m.Chapters = key
			return nil
		})
		if err != nil {
			return err
		}
		p.deleteUnlisted(ctx, it, replaced)
		return nil
	}
	return fmt.Errorf("%w: unknown role %q", ErrInvalidSource, role)
}

// statUpload checks that key is an object of the item and in the store.
func (p *Processor) statUpload(ctx context.Context, itemID, key string) (blob.Info, error) {
	prefix := catalog.Prefix(itemID)
	if !blob.ValidKey(key) || !strings.HasPrefix(key, prefix) || key == catalog.ManifestKey(itemID) ||
		strings.HasPrefix(key, prefix+outDir) || strings.HasPrefix(path.Base(key), ".") {
		return blob.Info{}, fmt.Errorf("%w: %q is not a file of item %s", ErrInvalidSource, key, itemID)
	}
	info, err := p.blobs.Stat(ctx, key)
	if errors.Is(err, blob.ErrNotFound) {
		return blob.Info{}, fmt.Errorf("%w: %s", ErrSourceMissing, key)
	}
	if err != nil {
		return blob.Info{}, fmt.Errorf("processing: %w", err)
	}
	return info, nil
}

// listSource makes the object info the source of the item's version lang,
// replacing (and deleting) the source that version had.
func (p *Processor) listSource(ctx context.Context, itemID, lang string, info blob.Info) (catalog.Item, error) {
	var replaced []string
	it, err := p.cat.SetFiles(ctx, itemID, func(m *catalog.Media) error {
		replaced = replaced[:0]
		if m.Versions == nil {
			m.Versions = map[string]catalog.Version{}
		}
		// The same file listed elsewhere moves to lang.
		for l, v := range m.Versions {
			v.Files = slices.DeleteFunc(slices.Clone(v.Files), func(f catalog.File) bool { return f.Key == info.Key })
			m.Versions[l] = v
		}
		v := m.Versions[lang]
		var files []catalog.File
		for _, f := range v.Files {
			if f.Role == catalog.RoleSource {
				replaced = append(replaced, f.Key)
				continue
			}
			files = append(files, f)
		}
		files = append(files, catalog.File{
			Key: info.Key, Role: catalog.RoleSource, ContentType: info.ContentType, Size: info.Size, Complete: true,
		})
		m.Versions[lang] = catalog.Version{Files: files}
		return nil
	})
	if err != nil {
		return catalog.Item{}, err
	}
	p.deleteUnlisted(ctx, it, replaced...)
	return it, nil
}

// deleteUnlisted removes uploads the item no longer lists (a replaced
// source, subtitle, poster or chapters file under another name).
func (p *Processor) deleteUnlisted(ctx context.Context, it catalog.Item, keys ...string) {
	listed := map[string]bool{it.Poster: true, it.Chapters: true}
	for _, k := range it.Subtitles {
		listed[k] = true
	}
	for _, f := range it.Files() {
		listed[f.Key] = true
	}
	for _, k := range keys {
		if k == "" || listed[k] || !strings.HasPrefix(k, it.Prefix()) {
			continue
		}
		if err := p.blobs.Delete(ctx, k); err != nil {
			p.log.Warn("processing: cannot delete a replaced upload", "item", it.ID, "key", k, "err", err)
		}
	}
}

// mainLanguage is the language of a new main source: that of the current
// main source, else the item's first title language.
func (p *Processor) mainLanguage(ctx context.Context, it catalog.Item) string {
	if _, lang := p.mainSource(ctx, it); lang != "" {
		return lang
	}
	_, lang := it.TitleIn("")
	if lang == "" {
		lang = catalog.Languages[0]
	}
	return lang
}

// mainSource returns the item's main source and its language: the source
// of its latest job if the item still lists it, else the source of the
// version in its first title language, else the first version's source;
// "" when it lists none.
func (p *Processor) mainSource(ctx context.Context, it catalog.Item) (string, string) {
	if st, found, err := p.readState(ctx, it.ID); err == nil && found {
		if lang, ok := sourceLanguage(it, st.Source); ok {
			return st.Source, lang
		}
	}
	_, titleLang := it.TitleIn("")
	langs := append([]string{titleLang}, catalog.Languages...)
	for _, l := range langs {
		if f, ok := it.Versions[l].File(catalog.RoleSource); ok {
			return f.Key, l
		}
	}
	return "", ""
}

// sourceLanguage returns the version that lists key as a source.
func sourceLanguage(it catalog.Item, key string) (string, bool) {
	for _, l := range catalog.Languages {
		for _, f := range it.Versions[l].Files {
			if f.Role == catalog.RoleSource && f.Key == key {
				return l, true
			}
		}
	}
	return "", false
}

// enqueue sets the item to processing, queues its job and makes it the
// item's latest, cancelling the one before.
func (p *Processor) enqueue(ctx context.Context, it catalog.Item, source string) error {
	if !it.IsPublished() {
		if _, err := p.cat.SetStatus(ctx, it.ID, catalog.StatusProcessing, ""); err != nil && !isPublishedErr(err) {
			return err
		}
	}
	data, err := json.Marshal(payload{Item: it.ID, Source: source})
	if err != nil {
		return fmt.Errorf("processing: %w", err)
	}
	prev, _, _ := p.readState(ctx, it.ID)
	job, err := p.queue.Enqueue(ctx, Kind, data)
	if err != nil {
		p.setFailed(ctx, it.ID, queueFailed())
		return fmt.Errorf("processing: queueing %s: %w", it.ID, err)
	}
	if err := p.setState(ctx, it.ID, itemState{Job: job, Source: source}); err != nil {
		return err
	}
	if prev.Job != "" && prev.Job != job {
		err := p.queue.Cancel(ctx, prev.Job)
		if err != nil && !errors.Is(err, jobs.ErrWrongState) && !errors.Is(err, jobs.ErrNotFound) {
			p.log.Warn("processing: cannot cancel the superseded job", "item", it.ID, "job", prev.Job, "err", err)
		}
	}
	p.log.Info("processing: queued", "item", it.ID, "job", job, "source", source)
	return nil
}

// setFailed sets the item to failed with the reason (its Detail) unless it
// is published.
func (p *Processor) setFailed(ctx context.Context, id string, reason Reason) {
	_, err := p.cat.SetStatus(ctx, id, catalog.StatusFailed, reason.Detail())
	if err != nil && !isPublishedErr(err) && !errors.Is(err, catalog.ErrNotFound) {
		p.log.Warn("processing: cannot set the item to failed", "item", id, "err", err)
	}
}

// isPublishedErr reports whether err is SetStatus refusing a published
// item.
func isPublishedErr(err error) bool {
	var ie *catalog.InputError
	return errors.As(err, &ie) && ie.Code == "item_published"
}

// Retry processes the item again: its latest job when that failed or was
// cancelled (the item is set to processing), nothing when that job is
// still queued or running, and otherwise (done, expired or never queued)
// a new job for its main source.
func (p *Processor) Retry(ctx context.Context, itemID string) error {
	it, err := p.cat.Get(itemID)
	if err != nil {
		return err
	}
	st, found, err := p.readState(ctx, itemID)
	if err != nil {
		return err
	}
	if found {
		j, err := p.queue.Get(ctx, st.Job)
		switch {
		case err == nil && (j.State == jobs.Queued || j.State == jobs.Running):
			return nil
		case err == nil && (j.State == jobs.Failed || j.State == jobs.Cancelled):
			if _, ok := sourceLanguage(it, st.Source); ok {
				if !it.IsPublished() {
					if _, err := p.cat.SetStatus(ctx, itemID, catalog.StatusProcessing, ""); err != nil && !isPublishedErr(err) {
						return err
					}
				}
				if err := p.queue.Retry(ctx, j.ID); err == nil || !errors.Is(err, jobs.ErrWrongState) {
					return err
				}
			}
		case err != nil && !errors.Is(err, jobs.ErrNotFound):
			return err
		}
	}
	main, lang := p.mainSource(ctx, it)
	if main == "" {
		return ErrNoSource
	}
	return p.start(ctx, itemID, main, lang)
}

// Progress tells how far the item's processing is (the fraction done of
// its latest job); ok is false when no job of the item is queued or
// running. It implements web.MediaProgress.
func (p *Processor) Progress(ctx context.Context, itemID string) (fraction float64, ok bool) {
	j, found, err := p.LatestJob(ctx, itemID)
	if err != nil || !found || (j.State != jobs.Queued && j.State != jobs.Running) {
		return 0, false
	}
	return j.Progress, true
}

// LatestJob returns the item's latest processing job (with its state,
// progress and, when it failed, the reason); found is false when the item
// has none (or it expired).
func (p *Processor) LatestJob(ctx context.Context, itemID string) (jobs.Job, bool, error) {
	st, found, err := p.readState(ctx, itemID)
	if err != nil || !found {
		return jobs.Job{}, false, err
	}
	j, err := p.queue.Get(ctx, st.Job)
	if errors.Is(err, jobs.ErrNotFound) {
		return jobs.Job{}, false, nil
	}
	if err != nil {
		return jobs.Job{}, false, err
	}
	return j, true, nil
}
