package podcasts

import (
	"bytes"
	"cmp"
	"crypto/sha256"
	"encoding/base64"
	"encoding/xml"
	"errors"
	"fmt"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/google/uuid"
)

// The namespaces of a feed.
const (
	NamespaceITunes  = "http://www.itunes.com/dtds/podcast-1.0.dtd"
	NamespacePodcast = "https://podcastindex.org/namespace/1.0"
	NamespaceAtom    = "http://www.w3.org/2005/Atom"
)

// Types of the files an episode links to.
const (
	TypeWebVTT   = "text/vtt"
	TypeChapters = "application/json+chapters"
)

// Transcript is one transcript or captions file of an episode.
type Transcript struct {
	URL string
	// Type is the file's media type; empty means WebVTT (TypeWebVTT).
	Type string
	// Language is the transcript's language; empty means the feed's.
	Language string
	// Captions marks a file with time codes meant as closed captions
	// (rel="captions").
	Captions bool
}

// Episode is one item of a feed, as the caller gives it.
type Episode struct {
	// GUID identifies the episode for ever (the catalog item's ID); it
	// must never change, whatever else does.
	GUID        string
	Title       string
	Description string // plain text
	// Link is the episode's page; optional.
	Link string
	// EnclosureURL, EnclosureLength (bytes) and EnclosureType
	// ("audio/mp4", "audio/mpeg", "video/mp4", ...) describe the file an
	// app downloads; all three are required.
	EnclosureURL    string
	EnclosureLength int64
	EnclosureType   string
	// Published is the pubDate; zero leaves it out.
	Published time.Time
	// Duration is itunes:duration (in whole seconds); zero leaves it out.
	Duration time.Duration
	// Season and Number are itunes:season and itunes:episode; 0 leaves
	// them out.
	Season, Number int
	Transcripts    []Transcript
	// ChaptersURL links JSON chapters (TypeChapters); optional.
	ChaptersURL string
	// ImageURL is the episode's own artwork; optional.
	ImageURL string
	// Explicit marks the episode itunes:explicit even when its series is
	// not.
	Explicit bool
}

// Feed is what RenderFeed renders: one series with its episodes and the
// URLs the caller built for them.
type Feed struct {
	Series Series
	// SelfURL is the feed's own URL (atom:link rel="self"), for a private
	// feed including its token.
	SelfURL string
	// GUIDURL is the URL podcast:guid is computed from when the series
	// has no FeedGUID yet; empty means SelfURL. A private feed gives the
	// public form of its URL here, so that every subscriber's feed names
	// the same podcast and no token can be derived from it.
	GUIDURL string
	// SiteURL is the series' page (the channel's <link>).
	SiteURL string
	// ImageURL is the cover (itunes:image and <image>); required.
	ImageURL string
	// Private marks a feed for one person: itunes:block and podcast:block
	// keep it out of directories.
	Private bool
	// Lang chooses the title and description shown; it falls back to the
	// series' language, then to any.
	Lang     string
	Episodes []Episode // in any order; rendered newest first
	// Updated is lastBuildDate; zero leaves it out.
	Updated time.Time
}

// podcastNamespace is the UUID namespace of podcast:guid.
var podcastNamespace = uuid.MustParse("ead4c236-bf58-58c6-a2c6-a6b28d128cb6")

// FeedGUID returns the podcast:guid of a feed URL: the UUIDv5 (RFC 9562)
// of the URL without its scheme and trailing slashes in the podcast
// namespace ead4c236-bf58-58c6-a2c6-a6b28d128cb6.
func FeedGUID(feedURL string) string {
	name := strings.TrimSpace(feedURL)
	if i := strings.Index(name, "://"); i >= 0 {
		name = name[i+3:]
	}
	name = strings.TrimRight(name, "/")
	return uuid.NewSHA1(podcastNamespace, []byte(name)).String()
}

