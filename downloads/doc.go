// Package downloads owns the download counts of podcast episodes and other
// media files: it decides, by the IAB Podcast Measurement Technical
// Guidelines v2 as far as a single service can, whether a request for a
// file is a download, and keeps the counts per item and UTC day. It keeps
// no IP address.
//
// It stores its state in a kv.Store (so several portalo nodes sharing Redis
// count together) and knows nothing of HTTP: the web layer calls
// Counter.Record for every GET of a file it serves, with the client's IP
// address (as seen after the trusted proxies), the User-Agent, the byte
// range it served and the file's size and duration.
//
// # What counts
//
//   - Clients. A client is its IP address together with its User-Agent.
//     Neither is stored: the pair is hashed with HMAC-SHA-256 under a
//     secret salt of the UTC day, together with the item, and only the hash
//     is used as a key. The salt is 32 random bytes made on the first
//     request of the day with kv.Create (so all nodes agree on it) and
//     expires at the end of the following UTC day, after which nobody can
//     tell which IP address a hash belonged to. As the item is part of the
//     hash, the keys of one client for two items cannot be linked either.
//
//   - Once per 24 hours. A client is counted at most once per item within
//     Options.Window (24 hours, at most 24 hours) of the moment it was
//     counted. So that the window holds across midnight, when the day's
//     salt is new, the client's hash under yesterday's salt is looked up
//     too, as long as that salt exists.
//
//   - Enough bytes. A request counts only when the client has asked for at
//     least one minute of content: size/duration × 60 s when both are known;
//     when the duration is unknown, Options.DefaultThreshold (1 MiB); never
//     more than the whole file, so a short file counts when it is requested
//     whole. The bytes a client requests for an item within the window add
//     up, so a player that fetches a file in several ranges is counted once,
//     when the sum reaches the threshold. Overlapping or repeated ranges are
//     added generously (the sum of the lengths, not of the distinct bytes).
//     A request of at most two bytes (the "Range: bytes=0-1" probe of
//     podcast apps) never adds anything, unless it is the whole file.
//
//   - People, not bots. A request whose User-Agent matches the built-in
//     list of bots, crawlers, feed fetchers, monitors and HTTP libraries
//     (see IsBot; drawn from the OPAWG user-agents-v2 bot list and the
//     generic words of the IAB/ABC spiders list) or one of
//     Options.ExtraBots, or that has no User-Agent, is never counted. Real
//     podcast players (AppleCoreMedia, Spotify, Pocket Casts, Overcast,
//     AntennaPod, Podcast Addict, browsers) are counted; their feed
//     fetchers and sync services are not.
//
//   - GET only. HEAD requests (and any method but GET) never count.
//
// # Figures
//
// Every counted download adds one to the item's count of the UTC day it was
// counted on and to the item's total. Both are kept without expiry; Stats
// gives the total and the last days, Totals the totals of many items.
//
// # Limits
//
// A single server cannot see everything the guidelines ask for: it cannot
// tell the bytes actually delivered from those requested, nor which client
// is behind a shared address with the same User-Agent (they count as one),
// and a client that changes its address within the window counts again.
// Two requests of the same client for the same item within a few
// milliseconds of UTC midnight may both count.
package downloads
