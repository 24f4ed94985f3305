package transcode_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"portalo/internal/testenv"
	"portalo/transcode"
)

func testCtx(t *testing.T) context.Context {
	ctx, cancel := context.WithTimeout(t.Context(), 2*time.Minute)
	t.Cleanup(cancel)
	return ctx
}

// ffmpeg runs ffmpeg to make a test input.
func ffmpeg(t *testing.T, args ...string) {
	t.Helper()
	cmd := exec.Command("ffmpeg", append([]string{"-hide_banner", "-nostdin", "-v", "error", "-y"}, args...)...)
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg %v: %v\n%s", args, err, out)
	}
}

// ffprobe runs ffprobe with JSON output and decodes it into v.
func ffprobe(t *testing.T, v any, args ...string) {
	t.Helper()
	cmd := exec.Command("ffprobe", append([]string{"-v", "error", "-print_format", "json"}, args...)...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("ffprobe %v: %v\n%s", args, err, stderr.String())
	}
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ffprobe %v: %v", args, err)
	}
}

// clip writes a 5-second 1280x720 25 fps test video with a German sine
// tone to dir/name.
func clip(t *testing.T, dir, name string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=25:duration=5",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=5",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p",
		"-c:a", "aac", "-metadata:s:a:0", "language=deu", "-shortest", p)
	return p
}

// tone writes a 5-second sine tone (a second language, a podcast).
func tone(t *testing.T, dir, name string, freq int) string {
	t.Helper()
	p := filepath.Join(dir, name)
	ffmpeg(t, "-f", "lavfi", "-i", fmt.Sprintf("sine=frequency=%d:sample_rate=44100:duration=5", freq), p)
	return p
}

func writeFile(t *testing.T, dir, name, content string) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

const (
	germanVTT = "WEBVTT\n\nSTYLE\n::cue { color: yellow }\n\n1\n00:00:00.500 --> 00:00:02.000 align:center\nAtmen Sie <i>ruhig</i> ein.\n\n00:00:02.500 --> 00:00:04.500\nUnd wieder aus.\n"
	arabicVTT = "\ufeffWEBVTT\r\n\r\n00:00:01.000 --> 00:00:03.000\r\nتنفس بهدوء.\r\n"
)

type probeStream struct {
	Index     int               `json:"index"`
	CodecName string            `json:"codec_name"`
	CodecType string            `json:"codec_type"`
	Profile   string            `json:"profile"`
	Width     int               `json:"width"`
	Height    int               `json:"height"`
	StartTime string            `json:"start_time"`
	Tags      map[string]string `json:"tags"`
}

type probeResult struct {
	Programs []struct {
		Tags    map[string]string `json:"tags"`
		Streams []probeStream     `json:"streams"`
	} `json:"programs"`
	Streams []probeStream `json:"streams"`
	Format  struct {
		FormatName string `json:"format_name"`
		Duration   string `json:"duration"`
	} `json:"format"`
	Frames []struct {
		PTSTime string `json:"pts_time"`
	} `json:"frames"`
}