// FeedETag returns a strong ETag (with its quotes) for a rendered feed.
func FeedETag(body []byte) string {
	sum := sha256.Sum256(body)
	return `"` + base64.RawURLEncoding.EncodeToString(sum[:]) + `"`
}

// The XML of a feed. Prefixed names are written as they are; the root
// declares the prefixes.
type rssXML struct {
	XMLName   xml.Name   `xml:"rss"`
	Version   string     `xml:"version,attr"`
	NSITunes  string     `xml:"xmlns:itunes,attr"`
	NSPodcast string     `xml:"xmlns:podcast,attr"`
	NSAtom    string     `xml:"xmlns:atom,attr"`
	Channel   channelXML `xml:"channel"`
}

type channelXML struct {
	AtomLink      atomLinkXML `xml:"atom:link"`
	Title         string      `xml:"title"`
	Link          string      `xml:"link"`
	Description   string      `xml:"description"`
	Language      string      `xml:"language"`
	LastBuildDate string      `xml:"lastBuildDate,omitempty"`
	GUID          string      `xml:"podcast:guid"`
	Locked        lockedXML   `xml:"podcast:locked"`
	Block         string      `xml:"podcast:block,omitempty"`
	Author        string      `xml:"itunes:author,omitempty"`
	Owner         *ownerXML   `xml:"itunes:owner"`
	ITunesImage   hrefXML     `xml:"itunes:image"`
	Image         imageXML    `xml:"image"`
	Category      categoryXML `xml:"itunes:category"`
	Explicit      string      `xml:"itunes:explicit"`
	Type          string      `xml:"itunes:type"`
	ITunesBlock   string      `xml:"itunes:block,omitempty"`
	Items         []itemXML   `xml:"item"`
}

type atomLinkXML struct {
	Href string `xml:"href,attr"`
	Rel  string `xml:"rel,attr"`
	Type string `xml:"type,attr"`
}

type lockedXML struct {
	Owner string `xml:"owner,attr,omitempty"`
	Value string `xml:",chardata"`
}

type ownerXML struct {
	Name  string `xml:"itunes:name,omitempty"`
	Email string `xml:"itunes:email"`
}

type hrefXML struct {
	Href string `xml:"href,attr"`
}

type imageXML struct {
	URL   string `xml:"url"`
	Title string `xml:"title"`
	Link  string `xml:"link"`
}

type categoryXML struct {
	Text string       `xml:"text,attr"`
	Sub  *categoryXML `xml:"itunes:category"`
}

type itemXML struct {
	Title       string          `xml:"title"`
	Description string          `xml:"description,omitempty"`
	Link        string          `xml:"link,omitempty"`
	GUID        guidXML         `xml:"guid"`
	PubDate     string          `xml:"pubDate,omitempty"`
	Enclosure   enclosureXML    `xml:"enclosure"`
	Duration    string          `xml:"itunes:duration,omitempty"`
	Season      string          `xml:"itunes:season,omitempty"`
	Episode     string          `xml:"itunes:episode,omitempty"`
	EpisodeType string          `xml:"itunes:episodeType"`
	Explicit    string          `xml:"itunes:explicit,omitempty"`
	Image       *hrefXML        `xml:"itunes:image"`
	Transcripts []transcriptXML `xml:"podcast:transcript"`
	Chapters    *chaptersXML    `xml:"podcast:chapters"`
}

type guidXML struct {
	IsPermaLink string `xml:"isPermaLink,attr"`
	Value       string `xml:",chardata"`
}

type enclosureXML struct {
	URL    string `xml:"url,attr"`
	Length int64  `xml:"length,attr"`
	Type   string `xml:"type,attr"`
}

type transcriptXML struct {
	URL      string `xml:"url,attr"`
	Type     string `xml:"type,attr"`
	Language string `xml:"language,attr,omitempty"`
	Rel      string `xml:"rel,attr,omitempty"`
}

type chaptersXML struct {
	URL  string `xml:"url,attr"`
	Type string `xml:"type,attr"`
}

