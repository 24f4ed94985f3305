package web

// The mediathek's editor pages under /manage/mediathek: the list with each
// item's status, creating and editing an item's texts and settings (with
// its revision, so that concurrent edits are noticed), publishing,
// unpublishing and deleting.

import (
	"context"
	"errors"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"portalo/catalog"
	"portalo/podcasts"
	"portalo/web/i18n"
)

// manageRow is an item in the editor's list.
type manageRow struct {
	ID, Slug   string
	Title      textIn
	Kind       string
	StatusCode string
	Status     string
	// Detail says what processing does or why it failed.
	Detail   string
	Progress int // percent, when HasProgress
	// HasProgress: the processing reported how far it is.
	HasProgress bool
	Audience    string
	Updated     string
}

type manageData struct {
	Filter   mediaFilter
	Statuses []option
	Rows     []manageRow
	Pager    pager
	MaxQuery int
}

// statusOf describes the item's status for the editor.
func (m *mediathek) statusOf(c *gin.Context, it catalog.Item) (status, detail string, progress int, hasProgress bool) {
	l := localizer(c)
	status, detail = label(l, statusLabels, it.Status), statusDetailText(l, it.StatusDetail)
	if it.Status == catalog.StatusProcessing && m.s.cfg.MediaProgress != nil {
		if f, ok := m.s.cfg.MediaProgress.Progress(c.Request.Context(), it.ID); ok {
			progress, hasProgress = int(math.Round(math.Max(0, math.Min(1, f))*100)), true
		}
	}
	return status, detail, progress, hasProgress
}

// reasonMessages map the processing's reason codes (package processing)
// to messages; an unknown code gets MediathekReasonUnknown.
var reasonMessages = map[string]string{
	"source_gone":       "MediathekReasonSourceGone",
	"input_missing":     "MediathekReasonInputMissing",
	"subtitles_invalid": "MediathekReasonSubtitlesInvalid",
	"not_media":         "MediathekReasonNotMedia",
	"input_unreadable":  "MediathekReasonInputUnreadable",
	"tool_failed":       "MediathekReasonToolFailed",
	"inputs_mismatch":   "MediathekReasonInputsMismatch",
	"store_failed":      "MediathekReasonStoreFailed",
	"queue_failed":      "MediathekReasonQueueFailed",
	"failed":            "MediathekReasonFailed",
}

// reasonInputs name a reason's input (its "input" parameter).
var reasonInputs = map[string]string{
	"source":    "MediathekReasonInputSource",
	"sound":     "MediathekReasonInputSound",
	"subtitles": "MediathekReasonInputSubtitles",
	"file":      "MediathekReasonInputFile",
}

// reasonSteps name what ffmpeg did (a reason's "step"); other steps are
// shown as they are.
var reasonSteps = map[string]string{
	"probe":     "MediathekReasonStepProbe",
	"encode":    "MediathekReasonStepEncode",
	"poster":    "MediathekReasonStepPoster",
	"download":  "MediathekReasonStepDownload",
	"subtitles": "MediathekReasonStepSubtitles",
	"timeline":  "MediathekReasonStepCheck",
	"codec":     "MediathekReasonStepCheck",
}

// reasonOps name what the object store did (a reason's "op").
var reasonOps = map[string]string{
	"read":  "MediathekReasonOpRead",
	"write": "MediathekReasonOpWrite",
}

// statusDetailText is an item's status detail for editors: a reason
// (catalog.ParseReason) as a sentence in their language, other text (from
// before reasons, or by hand) as it is.
func statusDetailText(l *i18n.Localizer, detail string) string {
	r, ok := catalog.ParseReason(detail)
	if !ok {
		return detail
	}
	id, ok := reasonMessages[r.Code]
	if !ok {
		return l.T("MediathekReasonUnknown")
	}
	p := r.Params
	lang := ""
	if p["lang"] != "" {
		lang = langName(p["lang"])
	}
	input := ""
	if inputID, ok := reasonInputs[p["input"]]; ok {
		input = l.T(inputID, "File", p["file"], "Lang", lang)
	} else {
		input = l.T("MediathekReasonInputFile", "File", p["file"], "Lang", lang)
	}
	step := p["step"]
	if stepID, ok := reasonSteps[step]; ok {
		step = l.T(stepID)
	}
	op := l.T("MediathekReasonOpOther")
	if opID, ok := reasonOps[p["op"]]; ok {
		op = l.T(opID)
	}
	detailText := ""
	if p["detail"] != "" {
		detailText = " (" + p["detail"] + ")"
	}
	return l.T(id, "Input", input, "File", p["file"], "Lang", lang, "Step", step, "Exit", p["exit"], "Op", op, "Detail", detailText)
}

