package transcode

import (
	"fmt"
	"math"
	"time"
)

// Fixed properties of every output.
const (
	// KeyframeInterval is the distance of the keyframes of every video
	// rendition; they fall on the same timestamps in every rung, so a
	// player can switch rungs at any segment boundary.
	KeyframeInterval = 2 * time.Second
	// SegmentDuration is the target length of a segment (two keyframe
	// intervals).
	SegmentDuration = 4 * time.Second
	// AudioOnlyBitrate is the bit rate of the audio-only rendition and of
	// the audio played with the lowest video rung, in bit/s.
	AudioOnlyBitrate = 64_000
	// AudioBitrate is the bit rate of the audio played with the higher
	// video rungs and of the downloads, in bit/s.
	AudioBitrate = 128_000
	// maxFrameRate caps the output frame rate; faster sources are halved
	// (50 → 25, 59.94 → 29.97), which is plenty for talking heads and
	// exercises and halves the bits a phone must fetch.
	maxFrameRate = 30.5
	// posterSize is the short side of the poster in pixels (at most the
	// source's).
	posterSize = 720
	// downloadSize is the short side of the download MP4.
	downloadSize = 360
)

// rung is one step of the video ladder.
type rung struct {
	// size is the short side in pixels (the height of a landscape video,
	// the width of a portrait one).
	size         int
	videoBitrate int // bit/s
	audioBitrate int // bit/s of the audio renditions it plays with
	profile      string
}

// ladder returns the video ladder, lowest first: 240p at about 300
// kbit/s, 360p at about 800 kbit/s, 720p at about 2.5 Mbit/s (video bit
// rates; the audio comes on top).
func ladder() []rung {
	return []rung{
		{size: 240, videoBitrate: 300_000, audioBitrate: AudioOnlyBitrate, profile: "main"},
		{size: 360, videoBitrate: 800_000, audioBitrate: AudioBitrate, profile: "main"},
		{size: 720, videoBitrate: 2_500_000, audioBitrate: AudioBitrate, profile: "high"},
	}
}

// plannedRung is a rung fitted to a source.
type plannedRung struct {
	rung
	name          string // "240p": the short side
	width, height int
}

// dir is the rung's directory in the output.
func (r plannedRung) dir() string { return "video/" + r.name }

// planRungs fits the ladder to a source of the given display size: rungs
// larger than the source are left out (no upscaling), but the lowest is
// always kept, scaled down to the source if the source is smaller still.
func planRungs(width, height int) []plannedRung {
	short := min(width, height)
	var out []plannedRung
	for i, r := range ladder() {
		if r.size > short && i > 0 {
			break
		}
		if r.size > short {
			r.size = even(float64(short))
		}
		w, h := fit(width, height, r.size)
		out = append(out, plannedRung{rung: r, name: fmt.Sprintf("%dp", r.size), width: w, height: h})
	}
	return out
}

// fit scales width×height so that its short side is size, keeping the
// aspect ratio, with even sides (H.264 with 4:2:0 chroma needs them).
func fit(width, height, size int) (int, int) {
	if width >= height {
		return even(float64(size) * float64(width) / float64(height)), even(float64(size))
	}
	return even(float64(size)), even(float64(size) * float64(height) / float64(width))
}

// even rounds x to the nearest even number, at least 2.
func even(x float64) int {
	return max(2, int(math.Round(x/2))*2)
}

// outputRate returns the frame rate of the video renditions for a source
// rate: halved until at most 30 fps, snapped to the nearest common rate
// within 1 %, 25 fps when the source does not say.
func outputRate(r Rate) Rate {
	f := r.Float()
	if f <= 0 {
		return Rate{25, 1}
	}
	for f > maxFrameRate {
		r.Den *= 2
		f /= 2
	}
	common := [...]Rate{{12, 1}, {15, 1}, {24000, 1001}, {24, 1}, {25, 1}, {30000, 1001}, {30, 1}}
	best, bestDiff := Rate{}, 0.01
	for _, c := range common {
		if d := math.Abs(f-c.Float()) / c.Float(); d <= bestDiff {
			best, bestDiff = c, d
		}
	}
	if best != (Rate{}) {
		return best
	}
	return Rate{int(math.Round(f * 1000)), 1000}.reduced()
}

func (r Rate) reduced() Rate {
	a, b := r.Num, r.Den
	for b != 0 {
		a, b = b, a%b
	}
	if a == 0 {
		return r
	}
	return Rate{r.Num / a, r.Den / a}
}

// gopFrames is the number of frames between two keyframes at rate r.
func gopFrames(r Rate) int {
	return max(1, int(math.Round(r.Float()*KeyframeInterval.Seconds())))
}
