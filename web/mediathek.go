package web

// The mediathek's pages for viewers (browse and item page with the
// player), its JSON API and the shared pieces of its editor pages
// (mediathek_manage.go) and file serving (mediathek_media.go).

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/store/blob"
	"portalo/web/i18n"
)

// The ways media files reach viewers (Config.MediaDelivery).
const (
	// DeliveryProxy streams every file through portalo, Range requests
	// included; the bucket need not be reachable by viewers.
	DeliveryProxy = "proxy"
	// DeliveryRedirect answers requests for segments and other large
	// files, after the same access check, with a 302 to a presigned URL
	// of the bucket that is valid for presignExpiry; playlists, posters
	// and subtitles (small, and playlists must keep portalo as the base
	// of their relative URIs) and downloads (which need a file name) are
	// still proxied.
	DeliveryRedirect = "redirect"
)

// presignExpiry is how long a presigned URL of DeliveryRedirect is valid.
const presignExpiry = 5 * time.Minute

// maxMediaPage bounds the page number of lists (catalog pages are
// computed as (page-1)*size, which must not overflow).
const maxMediaPage = 100000

// presigner is an object store that can hand out short-lived URLs to read
// an object directly (s3blob).
type presigner interface {
	PresignGet(ctx context.Context, key string, expiry time.Duration) (string, error)
}

// MediaProgress tells the editor pages how far the processing of an item
// is. ok is false when no processing runs for the item.
type MediaProgress interface {
	Progress(ctx context.Context, itemID string) (fraction float64, ok bool)
}

// mediathek holds the mediathek's handlers and their state; the router
// built by mediathekRoutes owns it.
type mediathek struct {
	s       *Server
	cat     *catalog.Catalog
	objects blob.Store
	// presign is set with DeliveryRedirect.
	presign presigner
	files   *mediaFileCache

	originMu sync.Mutex
	origin   string // of the presigned URLs, learnt from the first one
}

// The mediathek's templates: viewers' pages and the editor's.
var mediathekPages = []string{"mediathek", "media_item", "mediathek_manage", "mediathek_edit", "mediathek_delete"}

// mediathek_parts.html holds the pieces these pages share.

// mediathekUploadTemplates are the optional files that define the block
// "media_upload" of the editor's edit page: the upload widget
// (upload_widget.html, see upload.go), parsed with the page when present.
var mediathekUploadTemplates = []string{"templates/upload_widget.html", "templates/mediathek_upload*.html"}

func (s *Server) mediathekRoutes(e *gin.Engine) error {
	if s.cfg.Objects == nil {
		return errors.New("web: the mediathek needs Objects, the object store of its files")
	}
	m := &mediathek{s: s, cat: s.cfg.Mediathek, objects: s.cfg.Objects, files: newMediaFileCache(mediaFileCacheSize)}
	switch s.cfg.MediaDelivery {
	case "", DeliveryProxy:
	case DeliveryRedirect:
		p, ok := s.cfg.Objects.(presigner)
		if !ok {
			return fmt.Errorf("web: media delivery %q needs an object store that can presign URLs (S3/MinIO); this one cannot, use %q", DeliveryRedirect, DeliveryProxy)
		}
		m.presign = p
	default:
		return fmt.Errorf("web: unknown media delivery %q (want %q or %q)", s.cfg.MediaDelivery, DeliveryProxy, DeliveryRedirect)
	}
	var uploads []string
	for _, pattern := range mediathekUploadTemplates {
		names, err := fs.Glob(templateFiles, pattern)
		if err != nil {
			return fmt.Errorf("web: finding the upload templates: %w", err)
		}
		uploads = append(uploads, names...)
	}
	for _, name := range mediathekPages {
		files := []string{"templates/layout.html", "templates/mediathek_parts.html", "templates/" + name + ".html"}
		if name == "mediathek_edit" {
			files = append(files, uploads...)
		}
		t, err := template.ParseFS(templateFiles, files...)
		if err != nil {
			return fmt.Errorf("web: parsing template %s: %w", name, err)
		}
		s.pages[name] = t
	}

	e.GET("/mediathek", m.browsePage)
	e.GET("/mediathek/:slug", m.itemPage)
	e.GET("/media/:id/*file", m.serveFile)
	e.HEAD("/media/:id/*file", m.serveFile)

	api := e.Group("/api/v1/mediathek")
	api.GET("", m.apiList)
	api.GET("/:slug", m.apiItem)

	manage := e.Group("/manage/mediathek", s.requireLogin, m.requireEditor)
	manage.GET("", m.managePage)
	manage.POST("", m.createItem)
	manage.GET("/new", m.newPage)
	manage.GET("/:id", m.editPage)
	manage.POST("/:id", m.saveItem)
	manage.POST("/:id/publish", m.publishItem)
	manage.POST("/:id/unpublish", m.unpublishItem)
	manage.POST("/:id/retry", m.retryItem)
	manage.GET("/:id/delete", m.deletePage)
	manage.POST("/:id/delete", m.deleteItem)
	return nil
}