// reasonJSON is a status detail's reason in the API.
type reasonJSON struct {
	Code   string            `json:"code"`
	Params map[string]string `json:"params,omitempty"`
}

// statusReasonJSON returns the reason of a status detail, nil for free
// text.
func statusReasonJSON(detail string) *reasonJSON {
	r, ok := catalog.ParseReason(detail)
	if !ok {
		return nil
	}
	return &reasonJSON{Code: r.Code, Params: r.Params}
}

func (m *mediathek) managePage(c *gin.Context) {
	l := localizer(c)
	p := m.s.newPage(c, "MediathekManageTitle")
	f, err := readFilter(c)
	var res catalog.Result
	if err == nil {
		f.Kind, f.Topic, f.Language = "", "", ""
		res, err = m.search(f, catalog.Viewer{Editor: true}, catalog.DefaultPageSize, true)
	}
	d := manageData{Filter: f, MaxQuery: catalog.MaxQueryLen}
	d.Statuses = []option{{Value: "", Label: l.T("MediathekFilterAllStatuses")}}
	for _, st := range catalog.Statuses {
		d.Statuses = append(d.Statuses, option{Value: string(st), Label: label(l, statusLabels, st), Selected: string(st) == f.Status})
	}
	status := http.StatusOK
	if err != nil {
		var pr problem
		status, pr = m.explainQuery(c, err)
		if status >= 500 {
			m.fail(c, err)
			return
		}
		if pr.Field != "q" {
			pr.Field = ""
		}
		p.addProblem(pr)
	} else {
		for _, it := range res.Items {
			r := manageRow{ID: it.ID, Slug: it.Slug, Kind: label(l, kindLabels, it.Kind), StatusCode: string(it.Status),
				Audience: label(l, audienceLabels, it.Audience), Updated: dateText(l, it.Updated)}
			r.Title = titleText(l, it)
			r.Status, r.Detail, r.Progress, r.HasProgress = m.statusOf(c, it)
			d.Rows = append(d.Rows, r)
		}
		d.Pager = newPager("/manage/mediathek", f, res)
	}
	p.Data = d
	m.s.render(c, status, "mediathek_manage", p)
}

// categoryLabels are the message IDs of the document categories' names,
// for editors and for the multipliers' materials alike.
var categoryLabels = map[catalog.DocumentCategory]string{
	catalog.CategoryPromotional: "MediathekCategoryPromotional",
	catalog.CategoryProject:     "MediathekCategoryProject",
	catalog.CategoryGuide:       "MediathekCategoryGuide",
	catalog.CategoryForm:        "MediathekCategoryForm",
	catalog.CategoryReport:      "MediathekCategoryReport",
	catalog.CategoryOther:       "MediathekCategoryOther",
}

// conflictField is a field whose stored value differs from what the
// editor sent when their save came too late.
type conflictField struct {
	Label string
	Value textIn
}

type mediaEditData struct {
	// ID is empty on the page that creates an item.
	ID, Slug                 string
	Kinds, Topics, Audiences []option
	Categories               []option
	Series                   []option // the podcast series an episode can be in
	// Episode and Document say which of the kind's own fields the form
	// shows: those of the item's kind, and both on the create page.
	Episode, Document          bool
	MaxSeason, MaxNumber       int
	MaxDocVersion              int
	Texts                      []option // one per language: Value = code, Label = name
	MaxTitle, MaxDesc, MaxSlug int
	// The item's state (edit page only).
	StatusCode, Status, Detail string
	Progress                   int
	// CanRetry: processing failed and can run again.
	CanRetry    bool
	HasProgress bool
	Published   bool
	PreviewURL  string
	Duration    string
	Versions    []i18n.Lang
	Subtitles   []i18n.Lang
	HasPoster   bool
	// Conflict lists what someone else saved meanwhile.
	Conflict []conflictField
	// Item is the item being edited, for the upload widget's block.
	Item catalog.Item
}

