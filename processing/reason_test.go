package processing

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"strings"
	"testing"
	"unicode/utf8"

	"portalo/catalog"
	"portalo/transcode"
)

// Each kind of failure gives its reason code and parameters (stored as the
// item's status detail) and an English text (the job's error).
func TestExplainGivesCodes(t *testing.T) {
	names := map[string]inputName{
		"/tmp/in/source.mp4":       {file: "original.mp4", input: "source"},
		"/tmp/in/audio-tr.m4a":     {file: "original-tr.m4a", input: "sound", lang: "tr"},
		"/tmp/in/subtitles-ar.vtt": {file: "subtitles-ar.vtt", input: "subtitles", lang: "ar"},
	}
	for _, c := range []struct {
		name    string
		err     error
		code    string
		params  map[string]string
		english []string
	}{
		{"source gone", &missingError{name: inputName{file: "original.mp4", input: "source"}, fromItem: true},
			ReasonSourceGone, map[string]string{"file": "original.mp4"}, []string{`"original.mp4" is no longer part of the item`}},
		{"sound file missing from the store", &missingError{name: inputName{file: "original-tr.m4a", input: "sound", lang: "tr"}},
			ReasonInputMissing, map[string]string{"input": "sound", "lang": "tr", "file": "original-tr.m4a"}, []string{"Turkish sound file", "Upload it again"}},
		{"subtitles missing from the store", &missingError{name: inputName{file: "subtitles-ar.vtt", input: "subtitles", lang: "ar"}},
			ReasonInputMissing, map[string]string{"input": "subtitles", "lang": "ar", "file": "subtitles-ar.vtt"}, []string{"Arabic subtitles"}},
		{"bad subtitles", fmt.Errorf("run: %w", &transcode.InputError{Path: "/tmp/in/subtitles-ar.vtt", Role: "subtitles ar", Err: transcode.ErrBadSubtitles, Detail: "line 3: no cue timing."}),
			ReasonSubtitlesInvalid, map[string]string{"input": "subtitles", "lang": "ar", "file": "subtitles-ar.vtt", "detail": "line 3: no cue timing"}, []string{"not a valid WebVTT file (line 3: no cue timing)"}},
		{"not media", &transcode.InputError{Path: "/tmp/in/source.mp4", Role: "source", Err: transcode.ErrNotMedia},
			ReasonNotMedia, map[string]string{"input": "source", "file": "original.mp4"}, []string{`The uploaded file "original.mp4" is not an audio or video file`}},
		{"sound not media (by name only)", &transcode.InputError{Path: "/tmp/in/audio-tr.m4a", Err: transcode.ErrNotMedia, Detail: "no audio stream"},
			ReasonNotMedia, map[string]string{"input": "sound", "lang": "tr", "file": "original-tr.m4a", "detail": "no audio stream"}, []string{"Turkish sound file"}},
		{"input gone locally", &transcode.InputError{Path: "/tmp/in/source.mp4", Role: "source", Err: fs.ErrNotExist, Detail: "ignored"},
			ReasonInputMissing, map[string]string{"input": "source", "file": "original.mp4"}, []string{"is missing"}},
		{"unreadable unknown file", &transcode.InputError{Path: "/tmp/other.bin", Role: "weird", Err: errors.New("permission denied"), Detail: "EACCES"},
			ReasonInputUnreadable, map[string]string{"input": "file", "file": "/tmp/other.bin", "detail": "EACCES"}, []string{"cannot be read (EACCES)"}},
		{"ffmpeg", &transcode.ToolError{Tool: "ffmpeg", Step: "encode", ExitCode: 187, Stderr: "frame=1\nConversion failed!\n\n"},
			ReasonToolFailed, map[string]string{"step": "encode", "exit": "187", "detail": "Conversion failed!"}, []string{"converting the video and sound (exit code 187: Conversion failed!)"}},
		{"ffmpeg unknown step", &transcode.ToolError{Tool: "ffmpeg", Step: "thumbnails", ExitCode: 1},
			ReasonToolFailed, map[string]string{"step": "thumbnails", "exit": "1", "detail": "no message"}, []string{"while thumbnails"}},
		{"invalid job", fmt.Errorf("%w: two subtitles in de", transcode.ErrInvalidJob),
			ReasonInputsMismatch, map[string]string{"detail": "two subtitles in de"}, []string{"do not fit together: two subtitles in de"}},
		{"store read", &storeError{op: "read", err: errors.New("connection refused")},
			ReasonStoreFailed, map[string]string{"op": "read", "detail": "connection refused"}, []string{"while reading the uploaded files (connection refused)"}},
		{"store write", &storeError{op: "write", err: errors.New("disk full")},
			ReasonStoreFailed, map[string]string{"op": "write", "detail": "disk full"}, []string{"storing the converted files"}},
		{"other", errors.New("temporary directory: no space"),
			ReasonFailed, map[string]string{"detail": "temporary directory: no space"}, []string{"Processing failed: temporary directory: no space"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			r := explain(c.err, names)
			if r.Code != c.code || !maps.Equal(r.Params, c.params) {
				t.Errorf("reason %s %v, want %s %v", r.Code, r.Params, c.code, c.params)
			}
			for _, s := range c.english {
				if !strings.Contains(r.English, s) {
					t.Errorf("English %q lacks %q", r.English, s)
				}
			}
			f := &Failure{Reason: r, Err: c.err}
			if f.Error() != r.English || !errors.Is(f, c.err) {
				t.Errorf("Failure.Error() = %q, want the English text", f.Error())
			}
			back, ok := catalog.ParseReason(r.Detail())
			if !ok || back.Code != c.code || !maps.Equal(back.Params, c.params) {
				t.Errorf("detail %q reads back as %+v (%v)", r.Detail(), back, ok)
			}
		})
	}
	if r := queueFailed(); r.Code != ReasonQueueFailed || r.Params != nil || r.English == "" {
		t.Errorf("queueFailed() = %+v", r)
	}
}

// Every code is in ReasonCodes (the web layer's messages follow it).
func TestReasonCodesListed(t *testing.T) {
	seen := map[string]bool{}
	for _, c := range ReasonCodes {
		if seen[c] {
			t.Errorf("code %s listed twice", c)
		}
		seen[c] = true
	}
	if len(seen) != 10 {
		t.Errorf("%d codes listed, want 10", len(seen))
	}
}

// A huge tool message still gives a detail SetStatus takes, and a short
// English text.
func TestLongReasonFits(t *testing.T) {
	long := strings.Repeat(`Ünïcödé "quoted" \ <b> `, 400) + "\x00\x1b"
	for _, err := range []error{
		&transcode.ToolError{Tool: "ffmpeg", Step: "encode", ExitCode: 1, Stderr: long},
		&transcode.InputError{Path: strings.Repeat("p", 3000), Role: "source", Err: transcode.ErrNotMedia, Detail: long},
		errors.New(long),
	} {
		r := explain(err, nil)
		d := r.Detail()
		if n := utf8.RuneCountInString(d); n == 0 || n > catalog.MaxStatusDetailLen {
			t.Errorf("%s: detail of %d runes", r.Code, n)
		}
		if _, ok := catalog.ParseReason(d); !ok {
			t.Errorf("%s: detail %q does not read back", r.Code, d)
		}
		if n := utf8.RuneCountInString(r.English); n > maxReason || strings.ContainsAny(r.English, "\x00\x1b") {
			t.Errorf("%s: English of %d runes: %q", r.Code, n, r.English)
		}
	}
}
