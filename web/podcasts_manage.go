package web

// The editors' pages of the podcasts: the series with create, edit and
// delete (all of podcasts.SeriesMeta, the category from Apple's list, a
// cover image), and per series its episodes with their download counts.

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"image"
	_ "image/jpeg" // cover images
	_ "image/png"
	"io"
	"mime/multipart"
	"net/http"
	"strings"

	"github.com/gin-gonic/gin"

	"portalo/catalog"
	"portalo/podcasts"
	"portalo/web/i18n"
)

const (
	// maxCoverBytes bounds a cover image; maxCoverForm the form carrying it.
	maxCoverBytes = 5 << 20
	maxCoverForm  = maxCoverBytes + 256<<10
	// Apple's limits on a cover: square, 1400 to 3000 pixels.
	minCoverPixels = 1400
	maxCoverPixels = 3000
	// statsDays are the recent days whose downloads the editor sees.
	statsDays = 30
)

// podcastMessages maps the podcasts package's input error codes, and the
// cover's, to messages.
var podcastMessages = map[string]string{
	"title_required":        "PodcastErrTitleRequired",
	"title_invalid":         "PodcastErrTitleInvalid",
	"title_too_long":        "PodcastErrTitleTooLong",
	"description_required":  "PodcastErrDescriptionRequired",
	"description_invalid":   "PodcastErrDescriptionInvalid",
	"description_too_long":  "PodcastErrDescriptionTooLong",
	"text_language_invalid": "PodcastErrLanguage",
	"slug_invalid":          "PodcastErrSlugInvalid",
	"slug_taken":            "PodcastErrSlugTaken",
	"language_invalid":      "PodcastErrLanguage",
	"category_invalid":      "PodcastErrCategory",
	"subcategory_invalid":   "PodcastErrCategory",
	"audience_invalid":      "PodcastErrAudience",
	"author_invalid":        "PodcastErrAuthorInvalid",
	"author_too_long":       "PodcastErrAuthorTooLong",
	"owner_email_invalid":   "PodcastErrEmail",
	"image_invalid":         "PodcastErrCoverType",
	"cover_too_large":       "PodcastErrCoverTooLarge",
	"cover_type":            "PodcastErrCoverType",
	"cover_size":            "PodcastErrCoverSize",
}

// explainSeries turns the podcasts package's errors into a status and a
// problem in the person's language.
func (p *podcastSite) explainSeries(c *gin.Context, err error) (int, problem) {
	l := localizer(c)
	var ie *podcasts.InputError
	switch {
	case errors.As(err, &ie):
		id, ok := podcastMessages[ie.Code]
		if !ok {
			id = "ErrBadRequest"
		}
		field := ie.Field
		switch field {
		case "title", "description":
			field += "_" + podcasts.Languages[0]
		case "subcategory":
			field = "category"
		case "image":
			field = "cover"
		}
		lang := ""
		if _, code, ok := strings.Cut(field, "_"); ok && podcasts.ValidLanguage(code) {
			lang = langName(code)
		}
		status := http.StatusUnprocessableEntity
		if ie.Code == "slug_taken" {
			status = http.StatusConflict
		}
		if ie.Code == "cover_too_large" {
			status = http.StatusRequestEntityTooLarge
		}
		msg := l.T(id, "Lang", lang, "MaxTitle", podcasts.MaxTitleLen, "MaxDescription", podcasts.MaxDescriptionLen,
			"MaxAuthor", podcasts.MaxAuthorLen, "MaxSlug", podcasts.MaxSlugLen, "MaxMB", maxCoverBytes>>20,
			"Min", minCoverPixels, "Max", maxCoverPixels)
		return status, problem{Field: field, Code: ie.Code, Message: msg}
	case errors.Is(err, podcasts.ErrNotFound):
		return http.StatusNotFound, problem{Code: "not_found", Message: l.T("PodcastNotFound")}
	}
	return p.s.explain(c, err)
}

type langText struct {
	Lang  i18n.Lang
	Value string
}

