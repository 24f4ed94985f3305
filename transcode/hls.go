package transcode

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// Job says what HLS transcodes and where it writes.
type Job struct {
	// Source is the video file, or for a podcast episode the audio file.
	Source string
	// SourceLanguage is the language (BCP 47, "de") of the source's audio
	// streams that carry no language tag. Empty leaves them undetermined.
	SourceLanguage string
	// Audio are further language versions: audio files (or videos, whose
	// first audio stream is used) played with the source's pictures.
	Audio []AudioInput
	// Subtitles are WebVTT files (SubRip is converted), one per language.
	// A file wins over the source's subtitle streams in its language.
	Subtitles []SubtitleInput
	// EmbeddedSubtitleLanguages, if not nil, are the languages (base
	// language codes, "de") in which the source's own subtitle streams
	// become renditions; streams in others are left out with a Note. Nil
	// takes every language.
	EmbeddedSubtitleLanguages []string
	// OutDir is the directory HLS creates. It must not exist or be empty;
	// its parent is created if missing.
	OutDir string
	// Progress, if set, receives the fraction done (0..1). It is called
	// from one goroutine at a time with ever larger values; the last call
	// is 1 when HLS succeeds. It should return quickly.
	Progress func(float64)
	// Threads is the number of threads of each encoder (0: 2).
	Threads int
	// NormalPriority runs ffmpeg at the CPU priority of the calling
	// process. By default it runs at a lower one (nice 10), so that the
	// web server on the same machine stays responsive; a node that only
	// transcodes has no reason to.
	NormalPriority bool
}

// AudioInput is a language version of the sound.
type AudioInput struct {
	Language string // BCP 47
	Path     string
}

// SubtitleInput is a subtitle file.
type SubtitleInput struct {
	Language string // BCP 47
	Path     string
}

// Result describes what HLS wrote to Job.OutDir. Paths are relative to it,
// with forward slashes.
type Result struct {
	// Master is the master playlist viewers open.
	Master   string
	Duration time.Duration
	// Variants are the entries of the master playlist in its order: the
	// video rungs from lowest to highest, then the audio-only rendition.
	Variants []Variant
	// AudioLanguages are the language versions, the default first ("" is
	// undetermined); SubtitleLanguages the subtitle languages.
	AudioLanguages    []string
	SubtitleLanguages []string
	// Subtitles are the subtitle renditions in the order of
	// SubtitleLanguages: the job's files, then those extracted from the
	// source's subtitle streams.
	Subtitles []SubtitleRendition
	// Notes say which of the source's subtitle streams were left out and
	// why, by stream.
	Notes []Note
	// Poster is the poster image, "" when the source has no picture (an
	// audio file without cover art).
	Poster    string
	Downloads []Download
	// Files are all files in OutDir, sorted by path.
	Files []File
}

// Variant is one EXT-X-STREAM-INF entry of the master playlist.
type Variant struct {
	Name     string // "240p", "audio"
	Playlist string
	// Width and Height are 0 for the audio-only variant.
	Width, Height int
	// Bandwidth is the peak and AverageBandwidth the average bit rate of
	// its segments, audio included, in bit/s.
	Bandwidth, AverageBandwidth int
	Codecs                      string
	FrameRate                   float64
}

// Download is a file for viewers to keep.
type Download struct {
	Path string
	// Kind is "video" (MP4) or "audio" (M4A).
	Kind     string
	Language string
}

// SubtitleRendition is one EXT-X-MEDIA TYPE=SUBTITLES entry of the
// master playlist.
type SubtitleRendition struct {
	Language string // BCP 47
	// Playlist is its media playlist and File the WebVTT file it holds,
	// all cues in one (subtitles/de.m3u8, subtitles/de.vtt).
	Playlist, File string
	// Embedded says the subtitles are the source's stream Stream (of
	// codec Codec) rather than a file of the job.
	Embedded bool
	Stream   int
	Codec    string
}

// Role says what a produced file is for; a server picks its cache policy
// by it (playlists short, everything else long).
type Role string