// canEditMedia: editors and admins look after the mediathek.
func canEditMedia(a *accounts.Account) bool {
	return a != nil && (a.Has(accounts.RoleEditor) || a.Has(accounts.RoleAdmin))
}

// mediaViewer says what the person may see: approved multipliers (who
// have the role, granted on approval and taken away on withdrawal) also
// the items for multipliers; editors and admins everything, drafts
// included. The account is read afresh on every request, so a withdrawn
// approval counts from the next request on.
func mediaViewer(a *accounts.Account) catalog.Viewer {
	if a == nil {
		return catalog.Viewer{}
	}
	return catalog.Viewer{Multiplier: a.Has(accounts.RoleMultiplier), Editor: canEditMedia(a)}
}

func (m *mediathek) requireEditor(c *gin.Context) {
	if !canEditMedia(account(c)) {
		m.s.fail(c, http.StatusForbidden, "forbidden", "ErrForbidden")
		return
	}
	c.Next()
}

// visibleItem returns the item with slug if the person may see it; every
// other case is ErrNotFound, so that nobody learns that an item for
// multipliers or a draft exists.
func (m *mediathek) visibleItem(c *gin.Context, slug string) (catalog.Item, error) {
	it, err := m.cat.GetBySlug(slug)
	if err != nil || !it.VisibleTo(mediaViewer(account(c))) {
		return catalog.Item{}, catalog.ErrNotFound
	}
	return it, nil
}

// Errors.

// mediathekMessages maps the catalog's input error codes to messages.
var mediathekMessages = map[string]string{
	"kind_required":        "ErrMediathekKind",
	"kind_invalid":         "ErrMediathekKind",
	"title_required":       "ErrMediathekTitleRequired",
	"title_invalid":        "ErrMediathekTitleInvalid",
	"title_too_long":       "ErrMediathekTitleTooLong",
	"description_invalid":  "ErrMediathekDescriptionInvalid",
	"description_too_long": "ErrMediathekDescriptionTooLong",
	"language_invalid":     "ErrMediathekLanguage",
	"slug_invalid":         "ErrMediathekSlugInvalid",
	"slug_too_long":        "ErrMediathekSlugInvalid",
	"slug_taken":           "ErrMediathekSlugTaken",
	"topic_required":       "ErrMediathekTopic",
	"topic_invalid":        "ErrMediathekTopic",
	"audience_required":    "ErrMediathekAudience",
	"audience_invalid":     "ErrMediathekAudience",
	"status_invalid":       "ErrMediathekStatus",
	"query_invalid":        "ErrMediathekQueryInvalid",
	"query_too_long":       "ErrMediathekQueryTooLong",
	"page_invalid":         "ErrMediathekPage",
	"page_size_invalid":    "ErrMediathekPageSize",
	"item_published":       "ErrMediathekPublished",
	"series_invalid":       "ErrMediathekSeries",
	"season_invalid":       "ErrMediathekSeason",
	"number_invalid":       "ErrMediathekNumber",
	"category_invalid":     "ErrMediathekCategory",
	"doc_version_invalid":  "ErrMediathekDocVersion",
	"doc_version_too_long": "ErrMediathekDocVersion",
}

// notReadyMessages maps the reasons why an item cannot be published.
var notReadyMessages = map[string]string{
	"processing":       "ErrMediathekNotReadyProcessing",
	"no_files":         "ErrMediathekNotReadyNoFiles",
	"failed":           "ErrMediathekNotReadyFailed",
	"not_playable":     "ErrMediathekNotReadyNotPlayable",
	"file_incomplete":  "ErrMediathekNotReadyIncomplete",
	"file_missing":     "ErrMediathekNotReadyMissing",
	"poster_missing":   "ErrMediathekNotReadyPoster",
	"subtitle_missing": "ErrMediathekNotReadySubtitle",
	"chapters_missing": "ErrMediathekNotReadyChapters",
}

func langName(code string) string {
	if l, ok := i18n.Lookup(code); ok {
		return l.Name
	}
	return code
}

