package web

// Serving the mediathek's files at /media/ITEMID/PATH: the access check on
// every request, the set of files an item may serve, and the HTTP details
// (Range, HEAD, ETag, Last-Modified, Cache-Control, Content-Type).

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"net/url"
	"path"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/catalog"
	"portalo/store/blob"
)

const (
	// mediaFileCacheSize bounds the file sets kept (one per item and kind
	// of viewer); an hour-long video lists a few thousand segments.
	mediaFileCacheSize = 128
	// maxPlaylistSize bounds what is read as a playlist.
	maxPlaylistSize = 1 << 20
	// maxPlaylists bounds the playlists followed for one item.
	maxPlaylists = 256
	// fileSetTimeout bounds the reading of an item's playlists.
	fileSetTimeout = 20 * time.Second
)

// mediaTypes are the Content-Types of the files the mediathek serves, by
// extension. Anything else is served as a download of octet-stream, so
// that no file of an item is ever taken for a page of this site.
var mediaTypes = map[string]string{
	".m3u8": "application/vnd.apple.mpegurl",
	".ts":   "video/mp2t",
	".m4s":  "video/mp4",
	".mp4":  "video/mp4",
	".m4v":  "video/mp4",
	".webm": "video/webm",
	".m4a":  "audio/mp4",
	".aac":  "audio/aac",
	".mp3":  "audio/mpeg",
	".ogg":  "audio/ogg",
	".opus": "audio/ogg",
	".vtt":  "text/vtt; charset=utf-8",
	".jpg":  "image/jpeg",
	".jpeg": "image/jpeg",
	".png":  "image/png",
	".webp": "image/webp",
	".pdf":  "application/pdf",
	".json": "application/json+chapters",
	".zip":  "application/zip",
	".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	".xlsx": "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	".pptx": "application/vnd.openxmlformats-officedocument.presentationml.presentation",
	".odt":  "application/vnd.oasis.opendocument.text",
	".ods":  "application/vnd.oasis.opendocument.spreadsheet",
	".odp":  "application/vnd.oasis.opendocument.presentation",
}

func mediaContentType(key string) string {
	if t, ok := mediaTypes[strings.ToLower(path.Ext(key))]; ok {
		return t
	}
	return "application/octet-stream"
}

func isPlaylist(key string) bool { return strings.EqualFold(path.Ext(key), ".m3u8") }

// redirectable reports whether DeliveryRedirect sends a file to the
// bucket: the large ones (segments, whole media files).
func redirectable(key string) bool {
	switch strings.ToLower(path.Ext(key)) {
	case ".ts", ".m4s", ".mp4", ".m4v", ".webm", ".m4a", ".aac", ".mp3", ".ogg", ".opus":
		return true
	}
	return false
}

// mediaCacheControl says how long a file may be kept: playlists briefly,
// everything else (segments, posters, subtitles, downloads: they never
// change under the same key) for a year. Files of items that are not
// public and published are for the browser only.
func mediaCacheControl(it catalog.Item, key string) string {
	scope := "public"
	if it.Audience != catalog.AudiencePublic || !it.IsPublished() {
		scope = "private"
	}
	if isPlaylist(key) {
		return scope + ", max-age=5"
	}
	return scope + ", max-age=31536000, immutable"
}

// serveFile serves a file of an item to whoever may see the item (else
// 404, also for items that exist): only the files the item's manifest
// lists, those its listed playlists refer to, its poster and subtitles.
// ?download=1 asks for it as an attachment.
func (m *mediathek) serveFile(c *gin.Context) {
	ctx := c.Request.Context()
	v := mediaViewer(account(c))
	it, err := m.cat.Get(c.Param("id"))
	if err != nil || !it.VisibleTo(v) {
		m.fail(c, catalog.ErrNotFound)
		return
	}
	rel := strings.TrimPrefix(c.Param("file"), "/")
	key := it.Prefix() + rel
	if rel == "" || !blob.ValidKey(key) {
		m.fail(c, catalog.ErrNotFound)
		return
	}
	files, err := m.fileSet(ctx, it, v.Editor)
	if err != nil {
		m.fail(c, err)
		return
	}
	if !files.allowed[key] {
		m.fail(c, catalog.ErrNotFound)
		return
	}
	download := c.Query("download") != ""
	h := c.Writer.Header()
	if m.presign != nil && c.Request.Method == http.MethodGet && !download && redirectable(key) {
		u, err := m.presign.PresignGet(ctx, key, presignExpiry)
		if err != nil {
			m.fail(c, err)
			return
		}
		// Every request comes back here for the access check.
		h.Set("Cache-Control", "no-store")
		c.Redirect(http.StatusFound, u)
		return
	}
	var name string
	if download || mediaContentType(key) == "application/octet-stream" {
		// "download/video-de.mp4" of "breathing" → "breathing-de.mp4"
		base := strings.TrimSuffix(path.Base(key), path.Ext(key))
		name = it.Slug
		if i := strings.LastIndexByte(base, '-'); i >= 0 && catalog.ValidLanguage(base[i+1:]) {
			name += "-" + base[i+1:]
		}
		name += strings.ToLower(path.Ext(key))
	}
	_, err = m.s.files.serveObject(c, key, objectResponse{CacheControl: mediaCacheControl(it, key), Filename: name})
	if errors.Is(err, blob.ErrNotFound) {
		m.fail(c, catalog.ErrNotFound)
		return
	}
	if err != nil {
		m.fail(c, err)
	}
}

