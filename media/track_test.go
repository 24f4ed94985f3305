package media

import (
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestAudioWaitsForAHalfQueuedFrame: a published audio packet is sent at
// once, unless a video frame is half-queued; the frame's end then sends
// both, and a frame whose end never comes (lost, or the publisher
// stopped) holds audio back until the next tick after staleFrame.
func TestAudioWaitsForAHalfQueuedFrame(t *testing.T) {
	const receivers = 2
	s, vsubs := benchReceivers(t, receivers, webrtc.RTPCodecTypeVideo)
	s.fanShard = fanShard
	s.batch.flushDelay = time.Hour // only the forwarding code flushes
	video := vsubs[0].pub
	video.owner.sfu = s
	video.subs = map[*Peer]*downTrack{}
	video.active.Store(true)
	vl := vsubs[0].target
	video.layers = []*layer{vl}
	video.owner.published = map[*webrtc.RTPReceiver]*pubTrack{nil: video}
	for _, dt := range vsubs {
		video.addSub(dt)
	}
	opus := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	audio := &pubTrack{kind: webrtc.RTPCodecTypeAudio, codec: opus, owner: video.owner, subs: map[*Peer]*downTrack{}}
	audio.active.Store(true)
	al := &layer{pub: audio}
	audio.layers = []*layer{al}
	for _, v := range vsubs {
		dt := &downTrack{pub: audio, recv: v.recv, target: al}
		dt.bound.Store(true)
		dt.track = &localTrack{dt: dt, codec: opus, bound: true, ssrc: 5678, pt: 111, stream: discardWriter{}}
		audio.addSub(dt)
	}

	var vseq, aseq uint16
	sendVideo := func(marker bool) {
		vseq++
		payload := make([]byte, 1000)
		payload[0] = 0x10 // VP8: start of a partition; a keyframe (payload[1] bit 0 clear)
		in := &inPacket{Packet: rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 96, SequenceNumber: vseq,
			Timestamp: 3000 * uint32(vseq), SSRC: 1, Marker: marker}, Payload: payload}}
		vl.handle(in, 1012, time.Now(), false)
	}
	sendAudio := func() {
		aseq++
		in := &inPacket{Packet: rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: aseq,
			Timestamp: 960 * uint32(aseq), SSRC: 2}, Payload: make([]byte, 80)}}
		al.handle(in, 92, time.Now(), false)
	}
	// Each track's first packet goes through Pion's writer (a discard
	// here), and a receiver's video starts on a keyframe: one frame and
	// one audio packet first.
	sendVideo(true)
	sendAudio()
	base := s.batch.Stats().Packets
	expect := func(step string, sent uint64, open int32) {
		t.Helper()
		if got := s.batch.Stats().Packets - base; got != sent*receivers {
			t.Fatalf("%s: %d packets sent, want %d", step, got, sent*receivers)
		}
		if got := s.openFrames.Load(); got != open {
			t.Fatalf("%s: %d frames open, want %d", step, got, open)
		}
	}
	sendAudio()
	expect("audio alone", 1, 0)
	sendVideo(false)
	expect("a frame's first packet", 1, 1)
	sendAudio()
	expect("audio during the frame", 1, 1)
	sendVideo(true)
	expect("the frame's end", 4, 0)
	sendVideo(false)
	expect("the next frame's first packet", 4, 1)
	withdraw(video) // the publisher stops in the middle of the frame
	video.owner.tickPublish(time.Now())
	expect("stopped, the next tick", 4, 1)
	video.owner.tickPublish(time.Now().Add(staleFrame))
	expect("stopped, a tick after staleFrame", 4, 0)
	sendAudio()
	expect("audio after that", 6, 0)
}
