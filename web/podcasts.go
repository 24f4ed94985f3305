package web

// The podcasts: the list of series (/podcasts), a series' page, an
// episode's page with its player, the RSS feeds (public, and private per
// multiplier with a token), the episodes' files with download counting
// (podcasts_files.go), the editors' pages (podcasts_manage.go) and the
// private feed section of the account page (podcasts_account.go).
//
// A series is podcasts.Series; its episodes are the catalog's published
// items of KindEpisode whose Series is the series' ID. Who may see an
// episode: the item's VisibleTo, and for a series for multipliers only
// approved multipliers, editors and admins (or, in the private feed, the
// account of the token, as long as it is an approved multiplier).

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"path"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/catalog"
	"portalo/downloads"
	"portalo/podcasts"
	"portalo/store/blob"
	"portalo/web/i18n"
)

// Podcasts is what the web layer needs of the podcast series and their
// private feed tokens (podcasts.Service).
type Podcasts interface {
	CreateSeries(ctx context.Context, m podcasts.SeriesMeta) (podcasts.Series, error)
	UpdateSeries(ctx context.Context, id string, m podcasts.SeriesMeta) (podcasts.Series, error)
	GetSeries(ctx context.Context, id string) (podcasts.Series, error)
	SeriesBySlug(ctx context.Context, slug string) (podcasts.Series, error)
	KeepFeedGUID(ctx context.Context, id, guid string) (string, error)
	ListSeries(ctx context.Context) ([]podcasts.Series, error)
	DeleteSeries(ctx context.Context, id string) error
	IssueFeedToken(ctx context.Context, accountID string) (string, error)
	RevokeFeedToken(ctx context.Context, accountID string) error
	FeedTokenAccount(ctx context.Context, token string) (string, error)
	HasFeedToken(ctx context.Context, accountID string) (bool, time.Time, error)
}

// Downloads counts the downloads of episode files (downloads.Counter).
type Downloads interface {
	Record(ctx context.Context, r downloads.Request) (bool, error)
	Stats(ctx context.Context, item string, days int) (downloads.Stats, error)
	Totals(ctx context.Context, items []string) (map[string]int64, error)
}

const (
	// maxEpisodes bounds the episodes of one series that pages and feeds
	// list.
	maxEpisodes = 2000
	// latestEpisodes is how many episodes /podcasts shows per series.
	latestEpisodes = 3
	// defaultCover is the cover of a series without one of its own.
	defaultCover = "/static/podcast-cover.png"
	// feedCacheControl lets apps and caches keep a public feed briefly.
	feedCacheControl = "public, max-age=300"
	// privateCacheControl is for everything of a private feed.
	privateCacheControl = "private, no-store"
	// countTimeout bounds the counting of a download after it was served.
	countTimeout = 5 * time.Second
)

// podcastSite holds the podcasts' handlers; podcastRoutes builds it.
type podcastSite struct {
	s       *Server
	series  Podcasts
	counts  Downloads // nil: nothing is counted
	cat     *catalog.Catalog
	objects blob.Store
}

var podcastPages = []string{"podcast_list", "podcast_series", "podcast_episode", "podcast_forbidden", "podcast_manage", "podcast_edit"}

