package media

import (
	"bytes"
	"context"
	"errors"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

// ---- test clients (Pion in the same process, 127.0.0.1 only) ----

func clientAPI(t *testing.T) *webrtc.API { return clientAPIWith(t) }

// clientAPIWith builds a client API with extra interceptors placed
// between the network and Pion's default ones (so the receiver reports
// see what they do).
func clientAPIWith(t *testing.T, first ...interceptor.Factory) *webrtc.API {
	t.Helper()
	return clientAPIOn(t, webrtc.NetworkTypeUDP4, first...)
}

// clientAPIOn is clientAPIWith on another network type.
func clientAPIOn(t *testing.T, network webrtc.NetworkType, first ...interceptor.Factory) *webrtc.API {
	t.Helper()
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.AudioLevelURI}, webrtc.RTPCodecTypeAudio); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	for _, f := range first {
		reg.Add(f)
	}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	applyLoopback(&se)
	se.SetNetworkTypes([]webrtc.NetworkType{network})
	// A retransmission of a packet that did arrive is a replay in SRTP
	// terms; the NACK test needs to see it.
	se.DisableSRTPReplayProtection(true)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
}

func newTestSFU(t *testing.T) *SFU {
	t.Helper()
	s, err := New(Config{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// eventually polls cond until it holds or the deadline passes.
func eventually(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	end := time.Now().Add(d)
	for !cond() {
		if time.Now().After(end) {
			t.Fatalf("timeout waiting for %s", what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// rxTrack records what a subscriber receives on one track.
type rxTrack struct {
	kind  webrtc.RTPCodecType
	ssrc  uint32
	mu    sync.Mutex
	pkts  []rxPkt
	first bool // first packet was a keyframe (video)
	srs   []rtcp.SenderReport
}

type rxPkt struct {
	seq  uint16
	ts   uint32
	size int
	kf   bool
}

func (r *rxTrack) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.pkts)
}

func (r *rxTrack) snapshot() []rxPkt {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]rxPkt(nil), r.pkts...)
}

// client is one test participant: an up PC it offers, a down PC the SFU
// offers.
type client struct {
	t      *testing.T
	api    *webrtc.API
	peer   *Peer
	up     *webrtc.PeerConnection
	down   *webrtc.PeerConnection
	sigs   chan Signal
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	speaking chan bool

	mu        sync.Mutex
	tracks    []*rxTrack
	lastOffer string
	offers    []string // every down offer
	downState webrtc.PeerConnectionState
	remb      atomic.Int64 // bit/s to announce by REMB, 0 for none
}

func join(t *testing.T, s *SFU, roomID, id string, rights Rights, audioOnly bool) *client {
	t.Helper()
	return joinWith(t, s, roomID, id, rights, audioOnly, clientAPI(t))
}

// joinWith is join with the client's own API.
func joinWith(t *testing.T, s *SFU, roomID, id string, rights Rights, audioOnly bool, api *webrtc.API) *client {
	t.Helper()
	c := &client{t: t, api: api, sigs: make(chan Signal, 64), speaking: make(chan bool, 16)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	down, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c.down = down
	down.OnTrack(c.onTrack)
	down.OnConnectionStateChange(func(st webrtc.PeerConnectionState) {
		c.mu.Lock()
		c.downState = st
		c.mu.Unlock()
	})
	c.peer, err = s.Join(roomID, PeerConfig{ID: id, Rights: rights, AudioOnly: audioOnly}, Events{
		Signal: func(sig Signal) { c.sigs <- sig },
		Speaking: func(b bool) {
			select {
			case c.speaking <- b:
			default:
			}
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	c.wg.Add(2)
	go c.signalLoop()
	go c.rembLoop()
	t.Cleanup(c.close)
	return c
}

func (c *client) close() {
	if c.ctx.Err() != nil {
		return
	}
	c.cancel()
	c.peer.Close()
	if c.up != nil {
		_ = c.up.Close()
	}
	_ = c.down.Close()
	c.wg.Wait()
}

// errorf reports an error unless the client is closing.
func (c *client) errorf(format string, args ...any) {
	if c.ctx.Err() == nil {
		c.t.Errorf(format, args...)
	}
}

func (c *client) signalLoop() {
	defer c.wg.Done()
	for {
		select {
		case <-c.ctx.Done():
			return
		case sig := <-c.sigs:
			switch sig.Direction {
			case Up:
				if err := c.up.SetRemoteDescription(*sig.Description); err != nil {
					c.errorf("up answer: %v", err)
				}
			case Down:
				c.mu.Lock()
				c.lastOffer = sig.Description.SDP
				c.offers = append(c.offers, sig.Description.SDP)
				c.mu.Unlock()
				if err := c.down.SetRemoteDescription(*sig.Description); err != nil {
					c.errorf("down offer: %v", err)
					continue
				}
				ans, err := c.down.CreateAnswer(nil)
				if err != nil {
					c.errorf("down answer: %v", err)
					continue
				}
				gathered := webrtc.GatheringCompletePromise(c.down)
				if err := c.down.SetLocalDescription(ans); err != nil {
					c.errorf("down answer: %v", err)
					continue
				}
				<-gathered
				if err := c.peer.HandleSignal(Signal{Direction: Down, Description: c.down.LocalDescription()}); err != nil &&
					!errors.Is(err, ErrClosed) {
					c.errorf("down answer: %v", err)
				}
			}
		}
	}
}

// rembLoop announces a bandwidth cap by REMB when c.remb is set.
func (c *client) rembLoop() {
	defer c.wg.Done()
	tk := time.NewTicker(100 * time.Millisecond)
	defer tk.Stop()
	for {
		select {
		case <-c.ctx.Done():
			return
		case <-tk.C:
		}
		b := c.remb.Load()
		if b == 0 {
			continue
		}
		var ssrcs []uint32
		c.mu.Lock()
		for _, r := range c.tracks {
			if r.kind == webrtc.RTPCodecTypeVideo {
				ssrcs = append(ssrcs, r.ssrc)
			}
		}
		c.mu.Unlock()
		if len(ssrcs) > 0 {
			_ = c.down.WriteRTCP([]rtcp.Packet{&rtcp.ReceiverEstimatedMaximumBitrate{Bitrate: float32(b), SSRCs: ssrcs}})
		}
	}
}

func (c *client) onTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	r := &rxTrack{kind: tr.Kind(), ssrc: uint32(tr.SSRC())}
	c.mu.Lock()
	c.tracks = append(c.tracks, r)
	c.mu.Unlock()
	go func() { // sender reports; ends when the connection closes
		for {
			pkts, _, err := recv.ReadRTCP()
			if err != nil {
				return
			}
			for _, p := range pkts {
				if sr, ok := p.(*rtcp.SenderReport); ok && sr.SSRC == r.ssrc {
					r.mu.Lock()
					r.srs = append(r.srs, *sr)
					r.mu.Unlock()
				}
			}
		}
	}()
	for {
		p, _, err := tr.ReadRTP()
		if err != nil {
			return
		}
		kf := r.kind == webrtc.RTPCodecTypeVideo && vp8Keyframe(p.Payload)
		r.mu.Lock()
		if len(r.pkts) == 0 {
			r.first = kf
		}
		r.pkts = append(r.pkts, rxPkt{seq: p.SequenceNumber, ts: p.Timestamp, size: len(p.Payload), kf: kf})
		r.mu.Unlock()
	}
}

// track returns the last track of a kind received, nil if none.
func (c *client) track(kind webrtc.RTPCodecType) *rxTrack {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i := len(c.tracks) - 1; i >= 0; i-- {
		if c.tracks[i].kind == kind {
			return c.tracks[i]
		}
	}
	return nil
}

func (c *client) received(kind webrtc.RTPCodecType) int {
	if r := c.track(kind); r != nil {
		return r.count()
	}
	return 0
}

func (c *client) offer() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.lastOffer
}

// ---- synthetic publisher ----

// Video layer payload sizes: the receiver tells the layers apart by size.
var layerSizes = map[string]int{"q": 100, "h": 300, "f": 800}

type publisher struct {
	*client
	video    []*webrtc.TrackLocalStaticRTP
	audio    *webrtc.TrackLocalStaticRTP
	midID    uint8
	ridID    uint8
	levelID  uint8
	level    atomic.Int32 // audio level sent (0 loud … 127 silent)
	wantKF   sync.Map     // rid → struct{}: keyframe requested by PLI
	pliCount atomic.Int32
	twcc     atomic.Int32 // transport-wide congestion control feedback received
	twccRecv atomic.Int32 // packets those reported as received
	twccLost atomic.Int32 // ... and as not received
	twccFrom sync.Map     // sender SSRCs of the TWCC feedback
	skipSeq  atomic.Int32 // a sequence number never sent (-1: none)
	nackMu   sync.Mutex
	nacked   map[uint16]int                  // sequence number → times asked for, all layers
	rrs      map[uint32]rtcp.ReceptionReport // the latest receiver report block by SSRC
	ssrcs    []uint32                        // of the three layers and the audio
}

// report returns the latest receiver report block about ssrc.
func (p *publisher) report(ssrc uint32) (rtcp.ReceptionReport, bool) {
	p.nackMu.Lock()
	defer p.nackMu.Unlock()
	r, ok := p.rrs[ssrc]
	return r, ok
}

// gotRTCP counts what the publisher's senders read.
func (p *publisher) gotRTCP(rid string, pkts []rtcp.Packet) {
	for _, pk := range pkts {
		switch pk := pk.(type) {
		case *rtcp.PictureLossIndication:
			if rid != "" {
				p.wantKF.Store(rid, struct{}{})
			}
			p.pliCount.Add(1)
		case *rtcp.TransportLayerCC:
			p.twcc.Add(1)
			p.twccRecv.Add(int32(len(pk.RecvDeltas)))
			p.twccLost.Add(int32(pk.PacketStatusCount) - int32(len(pk.RecvDeltas)))
			p.twccFrom.Store(pk.SenderSSRC, true)
		case *rtcp.ReceiverReport:
			p.nackMu.Lock()
			for _, r := range pk.Reports {
				p.rrs[r.SSRC] = r
			}
			p.nackMu.Unlock()
		case *rtcp.TransportLayerNack:
			p.nackMu.Lock()
			for _, pair := range pk.Nacks {
				for _, seq := range pair.PacketList() {
					p.nacked[seq]++
				}
			}
			p.nackMu.Unlock()
		}
	}
}

// publish makes c publish VP8 simulcast (q, h, f) and Opus with audio
// levels, and sends synthetic RTP until the test ends.
func publish(t *testing.T, c *client) *publisher {
	t.Helper()
	p := &publisher{client: c, nacked: map[uint16]int{}, rrs: map[uint32]rtcp.ReceptionReport{}}
	p.level.Store(127)
	p.skipSeq.Store(-1)
	up, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c.up = up
	var sender *webrtc.RTPSender
	for _, rid := range []string{"q", "h", "f"} {
		tr, err := webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8}, "video", "cam",
			webrtc.WithRTPStreamID(rid))
		if err != nil {
			t.Fatal(err)
		}
		p.video = append(p.video, tr)
		if sender == nil {
			if sender, err = up.AddTrack(tr); err != nil {
				t.Fatal(err)
			}
		} else if err := sender.AddEncoding(tr); err != nil {
			t.Fatal(err)
		}
	}
	for _, e := range sender.GetParameters().HeaderExtensions {
		switch e.URI {
		case sdp.SDESMidURI:
			p.midID = uint8(e.ID)
		case sdp.SDESRTPStreamIDURI:
			p.ridID = uint8(e.ID)
		}
	}
	p.audio, err = webrtc.NewTrackLocalStaticRTP(webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus}, "audio", "cam")
	if err != nil {
		t.Fatal(err)
	}
	asender, err := up.AddTrack(p.audio)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range asender.GetParameters().HeaderExtensions {
		if e.URI == sdp.AudioLevelURI {
			p.levelID = uint8(e.ID)
		}
	}
	for _, e := range sender.GetParameters().Encodings {
		p.ssrcs = append(p.ssrcs, uint32(e.SSRC))
	}
	p.ssrcs = append(p.ssrcs, uint32(asender.GetParameters().Encodings[0].SSRC))
	if p.midID == 0 || p.ridID == 0 || p.levelID == 0 {
		t.Fatalf("header extensions not negotiated: mid %d rid %d level %d", p.midID, p.ridID, p.levelID)
	}
	for _, rid := range []string{"q", "h", "f"} {
		c.wg.Add(1)
		go func() {
			defer c.wg.Done()
			for {
				pkts, _, err := sender.ReadSimulcastRTCP(rid)
				if err != nil {
					return
				}
				p.gotRTCP(rid, pkts)
			}
		}()
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			pkts, _, err := asender.ReadRTCP()
			if err != nil {
				return
			}
			p.gotRTCP("", pkts)
		}
	}()
	offer, err := up.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	gathered := webrtc.GatheringCompletePromise(up)
	if err := up.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-gathered
	if err := c.peer.HandleSignal(Signal{Direction: Up, Description: up.LocalDescription()}); err != nil {
		t.Fatal(err)
	}
	c.wg.Add(1)
	go p.sendLoop()
	return p
}

func (p *publisher) sendLoop() {
	defer p.wg.Done()
	tk := time.NewTicker(20 * time.Millisecond)
	defer tk.Stop()
	var seq [3]uint16
	var aseq uint16
	var frame uint32
	for {
		select {
		case <-p.ctx.Done():
			return
		case <-tk.C:
		}
		frame++
		for i, tr := range p.video {
			rid := tr.RID()
			_, asked := p.wantKF.LoadAndDelete(rid)
			kf := frame%250 == 1 || asked // rare: receivers depend on PLI
			if int32(seq[i]) == p.skipSeq.Load() {
				seq[i]++ // "lost" on the way, never sent again
			}
			payload := make([]byte, layerSizes[rid])
			payload[0] = 0x10 // S=1, partition 0
			if !kf {
				payload[1] = 0x01 // P=1: interframe
			}
			pkt := &rtp.Packet{Header: rtp.Header{
				Version: 2, SequenceNumber: seq[i], Timestamp: frame * 1800, Marker: true, PayloadType: 96,
			}, Payload: payload}
			seq[i]++
			_ = pkt.Header.SetExtension(p.midID, []byte("0"))
			_ = pkt.Header.SetExtension(p.ridID, []byte(rid))
			_ = tr.WriteRTP(pkt)
		}
		apkt := &rtp.Packet{Header: rtp.Header{
			Version: 2, SequenceNumber: aseq, Timestamp: frame * 960, PayloadType: 111,
		}, Payload: []byte{0xfc, 0xff, 0xfe}}
		aseq++
		_ = apkt.Header.SetExtension(p.levelID, []byte{byte(p.level.Load()) | 0x80})
		_ = p.audio.WriteRTP(apkt)
	}
}

// ---- tests ----

func TestForwardingOneToMany(t *testing.T) {
	for _, tc := range []struct {
		name  string
		shard int // receivers per fan-out shard
	}{
		{"reader writes", fanShard},
		{"sharded to the workers", 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			s := newTestSFU(t)
			s.fanShard = tc.shard
			testForwardingOneToMany(t, s)
		})
	}
}