// seriesForm is the edit page of a series.
type seriesForm struct {
	ID, Slug, URL        string
	Titles, Descriptions []langText
	Languages            []option
	Categories           []option
	Audiences            []option
	Explicit, Locked     bool
	Author, OwnerEmail   string
	Cover                string
	HasCover             bool
	MaxCoverMB           int
	MinCover, MaxCover   int
	MaxTitle, MaxDesc    int
	Episodes             []episodeRow
	StatsDays            int
}

var seriesAudienceLabels = map[podcasts.Audience]string{
	podcasts.AudiencePublic:      "PodcastAudiencePublic",
	podcasts.AudienceMultipliers: "PodcastAudienceMultipliers",
}

func (p *podcastSite) newSeriesForm(l *i18n.Localizer, sr podcasts.Series) seriesForm {
	f := seriesForm{ID: sr.ID, Slug: sr.Slug, Explicit: sr.Explicit, Locked: sr.Locked, Author: sr.Author, OwnerEmail: sr.OwnerEmail,
		HasCover: sr.Image != "", MaxCoverMB: maxCoverBytes >> 20, MinCover: minCoverPixels, MaxCover: maxCoverPixels,
		MaxTitle: podcasts.MaxTitleLen, MaxDesc: podcasts.MaxDescriptionLen, StatsDays: statsDays}
	if sr.ID != "" {
		f.URL = seriesBase(sr, "")
		f.Cover = p.coverPath(sr, seriesBase(sr, ""))
	}
	for _, code := range podcasts.Languages {
		lg, _ := i18n.Lookup(code)
		f.Titles = append(f.Titles, langText{Lang: lg, Value: sr.Title[code]})
		f.Descriptions = append(f.Descriptions, langText{Lang: lg, Value: sr.Description[code]})
		f.Languages = append(f.Languages, option{Value: code, Label: lg.Name, Lang: code, Selected: code == sr.Language})
	}
	current := podcasts.CategoryChoice{Category: sr.Category, Subcategory: sr.Subcategory}.Value()
	for _, ch := range podcasts.CategoryChoices() {
		lbl := ch.Category
		if ch.Subcategory != "" {
			lbl = ch.Category + " › " + ch.Subcategory
		}
		f.Categories = append(f.Categories, option{Value: ch.Value(), Label: lbl, Lang: "en", Selected: ch.Value() == current})
	}
	for _, a := range podcasts.Audiences {
		f.Audiences = append(f.Audiences, option{Value: string(a), Label: label(l, seriesAudienceLabels, a), Selected: a == sr.Audience})
	}
	return f
}

type seriesRow struct {
	ID, Slug, URL string
	Title         textIn
	Audience      string
	Episodes      int
}

type podcastManageData struct {
	Rows []seriesRow
}

func (p *podcastSite) managePage(c *gin.Context) {
	l := localizer(c)
	all, err := p.series.ListSeries(c.Request.Context())
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	var d podcastManageData
	for _, sr := range all {
		res, err := p.cat.List(catalog.Query{Kind: catalog.KindEpisode, Series: sr.ID, Viewer: catalog.Viewer{Editor: true}, PageSize: 1})
		if err != nil {
			p.failPodcast(c, err)
			return
		}
		r := seriesRow{ID: sr.ID, Slug: sr.Slug, URL: seriesBase(sr, ""), Audience: label(l, seriesAudienceLabels, sr.Audience), Episodes: res.Total}
		r.Title = seriesTitle(l, sr)
		d.Rows = append(d.Rows, r)
	}
	pg := p.s.newPage(c, "PodcastManageTitle")
	pg.Data = d
	p.s.render(c, http.StatusOK, "podcast_manage", pg)
}

func (p *podcastSite) newSeriesPage(c *gin.Context) {
	pg := p.s.newPage(c, "PodcastNewTitle")
	pg.Data = p.newSeriesForm(localizer(c), podcasts.Series{SeriesMeta: podcasts.SeriesMeta{
		Language: "de", Audience: podcasts.AudiencePublic, Category: "Health & Fitness", Author: "portALO"}})
	p.s.render(c, http.StatusOK, "podcast_edit", pg)
}

