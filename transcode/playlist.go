package transcode

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"
)

const (
	// MasterPlaylist is the name of the master playlist in the output.
	MasterPlaylist = "master.m3u8"
	// audioCodec is AAC-LC, what ffmpeg's native encoder writes.
	audioCodec = "mp4a.40.2"
	// subtitleGroup is the GROUP-ID of the subtitle renditions.
	subtitleGroup = "subs"
)

// segment is one entry of a media playlist.
type segment struct {
	uri      string
	duration float64 // seconds
}

// readMediaPlaylist returns the segments of the media playlist at file.
func readMediaPlaylist(file string) ([]segment, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("transcode: %w", err)
	}
	var segs []segment
	dur := -1.0
	sc := bufio.NewScanner(bytes.NewReader(data))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "#EXTINF:"):
			v, _, _ := strings.Cut(strings.TrimPrefix(line, "#EXTINF:"), ",")
			if dur, err = strconv.ParseFloat(v, 64); err != nil {
				return nil, fmt.Errorf("transcode: %s: bad EXTINF %q", file, line)
			}
		case line == "" || strings.HasPrefix(line, "#"):
		default:
			if dur < 0 {
				return nil, fmt.Errorf("transcode: %s: segment %q without EXTINF", file, line)
			}
			segs = append(segs, segment{uri: line, duration: dur})
			dur = -1
		}
	}
	if len(segs) == 0 {
		return nil, fmt.Errorf("transcode: %s has no segments", file)
	}
	return segs, nil
}

// rates are the measured bit rates of a media playlist.
type rates struct {
	peak, average int // bit/s
	duration      float64
}

// measure returns the peak and average bit rate of the media playlist at
// dir/index.m3u8 under root. The peak is that of the segments at least
// half as long as the target duration (and at least the average): a last
// segment of a frame or two is mostly its keyframe and would otherwise
// claim a peak the stream never has, scaring players off the rung.
func measure(root, dir string) (rates, error) {
	segs, err := readMediaPlaylist(filepath.Join(root, dir, "index.m3u8"))
	if err != nil {
		return rates{}, err
	}
	var total int64
	var r rates
	var shortPeak int
	for _, s := range segs {
		st, err := os.Stat(filepath.Join(root, dir, filepath.FromSlash(s.uri)))
		if err != nil {
			return rates{}, fmt.Errorf("transcode: segment of %s: %w", dir, err)
		}
		total += st.Size()
		r.duration += s.duration
		if s.duration <= 0 {
			continue
		}
		bps := int(math.Ceil(float64(st.Size()*8) / s.duration))
		if s.duration >= SegmentDuration.Seconds()/2 {
			r.peak = max(r.peak, bps)
		} else {
			shortPeak = max(shortPeak, bps)
		}
	}
	if r.peak == 0 {
		r.peak = shortPeak
	}
	if r.duration > 0 {
		r.average = int(math.Ceil(float64(total*8) / r.duration))
	}
	// The short segments left out count in the average, which the peak
	// must not be below.
	r.peak = max(r.peak, r.average)
	return r, nil
}