func testForwardingOneToMany(t *testing.T, s *SFU) {
	var subs []*client
	for _, id := range []string{"s1", "s2"} {
		subs = append(subs, join(t, s, "r", id, Rights{}, false))
	}
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	publish(t, pub)
	eventually(t, 10*time.Second, "early subscribers get video and audio", func() bool {
		for _, c := range subs {
			if c.received(webrtc.RTPCodecTypeVideo) < 10 || c.received(webrtc.RTPCodecTypeAudio) < 10 {
				return false
			}
		}
		return true
	})
	late := join(t, s, "r", "s3", Rights{}, false)
	subs = append(subs, late)
	eventually(t, 10*time.Second, "all subscribers get video and audio", func() bool {
		for _, c := range subs {
			if c.received(webrtc.RTPCodecTypeVideo) < 20 || c.received(webrtc.RTPCodecTypeAudio) < 20 {
				return false
			}
		}
		return true
	})
	// A receiver joining a running room gets every track in its first
	// offer, not an offer and a renegotiation right after it.
	late.mu.Lock()
	offers := slices.Clone(late.offers)
	late.mu.Unlock()
	if len(offers) != 1 || !strings.Contains(offers[0], "m=audio") || !strings.Contains(offers[0], "m=video") {
		t.Errorf("late subscriber: %d offers, want one with audio and video", len(offers))
	}
	for i, c := range subs {
		v := c.track(webrtc.RTPCodecTypeVideo)
		if !v.first {
			t.Errorf("subscriber %d: first video packet is not a keyframe", i)
		}
		checkContinuous(t, v.snapshot())
	}
	if pub.received(webrtc.RTPCodecTypeVideo) != 0 {
		t.Error("publisher receives its own video")
	}
	st := s.Stats("r")
	if st.Peers != 4 || st.Tracks != 2 || st.PacketsForwarded == 0 {
		t.Errorf("stats: %+v", st)
	}
}

