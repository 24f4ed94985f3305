package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
	"github.com/pion/webrtc/v4/pkg/media"
	"github.com/pion/webrtc/v4/pkg/media/ivfreader"
	"github.com/pion/webrtc/v4/pkg/media/oggreader"
)

// clip is the media the publisher loops: VP8 frames and Opus packets.
type clip struct {
	video      [][]byte
	keyframes  []int // indices of VP8 keyframes in video
	frameDur   time.Duration
	audio      [][]byte
	audioDur   []time.Duration
	videoBytes int
}

// ensureClip generates the clip with ffmpeg into dir unless it is there.
func ensureClip(ctx context.Context, dir string) (string, string, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", "", err
	}
	v, a := filepath.Join(dir, "clip.ivf"), filepath.Join(dir, "audio.ogg")
	gen := func(out string, args ...string) error {
		if st, err := os.Stat(out); err == nil && st.Size() > 0 {
			return nil
		}
		tmp := out + ".tmp" + filepath.Ext(out)
		args = append([]string{"-hide_banner", "-loglevel", "error", "-y"}, append(args, tmp)...)
		cmd := exec.CommandContext(ctx, "ffmpeg", args...)
		if b, err := cmd.CombinedOutput(); err != nil {
			return fmt.Errorf("ffmpeg: %w: %s", err, b)
		}
		return os.Rename(tmp, out)
	}
	if err := gen(v, "-f", "lavfi", "-i", "testsrc2=size=1280x720:rate=30", "-c:v", "libvpx",
		"-b:v", "1500k", "-minrate", "1500k", "-maxrate", "1500k", "-g", "60",
		"-deadline", "realtime", "-cpu-used", "8", "-t", "20", "-f", "ivf"); err != nil {
		return "", "", err
	}
	if err := gen(a, "-f", "lavfi", "-i", "sine=frequency=440:sample_rate=48000", "-c:a", "libopus",
		"-b:a", "32k", "-page_duration", "20000", "-t", "20", "-f", "ogg"); err != nil {
		return "", "", err
	}
	return v, a, nil
}

func loadClip(videoPath, audioPath string) (*clip, error) {
	c := &clip{}
	vf, err := os.Open(videoPath)
	if err != nil {
		return nil, err
	}
	defer vf.Close()
	ivf, hdr, err := ivfreader.NewWith(vf)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", videoPath, err)
	}
	if hdr.TimebaseDenominator == 0 {
		return nil, fmt.Errorf("%s: no time base", videoPath)
	}
	c.frameDur = time.Duration(float64(time.Second) * float64(hdr.TimebaseNumerator) / float64(hdr.TimebaseDenominator))
	if c.frameDur <= 0 || c.frameDur > time.Second {
		c.frameDur = time.Second / 30
	}
	for {
		frame, _, err := ivf.ParseNextFrame()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", videoPath, err)
		}
		if len(frame) > 0 && frame[0]&1 == 0 { // VP8 frame tag: P bit 0 = keyframe
			c.keyframes = append(c.keyframes, len(c.video))
		}
		c.video = append(c.video, frame)
		c.videoBytes += len(frame)
	}
	if len(c.video) == 0 || len(c.keyframes) == 0 || c.keyframes[0] != 0 {
		return nil, fmt.Errorf("%s: no frames or does not start with a keyframe", videoPath)
	}
	af, err := os.Open(audioPath)
	if err != nil {
		return nil, err
	}
	defer af.Close()
	ogg, _, err := oggreader.NewWith(af)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", audioPath, err)
	}
	var last uint64
	for {
		data, ph, err := ogg.ParseNextPage()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", audioPath, err)
		}
		if len(data) >= 8 && string(data[:8]) == "OpusTags" {
			continue
		}
		samples := ph.GranulePosition - last
		last = ph.GranulePosition
		d := time.Duration(samples) * time.Second / 48000
		if d <= 0 || d > 120*time.Millisecond {
			d = 20 * time.Millisecond
		}
		c.audio = append(c.audio, data)
		c.audioDur = append(c.audioDur, d)
	}
	if len(c.audio) == 0 {
		return nil, fmt.Errorf("%s: no Opus pages", audioPath)
	}
	return c, nil
}

// publisher is the trainer: it sends the clip in a loop on its up
// connection (one 720p VP8 layer, no simulcast, plus Opus).
type publisher struct {
	rc        *roomClient
	clip      *clip
	video     *webrtc.TrackLocalStaticSample
	audio     *webrtc.TrackLocalStaticSample
	keyWanted atomic.Bool // a PLI or FIR asked for a keyframe
	plis      atomic.Uint64
	nacks     atomic.Uint64
	twccs     atomic.Uint64 // transport-wide congestion control feedback
	wg        sync.WaitGroup
}

