package catalog

import (
	"maps"
	"portalo/internal/langtext"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestReasonDetail(t *testing.T) {
	for _, tt := range []struct {
		name   string
		r      Reason
		detail string
		back   Reason
	}{
		{"code only", Reason{Code: "queue_failed"}, `{"reason":"queue_failed"}`, Reason{Code: "queue_failed"}},
		{"params sorted, HTML kept", Reason{Code: "tool_failed", Params: map[string]string{"step": "encode", "exit": "1", "detail": "<b> & \"x\""}},
			`{"detail":"<b> & \"x\"","exit":"1","reason":"tool_failed","step":"encode"}`,
			Reason{Code: "tool_failed", Params: map[string]string{"step": "encode", "exit": "1", "detail": `<b> & "x"`}}},
		{"controls, empty values and bad names dropped", Reason{Code: "not_media", Params: map[string]string{"file": "a\x00b.mp4\n", "lang": "", "Bad-Name": "x", "reason": "other"}},
			`{"file":"a b.mp4","reason":"not_media"}`, Reason{Code: "not_media", Params: map[string]string{"file": "a b.mp4"}}},
		{"invalid code", Reason{Code: "Not Media"}, ``, Reason{}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			d := tt.r.Detail()
			if d != tt.detail {
				t.Fatalf("Detail() = %s, want %s", d, tt.detail)
			}
			back, ok := ParseReason(d)
			if ok != (tt.back.Code != "") || back.Code != tt.back.Code || !maps.Equal(back.Params, tt.back.Params) {
				t.Errorf("ParseReason = %+v, %v; want %+v", back, ok, tt.back)
			}
			if !langtext.OK(d) {
				t.Errorf("detail %q is not valid status text", d)
			}
		})
	}
	// Long values are shortened to fit a status detail.
	long := Reason{Code: "tool_failed", Params: map[string]string{"step": "encode", "detail": strings.Repeat(`"ü\`, 2000), "file": strings.Repeat("f", 600)}}
	d := long.Detail()
	back, ok := ParseReason(d)
	if n := utf8.RuneCountInString(d); n > MaxStatusDetailLen || !ok || back.Params["step"] != "encode" || !strings.HasSuffix(back.Params["detail"], "…") {
		t.Errorf("long reason: %d runes, %+v, %v", n, back, ok)
	}
	// Free text is not a reason.
	for _, free := range []string{"", "Converting failed: ffmpeg stopped.", "{not json}", `{"reason":"Bad Code"}`, `{"reason":1}`, `{"detail":"x"}`, `["reason"]`} {
		if r, ok := ParseReason(free); ok {
			t.Errorf("ParseReason(%q) = %+v", free, r)
		}
	}
}