// checkContinuous checks that sequence numbers have no gap and that every
// change of layer (payload size) happens on a keyframe.
func checkContinuous(t *testing.T, pkts []rxPkt) {
	t.Helper()
	for i := 1; i < len(pkts); i++ {
		a, b := pkts[i-1], pkts[i]
		if b.seq != a.seq+1 {
			t.Errorf("packet %d: seq %d after %d", i, b.seq, a.seq)
			return
		}
		if int32(b.ts-a.ts) <= 0 {
			t.Errorf("packet %d: timestamp %d after %d", i, b.ts, a.ts)
			return
		}
		if b.size != a.size && !b.kf {
			t.Errorf("packet %d: layer changed from size %d to %d without keyframe", i, a.size, b.size)
			return
		}
	}
}

func TestSimulcastLayerSelection(t *testing.T) {
	s := newTestSFU(t)
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	publish(t, pub)
	free := join(t, s, "r", "free", Rights{}, false)
	capped := join(t, s, "r", "capped", Rights{}, false)
	capped.remb.Store(60_000)

	lastSize := func(c *client) int {
		v := c.track(webrtc.RTPCodecTypeVideo)
		if v == nil {
			return 0
		}
		p := v.snapshot()
		if len(p) == 0 {
			return 0
		}
		return p[len(p)-1].size
	}
	eventually(t, 15*time.Second, "unconstrained receiver gets the full layer", func() bool {
		return lastSize(free) == layerSizes["f"]
	})
	t.Logf("receivers: %+v", s.Stats("r").Receivers)
	eventually(t, 5*time.Second, "capped receiver gets video", func() bool { return lastSize(capped) != 0 })
	// Let a few more packets through, then check the capped one never left q.
	time.Sleep(500 * time.Millisecond)
	for _, p := range capped.track(webrtc.RTPCodecTypeVideo).snapshot() {
		if p.size != layerSizes["q"] {
			t.Fatalf("capped receiver got a packet of size %d", p.size)
		}
	}
	fp := free.track(webrtc.RTPCodecTypeVideo).snapshot()
	if fp[0].size != layerSizes["q"] {
		t.Errorf("unconstrained receiver started at size %d, want the lowest layer", fp[0].size)
	}
	checkContinuous(t, fp)
	checkContinuous(t, capped.track(webrtc.RTPCodecTypeVideo).snapshot())

	// Cap the free one: it goes down to q, at a keyframe.
	free.remb.Store(60_000)
	eventually(t, 10*time.Second, "receiver switches down", func() bool {
		return lastSize(free) == layerSizes["q"]
	})
	checkContinuous(t, free.track(webrtc.RTPCodecTypeVideo).snapshot())
	var layers []string
	for _, r := range s.Stats("r").Receivers {
		if r.Kind == "video" {
			layers = append(layers, r.PeerID+":"+r.Layer)
		}
	}
	if len(layers) != 2 {
		t.Errorf("stats receivers: %v", layers)
	}
	t.Logf("receivers: %+v", s.Stats("r").Receivers)
}