func TestHLS(t *testing.T) {
	testenv.FFmpeg(t)
	ctx := testCtx(t)
	in := t.TempDir()
	job := transcode.Job{
		Source: clip(t, in, "clip.mp4"),
		Audio:  []transcode.AudioInput{{Language: "tr", Path: tone(t, in, "tr.m4a", 660)}},
		Subtitles: []transcode.SubtitleInput{
			{Language: "de", Path: writeFile(t, in, "de.vtt", germanVTT)},
			{Language: "ar", Path: writeFile(t, in, "ar.vtt", arabicVTT)},
		},
		OutDir:         filepath.Join(t.TempDir(), "item", "hls"),
		NormalPriority: true, // the machine running the tests is busy enough
	}
	var mu sync.Mutex
	var progress []float64
	job.Progress = func(f float64) {
		mu.Lock()
		defer mu.Unlock()
		progress = append(progress, f)
	}
	start := time.Now()
	res, err := transcode.HLS(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("HLS of a 5 s 720p clip took %s", time.Since(start).Round(time.Millisecond))
	out := job.OutDir
	master := filepath.Join(out, res.Master)

	t.Run("result", func(t *testing.T) {
		var names []string
		for _, v := range res.Variants {
			names = append(names, v.Name)
		}
		if want := []string{"240p", "360p", "720p", "audio"}; !slices.Equal(names, want) {
			t.Errorf("variants %v, want %v", names, want)
		}
		if !slices.Equal(res.AudioLanguages, []string{"de", "tr"}) {
			t.Errorf("audio languages %v, want [de tr]", res.AudioLanguages)
		}
		if !slices.Equal(res.SubtitleLanguages, []string{"de", "ar"}) {
			t.Errorf("subtitle languages %v, want [de ar]", res.SubtitleLanguages)
		}
		if res.Duration < 4900*time.Millisecond || res.Duration > 5200*time.Millisecond {
			t.Errorf("duration %s, want about 5s", res.Duration)
		}
		// Every file on disk is listed, with its size, and nothing else.
		onDisk := map[string]int64{}
		err := filepath.WalkDir(out, func(p string, d fs.DirEntry, err error) error {
			if err == nil && !d.IsDir() {
				info, _ := d.Info()
				rel, _ := filepath.Rel(out, p)
				onDisk[filepath.ToSlash(rel)] = info.Size()
			}
			return err
		})
		if err != nil {
			t.Fatal(err)
		}
		roles := map[transcode.Role]int{}
		for _, f := range res.Files {
			size, ok := onDisk[f.Path]
			if !ok || size != f.Size || f.Size == 0 {
				t.Errorf("file %s: listed size %d, on disk %d (present %v)", f.Path, f.Size, size, ok)
			}
			if f.ContentType == "" {
				t.Errorf("file %s has no content type", f.Path)
			}
			delete(onDisk, f.Path)
			roles[f.Role]++
		}
		if len(onDisk) > 0 {
			t.Errorf("files not listed in the result: %v", onDisk)
		}
		for role, want := range map[transcode.Role]int{
			transcode.RoleMaster: 1, transcode.RolePoster: 1, transcode.RoleVideoPlaylist: 3,
			transcode.RoleAudioPlaylist: 4, transcode.RoleSubtitlePlaylist: 2, transcode.RoleSubtitles: 2,
			transcode.RoleDownload: 4,
		} {
			if roles[role] != want {
				t.Errorf("%d files of role %s, want %d", roles[role], role, want)
			}
		}
		if roles[transcode.RoleVideoSegment] < 6 || roles[transcode.RoleAudioSegment] < 8 {
			t.Errorf("segments: %d video, %d audio; want at least 2 per rendition", roles[transcode.RoleVideoSegment], roles[transcode.RoleAudioSegment])
		}
		// Nothing but the result is left beside it.
		entries, _ := os.ReadDir(filepath.Dir(out))
		if len(entries) != 1 {
			t.Errorf("the output's parent holds %d entries, want only the output", len(entries))
		}
	})

	t.Run("ffprobe reads the master playlist", func(t *testing.T) {
		var pr probeResult
		// ffmpeg's HLS demuxer reads subtitle renditions only with
		// -strict experimental.
		ffprobe(t, &pr, "-strict", "experimental", "-show_programs", "-show_streams", master)
		var heights []int
		audio := map[string]int{}
		subs := map[string]bool{}
		for _, s := range pr.Streams {
			switch s.CodecType {
			case "video":
				if s.CodecName != "h264" {
					t.Errorf("video stream codec %s", s.CodecName)
				}
				heights = append(heights, s.Height)
			case "audio":
				if s.CodecName != "aac" {
					t.Errorf("audio stream codec %s", s.CodecName)
				}
				audio[s.Tags["language"]]++
			case "subtitle":
				if s.CodecName != "webvtt" {
					t.Errorf("subtitle stream codec %s", s.CodecName)
				}
				subs[s.Tags["language"]] = true
			}
		}
		slices.Sort(heights)
		if !slices.Equal(heights, []int{240, 360, 720}) {
			t.Errorf("video heights %v, want [240 360 720]", heights)
		}
		// de and tr, each at 64 and 128 kbit/s.
		if audio["de"] != 2 || audio["tr"] != 2 {
			t.Errorf("audio renditions by language %v, want de and tr twice each", audio)
		}
		if !subs["de"] || !subs["ar"] || len(subs) != 2 {
			t.Errorf("subtitle languages %v, want de and ar", subs)
		}
		if len(pr.Programs) != 4 {
			t.Fatalf("%d programs (variants), want 4", len(pr.Programs))
		}
		audioOnly := pr.Programs[3]
		for _, s := range audioOnly.Streams {
			if s.CodecType == "video" {
				t.Errorf("the audio-only variant has a video stream")
			}
		}
	})

	t.Run("master playlist attributes", func(t *testing.T) {
		data, err := os.ReadFile(master)
		if err != nil {
			t.Fatal(err)
		}
		text := string(data)
		for _, want := range []string{
			`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-64k",NAME="Deutsch",LANGUAGE="de",DEFAULT=YES`,
			`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-64k",NAME="Türkçe",LANGUAGE="tr",DEFAULT=NO`,
			`#EXT-X-MEDIA:TYPE=AUDIO,GROUP-ID="audio-128k",NAME="Deutsch",LANGUAGE="de",DEFAULT=YES`,
			`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="العربية",LANGUAGE="ar",DEFAULT=NO,AUTOSELECT=YES`,
			`#EXT-X-MEDIA:TYPE=SUBTITLES,GROUP-ID="subs",NAME="Deutsch",LANGUAGE="de"`,
		} {
			if !strings.Contains(text, want) {
				t.Errorf("master lacks %s\n%s", want, text)
			}
		}
		var infs []map[string]string
		var uris []string
		lines := strings.Split(text, "\n")
		for i, l := range lines {
			if rest, ok := strings.CutPrefix(l, "#EXT-X-STREAM-INF:"); ok {
				infs = append(infs, attributes(rest))
				uris = append(uris, lines[i+1])
			}
		}
		if len(infs) != 4 {
			t.Fatalf("%d variants in the master, want 4", len(infs))
		}
		// target video bit rate per rung; the audio comes on top.
		targets := []int{300_000 + 64_000, 800_000 + 128_000, 2_500_000 + 128_000, 64_000}
		for i, a := range infs {
			bw, _ := strconv.Atoi(a["BANDWIDTH"])
			avg, _ := strconv.Atoi(a["AVERAGE-BANDWIDTH"])
			if avg <= 0 || bw < avg {
				t.Errorf("variant %s: BANDWIDTH %d, AVERAGE-BANDWIDTH %d", uris[i], bw, avg)
			}
			if float64(avg) < 0.5*float64(targets[i]) || float64(bw) > 1.6*float64(targets[i]) {
				t.Errorf("variant %s: BANDWIDTH %d / average %d far from the target %d", uris[i], bw, avg, targets[i])
			}
			if a["SUBTITLES"] != `"subs"` {
				t.Errorf("variant %s: SUBTITLES=%s", uris[i], a["SUBTITLES"])
			}
			if bw != res.Variants[i].Bandwidth {
				t.Errorf("variant %s: master says %d, result %d", uris[i], bw, res.Variants[i].Bandwidth)
			}
		}
		for i, want := range []struct{ res, audio, codecPrefix string }{
			{"426x240", `"audio-64k"`, `"avc1.4d`},
			{"640x360", `"audio-128k"`, `"avc1.4d`},
			{"1280x720", `"audio-128k"`, `"avc1.64`},
		} {
			a := infs[i]
			if a["RESOLUTION"] != want.res || a["AUDIO"] != want.audio || a["FRAME-RATE"] != "25.000" ||
				!strings.HasPrefix(a["CODECS"], want.codecPrefix) || !strings.HasSuffix(a["CODECS"], `,mp4a.40.2"`) {
				t.Errorf("variant %d: %v, want RESOLUTION %s, AUDIO %s, CODECS %s...,mp4a.40.2, FRAME-RATE 25.000", i, a, want.res, want.audio, want.codecPrefix)
			}
		}
		if a := infs[3]; a["CODECS"] != `"mp4a.40.2"` || a["AUDIO"] != `"audio-64k"` || a["RESOLUTION"] != "" {
			t.Errorf("audio-only variant %v", a)
		}
		if uris[3] != "audio/de-64k/index.m3u8" {
			t.Errorf("audio-only variant plays %s, want the default language's 64k rendition", uris[3])
		}
	})

	t.Run("keyframes and segments are aligned across rungs", func(t *testing.T) {
		var first []string
		var firstSegs []string
		for i, v := range res.Variants[:3] {
			var pr probeResult
			ffprobe(t, &pr, "-select_streams", "v:0", "-skip_frame", "nokey", "-show_frames", "-show_entries", "frame=pts_time",
				filepath.Join(out, v.Playlist))
			var kf []string
			for _, f := range pr.Frames {
				kf = append(kf, f.PTSTime)
			}
			segs := extinfs(t, filepath.Join(out, v.Playlist))
			if i == 0 {
				first, firstSegs = kf, segs
				// A keyframe every 2 s: at 0, 2 and 4 s of a 5 s clip.
				if len(kf) != 3 {
					t.Errorf("%s: keyframes at %v, want 3 (every 2 s)", v.Name, kf)
				}
				for j := 1; j < len(kf); j++ {
					a, _ := strconv.ParseFloat(kf[j-1], 64)
					b, _ := strconv.ParseFloat(kf[j], 64)
					if math.Abs(b-a-2) > 0.001 {
						t.Errorf("%s: keyframes %v are not 2 s apart", v.Name, kf)
					}
				}
				if len(segs) != 2 || segs[0] != "4.000000" {
					t.Errorf("%s: segment durations %v, want 4 s and the rest", v.Name, segs)
				}
				continue
			}
			if !slices.Equal(kf, first) {
				t.Errorf("%s: keyframes at %v, %s at %v", v.Name, kf, res.Variants[0].Name, first)
			}
			if !slices.Equal(segs, firstSegs) {
				t.Errorf("%s: segments %v, %s %v", v.Name, segs, res.Variants[0].Name, firstSegs)
			}
		}
	})

	t.Run("audio and video share one timeline", func(t *testing.T) {
		start := func(rel string) float64 {
			var pr probeResult
			ffprobe(t, &pr, "-show_streams", filepath.Join(out, rel))
			f, err := strconv.ParseFloat(pr.Streams[0].StartTime, 64)
			if err != nil {
				t.Fatalf("%s: start %q", rel, pr.Streams[0].StartTime)
			}
			return f
		}
		v := start("video/720p/00000.ts")
		for _, a := range []string{"audio/de-64k/00000.ts", "audio/tr-128k/00000.ts"} {
			if d := math.Abs(start(a) - v); d > 0.03 {
				t.Errorf("%s starts %.3f s off the video", a, d)
			}
		}
		// The subtitles map cue time 0 to the same start.
		vtt, err := os.ReadFile(filepath.Join(out, "subtitles", "de.vtt"))
		if err != nil {
			t.Fatal(err)
		}
		want := fmt.Sprintf("WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:%d,LOCAL:00:00:00.000\n", int64(math.Round(v*90000)))
		if !strings.HasPrefix(string(vtt), want) {
			t.Errorf("de.vtt starts\n%s\nwant\n%s", vtt, want)
		}
		if !strings.Contains(string(vtt), "align:center") || !strings.Contains(string(vtt), "<i>ruhig</i>") || strings.Contains(string(vtt), "STYLE") {
			t.Errorf("de.vtt lost its cue settings or tags, or kept its STYLE block:\n%s", vtt)
		}
		ar, _ := os.ReadFile(filepath.Join(out, "subtitles", "ar.vtt"))
		if !strings.Contains(string(ar), "تنفس بهدوء.") || strings.Contains(string(ar), "\r") {
			t.Errorf("ar.vtt:\n%q", ar)
		}
	})

	t.Run("poster", func(t *testing.T) {
		if res.Poster != "poster.jpg" {
			t.Fatalf("poster %q", res.Poster)
		}
		var pr probeResult
		ffprobe(t, &pr, "-show_streams", filepath.Join(out, res.Poster))
		if s := pr.Streams[0]; s.CodecName != "mjpeg" || s.Width != 1280 || s.Height != 720 {
			t.Errorf("poster: %s %dx%d", s.CodecName, s.Width, s.Height)
		}
	})

	t.Run("downloads", func(t *testing.T) {
		want := []transcode.Download{
			{Path: "download/video-de.mp4", Kind: "video", Language: "de"},
			{Path: "download/video-tr.mp4", Kind: "video", Language: "tr"},
			{Path: "download/audio-de.m4a", Kind: "audio", Language: "de"},
			{Path: "download/audio-tr.m4a", Kind: "audio", Language: "tr"},
		}
		if !slices.Equal(res.Downloads, want) {
			t.Fatalf("downloads %v, want %v", res.Downloads, want)
		}
		for _, d := range res.Downloads {
			p := filepath.Join(out, d.Path)
			var pr probeResult
			ffprobe(t, &pr, "-show_streams", "-show_format", p)
			dur, _ := strconv.ParseFloat(pr.Format.Duration, 64)
			if math.Abs(dur-5) > 0.2 {
				t.Errorf("%s: duration %v, want about 5 s", d.Path, dur)
			}
			var kinds []string
			for _, s := range pr.Streams {
				kinds = append(kinds, fmt.Sprintf("%s:%s:%d", s.CodecType, s.CodecName, s.Height))
				if s.CodecType == "audio" && s.Tags["language"] != map[string]string{"de": "deu", "tr": "tur"}[d.Language] {
					t.Errorf("%s: audio language %q", d.Path, s.Tags["language"])
				}
			}
			wantKinds := []string{"audio:aac:0"}
			if d.Kind == "video" {
				wantKinds = []string{"video:h264:360", "audio:aac:0"}
			}
			if !slices.Equal(kinds, wantKinds) {
				t.Errorf("%s: streams %v, want %v", d.Path, kinds, wantKinds)
			}
			if boxes := topBoxes(t, p); slices.Index(boxes, "moov") > slices.Index(boxes, "mdat") {
				t.Errorf("%s: boxes %v: moov after mdat (no faststart)", d.Path, boxes)
			}
		}
	})

	t.Run("progress", func(t *testing.T) {
		mu.Lock()
		defer mu.Unlock()
		if len(progress) < 5 {
			t.Fatalf("only %d progress reports: %v", len(progress), progress)
		}
		for i := 1; i < len(progress); i++ {
			if progress[i] <= progress[i-1] {
				t.Fatalf("progress went from %v to %v: %v", progress[i-1], progress[i], progress)
			}
		}
		if progress[0] < 0 || progress[len(progress)-1] != 1 {
			t.Errorf("progress from %v to %v, want from 0 up to 1", progress[0], progress[len(progress)-1])
		}
		// Some reports come from within the encoding, not only between steps.
		mid := 0
		for _, f := range progress {
			if f > 0.05 && f < 0.9 {
				mid++
			}
		}
		if mid == 0 {
			t.Errorf("no progress reported during encoding: %v", progress)
		}
	})
}

// attributes parses an HLS attribute list (quoted values keep their quotes).
func attributes(s string) map[string]string {
	attrs := map[string]string{}
	for s != "" {
		key, rest, _ := strings.Cut(s, "=")
		var value string
		if strings.HasPrefix(rest, `"`) {
			end := strings.Index(rest[1:], `"`) + 2
			value, rest = rest[:end], rest[end:]
		} else {
			value, rest, _ = strings.Cut(rest, ",")
			rest = "," + rest
		}
		attrs[key] = value
		s = strings.TrimPrefix(rest, ",")
	}
	return attrs
}

// extinfs returns the segment durations of a media playlist.
func extinfs(t *testing.T, playlist string) []string {
	t.Helper()
	data, err := os.ReadFile(playlist)
	if err != nil {
		t.Fatal(err)
	}
	var durs []string
	for _, l := range strings.Split(string(data), "\n") {
		if d, ok := strings.CutPrefix(l, "#EXTINF:"); ok {
			durs = append(durs, strings.TrimSuffix(d, ","))
		}
	}
	return durs
}

// topBoxes returns the types of an MP4 file's top-level boxes in order.
func topBoxes(t *testing.T, path string) []string {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var types []string
	for off := uint64(0); off+8 <= uint64(len(data)); {
		size := uint64(binary.BigEndian.Uint32(data[off:]))
		types = append(types, string(data[off+4:off+8]))
		switch size {
		case 0:
			return types
		case 1:
			size = binary.BigEndian.Uint64(data[off+8:])
		}
		if size < 8 {
			t.Fatalf("%s: bad box size at %d", path, off)
		}
		off += size
	}
	return types
}

func TestHLSAudioOnly(t *testing.T) {
	testenv.FFmpeg(t)
	ctx := testCtx(t)
	in := t.TempDir()
	src := filepath.Join(in, "episode.mp3")
	ffmpeg(t, "-f", "lavfi", "-i", "sine=frequency=300:sample_rate=44100:duration=5", "-ac", "2", "-b:a", "96k", src)
	job := transcode.Job{
		Source:         src,
		SourceLanguage: "ru",
		Subtitles:      []transcode.SubtitleInput{{Language: "ru", Path: writeFile(t, in, "ru.srt", "1\n00:00:01,000 --> 00:00:02,500\nДышите спокойно.\n")}},
		OutDir:         filepath.Join(t.TempDir(), "episode"),
		NormalPriority: true,
	}
	res, err := transcode.HLS(ctx, job)
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Variants) != 1 || res.Variants[0].Name != "audio" || res.Variants[0].Codecs != "mp4a.40.2" {
		t.Errorf("variants %+v, want only the audio-only one", res.Variants)
	}
	if res.Poster != "" {
		t.Errorf("poster %q for an audio file without cover art", res.Poster)
	}
	want := []transcode.Download{{Path: "download/audio-ru.m4a", Kind: "audio", Language: "ru"}}
	if !slices.Equal(res.Downloads, want) {
		t.Errorf("downloads %v, want %v", res.Downloads, want)
	}
	for _, f := range res.Files {
		if strings.HasPrefix(f.Path, "video/") || strings.Contains(f.Path, "128k") {
			t.Errorf("audio-only source produced %s", f.Path)
		}
	}
	var pr probeResult
	ffprobe(t, &pr, "-strict", "experimental", "-show_streams", filepath.Join(job.OutDir, res.Master))
	var got []string
	for _, s := range pr.Streams {
		got = append(got, s.CodecType+":"+s.CodecName+":"+s.Tags["language"])
	}
	slices.Sort(got)
	// The rendition (ru) and the audio-only variant that plays it.
	if want := []string{"audio:aac:", "audio:aac:ru", "subtitle:webvtt:ru"}; !slices.Equal(got, want) {
		t.Errorf("ffprobe finds %v, want %v", got, want)
	}
	vtt, _ := os.ReadFile(filepath.Join(job.OutDir, "subtitles", "ru.vtt"))
	if !strings.Contains(string(vtt), "00:01.000 --> 00:02.500\nДышите спокойно.") {
		t.Errorf("the SubRip file was not converted to WebVTT:\n%s", vtt)
	}
}