func (p *podcastSite) editSeriesPage(c *gin.Context) {
	sr, err := p.series.GetSeries(c.Request.Context(), c.Param("id"))
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	p.renderEdit(c, http.StatusOK, sr, nil)
}

// renderEdit shows the edit page of sr (as stored, or as posted) with the
// series' episodes and their counts, and the problem, if any.
func (p *podcastSite) renderEdit(c *gin.Context, status int, sr podcasts.Series, pr *problem) {
	l := localizer(c)
	ctx := c.Request.Context()
	titleID := "PodcastEditTitle"
	if sr.ID == "" {
		titleID = "PodcastNewTitle"
	}
	pg := p.s.newPage(c, titleID)
	if pr != nil {
		pg.addProblem(*pr)
	}
	f := p.newSeriesForm(l, sr)
	if sr.ID != "" {
		eps, err := p.allEpisodes(sr.ID)
		if err != nil {
			p.failPodcast(c, err)
			return
		}
		for _, it := range eps {
			r := newEpisodeRow(l, sr, it)
			if p.counts != nil {
				st, err := p.counts.Stats(ctx, it.ID, statsDays)
				if err != nil {
					p.failPodcast(c, err)
					return
				}
				r.Downloads = st.Total
				for _, d := range st.Days {
					r.Last30 += d.Downloads
				}
			}
			f.Episodes = append(f.Episodes, r)
		}
	}
	pg.Data = f
	p.s.render(c, status, "podcast_edit", pg)
}

// restrictEpisodes makes every episode of a series for multipliers an
// item for multipliers (an episode's audience is what /mediathek and
// /media check).
func (p *podcastSite) restrictEpisodes(ctx context.Context, seriesID string) error {
	eps, err := p.allEpisodes(seriesID)
	if err != nil {
		return err
	}
	for _, it := range eps {
		// An editor saving the episode meanwhile: read it again and retry.
		for try := 0; it.Audience != catalog.AudienceMultipliers; try++ {
			m := it.Meta
			m.Audience = catalog.AudienceMultipliers
			_, err := p.cat.Update(ctx, it.ID, it.Revision, m)
			if errors.Is(err, catalog.ErrConflict) && try < 3 {
				if it, err = p.cat.Get(it.ID); err == nil {
					continue
				}
			}
			if errors.Is(err, catalog.ErrNotFound) {
				break // deleted meanwhile
			}
			if err != nil {
				return fmt.Errorf("web: episode %s into the series for multipliers: %w", it.ID, err)
			}
			break
		}
	}
	return nil
}

// allEpisodes lists the episodes of a series for its editor, drafts
// included, newest first.
func (p *podcastSite) allEpisodes(seriesID string) ([]catalog.Item, error) {
	var out []catalog.Item
	for page := 1; len(out) < maxEpisodes; page++ {
		res, err := p.cat.List(catalog.Query{Kind: catalog.KindEpisode, Series: seriesID, Viewer: catalog.Viewer{Editor: true}, Page: page, PageSize: catalog.MaxPageSize})
		if err != nil {
			return nil, err
		}
		out = append(out, res.Items...)
		if page >= res.Pages() {
			break
		}
	}
	return out, nil
}

// coverUpload is a checked cover image.
type coverUpload struct {
	data []byte
	ext  string // ".jpg" or ".png"
}

