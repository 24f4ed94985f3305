// Package catalog owns the mediathek's items and their index: what a video,
// podcast episode or document is (titles and descriptions in the five
// languages, topic, audience, status, language versions with their files,
// subtitles, poster), the rules for changing it, and the in-memory index
// that lists, filters and searches the items.
//
// The object store is the source of truth. Each item's metadata is a JSON
// manifest beside its files:
//
//	media/ITEMID/manifest.json   the Item (see manifest.go)
//	media/ITEMID/...             its files (sources, HLS renditions, poster, subtitles)
//
// so that a Catalog on an empty kv.Store rebuilds the same index from the
// bucket alone. The kv.Store holds only coordination state: a short-lived
// lock per item that serializes writes across nodes, the claims that keep
// slugs unique, and a version counter that every write bumps.
//
// Reads (Get, GetBySlug, List, Search) come from the in-memory index and
// never touch a store. Writes on this node update its index at once; other
// nodes notice the bumped counter in Run, which polls it, and re-read only
// the manifests whose ETag changed.
//
// An item's StatusDetail is either free text or a Reason (reason.go): a
// stable code with parameters in a small JSON object, which the web layer
// shows in the editor's language (ParseReason).
//
// Episodes carry their series, season, number and explicit flag, documents
// their category and version label (Meta); these fields are cleared on
// items of another kind. Query selects by kind, series and category.
//
// The package knows nothing of HTTP, uploads or ffmpeg: the web layer
// decides who may see or change what (Viewer, the editor role) and the
// processing step reports its files with SetFiles and SetStatus.
package catalog
