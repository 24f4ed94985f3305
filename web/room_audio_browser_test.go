package web

import (
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// writeWAV writes a mono 16-bit PCM WAV file of d at 48 kHz with the
// samples sample(i) gives.
func writeWAV(t *testing.T, path string, d time.Duration, sample func(i int) int16) {
	t.Helper()
	const rate = 48000
	n := int(d.Seconds() * rate)
	data := make([]byte, 44+2*n)
	copy(data[0:], "RIFF")
	binary.LittleEndian.PutUint32(data[4:], uint32(36+2*n))
	copy(data[8:], "WAVEfmt ")
	binary.LittleEndian.PutUint32(data[16:], 16)
	binary.LittleEndian.PutUint16(data[20:], 1) // PCM
	binary.LittleEndian.PutUint16(data[22:], 1) // mono
	binary.LittleEndian.PutUint32(data[24:], rate)
	binary.LittleEndian.PutUint32(data[28:], rate*2)
	binary.LittleEndian.PutUint16(data[32:], 2)
	binary.LittleEndian.PutUint16(data[34:], 16)
	copy(data[36:], "data")
	binary.LittleEndian.PutUint32(data[40:], uint32(2*n))
	for i := range n {
		binary.LittleEndian.PutUint16(data[44+2*i:], uint16(sample(i)))
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// jsAudioSent is what the page's audio sender has sent: packets and
// payload bytes.
const jsAudioSent = `(async () => {
	const stats = await window.portaloRoom.pcs.up.getStats(); let p = 0, b = 0, h = 0;
	stats.forEach(s => { if (s.type === 'outbound-rtp' && s.kind === 'audio') { p += s.packetsSent; b += s.bytesSent; h += s.headerBytesSent; } });
	return [p, b, h]; })()`

// wireOverhead is what a packet carries beyond its RTP header and payload:
// the SRTP authentication tag (16 bytes with AES-GCM, 10 with
// AES-CM/HMAC), UDP (8) and IPv4 (20).
const wireOverhead = 16 + 8 + 20

// TestBrowserRoomOpusDTXAndBitrate: what a trainer's microphone costs the
// link, measured in Chromium. Silent, the page sends a few packets a
// second instead of 50 (Opus DTX); speaking (a tone with overtones), its
// audio takes at most 64 kbit/s on the wire, headers included.
func TestBrowserRoomOpusDTXAndBitrate(t *testing.T) {
	dir := t.TempDir()
	silence, voice := filepath.Join(dir, "silence.wav"), filepath.Join(dir, "voice.wav")
	writeWAV(t, silence, 10*time.Second, func(int) int16 { return 0 })
	writeWAV(t, voice, 10*time.Second, func(i int) int16 {
		x := float64(i) / 48000
		v := 0.0
		for k, f := range []float64{180, 360, 720, 1440, 2880} {
			v += math.Sin(2*math.Pi*f*x) / float64(k+1)
		}
		return int16(6000 * v * (1 + 0.5*math.Sin(2*math.Pi*3*x)))
	})
	for _, tc := range []struct {
		name  string
		file  string
		check func(pps, wire float64) error
	}{
		{"silence", silence, func(pps, wire float64) error {
			if pps > 15 {
				return fmt.Errorf("%.1f packets/s in silence: DTX would send a few, without it 50", pps)
			}
			return nil
		}},
		{"voice", voice, func(pps, wire float64) error {
			if pps < 40 || wire <= 0 || wire > 64 {
				return fmt.Errorf("%.1f packets/s, %.1f kbit/s on the wire while speaking: want about 50 packets/s and at most 64 kbit/s", pps, wire)
			}
			return nil
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRoomFixture(t, roomFixtureConfig{})
			trainer := newTabWith(t, browserSettings{switches: map[string]string{"use-file-for-fake-audio-capture": tc.file}})
			f.trainerPublishes(trainer)
			trainer.waitFor("the microphone sends", `(async () => (await `+jsAudioSent+`)[0] > 0)()`, 15*time.Second)
			time.Sleep(2 * time.Second) // past the encoder's start
			before := eval[[]float64](trainer, "audio sent", jsAudioSent)
			start := time.Now()
			time.Sleep(5 * time.Second)
			after := eval[[]float64](trainer, "audio sent", jsAudioSent)
			secs := time.Since(start).Seconds()
			packets := after[0] - before[0]
			pps, opus := packets/secs, (after[1]-before[1])*8/1000/secs
			wire := (after[1] - before[1] + after[2] - before[2] + packets*wireOverhead) * 8 / 1000 / secs
			t.Logf("%s: %.1f packets/s, %.1f kbit/s of Opus, %.1f kbit/s on the wire", tc.name, pps, opus, wire)
			if err := tc.check(pps, wire); err != nil {
				t.Error(err)
			}
		})
	}
}