// readSeriesForm reads the posted form: the metadata and, if one was
// sent, the cover (checked: JPEG or PNG, square, 1400–3000 px, at most
// 5 MB). ok is false when the body could not be read (answered
// already).
func (p *podcastSite) readSeriesForm(c *gin.Context) (m podcasts.SeriesMeta, cover *coverUpload, ok bool, err error) {
	err = c.Request.ParseMultipartForm(maxCoverForm)
	if errors.Is(err, http.ErrNotMultipart) {
		err = c.Request.ParseForm()
	}
	if err != nil {
		p.s.failBody(c, err)
		return podcasts.SeriesMeta{}, nil, false, nil
	}
	m = podcasts.SeriesMeta{
		Slug:        formValue(c, "slug"),
		Title:       map[string]string{},
		Description: map[string]string{},
		Language:    formValue(c, "language"),
		Explicit:    formValue(c, "explicit") != "",
		Audience:    podcasts.Audience(formValue(c, "audience")),
		Author:      formValue(c, "author"),
		OwnerEmail:  formValue(c, "owner_email"),
		Locked:      formValue(c, "locked") != "",
	}
	for _, lang := range podcasts.Languages {
		m.Title[lang] = formValue(c, "title_"+lang)
		// Descriptions may be longer than other fields.
		d := c.PostForm("description_" + lang)
		if len(d) > 2*podcasts.MaxDescriptionLen {
			d = d[:2*podcasts.MaxDescriptionLen]
		}
		m.Description[lang] = d
	}
	var catErr error
	if cat, sub, ok := podcasts.ParseCategoryValue(formValue(c, "category")); ok {
		m.Category, m.Subcategory = cat, sub
	} else {
		catErr = &podcasts.InputError{Field: "category", Code: "category_invalid"}
	}
	var coverErr error
	if c.Request.MultipartForm != nil {
		if fhs := c.Request.MultipartForm.File["cover"]; len(fhs) > 0 && fhs[0].Size > 0 {
			cover, coverErr = readCover(fhs[0])
		}
	}
	return m, cover, true, errors.Join(catErr, coverErr)
}

func readCover(fh *multipart.FileHeader) (*coverUpload, error) {
	bad := func(code string) error { return &podcasts.InputError{Field: "cover", Code: code} }
	if fh.Size > maxCoverBytes {
		return nil, bad("cover_too_large")
	}
	f, err := fh.Open()
	if err != nil {
		return nil, bad("cover_type")
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, maxCoverBytes+1))
	if err != nil {
		return nil, bad("cover_type")
	}
	if len(data) > maxCoverBytes {
		return nil, bad("cover_too_large")
	}
	cfg, format, err := image.DecodeConfig(bytes.NewReader(data))
	if err != nil {
		return nil, bad("cover_type")
	}
	ext := map[string]string{"jpeg": ".jpg", "png": ".png"}[format]
	if ext == "" {
		return nil, bad("cover_type")
	}
	if cfg.Width != cfg.Height || cfg.Width < minCoverPixels || cfg.Width > maxCoverPixels {
		return nil, bad("cover_size")
	}
	return &coverUpload{data: data, ext: ext}, nil
}

// firstInputError returns the first *podcasts.InputError of a joined
// error, or err.
func firstInputError(err error) error {
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		if errs := j.Unwrap(); len(errs) > 0 {
			return errs[0]
		}
	}
	return err
}

// putCover stores a cover under a new key of the series (so that the old
// one stays until the series names the new one).
func (p *podcastSite) putCover(ctx context.Context, seriesID string, cv *coverUpload) (string, error) {
	b := make([]byte, 6)
	if _, err := rand.Read(b); err != nil {
		return "", err
	}
	key := "podcasts/" + seriesID + "/cover-" + hex.EncodeToString(b) + cv.ext
	ctype := "image/jpeg"
	if cv.ext == ".png" {
		ctype = "image/png"
	}
	if _, err := p.objects.Put(ctx, key, bytes.NewReader(cv.data), int64(len(cv.data)), ctype); err != nil {
		return "", err
	}
	return key, nil
}

// failForm shows the form again with what was posted and the problem.
func (p *podcastSite) failForm(c *gin.Context, sr podcasts.Series, err error) {
	status, pr := p.explainSeries(c, firstInputError(err))
	if status >= 500 || status == http.StatusNotFound {
		p.failPodcast(c, err) // a series deleted meanwhile is a 404
		return
	}
	p.renderEdit(c, status, sr, &pr)
}

