package transcode

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"golang.org/x/text/language"
)

// mediaFormats are the demuxers ffmpeg may use for uploaded media (the
// format_whitelist of every input). Playlists (hls, concat, dash), images
// and text are not among them: an uploaded playlist could otherwise make
// ffmpeg read other local files into the output.
const mediaFormats = "mov,matroska,avi,mpegts,mpeg,flv,asf,mp3,aac,wav,w64,flac,ogg,aiff,caf,mxf,amr,dv"

// Info describes a media file as ffprobe sees it.
type Info struct {
	// Format is ffprobe's format name ("mov,mp4,m4a,3gp,3g2,mj2",
	// "matroska,webm", "mp3", ...).
	Format   string
	Duration time.Duration
	Size     int64
	// BitRate is the overall bit rate in bit/s (0 if unknown).
	BitRate int64
	// Video is the first real video stream; nil for audio files (cover art
	// in an MP3 or M4A is in Cover, not here).
	Video *VideoStream
	// Cover is an attached picture (album art), if any.
	Cover     *VideoStream
	Audio     []AudioStream
	Subtitles []SubtitleStream
}

// Rate is a frame rate as a fraction.
type Rate struct{ Num, Den int }

// Float returns the rate in frames per second (0 if unknown).
func (r Rate) Float() float64 {
	if r.Num <= 0 || r.Den <= 0 {
		return 0
	}
	return float64(r.Num) / float64(r.Den)
}

func (r Rate) String() string {
	if r.Den == 1 {
		return strconv.Itoa(r.Num)
	}
	return fmt.Sprintf("%d/%d", r.Num, r.Den)
}

// VideoStream is a video stream.
type VideoStream struct {
	// Index is the stream's index in the file.
	Index int
	Codec string
	// Width and Height are the displayed size: after applying the sample
	// aspect ratio and the rotation, so a phone's portrait video is taller
	// than wide.
	Width, Height int
	// CodedWidth and CodedHeight are the size of the decoded pictures.
	CodedWidth, CodedHeight int
	FrameRate               Rate
	// Rotation is the display rotation in degrees (0, 90, 180, 270).
	Rotation    int
	PixelFormat string
	Interlaced  bool
}

// AudioStream is an audio stream.
type AudioStream struct {
	Index      int
	Codec      string
	Channels   int
	SampleRate int
	// Language is the stream's language tag as BCP 47 ("de", "tr"), or ""
	// when the file does not say.
	Language string
	Title    string
}

// SubtitleStream is a subtitle stream embedded in the file.
type SubtitleStream struct {
	// Index is the stream's index in the file.
	Index int
	// Codec is ffprobe's codec name: "subrip", "ass", "mov_text",
	// "webvtt", "hdmv_pgs_subtitle", ...
	Codec string
	// Language is the stream's language tag as BCP 47 ("de" for "ger" or
	// "deu"), or "" when the file does not say or says "und".
	Language string
	Title    string
	// Default and Forced are the stream's dispositions: the player's
	// default choice, and subtitles of only the parts in a foreign
	// language (signs, a phone call).
	Default, Forced bool
}

// Text reports whether the stream is text that ffmpeg converts to
// WebVTT. Image-based subtitles (DVD, Blu-ray, DVB) are pictures of text
// and are not.
func (s SubtitleStream) Text() bool { return textSubtitleCodecs[s.Codec] }

// Image reports whether the stream is image-based subtitles (DVD,
// Blu-ray, DVB, XSUB).
func (s SubtitleStream) Image() bool { return imageSubtitleCodecs[s.Codec] }

// textSubtitleCodecs are the text subtitle codecs ffmpeg decodes (and so
// converts to WebVTT); ffmpeg -codecs lists them with "S" and no image
// flag.
var textSubtitleCodecs = map[string]bool{
	"subrip": true, "srt": true, "ass": true, "ssa": true, "mov_text": true, "webvtt": true, "text": true,
	"subviewer": true, "subviewer1": true, "microdvd": true, "mpl2": true, "jacosub": true,
	"realtext": true, "sami": true, "stl": true, "vplayer": true, "pjs": true,
}

