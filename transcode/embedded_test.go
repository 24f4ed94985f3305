package transcode_test

import (
	"encoding/binary"
	"errors"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"portalo/internal/testenv"
	"portalo/transcode"
)

// Subtitle sources for the embedded-subtitle tests.
const (
	germanSRT  = "1\n00:00:00,200 --> 00:00:00,900\nHallo Welt\n\n2\n00:00:01,000 --> 00:00:01,800\nZweite Zeile\n"
	englishASS = "[Script Info]\nScriptType: v4.00+\nPlayResX: 384\nPlayResY: 288\n\n" +
		"[V4+ Styles]\nFormat: Name, Fontname, Fontsize, PrimaryColour, SecondaryColour, OutlineColour, BackColour, Bold, Italic, Underline, StrikeOut, ScaleX, ScaleY, Spacing, Angle, BorderStyle, Outline, Shadow, Alignment, MarginL, MarginR, MarginV, Encoding\n" +
		"Style: Default,Arial,16,&Hffffff,&Hffffff,&H0,&H0,0,0,0,0,100,100,0,0,1,1,0,2,10,10,10,0\n\n" +
		"[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n" +
		"Dialogue: 0,0:00:00.30,0:00:01.50,Default,,0,0,0,,Breathe {\\i1}slowly{\\i0} in.\n"
	untaggedSRT = "1\n00:00:00,500 --> 00:00:01,000\nWelche Sprache?\n"
	turkishSRT  = "1\n00:00:00,100 --> 00:00:01,000\nMerhaba dünya\n"
	forcedSRT   = "1\n00:00:00,400 --> 00:00:00,800\nNur die Fremdsprache\n"
	arabicSRT   = "1\n00:00:00,300 --> 00:00:01,200\nتنفس بهدوء\n"
	frenchSRT   = "1\n00:00:00,300 --> 00:00:01,200\nRespirez calmement\n"
	russianVTT  = "WEBVTT\n\n00:00:00.300 --> 00:00:01.200\nДышите спокойно\n"
	uploadedSRT = "1\n00:00:00,500 --> 00:00:01,500\nHochgeladene Untertitel\n"
)

// russianCP1251 is a SubRip file in Windows-1251, not UTF-8: ffmpeg
// cannot decode it, so the stream is broken.
var russianCP1251 = "1\n00:00:00,200 --> 00:00:01,000\n\xcf\xf0\xe8\xe2\xe5\xf2\n"

// pgsSubtitles returns a tiny Blu-ray (PGS) subtitle stream, as a .sup
// file holds it: two display sets of a presentation composition, a
// window and an end segment. ffmpeg cannot encode image subtitles from
// text, so the test writes the segments itself.
func pgsSubtitles() []byte {
	var out []byte
	segment := func(pts uint32, kind byte, payload []byte) {
		out = append(out, 'P', 'G')
		out = binary.BigEndian.AppendUint32(out, pts)
		out = binary.BigEndian.AppendUint32(out, 0)
		out = append(out, kind)
		out = binary.BigEndian.AppendUint16(out, uint16(len(payload)))
		out = append(out, payload...)
	}
	for i, pts := range []uint32{9000, 90000} {
		// Presentation composition: 160x120, 25 fps, number i, epoch
		// start then normal, no palette update, no objects.
		state := byte(0x80)
		if i > 0 {
			state = 0
		}
		segment(pts, 0x16, []byte{0, 160, 0, 120, 0x10, 0, byte(i), state, 0, 0, 0})
		segment(pts, 0x17, []byte{1, 0, 0, 0, 0, 0, 0, 16, 0, 16})
		segment(pts, 0x80, nil)
	}
	return out
}