// The roles of produced files.
const (
	RoleMaster           Role = "master"
	RoleVideoPlaylist    Role = "video-playlist"
	RoleVideoSegment     Role = "video-segment"
	RoleAudioPlaylist    Role = "audio-playlist"
	RoleAudioSegment     Role = "audio-segment"
	RoleSubtitlePlaylist Role = "subtitle-playlist"
	RoleSubtitles        Role = "subtitles"
	RolePoster           Role = "poster"
	RoleDownload         Role = "download"
)

// File is one produced file.
type File struct {
	Path        string
	Role        Role
	ContentType string
	Size        int64
}

// audioTrack is one language version as planned for ffmpeg.
type audioTrack struct {
	lang     string // BCP 47, "" undetermined
	input    int    // ffmpeg input index (0 is the source)
	stream   int    // stream index within that input
	channels int    // output channels (1 or 2)
}

// key names the track in file names: its language, or "und".
func (a audioTrack) key() string {
	if a.lang == "" {
		return "und"
	}
	return strings.ToLower(a.lang)
}

func (a audioTrack) dir(bitrate int) string {
	return fmt.Sprintf("audio/%s-%dk", a.key(), bitrate/1000)
}

// plan is everything HLS decided before running ffmpeg.
type plan struct {
	threads  int
	low      bool // run ffmpeg at a lower CPU priority
	source   Info
	inputs   []string // paths, index = ffmpeg input index
	formats  []string // demuxer per input
	rungs    []plannedRung
	rate     Rate
	audio    []audioTrack
	bitrates []int // audio rendition bit rates, ascending
	subs     []subtitle
	// embedded are the source's subtitle streams to extract, by language;
	// notes say why others are left out.
	embedded []embeddedLang
	notes    []Note
}

// HLS transcodes job.Source (with its language versions and subtitles)
// into an HLS presentation in job.OutDir:
//
//   - video renditions (H.264, yuv420p, at most 30 fps) for each rung of
//     the ladder up to the source's size, with keyframes every
//     KeyframeInterval on the same timestamps in every rung and no
//     scene-cut keyframes, in segments of SegmentDuration;
//   - AAC audio renditions per language at 64 kbit/s (played with the
//     lowest rung, and the audio-only variant) and 128 kbit/s (played with
//     the higher rungs), as EXT-X-MEDIA TYPE=AUDIO with LANGUAGE and NAME,
//     one group per bit rate;
//   - subtitles as EXT-X-MEDIA TYPE=SUBTITLES, one media playlist per
//     language wrapping the whole WebVTT file: the job's files, and the
//     source's own text subtitle streams (SubRip, ASS, mov_text, WebVTT)
//     in other languages, extracted to WebVTT (see Job.Subtitles);
//   - poster.jpg (a frame at 10 % of the duration, or an audio file's
//     cover art), download/video-LANG.mp4 (360p, +faststart) and
//     download/audio-LANG.m4a;
//   - master.m3u8, written last.
//
// Segments are MPEG-TS rather than fMP4: hls.js and Safari play both, but
// Debian's ffmpeg 5.1, whose HLS demuxer is the "client nobody here
// wrote" of the tests and of operators checking a stream, reads TS
// renditions most reliably, and WebVTT subtitles are synchronised with TS
// by the standard X-TIMESTAMP-MAP header. The price is a few percent of
// container overhead. (ffmpeg and ffprobe need "-strict experimental" to
// read the subtitle renditions of any HLS stream.)
//
// The audio and video renditions are demuxed, so a language version costs
// only its audio. An audio-only source (a podcast episode) yields only the
// audio renditions, the audio-only variant and the M4A downloads. Source
// metadata (a phone's location, the editing software) is not copied.
//
// Everything is written to a temporary sibling of OutDir that is renamed
// to OutDir only when complete: when HLS fails or ctx ends (which kills
// ffmpeg) nothing is left at OutDir. A process killed outright may leave a
// hidden ".NAME.partial-*" directory beside it.
func HLS(ctx context.Context, job Job) (Result, error) {
	p, err := newPlan(ctx, job)
	if err != nil {
		return Result{}, err
	}
	progress := &progressReporter{fn: job.Progress}
	progress.set(0)

	tmp, err := makeTemp(job.OutDir)
	if err != nil {
		return Result{}, err
	}
	complete := false
	defer func() {
		if !complete {
			_ = os.RemoveAll(tmp)
		}
	}()

	if err := p.extractEmbedded(ctx, tmp); err != nil {
		return Result{}, err
	}
	poster, err := p.poster(ctx, tmp)
	if err != nil {
		return Result{}, err
	}
	progress.set(0.02)
	if err := p.encode(ctx, tmp, progress.span(0.02, 0.92)); err != nil {
		return Result{}, err
	}
	downloads, err := p.downloads(ctx, tmp, progress.span(0.92, 0.98))
	if err != nil {
		return Result{}, err
	}
	res, err := p.writePlaylists(ctx, tmp)
	if err != nil {
		return Result{}, err
	}
	res.Poster = poster
	res.Downloads = downloads
	res.Notes = p.notes
	sortNotes(res.Notes)
	if res.Files, err = listFiles(tmp); err != nil {
		return Result{}, err
	}
	if err := ctx.Err(); err != nil {
		return Result{}, fmt.Errorf("transcode: stopped: %w", err)
	}
	if err := os.Rename(tmp, job.OutDir); err != nil {
		return Result{}, fmt.Errorf("transcode: moving the result into place: %w", err)
	}
	complete = true
	progress.set(1)
	return res, nil
}

