package web

import (
	"context"
	"errors"
	"io"
	"maps"
	"mime"
	"net/http"
	"path"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/upload"
	"portalo/web/i18n"
)

// Uploads is what the web layer needs of the upload service
// (*upload.Service): editors' resumable uploads of media files.
type Uploads interface {
	Create(ctx context.Context, spec upload.Spec) (upload.Upload, error)
	Status(ctx context.Context, id string) (upload.Upload, error)
	Write(ctx context.Context, id string, offset int64, body io.Reader, n int64) (upload.Upload, error)
	Complete(ctx context.Context, id string, then func(context.Context, upload.Upload) error) (upload.Upload, error)
	Abort(ctx context.Context, id string) error
	Limits() upload.Limits
}

// UploadHooks tie finished uploads to the mediathek. Both are optional.
type UploadHooks struct {
	// ItemExists reports whether a mediathek item with the ID exists; an
	// upload for an item that does not is refused (404). Nil: any valid
	// item ID is accepted.
	ItemExists func(ctx context.Context, itemID string) (bool, error)
	// OnComplete runs once the file is complete at key (to queue its
	// processing, say). When it fails the editor is asked to try again,
	// and the next completion request runs it again; once it succeeded it
	// is not run again for the upload.
	OnComplete func(ctx context.Context, itemID, role, key string) error
}

// uploadsPath is the API of resumable uploads.
const uploadsPath = "/api/v1/uploads"

// uploadIdleRead ends a chunk whose client sends nothing for this long, so
// that a vanished client does not keep the upload busy.
const uploadIdleRead = time.Minute

// Labels the web layer gives each upload.
const (
	labelAccount = "account"
	labelItem    = "item"
	labelRole    = "role"
	labelName    = "name"
)

func (s *Server) uploadRoutes(e *gin.Engine) {
	api := e.Group(uploadsPath, s.requireLogin, s.requireUploader)
	api.POST("", s.apiCreateUpload)
	api.GET("/:id", s.apiUploadStatus)
	api.HEAD("/:id", s.apiUploadStatus)
	api.POST("/:id/complete", s.apiCompleteUpload)
	api.DELETE("/:id", s.apiAbortUpload)

	// A chunk is far larger than the body limit of every other request:
	// its route has the same middleware, with the chunk limit in place of
	// the general one.
	chunks := e.Group(uploadsPath)
	chunks.Handlers = s.withBodyLimit(chunks.Handlers, s.limitChunkBody)
	chunks.PUT("/:id", s.requireLogin, s.requireUploader, s.apiUploadChunk)
}

// limitChunkBody bounds a chunk's body by the largest chunk; the handler
// narrows it to the chunk's declared length.
func (s *Server) limitChunkBody(c *gin.Context) {
	if c.Request.Body != nil {
		c.Request.Body = http.MaxBytesReader(c.Writer, c.Request.Body, s.cfg.Uploads.Limits().MaxChunk)
	}
	c.Next()
}

// canUpload: editors and admins upload media.
func canUpload(a *accounts.Account) bool {
	return a != nil && (a.Has(accounts.RoleEditor) || a.Has(accounts.RoleAdmin))
}

func (s *Server) requireUploader(c *gin.Context) {
	if !canUpload(account(c)) {
		s.fail(c, http.StatusForbidden, "forbidden", "ErrForbidden")
		return
	}
	c.Next()
}

// ---------------------------------------------------------------- targets

// uploadKinds are the kinds of file an item takes, by the first word of a
// role: "source" (the original: a video, a sound file or, for a document,
// the document itself; "source-tr" a further language version),
// "subtitle-de" (WebVTT subtitles in a language), "poster", "chapters" (a
// podcast episode's Podcasting 2.0 JSON chapters). Which item kinds take
// which files is processing's to check (OnUpload).
var uploadKinds = map[string]struct {
	lang     string // "": no language; "optional"; "required"
	types    []string
	typeMsg  string
	fileName string
}{
	"source":   {"optional", append([]string{"video/", "audio/"}, documentTypes...), "UploadErrTypeSource", "original"},
	"subtitle": {"required", []string{"text/vtt"}, "UploadErrTypeSubtitle", "subtitles"},
	"poster":   {"", []string{"image/jpeg", "image/png", "image/webp"}, "UploadErrTypePoster", "poster"},
	"chapters": {"", []string{"application/json+chapters", "application/json"}, "UploadErrTypeChapters", "chapters"},
}

