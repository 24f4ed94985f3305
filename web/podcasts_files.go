package web

// The podcasts' feeds and files: the RSS feed of a series (public, or
// private with a multiplier's token), the episodes' audio, transcripts and
// chapters with Range and HEAD, download counting, and the covers.
//
// A private feed's token is part of its path. Request logs hold the route
// pattern only (observe), so the token never reaches a log; its answers
// are "private, no-store", and a token that is revoked or renewed, or
// whose account is no longer an approved multiplier, gets a 404 at once.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"path"
	"strings"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/downloads"
	"portalo/podcasts"
	"portalo/store/blob"
)

const (
	// maxChaptersSize bounds the JSON chapters read for an episode page.
	maxChaptersSize = 256 << 10
	// maxChapters bounds the chapters shown.
	maxChapters = 500
	// maxTranscriptSize is the largest transcript shown as text on the
	// episode page; longer ones are linked only.
	maxTranscriptSize = 64 << 10
)

// Feeds.

func (p *podcastSite) publicFeed(c *gin.Context) {
	sr, err := p.seriesOf(c)
	if err == nil && sr.Audience != podcasts.AudiencePublic {
		err = errPodcastNotFound // its feed is private
	}
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	p.serveFeed(c, sr, "", catalog.Viewer{})
}

// tokenAccount resolves the token of a private URL to an account that is
// still an approved multiplier; otherwise it answers 404 and returns
// false.
func (p *podcastSite) tokenAccount(c *gin.Context) bool {
	ctx := c.Request.Context()
	id, err := p.series.FeedTokenAccount(ctx, c.Param("token"))
	var a accounts.Account
	if err == nil {
		a, err = p.s.cfg.Accounts.Get(ctx, id)
		if err == nil && !a.Has(accounts.RoleMultiplier) {
			err = podcasts.ErrNotFound
		}
	}
	switch {
	case err == nil:
		return true
	case errors.Is(err, podcasts.ErrNotFound) || errors.Is(err, accounts.ErrNotFound):
		p.privateNotFound(c)
	default:
		p.s.cfg.Logger.Error("podcasts: resolving a private feed", "route", c.FullPath(), "err", err)
		p.privateAnswer(c, http.StatusServiceUnavailable, "PodcastPrivateUnavailable")
	}
	return false
}

// privateNotFound is the answer to every private URL that does not work
// (any more): short and plain, as podcast apps show it.
func (p *podcastSite) privateNotFound(c *gin.Context) {
	p.privateAnswer(c, http.StatusNotFound, "PodcastPrivateNotFound")
}

func (p *podcastSite) privateAnswer(c *gin.Context, status int, msgID string) {
	c.Header("Cache-Control", privateCacheControl)
	c.Data(status, "text/plain; charset=utf-8", []byte(localizer(c).T(msgID)+"\n"))
	c.Abort()
}

// privateSeries resolves the token and the series of a private URL: a
// series for multipliers (public series have a public feed).
func (p *podcastSite) privateSeries(c *gin.Context) (podcasts.Series, bool) {
	if !p.tokenAccount(c) {
		return podcasts.Series{}, false
	}
	sr, err := p.seriesOf(c)
	if err != nil || sr.Audience != podcasts.AudienceMultipliers {
		if err != nil && !errors.Is(err, errPodcastNotFound) {
			p.s.cfg.Logger.Error("podcasts: reading a series", "route", c.FullPath(), "err", err)
		}
		p.privateNotFound(c)
		return podcasts.Series{}, false
	}
	return sr, true
}

func (p *podcastSite) privateFeed(c *gin.Context) {
	sr, ok := p.privateSeries(c)
	if !ok {
		return
	}
	p.serveFeed(c, sr, c.Param("token"), catalog.Viewer{Multiplier: true})
}