func TestHLSCancel(t *testing.T) {
	testenv.FFmpeg(t)
	in := t.TempDir()
	src := clip(t, in, "clip.mp4")
	parent := t.TempDir()
	ctx, cancel := context.WithCancel(testCtx(t))
	defer cancel()
	var last float64
	var cancelled time.Time
	var nice []int
	job := transcode.Job{
		Source: src,
		OutDir: filepath.Join(parent, "hls"),
		Progress: func(f float64) {
			last = f
			if f > 0.1 && cancelled.IsZero() {
				// ffmpeg runs at a lowered priority by default.
				nice = childNice(t, "ffmpeg")
				cancelled = time.Now()
				cancel()
			}
		},
	}
	_, err := transcode.HLS(ctx, job)
	if !errors.Is(err, context.Canceled) {
		t.Fatalf("HLS after cancel: %v, want context.Canceled", err)
	}
	if last >= 1 {
		t.Errorf("progress reached %v although cancelled", last)
	}
	if d := time.Since(cancelled); d > 10*time.Second {
		t.Errorf("HLS took %s to stop after the cancel", d)
	}
	entries, err := os.ReadDir(parent)
	if err != nil {
		t.Fatal(err)
	}
	if len(entries) != 0 {
		t.Errorf("cancelled HLS left %v", entries)
	}
	if children := childNice(t, "ffmpeg"); len(children) != 0 {
		t.Errorf("ffmpeg still runs after the cancel")
	}
	if len(nice) != 1 || nice[0] != 10 {
		t.Errorf("nice values of the running ffmpeg: %v, want [10]", nice)
	}
}

