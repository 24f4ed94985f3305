package catalog

import (
	"maps"
	"slices"
	"time"

	"portalo/internal/langtext"
)

// Kind is what an item is.
type Kind string

// The kinds.
const (
	KindVideo    Kind = "video"
	KindEpisode  Kind = "episode" // a podcast episode
	KindDocument Kind = "document"
)

// Kinds are the known kinds, in the order a page lists them.
var Kinds = []Kind{KindVideo, KindEpisode, KindDocument}

// Topic is what an item is about.
type Topic string

// The topics.
const (
	TopicMovement   Topic = "movement"
	TopicNutrition  Topic = "nutrition"
	TopicRelaxation Topic = "relaxation-and-stress"
	TopicAddiction  Topic = "addiction"
	TopicSleep      Topic = "sleep"
	TopicPain       Topic = "pain"
	TopicOther      Topic = "other"
)

// Topics are the known topics, in the order a page lists them. A new topic
// is added here (and given a label in the web layer).
var Topics = []Topic{TopicMovement, TopicNutrition, TopicRelaxation, TopicAddiction, TopicSleep, TopicPain, TopicOther}

// DocumentCategory is what kind of document a document item is (for the
// multipliers' area, which lists documents by category).
type DocumentCategory string

// The document categories.
const (
	CategoryPromotional DocumentCategory = "promotional" // promotional material (flyers, posters)
	CategoryProject     DocumentCategory = "project"     // project documents
	CategoryGuide       DocumentCategory = "guide"       // guides and handouts
	CategoryForm        DocumentCategory = "form"        // forms and templates
	CategoryReport      DocumentCategory = "report"      // reports and evaluations
	CategoryOther       DocumentCategory = "other"
)

// DocumentCategories are the known document categories, in the order a
// page lists them. A new category is added here (and given a label in the
// web layer).
var DocumentCategories = []DocumentCategory{CategoryPromotional, CategoryProject, CategoryGuide, CategoryForm, CategoryReport, CategoryOther}

// Audience says who may see an item.
type Audience string

// The audiences.
const (
	AudiencePublic      Audience = "public"
	AudienceMultipliers Audience = "multipliers" // approved multipliers (and editors) only
)

// Audiences are the known audiences.
var Audiences = []Audience{AudiencePublic, AudienceMultipliers}

// Status is where an item is in its life.
type Status string

// The statuses. Create makes a draft; the processing step moves it to
// processing and back to draft (or to failed); Publish makes it visible.
const (
	StatusDraft      Status = "draft"
	StatusProcessing Status = "processing"
	StatusPublished  Status = "published"
	StatusFailed     Status = "failed"
)

// Statuses are the known statuses.
var Statuses = []Status{StatusDraft, StatusProcessing, StatusPublished, StatusFailed}

// Languages are the languages of titles, descriptions, versions and
// subtitles, in the order used when one has to be picked: the portal's
// five.
var Languages = langtext.Languages

// ValidLanguage reports whether code is one of Languages.
func ValidLanguage(code string) bool { return langtext.Valid(code) }

// ValidKind reports whether k is one of Kinds.
func ValidKind(k Kind) bool { return slices.Contains(Kinds, k) }

// ValidTopic reports whether t is one of Topics.
func ValidTopic(t Topic) bool { return slices.Contains(Topics, t) }

// ValidDocumentCategory reports whether c is one of DocumentCategories.
func ValidDocumentCategory(c DocumentCategory) bool { return slices.Contains(DocumentCategories, c) }

// ValidSeriesID reports whether id can name a podcast series: the same
// form as an item ID (lowercase ASCII letters, digits and inner hyphens,
// at most 64 bytes). What the ID refers to is not the catalog's business.
func ValidSeriesID(id string) bool { return validID(id) }

// ValidAudience reports whether a is one of Audiences.
func ValidAudience(a Audience) bool { return slices.Contains(Audiences, a) }

// ValidStatus reports whether s is one of Statuses.
func ValidStatus(s Status) bool { return slices.Contains(Statuses, s) }

// File roles. Role is an open set of lowercase words; these are the ones
// the processing step and the player agree on.
const (
	RoleSource    = "source"    // the uploaded original
	RoleMaster    = "master"    // the HLS master playlist
	RoleRendition = "rendition" // one HLS video rendition's playlist
	RoleAudio     = "audio"     // an audio-only rendition's playlist
	RoleDownload  = "download"  // a file offered for download (MP4, M4A, PDF)
)

// File is one object of an item's language version.
type File struct {
	// Key is the object key, always under the item's prefix
	// ("media/ITEMID/...").
	Key         string `json:"key"`
	Role        string `json:"role"`
	ContentType string `json:"content_type,omitempty"`
	Size        int64  `json:"size"`
	// Complete is set by the processing step once the object (and, for a
	// playlist, everything it refers to) is fully in the store.
	Complete bool `json:"complete"`
}

// Version is an item's content in one language.
type Version struct {
	Files []File
}

// Complete reports whether the version has files and all are complete: only
// such versions may be offered to viewers.
func (v Version) Complete() bool {
	return len(v.Files) > 0 && !slices.ContainsFunc(v.Files, func(f File) bool { return !f.Complete })
}

// File returns the version's first file with role.
func (v Version) File(role string) (File, bool) {
	i := slices.IndexFunc(v.Files, func(f File) bool { return f.Role == role })
	if i < 0 {
		return File{}, false
	}
	return v.Files[i], true
}