func (s *Server) podcastRoutes(e *gin.Engine) error {
	if s.cfg.Mediathek == nil || s.cfg.Objects == nil {
		return errors.New("web: the podcasts need the Mediathek (their episodes) and Objects")
	}
	p := &podcastSite{s: s, series: s.cfg.Podcasts, counts: s.cfg.Downloads, cat: s.cfg.Mediathek, objects: s.cfg.Objects}
	for _, name := range podcastPages {
		t, err := template.ParseFS(templateFiles, "templates/layout.html", "templates/podcast_parts.html", "templates/"+name+".html")
		if err != nil {
			return fmt.Errorf("web: parsing template %s: %w", name, err)
		}
		s.pages[name] = t
	}

	// The pages answer HEAD too (link checkers, podcast directories);
	// net/http leaves the body out.
	e.GET("/podcasts", p.listPage)
	e.HEAD("/podcasts", p.listPage)

	manage := e.Group("/podcasts/manage", s.requireLogin, p.requireEditor)
	manage.GET("", p.managePage)
	manage.GET("/new", p.newSeriesPage)
	manage.GET("/:id", p.editSeriesPage)
	manage.POST("/:id/delete", p.deleteSeries)
	// The forms carry a cover image: a body limit of their own.
	covers := e.Group("/podcasts/manage")
	covers.Handlers = s.withBodyLimit(covers.Handlers, maxBody(maxCoverForm))
	covers.POST("", s.requireLogin, p.requireEditor, p.createSeries)
	covers.POST("/:id", s.requireLogin, p.requireEditor, p.saveSeries)

	priv := e.Group("/podcasts/private/:token/:series")
	priv.GET("/feed.xml", p.privateFeed)
	priv.HEAD("/feed.xml", p.privateFeed)
	priv.GET("/cover.jpg", p.privateCover)
	priv.HEAD("/cover.jpg", p.privateCover)
	priv.GET("/cover.png", p.privateCover)
	priv.HEAD("/cover.png", p.privateCover)
	priv.GET("/:episode/:file", p.privateFile)
	priv.HEAD("/:episode/:file", p.privateFile)

	e.GET("/podcasts/:series", p.seriesPage)
	e.HEAD("/podcasts/:series", p.seriesPage)
	e.GET("/podcasts/:series/feed.xml", p.publicFeed)
	e.HEAD("/podcasts/:series/feed.xml", p.publicFeed)
	e.GET("/podcasts/:series/cover.jpg", p.cover)
	e.HEAD("/podcasts/:series/cover.jpg", p.cover)
	e.GET("/podcasts/:series/cover.png", p.cover)
	e.HEAD("/podcasts/:series/cover.png", p.cover)
	e.GET("/podcasts/:series/:episode", p.episodePage)
	e.HEAD("/podcasts/:series/:episode", p.episodePage)
	e.GET("/podcasts/:series/:episode/:file", p.file)
	e.HEAD("/podcasts/:series/:episode/:file", p.file)

	acct := e.Group("/account", s.requireLogin)
	acct.POST("/podcast-feed", p.issueFeed)
	acct.POST("/podcast-feed/revoke", p.revokeFeed)
	return nil
}

func (p *podcastSite) requireEditor(c *gin.Context) {
	if !canEditMedia(account(c)) {
		p.s.fail(c, http.StatusForbidden, "forbidden", "ErrForbidden")
		return
	}
	c.Next()
}

// seriesOpen reports whether v may see the series and its episodes.
func seriesOpen(sr podcasts.Series, v catalog.Viewer) bool {
	return sr.Audience == podcasts.AudiencePublic || v.Multiplier || v.Editor
}

// errPodcastNotFound answers every series or episode that does not exist
// or may not be seen.
var errPodcastNotFound = errors.New("web: podcast not found")

// failPodcast answers err on an error page: 404 for what does not exist
// (or is hidden), else as explain does.
func (p *podcastSite) failPodcast(c *gin.Context, err error) {
	if errors.Is(err, errPodcastNotFound) || errors.Is(err, podcasts.ErrNotFound) || errors.Is(err, catalog.ErrNotFound) {
		p.s.fail(c, http.StatusNotFound, "not_found", "PodcastNotFound")
		return
	}
	p.s.failWith(c, err)
}

// seriesOf returns the series named by the URL.
func (p *podcastSite) seriesOf(c *gin.Context) (podcasts.Series, error) {
	sr, err := p.series.SeriesBySlug(c.Request.Context(), c.Param("series"))
	if errors.Is(err, podcasts.ErrNotFound) {
		return podcasts.Series{}, errPodcastNotFound
	}
	return sr, err
}

// episodes returns the published episodes of the series that v may see,
// newest first.
func (p *podcastSite) episodes(sr podcasts.Series, v catalog.Viewer, limit int) ([]catalog.Item, error) {
	var out []catalog.Item
	for page := 1; len(out) < limit; page++ {
		res, err := p.cat.List(catalog.Query{Kind: catalog.KindEpisode, Series: sr.ID, Status: catalog.StatusPublished,
			Viewer: v, Page: page, PageSize: catalog.MaxPageSize})
		if err != nil {
			return nil, err
		}
		for _, it := range res.Items {
			if it.Series == sr.ID && it.VisibleTo(v) && len(out) < limit {
				out = append(out, it)
			}
		}
		if page >= res.Pages() {
			break
		}
	}
	return out, nil
}

// episodeOf returns the episode of the series with the slug in the URL,
// if v may see it.
func (p *podcastSite) episodeOf(c *gin.Context, sr podcasts.Series, v catalog.Viewer) (catalog.Item, error) {
	it, err := p.cat.GetBySlug(c.Param("episode"))
	if err != nil || it.Kind != catalog.KindEpisode || it.Series != sr.ID || !it.VisibleTo(v) || !seriesOpen(sr, v) {
		return catalog.Item{}, errPodcastNotFound
	}
	return it, nil
}