// documentTypes are the types of a document's source.
var documentTypes = []string{
	"application/pdf",
	"image/png",
	"image/jpeg",
	"application/zip",
	"application/x-zip-compressed", // what Windows browsers call a ZIP file
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document",
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
	"application/vnd.openxmlformats-officedocument.presentationml.presentation",
	"application/vnd.oasis.opendocument.text",
	"application/vnd.oasis.opendocument.spreadsheet",
	"application/vnd.oasis.opendocument.presentation",
}

// uploadTypes are the content types accepted, with the file name
// extensions each may have (the first is used when a name has none).
var uploadTypes = map[string][]string{
	"video/mp4":        {"mp4", "m4v"},
	"video/quicktime":  {"mov"},
	"video/webm":       {"webm"},
	"video/x-matroska": {"mkv"},
	"video/ogg":        {"ogv"},
	"video/mpeg":       {"mpg", "mpeg"},
	"video/mp2t":       {"ts", "mts"},
	"video/x-msvideo":  {"avi"},
	"video/3gpp":       {"3gp"},
	"audio/mpeg":       {"mp3"},
	"audio/mp4":        {"m4a", "mp4"},
	"audio/x-m4a":      {"m4a"},
	"audio/aac":        {"aac"},
	"audio/ogg":        {"ogg", "oga", "opus"},
	"audio/opus":       {"opus"},
	"audio/wav":        {"wav"},
	"audio/x-wav":      {"wav"},
	"audio/wave":       {"wav"},
	"audio/flac":       {"flac"},
	"audio/x-flac":     {"flac"},
	"audio/webm":       {"weba", "webm"},
	"text/vtt":         {"vtt"},
	"image/jpeg":       {"jpg", "jpeg"},
	"image/png":        {"png"},
	"image/webp":       {"webp"},
	"application/pdf":  {"pdf"},

	"application/json+chapters":    {"json"},
	"application/json":             {"json"},
	"application/zip":              {"zip"},
	"application/x-zip-compressed": {"zip"},
	"application/vnd.openxmlformats-officedocument.wordprocessingml.document":   {"docx"},
	"application/vnd.openxmlformats-officedocument.spreadsheetml.sheet":         {"xlsx"},
	"application/vnd.openxmlformats-officedocument.presentationml.presentation": {"pptx"},
	"application/vnd.oasis.opendocument.text":                                   {"odt"},
	"application/vnd.oasis.opendocument.spreadsheet":                            {"ods"},
	"application/vnd.oasis.opendocument.presentation":                           {"odp"},
}

// uploadItemID is what an item ID looks like (as in package catalog):
// lowercase ASCII letters, digits and inner hyphens, at most 64 bytes.
var uploadItemID = regexp.MustCompile(`^[a-z0-9](?:[a-z0-9-]{0,62}[a-z0-9])?$`)

// uploadTarget is where an upload goes, built from checked input only.
type uploadTarget struct {
	item, role, contentType, key string
}

// uploadProblem is a refused upload request.
type uploadProblem struct {
	status int
	pr     problem
}

// parseRole splits a role into its kind and language.
func parseRole(role string) (kind, lang string, ok bool) {
	kind, lang, _ = strings.Cut(role, "-")
	k, known := uploadKinds[kind]
	if !known {
		return "", "", false
	}
	switch {
	case lang == "" && k.lang != "required":
		return kind, "", true
	case lang != "" && k.lang != "":
		if l, ok := i18n.Lookup(lang); ok && l.Code == lang {
			return kind, lang, true
		}
	}
	return "", "", false
}