func TestAudioOnlyReceiver(t *testing.T) {
	s := newTestSFU(t)
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	publish(t, pub)
	ao := join(t, s, "r", "ao", Rights{}, true)
	full := join(t, s, "r", "full", Rights{}, false)
	eventually(t, 10*time.Second, "audio flows", func() bool {
		return ao.received(webrtc.RTPCodecTypeAudio) > 20 && full.received(webrtc.RTPCodecTypeVideo) > 20
	})
	if ao.track(webrtc.RTPCodecTypeVideo) != nil {
		t.Fatal("audio-only receiver got a video track")
	}
	if strings.Contains(ao.offer(), "m=video") {
		t.Fatal("audio-only receiver was offered video")
	}
	// And back: switching audio-only off brings the video.
	ao.peer.SetAudioOnly(false)
	eventually(t, 10*time.Second, "video after leaving audio-only", func() bool {
		return ao.received(webrtc.RTPCodecTypeVideo) > 10
	})
	if !ao.track(webrtc.RTPCodecTypeVideo).first {
		t.Error("first video packet is not a keyframe")
	}
	// And audio-only again: the video stops.
	ao.peer.SetAudioOnly(true)
	eventually(t, 5*time.Second, "video removed", func() bool { return !hasSendingVideo(ao.offer()) })
	n := ao.received(webrtc.RTPCodecTypeVideo)
	time.Sleep(300 * time.Millisecond)
	if m := ao.received(webrtc.RTPCodecTypeVideo); m > n+2 {
		t.Errorf("video still flows: %d → %d", n, m)
	}
}

// hasSendingVideo reports whether an SFU down offer sends video.
func hasSendingVideo(offer string) bool {
	var d sdp.SessionDescription
	if d.UnmarshalString(offer) != nil {
		return false
	}
	for _, m := range d.MediaDescriptions {
		if m.MediaName.Media != "video" {
			continue
		}
		if _, ok := m.Attribute("sendonly"); ok {
			return true
		}
		if _, ok := m.Attribute("sendrecv"); ok {
			return true
		}
	}
	return false
}

func TestRightsRevoked(t *testing.T) {
	s := newTestSFU(t)
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	publish(t, pub)
	subs := []*client{join(t, s, "r", "a", Rights{}, false), join(t, s, "r", "b", Rights{}, false)}
	eventually(t, 10*time.Second, "media flows", func() bool {
		for _, c := range subs {
			if c.received(webrtc.RTPCodecTypeVideo) < 10 || c.received(webrtc.RTPCodecTypeAudio) < 10 {
				return false
			}
		}
		return true
	})
	pub.peer.SetRights(Rights{Audio: true})
	for _, c := range subs {
		eventually(t, 5*time.Second, "video removed from down", func() bool { return !hasSendingVideo(c.offer()) })
	}
	n := []int{subs[0].received(webrtc.RTPCodecTypeVideo), subs[1].received(webrtc.RTPCodecTypeVideo)}
	a := subs[0].received(webrtc.RTPCodecTypeAudio)
	time.Sleep(400 * time.Millisecond)
	for i, c := range subs {
		if m := c.received(webrtc.RTPCodecTypeVideo); m != n[i] {
			t.Errorf("subscriber %d: video still flows (%d → %d)", i, n[i], m)
		}
	}
	if subs[0].received(webrtc.RTPCodecTypeAudio) <= a {
		t.Error("audio stopped too")
	}
	if st := s.Stats("r"); st.Tracks != 1 {
		t.Errorf("tracks after revoke: %d", st.Tracks)
	}
	// Granted again: video comes back.
	pub.peer.SetRights(Rights{Audio: true, Video: true})
	eventually(t, 10*time.Second, "video again", func() bool {
		v := subs[0].track(webrtc.RTPCodecTypeVideo)
		return v != nil && v.count() > 5 && subs[0].received(webrtc.RTPCodecTypeVideo) > n[0]
	})
}