// explainMedia turns the catalog's errors into a status and a problem in
// the person's language; other errors go to explain.
func (m *mediathek) explainMedia(c *gin.Context, err error) (int, problem) {
	l := localizer(c)
	var ie *catalog.InputError
	var ce *catalog.ConflictError
	var nr *catalog.NotReadyError
	switch {
	case errors.As(err, &ie):
		id, ok := mediathekMessages[ie.Code]
		if !ok {
			id = "ErrBadRequest"
		}
		status := http.StatusUnprocessableEntity
		if ie.Code == "slug_taken" || ie.Code == "item_published" {
			status = http.StatusConflict
		}
		lang := ""
		if _, code, ok := strings.Cut(ie.Field, "_"); ok {
			lang = langName(code)
		}
		msg := l.T(id, "Lang", lang, "MaxTitle", catalog.MaxTitleLen, "MaxDescription", catalog.MaxDescriptionLen,
			"MaxSlug", catalog.MaxSlugLen, "MaxQuery", catalog.MaxQueryLen, "MaxPage", maxMediaPage, "MaxPageSize", catalog.MaxPageSize,
			"MaxSeason", catalog.MaxSeason, "MaxNumber", catalog.MaxEpisodeNumber, "MaxDocVersion", catalog.MaxDocVersionLen)
		return status, problem{Field: ie.Field, Code: ie.Code, Message: msg}
	case errors.As(err, &ce):
		return http.StatusConflict, problem{Code: "conflict", Message: l.T("ErrMediathekConflict")}
	case errors.As(err, &nr):
		id, ok := notReadyMessages[nr.Code]
		if !ok {
			id = "ErrMediathekNotReady"
		}
		return http.StatusConflict, problem{Code: "not_ready_" + nr.Code, Message: l.T(id, "Lang", langName(nr.Language), "File", path.Base(nr.Key))}
	case errors.Is(err, catalog.ErrNotFound):
		return http.StatusNotFound, problem{Code: "not_found", Message: l.T("ErrMediathekNotFound")}
	case errors.Is(err, catalog.ErrBusy):
		c.Header("Retry-After", "2")
		return http.StatusConflict, problem{Code: "busy", Message: l.T("ErrMediathekBusy")}
	}
	return m.s.explain(c, err)
}

// explainQuery is explainMedia for the parameters of a list (filters,
// search, page): what is wrong with them is a 400.
func (m *mediathek) explainQuery(c *gin.Context, err error) (int, problem) {
	status, pr := m.explainMedia(c, err)
	if status == http.StatusUnprocessableEntity {
		status = http.StatusBadRequest
	}
	return status, pr
}

// fail answers with err on an error page or as a JSON error.
func (m *mediathek) fail(c *gin.Context, err error) {
	m.answer(c, m.explainMedia, err)
}

// failQuery answers with an error in a list's parameters.
func (m *mediathek) failQuery(c *gin.Context, err error) {
	m.answer(c, m.explainQuery, err)
}

func (m *mediathek) answer(c *gin.Context, explain func(*gin.Context, error) (int, problem), err error) {
	status, pr := explain(c, err)
	if isAPI(c) {
		writeJSONError(c.Writer, status, pr.Code, pr.Message)
		c.Abort()
		return
	}
	p := m.s.newPage(c, "ErrorPageTitle")
	p.Data = pr.Message
	m.s.render(c, status, "error", p)
	c.Abort()
}

// Browsing.

// mediaFilter is what a list of the mediathek is asked for, from the URL.
type mediaFilter struct {
	Q, Kind, Topic, Language, Status string
	Page                             int
}

// readFilter reads the list parameters of the URL; a wrong one is an
// *catalog.InputError (a 400). The filter is returned also then, so that
// the form can show what was asked.
func readFilter(c *gin.Context) (mediaFilter, error) {
	f := mediaFilter{
		Q: c.Query("q"), Kind: c.Query("kind"), Topic: c.Query("topic"),
		Language: c.Query("language"), Status: c.Query("status"), Page: 1,
	}
	// Keep what is echoed into the form short; the catalog refuses
	// anything over its limit anyway.
	if len(f.Q) > 4*catalog.MaxQueryLen+4 {
		f.Q = f.Q[:4*catalog.MaxQueryLen+4]
		return f, &catalog.InputError{Field: "q", Code: "query_too_long"}
	}
	for _, v := range []string{f.Kind, f.Topic, f.Language, f.Status} {
		if len(v) > 64 {
			f.Kind, f.Topic, f.Language, f.Status = "", "", "", ""
			return f, &catalog.InputError{Field: "kind", Code: "kind_invalid"}
		}
	}
	if p := c.Query("page"); p != "" {
		n, err := strconv.Atoi(p)
		if err != nil || n < 1 || n > maxMediaPage {
			return f, &catalog.InputError{Field: "page", Code: "page_invalid"}
		}
		f.Page = n
	}
	return f, nil
}

// search runs the filter for the viewer. Viewers' lists hold published
// items only, also for editors (who preview drafts from their own list);
// editors' lists may ask for a status (f.Status), "" for all.
func (m *mediathek) search(f mediaFilter, v catalog.Viewer, pageSize int, editorsList bool) (catalog.Result, error) {
	q := catalog.Query{
		Kind: catalog.Kind(f.Kind), Topic: catalog.Topic(f.Topic), Language: f.Language,
		Status: catalog.StatusPublished, Viewer: v, Page: f.Page, PageSize: pageSize,
	}
	if editorsList && v.Editor {
		q.Status = catalog.Status(f.Status)
	}
	return m.cat.Search(f.Q, q)
}

// values is the filter as URL parameters, for the given page.
func (f mediaFilter) values(page int) string {
	v := url.Values{}
	for k, x := range map[string]string{"q": f.Q, "kind": f.Kind, "topic": f.Topic, "language": f.Language, "status": f.Status} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	return v.Encode()
}

// pager is the navigation between the pages of a list.
type pager struct {
	Page, Pages, Total int
	Prev, Next         string // URLs, empty at the ends
}