// target checks an upload request and builds its object key, such as
// "media/ITEM/source/original.mp4" or "media/ITEM/source/subtitles-de.vtt".
func target(l *i18n.Localizer, item, role, name, contentType string) (uploadTarget, *uploadProblem) {
	bad := func(status int, field, code, msgID string, pairs ...any) (uploadTarget, *uploadProblem) {
		return uploadTarget{}, &uploadProblem{status, problem{Field: field, Code: code, Message: l.T(msgID, pairs...)}}
	}
	if !uploadItemID.MatchString(item) {
		return bad(http.StatusUnprocessableEntity, "item", "item_invalid", "UploadErrItemInvalid")
	}
	kind, lang, ok := parseRole(role)
	if !ok {
		return bad(http.StatusUnprocessableEntity, "role", "role_invalid", "UploadErrRole")
	}
	k := uploadKinds[kind]
	ext := strings.ToLower(strings.TrimPrefix(path.Ext(name), "."))
	mt, _, err := mime.ParseMediaType(contentType)
	if contentType == "" || mt == "application/octet-stream" {
		// The browser did not know the type: go by the name.
		mt, err = typeByExt(kind, ext), nil
	}
	exts, known := uploadTypes[mt]
	if err != nil || !known || !kindTakes(kind, mt) {
		return bad(http.StatusUnsupportedMediaType, "type", "type_invalid", k.typeMsg)
	}
	if name == "" || len(name) > 255 || strings.ContainsAny(name, "/\\\x00") {
		return bad(http.StatusUnprocessableEntity, "name", "name_invalid", "UploadErrName", "Extensions", extList(exts))
	}
	switch {
	case ext == "":
		ext = exts[0]
	case !slices.Contains(exts, ext):
		return bad(http.StatusUnprocessableEntity, "name", "name_invalid", "UploadErrName", "Extensions", extList(exts))
	}
	file := k.fileName
	if lang != "" {
		file += "-" + lang
	}
	return uploadTarget{item: item, role: role, contentType: mt, key: "media/" + item + "/source/" + file + "." + ext}, nil
}

// kindTakes reports whether files of kind may have the content type mt.
func kindTakes(kind, mt string) bool {
	_, known := uploadTypes[mt]
	return known && slices.ContainsFunc(uploadKinds[kind].types, func(p string) bool {
		return mt == p || strings.HasSuffix(p, "/") && strings.HasPrefix(mt, p)
	})
}

// typeByExt is the content type of a file of kind with the name extension
// ext ("" if none fits): the first of the kind's types that has it.
func typeByExt(kind, ext string) string {
	for _, p := range uploadKinds[kind].types {
		for _, mt := range slices.Sorted(maps.Keys(uploadTypes)) {
			if (mt == p || strings.HasSuffix(p, "/") && strings.HasPrefix(mt, p)) && slices.Contains(uploadTypes[mt], ext) {
				return mt
			}
		}
	}
	return ""
}

func extList(exts []string) string {
	out := make([]string, len(exts))
	for i, e := range exts {
		out[i] = "." + e
	}
	return strings.Join(out, ", ")
}

// ---------------------------------------------------------------- API

type uploadCreateRequest struct {
	Item string `json:"item"`
	Role string `json:"role"`
	Name string `json:"name"`
	Size int64  `json:"size"`
	Type string `json:"type"`
}

// uploadJSON is an upload as the API shows it.
type uploadJSON struct {
	ID        string    `json:"id"`
	Item      string    `json:"item"`
	Role      string    `json:"role"`
	Name      string    `json:"name"`
	Type      string    `json:"type"`
	Size      int64     `json:"size"`
	Offset    int64     `json:"offset"`
	ChunkSize int64     `json:"chunk_size"`
	MinChunk  int64     `json:"min_chunk"`
	MaxChunk  int64     `json:"max_chunk"`
	Expires   time.Time `json:"expires"`
	Complete  bool      `json:"complete"`
}

func uploadToJSON(u upload.Upload) uploadJSON {
	return uploadJSON{
		ID: u.ID, Item: u.Labels[labelItem], Role: u.Labels[labelRole], Name: u.Labels[labelName],
		Type: u.ContentType, Size: u.Size, Offset: u.Offset,
		ChunkSize: u.ChunkSize, MinChunk: u.MinChunk, MaxChunk: u.MaxChunk,
		Expires: u.Expires.UTC(), Complete: u.Completed,
	}
}