func TestSpeakingEvents(t *testing.T) {
	s := newTestSFU(t)
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	p := publish(t, pub)
	join(t, s, "r", "listener", Rights{}, false)
	select {
	case b := <-pub.speaking:
		t.Fatalf("speaking %v while silent", b)
	case <-time.After(500 * time.Millisecond):
	}
	p.level.Store(20)
	select {
	case b := <-pub.speaking:
		if !b {
			t.Fatal("got not speaking, want speaking")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no speaking event")
	}
	p.level.Store(127)
	start := time.Now()
	select {
	case b := <-pub.speaking:
		if b {
			t.Fatal("got speaking, want not speaking")
		}
		if d := time.Since(start); d < 800*time.Millisecond {
			t.Errorf("stopped speaking after %v, want about 1 s", d)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no end of speaking")
	}
}

func TestBadSignals(t *testing.T) {
	s := newTestSFU(t)
	c := join(t, s, "r", "x", Rights{Audio: true}, false)
	garbage := &webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: "v=0\r\nthis is not sdp"}
	cand := "candidate:1 1 udp 2130706431 127.0.0.1 5000 typ host"
	tests := []struct {
		name    string
		sig     Signal
		wantErr bool
	}{
		{"empty", Signal{Direction: Up}, true},
		{"both", Signal{Direction: Up, Description: garbage, Candidate: &webrtc.ICECandidateInit{Candidate: cand}}, true},
		{"garbage offer", Signal{Direction: Up, Description: garbage}, true},
		{"empty offer", Signal{Direction: Up, Description: &webrtc.SessionDescription{Type: webrtc.SDPTypeOffer}}, true},
		{"answer on up", Signal{Direction: Up, Description: &webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: "v=0"}}, true},
		{"offer on down", Signal{Direction: Down, Description: &webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: "v=0"}}, true},
		{"answer without offer", Signal{Direction: Down, Description: &webrtc.SessionDescription{Type: webrtc.SDPTypeAnswer, SDP: "v=0"}}, true},
		{"bad direction", Signal{Direction: "sideways", Candidate: &webrtc.ICECandidateInit{Candidate: cand}}, true},
		{"garbage candidate", Signal{Direction: Up, Candidate: &webrtc.ICECandidateInit{Candidate: "candidate:garbage"}}, true},
		{"candidate before description (queued)", Signal{Direction: Up, Candidate: &webrtc.ICECandidateInit{Candidate: cand}}, false},
		{"end of candidates", Signal{Direction: Down, Candidate: &webrtc.ICECandidateInit{}}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := c.peer.HandleSignal(tt.sig)
			if (err != nil) != tt.wantErr {
				t.Fatalf("err = %v, want error %v", err, tt.wantErr)
			}
		})
	}
	// Still usable after all that: publish for real.
	publish(t, c)
	sub := join(t, s, "r", "y", Rights{}, false)
	eventually(t, 10*time.Second, "audio after bad signals", func() bool {
		return sub.received(webrtc.RTPCodecTypeAudio) > 5
	})
	c.peer.Close()
	if err := c.peer.HandleSignal(Signal{Direction: Up, Description: garbage}); !errors.Is(err, ErrClosed) {
		t.Fatalf("after close: %v", err)
	}
}

func TestDownICERestart(t *testing.T) {
	s := newTestSFU(t)
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	publish(t, pub)
	sub := join(t, s, "r", "sub", Rights{}, false)
	eventually(t, 10*time.Second, "media flows", func() bool { return sub.received(webrtc.RTPCodecTypeAudio) > 10 })
	ufrag := func() string {
		for _, l := range strings.Split(sub.offer(), "\r\n") {
			if strings.HasPrefix(l, "a=ice-ufrag:") {
				return l
			}
		}
		return ""
	}
	old := ufrag()
	if err := sub.peer.RestartICE(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "restart offer", func() bool { return ufrag() != old && ufrag() != "" })
	if !strings.Contains(sub.offer(), "a=candidate") {
		t.Fatal("restart offer without candidates")
	}
	n := sub.received(webrtc.RTPCodecTypeAudio)
	eventually(t, 10*time.Second, "media after restart", func() bool {
		return sub.received(webrtc.RTPCodecTypeAudio) > n+25
	})
	// The SFU's own SRTP writer still sends, to the restarted pair.
	own := func() uint32 {
		for _, rs := range s.Stats("r").Receivers {
			if rs.PeerID == "sub" && rs.Kind == "audio" {
				return rs.OwnSRTP
			}
		}
		return 0
	}
	o := own()
	eventually(t, 5*time.Second, "own writer after restart", func() bool { return own() > o+10 })
	// No down connection yet → nothing to restart.
	lonely := join(t, s, "other", "alone", Rights{}, false)
	if err := lonely.peer.RestartICE(); !errors.Is(err, ErrNothingToOffer) {
		t.Fatalf("restart without down: %v", err)
	}
}

func TestRoomsLifecycle(t *testing.T) {
	s := newTestSFU(t)
	c := join(t, s, "r", "a", Rights{}, false)
	if _, err := s.Join("r", PeerConfig{ID: "a"}, Events{}); !errors.Is(err, ErrDuplicatePeer) {
		t.Fatalf("duplicate join: %v", err)
	}
	if st := s.Stats("r"); st.Peers != 1 {
		t.Fatalf("peers %d", st.Peers)
	}
	c.peer.Close()
	s.mu.Lock()
	n := len(s.rooms)
	s.mu.Unlock()
	if n != 0 {
		t.Fatalf("%d rooms left", n)
	}
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := s.Join("r", PeerConfig{ID: "b"}, Events{}); !errors.Is(err, ErrClosed) {
		t.Fatalf("join after close: %v", err)
	}
}

