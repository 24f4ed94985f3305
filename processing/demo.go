package processing

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"portalo/catalog"
	"portalo/jobs"
)

// The demo content: three small items made with ffmpeg at first start, so
// that a newcomer sees a working mediathek. Together they take a few
// seconds of CPU to make and to process.
//
// demoKey in the kv.Store records that the demo content was made (or that
// the catalog had items already), so it is made once only: not again after
// an editor deleted the demo items.
const demoKey = "processing:demo"

const (
	// demoStale is when a seeding that never finished (the process
	// stopped) is taken up again.
	demoStale = 10 * time.Minute
	// demoWait bounds the wait for the demo items' processing.
	demoWait = 10 * time.Minute
)

type demoState struct {
	State   string    `json:"state"` // "seeding" or "done"
	Items   []string  `json:"items,omitempty"`
	Started time.Time `json:"started"`
}

// demoItem is one demo item and how its media are made.
type demoItem struct {
	meta catalog.Meta
	// lang is the language of the main source's sound.
	lang string
	// args are ffmpeg's arguments that make the main source (the output
	// file is appended); ext its file extension, ctype its type.
	args        []string
	ext, ctype  string
	extraSounds map[string][]string // language → ffmpeg arguments of an M4A
	subtitles   map[string]string   // language → WebVTT
}

const (
	breathingVideo = "gradients=s=640x360:c0=0x1d4e6b:c1=0x6fb3c8:speed=0.01:d=12:r=25[bg];" +
		"color=c=white@0.35:s=200x200:r=25:d=12,format=rgba," +
		"scale=w='trunc((120+80*sin(2*PI*t/8))/2)*2':h='trunc((120+80*sin(2*PI*t/8))/2)*2':eval=frame[box];" +
		"[bg][box]overlay=x=(W-w)/2:y=(H-h)/2:shortest=1"
	// A low tone that swells in for 4 s and out for 4 s: breathe with it.
	breathingSound = "aevalsrc='0.15*sin(2*PI*196*t)*(0.55+0.45*sin(2*PI*t/8))|0.15*sin(2*PI*196.5*t)*(0.55+0.45*sin(2*PI*t/8))':s=48000:d=12"
	shoulderVideo  = "gradients=s=426x240:c0=0x2f5d3a:c1=0x9cc9a5:speed=0.01:d=8:r=25[bg];" +
		"color=c=white@0.6:s=36x36:r=25:d=8,format=rgba[dot];" +
		"[bg][dot]overlay=x='W/2-18+70*cos(2*PI*t/4)':y='H/2-18+50*sin(2*PI*t/4)':shortest=1"
	podcastSound = "aevalsrc='0.12*sin(2*PI*220*t)*(0.6+0.4*sin(2*PI*t/5))+0.08*sin(2*PI*330*t)*(0.6+0.4*cos(2*PI*t/7))':s=44100:d=20"
)