func newPager(base string, f mediaFilter, res catalog.Result) pager {
	p := pager{Page: res.Page, Pages: res.Pages(), Total: res.Total}
	link := func(page int) string {
		if q := f.values(page); q != "" {
			return base + "?" + q
		}
		return base
	}
	if p.Page > 1 {
		p.Prev = link(min(p.Page-1, p.Pages))
	}
	if p.Page < p.Pages {
		p.Next = link(p.Page + 1)
	}
	return p
}

var kindLabels = map[catalog.Kind]string{
	catalog.KindVideo:    "MediathekKindVideo",
	catalog.KindEpisode:  "MediathekKindEpisode",
	catalog.KindDocument: "MediathekKindDocument",
}

var mediaTopicLabels = map[catalog.Topic]string{
	catalog.TopicMovement:   "MediathekTopicMovement",
	catalog.TopicNutrition:  "MediathekTopicNutrition",
	catalog.TopicRelaxation: "MediathekTopicRelaxation",
	catalog.TopicAddiction:  "MediathekTopicAddiction",
	catalog.TopicSleep:      "MediathekTopicSleep",
	catalog.TopicPain:       "MediathekTopicPain",
	catalog.TopicOther:      "MediathekTopicOther",
}

var statusLabels = map[catalog.Status]string{
	catalog.StatusDraft:      "MediathekStatusDraft",
	catalog.StatusProcessing: "MediathekStatusProcessing",
	catalog.StatusPublished:  "MediathekStatusPublished",
	catalog.StatusFailed:     "MediathekStatusFailed",
}

var audienceLabels = map[catalog.Audience]string{
	catalog.AudiencePublic:      "MediathekAudiencePublic",
	catalog.AudienceMultipliers: "MediathekAudienceMultipliers",
}

func label[K ~string](l *i18n.Localizer, ids map[K]string, k K) string {
	if id, ok := ids[k]; ok {
		return l.T(id)
	}
	return string(k)
}

// durationText writes a duration as a clock (1:05, 1:02:03) and as an ISO
// 8601 duration for <time datetime>.
func durationText(d time.Duration) (string, string) {
	if d <= 0 {
		return "", ""
	}
	s := int(d.Round(time.Second) / time.Second)
	h, min, sec := s/3600, s/60%60, s%60
	iso := "PT"
	if h > 0 {
		iso += strconv.Itoa(h) + "H"
	}
	if min > 0 {
		iso += strconv.Itoa(min) + "M"
	}
	iso += strconv.Itoa(sec) + "S"
	if h > 0 {
		return fmt.Sprintf("%d:%02d:%02d", h, min, sec), iso
	}
	return fmt.Sprintf("%d:%02d", min, sec), iso
}

// sizeText writes a file size in MB (kB below one) with the language's
// decimal separator.
func sizeText(l *i18n.Localizer, n int64) string {
	var s string
	switch {
	case n <= 0:
		return ""
	case n < 1_000_000:
		s = strconv.FormatInt((n+999)/1000, 10) + " kB"
	default:
		s = strconv.FormatFloat(float64(n)/1e6, 'f', 1, 64) + " MB"
	}
	switch l.Lang.Code {
	case "de", "tr", "ru":
		s = strings.Replace(s, ".", ",", 1)
	}
	return s
}

// textIn is a text of an item in the page's language or, when missing, in
// another one: Lang and Dir are then set, for the element's lang and dir.
type textIn struct {
	Text, Lang, Dir string
}

func pickText(l *i18n.Localizer, text, lang string) textIn {
	t := textIn{Text: text}
	if lang != "" && lang != l.Lang.Code {
		t.Lang, t.Dir = lang, "ltr"
		if lg, ok := i18n.Lookup(lang); ok {
			t.Dir = lg.Dir
		}
	}
	return t
}

// titleText is the item's title for the page's language.
func titleText(l *i18n.Localizer, it catalog.Item) textIn {
	text, lang := it.TitleIn(l.Lang.Code)
	return pickText(l, text, lang)
}

// shorten cuts s to about n runes at a word boundary.
func shorten(s string, n int) string {
	s = strings.Join(strings.Fields(s), " ")
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)[:n]
	cut := string(r)
	if i := strings.LastIndexByte(cut, ' '); i > n/2 {
		cut = cut[:i]
	}
	return strings.TrimRight(cut, " ,.;:–-") + "…"
}

// mediaURL is the address at which /media/ serves the item's object key.
func mediaURL(it catalog.Item, key string) string {
	rel := strings.TrimPrefix(key, it.Prefix())
	parts := strings.Split(rel, "/")
	for i, p := range parts {
		parts[i] = url.PathEscape(p)
	}
	return "/media/" + it.ID + "/" + strings.Join(parts, "/")
}

// mediaCard is an item in a list.
type mediaCard struct {
	Slug                  string
	Title, Description    textIn
	Kind, Topic           string
	Duration, DurationISO string
	Poster                string
	ForMultipliers        bool
	// Status is set for items that are not published (editors' lists).
	Status    string
	Languages []i18n.Lang
}

