package transcode

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"golang.org/x/text/language"
)

// NoteCode says what a Note reports.
type NoteCode string

// The codes of notes about the source's subtitle streams.
const (
	// NoteSubtitlesImage: image-based subtitles (DVD, Blu-ray, DVB), which
	// cannot become WebVTT text.
	NoteSubtitlesImage NoteCode = "subtitles_image"
	// NoteSubtitlesCodec: a subtitle codec ffmpeg cannot convert to WebVTT.
	NoteSubtitlesCodec NoteCode = "subtitles_codec"
	// NoteSubtitlesNoLanguage: the stream has no language tag (or "und",
	// "mul", "zxx", a private-use code).
	NoteSubtitlesNoLanguage NoteCode = "subtitles_no_language"
	// NoteSubtitlesLanguage: a language that Job.EmbeddedSubtitleLanguages
	// leaves out.
	NoteSubtitlesLanguage NoteCode = "subtitles_language"
	// NoteSubtitlesUploaded: a subtitle file of the job is in the same
	// language, and wins.
	NoteSubtitlesUploaded NoteCode = "subtitles_uploaded"
	// NoteSubtitlesDuplicate: another stream in the same language is used.
	NoteSubtitlesDuplicate NoteCode = "subtitles_duplicate"
	// NoteSubtitlesBroken: ffmpeg cannot extract the stream, or what it
	// extracts is not valid WebVTT (not UTF-8, no cues, unreadable cues).
	NoteSubtitlesBroken NoteCode = "subtitles_broken"
)

// Note is a part of the source that HLS left out without failing: a
// subtitle stream of the source it cannot or does not use. The caller
// logs it or shows it to the editor, who can upload the subtitles as a
// file instead.
type Note struct {
	Code NoteCode
	// Stream is the index of the stream in the source.
	Stream int
	// Codec, Language (BCP 47, "" untagged) and Title are the stream's.
	Codec    string
	Language string
	Title    string
	// Detail says why, in English.
	Detail string
}

func (n Note) String() string {
	var what []string
	for _, s := range []string{n.Codec, n.Language, n.Title} {
		if s != "" {
			what = append(what, strconv.Quote(s))
		}
	}
	return fmt.Sprintf("subtitle stream #%d (%s) left out: %s", n.Stream, strings.Join(what, ", "), n.Detail)
}

// embeddedLang is one language of the source's usable subtitle streams:
// the candidates in the order they are tried (the streams that are not
// forced first, each group in the file's order).
type embeddedLang struct {
	lang       string
	candidates []embeddedStream
}

type embeddedStream struct {
	SubtitleStream
	// nth is the stream's position among the source's subtitle streams
	// (ffmpeg's 0:s:N).
	nth int
}

// embeddedLanguage returns the base language ("de") of an embedded
// stream's language tag, the code the renditions and the catalog use;
// false for none ("", "und", "mul", "zxx", "mis", qaa-qtz).
func embeddedLanguage(tag string) (string, bool) {
	if tag == "" {
		return "", false
	}
	t, err := language.Parse(tag)
	if err != nil || t == language.Und {
		return "", false
	}
	base, _ := t.Base()
	code := base.String()
	switch {
	case code == "und" || code == "mul" || code == "zxx" || code == "mis":
		return "", false
	case len(code) == 3 && code >= "qaa" && code <= "qtz":
		return "", false
	}
	return code, true
}