func demoItems() []demoItem {
	return []demoItem{
		{
			meta: catalog.Meta{
				Kind: catalog.KindVideo, Slug: "gefuehrte-atemuebung",
				Title: map[string]string{
					"de": "Geführte Atemübung: zur Ruhe kommen",
					"tr": "Rehberli nefes egzersizi: sakinleşmek",
					"en": "Guided breathing: calming down",
					"ar": "تمرين تنفس موجّه: الهدوء",
				},
				Description: map[string]string{
					"de": "Atmen Sie mit dem Quadrat: Wird es größer, atmen Sie langsam ein; wird es kleiner, langsam aus. " +
						"Ein kurzes Beispielvideo der Mediathek mit deutschen und arabischen Untertiteln.",
					"tr": "Kareyle birlikte nefes alın: büyürken yavaşça nefes alın, küçülürken yavaşça verin. " +
						"Almanca ve Arapça altyazılı kısa bir örnek video.",
				},
				Topic: catalog.TopicRelaxation, Audience: catalog.AudiencePublic, Downloadable: true,
			},
			lang: "de",
			args: []string{"-f", "lavfi", "-i", breathingVideo, "-f", "lavfi", "-i", breathingSound,
				"-c:v", "libx264", "-preset", "ultrafast", "-crf", "28", "-pix_fmt", "yuv420p",
				"-c:a", "aac", "-b:a", "96k", "-shortest"},
			ext: ".mp4", ctype: "video/mp4",
			subtitles: map[string]string{
				"de": "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nAtmen Sie langsam durch die Nase ein.\n\n" +
					"00:00:04.000 --> 00:00:08.000\nUnd langsam durch den Mund wieder aus.\n\n" +
					"00:00:08.000 --> 00:00:12.000\nNoch einmal: ruhig einatmen.\n",
				"ar": "WEBVTT\n\n00:00:00.000 --> 00:00:04.000\nتنفّس ببطء من الأنف.\n\n" +
					"00:00:04.000 --> 00:00:08.000\nثم أخرِج الهواء ببطء من الفم.\n\n" +
					"00:00:08.000 --> 00:00:12.000\nمرة أخرى: شهيق هادئ.\n",
			},
		},
		{
			meta: catalog.Meta{
				Kind: catalog.KindEpisode, Slug: "podcast-gut-schlafen-folge-1",
				Title: map[string]string{
					"de": "Podcast „Gut schlafen“, Folge 1: Abendrituale",
					"tr": "„İyi uyku“ podcast'i, 1. bölüm: Akşam alışkanlıkları",
					"ru": "Подкаст «Хороший сон», выпуск 1: вечерние ритуалы",
				},
				Description: map[string]string{
					"de": "Eine kurze Beispielfolge des Podcasts: ruhige Klänge zum Abschalten vor dem Schlafengehen.",
					"tr": "Podcast'in kısa bir örnek bölümü: uyumadan önce rahatlamak için sakin sesler.",
					"ru": "Короткий пример выпуска подкаста: спокойные звуки, чтобы расслабиться перед сном.",
				},
				Topic: catalog.TopicSleep, Audience: catalog.AudiencePublic, Downloadable: true,
			},
			lang: "de",
			args: []string{"-f", "lavfi", "-i", podcastSound, "-ac", "1", "-c:a", "aac", "-b:a", "64k"},
			ext:  ".m4a", ctype: "audio/mp4",
		},
		{
			meta: catalog.Meta{
				Kind: catalog.KindVideo, Slug: "schulterkreisen",
				Title: map[string]string{
					"de": "Schulterkreisen für zwischendurch",
					"tr": "Arada bir omuz çevirme",
					"ar": "تدوير الكتفين خلال اليوم",
				},
				Description: map[string]string{
					"de": "Kreisen Sie die Schultern mit dem Punkt, langsam und ohne Druck. Beispielvideo mit deutscher und türkischer Tonspur.",
					"tr": "Omuzlarınızı nokta ile birlikte yavaşça ve zorlamadan çevirin. Almanca ve Türkçe ses kanallı örnek video.",
				},
				Topic: catalog.TopicMovement, Audience: catalog.AudiencePublic, Downloadable: false,
			},
			lang: "de",
			args: []string{"-f", "lavfi", "-i", shoulderVideo,
				"-f", "lavfi", "-i", "sine=frequency=262:sample_rate=48000:duration=8,volume=0.3",
				"-c:v", "libx264", "-preset", "ultrafast", "-crf", "30", "-pix_fmt", "yuv420p",
				"-c:a", "aac", "-b:a", "64k", "-shortest"},
			ext: ".mp4", ctype: "video/mp4",
			extraSounds: map[string][]string{
				"tr": {"-f", "lavfi", "-i", "sine=frequency=330:sample_rate=48000:duration=8,volume=0.3", "-c:a", "aac", "-b:a", "64k"},
			},
		},
	}
}

