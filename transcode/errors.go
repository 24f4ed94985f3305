package transcode

import (
	"errors"
	"fmt"
	"strings"
)

var (
	// ErrNotMedia says an input is not an audio or video file transcode
	// can read (a document, an image, a playlist, a broken upload).
	ErrNotMedia = errors.New("not an audio or video file")
	// ErrBadSubtitles says a subtitle file is not valid WebVTT (or SubRip).
	ErrBadSubtitles = errors.New("not a valid WebVTT subtitle file")
	// ErrInvalidJob says a Job is incomplete or contradicts itself (a
	// missing path, an unknown or repeated language, an output directory
	// that is not empty).
	ErrInvalidJob = errors.New("transcode: invalid job")
)

// InputError says which input file cannot be used and why. Err is
// ErrNotMedia or ErrBadSubtitles (or a file-system error such as
// fs.ErrNotExist); Detail is the reason in English, for logs and for the
// "why did it fail" line an editor sees.
type InputError struct {
	Path string
	// Role names the input: "source", "audio tr", "subtitles de".
	Role   string
	Err    error
	Detail string
}

func (e *InputError) Error() string {
	msg := fmt.Sprintf("transcode: %s %q: %v", e.Role, e.Path, e.Err)
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	return msg
}

func (e *InputError) Unwrap() error { return e.Err }

// ToolError is returned when ffmpeg or ffprobe exits with an error that is
// not explained by an unusable input (a corrupt stream in the middle of a
// file, a full disk, a missing encoder).
type ToolError struct {
	Tool     string // "ffmpeg" or "ffprobe"
	Step     string // what it was doing: "probe", "encode", "poster", ...
	ExitCode int
	// Stderr is the end of what the tool printed.
	Stderr string
}

func (e *ToolError) Error() string {
	return fmt.Sprintf("transcode: %s (%s) failed with exit code %d: %s", e.Tool, e.Step, e.ExitCode, lastLines(e.Stderr, 3))
}

// lastLines returns the last n non-empty lines of s joined by " | ".
func lastLines(s string, n int) string {
	var lines []string
	for _, l := range strings.Split(s, "\n") {
		if l = strings.TrimSpace(l); l != "" {
			lines = append(lines, l)
		}
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	if len(lines) == 0 {
		return "(no message)"
	}
	return strings.Join(lines, " | ")
}