// imageSubtitleCodecs are the bitmap subtitle codecs.
var imageSubtitleCodecs = map[string]bool{
	"dvd_subtitle": true, "hdmv_pgs_subtitle": true, "dvb_subtitle": true, "xsub": true,
}

// ffprobe's JSON output (-show_format -show_streams).
type probeOutput struct {
	Streams []probeStream `json:"streams"`
	Format  struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
		Size       string `json:"size"`
		BitRate    string `json:"bit_rate"`
	} `json:"format"`
}

type probeStream struct {
	Index        int               `json:"index"`
	CodecName    string            `json:"codec_name"`
	CodecType    string            `json:"codec_type"`
	Width        int               `json:"width"`
	Height       int               `json:"height"`
	SAR          string            `json:"sample_aspect_ratio"`
	PixFmt       string            `json:"pix_fmt"`
	FieldOrder   string            `json:"field_order"`
	RFrameRate   string            `json:"r_frame_rate"`
	AvgFrameRate string            `json:"avg_frame_rate"`
	Channels     int               `json:"channels"`
	SampleRate   string            `json:"sample_rate"`
	Duration     string            `json:"duration"`
	Disposition  map[string]int    `json:"disposition"`
	Tags         map[string]string `json:"tags"`
	SideData     []struct {
		Type     string  `json:"side_data_type"`
		Rotation float64 `json:"rotation"`
	} `json:"side_data_list"`
}

// Probe reads the container and streams of the media file at path. A file
// that is not audio or video gives an *InputError wrapping ErrNotMedia; a
// missing file one wrapping fs.ErrNotExist.
func Probe(ctx context.Context, path string) (Info, error) {
	return probe(ctx, path, "source")
}

func probe(ctx context.Context, path, role string) (Info, error) {
	inputErr := func(err error, detail string) error {
		return &InputError{Path: path, Role: role, Err: err, Detail: detail}
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return Info{}, inputErr(fs.ErrNotExist, "")
	case err != nil:
		return Info{}, fmt.Errorf("transcode: %s: %w", role, err)
	case !st.Mode().IsRegular():
		return Info{}, inputErr(ErrNotMedia, "not a regular file")
	case st.Size() == 0:
		return Info{}, inputErr(ErrNotMedia, "the file is empty")
	}
	url, err := fileURL(path)
	if err != nil {
		return Info{}, err
	}
	var out bytes.Buffer
	err = run(ctx, command{step: "probe", tool: "ffprobe", stdout: &out, args: []string{
		"-v", "error", "-hide_banner",
		"-protocol_whitelist", "file", "-format_whitelist", mediaFormats,
		"-print_format", "json", "-show_format", "-show_streams",
		"-i", url,
	}})
	if te := (*ToolError)(nil); errors.As(err, &te) {
		// ffprobe fails only when it cannot make sense of the file.
		return Info{}, inputErr(ErrNotMedia, probeReason(te.Stderr))
	}
	if err != nil {
		return Info{}, err
	}
	var po probeOutput
	if err := json.Unmarshal(out.Bytes(), &po); err != nil {
		return Info{}, fmt.Errorf("transcode: reading ffprobe's output for %s: %w", path, err)
	}
	info := po.info()
	if info.Video == nil && len(info.Audio) == 0 {
		return info, inputErr(ErrNotMedia, "it has no audio or video stream")
	}
	if info.Duration <= 0 {
		return info, inputErr(ErrNotMedia, "its duration is unknown")
	}
	if v := info.Video; v != nil && (v.Width <= 0 || v.Height <= 0) {
		return info, inputErr(ErrNotMedia, "its video has no picture size")
	}
	return info, nil
}

var notOnWhitelist = regexp.MustCompile(`\[(\w+) @ [^\]]*\] Format not on whitelist`)