func formFromItem(p *page, it catalog.Item) {
	p.Form["kind"], p.Form["slug"] = string(it.Kind), it.Slug
	p.Form["topic"], p.Form["audience"] = string(it.Topic), string(it.Audience)
	for _, lang := range catalog.Languages {
		p.Form["title_"+lang], p.Form["description_"+lang] = it.Title[lang], it.Description[lang]
	}
	p.Form["downloadable"] = ""
	if it.Downloadable {
		p.Form["downloadable"] = "1"
	}
	p.Form["revision"] = strconv.Itoa(it.Revision)
	p.Form["series"], p.Form["season"], p.Form["number"] = it.Series, numberText(it.Season), numberText(it.Number)
	p.Form["explicit"] = ""
	if it.Explicit {
		p.Form["explicit"] = "1"
	}
	p.Form["category"], p.Form["doc_version"] = string(it.Category), it.DocVersion
}

// numberText writes a season or episode number for the form: "" for none.
func numberText(n int) string {
	if n == 0 {
		return ""
	}
	return strconv.Itoa(n)
}

// formNumber reads a season or episode number: empty is 0 (none), and
// what is not a whole number is -1, which the catalog refuses.
func formNumber(v string) int {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 0 {
		return -1
	}
	return n
}

// metaFromForm reads the editor's form into p.Form and a catalog.Meta.
func metaFromForm(c *gin.Context, p *page) catalog.Meta {
	meta := catalog.Meta{Title: map[string]string{}, Description: map[string]string{}}
	for _, lang := range catalog.Languages {
		// Descriptions are longer than other fields: the body limit
		// bounds them and the catalog checks their length.
		p.Form["title_"+lang], p.Form["description_"+lang] = c.PostForm("title_"+lang), c.PostForm("description_"+lang)
		meta.Title[lang], meta.Description[lang] = p.Form["title_"+lang], p.Form["description_"+lang]
	}
	for _, f := range []string{"kind", "slug", "topic", "audience", "revision", "series", "season", "number", "category", "doc_version"} {
		p.Form[f] = formValue(c, f)
	}
	for _, f := range []string{"downloadable", "explicit"} {
		p.Form[f] = ""
		if formValue(c, f) != "" {
			p.Form[f] = "1"
		}
	}
	meta.Kind, meta.Slug = catalog.Kind(p.Form["kind"]), p.Form["slug"]
	meta.Topic, meta.Audience = catalog.Topic(p.Form["topic"]), catalog.Audience(p.Form["audience"])
	meta.Downloadable = p.Form["downloadable"] != ""
	meta.Series, meta.Season, meta.Number = p.Form["series"], formNumber(p.Form["season"]), formNumber(p.Form["number"])
	meta.Explicit = p.Form["explicit"] != ""
	meta.Category, meta.DocVersion = catalog.DocumentCategory(p.Form["category"]), p.Form["doc_version"]
	return meta
}