// serveFeed renders and serves the feed of the series for v; with a token
// the URLs in it are the private ones.
func (p *podcastSite) serveFeed(c *gin.Context, sr podcasts.Series, token string, v catalog.Viewer) {
	ctx := c.Request.Context()
	eps, err := p.episodes(sr, v, maxEpisodes)
	if err != nil {
		p.feedFailed(c, token, err)
		return
	}
	origin := p.s.baseURL(c.Request)
	public := origin + seriesBase(sr, "")
	files := origin + seriesBase(sr, token)
	if sr.FeedGUID == "" {
		// The first feed fixes podcast:guid for good: a new slug or host
		// name later must not make the podcast a new one for the apps.
		guid, err := p.series.KeepFeedGUID(ctx, sr.ID, podcasts.FeedGUID(public+"/feed.xml"))
		if err != nil {
			p.feedFailed(c, token, err)
			return
		}
		sr.FeedGUID = guid
	}
	f := podcasts.Feed{
		Series:   sr,
		SelfURL:  files + "/feed.xml",
		GUIDURL:  public + "/feed.xml",
		SiteURL:  public,
		ImageURL: origin + p.coverPath(sr, seriesBase(sr, token)),
		Private:  token != "",
		Lang:     sr.Language,
		Updated:  sr.Updated,
	}
	for _, it := range eps {
		enc, ok := pickEnclosure(enclosures(it), sr.Language)
		if !ok {
			continue // nothing an app could download
		}
		size := enc.File.Size
		if size <= 0 {
			info, err := p.objects.Stat(ctx, enc.File.Key)
			if errors.Is(err, blob.ErrNotFound) {
				continue // nothing an app could download
			}
			if err != nil {
				// Leaving the episode out would tell apps it is gone.
				p.feedFailed(c, token, fmt.Errorf("web: size of %s for the feed: %w", enc.File.Key, err))
				return
			}
			size = info.Size
		}
		title, _ := it.TitleIn(sr.Language)
		desc, _ := it.DescriptionIn(sr.Language)
		dir := files + "/" + it.Slug + "/"
		e := podcasts.Episode{
			GUID: it.ID, Title: title, Description: desc, Link: public + "/" + it.Slug,
			EnclosureURL: dir + enc.Name, EnclosureLength: size, EnclosureType: mediaContentType(enc.File.Key),
			Published: it.Published, Duration: it.Duration, Season: it.Season, Number: it.Number,
			Explicit: it.Explicit,
		}
		for _, lang := range catalog.Languages {
			if it.Subtitles[lang] != "" {
				e.Transcripts = append(e.Transcripts, podcasts.Transcript{URL: dir + transcriptName(it, lang), Type: podcasts.TypeWebVTT, Language: lang, Captions: true})
			}
		}
		if it.Chapters != "" {
			e.ChaptersURL = dir + chaptersName(it)
		}
		f.Episodes = append(f.Episodes, e)
		if it.Updated.After(f.Updated) {
			f.Updated = it.Updated
		}
	}
	body, err := podcasts.RenderFeed(f)
	if err != nil {
		p.feedFailed(c, token, err)
		return
	}
	etag := podcasts.FeedETag(body)
	h := c.Writer.Header()
	h.Set("ETag", etag)
	if token != "" {
		h.Set("Cache-Control", privateCacheControl)
	} else {
		h.Set("Cache-Control", feedCacheControl)
	}
	h.Set("Content-Language", sr.Language)
	if etagMatches(c.GetHeader("If-None-Match"), etag) {
		c.Status(http.StatusNotModified)
		return
	}
	c.Data(http.StatusOK, "application/rss+xml; charset=utf-8", body)
}

// feedFailed answers a feed that could not be made (a store failure, or a
// series or episode the feed cannot hold): logged, and a 503 that apps
// retry later.
func (p *podcastSite) feedFailed(c *gin.Context, token string, err error) {
	p.s.cfg.Logger.Error("podcasts: making a feed", "route", c.FullPath(), "err", err)
	if token != "" {
		p.privateAnswer(c, http.StatusServiceUnavailable, "PodcastPrivateUnavailable")
		return
	}
	c.Header("Retry-After", "60")
	p.s.fail(c, http.StatusServiceUnavailable, "feed_unavailable", "PodcastFeedUnavailable")
}

// Files.

// file serves an episode's file to whoever may see the episode; a series
// or episode the person may not see is a 404 like one that does not exist.
func (p *podcastSite) file(c *gin.Context) {
	v := mediaViewer(account(c))
	sr, err := p.seriesOf(c)
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	if !seriesOpen(sr, v) {
		p.failPodcast(c, errPodcastNotFound)
		return
	}
	it, err := p.episodeOf(c, sr, v)
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	cache := "public, max-age=86400"
	if sr.Audience != podcasts.AudiencePublic || it.Audience != catalog.AudiencePublic || !it.IsPublished() {
		cache = privateCacheControl
	}
	p.serveEpisodeFile(c, it, cache, func(err error) { p.failPodcast(c, err) })
}

func (p *podcastSite) privateFile(c *gin.Context) {
	sr, ok := p.privateSeries(c)
	if !ok {
		return
	}
	it, err := p.episodeOf(c, sr, catalog.Viewer{Multiplier: true})
	if err != nil {
		p.privateNotFound(c)
		return
	}
	p.serveEpisodeFile(c, it, privateCacheControl, func(err error) {
		if errors.Is(err, errPodcastNotFound) {
			p.privateNotFound(c)
			return
		}
		p.s.cfg.Logger.Error("podcasts: serving a file", "route", c.FullPath(), "err", err)
		p.privateAnswer(c, http.StatusServiceUnavailable, "PodcastPrivateUnavailable")
	})
}