// writePlaylists writes the subtitle renditions and the master playlist,
// and describes the result.
func (p *plan) writePlaylists(ctx context.Context, tmp string) (Result, error) {
	res := Result{Master: MasterPlaylist, Duration: p.source.Duration}
	// The audio renditions, measured, by bit rate.
	audioRates := map[int]rates{} // the largest of the languages, per bit rate
	for _, b := range p.bitrates {
		for _, a := range p.audio {
			r, err := measure(tmp, a.dir(b))
			if err != nil {
				return Result{}, err
			}
			cur := audioRates[b]
			audioRates[b] = rates{peak: max(cur.peak, r.peak), average: max(cur.average, r.average), duration: max(cur.duration, r.duration)}
		}
	}
	for _, a := range p.audio {
		res.AudioLanguages = append(res.AudioLanguages, a.lang)
	}

	var m strings.Builder
	m.WriteString("#EXTM3U\n#EXT-X-VERSION:6\n#EXT-X-INDEPENDENT-SEGMENTS\n")
	for _, b := range p.bitrates {
		for i, a := range p.audio {
			fmt.Fprintf(&m, "#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID=%q,NAME=%q,", audioGroup(b), languageName(a.lang, "Original"))
			if a.lang != "" {
				fmt.Fprintf(&m, "LANGUAGE=%q,", a.lang)
			}
			fmt.Fprintf(&m, "DEFAULT=%s,AUTOSELECT=YES,CHANNELS=\"%d\",URI=%q\n", yesNo(i == 0), a.channels, a.dir(b)+"/index.m3u8")
		}
	}

	// The presentation's timeline: its length, and the MPEG-TS time of
	// its start, to which the subtitles' cue times are mapped.
	first := ""
	switch {
	case len(p.rungs) > 0:
		first = p.rungs[0].dir()
	case len(p.audio) > 0:
		first = p.audio[0].dir(p.bitrates[0])
	}
	segs, err := readMediaPlaylist(filepath.Join(tmp, first, "index.m3u8"))
	if err != nil {
		return Result{}, err
	}
	var length float64
	for _, s := range segs {
		length += s.duration
	}
	if len(p.subs) > 0 {
		start, err := startTime(ctx, filepath.Join(tmp, first, segs[0].uri))
		if err != nil {
			return Result{}, err
		}
		if err := os.MkdirAll(filepath.Join(tmp, "subtitles"), 0o755); err != nil {
			return Result{}, fmt.Errorf("transcode: %w", err)
		}
		for _, s := range p.subs {
			if err := writeSubtitleRendition(tmp, s, start, length); err != nil {
				return Result{}, err
			}
			fmt.Fprintf(&m, "#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID=%q,NAME=%q,LANGUAGE=%q,DEFAULT=NO,AUTOSELECT=YES,FORCED=NO,URI=%q\n",
				subtitleGroup, languageName(s.lang, s.lang), s.lang, "subtitles/"+s.key()+".m3u8")
			res.SubtitleLanguages = append(res.SubtitleLanguages, s.lang)
			r := SubtitleRendition{Language: s.lang, Playlist: "subtitles/" + s.key() + ".m3u8", File: "subtitles/" + s.key() + ".vtt"}
			if s.stream != nil {
				r.Embedded, r.Stream, r.Codec = true, s.stream.Index, s.stream.Codec
			}
			res.Subtitles = append(res.Subtitles, r)
		}
	}
	groups := func(b int) string {
		var g string
		if len(p.audio) > 0 {
			g += fmt.Sprintf(",AUDIO=%q", audioGroup(b))
		}
		if len(p.subs) > 0 {
			g += fmt.Sprintf(",SUBTITLES=%q", subtitleGroup)
		}
		return g
	}

	// Video variants, lowest first: a player that starts with the first
	// listed variant (Safari) starts low.
	for _, r := range p.rungs {
		vr, err := measure(tmp, r.dir())
		if err != nil {
			return Result{}, err
		}
		codec, err := videoCodec(ctx, filepath.Join(tmp, r.dir()))
		if err != nil {
			return Result{}, err
		}
		v := Variant{
			Name: r.name, Playlist: r.dir() + "/index.m3u8", Width: r.width, Height: r.height,
			Bandwidth: vr.peak, AverageBandwidth: vr.average, Codecs: codec, FrameRate: p.rate.Float(),
		}
		if len(p.audio) > 0 {
			ar := audioRates[r.audioBitrate]
			v.Bandwidth += ar.peak
			v.AverageBandwidth += ar.average
			v.Codecs += "," + audioCodec
		}
		fmt.Fprintf(&m, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,CODECS=%q,RESOLUTION=%dx%d,FRAME-RATE=%.3f%s,CLOSED-CAPTIONS=NONE\n%s\n",
			v.Bandwidth, v.AverageBandwidth, v.Codecs, v.Width, v.Height, v.FrameRate, groups(r.audioBitrate), v.Playlist)
		res.Variants = append(res.Variants, v)
	}
	// The audio-only variant, last: hls.js leaves it out when there is
	// video, and Safari falls back to it on a very weak link. Its URI is
	// the default language's rendition in its group.
	if len(p.audio) > 0 {
		ar := audioRates[AudioOnlyBitrate]
		v := Variant{
			Name: "audio", Playlist: p.audio[0].dir(AudioOnlyBitrate) + "/index.m3u8",
			Bandwidth: ar.peak, AverageBandwidth: ar.average, Codecs: audioCodec,
		}
		fmt.Fprintf(&m, "#EXT-X-STREAM-INF:BANDWIDTH=%d,AVERAGE-BANDWIDTH=%d,CODECS=%q%s\n%s\n",
			v.Bandwidth, v.AverageBandwidth, v.Codecs, groups(AudioOnlyBitrate), v.Playlist)
		res.Variants = append(res.Variants, v)
	}
	if err := os.WriteFile(filepath.Join(tmp, MasterPlaylist), []byte(m.String()), 0o644); err != nil {
		return Result{}, fmt.Errorf("transcode: %w", err)
	}
	return res, nil
}