// Files of an episode.

// audioExts and videoExts are the downloads an episode offers as its
// enclosure, audio first.
var (
	audioExts = []string{".m4a", ".mp3", ".aac", ".ogg", ".opus"}
	videoExts = []string{".mp4", ".m4v", ".webm"}
)

// enclosure is the file a podcast app downloads for one language of an
// episode.
type enclosure struct {
	Lang string
	File catalog.File
	// Name is the file's name in URLs: SLUG-LANG.EXT.
	Name string
}

// enclosures returns the audio (else video) download of each complete
// version of the episode, in the order of catalog.Languages.
func enclosures(it catalog.Item) []enclosure {
	var out []enclosure
	for _, lang := range playableVersions(it) {
		var found *catalog.File
		for _, exts := range [][]string{audioExts, videoExts} {
			for _, f := range it.Versions[lang].Files {
				if f.Role == catalog.RoleDownload && slices.Contains(exts, strings.ToLower(path.Ext(f.Key))) {
					found = &f
					break
				}
			}
			if found != nil {
				break
			}
		}
		if found != nil {
			out = append(out, enclosure{Lang: lang, File: *found, Name: it.Slug + "-" + lang + strings.ToLower(path.Ext(found.Key))})
		}
	}
	return out
}

// pickEnclosure chooses the enclosure in one of langs (in that order),
// else the first.
func pickEnclosure(encs []enclosure, langs ...string) (enclosure, bool) {
	for _, l := range langs {
		for _, e := range encs {
			if l != "" && e.Lang == l {
				return e, true
			}
		}
	}
	if len(encs) == 0 {
		return enclosure{}, false
	}
	return encs[0], true
}

// transcriptName and chaptersName are the names of an episode's
// transcript in lang and of its chapters in URLs.
func transcriptName(it catalog.Item, lang string) string { return it.Slug + "-" + lang + ".vtt" }
func chaptersName(it catalog.Item) string                { return it.Slug + "-chapters.json" }

// episodeFile is a file of an episode that its URLs may ask for.
type episodeFile struct {
	Key         string
	ContentType string
	// Counted files are the episode's audio or video: their downloads
	// are counted.
	Counted bool
}

// fileOf finds the file named name of the episode.
func fileOf(it catalog.Item, name string) (episodeFile, bool) {
	for _, e := range enclosures(it) {
		if e.Name == name {
			return episodeFile{Key: e.File.Key, Counted: true}, true
		}
	}
	for _, lang := range catalog.Languages {
		if key := it.Subtitles[lang]; key != "" && name == transcriptName(it, lang) {
			return episodeFile{Key: key, ContentType: "text/vtt; charset=utf-8"}, true
		}
	}
	if it.Chapters != "" && name == chaptersName(it) {
		return episodeFile{Key: it.Chapters, ContentType: podcasts.TypeChapters}, true
	}
	return episodeFile{}, false
}

// URLs.

// episodeBase is the path under which a series' pages and files are: the
// public one, or with a token the private one.
func seriesBase(sr podcasts.Series, token string) string {
	if token != "" {
		return "/podcasts/private/" + url.PathEscape(token) + "/" + sr.Slug
	}
	return "/podcasts/" + sr.Slug
}

// coverPath is the path of the series' cover under base (seriesBase), or
// the default cover.
func (p *podcastSite) coverPath(sr podcasts.Series, base string) string {
	if sr.Image == "" {
		return defaultCover + "?v=" + p.s.assetVersion
	}
	ext := ".jpg"
	if strings.EqualFold(path.Ext(sr.Image), ".png") {
		ext = ".png"
	}
	return base + "/cover" + ext + "?v=" + strconv.FormatInt(sr.Updated.Unix(), 36)
}

// Pages.

// episodeFacts are an episode's season, number, date and duration as a
// page shows them.
type episodeFacts struct {
	Season, Number         int
	SeasonText, NumberText string
	Published, PubISO      string
	Duration, DurationISO  string
	DurationLabel          string
}

func newEpisodeFacts(l *i18n.Localizer, it catalog.Item) episodeFacts {
	f := episodeFacts{Season: it.Season, Number: it.Number, DurationLabel: l.T("PodcastDuration")}
	if it.Season > 0 {
		f.SeasonText = l.T("PodcastSeason", "Season", it.Season)
	}
	if it.Number > 0 {
		f.NumberText = l.T("PodcastEpisodeNumber", "Number", it.Number)
	}
	if !it.Published.IsZero() {
		f.Published, f.PubISO = dateText(l, it.Published), it.Published.Format("2006-01-02")
	}
	f.Duration, f.DurationISO = durationText(it.Duration)
	return f
}

