package catalog

import (
	"encoding/json"
	"fmt"
	"portalo/internal/langtext"
	"strings"
	"time"
	"unicode/utf8"
)

const (
	mediaPrefix  = "media/"
	manifestName = "manifest.json"
	// deletingName marks an item being deleted (see Delete).
	deletingName = ".deleting"
	// manifestFormat is written into every manifest; a reader refuses
	// manifests of a newer format instead of misreading them.
	manifestFormat = 1
	// maxManifestSize bounds what is read as a manifest.
	maxManifestSize = 1 << 20
	manifestType    = "application/json"
)

// manifest is the JSON form of an Item in media/ITEMID/manifest.json, the
// source of truth of the catalog. Fields are only ever added; a change that
// old readers would misread raises manifestFormat.
type manifest struct {
	Format       int                        `json:"format"`
	ID           string                     `json:"id"`
	Kind         Kind                       `json:"kind"`
	Slug         string                     `json:"slug"`
	Title        map[string]string          `json:"title"`
	Description  map[string]string          `json:"description,omitempty"`
	Topic        Topic                      `json:"topic"`
	Audience     Audience                   `json:"audience"`
	Downloadable bool                       `json:"downloadable"`
	Series       string                     `json:"series,omitempty"`
	Season       int                        `json:"season,omitempty"`
	Number       int                        `json:"number,omitempty"`
	Explicit     bool                       `json:"explicit,omitempty"`
	Category     DocumentCategory           `json:"category,omitempty"`
	DocVersion   string                     `json:"doc_version,omitempty"`
	Status       Status                     `json:"status"`
	StatusDetail string                     `json:"status_detail,omitempty"`
	DurationMS   int64                      `json:"duration_ms,omitempty"`
	Poster       string                     `json:"poster,omitempty"`
	Versions     map[string]manifestVersion `json:"versions,omitempty"`
	Subtitles    map[string]string          `json:"subtitles,omitempty"`
	Chapters     string                     `json:"chapters,omitempty"`
	Created      time.Time                  `json:"created"`
	Updated      time.Time                  `json:"updated"`
	Published    time.Time                  `json:"published,omitzero"`
	Revision     int                        `json:"revision"`
}

type manifestVersion struct {
	Files []File `json:"files"`
}

func encodeManifest(it Item) ([]byte, error) {
	m := manifest{
		Format: manifestFormat, ID: it.ID, Kind: it.Kind, Slug: it.Slug,
		Title: it.Title, Description: it.Description, Topic: it.Topic, Audience: it.Audience,
		Downloadable: it.Downloadable, Status: it.Status, StatusDetail: it.StatusDetail,
		Series: it.Series, Season: it.Season, Number: it.Number, Explicit: it.Explicit,
		Category: it.Category, DocVersion: it.DocVersion,
		DurationMS: it.Duration.Milliseconds(), Poster: it.Poster, Subtitles: it.Subtitles, Chapters: it.Chapters,
		Created: it.Created, Updated: it.Updated, Published: it.Published, Revision: it.Revision,
	}
	if len(it.Versions) > 0 {
		m.Versions = make(map[string]manifestVersion, len(it.Versions))
		for l, v := range it.Versions {
			m.Versions[l] = manifestVersion{Files: v.Files}
		}
	}
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("catalog: encoding the manifest of %s: %w", it.ID, err)
	}
	return append(b, '\n'), nil
}

// decodeManifest reads the manifest stored for the item with id and checks
// it as strictly as a write would, so that a hand-edited or damaged manifest
// cannot put an invalid item into the index.
func decodeManifest(id string, b []byte) (Item, error) {
	var m manifest
	if err := json.Unmarshal(b, &m); err != nil {
		return Item{}, fmt.Errorf("catalog: manifest of %s: %w", id, err)
	}
	if m.Format < 1 || m.Format > manifestFormat {
		return Item{}, fmt.Errorf("catalog: manifest of %s has format %d; this portalo reads up to %d", id, m.Format, manifestFormat)
	}
	if m.ID != id {
		return Item{}, fmt.Errorf("catalog: manifest under %s names item %q", Prefix(id), m.ID)
	}
	it := Item{
		ID: m.ID,
		Meta: Meta{
			Kind: m.Kind, Slug: m.Slug, Title: m.Title, Description: m.Description,
			Topic: m.Topic, Audience: m.Audience, Downloadable: m.Downloadable,
			Series: m.Series, Season: m.Season, Number: m.Number, Explicit: m.Explicit,
			Category: m.Category, DocVersion: m.DocVersion,
		},
		Media: Media{
			Duration: time.Duration(m.DurationMS) * time.Millisecond, Poster: m.Poster,
			Subtitles: m.Subtitles, Chapters: m.Chapters,
		},
		Status: m.Status, StatusDetail: m.StatusDetail,
		Created: m.Created.UTC(), Updated: m.Updated.UTC(), Revision: m.Revision,
	}
	if !m.Published.IsZero() {
		it.Published = m.Published.UTC()
	}
	if len(m.Versions) > 0 {
		it.Versions = make(map[string]Version, len(m.Versions))
		for l, v := range m.Versions {
			it.Versions[l] = Version{Files: v.Files}
		}
	}
	it, err := checkStored(it)
	if err != nil {
		return Item{}, fmt.Errorf("catalog: manifest of %s: %w", id, err)
	}
	return it, nil
}

// checkStored validates an item as read from the store and returns it
// normalized.
func checkStored(it Item) (Item, error) {
	var err error
	if it.Meta, err = normalizeMeta(it.Meta); err != nil {
		return Item{}, err
	}
	if it.Slug == "" {
		return Item{}, inputErr("slug", "slug_invalid")
	}
	if it.Media, err = normalizeMedia(it.ID, it.Media); err != nil {
		return Item{}, err
	}
	switch {
	case !ValidStatus(it.Status):
		return Item{}, inputErr("status", "status_invalid")
	case !langtext.OK(it.StatusDetail) || utf8.RuneCountInString(it.StatusDetail) > MaxStatusDetailLen:
		return Item{}, inputErr("status_detail", "status_detail_invalid")
	case it.Revision < 1:
		return Item{}, inputErr("revision", "revision_invalid")
	case it.Created.IsZero() || it.Updated.IsZero():
		return Item{}, inputErr("created", "time_invalid")
	case it.Status == StatusPublished && it.Published.IsZero():
		return Item{}, inputErr("published", "time_invalid")
	}
	return it, nil
}

func deletingKey(id string) string { return Prefix(id) + deletingName }

// manifestID returns the item ID of a manifest key ("media/ID/manifest.json").
func manifestID(key string) (string, bool) {
	rest, ok := strings.CutPrefix(key, mediaPrefix)
	if !ok {
		return "", false
	}
	id, name, ok := strings.Cut(rest, "/")
	if !ok || name != manifestName || !validID(id) {
		return "", false
	}
	return id, true
}