// objectResponse says how serveObject answers with an object.
type objectResponse struct {
	// CacheControl is the Cache-Control header.
	CacheControl string
	// ContentType overrides the type mediaContentType gives by extension.
	ContentType string
	// Filename, when set, serves the object as an attachment of that name.
	Filename string
}

// servedObject is what serveObject answered: the status, the object's
// size and the bytes of it the body holds (for 200 and 206).
type servedObject struct {
	Status         int
	Size           int64
	Offset, Length int64
}

// objectServer serves objects of the store to callers that have checked
// access: the mediathek's /media/ and the podcasts' files. Small files of
// processing runs come from the media cache (nil: off), the rest is
// streamed from the store.
type objectServer struct {
	objects blob.Store
	bufs    *sync.Pool
	cache   *mediaCache
}

// serveObject serves the object key to a caller that has decided the
// request may have it: Range (206, 416), HEAD, ETag, If-None-Match,
// If-Range, If-Modified-Since, Content-Type, Cache-Control and, with a
// file name, Content-Disposition attachment. An error (blob.ErrNotFound
// or the store's) comes before anything is written: the caller answers
// it.
func (o *objectServer) serveObject(c *gin.Context, key string, resp objectResponse) (servedObject, error) {
	ctx := c.Request.Context()
	var (
		r      io.ReadSeekCloser
		info   blob.Info
		err    error
		ranged bool
	)
	if o.cache != nil && immutableMedia(key) {
		f, err := o.cache.get(ctx, o.objects, key)
		if err != nil {
			return servedObject{}, err
		}
		if f.data != nil {
			r, info, ranged = nopSeekCloser{bytes.NewReader(f.data)}, f.info, true
		}
	}
	if rr, ok := o.objects.(rangeReader); ok && !ranged {
		var obj *rangedObject
		obj, info, ranged, err = openRanged(ctx, rr, c.Request, key)
		if err != nil {
			return servedObject{}, err
		}
		if ranged {
			r = obj
		}
	}
	if !ranged {
		r, info, err = o.objects.Open(ctx, key)
	}
	if err != nil {
		return servedObject{}, err
	}
	defer r.Close()
	h := c.Writer.Header()
	ctype := resp.ContentType
	if ctype == "" {
		ctype = mediaContentType(key)
	}
	h.Set("Content-Type", ctype)
	if resp.CacheControl != "" {
		h.Set("Cache-Control", resp.CacheControl)
	}
	if info.ETag != "" {
		h.Set("ETag", `"`+info.ETag+`"`)
	}
	if resp.Filename != "" {
		h.Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": resp.Filename}))
	}
	// ServeContent answers Range (206, 416), HEAD, If-None-Match,
	// If-Range and If-Modified-Since, and streams the object without
	// holding it in memory.
	http.ServeContent(bigCopyWriter{c.Writer, o.bufs}, c.Request, "", info.Modified, r)
	out := servedObject{Status: c.Writer.Status(), Size: info.Size}
	switch out.Status {
	case http.StatusOK:
		out.Length = info.Size
	case http.StatusPartialContent:
		out.Offset, out.Length = servedRange(h.Get("Content-Range"))
	}
	return out, nil
}

// nopSeekCloser is a cached file as the ReadSeekCloser ServeContent takes.
type nopSeekCloser struct{ *bytes.Reader }

