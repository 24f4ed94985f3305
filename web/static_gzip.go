package web

// Static assets in gzip: the scripts and style sheets (hls.js alone is
// 600 KB) are compressed once, on their first request, and sent compressed
// to every browser that accepts gzip, which is nearly all; a slow phone
// link then loads a quarter of the bytes.

import (
	"bytes"
	"compress/gzip"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"path"
	"strconv"
	"strings"
	"sync"
	"time"
)

// gzipTypes are the extensions of static files worth compressing.
var gzipTypes = map[string]bool{".js": true, ".css": true, ".svg": true, ".json": true, ".txt": true, ".map": true}

// gzipMinSize is the size below which a file is sent as it is.
const gzipMinSize = 1 << 10

// staticGzip holds the gzip form of the compressible static files, by
// name under static/, each made on its first request (at start-up it
// would slow every test that builds a server); a file being compressed
// holds up only the requests for that file.
type staticGzip struct {
	files fs.FS
	mu    sync.Mutex
	gz    map[string]*gzipped
}

// gzipped is one file's gzip form, made once; data is nil when it is not
// worth it.
type gzipped struct {
	once sync.Once
	data []byte
	err  error
}

func newStaticGzip(files fs.FS) *staticGzip {
	return &staticGzip{files: files, gz: map[string]*gzipped{}}
}

// get returns the gzip form of name, or nil when it has none.
func (g *staticGzip) get(name string) ([]byte, error) {
	if !gzipTypes[path.Ext(name)] {
		return nil, nil
	}
	g.mu.Lock()
	e, ok := g.gz[name]
	if !ok {
		e = &gzipped{}
		g.gz[name] = e
	}
	g.mu.Unlock()
	e.once.Do(func() { e.data, e.err = compressFile(g.files, name) })
	return e.data, e.err
}

// compressFile returns the gzip form of name, or nil when the file is too
// small for it to be worth it.
func compressFile(files fs.FS, name string) ([]byte, error) {
	data, err := fs.ReadFile(files, name)
	if err != nil {
		return nil, fmt.Errorf("web: reading static %s: %w", name, err)
	}
	if len(data) < gzipMinSize {
		return nil, nil
	}
	var buf bytes.Buffer
	zw, err := gzip.NewWriterLevel(&buf, gzip.BestCompression)
	if err != nil {
		return nil, err
	}
	if _, err := zw.Write(data); err != nil {
		return nil, err
	}
	if err := zw.Close(); err != nil {
		return nil, err
	}
	if buf.Len() >= len(data) {
		return nil, nil
	}
	return buf.Bytes(), nil
}

// acceptsGzip reports whether the Accept-Encoding header allows gzip (and
// does not refuse it with q=0).
func acceptsGzip(header string) bool {
	for _, part := range strings.Split(header, ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if !strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			continue
		}
		q := 1.0
		for _, p := range strings.Split(params, ";") {
			if v, ok := strings.CutPrefix(strings.TrimSpace(p), "q="); ok {
				if f, err := strconv.ParseFloat(v, 64); err == nil {
					q = f
				}
			}
		}
		return q > 0
	}
	return false
}

// serve answers with the gzip form of name when there is one and the
// client takes it, and reports whether it did. Compressible files vary by
// Accept-Encoding either way.
func (g *staticGzip) serve(w http.ResponseWriter, r *http.Request, name string, modified time.Time) bool {
	gz, err := g.get(name)
	if err != nil || gz == nil {
		return false
	}
	w.Header().Add("Vary", "Accept-Encoding")
	if !acceptsGzip(r.Header.Get("Accept-Encoding")) {
		return false
	}
	ctype := mime.TypeByExtension(path.Ext(name))
	if ctype == "" {
		ctype = "application/octet-stream"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Encoding", "gzip")
	http.ServeContent(w, r, "", modified, bytes.NewReader(gz))
	return true
}