func audioGroup(bitrate int) string { return fmt.Sprintf("audio-%dk", bitrate/1000) }

func yesNo(b bool) string {
	if b {
		return "YES"
	}
	return "NO"
}

// languageName is the name of a language in itself ("Deutsch", "Türkçe",
// "Русский", "العربية"), for the NAME of a rendition; fallback for "" and
// languages without a known name.
func languageName(lang, fallback string) string {
	tag, err := language.Parse(lang)
	name := ""
	if err == nil && lang != "" {
		name = display.Self.Name(tag)
	}
	if name == "" {
		name = fallback
	}
	if name == "" {
		name = "Original"
	}
	// NAME is a quoted string: no quotes or line breaks.
	name = strings.Map(func(r rune) rune {
		if r == '"' || r == '\n' || r == '\r' {
			return -1
		}
		return r
	}, name)
	r, size := utf8.DecodeRuneInString(name)
	return string(unicode.ToUpper(r)) + name[size:]
}

// writeSubtitleRendition writes subtitles/LANG.vtt, with an
// X-TIMESTAMP-MAP that puts cue time 0 at the presentation's first
// MPEG-TS timestamp, and the media playlist subtitles/LANG.m3u8 that holds
// it as one segment spanning the presentation.
func writeSubtitleRendition(tmp string, s subtitle, start time.Duration, length float64) error {
	mpegts := int64(math.Round(start.Seconds() * 90000))
	vtt := fmt.Sprintf("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000\n", mpegts)
	if !bytes.HasPrefix(s.cues, []byte("\n")) {
		vtt += "\n"
	}
	if err := os.WriteFile(filepath.Join(tmp, "subtitles", s.key()+".vtt"), append([]byte(vtt), s.cues...), 0o644); err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	pl := fmt.Sprintf("#EXTM3U\n#EXT-X-VERSION:3\n#EXT-X-TARGETDURATION:%d\n#EXT-X-MEDIA-SEQUENCE:0\n#EXT-X-PLAYLIST-TYPE:VOD\n#EXTINF:%.6f,\n%s.vtt\n#EXT-X-ENDLIST\n",
		int(math.Ceil(length)), length, s.key())
	if err := os.WriteFile(filepath.Join(tmp, "subtitles", s.key()+".m3u8"), []byte(pl), 0o644); err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	return nil
}