// newPlan checks the job, probes its inputs and validates its subtitles,
// so that unusable input fails before any encoding.
func newPlan(ctx context.Context, job Job) (*plan, error) {
	invalid := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrInvalidJob, fmt.Sprintf(format, args...))
	}
	if job.Source == "" {
		return nil, invalid("no source file")
	}
	if job.OutDir == "" {
		return nil, invalid("no output directory")
	}
	if entries, err := os.ReadDir(job.OutDir); err == nil && len(entries) > 0 {
		return nil, invalid("output directory %s is not empty", job.OutDir)
	} else if err != nil && !errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("transcode: output directory: %w", err)
	}
	p := &plan{threads: job.Threads, low: !job.NormalPriority}
	if p.threads <= 0 {
		p.threads = 2
	}
	srcLang := ""
	if job.SourceLanguage != "" {
		if srcLang = languageTag(job.SourceLanguage); srcLang == "" {
			return nil, invalid("source language %q is not a language tag", job.SourceLanguage)
		}
	}
	src, err := probe(ctx, job.Source, "source")
	if err != nil {
		return nil, err
	}
	p.source = src
	p.addInput(job.Source, src)

	// Language versions: the source's audio streams first (the first is
	// the default), then the extra files. A source stream in a language
	// already taken is skipped.
	taken := map[string]bool{}
	for _, a := range src.Audio {
		lang := a.Language
		if lang == "" {
			lang = srcLang
		}
		if taken[lang] {
			continue
		}
		taken[lang] = true
		p.audio = append(p.audio, audioTrack{lang: lang, input: 0, stream: a.Index, channels: outChannels(a.Channels)})
	}
	for _, in := range job.Audio {
		lang := languageTag(in.Language)
		if lang == "" {
			return nil, invalid("audio language %q is not a language tag", in.Language)
		}
		if taken[lang] {
			return nil, invalid("two audio versions in language %s", lang)
		}
		taken[lang] = true
		role := "audio " + lang
		info, err := probe(ctx, in.Path, role)
		if err != nil {
			return nil, err
		}
		if len(info.Audio) == 0 {
			return nil, &InputError{Path: in.Path, Role: role, Err: ErrNotMedia, Detail: "it has no audio stream"}
		}
		p.addInput(in.Path, info)
		p.audio = append(p.audio, audioTrack{lang: lang, input: len(p.inputs) - 1, stream: info.Audio[0].Index, channels: outChannels(info.Audio[0].Channels)})
	}
	if src.Video != nil {
		p.rungs = planRungs(src.Video.Width, src.Video.Height)
		p.rate = outputRate(src.Video.FrameRate)
	}
	if len(p.audio) > 0 {
		p.bitrates = []int{AudioOnlyBitrate}
		for _, r := range p.rungs {
			if r.audioBitrate != p.bitrates[len(p.bitrates)-1] {
				p.bitrates = append(p.bitrates, r.audioBitrate)
			}
		}
	}

	subLangs := map[string]bool{}
	for _, in := range job.Subtitles {
		lang := languageTag(in.Language)
		if lang == "" {
			return nil, invalid("subtitle language %q is not a language tag", in.Language)
		}
		if subLangs[lang] {
			return nil, invalid("two subtitle files in language %s", lang)
		}
		subLangs[lang] = true
		s, err := readSubtitles(ctx, in.Path, lang)
		if err != nil {
			return nil, err
		}
		p.subs = append(p.subs, s)
	}
	// The source's own subtitle streams, in the languages no file is
	// for. They are extracted once HLS has a working directory; one that
	// fails is left out with a note rather than failing the job.
	uploaded := map[string]bool{}
	for lang := range subLangs {
		if base, ok := embeddedLanguage(lang); ok {
			uploaded[base] = true
		}
	}
	var allowed map[string]bool
	if job.EmbeddedSubtitleLanguages != nil {
		allowed = map[string]bool{}
		for _, l := range job.EmbeddedSubtitleLanguages {
			base, ok := embeddedLanguage(l)
			if !ok {
				return nil, invalid("embedded subtitle language %q is not a language tag", l)
			}
			allowed[base] = true
		}
	}
	p.planEmbedded(src.Subtitles, uploaded, allowed)
	return p, nil
}

