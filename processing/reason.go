package processing

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"golang.org/x/text/language"
	"golang.org/x/text/language/display"

	"portalo/catalog"
	"portalo/transcode"
)

// maxReason bounds a reason's English text.
const maxReason = 900

// maxToolDetail bounds a tool's message in a reason's parameters.
const maxToolDetail = 400

// The reason codes a failed run gives the item (as a catalog.Reason in its
// status detail). Parameters, where they apply:
//
//	input   which input: source (the uploaded file), sound (a further
//	        language version's sound file), subtitles, file (unknown)
//	lang    the language of the sound file or subtitles (de, en, ...)
//	file    the object's file name
//	detail  what the tool or the store said (English, shown as it is)
//	step    what ffmpeg did: probe, encode, poster, download, subtitles,
//	        timeline, codec (others may come)
//	exit    ffmpeg's exit code
//	op      what the store did: read, write
//
// The codes:
//
//	source_gone        the main source (file) is no longer part of the item
//	input_missing      an input (input, lang, file) is not in the object store
//	subtitles_invalid  subtitles (lang, file, detail) are not valid WebVTT
//	not_media          an input (input, lang, file, detail) is not audio or video
//	input_unreadable   an input (input, lang, file, detail) cannot be read
//	tool_failed        ffmpeg stopped (step, exit, detail)
//	inputs_mismatch    the uploaded files do not fit together (detail)
//	store_failed       the object store failed (op, detail)
//	queue_failed       the job could not be queued
//	failed             anything else (detail)
const (
	ReasonSourceGone       = "source_gone"
	ReasonInputMissing     = "input_missing"
	ReasonSubtitlesInvalid = "subtitles_invalid"
	ReasonNotMedia         = "not_media"
	ReasonInputUnreadable  = "input_unreadable"
	ReasonToolFailed       = "tool_failed"
	ReasonInputsMismatch   = "inputs_mismatch"
	ReasonStoreFailed      = "store_failed"
	ReasonQueueFailed      = "queue_failed"
	ReasonFailed           = "failed"
)

// ReasonCodes are all codes a run gives, for the web layer's test that
// each has a message.
var ReasonCodes = []string{
	ReasonSourceGone, ReasonInputMissing, ReasonSubtitlesInvalid, ReasonNotMedia, ReasonInputUnreadable,
	ReasonToolFailed, ReasonInputsMismatch, ReasonStoreFailed, ReasonQueueFailed, ReasonFailed,
}

// Reason is why a run failed: the code and parameters stored as the item's
// status detail (catalog.Reason.Detail), and the same in English for logs
// and the job's error. It logs as its English text.
type Reason struct {
	catalog.Reason
	English string
}

func (r Reason) String() string { return r.English }

// LogValue logs the English text.
func (r Reason) LogValue() slog.Value { return slog.StringValue(r.English) }

// Failure is the error of a failed run. Reason says what went wrong and
// what to do: its Detail is the item's status detail, its English text
// the job's error. Err is the cause, for logs.
type Failure struct {
	Reason Reason
	Err    error
}

func (f *Failure) Error() string { return f.Reason.English }
func (f *Failure) Unwrap() error { return f.Err }

// reason makes a Reason from its code, English text and parameters
// (name, value pairs).
func reason(code, english string, params ...string) Reason {
	r := Reason{Reason: catalog.Reason{Code: code}, English: clean(english)}
	for i := 0; i+1 < len(params); i += 2 {
		if params[i+1] == "" {
			continue
		}
		if r.Params == nil {
			r.Params = map[string]string{}
		}
		r.Params[params[i]] = params[i+1]
	}
	return r
}

// missingError says an input is not there.
type missingError struct {
	name     inputName
	fromItem bool // the item no longer lists the main source (else: not in the store)
}

func (e *missingError) Error() string { return "processing: " + e.english() }

func (e *missingError) english() string {
	gone := "is missing from the object store"
	if e.fromItem {
		gone = "is no longer part of the item"
	}
	return fmt.Sprintf("%s %q %s", e.name.what(), e.name.file, gone)
}

// storeError is a failure of the object store.
type storeError struct {
	op  string // "read" (the uploaded files) or "write" (the converted ones)
	err error
}

func (e *storeError) Error() string {
	return fmt.Sprintf("processing: %s: %v", storeOpText[e.op], e.err)
}
func (e *storeError) Unwrap() error { return e.err }

// storeOpText says storeError.op in English.
var storeOpText = map[string]string{
	"read":  "reading the uploaded files",
	"write": "storing the converted files",
}

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