// startTime returns the first timestamp of a segment.
func startTime(ctx context.Context, file string) (time.Duration, error) {
	var out bytes.Buffer
	err := run(ctx, command{step: "timeline", tool: "ffprobe", stdout: &out, args: []string{
		"-v", "error", "-show_entries", "format=start_time", "-of", "default=noprint_wrappers=1:nokey=1", "-i", "file:" + file,
	}})
	if err != nil {
		return 0, err
	}
	f, err := strconv.ParseFloat(strings.TrimSpace(out.String()), 64)
	if err != nil || f < 0 {
		return 0, fmt.Errorf("transcode: start time of %s: %q", file, out.String())
	}
	return time.Duration(f * float64(time.Second)), nil
}

// videoCodec returns the RFC 6381 codec of the H.264 rendition in dir
// ("avc1.4d401e"), read from the sequence parameter set of its first
// segment: profile, constraint flags and level as the encoder wrote them.
func videoCodec(ctx context.Context, dir string) (string, error) {
	segs, err := readMediaPlaylist(filepath.Join(dir, "index.m3u8"))
	if err != nil {
		return "", err
	}
	var out bytes.Buffer
	err = run(ctx, command{step: "codec", dir: dir, tool: "ffmpeg", stdout: &out, args: append(baseArgs(),
		"-i", segs[0].uri, "-map", "0:v:0", "-c:v", "copy", "-frames:v", "1", "-f", "h264", "pipe:1",
	)})
	if err != nil {
		return "", err
	}
	return avcCodec(out.Bytes())
}

// avcCodec finds the first sequence parameter set in an Annex B H.264
// stream and returns its codec string.
func avcCodec(annexB []byte) (string, error) {
	for i := 0; i+6 < len(annexB); i++ {
		if annexB[i] == 0 && annexB[i+1] == 0 && annexB[i+2] == 1 && annexB[i+3]&0x1f == 7 {
			return fmt.Sprintf("avc1.%02x%02x%02x", annexB[i+4], annexB[i+5], annexB[i+6]), nil
		}
	}
	return "", errors.New("transcode: no H.264 sequence parameter set in the first segment")
}

// listFiles describes every file under root.
func listFiles(root string) ([]File, error) {
	var files []File
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		info, err := d.Info()
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(root, p)
		if err != nil {
			return err
		}
		rel = filepath.ToSlash(rel)
		role, ctype, ok := classify(rel)
		if !ok {
			return fmt.Errorf("unexpected file %s", rel)
		}
		files = append(files, File{Path: rel, Role: role, ContentType: ctype, Size: info.Size()})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("transcode: listing the output: %w", err)
	}
	slices.SortFunc(files, func(a, b File) int { return strings.Compare(a.Path, b.Path) })
	return files, nil
}

// classify gives the role and content type of an output file by its path.
func classify(rel string) (Role, string, bool) {
	top, _, _ := strings.Cut(rel, "/")
	ext := path.Ext(rel)
	switch {
	case rel == MasterPlaylist:
		return RoleMaster, "application/vnd.apple.mpegurl", true
	case rel == "poster.jpg":
		return RolePoster, "image/jpeg", true
	case top == "video" && ext == ".m3u8":
		return RoleVideoPlaylist, "application/vnd.apple.mpegurl", true
	case top == "video" && ext == ".ts":
		return RoleVideoSegment, "video/mp2t", true
	case top == "audio" && ext == ".m3u8":
		return RoleAudioPlaylist, "application/vnd.apple.mpegurl", true
	case top == "audio" && ext == ".ts":
		return RoleAudioSegment, "video/mp2t", true
	case top == "subtitles" && ext == ".m3u8":
		return RoleSubtitlePlaylist, "application/vnd.apple.mpegurl", true
	case top == "subtitles" && ext == ".vtt":
		return RoleSubtitles, "text/vtt; charset=utf-8", true
	case top == "download" && ext == ".mp4":
		return RoleDownload, "video/mp4", true
	case top == "download" && ext == ".m4a":
		return RoleDownload, "audio/mp4", true
	}
	return "", "", false
}