func (p *podcastSite) createSeries(c *gin.Context) {
	ctx := c.Request.Context()
	m, cover, ok, err := p.readSeriesForm(c)
	if !ok {
		return
	}
	if err != nil {
		p.failForm(c, podcasts.Series{SeriesMeta: m}, err)
		return
	}
	sr, err := p.series.CreateSeries(ctx, m)
	if err != nil {
		p.failForm(c, podcasts.Series{SeriesMeta: m}, err)
		return
	}
	if cover != nil {
		key, err := p.putCover(ctx, sr.ID, cover)
		if err == nil {
			m.Image, m.Slug = key, sr.Slug
			_, err = p.series.UpdateSeries(ctx, sr.ID, m)
			if err != nil {
				_ = p.objects.Delete(ctx, key)
			}
		}
		if err != nil {
			// Nothing half-written: the series goes again.
			if derr := p.series.DeleteSeries(ctx, sr.ID); derr != nil {
				p.s.cfg.Logger.Error("podcasts: removing a series whose cover failed", "err", derr)
			}
			p.s.failWith(c, err)
			return
		}
	}
	p.s.flashAndRedirect(c, "FlashPodcastSeriesCreated", "/podcasts/manage/"+sr.ID)
}

func (p *podcastSite) saveSeries(c *gin.Context) {
	ctx := c.Request.Context()
	old, err := p.series.GetSeries(ctx, c.Param("id"))
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	m, cover, ok, err := p.readSeriesForm(c)
	if !ok {
		return
	}
	posted := old
	posted.SeriesMeta = m
	posted.Image = old.Image
	if err != nil {
		p.failForm(c, posted, err)
		return
	}
	m.Image = old.Image
	newKey := ""
	if cover != nil {
		if newKey, err = p.putCover(ctx, old.ID, cover); err != nil {
			p.s.failWith(c, err)
			return
		}
		m.Image = newKey
	}
	if _, err := p.series.UpdateSeries(ctx, old.ID, m); err != nil {
		if newKey != "" {
			_ = p.objects.Delete(ctx, newKey)
		}
		p.failForm(c, posted, err)
		return
	}
	// The series is saved (a form error stops before here); an episode an
	// editor saves meanwhile is read again (restrictEpisodes), and a store
	// failure leaves the change to the next save.
	if m.Audience == podcasts.AudienceMultipliers {
		if err := p.restrictEpisodes(ctx, old.ID); err != nil {
			p.s.failWith(c, err)
			return
		}
	}
	if newKey != "" && old.Image != "" && old.Image != newKey {
		if err := p.objects.Delete(ctx, old.Image); err != nil {
			p.s.cfg.Logger.Warn("podcasts: removing the old cover", "err", err)
		}
	}
	p.s.flashAndRedirect(c, "FlashPodcastSeriesSaved", "/podcasts/manage/"+old.ID)
}

func (p *podcastSite) deleteSeries(c *gin.Context) {
	ctx := c.Request.Context()
	if !p.s.parseForm(c) {
		return
	}
	sr, err := p.series.GetSeries(ctx, c.Param("id"))
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	if formValue(c, "confirm") == "" {
		pr := problem{Field: "confirm", Code: "confirm_required", Message: localizer(c).T("PodcastErrConfirmDelete")}
		p.renderEdit(c, http.StatusUnprocessableEntity, sr, &pr)
		return
	}
	if err := p.series.DeleteSeries(ctx, sr.ID); err != nil {
		p.failPodcast(c, err)
		return
	}
	if sr.Image != "" {
		if err := p.objects.Delete(ctx, sr.Image); err != nil {
			p.s.cfg.Logger.Warn("podcasts: removing the cover of a deleted series", "err", err)
		}
	}
	p.s.flashAndRedirect(c, "FlashPodcastSeriesDeleted", "/podcasts/manage")
}