// probeReason turns ffprobe's complaint into a short reason.
func probeReason(stderr string) string {
	if m := notOnWhitelist.FindStringSubmatch(stderr); m != nil {
		return fmt.Sprintf("files of the kind %q are not accepted as media", m[1])
	}
	if strings.Contains(stderr, "Invalid data found") {
		return "ffprobe finds no audio or video in it"
	}
	return lastLines(stderr, 1)
}

func (po probeOutput) info() Info {
	info := Info{
		Format:   po.Format.FormatName,
		Duration: seconds(po.Format.Duration),
	}
	info.Size, _ = strconv.ParseInt(po.Format.Size, 10, 64)
	info.BitRate, _ = strconv.ParseInt(po.Format.BitRate, 10, 64)
	var longest time.Duration
	for _, s := range po.Streams {
		longest = max(longest, seconds(s.Duration))
		switch s.CodecType {
		case "video":
			v := s.video()
			switch {
			case s.Disposition["attached_pic"] == 1:
				if info.Cover == nil {
					info.Cover = &v
				}
			case info.Video == nil:
				info.Video = &v
			}
		case "audio":
			rate, _ := strconv.Atoi(s.SampleRate)
			info.Audio = append(info.Audio, AudioStream{
				Index: s.Index, Codec: s.CodecName, Channels: s.Channels, SampleRate: rate,
				Language: languageTag(s.Tags["language"]), Title: s.Tags["title"],
			})
		case "subtitle":
			info.Subtitles = append(info.Subtitles, SubtitleStream{
				Index: s.Index, Codec: s.CodecName,
				Language: languageTag(s.Tags["language"]), Title: s.Tags["title"],
				Default: s.Disposition["default"] == 1, Forced: s.Disposition["forced"] == 1,
			})
		}
	}
	if info.Duration <= 0 {
		info.Duration = longest
	}
	return info
}

func (s probeStream) video() VideoStream {
	v := VideoStream{
		Index: s.Index, Codec: s.CodecName,
		CodedWidth: s.Width, CodedHeight: s.Height,
		PixelFormat: s.PixFmt,
		Interlaced:  s.FieldOrder != "" && s.FieldOrder != "progressive" && s.FieldOrder != "unknown",
	}
	v.FrameRate = parseRate(s.AvgFrameRate)
	if v.FrameRate.Float() == 0 || v.FrameRate.Float() > 240 {
		v.FrameRate = parseRate(s.RFrameRate)
	}
	rot := 0.0
	if r, err := strconv.ParseFloat(s.Tags["rotate"], 64); err == nil {
		rot = r
	}
	for _, sd := range s.SideData {
		if sd.Type == "Display Matrix" {
			rot = sd.Rotation
		}
	}
	v.Rotation = ((int(math.Round(rot/90))*90)%360 + 360) % 360
	// Display size: stretch by the sample aspect ratio, then rotate.
	w, h := s.Width, s.Height
	if sar := parseRate(strings.ReplaceAll(s.SAR, ":", "/")); sar.Float() > 0 {
		w = int(math.Round(float64(w) * sar.Float()))
	}
	if v.Rotation == 90 || v.Rotation == 270 {
		w, h = h, w
	}
	v.Width, v.Height = w, h
	return v
}

// parseRate parses "30000/1001" or "25".
func parseRate(s string) Rate {
	num, den, found := strings.Cut(s, "/")
	n, err := strconv.Atoi(num)
	if err != nil {
		return Rate{}
	}
	d := 1
	if found {
		if d, err = strconv.Atoi(den); err != nil {
			return Rate{}
		}
	}
	if n <= 0 || d <= 0 {
		return Rate{}
	}
	return Rate{n, d}
}

// seconds parses ffprobe's decimal seconds ("5.034667"); "N/A" and
// garbage are 0.
func seconds(s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f <= 0 || math.IsInf(f, 0) || math.IsNaN(f) {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}

// languageTag normalises a stream's language tag (ISO 639-2 "deu", "ger"
// or BCP 47 "de") to BCP 47; unknown and undetermined give "".
func languageTag(s string) string {
	tag, err := language.Parse(strings.TrimSpace(s))
	if err != nil || tag == language.Und {
		return ""
	}
	return tag.String()
}