// mkvWithSubtitles writes a 2 s 160x120 Matroska clip with German sound
// and the subtitle streams:
//
//	#2 German SubRip, #3 English ASS ("English SDH", default), #4 German
//	PGS (image), #5 SubRip without language, #6 Russian SubRip in
//	Windows-1251 (broken).
func mkvWithSubtitles(t *testing.T, dir string) string {
	t.Helper()
	sup := filepath.Join(dir, "de.sup")
	if err := os.WriteFile(sup, pgsSubtitles(), 0o644); err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(dir, "film.mkv")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=2",
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000:duration=2",
		"-i", writeFile(t, dir, "de.srt", germanSRT),
		"-i", writeFile(t, dir, "en.ass", englishASS),
		"-i", sup,
		"-i", writeFile(t, dir, "und.srt", untaggedSRT),
		"-i", writeFile(t, dir, "ru.srt", russianCP1251),
		"-map", "0", "-map", "1", "-map", "2", "-map", "3", "-map", "4", "-map", "5", "-map", "6",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:a", "aac", "-c:s", "copy",
		"-metadata:s:a:0", "language=ger",
		"-metadata:s:s:0", "language=ger",
		"-metadata:s:s:1", "language=eng", "-metadata:s:s:1", "title=English SDH", "-disposition:s:1", "default",
		"-metadata:s:s:2", "language=ger",
		"-metadata:s:s:4", "language=rus",
		p)
	return p
}

// mp4WithSubtitles writes a 2 s MP4 clip without sound with a Turkish
// mov_text stream (#1) and one without language (#2).
func mp4WithSubtitles(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "clip.mp4")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=2",
		"-i", writeFile(t, dir, "tr.srt", turkishSRT),
		"-i", writeFile(t, dir, "und.srt", untaggedSRT),
		"-map", "0", "-map", "1", "-map", "2",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:s", "mov_text",
		"-metadata:s:s:0", "language=tur",
		p)
	return p
}

// mkvForced writes a 2 s Matroska clip without sound with #1 forced
// German, #2 complete German, #3 forced Arabic (the only Arabic) and #4
// French subtitles.
func mkvForced(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "forced.mkv")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=2",
		"-i", writeFile(t, dir, "forced.srt", forcedSRT),
		"-i", writeFile(t, dir, "de.srt", germanSRT),
		"-i", writeFile(t, dir, "ar.srt", arabicSRT),
		"-i", writeFile(t, dir, "fr.srt", frenchSRT),
		"-map", "0", "-map", "1", "-map", "2", "-map", "3", "-map", "4",
		"-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p", "-c:s", "srt",
		"-metadata:s:s:0", "language=deu", "-disposition:s:0", "forced",
		"-metadata:s:s:1", "language=deu",
		"-metadata:s:s:2", "language=ara", "-disposition:s:2", "forced",
		"-metadata:s:s:3", "language=fre",
		p)
	return p
}

// webmWithSubtitles writes a 2 s WebM clip (VP8) with a Russian WebVTT
// stream (#1).
func webmWithSubtitles(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "clip.webm")
	ffmpeg(t, "-f", "lavfi", "-i", "testsrc2=size=160x120:rate=10:duration=2",
		"-i", writeFile(t, dir, "ru.vtt", russianVTT),
		"-map", "0", "-map", "1",
		"-c:v", "libvpx", "-deadline", "realtime", "-cpu-used", "8", "-b:v", "200k", "-c:s", "webvtt",
		"-metadata:s:s:0", "language=rus",
		p)
	return p
}

