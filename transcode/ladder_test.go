package transcode

import (
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"
)

func TestPlanRungs(t *testing.T) {
	for _, c := range []struct {
		name          string
		width, height int
		want          []string // name:WxH
	}{
		{"1080p landscape", 1920, 1080, []string{"240p:426x240", "360p:640x360", "720p:1280x720"}},
		{"720p", 1280, 720, []string{"240p:426x240", "360p:640x360", "720p:1280x720"}},
		{"480p: no upscaling to 720p", 854, 480, []string{"240p:428x240", "360p:640x360"}},
		{"4:3", 640, 480, []string{"240p:320x240", "360p:480x360"}},
		{"smaller than the lowest rung", 320, 180, []string{"180p:320x180"}},
		{"odd tiny size", 175, 99, []string{"100p:176x100"}},
		{"phone portrait", 1080, 1920, []string{"240p:240x426", "360p:360x640", "720p:720x1280"}},
		{"square", 720, 720, []string{"240p:240x240", "360p:360x360", "720p:720x720"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			var got []string
			for _, r := range planRungs(c.width, c.height) {
				got = append(got, fmt.Sprintf("%s:%dx%d", r.name, r.width, r.height))
				if r.width%2 != 0 || r.height%2 != 0 {
					t.Errorf("%s has an odd side", r.name)
				}
			}
			if !slices.Equal(got, c.want) {
				t.Errorf("planRungs(%d, %d) = %v, want %v", c.width, c.height, got, c.want)
			}
		})
	}
}

func TestOutputRate(t *testing.T) {
	for _, c := range []struct {
		in, want Rate
		gop      int
	}{
		{Rate{25, 1}, Rate{25, 1}, 50},
		{Rate{30000, 1001}, Rate{30000, 1001}, 60},
		{Rate{50, 1}, Rate{25, 1}, 50},
		{Rate{60000, 1001}, Rate{30000, 1001}, 60},
		{Rate{120, 1}, Rate{30, 1}, 60},
		{Rate{1798200, 59987}, Rate{30000, 1001}, 60}, // a phone's variable rate
		{Rate{10, 1}, Rate{10, 1}, 20},
		{Rate{}, Rate{25, 1}, 50},
		{Rate{2997, 125}, Rate{24000, 1001}, 48}, // 23.976
		{Rate{20, 1}, Rate{20, 1}, 40},
		{Rate{37, 2}, Rate{37, 2}, 37}, // 18.5: no common rate near
	} {
		got := outputRate(c.in)
		if got != c.want || gopFrames(got) != c.gop {
			t.Errorf("outputRate(%v) = %v (GOP %d), want %v (GOP %d)", c.in, got, gopFrames(got), c.want, c.gop)
		}
	}
}

func TestAVCCodec(t *testing.T) {
	for _, c := range []struct {
		name string
		data []byte
		want string
	}{
		{"main 3.0 after an AUD", []byte{0, 0, 0, 1, 0x09, 0xf0, 0, 0, 0, 1, 0x67, 0x4d, 0x40, 0x1e, 0xab, 0xcd}, "avc1.4d401e"},
		{"high 3.1, 3-byte start code", []byte{0, 0, 1, 0x67, 0x64, 0x00, 0x1f, 0xac, 0xd9}, "avc1.64001f"},
		{"no SPS", []byte{0, 0, 0, 1, 0x68, 0xee, 0x3c, 0x80, 0, 0}, ""},
		{"truncated", []byte{0, 0, 1, 0x67, 0x64}, ""},
	} {
		got, err := avcCodec(c.data)
		if got != c.want || (err != nil) != (c.want == "") {
			t.Errorf("%s: avcCodec = %q, %v; want %q", c.name, got, err, c.want)
		}
	}
}

func TestLanguageName(t *testing.T) {
	for lang, want := range map[string]string{
		"de": "Deutsch", "tr": "Türkçe", "ru": "Русский", "ar": "العربية", "en": "English", "": "Original",
	} {
		if got := languageName(lang, ""); got != want {
			t.Errorf("languageName(%q) = %q, want %q", lang, got, want)
		}
	}
}

func TestLanguageTag(t *testing.T) {
	for in, want := range map[string]string{
		"deu": "de", "ger": "de", "tur": "tr", "rus": "ru", "ara": "ar", "de": "de", "DE": "de", "pt-BR": "pt-BR",
		"und": "", "": "", "klingonisch": "", "xx": "",
	} {
		if got := languageTag(in); got != want {
			t.Errorf("languageTag(%q) = %q, want %q", in, got, want)
		}
	}
}

func TestCountCues(t *testing.T) {
	for _, c := range []struct {
		name, text string
		n          int
		bad        string
	}{
		{"webvtt", "WEBVTT\n\n00:01.000 --> 00:02.000\na\n\n1\n01:00:01.000 --> 01:00:02.000 align:start\nb\n", 2, ""},
		{"srt", "1\n00:00:01,000 --> 00:00:02,000\na\n", 1, ""},
		{"broken end", "WEBVTT\n\n00:01.000 --> 2\na\n", 0, "line 3"},
		{"no arrow", "WEBVTT\n\n00:01.000 00:02.000\na\n", 0, ""},
	} {
		n, bad := countCues(c.text)
		if n != c.n || (c.bad == "") != (bad == "") || !strings.Contains(bad, c.bad) {
			t.Errorf("%s: countCues = %d, %q; want %d, %q", c.name, n, bad, c.n, c.bad)
		}
	}
}

func TestParseProgress(t *testing.T) {
	var got []float64
	r := &progressReporter{fn: func(f float64) { got = append(got, f) }}
	in := "frame=1\nout_time_us=N/A\nprogress=continue\nout_time_us=1000000\nprogress=continue\n" +
		"out_time_us=500000\nout_time_us=2500000\nout_time_us=9000000\nprogress=end\n"
	parseProgress(strings.NewReader(in), 4*time.Second, r.span(0, 0.5))
	// 1 s of 4 s, a step back (ignored), 2.5 s, past the end (capped), end.
	if want := []float64{0.125, 0.3125, 0.5}; !slices.Equal(got, want) {
		t.Errorf("progress %v, want %v", got, want)
	}
	r.set(0.4)
	r.set(1)
	if got[len(got)-1] != 1 || len(got) != 4 {
		t.Errorf("after set(0.4), set(1): %v", got)
	}
}