func newCard(l *i18n.Localizer, it catalog.Item) mediaCard {
	c := mediaCard{Slug: it.Slug, Kind: label(l, kindLabels, it.Kind), Topic: label(l, mediaTopicLabels, it.Topic),
		ForMultipliers: it.Audience == catalog.AudienceMultipliers}
	c.Title = titleText(l, it)
	desc, lang := it.DescriptionIn(l.Lang.Code)
	c.Description = pickText(l, shorten(desc, 160), lang)
	c.Duration, c.DurationISO = durationText(it.Duration)
	if it.Poster != "" {
		c.Poster = mediaURL(it, it.Poster)
	}
	if !it.IsPublished() {
		c.Status = label(l, statusLabels, it.Status)
	}
	for _, code := range it.Languages() {
		if lg, ok := i18n.Lookup(code); ok {
			c.Languages = append(c.Languages, lg)
		}
	}
	return c
}

type mediathekData struct {
	Filter                     mediaFilter
	Kinds, Topics, Languages   []option
	Items                      []mediaCard
	Pager                      pager
	Searched, Filtered, Failed bool
	CanEdit                    bool
	MaxQuery                   int
}

// filterOptions fills the filter form's choices.
func filterOptions(l *i18n.Localizer, f mediaFilter, d *mediathekData) {
	d.Kinds = []option{{Value: "", Label: l.T("MediathekFilterAllKinds")}}
	for _, k := range []catalog.Kind{catalog.KindVideo, catalog.KindEpisode} {
		d.Kinds = append(d.Kinds, option{Value: string(k), Label: label(l, kindLabels, k), Selected: string(k) == f.Kind})
	}
	d.Topics = []option{{Value: "", Label: l.T("MediathekFilterAllTopics")}}
	for _, t := range catalog.Topics {
		d.Topics = append(d.Topics, option{Value: string(t), Label: label(l, mediaTopicLabels, t), Selected: string(t) == f.Topic})
	}
	d.Languages = []option{{Value: "", Label: l.T("MediathekFilterAllLanguages")}}
	for _, lg := range i18n.Languages {
		d.Languages = append(d.Languages, option{Value: lg.Code, Label: lg.Name, Lang: lg.Code, Selected: lg.Code == f.Language})
	}
}

// browsePage lists the mediathek, newest first, with the search box and
// the filters; a wrong parameter shows the page with the problem (400).
func (m *mediathek) browsePage(c *gin.Context) {
	l := localizer(c)
	v := mediaViewer(account(c))
	p := m.s.newPage(c, "MediathekTitle")
	f, err := readFilter(c)
	var res catalog.Result
	if err == nil {
		f.Status = ""
		res, err = m.search(f, v, catalog.DefaultPageSize, false)
	}
	d := mediathekData{Filter: f, CanEdit: v.Editor, MaxQuery: catalog.MaxQueryLen,
		Searched: strings.TrimSpace(f.Q) != "", Filtered: f.Kind != "" || f.Topic != "" || f.Language != ""}
	filterOptions(l, f, &d)
	status := http.StatusOK
	if err != nil {
		var pr problem
		status, pr = m.explainQuery(c, err)
		if status >= 500 {
			m.fail(c, err)
			return
		}
		if pr.Field != "q" {
			pr.Field = "" // the others are no fields of the form
		}
		p.addProblem(pr)
		d.Failed = true
	} else {
		for _, it := range res.Items {
			d.Items = append(d.Items, newCard(l, it))
		}
		d.Pager = newPager("/mediathek", f, res)
	}
	p.Data = d
	m.s.render(c, status, "mediathek", p)
}

// The item page.

type versionOption struct {
	Lang     i18n.Lang
	Source   string // the master playlist's URL
	Selected bool
}

type subtitleOption struct {
	Lang i18n.Lang
	// Track is the URL of a WebVTT file for a <track> element, when the
	// subtitles are not a rendition of the HLS presentation.
	Track    string
	Selected bool
}

type downloadLink struct {
	URL, Label, Size string
	Lang             i18n.Lang
}

type mediaItemData struct {
	ID, Slug              string
	Title                 textIn
	Paragraphs            []string
	DescLang, DescDir     string
	Kind, KindCode, Topic string
	Duration, DurationISO string
	Published             string
	PublishedISO          string
	Poster                string
	ForMultipliers        bool
	// Status is set when the item is not published (editors' preview).
	Status    string
	CanEdit   bool
	Source    string // the chosen version's master playlist, "" when nothing plays
	Versions  []versionOption
	Subtitles []subtitleOption
	Downloads []downloadLink
	Document  bool
	// Scripts of the player.
	HLSScript, WorkerScript string
	StringsJSON             string
}

// playerStrings are the texts player.js shows, in the page's language.
func playerStrings(l *i18n.Localizer) string {
	b, _ := json.Marshal(map[string]string{
		"unsupported": l.T("MediathekPlayerUnsupported"),
		"failed":      l.T("MediathekPlayerFailed"),
		"language":    l.T("MediathekPlayerLanguage"),
		"subtitles":   l.T("MediathekPlayerSubtitles"),
		"subtitleOff": l.T("MediathekPlayerSubtitlesOff"),
	})
	return string(b)
}

