package web

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/internal/storetest"
	"portalo/store/blob"
	"portalo/store/kv"
	"portalo/upload"
	"portalo/web/i18n"
)

const (
	testChunk    = 5 << 20 // S3's smallest part
	testMaxChunk = 8 << 20
	testMaxSize  = 64 << 20
)

// uploadHarness is a portal with uploads into real stores: dirblob and
// boltkv ("embedded") or MinIO and Redis ("servers").
type uploadHarness struct {
	*harness
	svc   *upload.Service
	blobs blob.Store
	items map[string]bool // the mediathek items that exist

	mu      sync.Mutex
	hookErr error
	calls   []string // "item role key" per OnComplete call
}

func uploadBackends(t *testing.T, fn func(t *testing.T, h *uploadHarness)) {
	storetest.Stores(t, func(t *testing.T, b blob.Store, k kv.Store) { fn(t, newUploadHarness(t, b, k)) })
}

func newUploadHarness(t *testing.T, b blob.Store, k kv.Store) *uploadHarness {
	t.Helper()
	h := &uploadHarness{harness: &harness{store: k, logs: &syncBuffer{}, ready: new(error)}, blobs: b, items: map[string]bool{"item1": true, "item-2": true}}
	accts, err := accounts.New(context.Background(), k, accounts.Options{
		Hash:                    accounts.HashParams{MemoryKiB: 64, Time: 1, Threads: 1},
		LoginAttemptsPerAccount: 5,
	})
	if err != nil {
		t.Fatal(err)
	}
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	h.accts = accts
	h.svc, err = upload.New(b, k, upload.Options{StagingDir: t.TempDir(), ChunkSize: testChunk, MaxChunk: testMaxChunk, MaxSize: testMaxSize})
	if err != nil {
		t.Fatal(err)
	}
	h.srv, err = New(Config{
		Accounts: accts,
		Catalog:  cat,
		Logger:   slog.New(slog.NewJSONHandler(h.logs, &slog.HandlerOptions{Level: slog.LevelDebug})),
		// Far below a chunk: the chunk route must have its own limit.
		MaxBodyBytes: 64 << 10,
		Uploads:      h.svc,
		UploadHooks: UploadHooks{
			ItemExists: func(ctx context.Context, id string) (bool, error) { return h.items[id], nil },
			OnComplete: func(ctx context.Context, item, role, key string) error {
				h.mu.Lock()
				defer h.mu.Unlock()
				h.calls = append(h.calls, item+" "+role+" "+key)
				return h.hookErr
			},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func (h *uploadHarness) hookCalls() []string {
	h.mu.Lock()
	defer h.mu.Unlock()
	return slices.Clone(h.calls)
}

func jsonHdr(lang string) map[string]string {
	return map[string]string{"Content-Type": "application/json", "Accept-Language": lang}
}

// apiResult is a decoded answer of the uploads API.
type apiResult struct {
	uploadJSON
	Error  *problem `json:"error"`
	Offset *int64   `json:"offset"`
}

func decodeResult(t *testing.T, w *httptest.ResponseRecorder) apiResult {
	t.Helper()
	var r apiResult
	if w.Body.Len() > 0 {
		if err := json.Unmarshal(w.Body.Bytes(), &r); err != nil {
			t.Fatalf("answer %d is not JSON: %v: %s", w.Code, err, w.Body.String())
		}
	}
	if r.Offset == nil && r.Error == nil {
		r.Offset = &r.uploadJSON.Offset
	}
	return r
}

func (h *uploadHarness) create(t *testing.T, ck *http.Cookie, body string) (*httptest.ResponseRecorder, apiResult) {
	t.Helper()
	w := h.do(t, "POST", "/api/v1/uploads", strings.NewReader(body), jsonHdr("en"), ck)
	return w, decodeResult(t, w)
}

func (h *uploadHarness) put(t *testing.T, ck *http.Cookie, id string, data []byte, start int64, total int64, lang string) (*httptest.ResponseRecorder, apiResult) {
	t.Helper()
	hdr := map[string]string{
		"Content-Type":    "application/octet-stream",
		"Accept-Language": lang,
		"Content-Range":   fmt.Sprintf("bytes %d-%d/%d", start, start+int64(len(data))-1, total),
	}
	w := h.do(t, "PUT", "/api/v1/uploads/"+id, bytes.NewReader(data), hdr, ck)
	return w, decodeResult(t, w)
}

func testFile(seed uint64, n int) []byte {
	b := make([]byte, n)
	rng := rand.NewChaCha8([32]byte{byte(seed), 'w', 'e', 'b'})
	_, _ = rng.Read(b)
	return b
}

// TestUploadAPIRoundTrip: an editor uploads a file in chunks through the
// API; a repeated chunk gets 409 with the offset in the editor's language;
// status by GET and HEAD; completion puts the identical file at the key the
// server chose and runs the hook once.
func TestUploadAPIRoundTrip(t *testing.T) {
	uploadBackends(t, func(t *testing.T, h *uploadHarness) {
		_, ck := h.member(t, "Edda", accounts.RoleEditor)
		data := testFile(1, 2*testChunk+4321)
		w, r := h.create(t, ck, fmt.Sprintf(`{"item":"item1","role":"source","name":"Atemübung.MP4","size":%d,"type":"video/mp4"}`, len(data)))
		if w.Code != http.StatusCreated {
			t.Fatalf("create: %d %s", w.Code, w.Body)
		}
		if r.ID == "" || r.Offset == nil || *r.Offset != 0 || r.ChunkSize != testChunk || r.MinChunk != testChunk || r.MaxChunk != testMaxChunk ||
			r.Size != int64(len(data)) || r.Item != "item1" || r.Role != "source" || r.Name != "Atemübung.MP4" || r.Type != "video/mp4" || r.Complete {
			t.Fatalf("create answered %+v", r.uploadJSON)
		}
		if w.Header().Get("Location") != "/api/v1/uploads/"+r.ID || w.Header().Get("Upload-Offset") != "0" || w.Header().Get("Cache-Control") != "no-store" {
			t.Fatalf("create headers %v", w.Header())
		}
		id := r.ID

		w, r = h.put(t, ck, id, data[:testChunk], 0, int64(len(data)), "en")
		if w.Code != http.StatusOK || *r.Offset != testChunk || w.Header().Get("Upload-Offset") != strconv.Itoa(testChunk) {
			t.Fatalf("first chunk: %d %s", w.Code, w.Body)
		}
		if csp := w.Header().Get("Content-Security-Policy"); !strings.Contains(csp, "default-src 'self'") {
			t.Fatalf("the chunk route lost the common middleware: CSP %q", csp)
		}
		// The same chunk again (its answer got lost): 409 with where to go on.
		for lang, want := range map[string]string{"en": "continues at byte 5242880", "de": "geht bei Byte 5242880 weiter"} {
			w, r = h.put(t, ck, id, data[:testChunk], 0, int64(len(data)), lang)
			if w.Code != http.StatusConflict || r.Error == nil || r.Error.Code != "offset_mismatch" || r.Offset == nil || *r.Offset != testChunk ||
				w.Header().Get("Upload-Offset") != strconv.Itoa(testChunk) || !strings.Contains(r.Error.Message, want) {
				t.Fatalf("repeated chunk (%s): %d %s", lang, w.Code, w.Body)
			}
		}
		for _, method := range []string{"GET", "HEAD"} {
			w = h.do(t, method, "/api/v1/uploads/"+id, nil, nil, ck)
			if w.Code != http.StatusOK || w.Header().Get("Upload-Offset") != strconv.Itoa(testChunk) {
				t.Fatalf("%s: %d %v", method, w.Code, w.Header())
			}
			if method == "GET" {
				if r := decodeResult(t, w); *r.Offset != testChunk || r.Complete {
					t.Fatalf("GET answered %+v", r.uploadJSON)
				}
			}
		}
		w, r = h.put(t, ck, id, data[testChunk:], testChunk, int64(len(data)), "en") // the last chunk may be larger
		if w.Code != http.StatusOK || *r.Offset != int64(len(data)) {
			t.Fatalf("last chunk: %d %s", w.Code, w.Body)
		}
		if _, err := h.blobs.Stat(context.Background(), "media/item1/source/original.mp4"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("the object is visible before completion: %v", err)
		}
		for range 2 { // a repeated completion answers the same and runs the hook once
			w = h.do(t, "POST", "/api/v1/uploads/"+id+"/complete", nil, nil, ck)
			if r := decodeResult(t, w); w.Code != http.StatusOK || !r.Complete || *r.Offset != int64(len(data)) {
				t.Fatalf("complete: %d %s", w.Code, w.Body)
			}
		}
		if calls := h.hookCalls(); len(calls) != 1 || calls[0] != "item1 source media/item1/source/original.mp4" {
			t.Fatalf("OnComplete calls %q", calls)
		}
		rc, info, err := h.blobs.Open(context.Background(), "media/item1/source/original.mp4")
		if err != nil {
			t.Fatal(err)
		}
		defer rc.Close()
		got, err := io.ReadAll(rc)
		if err != nil || !bytes.Equal(got, data) || info.ContentType != "video/mp4" {
			t.Fatalf("stored %d bytes (%v), type %q; want the %d uploaded", len(got), err, info.ContentType, len(data))
		}
		if w, r := h.put(t, ck, id, data[:1], int64(len(data))-1, int64(len(data)), "en"); w.Code != http.StatusConflict || r.Error == nil || r.Error.Code != "completed" {
			t.Fatalf("chunk after completion: %d %s", w.Code, w.Body)
		}
	})
}

// TestUploadAPICreateRefusals: bad requests to start an upload get the
// right status, code and field, with a message in the person's language;
// the object key comes from the server, never from the client.
func TestUploadAPICreateRefusals(t *testing.T) {
	uploadBackends(t, func(t *testing.T, h *uploadHarness) {
		_, ck := h.member(t, "Edda", accounts.RoleEditor)
		for _, tc := range []struct {
			name                string
			body                string
			status              int
			code, field, enText string
		}{
			{"video as subtitles", `{"item":"item1","role":"subtitle-de","name":"a.mp4","size":10,"type":"video/mp4"}`, 415, "type_invalid", "type", "WebVTT"},
			{"gif poster", `{"item":"item1","role":"poster","name":"a.gif","size":10,"type":"image/gif"}`, 415, "type_invalid", "type", "JPEG, PNG or WebP"},
			{"executable", `{"item":"item1","role":"source","name":"a.exe","size":10,"type":"application/x-msdownload"}`, 415, "type_invalid", "type", "video or audio"},
			{"unknown video type", `{"item":"item1","role":"source","name":"a.xyz","size":10,"type":"video/x-unknown"}`, 415, "type_invalid", "type", "video or audio"},
			{"name does not fit the type", `{"item":"item1","role":"source","name":"a.exe","size":10,"type":"video/mp4"}`, 422, "name_invalid", "name", ".mp4, .m4v"},
			{"name with a path", `{"item":"item1","role":"source","name":"../../a.mp4","size":10,"type":"video/mp4"}`, 422, "name_invalid", "name", "must end in"},
			{"unknown role", `{"item":"item1","role":"trailer","name":"a.mp4","size":10,"type":"video/mp4"}`, 422, "role_invalid", "role", "choose what the file is"},
			{"subtitles without a language", `{"item":"item1","role":"subtitle","name":"a.vtt","size":10,"type":"text/vtt"}`, 422, "role_invalid", "role", "choose what the file is"},
			{"unknown language", `{"item":"item1","role":"source-fr","name":"a.mp4","size":10,"type":"video/mp4"}`, 422, "role_invalid", "role", "choose what the file is"},
			{"poster with a language", `{"item":"item1","role":"poster-de","name":"a.png","size":10,"type":"image/png"}`, 422, "role_invalid", "role", "choose what the file is"},
			{"chapters with a language", `{"item":"item1","role":"chapters-de","name":"c.json","size":10,"type":"application/json"}`, 422, "role_invalid", "role", "choose what the file is"},
			{"chapters as text", `{"item":"item1","role":"chapters","name":"c.txt","size":10,"type":"text/plain"}`, 415, "type_invalid", "type", "JSON chapters file"},
			{"chapters named .txt", `{"item":"item1","role":"chapters","name":"c.txt","size":10,"type":"application/json"}`, 422, "name_invalid", "name", ".json"},
			{"old Word file", `{"item":"item1","role":"source","name":"a.doc","size":10,"type":"application/msword"}`, 415, "type_invalid", "type", ".docx"},
			{"docx named .pdf", `{"item":"item1","role":"source","name":"a.pdf","size":10,"type":"application/vnd.openxmlformats-officedocument.wordprocessingml.document"}`, 422, "name_invalid", "name", ".docx"},
			{"item ID with a path", `{"item":"../item1","role":"source","name":"a.mp4","size":10,"type":"video/mp4"}`, 422, "item_invalid", "item", "invalid"},
			{"unknown item", `{"item":"nope","role":"source","name":"a.mp4","size":10,"type":"video/mp4"}`, 404, "item_not_found", "item", "does not exist"},
			{"empty file", `{"item":"item1","role":"source","name":"a.mp4","size":0,"type":"video/mp4"}`, 422, "size_invalid", "size", "empty"},
			{"too large", fmt.Sprintf(`{"item":"item1","role":"source","name":"a.mp4","size":%d,"type":"video/mp4"}`, testMaxSize+1), 413, "too_large", "size", "at most 64 MB"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				texts := map[string]string{}
				for _, lang := range i18n.Languages {
					w := h.do(t, "POST", "/api/v1/uploads", strings.NewReader(tc.body), jsonHdr(lang.Code), ck)
					r := decodeResult(t, w)
					if w.Code != tc.status || r.Error == nil || r.Error.Code != tc.code || r.Error.Field != tc.field {
						t.Fatalf("%s: %d %s; want %d %s at %s", lang.Code, w.Code, w.Body, tc.status, tc.code, tc.field)
					}
					if r.Error.Message == "" || strings.HasPrefix(r.Error.Message, "Upload") || strings.Contains(r.Error.Message, "{{") {
						t.Fatalf("%s: message %q", lang.Code, r.Error.Message)
					}
					texts[lang.Code] = r.Error.Message
				}
				if !strings.Contains(texts["en"], tc.enText) {
					t.Errorf("English message %q lacks %q", texts["en"], tc.enText)
				}
				if texts["de"] == texts["en"] || texts["ar"] == texts["en"] {
					t.Errorf("message not translated: %q", texts)
				}
			})
		}
		// Keys are built by the server, with a checked extension: none given
		// takes the type's, an unknown type is read from the name.
		for _, tc := range []struct{ body, key string }{
			{`{"item":"item1","role":"source","name":"clip","size":10,"type":"video/mp4"}`, "media/item1/source/original.mp4"},
			{`{"item":"item-2","role":"source-tr","name":"ses.MKV","size":10,"type":""}`, "media/item-2/source/original-tr.mkv"},
			{`{"item":"item1","role":"subtitle-ar","name":"ar.vtt","size":10,"type":"text/vtt; charset=utf-8"}`, "media/item1/source/subtitles-ar.vtt"},
			{`{"item":"item1","role":"poster","name":"Bild.JPEG","size":10,"type":"image/jpeg"}`, "media/item1/source/poster.jpeg"},
			{`{"item":"item1","role":"source","name":"Broschüre.pdf","size":10,"type":"application/octet-stream"}`, "media/item1/source/original.pdf"},
		} {
			w, r := h.create(t, ck, tc.body)
			if w.Code != http.StatusCreated {
				t.Fatalf("%s: %d %s", tc.body, w.Code, w.Body)
			}
			data := testFile(2, 10)
			if w, _ := h.put(t, ck, r.ID, data, 0, 10, "en"); w.Code != http.StatusOK {
				t.Fatalf("%s: chunk %d %s", tc.body, w.Code, w.Body)
			}
			if w := h.do(t, "POST", "/api/v1/uploads/"+r.ID+"/complete", nil, nil, ck); w.Code != http.StatusOK {
				t.Fatalf("%s: complete %d %s", tc.body, w.Code, w.Body)
			}
			if _, err := h.blobs.Stat(context.Background(), tc.key); err != nil {
				t.Errorf("%s: no object at %s: %v", tc.body, tc.key, err)
			}
		}
		for _, tc := range []struct {
			name, body, ctype string
			status            int
		}{
			{"not JSON", `{"item":`, "application/json", 400},
			{"unknown field", `{"item":"item1","key":"media/x/y.mp4"}`, "application/json", 400},
			{"form", `item=item1`, "application/x-www-form-urlencoded", 415},
		} {
			w := h.do(t, "POST", "/api/v1/uploads", strings.NewReader(tc.body), map[string]string{"Content-Type": tc.ctype}, ck)
			if w.Code != tc.status {
				t.Errorf("%s: %d %s", tc.name, w.Code, w.Body)
			}
		}
	})
}

// TestUploadAPIAccess: only editors and admins upload, and each sees only
// their own uploads.
func TestUploadAPIAccess(t *testing.T) {
	uploadBackends(t, func(t *testing.T, h *uploadHarness) {
		_, editor := h.member(t, "Edda", accounts.RoleEditor)
		_, other := h.member(t, "Olga", accounts.RoleEditor)
		_, admin := h.member(t, "Ada", accounts.RoleAdmin)
		_, participant := h.member(t, "Paul")
		_, trainer := h.member(t, "Tina", accounts.RoleTrainer)
		body := `{"item":"item1","role":"source","name":"a.mp4","size":10,"type":"video/mp4"}`
		_, r := h.create(t, editor, body)
		for _, tc := range []struct {
			name   string
			ck     *http.Cookie
			status int
		}{
			{"visitor", nil, 401}, {"participant", participant, 403}, {"trainer", trainer, 403}, {"admin", admin, 201},
		} {
			var cks []*http.Cookie
			if tc.ck != nil {
				cks = append(cks, tc.ck)
			}
			if w := h.do(t, "POST", "/api/v1/uploads", strings.NewReader(body), jsonHdr("en"), cks...); w.Code != tc.status {
				t.Errorf("%s creates: %d", tc.name, w.Code)
			}
			if tc.status != 201 {
				hdr := map[string]string{"Content-Range": "bytes 0-9/10"}
				for _, req := range []struct{ method, path string }{
					{"GET", "/api/v1/uploads/" + r.ID}, {"PUT", "/api/v1/uploads/" + r.ID}, {"POST", "/api/v1/uploads/" + r.ID + "/complete"}, {"DELETE", "/api/v1/uploads/" + r.ID},
				} {
					if w := h.do(t, req.method, req.path, bytes.NewReader(make([]byte, 10)), hdr, cks...); w.Code != tc.status {
						t.Errorf("%s: %s %s: %d", tc.name, req.method, req.path, w.Code)
					}
				}
			}
		}
		// Another editor's upload does not exist for them.
		for _, req := range []struct{ method, path string }{
			{"GET", "/api/v1/uploads/" + r.ID}, {"PUT", "/api/v1/uploads/" + r.ID}, {"POST", "/api/v1/uploads/" + r.ID + "/complete"}, {"DELETE", "/api/v1/uploads/" + r.ID},
		} {
			w := h.do(t, req.method, req.path, bytes.NewReader(make([]byte, 10)), map[string]string{"Content-Range": "bytes 0-9/10"}, other)
			if w.Code != http.StatusNotFound {
				t.Errorf("other editor: %s %s: %d", req.method, req.path, w.Code)
			}
		}
		if w := h.do(t, "GET", "/api/v1/uploads/"+r.ID, nil, nil, editor); w.Code != http.StatusOK {
			t.Fatalf("own upload: %d", w.Code)
		}
	})
}

// failingBody yields data and then fails, as the body of a client that
// went away does.
type failingBody struct {
	data []byte
	err  error
}

func (b *failingBody) Read(p []byte) (int, error) {
	if len(b.data) == 0 {
		return 0, b.err
	}
	n := copy(p, b.data)
	b.data = b.data[n:]
	return n, nil
}

// TestUploadAPIChunkRefusals: malformed ranges, oversized chunks, a body
// that ends early, completion before the end, a failing hook, abort.
func TestUploadAPIChunkRefusals(t *testing.T) {
	uploadBackends(t, func(t *testing.T, h *uploadHarness) {
		_, ck := h.member(t, "Edda", accounts.RoleEditor)
		data := testFile(3, 2*testChunk)
		total := int64(len(data))
		_, r := h.create(t, ck, fmt.Sprintf(`{"item":"item1","role":"source-de","name":"a.webm","size":%d,"type":"video/webm"}`, total))
		id := r.ID
		chunkReq := func(rangeHdr string, body io.Reader, length int64) *httptest.ResponseRecorder {
			req := httptest.NewRequest("PUT", "/api/v1/uploads/"+id, body)
			req.ContentLength = length
			if rangeHdr != "" {
				req.Header.Set("Content-Range", rangeHdr)
			}
			req.Header.Set("Accept-Language", "en")
			req.AddCookie(ck)
			w := httptest.NewRecorder()
			h.srv.ServeHTTP(w, req)
			return w
		}
		for _, tc := range []struct {
			name, rangeHdr string
			length         int64
			status         int
			code           string
		}{
			{"no Content-Range", "", testChunk, 422, "range_invalid"},
			{"not bytes", "items 0-9/10", testChunk, 422, "range_invalid"},
			{"end before start", fmt.Sprintf("bytes 10-5/%d", total), 0, 422, "range_invalid"},
			{"end past total", fmt.Sprintf("bytes 0-%d/%d", total, total), total + 1, 422, "range_invalid"},
			{"length differs", fmt.Sprintf("bytes 0-%d/%d", testChunk-1, total), testChunk - 1, 422, "range_invalid"},
			{"total differs", fmt.Sprintf("bytes 0-%d/%d", testChunk-1, total+1), testChunk, 422, "range_total"},
			{"chunk too large", fmt.Sprintf("bytes 0-%d/%d", testMaxChunk, total), testMaxChunk + 1, 413, "chunk_too_large"},
			{"chunk too small", fmt.Sprintf("bytes 0-99/%d", total), 100, 422, "chunk_too_small"},
		} {
			body := bytes.NewReader(make([]byte, max(tc.length, 0)))
			w := chunkReq(tc.rangeHdr, body, tc.length)
			if r := decodeResult(t, w); w.Code != tc.status || r.Error == nil || r.Error.Code != tc.code || r.Error.Message == "" {
				t.Errorf("%s: %d %s, want %d %s", tc.name, w.Code, w.Body, tc.status, tc.code)
			}
		}
		if tooLarge := chunkReq(fmt.Sprintf("bytes 0-%d/%d", testMaxChunk, total), bytes.NewReader(nil), testMaxChunk+1); !strings.Contains(tooLarge.Body.String(), "at most 8 MB") {
			t.Errorf("chunk too large: %s", tooLarge.Body)
		}
		// The client goes away in the middle of a chunk: nothing counts.
		for _, cut := range []error{io.EOF, io.ErrUnexpectedEOF, errors.New("connection reset by peer")} {
			w := chunkReq(fmt.Sprintf("bytes 0-%d/%d", testChunk-1, total), &failingBody{data[:testChunk/2], cut}, -1)
			if w.Code < 400 || w.Code >= 600 {
				t.Fatalf("cut body (%v): %d %s", cut, w.Code, w.Body)
			}
			if st, err := h.svc.Status(context.Background(), id); err != nil || st.Offset != 0 {
				t.Fatalf("cut body (%v) moved the offset: %+v %v", cut, st, err)
			}
		}
		w := chunkReq(fmt.Sprintf("bytes 0-%d/%d", testChunk-1, total), &failingBody{data[:testChunk/2], io.EOF}, -1)
		if r := decodeResult(t, w); w.Code != 422 || r.Error.Code != "chunk_incomplete" || *r.Offset != 0 {
			t.Fatalf("body ended early: %d %s", w.Code, w.Body)
		}
		if w, _ := h.put(t, ck, id, data[:testChunk], 0, total, "en"); w.Code != http.StatusOK {
			t.Fatalf("chunk: %d %s", w.Code, w.Body)
		}
		w = h.do(t, "POST", "/api/v1/uploads/"+id+"/complete", nil, map[string]string{"Accept-Language": "ru"}, ck)
		if r := decodeResult(t, w); w.Code != http.StatusConflict || r.Error.Code != "incomplete" || *r.Offset != testChunk || !strings.Contains(r.Error.Message, "5242880 из 10485760") {
			t.Fatalf("early completion: %d %s", w.Code, w.Body)
		}
		if w, _ := h.put(t, ck, id, data[testChunk:], testChunk, total, "en"); w.Code != http.StatusOK {
			t.Fatalf("chunk: %d %s", w.Code, w.Body)
		}
		// The hook fails: 503, the file is kept, and the next try runs it again.
		h.mu.Lock()
		h.hookErr = errors.New("queue unavailable")
		h.mu.Unlock()
		w = h.do(t, "POST", "/api/v1/uploads/"+id+"/complete", nil, map[string]string{"Accept-Language": "tr"}, ck)
		if r := decodeResult(t, w); w.Code != http.StatusServiceUnavailable || r.Error.Code != "follow_up_failed" || w.Header().Get("Retry-After") == "" || !strings.Contains(r.Error.Message, "Dosya kaydedildi") {
			t.Fatalf("failing hook: %d %s", w.Code, w.Body)
		}
		h.mu.Lock()
		h.hookErr = nil
		h.mu.Unlock()
		if w := h.do(t, "POST", "/api/v1/uploads/"+id+"/complete", nil, nil, ck); w.Code != http.StatusOK {
			t.Fatalf("complete after the hook recovered: %d %s", w.Code, w.Body)
		}
		if calls := h.hookCalls(); len(calls) != 2 || calls[1] != "item1 source-de media/item1/source/original-de.webm" {
			t.Fatalf("hook calls %q", calls)
		}
		if w := h.do(t, "DELETE", "/api/v1/uploads/"+id, nil, nil, ck); w.Code != http.StatusConflict {
			t.Fatalf("abort after completion: %d %s", w.Code, w.Body)
		}

		// Abort: 204, then the upload is gone.
		_, r = h.create(t, ck, fmt.Sprintf(`{"item":"item1","role":"source","name":"b.mp3","size":%d,"type":"audio/mpeg"}`, total))
		if w, _ := h.put(t, ck, r.ID, data[:testChunk], 0, total, "en"); w.Code != http.StatusOK {
			t.Fatalf("chunk: %d %s", w.Code, w.Body)
		}
		if w := h.do(t, "DELETE", "/api/v1/uploads/"+r.ID, nil, nil, ck); w.Code != http.StatusNoContent {
			t.Fatalf("abort: %d %s", w.Code, w.Body)
		}
		for _, req := range []struct{ method, path string }{
			{"GET", "/api/v1/uploads/" + r.ID}, {"DELETE", "/api/v1/uploads/" + r.ID}, {"POST", "/api/v1/uploads/" + r.ID + "/complete"},
			{"GET", "/api/v1/uploads/unknown"}, {"GET", "/api/v1/uploads/0123456789abcdef0123456789abcdef"},
		} {
			w := h.do(t, req.method, req.path, nil, map[string]string{"Accept-Language": "ar"}, ck)
			if r := decodeResult(t, w); w.Code != http.StatusNotFound || r.Error == nil || r.Error.Code != "not_found" || !strings.Contains(r.Error.Message, "الرفع") {
				t.Errorf("%s %s: %d %s", req.method, req.path, w.Code, w.Body)
			}
		}
		if _, err := h.blobs.Stat(context.Background(), "media/item1/source/original.mp3"); !errors.Is(err, blob.ErrNotFound) {
			t.Fatalf("aborted upload left an object: %v", err)
		}
	})
}

// TestUploadChaptersAndDocuments: an episode's chapters file and office
// documents go through the whole upload, stored with their type under a
// key the server makes, and the completion hook gets their role.
func TestUploadChaptersAndDocuments(t *testing.T) {
	uploadBackends(t, func(t *testing.T, h *uploadHarness) {
		_, ck := h.member(t, "Edda", accounts.RoleEditor)
		chapters := []byte(`{"version":"1.2.0","chapters":[{"startTime":0,"title":"Einatmen"},{"startTime":65.5,"title":"Ausatmen"}]}`)
		docx := append([]byte("PK\x03\x04"), testFile(3, 2000)...)
		for _, tc := range []struct {
			name, role, file, ctype string
			data                    []byte
			key, storedType         string
		}{
			{"chapters", "chapters", "kapitel.json", "application/json+chapters", chapters, "media/item1/source/chapters.json", "application/json+chapters"},
			{"chapters as JSON", "chapters", "Kapitel.JSON", "application/json", chapters, "media/item1/source/chapters.json", "application/json"},
			{"chapters by name", "chapters", "kapitel.json", "", chapters, "media/item1/source/chapters.json", "application/json+chapters"},
			{"docx", "source", "Leitfaden.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document", docx,
				"media/item1/source/original.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
			{"docx by name", "source-tr", "Rehber.docx", "application/octet-stream", docx,
				"media/item1/source/original-tr.docx", "application/vnd.openxmlformats-officedocument.wordprocessingml.document"},
			{"zip from Windows", "source", "Material.zip", "application/x-zip-compressed", docx, "media/item1/source/original.zip", "application/x-zip-compressed"},
			{"odt", "source", "Bericht.odt", "application/vnd.oasis.opendocument.text", docx, "media/item1/source/original.odt", "application/vnd.oasis.opendocument.text"},
			{"png", "source", "Plakat.png", "image/png", docx, "media/item1/source/original.png", "image/png"},
		} {
			t.Run(tc.name, func(t *testing.T) {
				before := len(h.hookCalls())
				w, r := h.create(t, ck, fmt.Sprintf(`{"item":"item1","role":%q,"name":%q,"size":%d,"type":%q}`, tc.role, tc.file, len(tc.data), tc.ctype))
				if w.Code != http.StatusCreated || r.Type != tc.storedType {
					t.Fatalf("create: %d %s", w.Code, w.Body)
				}
				if w, _ := h.put(t, ck, r.ID, tc.data, 0, int64(len(tc.data)), "en"); w.Code != http.StatusOK {
					t.Fatalf("chunk: %d %s", w.Code, w.Body)
				}
				if w := h.do(t, "POST", "/api/v1/uploads/"+r.ID+"/complete", nil, nil, ck); w.Code != http.StatusOK {
					t.Fatalf("complete: %d %s", w.Code, w.Body)
				}
				calls := h.hookCalls()
				if len(calls) != before+1 || calls[before] != "item1 "+tc.role+" "+tc.key {
					t.Fatalf("OnComplete calls %q", calls[before:])
				}
				rc, info, err := h.blobs.Open(context.Background(), tc.key)
				if err != nil {
					t.Fatal(err)
				}
				defer rc.Close()
				got, err := io.ReadAll(rc)
				if err != nil || !bytes.Equal(got, tc.data) || info.ContentType != tc.storedType {
					t.Fatalf("stored %d bytes (%v) of type %q", len(got), err, info.ContentType)
				}
			})
		}
	})
}

// uploadTestPage is a page with the upload widget for item1 at
// /test/upload-widget, as the mediathek's editor page includes it.
func addUploadTestPage(t *testing.T, s *Server) {
	t.Helper()
	tpl, err := template.ParseFS(templateFiles, "templates/layout.html", "templates/upload_widget.html")
	if err == nil {
		_, err = tpl.New("content").Parse(`{{define "content"}}<h1>{{.Title}}</h1>{{template "media_upload" .}}{{end}}`)
	}
	if err != nil {
		t.Fatal(err)
	}
	s.pages["upload_test"] = tpl
	s.engine.GET("/test/upload-widget", s.requireLogin, s.requireUploader, func(c *gin.Context) {
		p := s.newPage(c, "UploadFileLabel")
		p.Data = struct{ ID string }{"item1"}
		s.render(c, http.StatusOK, "upload_test", p)
	})
}

// acceptFor is the accept list of the file input for a kind of file:
// what the server takes, by type and by name.
func acceptFor(kind string) string {
	var out []string
	for _, p := range uploadKinds[kind].types {
		if strings.HasSuffix(p, "/") {
			out = append(out, p+"*")
		} else {
			out = append(out, p)
		}
	}
	var exts []string
	for _, mt := range slices.Sorted(maps.Keys(uploadTypes)) {
		if kindTakes(kind, mt) {
			for _, e := range uploadTypes[mt] {
				exts = append(exts, "."+e)
			}
		}
	}
	slices.Sort(exts)
	return strings.Join(append(out, slices.Compact(exts)...), ",")
}

// offeredRoles is the number of roles the widget offers: every kind of
// file, with each language where it takes one.
func offeredRoles() int {
	n := 0
	for _, k := range uploadKinds {
		switch k.lang {
		case "":
			n++
		case "optional":
			n += 1 + len(i18n.Languages)
		case "required":
			n += len(i18n.Languages)
		}
	}
	return n
}

var (
	untranslatedUpload = regexp.MustCompile(`(>|")Upload[A-Z][A-Za-z]+(<|")`)
	widgetOption       = regexp.MustCompile(`<option value="([a-z-]+)" data-accept="([^"]*)">`)
	jsText             = regexp.MustCompile(`\b(?:say|t)\('([a-z]+)'`)
)

// TestUploadWidgetInEveryLanguage renders the widget in every language:
// every text translated (also those upload.js shows), a choice of every
// role, accept lists that match what the server takes.
func TestUploadWidgetInEveryLanguage(t *testing.T) {
	uploadBackends(t, func(t *testing.T, h *uploadHarness) {
		addUploadTestPage(t, h.srv)
		_, ck := h.member(t, "Edda", accounts.RoleEditor)
		js, err := os.ReadFile("static/upload.js")
		if err != nil {
			t.Fatal(err)
		}
		var names []string
		for _, m := range jsText.FindAllStringSubmatch(string(js), -1) {
			names = append(names, m[1])
		}
		slices.Sort(names)
		names = slices.Compact(names)
		if len(names) < 15 {
			t.Fatalf("found only %d texts in upload.js: %v", len(names), names)
		}
		for _, lang := range i18n.Languages {
			w := h.do(t, "GET", "/test/upload-widget", nil, map[string]string{"Accept-Language": lang.Code}, ck)
			body := w.Body.String()
			if w.Code != http.StatusOK {
				t.Fatalf("%s: %d %s", lang.Code, w.Code, body)
			}
			if m := htmlLang.FindStringSubmatch(body); m == nil || m[1] != lang.Code || m[2] != lang.Dir {
				t.Fatalf("%s: html element %v", lang.Code, m)
			}
			if u := untranslatedUpload.FindString(body); u != "" {
				t.Fatalf("%s: untranslated message %s", lang.Code, u)
			}
			for _, n := range names {
				if !strings.Contains(body, ` data-t-`+n+`="`) {
					t.Errorf("%s: upload.js shows %q, but the widget has no data-t-%s", lang.Code, n, n)
				}
			}
			roles := map[string]bool{}
			for _, m := range widgetOption.FindAllStringSubmatch(body, -1) {
				roles[m[1]] = true
				kind, _, ok := parseRole(m[1])
				if !ok {
					t.Errorf("%s: the widget offers role %q, which the server refuses", lang.Code, m[1])
					continue
				}
				if want := acceptFor(kind); m[2] != want {
					t.Errorf("%s: role %s accepts %q; the server takes %q", lang.Code, m[1], m[2], want)
				}
			}
			if len(roles) != offeredRoles() {
				t.Errorf("%s: roles %v", lang.Code, slices.Sorted(maps.Keys(roles)))
			}
			for _, want := range []string{`data-item="item1"`, `<progress id="upload-progress"`, `role="status"`, `src="/static/upload.js?v=`, `accept="` + acceptFor("source") + `"`} {
				if !strings.Contains(body, want) {
					t.Errorf("%s: the widget lacks %s", lang.Code, want)
				}
			}
		}
		if w := h.do(t, "GET", "/static/upload.js", nil, nil); w.Code != http.StatusOK || !strings.Contains(w.Header().Get("Content-Type"), "javascript") {
			t.Fatalf("upload.js: %d %s", w.Code, w.Header().Get("Content-Type"))
		}
	})
}

// TestUploadRoutesKeepMiddleware: the chunk route has the same middleware
// as the others except the body limit, which is the chunk limit there.
func TestUploadRoutesKeepMiddleware(t *testing.T) {
	uploadBackends(t, func(t *testing.T, h *uploadHarness) {
		var routes gin.RoutesInfo = h.srv.engine.Routes()
		n := 0
		for _, r := range routes {
			if r.Path == "/api/v1/uploads/:id" && r.Method == "PUT" {
				n++
			}
		}
		if n != 1 {
			t.Fatalf("%d PUT routes for chunks", n)
		}
		chain := h.srv.withBodyLimit(h.srv.engine.Handlers, h.srv.limitChunkBody)
		if len(chain) != len(h.srv.engine.Handlers) {
			t.Fatalf("chain of %d handlers, the engine has %d", len(chain), len(h.srv.engine.Handlers))
		}
		if strings.Contains(h.logs.String(), "keeps the general body limit") {
			t.Fatal("limitBody was not found in the middleware chain")
		}
		// A JSON body above the general limit is still refused elsewhere.
		_, ck := h.member(t, "Edda", accounts.RoleEditor)
		big := `{"item":"item1","role":"source","name":"` + strings.Repeat("a", 70<<10) + `.mp4","size":10,"type":"video/mp4"}`
		if w := h.do(t, "POST", "/api/v1/uploads", strings.NewReader(big), jsonHdr("en"), ck); w.Code != http.StatusRequestEntityTooLarge {
			t.Fatalf("oversized JSON: %d", w.Code)
		}
	})
}