func (nopSeekCloser) Close() error { return nil }

// servedRange reads the first and the number of bytes of a single range
// from a Content-Range header ("bytes 0-1/1234"); 0, 0 for anything else.
func servedRange(v string) (int64, int64) {
	spec, ok := strings.CutPrefix(v, "bytes ")
	if !ok {
		return 0, 0
	}
	spec, _, _ = strings.Cut(spec, "/")
	a, b, ok := strings.Cut(spec, "-")
	if !ok {
		return 0, 0
	}
	first, err1 := strconv.ParseInt(a, 10, 64)
	last, err2 := strconv.ParseInt(b, 10, 64)
	if err1 != nil || err2 != nil || last < first {
		return 0, 0
	}
	return first, last - first + 1
}

// Which files an item serves.

// mediaFiles is what an item serves to one kind of viewer.
type mediaFiles struct {
	// allowed are the object keys that may be served.
	allowed map[string]bool
	// masters describe the item's master playlists, by key.
	masters map[string]hlsMaster
}

// hlsMaster is what the item page needs to know of a master playlist.
type hlsMaster struct {
	audio, subtitles []hlsRendition
}

type hlsRendition struct{ lang, name string }

// fileSet returns the files the item serves to editors (editor) or to
// everyone else: the files of its versions (for others only of complete
// versions, and never the uploaded source), everything their playlists
// refer to, its poster and its subtitles.
func (m *mediathek) fileSet(ctx context.Context, it catalog.Item, editor bool) (*mediaFiles, error) {
	return m.files.get(ctx, it, editor, func(ctx context.Context) (*mediaFiles, error) {
		return m.collectFiles(ctx, it, editor)
	})
}

func (m *mediathek) collectFiles(ctx context.Context, it catalog.Item, editor bool) (*mediaFiles, error) {
	f := &mediaFiles{allowed: map[string]bool{}, masters: map[string]hlsMaster{}}
	var playlists []string
	add := func(key string) {
		if key == "" || f.allowed[key] || !blob.ValidKey(key) || !strings.HasPrefix(key, it.Prefix()) ||
			key == catalog.ManifestKey(it.ID) || strings.HasPrefix(path.Base(key), ".") {
			return
		}
		f.allowed[key] = true
		if isPlaylist(key) {
			playlists = append(playlists, key)
		}
	}
	for _, lang := range catalog.Languages {
		v, ok := it.Versions[lang]
		if !ok || !editor && !v.Complete() {
			continue
		}
		for _, file := range v.Files {
			if file.Role == catalog.RoleSource && !editor && it.Kind != catalog.KindDocument {
				continue
			}
			add(file.Key)
		}
	}
	add(it.Poster)
	add(it.Chapters)
	for _, lang := range catalog.Languages {
		add(it.Subtitles[lang])
	}
	for i := 0; i < len(playlists) && i < maxPlaylists; i++ {
		pl, err := m.readPlaylist(ctx, playlists[i])
		if errors.Is(err, blob.ErrNotFound) || errors.Is(err, errBadPlaylist) {
			continue // not served anyway, or served but leading nowhere
		}
		if err != nil {
			return nil, err
		}
		for _, ref := range pl.refs {
			add(ref)
		}
		if len(pl.master.audio) > 0 || len(pl.master.subtitles) > 0 || pl.isMaster {
			f.masters[playlists[i]] = pl.master
		}
	}
	return f, nil
}

var errBadPlaylist = errors.New("web: not a playlist")

type playlist struct {
	refs     []string // object keys it refers to
	isMaster bool
	master   hlsMaster
}

var uriAttr = regexp.MustCompile(`URI="([^"]*)"`)

// readPlaylist reads the HLS playlist at key and resolves what it refers
// to against its place; references to other sites or outside the store
// are left out.
func (m *mediathek) readPlaylist(ctx context.Context, key string) (playlist, error) {
	r, _, err := m.objects.Open(ctx, key)
	if err != nil {
		return playlist{}, err
	}
	defer r.Close()
	data, err := io.ReadAll(io.LimitReader(r, maxPlaylistSize+1))
	if err != nil {
		return playlist{}, fmt.Errorf("web: reading playlist %s: %w", key, err)
	}
	if len(data) > maxPlaylistSize || !bytes.HasPrefix(bytes.TrimPrefix(data, []byte("\ufeff")), []byte("#EXTM3U")) {
		return playlist{}, errBadPlaylist
	}
	return parsePlaylist(key, data), nil
}