// primaryLang reduces a BCP 47 tag ("de-DE") to its language ("de").
func primaryLang(tag string) string {
	lang, _, _ := strings.Cut(strings.ToLower(tag), "-")
	return lang
}

// downloadLabel names a download by its type.
func downloadLabel(l *i18n.Localizer, key string) string {
	switch strings.ToLower(path.Ext(key)) {
	case ".mp4", ".m4v", ".webm":
		return l.T("MediathekDownloadVideo", "Format", strings.ToUpper(strings.TrimPrefix(path.Ext(key), ".")))
	case ".m4a", ".mp3", ".aac", ".ogg", ".opus":
		return l.T("MediathekDownloadAudio", "Format", strings.ToUpper(strings.TrimPrefix(path.Ext(key), ".")))
	case ".pdf", ".docx", ".xlsx", ".pptx", ".odt", ".ods", ".odp", ".zip", ".png", ".jpg", ".jpeg":
		return l.T("MediathekDownloadDocument", "Format", strings.ToUpper(strings.TrimPrefix(path.Ext(key), ".")))
	}
	return l.T("MediathekDownloadFile")
}

// playableVersions returns the languages of the item's versions that
// viewers are offered (complete ones), in the order of catalog.Languages.
func playableVersions(it catalog.Item) []string {
	var out []string
	for _, lang := range catalog.Languages {
		if v, ok := it.Versions[lang]; ok && v.Complete() {
			out = append(out, lang)
		}
	}
	return out
}

// chooseVersion picks the version asked for, else the one in the page's
// language, else the first.
func chooseVersion(langs []string, asked, pageLang string) string {
	for _, want := range []string{asked, pageLang} {
		if want != "" && slices.Contains(langs, want) {
			return want
		}
	}
	if len(langs) > 0 {
		return langs[0]
	}
	return ""
}

func (m *mediathek) itemPage(c *gin.Context) {
	l := localizer(c)
	it, err := m.visibleItem(c, c.Param("slug"))
	if err != nil {
		m.fail(c, err)
		return
	}
	a := account(c)
	files, err := m.fileSet(c.Request.Context(), it, canEditMedia(a))
	if err != nil {
		m.fail(c, err)
		return
	}
	d := mediaItemData{
		ID: it.ID, Slug: it.Slug, KindCode: string(it.Kind),
		Kind: label(l, kindLabels, it.Kind), Topic: label(l, mediaTopicLabels, it.Topic),
		ForMultipliers: it.Audience == catalog.AudienceMultipliers, CanEdit: canEditMedia(a),
		Document:     it.Kind == catalog.KindDocument,
		HLSScript:    "/static/vendor/hls.min.js?v=" + m.s.assetVersion,
		WorkerScript: "/static/vendor/hls.worker.js?v=" + m.s.assetVersion,
		StringsJSON:  playerStrings(l),
	}
	d.Title = titleText(l, it)
	desc, descLang := it.DescriptionIn(l.Lang.Code)
	dt := pickText(l, desc, descLang)
	d.DescLang, d.DescDir = dt.Lang, dt.Dir
	for _, para := range strings.Split(strings.ReplaceAll(desc, "\r\n", "\n"), "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			d.Paragraphs = append(d.Paragraphs, para)
		}
	}
	d.Duration, d.DurationISO = durationText(it.Duration)
	if !it.Published.IsZero() {
		d.Published, d.PublishedISO = dateText(l, it.Published), it.Published.Format("2006-01-02")
	}
	if it.Poster != "" {
		d.Poster = mediaURL(it, it.Poster)
	}
	if !it.IsPublished() {
		d.Status = label(l, statusLabels, it.Status)
	}

	langs := playableVersions(it)
	masters := map[string]string{} // language → key of its master playlist
	var playable []string
	if !d.Document {
		for _, lang := range langs {
			if f, ok := it.Versions[lang].File(catalog.RoleMaster); ok {
				masters[lang] = f.Key
				playable = append(playable, lang)
			}
		}
	}
	chosen := chooseVersion(playable, c.Query("version"), l.Lang.Code)
	master := masters[chosen]
	for _, lang := range playable {
		lg, _ := i18n.Lookup(lang)
		d.Versions = append(d.Versions, versionOption{Lang: lg, Source: mediaURL(it, masters[lang]), Selected: lang == chosen})
	}
	if master != "" {
		d.Source = mediaURL(it, master)
	}
	if d.Source != "" {
		d.Subtitles = subtitleChoices(l, it, files.masters[master], c.Query("subtitles"), chosen)
	}

	if it.Downloadable || d.Document {
		for _, lang := range langs {
			lg, _ := i18n.Lookup(lang)
			var dl []catalog.File
			for _, f := range it.Versions[lang].Files {
				if f.Role == catalog.RoleDownload {
					dl = append(dl, f)
				}
			}
			if len(dl) == 0 && d.Document {
				for _, f := range it.Versions[lang].Files {
					if f.Role == catalog.RoleSource {
						dl = append(dl, f)
					}
				}
			}
			for _, f := range dl {
				d.Downloads = append(d.Downloads, downloadLink{
					URL: mediaURL(it, f.Key) + "?download=1", Label: downloadLabel(l, f.Key),
					Size: sizeText(l, f.Size), Lang: lg,
				})
			}
		}
	}

	if d.Source != "" {
		// hls.js gives the <track> elements it makes an empty data: WebVTT
		// file; with redirects, segments come from the bucket.
		add := map[string]string{"media-src": "data:"}
		if m.presign != nil {
			origin, err := m.presignOrigin(c.Request.Context(), master)
			if err != nil {
				m.fail(c, err)
				return
			}
			add["media-src"] += " " + origin
			add["connect-src"] = origin
		}
		c.Header("Content-Security-Policy", extendCSP(c.Writer.Header().Get("Content-Security-Policy"), add))
	}

	p := m.s.newPage(c, "MediathekTitle")
	p.Title = d.Title.Text
	p.Data = d
	m.s.render(c, http.StatusOK, "media_item", p)
}