// planEmbedded decides which of the source's subtitle streams become
// renditions and notes why the others do not. uploaded are the languages
// of the job's subtitle files; allowed, if not nil, the languages taken.
func (p *plan) planEmbedded(streams []SubtitleStream, uploaded, allowed map[string]bool) {
	byLang := map[string]int{} // index in p.embedded
	for n, s := range streams {
		note := func(code NoteCode, detail string) {
			p.notes = append(p.notes, Note{Code: code, Stream: s.Index, Codec: s.Codec, Language: s.Language, Title: s.Title, Detail: detail})
		}
		lang, tagged := embeddedLanguage(s.Language)
		switch {
		case s.Image():
			note(NoteSubtitlesImage, "image-based subtitles cannot become WebVTT text; upload them as a WebVTT or SubRip file")
		case !s.Text():
			note(NoteSubtitlesCodec, fmt.Sprintf("ffmpeg cannot convert %q subtitles to WebVTT; upload them as a WebVTT or SubRip file", s.Codec))
		case !tagged:
			note(NoteSubtitlesNoLanguage, "the stream has no language tag; upload the subtitles as a file in their language")
		case allowed != nil && !allowed[lang]:
			note(NoteSubtitlesLanguage, fmt.Sprintf("subtitles in language %q are not offered", lang))
		case uploaded[lang]:
			note(NoteSubtitlesUploaded, "the uploaded subtitle file in this language is used instead")
		default:
			i, ok := byLang[lang]
			if !ok {
				i = len(p.embedded)
				byLang[lang] = i
				p.embedded = append(p.embedded, embeddedLang{lang: lang})
			}
			p.embedded[i].candidates = append(p.embedded[i].candidates, embeddedStream{SubtitleStream: s, nth: n})
		}
	}
	for i := range p.embedded {
		// Forced subtitles hold only the foreign-language parts: they are
		// taken only when no complete subtitles in the language work.
		slices.SortStableFunc(p.embedded[i].candidates, func(a, b embeddedStream) int {
			return cmp.Compare(boolInt(a.Forced), boolInt(b.Forced))
		})
	}
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// extractEmbedded extracts the planned subtitle streams of the source to
// WebVTT, one per language, and validates them like subtitle files. A
// stream that fails is noted and the next candidate of its language
// tried; only a failure that is not the stream's (a missing ffmpeg, a
// full disk, the end of ctx) fails HLS. tmp is HLS's working directory;
// the extracted files are removed from it.
func (p *plan) extractEmbedded(ctx context.Context, tmp string) error {
	if len(p.embedded) == 0 {
		return nil
	}
	dir, err := os.MkdirTemp(tmp, ".embedded-")
	if err != nil {
		return fmt.Errorf("transcode: %w", err)
	}
	defer os.RemoveAll(dir)
	for _, e := range p.embedded {
		var used *embeddedStream
		for _, c := range e.candidates {
			note := func(code NoteCode, detail string) {
				p.notes = append(p.notes, Note{Code: code, Stream: c.Index, Codec: c.Codec, Language: c.Language, Title: c.Title, Detail: detail})
			}
			if used != nil {
				detail := fmt.Sprintf("stream #%d in the same language is used", used.Index)
				if c.Forced {
					detail = "forced subtitles (only the parts in a foreign language); " + detail
				}
				note(NoteSubtitlesDuplicate, detail)
				continue
			}
			s, err := p.extract(ctx, dir, e.lang, c)
			var ie *InputError
			var te *ToolError
			switch {
			case ctx.Err() != nil:
				return fmt.Errorf("transcode: stopped: %w", ctx.Err())
			case errors.As(err, &ie):
				note(NoteSubtitlesBroken, ie.Detail)
				continue
			case errors.As(err, &te):
				note(NoteSubtitlesBroken, "ffmpeg cannot extract it: "+lastLines(te.Stderr, 1))
				continue
			case err != nil:
				return err
			}
			p.subs = append(p.subs, s)
			used = &c
		}
	}
	return nil
}

// extract writes the source's subtitle stream c as WebVTT to dir and
// reads it back through readSubtitles.
func (p *plan) extract(ctx context.Context, dir, lang string, c embeddedStream) (subtitle, error) {
	in, err := p.inputArgs(0)
	if err != nil {
		return subtitle{}, err
	}
	name := strconv.Itoa(c.Index) + ".vtt"
	args := append(baseArgs(), in...)
	args = append(args,
		"-map", fmt.Sprintf("0:s:%d", c.nth), "-c:s", "webvtt",
		// Stop early on a stream readSubtitles would reject as too large.
		"-fs", strconv.Itoa(maxSubtitleSize+1),
		"-f", "webvtt", name)
	if err := run(ctx, command{step: "subtitles", dir: dir, tool: "ffmpeg", args: args, lowPriority: p.low}); err != nil {
		return subtitle{}, err
	}
	s, err := readSubtitles(ctx, filepath.Join(dir, name), lang)
	if err != nil {
		return subtitle{}, err
	}
	s.stream = &c.SubtitleStream
	return s, nil
}

// sortNotes orders the notes by stream.
func sortNotes(notes []Note) {
	slices.SortStableFunc(notes, func(a, b Note) int { return cmp.Compare(a.Stream, b.Stream) })
}