// addInput records an ffmpeg input with the demuxer ffprobe found for it,
// so ffmpeg cannot read it as something else.
func (p *plan) addInput(path string, info Info) {
	p.inputs = append(p.inputs, path)
	demuxer, _, _ := strings.Cut(info.Format, ",")
	p.formats = append(p.formats, demuxer)
}

func outChannels(n int) int {
	if n == 1 {
		return 1
	}
	return 2
}

// inputArgs returns the ffmpeg arguments that open the plan's inputs.
func (p *plan) inputArgs(inputs ...int) ([]string, error) {
	var args []string
	for _, i := range inputs {
		url, err := fileURL(p.inputs[i])
		if err != nil {
			return nil, err
		}
		args = append(args,
			"-threads", strconv.Itoa(p.threads),
			"-protocol_whitelist", "file", "-format_whitelist", mediaFormats,
			"-f", p.formats[i], "-i", url)
	}
	return args, nil
}

// makeTemp creates the hidden sibling directory of outDir HLS writes to.
func makeTemp(outDir string) (string, error) {
	abs, err := filepath.Abs(outDir)
	if err != nil {
		return "", fmt.Errorf("transcode: %w", err)
	}
	parent := filepath.Dir(abs)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return "", fmt.Errorf("transcode: creating %s: %w", parent, err)
	}
	tmp, err := os.MkdirTemp(parent, "."+filepath.Base(abs)+".partial-")
	if err != nil {
		return "", fmt.Errorf("transcode: %w", err)
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		_ = os.RemoveAll(tmp)
		return "", fmt.Errorf("transcode: %w", err)
	}
	return tmp, nil
}

// baseArgs are the arguments of every ffmpeg run: quiet, no keyboard,
// errors only.
func baseArgs() []string {
	return []string{"-hide_banner", "-nostdin", "-v", "error", "-nostats"}
}

// noMetadata keeps the source's metadata and chapters out of an output.
func noMetadata() []string {
	return []string{"-map_metadata", "-1", "-map_chapters", "-1"}
}

// hlsOutput returns the arguments of an HLS output writing dir/index.m3u8
// and dir/00000.ts, ... Timestamps are not shifted per output
// (avoid_negative_ts disabled, in the HLS muxer and in its MPEG-TS
// segments), so that the separately muxed audio and video renditions keep
// the common timeline of the source: otherwise the video, whose B-frames
// start with a negative decoding time, would be shifted against the audio.
func hlsOutput(dir string) []string {
	return []string{
		"-f", "hls",
		"-hls_time", strconv.Itoa(int(SegmentDuration.Seconds())),
		"-hls_playlist_type", "vod",
		"-hls_list_size", "0",
		"-hls_segment_type", "mpegts",
		"-hls_flags", "independent_segments",
		"-avoid_negative_ts", "disabled",
		"-hls_segment_options", "avoid_negative_ts=disabled",
		"-hls_segment_filename", dir + "/%05d.ts",
		dir + "/index.m3u8",
	}
}