// serveEpisodeFile serves the file of the episode named in the URL and
// counts the download of its audio or video (GET only).
func (p *podcastSite) serveEpisodeFile(c *gin.Context, it catalog.Item, cache string, fail func(error)) {
	ef, ok := fileOf(it, c.Param("file"))
	if !ok || !blob.ValidKey(ef.Key) || !strings.HasPrefix(ef.Key, it.Prefix()) {
		fail(errPodcastNotFound)
		return
	}
	var name string
	if c.Query("download") != "" {
		name = c.Param("file")
	}
	served, err := p.s.files.serveObject(c, ef.Key, objectResponse{CacheControl: cache, ContentType: ef.ContentType, Filename: name})
	if errors.Is(err, blob.ErrNotFound) {
		fail(errPodcastNotFound)
		return
	}
	if err != nil {
		fail(err)
		return
	}
	if !ef.Counted || p.counts == nil || c.Request.Method != http.MethodGet || served.Length <= 0 {
		return
	}
	ctx, cancel := context.WithTimeout(context.WithoutCancel(c.Request.Context()), countTimeout)
	defer cancel()
	_, err = p.counts.Record(ctx, downloads.Request{
		Item: it.ID, ClientIP: c.ClientIP(), UserAgent: c.Request.UserAgent(), Method: c.Request.Method,
		Offset: served.Offset, Length: served.Length, Size: served.Size, Duration: it.Duration,
	})
	if err != nil {
		// The download was served; only its count is lost.
		p.s.cfg.Logger.Warn("podcasts: counting a download", "item", it.ID, "err", err)
	}
}

// Covers.

func (p *podcastSite) cover(c *gin.Context) {
	sr, err := p.seriesOf(c)
	if err == nil && !seriesOpen(sr, mediaViewer(account(c))) {
		err = errPodcastNotFound
	}
	if err != nil {
		p.failPodcast(c, err)
		return
	}
	cache := "public, max-age=3600"
	if sr.Audience != podcasts.AudiencePublic {
		cache = privateCacheControl
	}
	p.serveCover(c, sr, cache, func(err error) { p.failPodcast(c, err) })
}

func (p *podcastSite) privateCover(c *gin.Context) {
	sr, ok := p.privateSeries(c)
	if !ok {
		return
	}
	p.serveCover(c, sr, privateCacheControl, func(error) { p.privateNotFound(c) })
}

// serveCover serves the series' cover if the URL names its type; a
// series without one has the default cover.
func (p *podcastSite) serveCover(c *gin.Context, sr podcasts.Series, cache string, fail func(error)) {
	if sr.Image == "" {
		c.Header("Cache-Control", cache)
		c.Redirect(http.StatusFound, defaultCover+"?v="+p.s.assetVersion)
		return
	}
	want := path.Ext(c.Request.URL.Path)
	got := strings.ToLower(path.Ext(sr.Image))
	if got == ".jpeg" {
		got = ".jpg"
	}
	if want != got {
		fail(errPodcastNotFound)
		return
	}
	_, err := p.s.files.serveObject(c, sr.Image, objectResponse{CacheControl: cache})
	if errors.Is(err, blob.ErrNotFound) {
		fail(errPodcastNotFound)
		return
	}
	if err != nil {
		fail(err)
	}
}

// Chapters and transcripts for the episode page.

// readChapters reads Podcasting 2.0 JSON chapters (at most
// maxChaptersSize); a missing or unreadable file gives none (the page
// still works).
func (p *podcastSite) readChapters(ctx context.Context, key string) []chapter {
	data, ok := p.readSmall(ctx, key, maxChaptersSize)
	if !ok {
		return nil
	}
	var doc struct {
		Chapters []struct {
			StartTime float64 `json:"startTime"`
			Title     string  `json:"title"`
			TOC       *bool   `json:"toc"`
		} `json:"chapters"`
	}
	if err := json.Unmarshal(data, &doc); err != nil {
		p.s.cfg.Logger.Warn("podcasts: chapters unreadable", "key", key, "err", err)
		return nil
	}
	var out []chapter
	for _, ch := range doc.Chapters {
		if len(out) >= maxChapters {
			break
		}
		title := strings.TrimSpace(ch.Title)
		if title == "" || ch.StartTime < 0 || ch.TOC != nil && !*ch.TOC {
			continue
		}
		start, iso := clockText(time.Duration(ch.StartTime * float64(time.Second)))
		out = append(out, chapter{Start: start, StartISO: iso, Title: title})
	}
	return out
}