// roleInput tells which input transcode's InputError.Role ("source",
// "audio tr", "subtitles de") names; "" when it is none of those.
func roleInput(role string) (input, lang string) {
	kind, l, _ := strings.Cut(role, " ")
	if l != "" && !catalog.ValidLanguage(l) {
		return "", ""
	}
	switch {
	case kind == "source" && l == "":
		return "source", ""
	case kind == "audio" && l != "":
		return "sound", l
	case kind == "subtitles" && l != "":
		return "subtitles", l
	}
	return "", ""
}

// explain turns a run's error into a reason for editors. names says what
// the local input files are.
func explain(err error, names map[string]inputName) Reason {
	var (
		ie *transcode.InputError
		te *transcode.ToolError
		me *missingError
		se *storeError
	)
	switch {
	case errors.As(err, &me):
		english := me.english() + ". Upload it again."
		if me.fromItem {
			return reason(ReasonSourceGone, english, "file", me.name.file)
		}
		input := me.name.input
		if input == "" {
			input = "file"
		}
		return reason(ReasonInputMissing, english, "input", input, "lang", me.name.lang, "file", me.name.file)
	case errors.As(err, &ie):
		n, ok := names[ie.Path]
		if !ok {
			n = inputName{file: ie.Path}
		}
		input, lang := roleInput(ie.Role)
		if input == "" {
			input, lang = n.input, n.lang
			if input == "" {
				input = "file"
			}
		}
		subject := fmt.Sprintf("%s %q", n.what(), n.file)
		toolDetail := shorten(strings.TrimSuffix(strings.TrimSpace(ie.Detail), "."), maxToolDetail)
		detail := ""
		if toolDetail != "" {
			detail = " (" + toolDetail + ")"
		}
		params := []string{"input", input, "lang", lang, "file", n.file, "detail", toolDetail}
		switch {
		case errors.Is(ie.Err, transcode.ErrBadSubtitles):
			return reason(ReasonSubtitlesInvalid, fmt.Sprintf("%s are not a valid WebVTT file%s. Correct the file and upload it again.", subject, detail), params...)
		case errors.Is(ie.Err, transcode.ErrNotMedia):
			return reason(ReasonNotMedia, fmt.Sprintf("%s is not an audio or video file that can be converted%s. Upload a video or audio file and process it again.", subject, detail), params...)
		case errors.Is(ie.Err, fs.ErrNotExist):
			return reason(ReasonInputMissing, fmt.Sprintf("%s is missing. Upload it again.", subject), params[:6]...)
		default:
			return reason(ReasonInputUnreadable, fmt.Sprintf("%s cannot be read%s. Upload it again.", subject, detail), params...)
		}
	case errors.As(err, &te):
		step := toolSteps[te.Step]
		if step == "" {
			step = te.Step
		}
		last := shorten(lastLine(te.Stderr), maxToolDetail)
		return reason(ReasonToolFailed,
			fmt.Sprintf("Converting failed: ffmpeg stopped while %s (exit code %d: %s). Process it again; if it fails again, the uploaded file may be damaged.", step, te.ExitCode, last),
			"step", te.Step, "exit", strconv.Itoa(te.ExitCode), "detail", last)
	case errors.Is(err, transcode.ErrInvalidJob):
		detail := strings.TrimPrefix(err.Error(), transcode.ErrInvalidJob.Error()+": ")
		return reason(ReasonInputsMismatch, fmt.Sprintf("The uploaded files do not fit together: %s.", detail), "detail", shorten(detail, maxToolDetail))
	case errors.As(err, &se):
		op := se.op
		if storeOpText[op] == "" {
			op = "other"
		}
		return reason(ReasonStoreFailed, fmt.Sprintf("The object store failed while %s (%v). Process it again.", storeOpText[se.op], se.err),
			"op", op, "detail", shorten(se.err.Error(), maxToolDetail))
	default:
		return reason(ReasonFailed, fmt.Sprintf("Processing failed: %v. Process it again.", err), "detail", shorten(err.Error(), maxToolDetail))
	}
}

// queueFailed is the reason of an item whose job could not be queued.
func queueFailed() Reason {
	return reason(ReasonQueueFailed, "The processing could not be queued. Try again.")
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

// shorten cuts s to at most n runes, ending in "…" when cut.
func shorten(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	return string([]rune(s)[:n-1]) + "…"
}

// clean makes s a valid English reason: no control characters, a capital
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
	return shorten(s, maxReason)
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
