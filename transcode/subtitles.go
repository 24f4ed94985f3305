package transcode

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"regexp"
	"strings"
	"unicode/utf8"
)

// maxSubtitleSize bounds a subtitle file (a feature film's has ~100 KB).
const maxSubtitleSize = 4 << 20

// subtitle is a validated subtitle file, as WebVTT without its header.
type subtitle struct {
	lang string
	// cues is the WebVTT body after the "WEBVTT" line.
	cues []byte
	// stream is the source's stream the subtitles were extracted from;
	// nil for a file of the job.
	stream *SubtitleStream
}

// key names the subtitles in file names.
func (s subtitle) key() string { return strings.ToLower(s.lang) }

// cueTiming matches a WebVTT or SubRip cue timing line.
var cueTiming = regexp.MustCompile(`^\s*(\d+:)?\d{1,2}:\d{2}[.,]\d{3}\s+-->\s+(\d+:)?\d{1,2}:\d{2}[.,]\d{3}(\s.*)?$`)

// readSubtitles reads a WebVTT (or SubRip) file, has ffmpeg parse it and
// rejects it when ffmpeg cannot read every cue: a file ffmpeg half
// understands would silently lose subtitles. SubRip is converted to
// WebVTT; WebVTT keeps its cue settings and tags, but STYLE and REGION
// blocks are dropped (ffmpeg 5.1 cannot read past them, and players style
// HLS subtitles themselves).
func readSubtitles(ctx context.Context, path, lang string) (subtitle, error) {
	role := "subtitles " + lang
	bad := func(detail string) error {
		return &InputError{Path: path, Role: role, Err: ErrBadSubtitles, Detail: detail}
	}
	st, err := os.Stat(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return subtitle{}, &InputError{Path: path, Role: role, Err: fs.ErrNotExist}
	case err != nil:
		return subtitle{}, fmt.Errorf("transcode: %s: %w", role, err)
	case !st.Mode().IsRegular():
		return subtitle{}, bad("not a regular file")
	case st.Size() > maxSubtitleSize:
		return subtitle{}, bad(fmt.Sprintf("larger than %d MB", maxSubtitleSize>>20))
	}
	raw, err := os.ReadFile(path)
	if err != nil {
		return subtitle{}, fmt.Errorf("transcode: %s: %w", role, err)
	}
	raw = bytes.TrimPrefix(raw, []byte("\xef\xbb\xbf"))
	if !utf8.Valid(raw) {
		return subtitle{}, bad("the text is not UTF-8; save the file as UTF-8")
	}
	text := strings.ReplaceAll(strings.ReplaceAll(string(raw), "\r\n", "\n"), "\r", "\n")

	format, codec := "srt", "webvtt"
	if first, _, _ := strings.Cut(text, "\n"); first == "WEBVTT" || strings.HasPrefix(first, "WEBVTT ") || strings.HasPrefix(first, "WEBVTT\t") {
		format, codec = "webvtt", "copy"
		text = dropBlocks(text, "STYLE", "REGION")
	}
	want, firstBad := countCues(text)
	if firstBad != "" {
		return subtitle{}, bad("unreadable cue timing " + firstBad)
	}
	if want == 0 {
		if format == "srt" {
			return subtitle{}, bad("it neither starts with WEBVTT nor holds SubRip cues")
		}
		return subtitle{}, bad("it holds no cues")
	}

	var out bytes.Buffer
	err = run(ctx, command{step: "subtitles", tool: "ffmpeg", stdin: strings.NewReader(text), stdout: &out, args: append(baseArgs(),
		"-protocol_whitelist", "pipe", "-f", format, "-i", "pipe:0",
		"-map", "0:s:0", "-c:s", codec, "-f", "webvtt", "pipe:1",
	)})
	if te := (*ToolError)(nil); errors.As(err, &te) {
		return subtitle{}, bad("ffmpeg cannot read it: " + lastLines(te.Stderr, 1))
	}
	if err != nil {
		return subtitle{}, err
	}
	got, _ := countCues(out.String())
	if got < want {
		return subtitle{}, bad(fmt.Sprintf("ffmpeg read only %d of its %d cues", got, want))
	}
	_, body, _ := strings.Cut(out.String(), "\n")
	return subtitle{lang: lang, cues: []byte(body)}, nil
}

// countCues counts the cue timing lines of a WebVTT or SubRip text; it
// also returns the first line that has an arrow but no valid timing
// ("line 7: ..."), or "".
func countCues(text string) (int, string) {
	n := 0
	for i, line := range strings.Split(text, "\n") {
		if !strings.Contains(line, "-->") {
			continue
		}
		if !cueTiming.MatchString(line) {
			return n, fmt.Sprintf("on line %d: %q", i+1, truncate(line, 60))
		}
		n++
	}
	return n, ""
}

// dropBlocks removes the blank-line separated blocks of a WebVTT text
// whose first line is one of names.
func dropBlocks(text string, names ...string) string {
	blocks := strings.Split(text, "\n\n")
	kept := blocks[:0]
	for _, b := range blocks {
		first, _, _ := strings.Cut(strings.TrimLeft(b, "\n"), "\n")
		drop := false
		for _, n := range names {
			if strings.TrimSpace(first) == n {
				drop = true
			}
		}
		if !drop {
			kept = append(kept, b)
		}
	}
	return strings.Join(kept, "\n\n")
}

func truncate(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n]) + "…"
}