// encode runs the one ffmpeg that decodes the inputs once and writes every
// video and audio rendition and the M4A downloads.
func (p *plan) encode(ctx context.Context, tmp string, report func(float64)) error {
	inputs := make([]int, len(p.inputs))
	for i := range inputs {
		inputs[i] = i
	}
	in, err := p.inputArgs(inputs...)
	if err != nil {
		return err
	}
	args := append(baseArgs(), "-progress", "pipe:1")
	args = append(args, in...)

	if v := p.source.Video; v != nil {
		args = append(args, "-filter_complex", p.videoFilter(v))
		gop := strconv.Itoa(gopFrames(p.rate))
		for i, r := range p.rungs {
			args = append(args, "-map", fmt.Sprintf("[v%d]", i))
			args = append(args, noMetadata()...)
			args = append(args,
				"-c:v", "libx264", "-preset", "veryfast", "-profile:v", r.profile,
				"-threads", strconv.Itoa(p.threads),
				"-b:v", strconv.Itoa(r.videoBitrate),
				"-maxrate", strconv.Itoa(r.videoBitrate*11/10),
				"-bufsize", strconv.Itoa(r.videoBitrate*2),
				"-g", gop, "-keyint_min", gop, "-sc_threshold", "0",
				"-force_key_frames", fmt.Sprintf("expr:gte(t,n_forced*%g)", KeyframeInterval.Seconds()),
				"-forced-idr", "1",
			)
			if err := os.MkdirAll(filepath.Join(tmp, r.dir()), 0o755); err != nil {
				return fmt.Errorf("transcode: %w", err)
			}
			args = append(args, hlsOutput(r.dir())...)
		}
	}
	// With a picture, the sound is cut to the source's length (a longer
	// language version would otherwise play on over a frozen frame).
	var limit []string
	if p.source.Video != nil {
		limit = []string{"-t", fmt.Sprintf("%.3f", p.source.Duration.Seconds())}
	}
	audio := func(a audioTrack, bitrate int) []string {
		out := []string{"-map", fmt.Sprintf("%d:%d", a.input, a.stream)}
		out = append(out, noMetadata()...)
		out = append(out, "-c:a", "aac", "-b:a", strconv.Itoa(bitrate), "-ac", strconv.Itoa(a.channels), "-ar", "48000")
		return append(out, limit...)
	}
	for _, a := range p.audio {
		for _, b := range p.bitrates {
			dir := a.dir(b)
			if err := os.MkdirAll(filepath.Join(tmp, dir), 0o755); err != nil {
				return fmt.Errorf("transcode: %w", err)
			}
			args = append(args, audio(a, b)...)
			args = append(args, hlsOutput(dir)...)
		}
	}
	if len(p.audio) > 0 {
		if err := os.MkdirAll(filepath.Join(tmp, "download"), 0o755); err != nil {
			return fmt.Errorf("transcode: %w", err)
		}
	}
	for _, a := range p.audio {
		args = append(args, audio(a, AudioBitrate)...)
		args = append(args, languageMetadata(a.lang)...)
		args = append(args, "-movflags", "+faststart", "-f", "ipod", "download/audio-"+a.key()+".m4a")
	}

	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		parseProgress(pr, p.source.Duration, report)
	}()
	err = run(ctx, command{step: "encode", dir: tmp, tool: "ffmpeg", args: args, stdout: pw, lowPriority: p.low})
	pw.Close()
	<-done
	return err
}

// videoFilter decodes the source's video once and scales it for every
// rung: deinterlaced if needed, at the output frame rate, square pixels,
// 8-bit 4:2:0 (what every browser decodes).
func (p *plan) videoFilter(v *VideoStream) string {
	var b strings.Builder
	fmt.Fprintf(&b, "[0:%d]", v.Index)
	if v.Interlaced {
		b.WriteString("yadif,")
	}
	fmt.Fprintf(&b, "fps=%s", p.rate)
	if len(p.rungs) > 1 {
		fmt.Fprintf(&b, ",split=%d", len(p.rungs))
		for i := range p.rungs {
			fmt.Fprintf(&b, "[s%d]", i)
		}
	}
	for i, r := range p.rungs {
		if len(p.rungs) > 1 {
			fmt.Fprintf(&b, ";[s%d]", i)
		} else {
			b.WriteString(",")
		}
		fmt.Fprintf(&b, "scale=%d:%d:flags=bicubic,setsar=1,format=yuv420p[v%d]", r.width, r.height, i)
	}
	return b.String()
}