func startPublisher(ctx, sendCtx context.Context, base, workshopID string, jar *apiClient, api *webrtc.API, cl *clip) (*publisher, error) {
	rc, err := dialRoom(ctx, base, workshopID, jar.jar, "load-trainer", api)
	if err != nil {
		return nil, err
	}
	p := &publisher{rc: rc, clip: cl}
	fail := func(err error) (*publisher, error) {
		rc.close(true)
		return nil, err
	}
	if err := rc.join(ctx); err != nil {
		return fail(fmt.Errorf("join: %w", err))
	}
	p.video, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "load-trainer")
	if err != nil {
		return fail(err)
	}
	p.audio, err = webrtc.NewTrackLocalStaticSample(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "load-trainer")
	if err != nil {
		return fail(err)
	}
	var senders []*webrtc.RTPSender
	err = rc.offerUp(func(pc *webrtc.PeerConnection) error {
		for _, tr := range []webrtc.TrackLocal{p.video, p.audio} {
			t, err := pc.AddTransceiverFromTrack(tr, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly})
			if err != nil {
				return err
			}
			senders = append(senders, t.Sender())
		}
		return nil
	})
	if err != nil {
		return fail(fmt.Errorf("up offer: %w", err))
	}
	select {
	case <-rc.upDone:
	case <-rc.done:
		return fail(fmt.Errorf("up answer: %v", rc.err()))
	case <-ctx.Done():
		return fail(fmt.Errorf("up answer: %w (server error: %v)", ctx.Err(), rc.err()))
	}
	if n, other := rc.candidateCheck(); n == 0 {
		return fail(errors.New("the SFU's up answer carries no ICE candidates, so no media can flow " +
			"(a portalo started with PORTALO_MEDIA_LISTEN_IP=127.0.0.1 binds the media port on loopback, " +
			"but Pion skips loopback host candidates unless SettingEngine.SetIncludeLoopbackCandidate(true))"))
	} else if len(other) > 0 {
		fmt.Fprintf(os.Stderr, "portalo-load: warning: the SFU offers candidates not on 127.0.0.1 (ignored): %v\n", other)
	}
	// Read RTCP from the senders so that the interceptors run, and react
	// to PLI/FIR like an encoder: the next frame sent is a keyframe.
	for _, s := range senders {
		p.wg.Add(1)
		go func() {
			defer p.wg.Done()
			buf := make([]byte, 1500)
			for {
				n, _, err := s.Read(buf)
				if err != nil {
					return
				}
				pkts, err := rtcp.Unmarshal(buf[:n])
				if err != nil {
					continue
				}
				for _, pk := range pkts {
					switch pk.(type) {
					case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
						p.plis.Add(1)
						p.keyWanted.Store(true)
					case *rtcp.TransportLayerNack:
						p.nacks.Add(1)
					case *rtcp.TransportLayerCC:
						p.twccs.Add(1)
					}
				}
			}
		}()
	}
	p.wg.Add(2)
	go p.sendVideo(sendCtx)
	go p.sendAudio(sendCtx)
	return p, nil
}

// sendVideo writes one frame per tick; a wanted keyframe makes it jump to
// the next keyframe of the clip (at most every 500 ms).
func (p *publisher) sendVideo(ctx context.Context) {
	defer p.wg.Done()
	t := time.NewTicker(p.clip.frameDur)
	defer t.Stop()
	i := 0
	lastKey := time.Time{}
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			if p.keyWanted.Load() && now.Sub(lastKey) >= 500*time.Millisecond {
				p.keyWanted.Store(false)
				i = p.nextKeyframe(i)
			}
			if i >= len(p.clip.video) {
				i = 0
			}
			f := p.clip.video[i]
			if f[0]&1 == 0 {
				lastKey = now
			}
			if err := p.video.WriteSample(media.Sample{Data: f, Duration: p.clip.frameDur}); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return
			}
			i++
		}
	}
}

func (p *publisher) nextKeyframe(i int) int {
	for _, k := range p.clip.keyframes {
		if k >= i {
			return k
		}
	}
	return 0
}

func (p *publisher) sendAudio(ctx context.Context) {
	defer p.wg.Done()
	t := time.NewTicker(20 * time.Millisecond)
	defer t.Stop()
	i := 0
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if i >= len(p.clip.audio) {
				i = 0
			}
			if err := p.audio.WriteSample(media.Sample{Data: p.clip.audio[i], Duration: p.clip.audioDur[i]}); err != nil && !errors.Is(err, io.ErrClosedPipe) {
				return
			}
			i++
		}
	}
}

// stop stops sending (ctx must be cancelled by the caller first for the
// send loops), leaves the room and waits for its goroutines.
func (p *publisher) stop() {
	p.rc.close(true)
	p.wg.Wait()
}