func parsePlaylist(key string, data []byte) playlist {
	var pl playlist
	dir := path.Dir(key)
	resolve := func(uri string) {
		if i := strings.IndexAny(uri, "?#"); i >= 0 {
			uri = uri[:i]
		}
		if uri == "" || strings.Contains(uri, ":") || strings.HasPrefix(uri, "/") {
			return // another site, data:, or an absolute path
		}
		u, err := url.PathUnescape(uri)
		if err != nil {
			return
		}
		if ref := path.Join(dir, u); blob.ValidKey(ref) {
			pl.refs = append(pl.refs, ref)
		}
	}
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 64<<10), maxPlaylistSize)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
		case strings.HasPrefix(line, "#"):
			for _, m := range uriAttr.FindAllStringSubmatch(line, -1) {
				resolve(m[1])
			}
			if strings.HasPrefix(line, "#EXT-X-STREAM-INF:") {
				pl.isMaster = true
			}
			if media, ok := strings.CutPrefix(line, "#EXT-X-MEDIA:"); ok {
				pl.isMaster = true
				attrs := hlsAttributes(media)
				r := hlsRendition{lang: attrs["LANGUAGE"], name: attrs["NAME"]}
				switch attrs["TYPE"] {
				case "AUDIO":
					if !hasRendition(pl.master.audio, r.lang) {
						pl.master.audio = append(pl.master.audio, r)
					}
				case "SUBTITLES":
					if !hasRendition(pl.master.subtitles, r.lang) {
						pl.master.subtitles = append(pl.master.subtitles, r)
					}
				}
			}
		default:
			resolve(line)
		}
	}
	return pl
}

func hasRendition(rs []hlsRendition, lang string) bool {
	for _, r := range rs {
		if r.lang == lang {
			return true
		}
	}
	return false
}

// hlsAttributes reads an HLS attribute list (NAME=VALUE,NAME="VALUE",...).
func hlsAttributes(s string) map[string]string {
	out := map[string]string{}
	for s != "" {
		name, rest, ok := strings.Cut(s, "=")
		if !ok {
			break
		}
		var val string
		if strings.HasPrefix(rest, `"`) {
			end := strings.IndexByte(rest[1:], '"')
			if end < 0 {
				break
			}
			val, rest = rest[1:end+1], rest[end+2:]
		} else {
			val, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
		}
		out[strings.TrimSpace(name)] = val
		s = strings.TrimPrefix(rest, ",")
	}
	return out
}

// mediaFileCache keeps the file sets of recently served items, so that a
// segment request reads no playlist. An entry is valid for one revision of
// its item (every change of the item makes a new one). Concurrent requests
// for an item that is not cached wait for one computation.
type mediaFileCache struct {
	max     int
	mu      sync.Mutex
	entries map[string]*fileSetEntry
}

type fileSetEntry struct {
	revision int
	updated  time.Time
	done     chan struct{}
	files    *mediaFiles
	err      error
}

func newMediaFileCache(max int) *mediaFileCache {
	return &mediaFileCache{max: max, entries: map[string]*fileSetEntry{}}
}

func (fc *mediaFileCache) get(ctx context.Context, it catalog.Item, editor bool, compute func(context.Context) (*mediaFiles, error)) (*mediaFiles, error) {
	k := it.ID
	if editor {
		k += "/editor"
	}
	fc.mu.Lock()
	e := fc.entries[k]
	if e == nil || e.revision != it.Revision || !e.updated.Equal(it.Updated) {
		if e == nil && len(fc.entries) >= fc.max {
			for old := range fc.entries { // any one
				delete(fc.entries, old)
				break
			}
		}
		e = &fileSetEntry{revision: it.Revision, updated: it.Updated, done: make(chan struct{})}
		fc.entries[k] = e
		fc.mu.Unlock()
		// The computation serves every waiting request: it must not end
		// with the request that started it.
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), fileSetTimeout)
		e.files, e.err = compute(cctx)
		cancel()
		close(e.done)
		if e.err != nil {
			fc.mu.Lock()
			if fc.entries[k] == e {
				delete(fc.entries, k)
			}
			fc.mu.Unlock()
		}
		return e.files, e.err
	}
	fc.mu.Unlock()
	select {
	case <-e.done:
		return e.files, e.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}
