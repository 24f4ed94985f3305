package processing

import (
	"errors"
	"fmt"
	"io/fs"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"portalo/transcode"
)

// maxReason bounds a reason (the catalog takes up to 1000 runes).
const maxReason = 900

// Failure is the error of a failed run. Reason says in plain words what
// went wrong and what to do; it is the item's status detail and the job's
// error. Err is the cause, for logs.
type Failure struct {
	Reason string
	Err    error
}

func (f *Failure) Error() string { return f.Reason }
func (f *Failure) Unwrap() error { return f.Err }

// missingError says an input is not there.
type missingError struct {
	what, file, gone string
}

func (e *missingError) Error() string {
	return fmt.Sprintf("processing: %s %q %s", e.what, e.file, e.gone)
}

// storeError is a failure of the object store.
type storeError struct {
	op  string // "storing the converted files"
	err error
}

func (e *storeError) Error() string { return fmt.Sprintf("processing: %s: %v", e.op, e.err) }
func (e *storeError) Unwrap() error { return e.err }

// toolSteps say what ffmpeg was doing, by transcode's ToolError.Step.
var toolSteps = map[string]string{
	"probe":     "reading the file",
	"encode":    "converting the video and sound",
	"poster":    "taking the poster frame",
	"download":  "making the downloads",
	"subtitles": "reading the subtitles",
	"timeline":  "reading the converted video",
	"codec":     "reading the converted video",
}

// explain turns a run's error into a reason for editors. names says what
// the local input files are.
func explain(err error, names map[string]inputName) string {
	var (
		ie   *transcode.InputError
		te   *transcode.ToolError
		me   *missingError
		se   *storeError
		what string
	)
	switch {
	case errors.As(err, &me):
		what = fmt.Sprintf("%s %q %s. Upload it again.", me.what, me.file, me.gone)
	case errors.As(err, &ie):
		n, ok := names[ie.Path]
		if !ok {
			n = inputName{file: ie.Path, what: "the file"}
		}
		subject := fmt.Sprintf("%s %q", n.what, n.file)
		detail := ""
		if ie.Detail != "" {
			detail = " (" + strings.TrimSuffix(ie.Detail, ".") + ")"
		}
		switch {
		case errors.Is(ie.Err, transcode.ErrBadSubtitles):
			what = fmt.Sprintf("%s are not a valid WebVTT file%s. Correct the file and upload it again.", subject, detail)
		case errors.Is(ie.Err, transcode.ErrNotMedia):
			what = fmt.Sprintf("%s is not an audio or video file that can be converted%s. Upload a video or audio file and process it again.", subject, detail)
		case errors.Is(ie.Err, fs.ErrNotExist):
			what = fmt.Sprintf("%s is missing. Upload it again.", subject)
		default:
			what = fmt.Sprintf("%s cannot be read%s. Upload it again.", subject, detail)
		}
	case errors.As(err, &te):
		step := toolSteps[te.Step]
		if step == "" {
			step = te.Step
		}
		what = fmt.Sprintf("Converting failed: ffmpeg stopped while %s (exit code %d: %s). Process it again; if it fails again, the uploaded file may be damaged.",
			step, te.ExitCode, lastLine(te.Stderr))
	case errors.Is(err, transcode.ErrInvalidJob):
		what = fmt.Sprintf("The uploaded files do not fit together: %s.", strings.TrimPrefix(err.Error(), transcode.ErrInvalidJob.Error()+": "))
	case errors.As(err, &se):
		what = fmt.Sprintf("The object store failed while %s (%v). Process it again.", se.op, se.err)
	default:
		what = fmt.Sprintf("Processing failed: %v. Process it again.", err)
	}
	return clean(what)
}

// lastLine returns the last non-empty line of s.
func lastLine(s string) string {
	lines := strings.Split(strings.TrimSpace(s), "\n")
	for i := len(lines) - 1; i >= 0; i-- {
		if l := strings.TrimSpace(lines[i]); l != "" {
			return l
		}
	}
	return "no message"
}

// clean makes s a valid status detail: no control characters, a capital
// first letter, at most maxReason runes.
func clean(s string) string {
	s = strings.Map(func(r rune) rune {
		if unicode.IsControl(r) || r == utf8.RuneError {
			return ' '
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if r, size := utf8.DecodeRuneInString(s); size > 0 {
		s = string(unicode.ToUpper(r)) + s[size:]
	}
	if utf8.RuneCountInString(s) > maxReason {
		s = string([]rune(s)[:maxReason-1]) + "…"
	}
	return s
}

// languageName is a language's English name ("Turkish").
func languageName(code string) string {
	tag, err := language.Parse(code)
	if err != nil {
		return code
	}
	if n := display.English.Languages().Name(tag); n != "" {
		return n
	}
	return code
}