// rfc1123Z formats a time as RSS wants it, in UTC.
func rfc1123Z(t time.Time) string { return t.UTC().Format(time.RFC1123Z) }

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// absURL reports whether u is an absolute http(s) URL with a host.
func absURL(u string) bool {
	p, err := url.Parse(u)
	return err == nil && (p.Scheme == "https" || p.Scheme == "http") && p.Host != "" && !strings.ContainsAny(u, " \t\r\n")
}

// RenderFeed renders the RSS 2.0 feed of f (with the XML declaration). It
// returns an error, and no feed, when an element PSP-1 requires cannot be
// filled or a value is invalid: a missing or non-absolute URL, no title or
// description, an unknown category, an episode without a GUID, title or
// complete enclosure, or two episodes with the same GUID.
func RenderFeed(f Feed) ([]byte, error) {
	sr := f.Series
	title, _ := sr.TitleIn(cmp.Or(f.Lang, sr.Language))
	desc, _ := sr.DescriptionIn(cmp.Or(f.Lang, sr.Language))
	title, desc = strings.TrimSpace(title), strings.TrimSpace(desc)
	guidURL := cmp.Or(f.GUIDURL, f.SelfURL)
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case !absURL(f.SelfURL):
		bad("feed URL missing or not absolute")
	case !absURL(guidURL):
		bad("GUID URL not absolute")
	}
	if !absURL(f.SiteURL) {
		bad("site URL missing or not absolute")
	}
	if !absURL(f.ImageURL) {
		bad("image URL missing or not absolute")
	}
	if title == "" {
		bad("series has no title")
	}
	if desc == "" {
		bad("series has no description")
	}
	if !ValidLanguage(sr.Language) {
		bad("series language %q invalid", sr.Language)
	}
	if sr.Category == "" || !ValidCategory(sr.Category, sr.Subcategory) {
		bad("category %q > %q not in Apple's list", sr.Category, sr.Subcategory)
	}
	if sr.OwnerEmail != "" && !validEmail(sr.OwnerEmail) {
		bad("owner e-mail invalid")
	}
	ch := channelXML{
		AtomLink:    atomLinkXML{Href: f.SelfURL, Rel: "self", Type: "application/rss+xml"},
		Title:       title,
		Link:        f.SiteURL,
		Description: desc,
		Language:    sr.Language,
		GUID:        cmp.Or(sr.FeedGUID, FeedGUID(guidURL)),
		Locked:      lockedXML{Owner: sr.OwnerEmail, Value: yesNo(sr.Locked)},
		Author:      strings.TrimSpace(sr.Author),
		ITunesImage: hrefXML{Href: f.ImageURL},
		Image:       imageXML{URL: f.ImageURL, Title: title, Link: f.SiteURL},
		Category:    categoryXML{Text: sr.Category},
		Explicit:    strconv.FormatBool(sr.Explicit),
		Type:        "episodic",
	}
	if sr.Subcategory != "" {
		ch.Category.Sub = &categoryXML{Text: sr.Subcategory}
	}
	if sr.OwnerEmail != "" {
		ch.Owner = &ownerXML{Name: ch.Author, Email: sr.OwnerEmail}
	}
	if !f.Updated.IsZero() {
		ch.LastBuildDate = rfc1123Z(f.Updated)
	}
	if f.Private {
		ch.Block = "yes"
		ch.ITunesBlock = "Yes"
	}
	eps := slices.Clone(f.Episodes)
	slices.SortStableFunc(eps, func(a, b Episode) int { return b.Published.Compare(a.Published) })
	seen := map[string]bool{}
	for _, e := range eps {
		it, err := renderItem(e)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if seen[it.GUID.Value] {
			bad("episode %q: GUID used twice", it.GUID.Value)
			continue
		}
		seen[it.GUID.Value] = true
		ch.Items = append(ch.Items, it)
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("podcasts: feed of series %s: %w", sr.ID, err)
	}
	doc := rssXML{
		Version:   "2.0",
		NSITunes:  NamespaceITunes,
		NSPodcast: NamespacePodcast,
		NSAtom:    NamespaceAtom,
		Channel:   ch,
	}
	var buf bytes.Buffer
	buf.WriteString(xml.Header)
	enc := xml.NewEncoder(&buf)
	enc.Indent("", "  ")
	if err := enc.Encode(doc); err != nil {
		return nil, fmt.Errorf("podcasts: encoding feed of series %s: %w", sr.ID, err)
	}
	buf.WriteByte('\n')
	return buf.Bytes(), nil
}