// languageMetadata tags an MP4 output's audio with its language.
func languageMetadata(lang string) []string {
	if lang == "" {
		return nil
	}
	tag, err := language.Parse(lang)
	if err != nil {
		return nil
	}
	base, _ := tag.Base()
	return []string{"-metadata:s:a:0", "language=" + base.ISO3()}
}

// poster writes poster.jpg: a frame at 10 % of the duration, or an audio
// file's cover art; it returns "" when there is no picture.
func (p *plan) poster(ctx context.Context, tmp string) (string, error) {
	v := p.source.Video
	var seek []string
	if v != nil {
		seek = []string{"-ss", fmt.Sprintf("%.3f", p.source.Duration.Seconds()/10)}
	} else if v = p.source.Cover; v == nil {
		return "", nil
	}
	const name = "poster.jpg"
	w, h := fit(v.Width, v.Height, min(posterSize, even(float64(min(v.Width, v.Height)))))
	in, err := p.inputArgs(0)
	if err != nil {
		return "", err
	}
	for attempt := 0; attempt < 2; attempt++ {
		args := append(baseArgs(), seek...)
		args = append(args, in...)
		args = append(args, "-map", fmt.Sprintf("0:%d", v.Index), "-frames:v", "1",
			"-vf", fmt.Sprintf("scale=%d:%d:flags=bicubic,setsar=1", w, h),
			"-q:v", "3")
		args = append(args, noMetadata()...)
		args = append(args, "-f", "image2", "-update", "1", name)
		if err := run(ctx, command{step: "poster", dir: tmp, tool: "ffmpeg", args: args, lowPriority: p.low}); err != nil {
			return "", err
		}
		if st, err := os.Stat(filepath.Join(tmp, name)); err == nil && st.Size() > 0 {
			return name, nil
		}
		// The duration was overstated and the seek went past the end:
		// take the first frame instead.
		seek = nil
	}
	return "", fmt.Errorf("transcode: ffmpeg wrote no poster frame")
}

// downloads writes download/video-LANG.mp4 (or video.mp4 without sound)
// for each language by remuxing the 360p rendition and the best audio
// rendition, without encoding again. The M4A downloads were written by
// encode; downloads lists them.
func (p *plan) downloads(ctx context.Context, tmp string, report func(float64)) ([]Download, error) {
	var out []Download
	if len(p.rungs) > 0 {
		r := p.rungs[0]
		for _, c := range p.rungs {
			if c.size <= downloadSize {
				r = c
			}
		}
		if err := os.MkdirAll(filepath.Join(tmp, "download"), 0o755); err != nil {
			return nil, fmt.Errorf("transcode: %w", err)
		}
		tracks := p.audio
		if len(tracks) == 0 {
			tracks = []audioTrack{{}} // no sound: one file without audio
		}
		best := p.bitrates
		for i, a := range tracks {
			args := append(baseArgs(), "-i", r.dir()+"/index.m3u8")
			name := "download/video.mp4"
			maps := []string{"-map", "0:v:0"}
			if len(p.audio) > 0 {
				args = append(args, "-i", a.dir(best[len(best)-1])+"/index.m3u8")
				maps = append(maps, "-map", "1:a:0")
				maps = append(maps, languageMetadata(a.lang)...)
				name = "download/video-" + a.key() + ".mp4"
			}
			args = append(args, maps...)
			args = append(args, "-c", "copy", "-movflags", "+faststart", "-f", "mp4", name)
			if err := run(ctx, command{step: "download", dir: tmp, tool: "ffmpeg", args: args, lowPriority: p.low}); err != nil {
				return nil, err
			}
			out = append(out, Download{Path: name, Kind: "video", Language: a.lang})
			report(float64(i+1) / float64(len(tracks)))
		}
	}
	for _, a := range p.audio {
		out = append(out, Download{Path: "download/audio-" + a.key() + ".m4a", Kind: "audio", Language: a.lang})
	}
	return out, nil
}