// episodeRow is an episode in a list.
type episodeRow struct {
	episodeFacts
	ID, Slug, URL      string
	Title, Description textIn
	Status             string // editors' list: when not published
	Downloads          int64  // editors' list
	Last30             int64
}

func newEpisodeRow(l *i18n.Localizer, sr podcasts.Series, it catalog.Item) episodeRow {
	r := episodeRow{episodeFacts: newEpisodeFacts(l, it), ID: it.ID, Slug: it.Slug, URL: seriesBase(sr, "") + "/" + it.Slug}
	r.Title = titleText(l, it)
	desc, lang := it.DescriptionIn(l.Lang.Code)
	r.Description = pickText(l, shorten(desc, 200), lang)
	if !it.IsPublished() {
		r.Status = label(l, statusLabels, it.Status)
	}
	return r
}

// seriesCard is a series in a list or on its page.
type seriesCard struct {
	Slug, URL          string
	Title, Description textIn
	Paragraphs         []string
	Cover              string
	ForMultipliers     bool
	Episodes           []episodeRow
}

// seriesTitle is the series' title for the page's language.
func seriesTitle(l *i18n.Localizer, sr podcasts.Series) textIn {
	text, lang := sr.TitleIn(l.Lang.Code)
	return pickText(l, text, lang)
}

func (p *podcastSite) newSeriesCard(l *i18n.Localizer, sr podcasts.Series) seriesCard {
	card := seriesCard{Slug: sr.Slug, URL: seriesBase(sr, ""), Cover: p.coverPath(sr, seriesBase(sr, "")),
		ForMultipliers: sr.Audience == podcasts.AudienceMultipliers}
	card.Title = seriesTitle(l, sr)
	desc, lang := sr.DescriptionIn(l.Lang.Code)
	card.Description = pickText(l, shorten(desc, 240), lang)
	card.Paragraphs = paragraphs(desc)
	return card
}

func paragraphs(text string) []string {
	var out []string
	for _, para := range strings.Split(strings.ReplaceAll(text, "\r\n", "\n"), "\n\n") {
		if para = strings.TrimSpace(para); para != "" {
			out = append(out, para)
		}
	}
	return out
}

type podcastListData struct {
	Series  []seriesCard
	CanEdit bool
}

// listPage lists the series the person may see with their latest
// episodes.
func (p *podcastSite) listPage(c *gin.Context) {
	l := localizer(c)
	v := mediaViewer(account(c))
	all, err := p.series.ListSeries(c.Request.Context())
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	d := podcastListData{CanEdit: v.Editor}
	for _, sr := range all {
		if !seriesOpen(sr, v) {
			continue
		}
		card := p.newSeriesCard(l, sr)
		eps, err := p.episodes(sr, v, latestEpisodes)
		if err != nil {
			p.failPodcast(c, err)
			return
		}
		for _, it := range eps {
			card.Episodes = append(card.Episodes, newEpisodeRow(l, sr, it))
		}
		d.Series = append(d.Series, card)
	}
	pg := p.s.newPage(c, "PodcastTitle")
	pg.Data = d
	p.s.render(c, http.StatusOK, "podcast_list", pg)
}

type podcastSeriesData struct {
	seriesCard
	// FeedURL is the public feed's absolute URL (public series only).
	FeedURL string
	// Private is a series for multipliers: its feed is on the account
	// page of an approved multiplier (OwnFeed); editors and admins who
	// are none cannot have one.
	Private, OwnFeed bool
	CanEdit          bool
	ID               string
}

// forbidden answers a series for multipliers to someone who is none:
// what it is for and how to ask for access, never its content.
func (p *podcastSite) forbidden(c *gin.Context) {
	pg := p.s.newPage(c, "PodcastForbiddenTitle")
	p.s.render(c, http.StatusForbidden, "podcast_forbidden", pg)
}

func (p *podcastSite) seriesPage(c *gin.Context) {
	l := localizer(c)
	v := mediaViewer(account(c))
	sr, err := p.seriesOf(c)
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	if !seriesOpen(sr, v) {
		p.forbidden(c)
		return
	}
	eps, err := p.episodes(sr, v, maxEpisodes)
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	d := podcastSeriesData{seriesCard: p.newSeriesCard(l, sr), Private: sr.Audience != podcasts.AudiencePublic, OwnFeed: v.Multiplier, CanEdit: v.Editor, ID: sr.ID}
	for _, it := range eps {
		d.Episodes = append(d.Episodes, newEpisodeRow(l, sr, it))
	}
	if !d.Private {
		d.FeedURL = p.s.baseURL(c.Request) + seriesBase(sr, "") + "/feed.xml"
	}
	pg := p.s.newPage(c, "PodcastTitle")
	pg.Title = d.Title.Text
	pg.Data = d
	p.s.render(c, http.StatusOK, "podcast_series", pg)
}