// childNice returns the nice values of this process's children named
// comm, from /proc.
func childNice(t *testing.T, comm string) []int {
	t.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil || len(stats) == 0 {
		t.Skip("no /proc")
	}
	var nice []int
	for _, p := range stats {
		data, err := os.ReadFile(p)
		if err != nil {
			continue // gone meanwhile
		}
		// pid (comm) state ppid ... ; fields after the comm, 1-based from
		// state: ppid is 2, nice is 17.
		open, closing := bytes.IndexByte(data, '('), bytes.LastIndexByte(data, ')')
		if open < 0 || closing < open {
			continue
		}
		fields := strings.Fields(string(data[closing+1:]))
		if string(data[open+1:closing]) != comm || len(fields) < 17 {
			continue
		}
		if ppid, _ := strconv.Atoi(fields[1]); ppid != os.Getpid() {
			continue
		}
		if fields[0] == "Z" {
			continue // exited, not yet reaped
		}
		n, _ := strconv.Atoi(fields[16])
		nice = append(nice, n)
	}
	return nice
}

func TestProbe(t *testing.T) {
	testenv.FFmpeg(t)
	ctx := testCtx(t)
	dir := t.TempDir()
	video := clip(t, dir, "clip.mp4")
	audio := tone(t, dir, "talk.m4a", 500)
	playlist := writeFile(t, dir, "trick.m3u8", "#EXTM3U\n#EXT-X-TARGETDURATION:5\n#EXTINF:5,\nclip.mp4\n#EXT-X-ENDLIST\n")
	text := writeFile(t, dir, "notes.txt", "Dies ist kein Video.\n")
	random := writeFile(t, dir, "random.mp4", strings.Repeat("\x00\x17garbage\xff", 500))
	empty := writeFile(t, dir, "empty.mp4", "")
	image := filepath.Join(dir, "still.jpg")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=320x240", "-frames:v", "1", image)

	info, err := transcode.Probe(ctx, video)
	if err != nil {
		t.Fatal(err)
	}
	if v := info.Video; v == nil || v.Codec != "h264" || v.Width != 1280 || v.Height != 720 || v.FrameRate != (transcode.Rate{25, 1}) {
		t.Errorf("video %+v", info.Video)
	}
	if len(info.Audio) != 1 || info.Audio[0].Language != "de" || info.Audio[0].Codec != "aac" || info.Audio[0].Channels != 1 {
		t.Errorf("audio %+v", info.Audio)
	}
	if info.Duration < 4900*time.Millisecond || info.Duration > 5100*time.Millisecond || !strings.Contains(info.Format, "mp4") {
		t.Errorf("format %q duration %s", info.Format, info.Duration)
	}
	info, err = transcode.Probe(ctx, audio)
	if err != nil {
		t.Fatal(err)
	}
	if info.Video != nil || len(info.Audio) != 1 || info.Audio[0].Language != "" {
		t.Errorf("audio file: video %v, audio %+v", info.Video, info.Audio)
	}

	for _, c := range []struct {
		name, path string
		want       error
	}{
		{"text", text, transcode.ErrNotMedia},
		{"random bytes", random, transcode.ErrNotMedia},
		{"empty", empty, transcode.ErrNotMedia},
		{"image", image, transcode.ErrNotMedia},
		{"playlist", playlist, transcode.ErrNotMedia},
		{"missing", filepath.Join(dir, "gone.mp4"), fs.ErrNotExist},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := transcode.Probe(ctx, c.path)
			var ie *transcode.InputError
			if !errors.Is(err, c.want) || !errors.As(err, &ie) || ie.Path != c.path || ie.Role != "source" {
				t.Fatalf("Probe: %v, want an *InputError for %s wrapping %v", err, c.path, c.want)
			}
			t.Log(err)
		})
	}
}