// SeedDemo fills an empty catalog with the demo content, once: three
// small items (a guided breathing video with German, Turkish, English and
// Arabic titles and German and Arabic subtitles; an audio-only podcast
// episode; a short exercise video with a German and a Turkish sound
// version), made with ffmpeg, processed like any upload and published.
// It reports whether it made them.
//
// It does nothing when the kv.Store records that it ran before (also when
// an editor deleted the demo items since) or when the catalog has items;
// a seeding that was interrupted is finished at a later start. The
// processing jobs are run by the node's jobs.Worker with Handlers, which
// must be running: SeedDemo waits for them (up to 10 minutes), so run it
// in its own goroutine at start-up.
func SeedDemo(ctx context.Context, p *Processor) (bool, error) {
	for _, tool := range []string{"ffmpeg", "ffprobe"} {
		if _, err := exec.LookPath(tool); err != nil {
			return false, fmt.Errorf("processing: no demo content without %s (apt-get install ffmpeg): %w", tool, err)
		}
	}
	st, resume, err := p.claimDemo(ctx)
	if err != nil || st == nil {
		return false, err
	}
	if resume && len(st.Items) > 0 {
		p.log.Info("processing: finishing the demo content of an earlier start", "items", len(st.Items))
		for _, id := range st.Items {
			it, err := p.cat.Get(id)
			if errors.Is(err, catalog.ErrNotFound) {
				continue
			}
			if err != nil {
				return false, err
			}
			if it.Status == catalog.StatusProcessing || it.Status == catalog.StatusFailed {
				if err := p.Retry(ctx, id); err != nil {
					return false, fmt.Errorf("processing: demo item %s: %w", id, err)
				}
			}
		}
	} else {
		tmp, err := os.MkdirTemp(p.opt.TempDir, "portalo-demo-")
		if err != nil {
			return false, fmt.Errorf("processing: demo: %w", err)
		}
		defer os.RemoveAll(tmp)
		for i, d := range demoItems() {
			id, err := p.createDemo(ctx, filepath.Join(tmp, fmt.Sprint(i)), d)
			if id != "" {
				st.Items = append(st.Items, id)
				if serr := p.writeDemo(ctx, st); serr != nil && err == nil {
					err = serr
				}
			}
			if err != nil {
				if len(st.Items) == 0 {
					// Nothing made: the next start tries again.
					if derr := p.state.Delete(context.WithoutCancel(ctx), demoKey); derr != nil {
						p.log.Warn("processing: cannot release the demo marker", "err", derr)
					}
				}
				return false, err
			}
		}
	}
	if err := p.publishDemo(ctx, st.Items); err != nil {
		return false, err
	}
	st.State = "done"
	if err := p.writeDemo(ctx, st); err != nil {
		return false, err
	}
	p.log.Info("processing: demo content ready", "items", len(st.Items))
	return true, nil
}

// claimDemo decides whether to seed: it returns nil when not, else the
// state to work on and whether it resumes an interrupted seeding.
func (p *Processor) claimDemo(ctx context.Context) (*demoState, bool, error) {
	now := time.Now().UTC()
	var out *demoState
	resume := false
	err := p.state.Update(ctx, demoKey, func(cur []byte, found bool) ([]byte, time.Duration, error) {
		out, resume = nil, false
		if found {
			var st demoState
			if json.Unmarshal(cur, &st) != nil || st.State == "done" || now.Sub(st.Started) < demoStale {
				return cur, 0, nil // done, or being seeded elsewhere
			}
			st.Started = now
			out, resume = &st, true
			b, err := json.Marshal(st)
			return b, 0, err
		}
		res, err := p.cat.List(catalog.Query{Viewer: catalog.Viewer{Editor: true}, PageSize: 1})
		if err != nil {
			return nil, 0, err
		}
		st := demoState{State: "seeding", Started: now}
		if res.Total > 0 {
			st.State = "done" // the catalog has content: no demo, now or later
		} else {
			out = &st
		}
		b, err := json.Marshal(st)
		return b, 0, err
	})
	if err != nil {
		return nil, false, fmt.Errorf("processing: demo: %w", err)
	}
	return out, resume, nil
}

func (p *Processor) writeDemo(ctx context.Context, st *demoState) error {
	b, err := json.Marshal(st)
	if err != nil {
		return fmt.Errorf("processing: demo: %w", err)
	}
	if err := p.state.Set(ctx, demoKey, b, 0); err != nil {
		return fmt.Errorf("processing: demo: %w", err)
	}
	return nil
}