func TestProbeEmbeddedSubtitles(t *testing.T) {
	testenv.FFmpeg(t)
	ctx := testCtx(t)
	dir := t.TempDir()

	info, err := transcode.Probe(ctx, mkvWithSubtitles(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	want := []transcode.SubtitleStream{
		{Index: 2, Codec: "subrip", Language: "de"},
		{Index: 3, Codec: "ass", Language: "en", Title: "English SDH", Default: true},
		{Index: 4, Codec: "hdmv_pgs_subtitle", Language: "de"},
		{Index: 5, Codec: "subrip"},
		{Index: 6, Codec: "subrip", Language: "ru"},
	}
	if !slices.Equal(info.Subtitles, want) {
		t.Errorf("MKV subtitles\n got %+v\nwant %+v", info.Subtitles, want)
	}
	for _, s := range info.Subtitles {
		if image := s.Codec == "hdmv_pgs_subtitle"; s.Image() != image || s.Text() == image {
			t.Errorf("stream %d (%s): Text %v, Image %v", s.Index, s.Codec, s.Text(), s.Image())
		}
	}

	info, err = transcode.Probe(ctx, mp4WithSubtitles(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	if len(info.Subtitles) != 2 || info.Subtitles[0].Codec != "mov_text" || info.Subtitles[0].Language != "tr" ||
		info.Subtitles[1].Language != "" || !info.Subtitles[1].Text() {
		t.Errorf("MP4 subtitles %+v, want a Turkish and an untagged mov_text stream", info.Subtitles)
	}

	info, err = transcode.Probe(ctx, mkvForced(t, dir))
	if err != nil {
		t.Fatal(err)
	}
	var forced []bool
	for _, s := range info.Subtitles {
		forced = append(forced, s.Forced)
	}
	if !slices.Equal(forced, []bool{true, false, true, false}) || info.Subtitles[3].Language != "fr" {
		t.Errorf("forced MKV subtitles %+v", info.Subtitles)
	}
}

func TestHLSEmbeddedSubtitles(t *testing.T) {
	testenv.FFmpeg(t)
	ctx := testCtx(t)
	in := t.TempDir()
	mkv := mkvWithSubtitles(t, in)
	catalogLanguages := []string{"de", "en", "tr", "ru", "ar"}

	type rendition struct {
		lang     string
		embedded bool
		stream   int
		text     string // in its cues
		not      string // not in its cues
	}
	cases := []struct {
		name       string
		job        transcode.Job
		renditions []rendition
		notes      map[int]transcode.NoteCode // by stream
	}{
		{
			name: "matroska with SubRip, ASS, PGS, untagged and broken streams",
			job:  transcode.Job{Source: mkv},
			renditions: []rendition{
				{lang: "de", embedded: true, stream: 2, text: "Hallo Welt\n"},
				{lang: "en", embedded: true, stream: 3, text: "Breathe <i>slowly</i> in."},
			},
			notes: map[int]transcode.NoteCode{
				4: transcode.NoteSubtitlesImage, 5: transcode.NoteSubtitlesNoLanguage, 6: transcode.NoteSubtitlesBroken,
			},
		},
		{
			name: "an uploaded file wins over the stream in its language",
			job: transcode.Job{Source: mkv, Subtitles: []transcode.SubtitleInput{
				{Language: "de", Path: writeFile(t, in, "upload-de.srt", uploadedSRT)},
			}},
			renditions: []rendition{
				{lang: "de", text: "Hochgeladene Untertitel", not: "Hallo Welt"},
				{lang: "en", embedded: true, stream: 3, text: "slowly"},
			},
			notes: map[int]transcode.NoteCode{
				2: transcode.NoteSubtitlesUploaded, 4: transcode.NoteSubtitlesImage,
				5: transcode.NoteSubtitlesNoLanguage, 6: transcode.NoteSubtitlesBroken,
			},
		},
		{
			name:       "mp4 with mov_text",
			job:        transcode.Job{Source: mp4WithSubtitles(t, in)},
			renditions: []rendition{{lang: "tr", embedded: true, stream: 1, text: "Merhaba dünya"}},
			notes:      map[int]transcode.NoteCode{2: transcode.NoteSubtitlesNoLanguage},
		},
		{
			name: "forced subtitles only when they are the only ones",
			job:  transcode.Job{Source: mkvForced(t, in), EmbeddedSubtitleLanguages: catalogLanguages},
			renditions: []rendition{
				{lang: "de", embedded: true, stream: 2, text: "Zweite Zeile", not: "Fremdsprache"},
				{lang: "ar", embedded: true, stream: 3, text: "تنفس بهدوء"},
			},
			notes: map[int]transcode.NoteCode{1: transcode.NoteSubtitlesDuplicate, 4: transcode.NoteSubtitlesLanguage},
		},
		{
			name:       "webm with WebVTT",
			job:        transcode.Job{Source: webmWithSubtitles(t, in)},
			renditions: []rendition{{lang: "ru", embedded: true, stream: 1, text: "Дышите спокойно"}},
		},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			job := c.job
			job.OutDir = filepath.Join(t.TempDir(), "hls")
			job.NormalPriority = true
			res, err := transcode.HLS(ctx, job)
			if err != nil {
				t.Fatal(err)
			}

			var langs []string
			for _, want := range c.renditions {
				langs = append(langs, want.lang)
			}
			if !slices.Equal(res.SubtitleLanguages, langs) {
				t.Errorf("subtitle languages %v, want %v", res.SubtitleLanguages, langs)
			}
			if len(res.Subtitles) != len(c.renditions) {
				t.Fatalf("subtitle renditions %+v, want %d", res.Subtitles, len(c.renditions))
			}
			master, err := os.ReadFile(filepath.Join(job.OutDir, res.Master))
			if err != nil {
				t.Fatal(err)
			}
			inMaster := map[string]map[string]string{}
			for _, line := range strings.Split(string(master), "\n") {
				if a, ok := strings.CutPrefix(line, "#EXT-X-MEDIA:"); ok && strings.Contains(a, "TYPE=SUBTITLES") {
					attrs := attributes(a)
					inMaster[strings.Trim(attrs["LANGUAGE"], `"`)] = attrs
				}
			}
			for i, want := range c.renditions {
				got := res.Subtitles[i]
				if got.Language != want.lang || got.Embedded != want.embedded || want.embedded && got.Stream != want.stream {
					t.Errorf("rendition %d = %+v, want %+v", i, got, want)
				}
				attrs, ok := inMaster[want.lang]
				if !ok || attrs["URI"] != `"`+got.Playlist+`"` || attrs["GROUP-ID"] != `"subs"` {
					t.Errorf("master playlist has no subtitle rendition LANGUAGE=%q for %s:\n%s", want.lang, got.Playlist, master)
				}
				vtt, err := os.ReadFile(filepath.Join(job.OutDir, got.File))
				if err != nil {
					t.Fatal(err)
				}
				if !strings.HasPrefix(string(vtt), "WEBVTT\nX-TIMESTAMP-MAP=MPEGTS:") || !strings.Contains(string(vtt), want.text) ||
					want.not != "" && strings.Contains(string(vtt), want.not) {
					t.Errorf("%s holds\n%s\nwant %q and not %q", got.File, vtt, want.text, want.not)
				}
			}
			if len(inMaster) != len(c.renditions) {
				t.Errorf("master playlist subtitle renditions %v, want %v", slices.Collect(maps.Keys(inMaster)), langs)
			}

			notes := map[int]transcode.NoteCode{}
			for _, n := range res.Notes {
				notes[n.Stream] = n.Code
				t.Log(n)
				if n.Detail == "" {
					t.Errorf("note %+v says nothing", n)
				}
			}
			if !maps.Equal(notes, c.notes) {
				t.Errorf("notes by stream %v, want %v", notes, c.notes)
			}
			if !slices.IsSortedFunc(res.Notes, func(a, b transcode.Note) int { return a.Stream - b.Stream }) {
				t.Errorf("notes not by stream: %+v", res.Notes)
			}
			// The extraction leaves nothing in the output.
			for _, f := range res.Files {
				if strings.Contains(f.Path, "embedded") {
					t.Errorf("left over: %s", f.Path)
				}
			}
			entries, _ := os.ReadDir(job.OutDir)
			for _, e := range entries {
				if strings.HasPrefix(e.Name(), ".") {
					t.Errorf("left over in the output: %s", e.Name())
				}
			}

			// A client nobody here wrote reads every rendition.
			var pr probeResult
			ffprobe(t, &pr, "-strict", "experimental", "-show_streams", filepath.Join(job.OutDir, res.Master))
			var subs []string
			for _, s := range pr.Streams {
				if s.CodecType == "subtitle" {
					if s.CodecName != "webvtt" {
						t.Errorf("subtitle stream codec %s", s.CodecName)
					}
					subs = append(subs, s.Tags["language"])
				}
			}
			slices.Sort(subs)
			sorted := slices.Sorted(slices.Values(langs))
			if !slices.Equal(subs, sorted) {
				t.Errorf("ffprobe reads subtitle renditions %v, want %v", subs, sorted)
			}
		})
	}
}

func TestHLSRejectsBadEmbeddedSubtitleLanguage(t *testing.T) {
	testenv.FFmpeg(t)
	dir := t.TempDir()
	_, err := transcode.HLS(testCtx(t), transcode.Job{
		Source: mp4WithSubtitles(t, dir), OutDir: filepath.Join(dir, "out"),
		EmbeddedSubtitleLanguages: []string{"de", "klingonisch"},
	})
	if !errors.Is(err, transcode.ErrInvalidJob) || !strings.Contains(err.Error(), "klingonisch") {
		t.Fatalf("HLS = %v, want an invalid job naming the language", err)
	}
}