func TestHLSRejectsBadInput(t *testing.T) {
	testenv.FFmpeg(t)
	ctx := testCtx(t)
	in := t.TempDir()
	video := clip(t, in, "clip.mp4")
	goodVTT := writeFile(t, in, "de.vtt", germanVTT)
	notText := writeFile(t, in, "notes.txt", "Dies ist kein Video.\n")
	full := t.TempDir()
	writeFile(t, full, "old.txt", "x")

	for _, c := range []struct {
		name     string
		job      transcode.Job
		want     error
		role     string
		inDetail string
	}{
		{"broken cue timing", transcode.Job{Source: video, Subtitles: []transcode.SubtitleInput{
			{Language: "de", Path: writeFile(t, in, "bad.vtt", "WEBVTT\n\n00:00:00.500 --> 00:00:02.000\nGut\n\n00:00:03.000 --> später\nKaputt\n")}}},
			transcode.ErrBadSubtitles, "subtitles de", "line 6"},
		{"subtitles without cues", transcode.Job{Source: video, Subtitles: []transcode.SubtitleInput{
			{Language: "tr", Path: writeFile(t, in, "empty.vtt", "WEBVTT\n\n")}}},
			transcode.ErrBadSubtitles, "subtitles tr", "no cues"},
		{"subtitles that are no subtitles", transcode.Job{Source: video, Subtitles: []transcode.SubtitleInput{
			{Language: "ru", Path: notText}}},
			transcode.ErrBadSubtitles, "subtitles ru", "WEBVTT"},
		{"subtitles not in UTF-8", transcode.Job{Source: video, Subtitles: []transcode.SubtitleInput{
			{Language: "tr", Path: writeFile(t, in, "latin.vtt", "WEBVTT\n\n00:00:01.000 --> 00:00:02.000\nG\xfczel\n")}}},
			transcode.ErrBadSubtitles, "subtitles tr", "UTF-8"},
		{"source is not media", transcode.Job{Source: notText}, transcode.ErrNotMedia, "source", ""},
		{"language version is not media", transcode.Job{Source: video, Audio: []transcode.AudioInput{{Language: "ar", Path: goodVTT}}},
			transcode.ErrNotMedia, "audio ar", ""},
		{"two versions in one language", transcode.Job{Source: video, Audio: []transcode.AudioInput{{Language: "de", Path: video}}},
			transcode.ErrInvalidJob, "", "two audio versions"},
		{"unknown language", transcode.Job{Source: video, Subtitles: []transcode.SubtitleInput{{Language: "klingonisch", Path: goodVTT}}},
			transcode.ErrInvalidJob, "", "not a language tag"},
		{"output not empty", transcode.Job{Source: video, OutDir: full}, transcode.ErrInvalidJob, "", "not empty"},
	} {
		t.Run(c.name, func(t *testing.T) {
			parent := t.TempDir()
			if c.job.OutDir == "" {
				c.job.OutDir = filepath.Join(parent, "out")
			}
			_, err := transcode.HLS(ctx, c.job)
			if !errors.Is(err, c.want) {
				t.Fatalf("HLS: %v, want %v", err, c.want)
			}
			if c.role != "" {
				var ie *transcode.InputError
				if !errors.As(err, &ie) || ie.Role != c.role {
					t.Fatalf("HLS: %v, want an *InputError of %s", err, c.role)
				}
			}
			if !strings.Contains(err.Error(), c.inDetail) {
				t.Errorf("error %q does not mention %q", err, c.inDetail)
			}
			if entries, _ := os.ReadDir(parent); len(entries) != 0 {
				t.Errorf("rejected job left %v", entries)
			}
			t.Log(err)
		})
	}
}