// createDemo makes one demo item's files in dir, creates the item, stores
// its files as uploads would and starts its processing. It returns the
// item's ID once created (also with an error after that).
func (p *Processor) createDemo(ctx context.Context, dir string, d demoItem) (string, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("processing: demo: %w", err)
	}
	source := filepath.Join(dir, "original"+d.ext)
	if err := makeMedia(ctx, d.args, source); err != nil {
		return "", err
	}
	extras := map[string]string{}
	for lang, args := range d.extraSounds {
		f := filepath.Join(dir, "original-"+lang+".m4a")
		if err := makeMedia(ctx, args, f); err != nil {
			return "", err
		}
		extras[lang] = f
	}
	it, err := p.cat.Create(ctx, d.meta)
	var ie *catalog.InputError
	if errors.As(err, &ie) && ie.Code == "slug_taken" {
		d.meta.Slug = "" // an editor took it meanwhile: derive another
		it, err = p.cat.Create(ctx, d.meta)
	}
	if err != nil {
		return "", fmt.Errorf("processing: demo item %q: %w", d.meta.Slug, err)
	}
	put := func(local, name, ctype string) (string, error) {
		f, err := os.Open(local)
		if err != nil {
			return "", fmt.Errorf("processing: demo: %w", err)
		}
		defer f.Close()
		fi, err := f.Stat()
		if err != nil {
			return "", fmt.Errorf("processing: demo: %w", err)
		}
		key := it.Prefix() + sourceDir + name
		if _, err := p.blobs.Put(ctx, key, f, fi.Size(), ctype); err != nil {
			return "", fmt.Errorf("processing: demo: storing %s: %w", key, err)
		}
		return key, nil
	}
	for lang, f := range extras {
		key, err := put(f, "original-"+lang+".m4a", "audio/mp4")
		if err != nil {
			return it.ID, err
		}
		info, err := p.statUpload(ctx, it.ID, key)
		if err != nil {
			return it.ID, err
		}
		if _, err := p.listSource(ctx, it.ID, lang, info); err != nil {
			return it.ID, err
		}
	}
	for lang, vtt := range d.subtitles {
		f := filepath.Join(dir, "subtitles-"+lang+".vtt")
		if err := os.WriteFile(f, []byte(vtt), 0o600); err != nil {
			return it.ID, fmt.Errorf("processing: demo: %w", err)
		}
		key, err := put(f, "subtitles-"+lang+".vtt", "text/vtt")
		if err != nil {
			return it.ID, err
		}
		if _, err := p.cat.SetFiles(ctx, it.ID, func(m *catalog.Media) error {
			if m.Subtitles == nil {
				m.Subtitles = map[string]string{}
			}
			m.Subtitles[lang] = key
			return nil
		}); err != nil {
			return it.ID, err
		}
	}
	key, err := put(source, "original"+d.ext, d.ctype)
	if err != nil {
		return it.ID, err
	}
	return it.ID, p.start(ctx, it.ID, key, d.lang)
}

// makeMedia runs ffmpeg with args to write out.
func makeMedia(ctx context.Context, args []string, out string) error {
	full := append([]string{"-hide_banner", "-nostdin", "-v", "error", "-threads", "1", "-y"}, args...)
	full = append(full, "-map_metadata", "-1", out)
	cmd := exec.CommandContext(ctx, "ffmpeg", full...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			return fmt.Errorf("processing: demo: %w", ctx.Err())
		}
		return fmt.Errorf("processing: demo: making %s with ffmpeg: %w: %s", filepath.Base(out), err, strings.TrimSpace(lastLine(stderr.String())))
	}
	return nil
}

// publishDemo waits until the items' processing finished and publishes
// them. An item deleted meanwhile is skipped.
func (p *Processor) publishDemo(ctx context.Context, ids []string) error {
	ctx, cancel := context.WithTimeout(ctx, demoWait)
	defer cancel()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for _, id := range ids {
		for {
			j, found, err := p.LatestJob(ctx, id)
			if err != nil {
				return err
			}
			if !found || j.State != jobs.Queued && j.State != jobs.Running {
				break
			}
			select {
			case <-ctx.Done():
				return fmt.Errorf("processing: waiting for the demo items' processing (is a worker running?): %w", ctx.Err())
			case <-tick.C:
			}
		}
		it, err := p.cat.Get(id)
		if errors.Is(err, catalog.ErrNotFound) {
			continue
		}
		if err != nil {
			return err
		}
		if it.Status == catalog.StatusFailed {
			return fmt.Errorf("processing: demo item %s failed: %s", it.Slug, it.StatusDetail)
		}
		if _, err := p.cat.Publish(ctx, id); err != nil && !errors.Is(err, catalog.ErrNotFound) {
			return fmt.Errorf("processing: publishing demo item %s: %w", it.Slug, err)
		}
	}
	return nil
}