func TestKeyframeDetection(t *testing.T) {
	tests := []struct {
		name string
		mime string
		b    []byte
		want bool
	}{
		{"vp8 key", webrtc.MimeTypeVP8, []byte{0x10, 0x00, 0x9d}, true},
		{"vp8 delta", webrtc.MimeTypeVP8, []byte{0x10, 0x01}, false},
		{"vp8 not start", webrtc.MimeTypeVP8, []byte{0x00, 0x00}, false},
		{"vp8 ext 15-bit picture id key", webrtc.MimeTypeVP8, []byte{0x90, 0x80, 0x81, 0x02, 0x00}, true},
		{"vp8 ext tl0 tid key", webrtc.MimeTypeVP8, []byte{0x90, 0xe0, 0x05, 0x01, 0x20, 0x00}, true},
		{"vp8 truncated", webrtc.MimeTypeVP8, []byte{0x90}, false},
		{"vp8 empty", webrtc.MimeTypeVP8, nil, false},
		{"h264 idr", webrtc.MimeTypeH264, []byte{0x65}, true},
		{"h264 non-idr", webrtc.MimeTypeH264, []byte{0x41}, false},
		{"h264 stap-a sps", webrtc.MimeTypeH264, []byte{0x78, 0x00, 0x02, 0x67, 0x42}, true},
		{"h264 fu-a idr start", webrtc.MimeTypeH264, []byte{0x7c, 0x85}, true},
		{"h264 fu-a idr middle", webrtc.MimeTypeH264, []byte{0x7c, 0x05}, false},
		{"opus", webrtc.MimeTypeOpus, []byte{0x00}, false},
	}
	for _, tt := range tests {
		if got := isKeyframe(tt.mime, tt.b); got != tt.want {
			t.Errorf("%s: got %v", tt.name, got)
		}
	}
}

func TestICETCP(t *testing.T) {
	s := newTestSFU(t)
	if s.TCPAddr() == nil {
		t.Fatal("no ICE-TCP port")
	}
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	publish(t, pub)
	// A receiver whose network blocks UDP: TCP candidates only.
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		t.Fatal(err)
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		t.Fatal(err)
	}
	var se webrtc.SettingEngine
	applyLoopback(&se)
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeTCP4})
	tcpAPI := webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg), webrtc.WithSettingEngine(se))
	c := &client{t: t, api: tcpAPI, sigs: make(chan Signal, 64), speaking: make(chan bool, 16)}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	down, err := tcpAPI.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	c.down = down
	down.OnTrack(c.onTrack)
	c.peer, err = s.Join("r", PeerConfig{ID: "tcp"}, Events{Signal: func(sig Signal) { c.sigs <- sig }})
	if err != nil {
		t.Fatal(err)
	}
	c.wg.Add(2)
	go c.signalLoop()
	go c.rembLoop()
	t.Cleanup(c.close)
	var states []string
	var stMu sync.Mutex
	down.OnICEConnectionStateChange(func(st webrtc.ICEConnectionState) {
		stMu.Lock()
		states = append(states, st.String())
		stMu.Unlock()
	})
	end := time.Now().Add(15 * time.Second)
	for c.received(webrtc.RTPCodecTypeAudio) <= 10 || c.received(webrtc.RTPCodecTypeVideo) <= 10 {
		if time.Now().After(end) {
			stMu.Lock()
			defer stMu.Unlock()
			t.Fatalf("no media over ICE-TCP; client ICE states %v; stats %+v; offer:\n%s", states, s.Stats("r"), c.offer())
		}
		time.Sleep(20 * time.Millisecond)
	}
	if !strings.Contains(c.offer(), "tcptype passive") {
		t.Error("offer without passive TCP candidate")
	}
	// Over ICE-TCP Pion sends everything: the SFU's own writer is for UDP.
	for _, rs := range s.Stats("r").Receivers {
		if rs.PeerID == "tcp" && rs.OwnSRTP != 0 {
			t.Errorf("%s: %d of %d packets sent by the SFU's own writer over TCP", rs.Kind, rs.OwnSRTP, rs.Packets)
		}
	}
	// ... and reads the receiver's RTCP: a NACK over TCP is answered.
	v := c.track(webrtc.RTPCodecTypeVideo)
	lost := v.snapshot()[5]
	before := s.Stats("r").PacketsRetransmitted
	if err := c.down.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
		MediaSSRC: v.ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers([]uint16{lost.seq}),
	}}); err != nil {
		t.Fatal(err)
	}
	eventually(t, 5*time.Second, "the retransmission over TCP", func() bool {
		return s.Stats("r").PacketsRetransmitted > before
	})
	if n := c.peer.ownRTCP.Load(); n != 0 {
		t.Errorf("the SFU's own SRTCP reader took %d packets of a receiver on TCP", n)
	}
}

func TestCloseStopsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	s, err := New(Config{LoopbackOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	publish(t, pub)
	sub := join(t, s, "r", "sub", Rights{}, false)
	eventually(t, 10*time.Second, "media flows", func() bool { return sub.received(webrtc.RTPCodecTypeVideo) > 5 })
	pub.close()
	sub.close()
	if err := s.Close(); err != nil {
		t.Fatal(err)
	}
	eventually(t, 10*time.Second, "goroutines to stop", func() bool { return runtime.NumGoroutine() <= before+2 })
}

// Two peers publish and receive each other at once (lock order between
// peers: one's answer binds tracks that ask the other for keyframes).
func TestMutualPublishing(t *testing.T) {
	s := newTestSFU(t)
	a := join(t, s, "r", "a", Rights{Audio: true, Video: true}, false)
	b := join(t, s, "r", "b", Rights{Audio: true, Video: true}, false)
	publish(t, a)
	publish(t, b)
	eventually(t, 10*time.Second, "each receives the other", func() bool {
		return a.received(webrtc.RTPCodecTypeVideo) > 10 && b.received(webrtc.RTPCodecTypeVideo) > 10 &&
			a.received(webrtc.RTPCodecTypeAudio) > 10 && b.received(webrtc.RTPCodecTypeAudio) > 10
	})
	if st := s.Stats("r"); st.Tracks != 4 || len(st.Receivers) != 4 {
		t.Errorf("stats: %+v", st)
	}
}

func TestNACKAndSenderReports(t *testing.T) {
	s := newTestSFU(t)
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	publish(t, pub)
	sub := join(t, s, "r", "viewer", Rights{}, false)
	eventually(t, 10*time.Second, "video flows", func() bool { return sub.received(webrtc.RTPCodecTypeVideo) >= 30 })
	v := sub.track(webrtc.RTPCodecTypeVideo)
	lost := v.snapshot()[20]
	countSeq := func(seq uint16) (n, size int) {
		for _, p := range v.snapshot() {
			if p.seq == seq {
				n, size = n+1, p.size
			}
		}
		return n, size
	}
	nack := func(seqs ...uint16) {
		if err := sub.down.WriteRTCP([]rtcp.Packet{&rtcp.TransportLayerNack{
			MediaSSRC: v.ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs),
		}}); err != nil {
			t.Fatal(err)
		}
	}
	// A packet reported lost comes again, the same, from the layer's cache.
	before := s.Stats("r").PacketsRetransmitted
	viewer := sub.peer
	ownBefore := viewer.ownRTCP.Load()
	nack(lost.seq)
	eventually(t, 5*time.Second, "the retransmission", func() bool { n, _ := countSeq(lost.seq); return n == 2 })
	// The NACK came over UDP: the SFU's own SRTCP reader took it.
	if viewer.ownRTCP.Load() == ownBefore {
		t.Error("the receiver's NACK did not go through the SFU's own SRTCP reader")
	}
	// What does not decrypt with the receiver's keys is left to Pion.
	forged := append([]byte{0x81, 205, 0, 3}, bytes.Repeat([]byte{7}, 28)...)
	if viewer.takeRTCP(forged) {
		t.Error("the own SRTCP reader took a packet that is not the receiver's")
	}
	if _, size := countSeq(lost.seq); size != lost.size {
		t.Errorf("retransmitted packet has %d bytes, want %d", size, lost.size)
	}
	// Asked again at once: not sent twice within resendGap. A sequence
	// number never sent: nothing.
	nack(lost.seq)
	future := v.snapshot()[len(v.snapshot())-1].seq + 30000
	nack(future)
	time.Sleep(300 * time.Millisecond)
	if n, _ := countSeq(lost.seq); n != 2 {
		t.Errorf("packet sent %d times after two quick NACKs, want 2", n)
	}
	if n, _ := countSeq(future); n != 0 {
		t.Errorf("a packet never forwarded was sent %d times", n)
	}
	if got := s.Stats("r").PacketsRetransmitted - before; got != 1 {
		t.Errorf("stats: %d retransmissions, want 1", got)
	}

	// Sender reports for both tracks, counting what was sent.
	for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
		tr := sub.track(kind)
		eventually(t, 5*time.Second, kind.String()+" sender report", func() bool {
			tr.mu.Lock()
			defer tr.mu.Unlock()
			return len(tr.srs) > 0 && tr.srs[len(tr.srs)-1].PacketCount > 0
		})
		tr.mu.Lock()
		sr := tr.srs[len(tr.srs)-1]
		tr.mu.Unlock()
		if d := time.Since(ntpToTime(sr.NTPTime)); d < 0 || d > 3*time.Second {
			t.Errorf("%s sender report NTP time is %v off", kind, d)
		}
	}
}

func TestTWCCFeedbackToPublisher(t *testing.T) {
	// The publisher's send-side estimate (and so the simulcast layers a
	// browser sends) runs on the SFU's transport-wide feedback. Browsers
	// number their packets for it; a Pion client does so only with the
	// header extension interceptor.
	stamp, err := twcc.NewHeaderExtensionInterceptor()
	if err != nil {
		t.Fatal(err)
	}
	s := newTestSFU(t)
	pub := publish(t, joinWith(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false, clientAPIWith(t, stamp)))
	// About 200 numbered packets a second (three layers and audio every
	// 20 ms): the reports must account for them, not merely exist.
	eventually(t, 10*time.Second, "TWCC feedback at the publisher", func() bool {
		return pub.twcc.Load() >= 5 && pub.twccRecv.Load() >= 200
	})
	// A stream's first packets reach Pion, the rest the SFU's own reader:
	// one account of them all (two would each report the other's packets
	// as not received), nothing reported lost on loopback.
	senders := 0
	pub.twccFrom.Range(func(any, any) bool { senders++; return true })
	if senders != 1 {
		t.Errorf("TWCC feedback from %d sender SSRCs, want one account of every packet", senders)
	}
	// A packet Pion reads is recorded a little later than the own
	// reader's next ones: a report may call it missing until the next
	// one has it. Not more than that.
	if n, recv := pub.twccLost.Load(), pub.twccRecv.Load(); n*50 > recv {
		t.Errorf("TWCC feedback reports %d packets as not received on a lossless link (%d received)", n, recv)
	}

	// Without the numbers there is nothing to report.
	plain := publish(t, join(t, s, "r2", "trainer", Rights{Audio: true, Video: true}, false))
	time.Sleep(time.Second)
	if n := plain.twcc.Load(); n != 0 {
		t.Errorf("%d TWCC feedback packets for a publisher that numbers no packets", n)
	}
}

func TestPublisherLossAskedForALimitedNumberOfTimes(t *testing.T) {
	// On UDP the SFU's own reader takes the publisher's packets, over
	// ICE-TCP Pion does; the NACKs are the SFU's own either way.
	for _, network := range []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeTCP4} {
		t.Run(network.String(), func(t *testing.T) {
			s := newTestSFU(t)
			pub := publish(t, joinWith(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false, clientAPIOn(t, network)))
			const lost = 60 // sent after about 1.2 s: the test sets it first
			pub.skipSeq.Store(lost)
			sub := join(t, s, "r", "viewer", Rights{}, false)
			eventually(t, 15*time.Second, "video past the lost packet", func() bool { return sub.received(webrtc.RTPCodecTypeVideo) >= 60 })
			eventually(t, 5*time.Second, "a NACK for the lost packet", func() bool {
				pub.nackMu.Lock()
				defer pub.nackMu.Unlock()
				return pub.nacked[lost] > 0
			})
			// Unanswered, it is asked for at most maxNACKsPerPacket times on
			// each of the three layers, not every 100 ms while it stays in
			// the window.
			time.Sleep(time.Second)
			pub.nackMu.Lock()
			n := pub.nacked[lost]
			others := len(pub.nacked) - 1
			pub.nackMu.Unlock()
			if n > 3*maxNACKsPerPacket {
				t.Errorf("the lost packet was asked for %d times, want at most %d", n, 3*maxNACKsPerPacket)
			}
			if others > 0 {
				t.Errorf("%d packets that were sent were asked for", others)
			}
		})
	}
}