// editForm fills the data of the create (it == nil) or edit page.
func (m *mediathek) editForm(c *gin.Context, p *page, it *catalog.Item) {
	l := p.L
	d := mediaEditData{MaxTitle: catalog.MaxTitleLen, MaxDesc: catalog.MaxDescriptionLen, MaxSlug: catalog.MaxSlugLen,
		MaxSeason: catalog.MaxSeason, MaxNumber: catalog.MaxEpisodeNumber, MaxDocVersion: catalog.MaxDocVersionLen}
	d.Episode = it == nil || p.Form["kind"] == string(catalog.KindEpisode)
	d.Document = it == nil || p.Form["kind"] == string(catalog.KindDocument)
	d.Series = []option{{Value: "", Label: l.T("MediathekSeriesNone"), Selected: p.Form["series"] == ""}}
	if m.s.cfg.Podcasts != nil {
		list, err := m.s.cfg.Podcasts.ListSeries(c.Request.Context())
		if err != nil {
			m.s.cfg.Logger.Warn("mediathek: listing the podcast series", "err", err)
		}
		for _, sr := range list {
			title, lang := sr.TitleIn(l.Lang.Code)
			d.Series = append(d.Series, option{Value: sr.ID, Label: title, Lang: lang, Selected: p.Form["series"] == sr.ID})
		}
	}
	// A series that is gone (or an entry that names none) stays visible,
	// so that the editor sees what was refused.
	if v := p.Form["series"]; v != "" && !slices.ContainsFunc(d.Series, func(o option) bool { return o.Value == v }) {
		d.Series = append(d.Series, option{Value: v, Label: v, Selected: true})
	}
	d.Categories = []option{{Value: "", Label: l.T("MediathekCategoryNone"), Selected: p.Form["category"] == ""}}
	for _, cat := range catalog.DocumentCategories {
		d.Categories = append(d.Categories, option{Value: string(cat), Label: label(l, categoryLabels, cat), Selected: p.Form["category"] == string(cat)})
	}
	for _, k := range catalog.Kinds {
		d.Kinds = append(d.Kinds, option{Value: string(k), Label: label(l, kindLabels, k), Selected: p.Form["kind"] == string(k)})
	}
	for _, t := range catalog.Topics {
		d.Topics = append(d.Topics, option{Value: string(t), Label: label(l, mediaTopicLabels, t), Selected: p.Form["topic"] == string(t)})
	}
	for _, a := range catalog.Audiences {
		d.Audiences = append(d.Audiences, option{Value: string(a), Label: label(l, audienceLabels, a), Selected: p.Form["audience"] == string(a)})
	}
	for _, code := range catalog.Languages {
		if lg, ok := i18n.Lookup(code); ok {
			d.Texts = append(d.Texts, option{Value: lg.Code, Label: lg.Name, Lang: lg.Code})
		}
	}
	if it != nil {
		d.ID, d.Slug, d.Item = it.ID, it.Slug, *it
		d.StatusCode, d.Published, d.PreviewURL = string(it.Status), it.IsPublished(), "/mediathek/"+it.Slug
		d.Status, d.Detail, d.Progress, d.HasProgress = m.statusOf(c, *it)
		_, canRetry := m.s.cfg.MediaProgress.(mediaRetrier)
		d.CanRetry = canRetry && it.Status == catalog.StatusFailed
		d.Duration, _ = durationText(it.Duration)
		d.HasPoster = it.Poster != ""
		for _, code := range catalog.Languages {
			lg, _ := i18n.Lookup(code)
			if v, ok := it.Versions[code]; ok && len(v.Files) > 0 {
				d.Versions = append(d.Versions, lg)
			}
			if _, ok := it.Subtitles[code]; ok {
				d.Subtitles = append(d.Subtitles, lg)
			}
		}
	}
	p.Data = d
}

func (m *mediathek) newPage(c *gin.Context) {
	p := m.s.newPage(c, "MediathekNewTitle")
	p.Form["kind"], p.Form["topic"], p.Form["audience"] = string(catalog.KindVideo), string(catalog.TopicMovement), string(catalog.AudiencePublic)
	m.editForm(c, p, nil)
	m.s.render(c, http.StatusOK, "mediathek_edit", p)
}

func (m *mediathek) editPage(c *gin.Context) {
	it, err := m.cat.Get(c.Param("id"))
	if err != nil {
		m.fail(c, err)
		return
	}
	p := m.s.newPage(c, "MediathekEditTitle")
	formFromItem(p, it)
	m.editForm(c, p, &it)
	m.s.render(c, http.StatusOK, "mediathek_edit", p)
}

// createItem stores a new draft and goes on to its edit page, where its
// files are uploaded.
func (m *mediathek) createItem(c *gin.Context) {
	if !m.s.parseForm(c) {
		return
	}
	p := m.s.newPage(c, "MediathekNewTitle")
	meta := metaFromForm(c, p)
	if err := m.bindSeries(c.Request.Context(), &meta); err != nil {
		m.formProblem(c, p, nil, err)
		return
	}
	it, err := m.cat.Create(c.Request.Context(), meta)
	if err != nil {
		m.formProblem(c, p, nil, err)
		return
	}
	m.s.flashAndRedirect(c, "FlashMediathekCreated", "/manage/mediathek/"+it.ID)
}

// saveItem updates an item's texts and settings from the revision the
// editor started from. When someone else saved it meanwhile, the page
// comes back (409) with the editor's entries, what is stored now, and the
// new revision: saving again applies the entries over it.
func (m *mediathek) saveItem(c *gin.Context) {
	if !m.s.parseForm(c) {
		return
	}
	p := m.s.newPage(c, "MediathekEditTitle")
	meta := metaFromForm(c, p)
	rev, err := strconv.Atoi(p.Form["revision"])
	if err != nil {
		rev = 0 // the catalog answers with a conflict
	}
	if err := m.bindSeries(c.Request.Context(), &meta); err != nil {
		m.formProblem(c, p, &meta, err)
		return
	}
	it, err := m.cat.Update(c.Request.Context(), c.Param("id"), rev, meta)
	if err != nil {
		m.formProblem(c, p, &meta, err)
		return
	}
	m.s.flashAndRedirect(c, "FlashMediathekSaved", "/manage/mediathek/"+it.ID)
}