// subtitleChoices lists the subtitles of the item: the renditions of the
// master playlist and the WebVTT files of the catalog that are not among
// them (as <track> elements). asked ("off" or a language) picks one;
// without it, subtitles in the page's language are on when the sound is
// in another language.
func subtitleChoices(l *i18n.Localizer, it catalog.Item, master hlsMaster, asked, soundLang string) []subtitleOption {
	inHLS := map[string]bool{}
	for _, r := range master.subtitles {
		inHLS[primaryLang(r.lang)] = true
	}
	var out []subtitleOption
	for _, lang := range catalog.Languages {
		lg, ok := i18n.Lookup(lang)
		if !ok {
			continue
		}
		key, inCatalog := it.Subtitles[lang]
		switch {
		case inHLS[lang]:
			out = append(out, subtitleOption{Lang: lg})
		case inCatalog:
			out = append(out, subtitleOption{Lang: lg, Track: mediaURL(it, key)})
		}
	}
	want := asked
	if want == "" && soundLang != l.Lang.Code {
		want = l.Lang.Code
	}
	for i := range out {
		out[i].Selected = out[i].Lang.Code == want
	}
	return out
}

// extendCSP adds sources to directives of a Content-Security-Policy.
func extendCSP(policy string, add map[string]string) string {
	parts := strings.Split(policy, ";")
	seen := map[string]bool{}
	for i, p := range parts {
		name, _, _ := strings.Cut(strings.TrimSpace(p), " ")
		if src, ok := add[name]; ok {
			parts[i] = strings.TrimSpace(p) + " " + src
			seen[name] = true
		} else {
			parts[i] = strings.TrimSpace(p)
		}
	}
	names := make([]string, 0, len(add))
	for name := range add {
		if !seen[name] {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		// A directive that was missing fell back to default-src 'self'.
		parts = append(parts, name+" 'self' "+add[name])
	}
	return strings.Join(parts, "; ")
}

// presignOrigin returns the scheme and host of the presigned URLs.
func (m *mediathek) presignOrigin(ctx context.Context, key string) (string, error) {
	m.originMu.Lock()
	origin := m.origin
	m.originMu.Unlock()
	if origin != "" {
		return origin, nil
	}
	raw, err := m.presign.PresignGet(ctx, key, presignExpiry)
	if err != nil {
		return "", err
	}
	u, err := url.Parse(raw)
	if err != nil || u.Scheme == "" || u.Host == "" {
		return "", fmt.Errorf("web: a presigned URL without origin: %q", raw)
	}
	origin = u.Scheme + "://" + u.Host
	m.originMu.Lock()
	m.origin = origin
	m.originMu.Unlock()
	return origin, nil
}

// The JSON API.

type mediaFileJSON struct {
	URL         string `json:"url"`
	ContentType string `json:"content_type"`
	Size        int64  `json:"size,omitempty"`
}

type mediaVersionJSON struct {
	Language  string          `json:"language"`
	Master    string          `json:"master,omitempty"`
	Downloads []mediaFileJSON `json:"downloads,omitempty"`
}

type mediaSubtitleJSON struct {
	Language string `json:"language"`
	URL      string `json:"url"`
}

// mediaItemJSON is an item as the API shows it. Status, StatusDetail and
// Revision are for editors only.
type mediaItemJSON struct {
	ID           string              `json:"id"`
	Slug         string              `json:"slug"`
	URL          string              `json:"url"`
	Kind         catalog.Kind        `json:"kind"`
	Title        map[string]string   `json:"title"`
	Description  map[string]string   `json:"description,omitempty"`
	Topic        catalog.Topic       `json:"topic"`
	Audience     catalog.Audience    `json:"audience"`
	Languages    []string            `json:"languages"`
	DurationMS   int64               `json:"duration_ms,omitempty"`
	Poster       string              `json:"poster,omitempty"`
	Downloadable bool                `json:"downloadable"`
	Versions     []mediaVersionJSON  `json:"versions"`
	Subtitles    []mediaSubtitleJSON `json:"subtitles,omitempty"`
	Published    *time.Time          `json:"published,omitempty"`
	Updated      time.Time           `json:"updated"`
	// Episodes only.
	Series   string `json:"series,omitempty"`
	Season   int    `json:"season,omitempty"`
	Number   int    `json:"number,omitempty"`
	Explicit bool   `json:"explicit,omitempty"`
	Chapters string `json:"chapters,omitempty"` // the chapters file's URL
	// Documents only.
	Category   catalog.DocumentCategory `json:"category,omitempty"`
	DocVersion string                   `json:"doc_version,omitempty"`

	Status catalog.Status `json:"status,omitempty"`
	// StatusDetail is a sentence in the request's language (itemJSONIn);
	// StatusReason its code and parameters when it is a reason.
	StatusDetail string      `json:"status_detail,omitempty"`
	StatusReason *reasonJSON `json:"status_reason,omitempty"`
	Revision     int         `json:"revision,omitempty"`
}

func itemJSON(it catalog.Item, editor bool) mediaItemJSON {
	j := mediaItemJSON{
		ID: it.ID, Slug: it.Slug, URL: "/mediathek/" + it.Slug, Kind: it.Kind, Title: it.Title, Description: it.Description,
		Topic: it.Topic, Audience: it.Audience, Languages: it.Languages(), DurationMS: it.Duration.Milliseconds(),
		Downloadable: it.Downloadable, Updated: it.Updated, Versions: []mediaVersionJSON{},
	}
	if j.Languages == nil {
		j.Languages = []string{}
	}
	if it.Poster != "" {
		j.Poster = mediaURL(it, it.Poster)
	}
	switch it.Kind {
	case catalog.KindEpisode:
		j.Series, j.Season, j.Number, j.Explicit = it.Series, it.Season, it.Number, it.Explicit
		if it.Chapters != "" {
			j.Chapters = mediaURL(it, it.Chapters)
		}
	case catalog.KindDocument:
		j.Category, j.DocVersion = it.Category, it.DocVersion
	}
	if !it.Published.IsZero() {
		pub := it.Published
		j.Published = &pub
	}
	for _, lang := range playableVersions(it) {
		v := mediaVersionJSON{Language: lang}
		for _, f := range it.Versions[lang].Files {
			switch {
			case f.Role == catalog.RoleMaster && v.Master == "":
				v.Master = mediaURL(it, f.Key)
			case f.Role == catalog.RoleDownload && (it.Downloadable || it.Kind == catalog.KindDocument):
				v.Downloads = append(v.Downloads, mediaFileJSON{URL: mediaURL(it, f.Key) + "?download=1", ContentType: mediaContentType(f.Key), Size: f.Size})
			}
		}
		j.Versions = append(j.Versions, v)
	}
	for _, lang := range catalog.Languages {
		if key, ok := it.Subtitles[lang]; ok {
			j.Subtitles = append(j.Subtitles, mediaSubtitleJSON{Language: lang, URL: mediaURL(it, key)})
		}
	}
	if editor {
		j.Status, j.StatusDetail, j.Revision = it.Status, it.StatusDetail, it.Revision
		j.StatusReason = statusReasonJSON(it.StatusDetail)
	}
	return j
}

// itemJSONIn is itemJSON with the status detail as a sentence in l's
// language.
func itemJSONIn(l *i18n.Localizer, it catalog.Item, editor bool) mediaItemJSON {
	j := itemJSON(it, editor)
	if editor {
		j.StatusDetail = statusDetailText(l, it.StatusDetail)
	}
	return j
}

// apiList lists or searches the mediathek: the parameters of /mediathek
// (q, kind, topic, language, page; status for editors) and page_size.
func (m *mediathek) apiList(c *gin.Context) {
	v := mediaViewer(account(c))
	f, err := readFilter(c)
	size := catalog.DefaultPageSize
	if err == nil && c.Query("page_size") != "" {
		n, convErr := strconv.Atoi(c.Query("page_size"))
		if convErr != nil || n < 1 || n > catalog.MaxPageSize {
			err = &catalog.InputError{Field: "page_size", Code: "page_size_invalid"}
		}
		size = n
	}
	var res catalog.Result
	if err == nil {
		res, err = m.search(f, v, size, v.Editor && f.Status != "")
	}
	if err != nil {
		m.failQuery(c, err)
		return
	}
	items := make([]mediaItemJSON, 0, len(res.Items))
	for _, it := range res.Items {
		items = append(items, itemJSONIn(localizer(c), it, v.Editor))
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"items": items, "total": res.Total, "page": res.Page, "page_size": res.PageSize, "pages": res.Pages()})
}

func (m *mediathek) apiItem(c *gin.Context) {
	it, err := m.visibleItem(c, c.Param("slug"))
	if err != nil {
		m.fail(c, err)
		return
	}
	c.Header("Cache-Control", "no-store")
	c.JSON(http.StatusOK, gin.H{"item": itemJSONIn(localizer(c), it, canEditMedia(account(c)))})
}