func renderItem(e Episode) (itemXML, error) {
	guid := strings.TrimSpace(e.GUID)
	title := strings.TrimSpace(e.Title)
	var errs []error
	bad := func(format string, args ...any) { errs = append(errs, fmt.Errorf(format, args...)) }
	switch {
	case guid == "":
		bad("episode %q has no GUID", title)
	case title == "":
		bad("episode %s has no title", guid)
	}
	if !absURL(e.EnclosureURL) {
		bad("episode %s: enclosure URL missing or not absolute", guid)
	}
	if e.EnclosureLength <= 0 {
		bad("episode %s: enclosure length missing", guid)
	}
	if typ, _, _ := strings.Cut(e.EnclosureType, "/"); typ != "audio" && typ != "video" {
		bad("episode %s: enclosure type %q is not audio or video", guid, e.EnclosureType)
	}
	if e.Duration < 0 || e.Season < 0 || e.Number < 0 {
		bad("episode %s: negative duration, season or number", guid)
	}
	if e.Link != "" && !absURL(e.Link) {
		bad("episode %s: link not absolute", guid)
	}
	if e.ImageURL != "" && !absURL(e.ImageURL) {
		bad("episode %s: image URL not absolute", guid)
	}
	if e.ChaptersURL != "" && !absURL(e.ChaptersURL) {
		bad("episode %s: chapters URL not absolute", guid)
	}
	it := itemXML{
		Title:       title,
		Description: strings.TrimSpace(e.Description),
		Link:        e.Link,
		GUID:        guidXML{IsPermaLink: "false", Value: guid},
		Enclosure:   enclosureXML{URL: e.EnclosureURL, Length: e.EnclosureLength, Type: e.EnclosureType},
		EpisodeType: "full",
	}
	if e.Explicit {
		it.Explicit = "true"
	}
	if !e.Published.IsZero() {
		it.PubDate = rfc1123Z(e.Published)
	}
	if secs := int64(e.Duration.Round(time.Second) / time.Second); secs > 0 {
		it.Duration = strconv.FormatInt(secs, 10)
	}
	if e.Season > 0 {
		it.Season = strconv.Itoa(e.Season)
	}
	if e.Number > 0 {
		it.Episode = strconv.Itoa(e.Number)
	}
	if e.ImageURL != "" {
		it.Image = &hrefXML{Href: e.ImageURL}
	}
	for _, t := range e.Transcripts {
		if !absURL(t.URL) {
			bad("episode %s: transcript URL not absolute", guid)
			continue
		}
		if t.Language != "" && !validLangTag(t.Language) {
			bad("episode %s: transcript language %q invalid", guid, t.Language)
			continue
		}
		tx := transcriptXML{URL: t.URL, Type: cmp.Or(t.Type, TypeWebVTT), Language: t.Language}
		if t.Captions {
			tx.Rel = "captions"
		}
		it.Transcripts = append(it.Transcripts, tx)
	}
	if e.ChaptersURL != "" {
		it.Chapters = &chaptersXML{URL: e.ChaptersURL, Type: TypeChapters}
	}
	return it, errors.Join(errs...)
}

// validLangTag accepts a simple language tag such as "de" or "en-US".
func validLangTag(s string) bool {
	if len(s) < 2 || len(s) > 35 {
		return false
	}
	for _, part := range strings.Split(s, "-") {
		if part == "" || len(part) > 8 || strings.ContainsFunc(part, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9')
		}) {
			return false
		}
	}
	return true
}