// bindSeries checks an episode's series and gives the episode the
// series' audience when that is the multipliers': an episode of the
// professionals' series is never public, wherever it is reached
// (/mediathek, /media, /podcasts).
func (m *mediathek) bindSeries(ctx context.Context, meta *catalog.Meta) error {
	if meta.Kind != catalog.KindEpisode || meta.Series == "" || m.s.cfg.Podcasts == nil {
		return nil
	}
	sr, err := m.s.cfg.Podcasts.GetSeries(ctx, meta.Series)
	if errors.Is(err, podcasts.ErrNotFound) {
		return &catalog.InputError{Field: "series", Code: "series_invalid"}
	}
	if err != nil {
		return err
	}
	if sr.Audience == podcasts.AudienceMultipliers {
		meta.Audience = catalog.AudienceMultipliers
	}
	return nil
}

// formProblem shows the create or edit page again with the entries kept
// and the problem at its field; sent is what the editor saved (nil when
// creating).
func (m *mediathek) formProblem(c *gin.Context, p *page, sent *catalog.Meta, err error) {
	status, pr := m.explainMedia(c, err)
	if status >= 500 || status == http.StatusNotFound {
		m.fail(c, err)
		return
	}
	var it *catalog.Item
	if sent != nil {
		cur, getErr := m.cat.Get(c.Param("id"))
		if getErr != nil {
			m.fail(c, getErr)
			return
		}
		it = &cur
		var ce *catalog.ConflictError
		if errors.As(err, &ce) {
			pr.Message = p.L.T("ErrMediathekConflict")
			p.Form["revision"] = strconv.Itoa(cur.Revision)
		}
	}
	if pr.Field == "title" {
		pr.Field = "title_" + catalog.Languages[0]
	}
	p.addProblem(pr)
	m.editForm(c, p, it)
	if sent != nil && pr.Code == "conflict" {
		d := p.Data.(mediaEditData)
		d.Conflict = conflictFields(p.L, *sent, *it)
		p.Data = d
	}
	m.s.render(c, status, "mediathek_edit", p)
}

// conflictFields lists the fields whose stored value differs from what
// the editor sent.
func conflictFields(l *i18n.Localizer, sent catalog.Meta, cur catalog.Item) []conflictField {
	var out []conflictField
	add := func(labelID string, sentV, curV, lang string, pairs ...any) {
		if strings.TrimSpace(sentV) == curV {
			return
		}
		v := pickText(l, curV, lang)
		if curV == "" {
			v = textIn{Text: l.T("MediathekConflictEmpty")}
		}
		out = append(out, conflictField{Label: l.T(labelID, pairs...), Value: v})
	}
	if sent.Kind != cur.Kind {
		out = append(out, conflictField{Label: l.T("MediathekFieldKind"), Value: textIn{Text: label(l, kindLabels, cur.Kind)}})
	}
	if sent.Slug != "" {
		add("MediathekFieldSlug", sent.Slug, cur.Slug, "")
	}
	for _, lang := range catalog.Languages {
		add("MediathekFieldTitle", sent.Title[lang], cur.Title[lang], lang, "Lang", langName(lang))
	}
	for _, lang := range catalog.Languages {
		add("MediathekFieldDescription", sent.Description[lang], cur.Description[lang], lang, "Lang", langName(lang))
	}
	if sent.Topic != cur.Topic {
		out = append(out, conflictField{Label: l.T("MediathekFieldTopic"), Value: textIn{Text: label(l, mediaTopicLabels, cur.Topic)}})
	}
	if sent.Audience != cur.Audience {
		out = append(out, conflictField{Label: l.T("MediathekFieldAudience"), Value: textIn{Text: label(l, audienceLabels, cur.Audience)}})
	}
	yesNo := func(b bool) textIn {
		if b {
			return textIn{Text: l.T("MediathekYes")}
		}
		return textIn{Text: l.T("MediathekNo")}
	}
	if sent.Downloadable != cur.Downloadable {
		out = append(out, conflictField{Label: l.T("MediathekFieldDownloadable"), Value: yesNo(cur.Downloadable)})
	}
	if cur.Kind == catalog.KindEpisode && sent.Kind == catalog.KindEpisode {
		add("MediathekFieldSeries", sent.Series, cur.Series, "")
		add("MediathekFieldSeason", numberText(max(sent.Season, 0)), numberText(cur.Season), "")
		add("MediathekFieldNumber", numberText(max(sent.Number, 0)), numberText(cur.Number), "")
		if sent.Explicit != cur.Explicit {
			out = append(out, conflictField{Label: l.T("MediathekFieldExplicit"), Value: yesNo(cur.Explicit)})
		}
	}
	if cur.Kind == catalog.KindDocument && sent.Kind == catalog.KindDocument {
		if sent.Category != cur.Category {
			v := textIn{Text: l.T("MediathekCategoryNone")}
			if cur.Category != "" {
				v = textIn{Text: label(l, categoryLabels, cur.Category)}
			}
			out = append(out, conflictField{Label: l.T("MediathekFieldCategory"), Value: v})
		}
		add("MediathekFieldDocVersion", sent.DocVersion, cur.DocVersion, "")
	}
	return out
}