// Meta is the part of an item that editors write (Create and Update).
type Meta struct {
	Kind Kind
	// Slug names the item in URLs: lowercase ASCII letters and digits in
	// words joined by single hyphens. Empty: Create derives one from a
	// title, Update keeps the current one.
	Slug string
	// Title and Description are keyed by language code; at least one title
	// is required.
	Title        map[string]string
	Description  map[string]string
	Topic        Topic
	Audience     Audience
	Downloadable bool

	// Episode fields: only a KindEpisode item keeps them (normalizing
	// clears them on other kinds, so switching an item's kind drops them).
	//
	// Series is the ID of the podcast series the episode belongs to, in the
	// form of ValidSeriesID; "" for none. The catalog does not check that
	// the series exists.
	Series string
	// Season is the season number, 1..MaxSeason; 0 for none.
	Season int
	// Number is the episode's number, 1..MaxEpisodeNumber; 0 for none.
	Number int
	// Explicit marks an episode with explicit content (the podcast feed's
	// itunes:explicit).
	Explicit bool

	// Document fields: only a KindDocument item keeps them (cleared on
	// other kinds).
	//
	// Category is one of DocumentCategories; "" for none.
	Category DocumentCategory
	// DocVersion is a free version label ("2.1", "2026-03"): one line of
	// printable characters, at most MaxDocVersionLen runes; "" for none.
	DocVersion string
}

// Media is the part of an item that the processing step writes (SetFiles).
type Media struct {
	Duration time.Duration // in the manifest as duration_ms
	// Poster is the object key of the poster image.
	Poster string
	// Versions are keyed by language code.
	Versions map[string]Version
	// Subtitles maps a language code to the object key of a WebVTT file.
	Subtitles map[string]string
	// Chapters is the object key of an episode's chapters file (Podcasting
	// 2.0 JSON chapters, content type application/json+chapters); "" for
	// none.
	Chapters string
}

// Item is one entry of the mediathek. It has no JSON form of its own: the
// manifest format is manifest's (manifest.go), and the web layer shapes what
// it shows to whom.
type Item struct {
	ID string
	Meta
	Media
	Status Status
	// StatusDetail says why an item failed, or what processing is doing;
	// SetStatus sets it.
	StatusDetail string
	Created      time.Time
	Updated      time.Time
	// Published is when the item was first published; it is kept when the
	// item is unpublished, so that publishing it again keeps its place.
	Published time.Time
	// Revision starts at 1 and increases with every write.
	Revision int
}

// Prefix returns the prefix of every object key of the item with id.
func Prefix(id string) string { return mediaPrefix + id + "/" }

// ManifestKey returns the object key of the manifest of the item with id.
func ManifestKey(id string) string { return Prefix(id) + manifestName }

// Prefix returns the prefix of every object key of the item.
func (it Item) Prefix() string { return Prefix(it.ID) }

// IsPublished reports whether the item is published.
func (it Item) IsPublished() bool { return it.Status == StatusPublished }

// Viewer says what someone may see.
type Viewer struct {
	// Multiplier is an approved multiplier: they also see items for
	// multipliers.
	Multiplier bool
	// Editor sees every item, in every status and for every audience.
	Editor bool
}

// VisibleTo reports whether v may see the item. The web layer checks it on
// every request for an item, and List and Search apply it.
func (it Item) VisibleTo(v Viewer) bool {
	if v.Editor {
		return true
	}
	if it.Status != StatusPublished {
		return false
	}
	return it.Audience == AudiencePublic || v.Multiplier && it.Audience == AudienceMultipliers
}

// HasLanguage reports whether the item has a title or a version in lang.
func (it Item) HasLanguage(lang string) bool {
	_, title := it.Title[lang]
	_, version := it.Versions[lang]
	return title || version
}

// Languages returns the languages the item has a title or a version in,
// in the order of Languages.
func (it Item) Languages() []string {
	var out []string
	for _, l := range Languages {
		if it.HasLanguage(l) {
			out = append(out, l)
		}
	}
	return out
}

// TitleIn returns the title in lang, else in the first of Languages that
// has one, and the language of the text returned.
func (it Item) TitleIn(lang string) (string, string) { return langtext.Pick(it.Title, lang) }

// DescriptionIn is TitleIn for the description.
func (it Item) DescriptionIn(lang string) (string, string) {
	return langtext.Pick(it.Description, lang)
}

// Files returns every file of every version, in language order.
func (it Item) Files() []File {
	var out []File
	for _, l := range sortedKeys(it.Versions) {
		out = append(out, it.Versions[l].Files...)
	}
	return out
}

// Clone returns a deep copy: changing its maps and slices leaves it
// untouched.
func (it Item) Clone() Item {
	it.Meta = it.Meta.clone()
	it.Media = it.Media.clone()
	return it
}

func (m Meta) clone() Meta {
	m.Title = maps.Clone(m.Title)
	m.Description = maps.Clone(m.Description)
	return m
}

func (m Media) clone() Media {
	m.Subtitles = maps.Clone(m.Subtitles)
	if m.Versions != nil {
		vs := make(map[string]Version, len(m.Versions))
		for l, v := range m.Versions {
			vs[l] = Version{Files: slices.Clone(v.Files)}
		}
		m.Versions = vs
	}
	return m
}

// sortedKeys returns the keys of m in the order of Languages first, then
// any others sorted.
func sortedKeys[V any](m map[string]V) []string {
	out := make([]string, 0, len(m))
	for _, l := range Languages {
		if _, ok := m[l]; ok {
			out = append(out, l)
		}
	}
	if len(out) == len(m) {
		return out
	}
	var rest []string
	for k := range m {
		if !ValidLanguage(k) {
			rest = append(rest, k)
		}
	}
	slices.Sort(rest)
	return append(out, rest...)
}