// clockText is durationText for a point in time (whole seconds, cut
// down), which also writes zero ("0:00").
func clockText(d time.Duration) (string, string) {
	d = d.Truncate(time.Second)
	if d < time.Second {
		return "0:00", "PT0S"
	}
	return durationText(d)
}

// readTranscript reads the cues of a small WebVTT file; a large or
// unreadable one gives none (the page links it).
func (p *podcastSite) readTranscript(ctx context.Context, key string) []transcriptLine {
	data, ok := p.readSmall(ctx, key, maxTranscriptSize)
	if !ok {
		return nil
	}
	return parseVTT(data)
}

func (p *podcastSite) readSmall(ctx context.Context, key string, limit int64) ([]byte, bool) {
	r, info, err := p.objects.Open(ctx, key)
	if err != nil {
		if !errors.Is(err, blob.ErrNotFound) {
			p.s.cfg.Logger.Warn("podcasts: reading a file", "key", key, "err", err)
		}
		return nil, false
	}
	defer r.Close()
	if info.Size > limit {
		return nil, false
	}
	data, err := io.ReadAll(io.LimitReader(r, limit+1))
	if err != nil || int64(len(data)) > limit {
		return nil, false
	}
	return data, true
}

// parseVTT reads the cues of a WebVTT file: each cue's start and its
// text lines joined (tags removed).
func parseVTT(data []byte) []transcriptLine {
	var out []transcriptLine
	sc := bufio.NewScanner(bytes.NewReader(bytes.TrimPrefix(data, []byte("\ufeff"))))
	sc.Buffer(make([]byte, 0, 4096), maxTranscriptSize)
	var cur *transcriptLine
	var text []string
	flush := func() {
		if cur != nil && len(text) > 0 {
			cur.Text = strings.Join(text, " ")
			out = append(out, *cur)
		}
		cur, text = nil, nil
	}
	skip := false // inside a NOTE, STYLE or REGION block
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			flush()
			skip = false
		case skip:
		case strings.Contains(line, "-->"):
			flush()
			start, _, _ := strings.Cut(line, "-->")
			d, ok := vttTime(strings.TrimSpace(start))
			if !ok {
				skip = true
				continue
			}
			s, iso := clockText(d)
			cur = &transcriptLine{Start: s, StartISO: iso}
		case cur != nil:
			if t := stripTags(line); t != "" {
				text = append(text, t)
			}
		case strings.HasPrefix(line, "NOTE") || line == "STYLE" || line == "REGION" || strings.HasPrefix(line, "WEBVTT"):
			skip = true
		}
	}
	flush()
	return out
}

// vttTime reads a WebVTT timestamp ((hh:)mm:ss.ttt).
func vttTime(s string) (time.Duration, bool) {
	parts := strings.Split(s, ":")
	if len(parts) < 2 || len(parts) > 3 {
		return 0, false
	}
	var d time.Duration
	for i, part := range parts {
		if i == len(parts)-1 {
			secs, frac, _ := strings.Cut(part, ".")
			n, ok := atoiSmall(secs)
			if !ok {
				return 0, false
			}
			d = d*60 + time.Duration(n)*time.Second
			if frac != "" {
				ms, ok := atoiSmall((frac + "000")[:3])
				if !ok {
					return 0, false
				}
				d += time.Duration(ms) * time.Millisecond
			}
			continue
		}
		n, ok := atoiSmall(part)
		if !ok {
			return 0, false
		}
		d = d*60 + time.Duration(n)*time.Second
	}
	return d, true
}

func atoiSmall(s string) (int, bool) {
	if s == "" || len(s) > 6 {
		return 0, false
	}
	n := 0
	for _, r := range s {
		if r < '0' || r > '9' {
			return 0, false
		}
		n = n*10 + int(r-'0')
	}
	return n, true
}

// stripTags removes WebVTT's cue tags (<v Name>, <i>, timestamps) and
// unescapes its entities.
func stripTags(s string) string {
	var b strings.Builder
	in := false
	for _, r := range s {
		switch {
		case r == '<':
			in = true
		case r == '>' && in:
			in = false
		case !in:
			b.WriteRune(r)
		}
	}
	return strings.TrimSpace(strings.NewReplacer("&amp;", "&", "&lt;", "<", "&gt;", ">", "&nbsp;", "\u00a0", "&lrm;", "\u200e", "&rlm;", "\u200f").Replace(b.String()))
}