func TestLayerStale(t *testing.T) {
	for _, tc := range []struct {
		name  string
		seqs  []uint16 // read in order; the last is the one judged
		stale bool
	}{
		{"first packet", []uint16{7}, false},
		{"next", []uint16{7, 8}, false},
		{"gap then newer", []uint16{7, 20}, false},
		{"late, never read", []uint16{7, 9, 8}, false},
		{"duplicate of the newest", []uint16{7, 8, 8}, true},
		{"duplicate of an older one", []uint16{7, 8, 9, 8}, true},
		{"older than the cache", []uint16{1000, 1000 + cacheSize, 1000}, true},
		{"late, just inside the cache", []uint16{1000, 1000 + cacheSize - 1, 1000}, true},
		{"late, just inside, never read", []uint16{1000, 1000 + cacheSize - 1, 1001}, false},
		{"half the sequence space behind", []uint16{40000, 40000 - 32768}, true},
		{"across the wrap", []uint16{65534, 65535, 0, 1}, false},
		{"duplicate across the wrap", []uint16{65535, 0, 65535}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			l := &layer{}
			var got bool
			for _, seq := range tc.seqs {
				got = l.stale(seq)
				if !got {
					l.cache.put(&inPacket{Packet: rtp.Packet{Header: rtp.Header{SequenceNumber: seq}}})
				}
			}
			if got != tc.stale {
				t.Errorf("stale = %v, want %v", got, tc.stale)
			}
		})
	}
}

func ntpToTime(ntp uint64) time.Time {
	secs := int64(ntp>>32) - 2208988800
	frac := int64(ntp&0xffffffff) * 1e9 >> 32
	return time.Unix(secs, frac)
}

func TestLossEstimate(t *testing.T) {
	start := time.Unix(1000, 0)
	for _, tc := range []struct {
		name   string
		losses []float64 // one report every 600 ms
		reach  int64     // 0: not set
		check  func(b int64) bool
		want   string
	}{
		{"no loss grows by 8 % a report", []float64{0, 0, 0}, 0, func(b int64) bool { return b > bweInitial*125/100 && b < bweInitial*127/100 }, "about +26 %"},
		{"5 % loss holds", []float64{0.05, 0.05}, 0, func(b int64) bool { return b == bweInitial }, "unchanged"},
		{"40 % loss cuts by 20 %", []float64{0.4}, 0, func(b int64) bool { return b == bweInitial*80/100 }, "-20 %"},
		{"heavy loss never below the floor", repeated(0.9, 50), 0, func(b int64) bool { return b == bweMin }, "bweMin"},
		{"never above the ceiling", repeated(0.0, 200), 0, func(b int64) bool { return b == bweMax }, "bweMax"},
		{"grows no further than the receiver's reach", repeated(0.0, 200), 2_000_000, func(b int64) bool { return b == 2_000_000 }, "the reach"},
		{"a reach below the estimate does not cut it", []float64{0}, 500_000, func(b int64) bool { return b == bweInitial }, "unchanged"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newLossEstimate()
			if tc.reach > 0 {
				e.setReach(tc.reach)
			}
			for i, l := range tc.losses {
				e.report(l, start.Add(time.Duration(i+1)*600*time.Millisecond))
			}
			if b := e.get(); !tc.check(b) {
				t.Errorf("estimate %d, want %s of %d", b, tc.want, bweInitial)
			}
		})
	}
}

func TestUpNegotiation(t *testing.T) {
	s := newTestSFU(t)
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	publish(t, pub)
	eventually(t, 5*time.Second, "the up answer", func() bool { return pub.up.RemoteDescription() != nil })
	answer := pub.up.RemoteDescription().SDP
	for _, want := range []string{
		"usedtx=1",                // Opus DTX
		"maxaveragebitrate=32000", // at most 64 kbit/s of audio on the wire
		"rtx/90000",               // retransmissions on RTX
		"apt=96",                  // ... for VP8
		"a=simulcast:recv q;h;f",  // three layers accepted
		sdp.TransportCCURI,        // send-side estimation for the publisher
		sdp.AudioLevelURI,         // who is speaking
	} {
		if !strings.Contains(answer, want) {
			t.Errorf("up answer lacks %q", want)
		}
	}
	sub := join(t, s, "r", "viewer", Rights{}, false)
	// The first down offer with video (later ones keep only what the
	// receiver accepted: Pion's test client knows no abs-send-time).
	var offer string
	eventually(t, 10*time.Second, "a down offer", func() bool {
		sub.mu.Lock()
		defer sub.mu.Unlock()
		for _, o := range sub.offers {
			if strings.Contains(o, "m=video") {
				offer = o
				return true
			}
		}
		return false
	})
	for _, want := range []string{"goog-remb", sdp.ABSSendTimeURI} {
		if !strings.Contains(offer, want) {
			t.Errorf("down offer lacks %q:\n%s", want, offer)
		}
	}
	if strings.Contains(offer, sdp.TransportCCURI) {
		t.Error("down offer asks for TWCC: receivers would stop sending REMB")
	}
}

func TestWithOpusParams(t *testing.T) {
	for _, tc := range []struct{ name, in, want string }{
		{"adds what is missing",
			"a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1\r\n",
			"a=rtpmap:111 opus/48000/2\r\na=fmtp:111 minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=32000\r\n"},
		{"keeps the publisher's own choice",
			"a=rtpmap:109 OPUS/48000/2\r\na=fmtp:109 usedtx=0;maxaveragebitrate=32000\r\n",
			"a=rtpmap:109 OPUS/48000/2\r\na=fmtp:109 usedtx=0;maxaveragebitrate=32000;minptime=10;useinbandfec=1\r\n"},
		{"leaves other codecs alone",
			"a=rtpmap:96 VP8/90000\r\na=fmtp:97 apt=96\r\n",
			"a=rtpmap:96 VP8/90000\r\na=fmtp:97 apt=96\r\n"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := withOpusParams(tc.in); got != tc.want {
				t.Errorf("got  %q\nwant %q", got, tc.want)
			}
		})
	}
}