func (m *mediathek) publishItem(c *gin.Context) {
	m.changeState(c, "FlashMediathekPublished", func(id string) (catalog.Item, error) {
		return m.cat.Publish(c.Request.Context(), id)
	})
}

// mediaRetrier runs the processing of an item again (processing.Processor).
type mediaRetrier interface {
	Retry(ctx context.Context, itemID string) error
}

// retryItem runs a failed processing again.
func (m *mediathek) retryItem(c *gin.Context) {
	r, ok := m.s.cfg.MediaProgress.(mediaRetrier)
	if !ok {
		m.s.fail(c, http.StatusNotFound, "not_found", "ErrNotFound")
		return
	}
	id := c.Param("id")
	if err := r.Retry(c.Request.Context(), id); err != nil {
		m.fail(c, err)
		return
	}
	m.s.flashAndRedirect(c, "FlashMediathekRetried", "/manage/mediathek/"+id)
}

func (m *mediathek) unpublishItem(c *gin.Context) {
	m.changeState(c, "FlashMediathekUnpublished", func(id string) (catalog.Item, error) {
		return m.cat.Unpublish(c.Request.Context(), id)
	})
}

// changeState publishes or unpublishes; when the catalog refuses, the edit
// page says why.
func (m *mediathek) changeState(c *gin.Context, flashID string, change func(id string) (catalog.Item, error)) {
	it, err := change(c.Param("id"))
	if err == nil {
		m.s.flashAndRedirect(c, flashID, "/manage/mediathek/"+it.ID)
		return
	}
	status, pr := m.explainMedia(c, err)
	if status >= 500 || status == http.StatusNotFound {
		m.fail(c, err)
		return
	}
	cur, getErr := m.cat.Get(c.Param("id"))
	if getErr != nil {
		m.fail(c, getErr)
		return
	}
	p := m.s.newPage(c, "MediathekEditTitle")
	formFromItem(p, cur)
	pr.Field = ""
	p.addProblem(pr)
	m.editForm(c, p, &cur)
	m.s.render(c, status, "mediathek_edit", p)
}

type mediaDeleteData struct {
	ID    string
	Title textIn
}

func (m *mediathek) deletePage(c *gin.Context) {
	it, err := m.cat.Get(c.Param("id"))
	if err != nil {
		m.fail(c, err)
		return
	}
	p := m.s.newPage(c, "MediathekDeleteTitle")
	p.Data = mediaDeleteData{ID: it.ID, Title: titleText(p.L, it)}
	m.s.render(c, http.StatusOK, "mediathek_delete", p)
}

// deleteItem removes an item with all its files, once the editor
// confirmed it on the delete page.
func (m *mediathek) deleteItem(c *gin.Context) {
	if !m.s.parseForm(c) {
		return
	}
	if formValue(c, "confirm") != "yes" {
		it, err := m.cat.Get(c.Param("id"))
		if err != nil {
			m.fail(c, err)
			return
		}
		p := m.s.newPage(c, "MediathekDeleteTitle")
		p.addProblem(problem{Field: "confirm", Code: "confirm_required", Message: p.L.T("ErrMediathekConfirmDelete")})
		p.Data = mediaDeleteData{ID: it.ID, Title: titleText(p.L, it)}
		m.s.render(c, http.StatusUnprocessableEntity, "mediathek_delete", p)
		return
	}
	if err := m.cat.Delete(c.Request.Context(), c.Param("id")); err != nil {
		m.fail(c, err)
		return
	}
	m.s.flashAndRedirect(c, "FlashMediathekDeleted", "/manage/mediathek")
}
