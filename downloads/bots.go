package downloads

import (
	"regexp"
	"strings"
)

// botPatterns are regular expressions (matched case-insensitively, anywhere
// in the User-Agent) of clients that are not people listening.
//
// Sources: the generic words of the IAB/ABC International Spiders and Bots
// List, and the bots of the OPAWG podcast user-agent list
// (github.com/opawg/user-agents-v2, src/bots.json), trimmed to those a
// public-health portal is likely to meet and to patterns that cannot match
// a podcast player. Bare HTTP libraries that scripts use (curl, Wget,
// python-requests, Go-http-client, ...) are listed too; okhttp is not,
// because Android players send it bare (OPAWG counts it as a library).
var botPatterns = []string{
	// Generic words. "bot" also finds Googlebot, bingbot, AhrefsBot,
	// Twitterbot, Slackbot, TelegramBot, Discordbot, Applebot, ...
	// (the device brand "Cubot" is removed before matching, see IsBot).
	`bot`, `crawl`, `spider`, `scrap(e|er|ing)`, `slurp`, `preview`,
	`monitor`, `headless`, `archiver`, `validator`, `link ?check`,
	`transcri(be|ber|ption)`, `downloader`, `importer`, `fetcher`,
	`feed ?(parser|reader|consumer|scanner|fetch)`, `podcast[ -]?sync`,
	`uptime`, `pingdom`, `site24x7`, `statuscake`,
	// A User-Agent that is only "Mozilla" or "Mozilla/5.0".
	`^'?mozilla(/5\.0)?$`, `^\(mozilla/5\.0\)$`,
	// HTTP libraries and tools.
	`^curl`, `libcurl`, `pycurl`, ` curl/`, `wget`, `python-requests`,
	`python-urllib`, `python-httpx`, `aiohttp`, `go-http-client`,
	`libwww-perl`, `lwp::`, `^java/`, `apache-httpclient`, `node-fetch`,
	`^axios/`, `^undici`, `guzzlehttp`, `^ruby`, `faraday`, `typhoeus`,
	`mechanize`, `httrack`, `powershell/`, `^n8n`, `^zapier`,
	// Social networks' link previews.
	`facebookexternalhit`, `facebookexternalua`, `facebot`,
	`meta-externalagent`, `^facebookplatform/`, `^podcastbot$`,
	`^whatsapp/`, `embedly`, `iframely`, `^linkpreview`,
	// Search engines and AI crawlers whose names lack the words above.
	`mediapartners-google`, `google-podcast`, `google-notebooklm`,
	`google-safety`, `google-xrawler`, `bytespider`, `yahoo! slurp`,
	`archive\.org`, `archive-it`, `ccbot/`,
	// Podcast services that fetch episodes for themselves (OPAWG).
	`^spotify/1\.0$`,        // Spotify's caching service; the apps send "Spotify/<version> <OS>"
	`itunesstored`, `^itms`, // Apple Podcasts' automated checks
	`^atc/`, `\(null\) watchos/`, // Apple Podcasts on the Watch
	`^amazon music podcast`, `^amazonnewscontentservice`,
	`^ais virtuallistener`, // AdsWizz
	`^trackable/`,          // Chartable
	`^podtrac`, `^listennotes/`, `podchaser`, `podcastindex`,
	`castopod/`, `^fyyd-poll`, `^feedly/`, `^tiny tiny rss/`,
	`flipboardproxy`, `^headliner/`, `^libsyn4`, `^blubrry`,
	`^buzzsprout`, `^podbean`, `anchorimport`, `^deezer podcasters`,
	`^iono/`, `^jamit/1\.0$`, `^goodpods/\d+\.\d+`, `^audioboombot`,
	`^captivatebot`, `^simplecast$`, `^transistor\.fm/`, `redcircle`,
	`^omnystudio/`, `^pinecast/`, `^podcastics$`, `podcloud`,
	`^op3-fetcher/`, `^magellanai/`, `^podscribe/`, `^adswizz-podscribe`,
	`^freewheel/`, `^siriusxm/(rss|stt)`, `^rephonic/`, `^taddy podcast api`,
	`^deepcast/.*sync`, `^beacon/\d`, `^allears/`, `^gumball`,
	`^triton digital podcast sync$`, `^flexget/`,
	`^transmission/\d`, `^sharinguiservice/`, `^sharesheetui/`,
	`^wordpress`, `^ucast/`, `^zencastr/`, `^overcast%20transcriber/`,
}

// botsRegexp matches every entry of botPatterns, all lower case: IsBot
// lowers the User-Agent first (cheaper than a case-folding program).
var botsRegexp = regexp.MustCompile(`(?:` + strings.Join(botPatterns, `)|(?:`) + `)`)

// notBots are parts of real User-Agents that the generic words would
// mistake for bots; they are removed before matching.
var notBots = strings.NewReplacer("cubot", "") // Cubot phones: "Android 12; CUBOT X30"

// IsBot reports whether userAgent belongs to a bot, crawler, feed fetcher,
// monitor or HTTP library by the built-in list, or is empty. Real podcast
// players and browsers are not bots.
func IsBot(userAgent string) bool {
	ua := strings.ToLower(strings.TrimSpace(userAgent))
	if ua == "" {
		return true
	}
	return botsRegexp.MatchString(notBots.Replace(ua))
}

// extraBots compiles Options.ExtraBots: plain substrings, matched
// case-insensitively. It returns nil when there are none.
func extraBots(words []string) *regexp.Regexp {
	var quoted []string
	for _, w := range words {
		if w = strings.TrimSpace(w); w != "" {
			quoted = append(quoted, regexp.QuoteMeta(w))
		}
	}
	if len(quoted) == 0 {
		return nil
	}
	return regexp.MustCompile(`(?i)` + strings.Join(quoted, "|"))
}