// A phone's portrait video is stored landscape with a rotation: the
// renditions are upright, sized by their short side.
func TestHLSPortrait(t *testing.T) {
	testenv.FFmpeg(t)
	ctx := testCtx(t)
	in := t.TempDir()
	// Stored: white left half, black right half.
	stored := filepath.Join(in, "stored.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "color=c=white:s=320x360:r=30:d=2[a];color=c=black:s=320x360:r=30:d=2[b];[a][b]hstack[out0]",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", stored)
	src := filepath.Join(in, "phone.mov")
	ffmpeg(t, "-i", stored, "-c", "copy", "-metadata:s:v:0", "rotate=90", src)

	info, err := transcode.Probe(ctx, src)
	if err != nil {
		t.Fatal(err)
	}
	if v := info.Video; v.Width != 360 || v.Height != 640 || v.Rotation != 90 || v.CodedWidth != 640 {
		t.Fatalf("probe: %+v, want a 360x640 picture rotated by 90°", v)
	}
	if len(info.Audio) != 0 {
		t.Fatalf("probe found audio %+v", info.Audio)
	}
	out := filepath.Join(t.TempDir(), "out")
	res, err := transcode.HLS(ctx, transcode.Job{Source: src, OutDir: out, NormalPriority: true})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, v := range res.Variants {
		got = append(got, fmt.Sprintf("%s:%dx%d", v.Name, v.Width, v.Height))
		if strings.Contains(v.Codecs, "mp4a") {
			t.Errorf("%s: audio codec %q in a video without sound", v.Name, v.Codecs)
		}
	}
	// No sound: no audio renditions, no audio-only variant.
	if want := []string{"240p:240x426", "360p:360x640"}; !slices.Equal(got, want) {
		t.Fatalf("variants %v, want %v", got, want)
	}
	want := []transcode.Download{{Path: "download/video.mp4", Kind: "video"}}
	if !slices.Equal(res.Downloads, want) {
		t.Errorf("downloads %v, want %v", res.Downloads, want)
	}
	for _, rel := range []string{res.Master, "download/video.mp4", res.Poster} {
		var pr probeResult
		ffprobe(t, &pr, "-show_streams", filepath.Join(out, rel))
		var sizes []string
		for _, s := range pr.Streams {
			if s.CodecType != "video" {
				t.Errorf("%s: a %s stream", rel, s.CodecType)
			}
			sizes = append(sizes, fmt.Sprintf("%dx%d", s.Width, s.Height))
		}
		slices.Sort(sizes)
		want := []string{"240x426", "360x640"}
		if rel != res.Master {
			want = []string{"360x640"}
		}
		if !slices.Equal(sizes, want) {
			t.Errorf("%s: pictures %v, want %v (upright)", rel, sizes, want)
		}
	}
	// Rotated, not squeezed: the halves are now top and bottom.
	cmd := exec.Command("ffmpeg", "-v", "error", "-i", filepath.Join(out, "video/360p/index.m3u8"),
		"-frames:v", "1", "-f", "rawvideo", "-pix_fmt", "gray", "pipe:1")
	frame, err := cmd.Output()
	if err != nil || len(frame) != 360*640 {
		t.Fatalf("decoding a frame: %d bytes, %v", len(frame), err)
	}
	mean := func(x0, y0, x1, y1 int) float64 {
		sum := 0
		for y := y0; y < y1; y++ {
			for x := x0; x < x1; x++ {
				sum += int(frame[y*360+x])
			}
		}
		return float64(sum) / float64((x1-x0)*(y1-y0))
	}
	top, bottom := mean(0, 0, 360, 300), mean(0, 340, 360, 640)
	left, right := mean(0, 0, 160, 640), mean(200, 0, 360, 640)
	if math.Abs(top-bottom) < 150 || math.Abs(left-right) > 20 {
		t.Errorf("mean brightness top %.0f bottom %.0f left %.0f right %.0f: the picture was not rotated", top, bottom, left, right)
	}
}