// chapter is one chapter of an episode.
type chapter struct {
	Start, StartISO string
	Title           string
}

type transcriptLine struct {
	Start, StartISO string
	Text            string
}

type versionLink struct {
	Lang     i18n.Lang
	URL      string
	Selected bool
}

type podcastEpisodeData struct {
	episodeFacts
	ID                string
	Series            seriesCard
	Title             textIn
	Paragraphs        []string
	DescLang, DescDir string
	Audio, AudioType  string // the chosen version's file
	Video             bool
	AudioLang         i18n.Lang
	Download, Size    string
	Versions          []versionLink
	Chapters          []chapter
	TranscriptURL     string
	TranscriptLang    i18n.Lang
	TranscriptForeign bool // in another language than the page
	Transcript        []transcriptLine
	Status            string // editors' preview of an unpublished episode
	CanEdit           bool
	Downloads         int64
}

func (p *podcastSite) episodePage(c *gin.Context) {
	l := localizer(c)
	ctx := c.Request.Context()
	a := account(c)
	v := mediaViewer(a)
	sr, err := p.seriesOf(c)
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	if !seriesOpen(sr, v) {
		p.forbidden(c)
		return
	}
	it, err := p.episodeOf(c, sr, v)
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	base := seriesBase(sr, "") + "/" + it.Slug
	d := podcastEpisodeData{episodeFacts: newEpisodeFacts(l, it), ID: it.ID, Series: p.newSeriesCard(l, sr), CanEdit: v.Editor}
	d.Title = titleText(l, it)
	desc, descLang := it.DescriptionIn(l.Lang.Code)
	dt := pickText(l, desc, descLang)
	d.DescLang, d.DescDir = dt.Lang, dt.Dir
	d.Paragraphs = paragraphs(desc)
	if !it.IsPublished() {
		d.Status = label(l, statusLabels, it.Status)
	}
	encs := enclosures(it)
	if enc, ok := pickEnclosure(encs, c.Query("version"), l.Lang.Code, sr.Language); ok {
		d.Audio = base + "/" + url.PathEscape(enc.Name)
		d.AudioType = mediaContentType(enc.File.Key)
		d.Video = strings.HasPrefix(d.AudioType, "video/")
		d.AudioLang, _ = i18n.Lookup(enc.Lang)
		d.Download = d.Audio + "?download=1"
		d.Size = sizeText(l, enc.File.Size)
		if len(encs) > 1 {
			for _, e := range encs {
				lg, _ := i18n.Lookup(e.Lang)
				d.Versions = append(d.Versions, versionLink{Lang: lg, URL: base + "?version=" + e.Lang, Selected: e.Lang == enc.Lang})
			}
		}
	}
	if it.Chapters != "" {
		d.Chapters = p.readChapters(ctx, it.Chapters)
	}
	if tl := pickSubtitle(it, l.Lang.Code, d.AudioLang.Code); tl != "" {
		d.TranscriptURL = base + "/" + url.PathEscape(transcriptName(it, tl))
		d.TranscriptLang, _ = i18n.Lookup(tl)
		d.TranscriptForeign = tl != l.Lang.Code
		d.Transcript = p.readTranscript(ctx, it.Subtitles[tl])
	}
	if v.Editor && p.counts != nil {
		if n, err := p.counts.Totals(ctx, []string{it.ID}); err == nil {
			d.Downloads = n[it.ID]
		} else {
			p.s.cfg.Logger.Warn("podcasts: reading download counts", "err", err)
		}
	}
	pg := p.s.newPage(c, "PodcastTitle")
	pg.Title = d.Title.Text
	pg.Data = d
	p.s.render(c, http.StatusOK, "podcast_episode", pg)
}

// pickSubtitle returns the language of the transcript to show: the page's,
// else the sound's, else the first.
func pickSubtitle(it catalog.Item, langs ...string) string {
	for _, l := range langs {
		if l != "" && it.Subtitles[l] != "" {
			return l
		}
	}
	for _, l := range catalog.Languages {
		if it.Subtitles[l] != "" {
			return l
		}
	}
	return ""
}