func (s *Server) answerUpload(c *gin.Context, status int, u upload.Upload) {
	c.Header("Cache-Control", "no-store")
	c.Header("Upload-Offset", strconv.FormatInt(u.Offset, 10))
	c.JSON(status, uploadToJSON(u))
}

// apiCreateUpload starts an upload for a file of an item.
func (s *Server) apiCreateUpload(c *gin.Context) {
	var req uploadCreateRequest
	if !s.decodeJSON(c, &req) {
		return
	}
	l := localizer(c)
	t, bad := target(l, req.Item, req.Role, req.Name, req.Type)
	if bad != nil {
		s.failUploadProblem(c, bad.status, bad.pr, -1)
		return
	}
	limits := s.cfg.Uploads.Limits()
	switch {
	case req.Size < 1:
		s.failUploadProblem(c, http.StatusUnprocessableEntity, problem{Field: "size", Code: upload.CodeSizeInvalid, Message: l.T("UploadErrSize")}, -1)
		return
	case req.Size > limits.MaxSize:
		s.failUploadProblem(c, http.StatusRequestEntityTooLarge, problem{Field: "size", Code: upload.CodeTooLarge, Message: l.T("UploadErrTooLarge", "Max", uploadSizeText(l, limits.MaxSize))}, -1)
		return
	}
	if exists := s.cfg.UploadHooks.ItemExists; exists != nil {
		ok, err := exists(c.Request.Context(), t.item)
		if err != nil {
			s.failWith(c, err)
			return
		}
		if !ok {
			s.failUploadProblem(c, http.StatusNotFound, problem{Field: "item", Code: "item_not_found", Message: l.T("UploadErrItemNotFound")}, -1)
			return
		}
	}
	u, err := s.cfg.Uploads.Create(c.Request.Context(), upload.Spec{
		Key: t.key, Size: req.Size, ContentType: t.contentType,
		Labels: map[string]string{labelAccount: account(c).ID, labelItem: t.item, labelRole: t.role, labelName: path.Base(req.Name)},
	})
	if err != nil {
		s.failUpload(c, err, -1)
		return
	}
	c.Header("Location", uploadsPath+"/"+u.ID)
	s.answerUpload(c, http.StatusCreated, u)
}

// ownUpload returns the upload id of the logged-in account; anyone else's
// is unknown (404).
func (s *Server) ownUpload(c *gin.Context) (upload.Upload, bool) {
	u, err := s.cfg.Uploads.Status(c.Request.Context(), c.Param("id"))
	if err == nil && u.Labels[labelAccount] != account(c).ID {
		err = upload.ErrNotFound
	}
	if err != nil {
		s.failUpload(c, err, -1)
		return upload.Upload{}, false
	}
	return u, true
}

// apiUploadStatus tells where an upload continues (GET and HEAD).
func (s *Server) apiUploadStatus(c *gin.Context) {
	if u, ok := s.ownUpload(c); ok {
		s.answerUpload(c, http.StatusOK, u)
	}
}

// contentRange is "bytes START-END/TOTAL".
var contentRange = regexp.MustCompile(`^bytes ([0-9]{1,19})-([0-9]{1,19})/([0-9]{1,19})$`)

