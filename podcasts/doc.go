// Package podcasts owns portalo's podcast series and their RSS feeds: the
// participants' public series and the professionals' series for approved
// multipliers, each with its titles and descriptions per language, feed
// language, Apple Podcasts category, author and cover; the RSS 2.0 feed of a
// series as podcast apps accept it (the itunes and Podcasting 2.0 podcast
// namespaces, following the Podcast Standards Project's PSP-1
// specification); and the private feed tokens that let one multiplier
// subscribe to the professionals' series in a podcast app.
//
// Series and tokens live in a kv.Store. RenderFeed is a pure function: the
// caller (the web layer) gives it the series, the episodes and every URL
// (the feed's own, the site's, the cover's and the episodes' files, with a
// private token where one belongs), and gets the feed's bytes back, or an
// error when a required element could not be filled. Episodes themselves
// (their audio, video, chapters and transcripts) are the catalog's; this
// package knows nothing of HTTP, the catalog or accounts.
//
// A private feed token is a random 256-bit value shown to its person once;
// the store keeps only its SHA-256 hash. An account has at most one token:
// issuing a new one revokes the old one at once.
package podcasts