// apiUploadChunk stores one chunk: the body, streamed, at the start of its
// Content-Range.
func (s *Server) apiUploadChunk(c *gin.Context) {
	l := localizer(c)
	m := contentRange.FindStringSubmatch(c.GetHeader("Content-Range"))
	var start, end, total int64
	var err error
	if m != nil {
		start, err = strconv.ParseInt(m[1], 10, 64)
		if err == nil {
			end, err = strconv.ParseInt(m[2], 10, 64)
		}
		if err == nil {
			total, err = strconv.ParseInt(m[3], 10, 64)
		}
	}
	n := end - start + 1
	if m == nil || err != nil || end < start || end >= total ||
		(c.Request.ContentLength >= 0 && c.Request.ContentLength != n) {
		s.failUploadProblem(c, http.StatusUnprocessableEntity, problem{Field: "Content-Range", Code: "range_invalid", Message: l.T("UploadErrRange")}, -1)
		return
	}
	if max := s.cfg.Uploads.Limits().MaxChunk; n > max {
		s.failUpload(c, &upload.InputError{Code: upload.CodeChunkTooLarge, Limit: max}, -1)
		return
	}
	u, ok := s.ownUpload(c)
	if !ok {
		return
	}
	if total != u.Size {
		s.failUploadProblem(c, http.StatusUnprocessableEntity, problem{Field: "Content-Range", Code: "range_total", Message: l.T("UploadErrRangeTotal")}, u.Offset)
		return
	}
	rc := http.NewResponseController(c.Writer)
	defer rc.SetReadDeadline(time.Time{})
	body := &idleReader{r: http.MaxBytesReader(c.Writer, c.Request.Body, n), rc: rc}
	u, err = s.cfg.Uploads.Write(c.Request.Context(), u.ID, start, body, n)
	if err != nil {
		s.failUpload(c, err, -1)
		return
	}
	s.answerUpload(c, http.StatusOK, u)
}

// idleReader moves the connection's read deadline forward while bytes
// arrive, so that a chunk may take long on a slow link but a client that
// sends nothing for uploadIdleRead is given up.
type idleReader struct {
	r    io.Reader
	rc   *http.ResponseController
	next time.Time
}

func (d *idleReader) Read(p []byte) (int, error) {
	if now := time.Now(); !now.Before(d.next) {
		_ = d.rc.SetReadDeadline(now.Add(uploadIdleRead)) // not every ResponseWriter can: then no deadline
		d.next = now.Add(time.Second)
	}
	return d.r.Read(p)
}

// apiCompleteUpload puts the complete file in place and starts what
// follows (UploadHooks.OnComplete).
func (s *Server) apiCompleteUpload(c *gin.Context) {
	u, ok := s.ownUpload(c)
	if !ok {
		return
	}
	then := func(ctx context.Context, u upload.Upload) error {
		if s.cfg.UploadHooks.OnComplete == nil {
			return nil
		}
		if err := s.cfg.UploadHooks.OnComplete(ctx, u.Labels[labelItem], u.Labels[labelRole], u.Key); err != nil {
			return &followUpError{err}
		}
		return nil
	}
	u, err := s.cfg.Uploads.Complete(c.Request.Context(), u.ID, then)
	if err != nil {
		s.failUpload(c, err, -1)
		return
	}
	s.answerUpload(c, http.StatusOK, u)
}

// followUpError is OnComplete's failure.
type followUpError struct{ err error }

func (e *followUpError) Error() string { return "starting the processing: " + e.err.Error() }
func (e *followUpError) Unwrap() error { return e.err }

// apiAbortUpload removes an upload and what it received.
func (s *Server) apiAbortUpload(c *gin.Context) {
	u, ok := s.ownUpload(c)
	if !ok {
		return
	}
	if err := s.cfg.Uploads.Abort(c.Request.Context(), u.ID); err != nil {
		s.failUpload(c, err, -1)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.Status(http.StatusNoContent)
}

// ---------------------------------------------------------------- errors

// failUpload answers an error of the upload service in the person's
// language; errors that say where the upload continues carry that offset
// (or offset, when not -1) in the JSON and the Upload-Offset header.
func (s *Server) failUpload(c *gin.Context, err error, offset int64) {
	l := localizer(c)
	var (
		ie  *upload.InputError
		oe  *upload.OffsetError
		inc *upload.IncompleteError
		fe  *followUpError
		mbe *http.MaxBytesError
	)
	switch {
	case errors.As(err, &oe):
		s.failUploadProblem(c, http.StatusConflict, problem{Code: "offset_mismatch", Message: l.T("UploadErrOffset", "Offset", oe.Offset)}, oe.Offset)
	case errors.As(err, &inc):
		s.failUploadProblem(c, http.StatusConflict, problem{Code: "incomplete", Message: l.T("UploadErrIncomplete", "Offset", inc.Offset, "Size", inc.Size)}, inc.Offset)
	case errors.Is(err, upload.ErrBusy):
		c.Header("Retry-After", "2")
		s.failUploadProblem(c, http.StatusConflict, problem{Code: "busy", Message: l.T("UploadErrBusy")}, s.currentOffset(c))
	case errors.Is(err, upload.ErrShortChunk), errors.As(err, &mbe):
		// The body ended early or ran past its Content-Range; mostly the
		// client is gone, but one that is not learns where to go on.
		s.failUploadProblem(c, http.StatusUnprocessableEntity, problem{Code: "chunk_incomplete", Message: l.T("UploadErrShortChunk")}, s.currentOffset(c))
	case errors.Is(err, upload.ErrNotFound):
		s.failUploadProblem(c, http.StatusNotFound, problem{Code: "not_found", Message: l.T("UploadErrNotFound")}, -1)
	case errors.Is(err, upload.ErrCompleted):
		s.failUploadProblem(c, http.StatusConflict, problem{Code: "completed", Message: l.T("UploadErrCompleted")}, -1)
	case errors.As(err, &fe):
		s.cfg.Logger.Error("upload complete, but its processing could not be started", "err", err)
		c.Header("Retry-After", "5")
		s.failUploadProblem(c, http.StatusServiceUnavailable, problem{Code: "follow_up_failed", Message: l.T("UploadErrFollowUp")}, -1)
	case errors.Is(err, context.Canceled) && c.Request.Context().Err() != nil:
		// The client went away during the chunk: nobody reads this answer.
		s.failUploadProblem(c, http.StatusUnprocessableEntity, problem{Code: "chunk_incomplete", Message: l.T("UploadErrShortChunk")}, -1)
	case errors.As(err, &ie):
		status, msg := http.StatusUnprocessableEntity, ""
		switch ie.Code {
		case upload.CodeTooLarge:
			status, msg = http.StatusRequestEntityTooLarge, l.T("UploadErrTooLarge", "Max", uploadSizeText(l, ie.Limit))
		case upload.CodeChunkTooLarge:
			status, msg = http.StatusRequestEntityTooLarge, l.T("UploadErrChunkTooLarge", "Max", uploadSizeText(l, ie.Limit))
		case upload.CodeChunkTooSmall:
			msg = l.T("UploadErrChunkTooSmall", "Min", uploadSizeText(l, ie.Limit))
		case upload.CodeBeyondSize, upload.CodeChunkEmpty:
			msg = l.T("UploadErrBeyondSize")
		case upload.CodeSizeInvalid:
			msg = l.T("UploadErrSize")
		default:
			msg = l.T("ErrBadRequest")
		}
		s.failUploadProblem(c, status, problem{Code: ie.Code, Message: msg}, offset)
	default:
		s.failWith(c, err)
	}
}

// currentOffset is where the upload of the request continues, or -1.
func (s *Server) currentOffset(c *gin.Context) int64 {
	u, err := s.cfg.Uploads.Status(c.Request.Context(), c.Param("id"))
	if err != nil {
		return -1
	}
	return u.Offset
}

// failUploadProblem writes the JSON error, with the offset (unless -1).
func (s *Server) failUploadProblem(c *gin.Context, status int, pr problem, offset int64) {
	c.Header("Cache-Control", "no-store")
	body := gin.H{"error": pr}
	if offset >= 0 {
		c.Header("Upload-Offset", strconv.FormatInt(offset, 10))
		body["offset"] = offset
	}
	c.AbortWithStatusJSON(status, body)
}

// uploadSizeText writes a byte count for people: "20 GB", "64 MB", "1,5 GB".
func uploadSizeText(l *i18n.Localizer, n int64) string {
	id, unit := "UploadSizeMB", float64(1<<20)
	if n >= 1<<30 {
		id, unit = "UploadSizeGB", float64(1<<30)
	}
	v := float64(n) / unit
	num := strconv.FormatFloat(v, 'f', 1, 64)
	num = strings.TrimSuffix(num, ".0")
	if l.Lang.Code != "en" && l.Lang.Code != "ar" {
		num = strings.Replace(num, ".", ",", 1)
	}
	return l.T(id, "N", num)
}
