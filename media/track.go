package media

import (
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// Keyframe requests to a publisher are at least this far apart per layer.
const pliInterval = 300 * time.Millisecond

// queueLen is the capacity of a receiver's send queue (packets, all its
// tracks together): about one second of a 1.5 Mbit/s stream plus audio.
const queueLen = 256

// pubTrack is one track a peer publishes: audio, or a video with one
// layer per simulcast encoding (one layer with RID "" without simulcast).
// All layers of one video share the RTPReceiver of their m-line.
type pubTrack struct {
	id       string // opaque, shown to receivers as the track ID
	owner    *Peer
	kind     webrtc.RTPCodecType
	codec    webrtc.RTPCodecCapability
	levelExt uint8    // audio level header extension ID on up, 0 if none
	rids     []string // simulcast RIDs announced in the up SDP

	active atomic.Bool // forwarded (the owner has the right)

	mu      sync.Mutex
	layers  []*layer // in arrival order
	running int      // layers whose reader still runs
	subs    map[*Peer]*downTrack
	subList atomic.Pointer[[]*downTrack] // copy of subs for the packet path
}

// layer is one RTP stream of a published track.
type layer struct {
	pub       *pubTrack
	rid       string
	track     *webrtc.TrackRemote
	clockRate uint32

	bytes     atomic.Uint64
	lastPkt   atomic.Int64 // unix ns of the last packet
	lastPLI   atomic.Int64 // unix ns of the last keyframe request
	bitrate   atomic.Int64 // smoothed bit/s, updated by the tick
	prevBytes uint64       // tick only
	prevAt    time.Time    // tick only

	cache layerCache     // recent packets, for retransmission (video)
	fanWG sync.WaitGroup // handle only: the shards of one packet

	// in serialises handle: packets come from Pion's track (readLoop) and,
	// for a publisher on UDP, from the SFU's own reader (upin.go).
	in      sync.Mutex
	newest  uint16 // the highest sequence number forwarded
	seenAny bool   // newest is set
	burst   int    // video: bytes queued for each receiver since the frame began (SFU.openFrames)

	frameAt atomic.Int64 // video: unix ns the half-queued frame began, 0: none (SFU.openFrames)

	recv recvStats // what the publisher is told: reports and NACKs (own lock)
}

func (t *pubTrack) setSubs() {
	l := make([]*downTrack, 0, len(t.subs))
	for _, dt := range t.subs {
		l = append(l, dt)
	}
	t.subList.Store(&l)
}

func (t *pubTrack) addSub(dt *downTrack) {
	t.mu.Lock()
	t.subs[dt.recv] = dt
	t.setSubs()
	t.mu.Unlock()
}

func (t *pubTrack) removeSub(dt *downTrack) {
	t.mu.Lock()
	if t.subs[dt.recv] == dt {
		delete(t.subs, dt.recv)
		t.setSubs()
	}
	t.mu.Unlock()
}

func (t *pubTrack) subscribers() []*downTrack {
	if l := t.subList.Load(); l != nil {
		return *l
	}
	return nil
}

func (t *pubTrack) layerList() []*layer {
	t.mu.Lock()
	defer t.mu.Unlock()
	return slices.Clone(t.layers)
}

// orderedLayers returns the layers from lowest to highest quality: by the
// usual RID names (q/h/f, l/m/h, 0/1/2) when they are used, else by
// measured bitrate.
func orderedLayers(ls []*layer) []*layer {
	ls = slices.Clone(ls)
	if len(ls) < 2 {
		return ls
	}
	if ls[0].pub.kind != webrtc.RTPCodecTypeVideo {
		return ls
	}
	rank := ridRanks(ls)
	sort.SliceStable(ls, func(i, j int) bool {
		if rank != nil {
			return rank[ls[i].rid] < rank[ls[j].rid]
		}
		return ls[i].bitrate.Load() < ls[j].bitrate.Load()
	})
	return ls
}

func ridRanks(ls []*layer) map[string]int {
	has := map[string]bool{}
	for _, l := range ls {
		has[l.rid] = true
	}
	for _, r := range ls[0].pub.rids {
		has[r] = true
	}
	var rank map[string]int
	switch {
	case has["q"] || has["f"]:
		rank = map[string]int{"q": 0, "h": 1, "f": 2}
	case has["l"] || has["m"]:
		rank = map[string]int{"l": 0, "m": 1, "h": 2}
	default:
		rank = map[string]int{}
		for _, l := range ls {
			n, err := strconv.Atoi(l.rid)
			if err != nil {
				return nil
			}
			rank[l.rid] = n
		}
	}
	for _, l := range ls {
		if _, ok := rank[l.rid]; !ok {
			return nil
		}
	}
	return rank
}

// requestKeyframe asks the publisher for a keyframe on l (throttled).
func (l *layer) requestKeyframe() {
	if l == nil || l.pub.kind != webrtc.RTPCodecTypeVideo {
		return
	}
	now := time.Now().UnixNano()
	last := l.lastPLI.Load()
	if now-last < int64(pliInterval) || !l.lastPLI.CompareAndSwap(last, now) {
		return
	}
	l.pub.owner.writeUpRTCP(&rtcp.PictureLossIndication{MediaSSRC: uint32(l.track.SSRC())})
}

// measure updates the smoothed bitrate of l.
func (l *layer) measure(now time.Time) {
	b := l.bytes.Load()
	if !l.prevAt.IsZero() {
		dt := now.Sub(l.prevAt).Seconds()
		if dt > 0 {
			inst := float64(b-l.prevBytes) * 8 / dt
			old := float64(l.bitrate.Load())
			if old == 0 {
				old = inst
			}
			l.bitrate.Store(int64(0.7*old + 0.3*inst))
		}
	}
	if now.UnixNano()-l.lastPkt.Load() > int64(2*time.Second) {
		l.bitrate.Store(0)
	}
	l.prevBytes, l.prevAt = b, now
}

func (l *layer) alive(now time.Time) bool {
	return now.UnixNano()-l.lastPkt.Load() < int64(time.Second)
}

// maxBurst is how many bytes of one video frame a layer's reader queues
// for each receiver before it flushes: an ordinary frame of a 1.5 Mbit/s
// layer (about 6 KB) mostly goes out whole, a keyframe (30 to 60 KB) in
// parts of six or seven packets, one GSO message each. With hundreds of
// receivers the queued copies of a whole keyframe were megabytes, which
// the packet pool then kept.
const maxBurst = 8 << 10

// stale tells a video packet not to forward: one the layer has had
// already, or one older than the packets it keeps. Publishers send such
// duplicates when they retransmit (RTX) a packet that did arrive.
// Receivers have it; forwarding it again would encrypt a sequence number
// a second time with other bytes (a new send time), reusing an SRTP
// nonce. l.in held.
func (l *layer) stale(seq uint16) bool {
	if !l.seenAny {
		l.seenAny, l.newest = true, seq
		return false
	}
	switch d := int16(seq - l.newest); {
	case d > 0:
		l.newest = seq
		return false
	case int(d) <= -cacheSize:
		return true
	}
	return l.cache.get(seq) != nil
}

// readLoop reads one published RTP stream from Pion until it ends. For
// a publisher on UDP, Pion sees the stream's first packets only (until
// the SFU's own reader takes the SSRC), but the stream ends when Pion's
// track does.
func (l *layer) readLoop() {
	defer l.pub.owner.layerEnded(l.pub)
	defer l.pub.owner.upIn.unroute(l)
	scratch := make([]byte, 1500)
	routed := false
	for {
		n, a, err := l.track.Read(scratch)
		if err != nil {
			return
		}
		data := make([]byte, n)
		copy(data, scratch[:n])
		in := &inPacket{}
		if in.Packet.Unmarshal(data) != nil {
			continue
		}
		l.handle(in, n, time.Now(), a != nil && a.Get(webrtc.AttributeRtxSsrc) != nil)
		if !routed {
			// From now on the own reader takes the stream (on UDP). Not
			// before: what Pion has read already is older.
			routed = true
			up := &l.pub.owner.upIn
			up.route(uint32(l.track.SSRC()), l, false)
			if rtx := l.track.RtxSSRC(); rtx != 0 {
				up.routeRTX(uint32(rtx), uint32(l.track.SSRC()), l)
			}
		}
	}
}

// handle takes one published packet that arrived at now and hands it to
// the receivers that want it. The packet is shared, never modified after
// this point. size: its length; repair: it came on the RTX stream.
func (l *layer) handle(in *inPacket, size int, now time.Time, repair bool) {
	t := l.pub
	pkt := &in.Packet
	in.at = now.UnixNano()
	l.bytes.Add(uint64(size))
	l.lastPkt.Store(now.UnixNano())
	video := t.kind == webrtc.RTPCodecTypeVideo
	l.in.Lock()
	defer l.in.Unlock()
	l.recv.observe(pkt.SequenceNumber, pkt.Timestamp, now, l.clockRate, repair)
	if !t.active.Load() {
		return
	}
	kf := false
	if video {
		if l.stale(pkt.SequenceNumber) {
			return
		}
		l.cache.put(in)
		kf = isKeyframe(t.codec.MimeType, pkt.Payload)
	} else if t.levelExt != 0 {
		if ext := pkt.GetExtension(t.levelExt); len(ext) > 0 {
			t.owner.speech.observe(now, ext[0]&0x7f)
		}
	}
	s := t.owner.sfu
	s.fanOut(l, t.subscribers(), pkt, kf, now)
	if !video {
		// An audio packet goes at once: the goroutine that has it runs
		// anyway, while the batcher's timer would wake another thread
		// for nearly every packet. Unless a video frame is half-queued:
		// its end, a few milliseconds later, sends both, and the frame
		// stays one GSO message per receiver.
		if s.openFrames.Load() == 0 {
			s.flushMedia()
		}
		return
	}
	if l.burst == 0 {
		s.openFrames.Add(1)
		l.frameAt.Store(now.UnixNano())
	}
	l.burst += size
	// The end of a video frame: send it to everyone at once. A large
	// frame (a keyframe) goes in parts, so that what waits in the
	// queues stays below maxBurst per receiver however many there are.
	if pkt.Marker || l.burst >= maxBurst {
		s.flushMedia()
		l.endFrame()
	}
}

// endFrame notes that l has no frame half-queued (any more). l.in held.
func (l *layer) endFrame() {
	if l.burst > 0 {
		l.burst = 0
		l.frameAt.Store(0)
		l.pub.owner.sfu.openFrames.Add(-1)
	}
}

// staleFrame is how long a frame may stay half-queued before the tick
// stops audio waiting for it: its end was lost, or the layer stopped in
// the middle of it (the batcher's timer has sent what was queued).
const staleFrame = 100 * time.Millisecond

// endStaleFrame ends l's half-queued frame if it began more than
// staleFrame before now (the tick).
func (l *layer) endStaleFrame(now time.Time) {
	at := l.frameAt.Load()
	if at == 0 || now.UnixNano()-at < int64(staleFrame) {
		return
	}
	l.in.Lock()
	if l.frameAt.Load() == at {
		l.endFrame()
	}
	l.in.Unlock()
}

// downTrack is one published track as one receiver gets it.
type downTrack struct {
	pub    *pubTrack
	recv   *Peer
	track  *localTrack
	sender *webrtc.RTPSender

	bound atomic.Bool // the track is bound to the down transport

	pionRTCP sync.Once // starts rtcpLoop

	mu         sync.Mutex
	removed    bool
	cur        *layer // layer being forwarded, nil until the first keyframe
	target     *layer // layer wanted
	started    bool
	seqOff     uint16
	tsOff      uint32
	lastSeq    uint16
	lastTS     uint32
	lastAt     time.Time
	created    time.Time
	waitSince  time.Time                  // when the current wait for a keyframe began
	switchedAt time.Time                  // when forwarding started or last changed layer
	segments   [maxSegmentHistory]segment // newest first, for NACK
}

// upHoldoff is the minimum time on a layer before going up.
const upHoldoff = time.Second

// outPkt is a packet queued for a receiver: the shared packet and the
// rewritten sequence number and timestamp.
type outPkt struct {
	pkt *rtp.Packet
	dt  *downTrack
	seq uint16
	ts  uint32
	at  time.Time
}

// ready reports whether packets written now reach the receiver.
func (dt *downTrack) ready() bool {
	return dt.bound.Load() && dt.recv.downConnected.Load()
}

// restart makes the track wait for a keyframe of its target layer again
// (after binding or connecting) and asks for one.
func (dt *downTrack) restart() {
	if dt.pub.kind != webrtc.RTPCodecTypeVideo || !dt.ready() {
		return
	}
	dt.mu.Lock()
	if dt.cur == nil {
		dt.waitSince = time.Now()
	}
	t := dt.target
	dt.mu.Unlock()
	if t != nil {
		t.lastPLI.Store(0) // a new receiver gets its keyframe at once
		t.requestKeyframe()
	}
}

// push decides whether packet pkt of layer l goes to this receiver and
// queues it with rewritten sequence number and timestamp; it reports
// whether it did. Called from the layers' handle (fanOut), on the UDP
// port's reader, a layer's Pion reader or a fan-out worker.
func (dt *downTrack) push(l *layer, pkt *rtp.Packet, keyframe bool, now time.Time) bool {
	if !dt.ready() {
		return false
	}
	dt.mu.Lock()
	if dt.removed {
		dt.mu.Unlock()
		return false
	}
	if dt.cur != l {
		if l != dt.target || (!keyframe && dt.pub.kind == webrtc.RTPCodecTypeVideo) {
			dt.mu.Unlock()
			return false
		}
		// Switch (or start) at a keyframe of the target layer; the
		// receiver sees one continuous stream.
		if dt.started {
			dt.seqOff = dt.lastSeq + 1 - pkt.SequenceNumber
			ticks := uint32(now.Sub(dt.lastAt).Seconds() * float64(dt.pub.codec.ClockRate))
			if ticks == 0 {
				ticks = 1
			}
			dt.tsOff = dt.lastTS + ticks - pkt.Timestamp
		}
		dt.cur = l
		dt.switchedAt = now
		copy(dt.segments[1:], dt.segments[:])
		dt.segments[0] = segment{start: pkt.SequenceNumber + dt.seqOff, layer: l, seqOff: dt.seqOff, tsOff: dt.tsOff}
	}
	seq := pkt.SequenceNumber + dt.seqOff
	ts := pkt.Timestamp + dt.tsOff
	if !dt.started || int16(seq-dt.lastSeq) > 0 {
		dt.lastSeq, dt.lastTS, dt.lastAt = seq, ts, now
	}
	dt.started = true
	dt.mu.Unlock()

	o := outPkt{pkt: pkt, dt: dt, seq: seq, ts: ts, at: now}
	if !dt.recv.downTCP.Load() {
		// UDP: writing only queues the packet in the SFU's batchConn,
		// which never blocks; write here, in the publisher's reader.
		dt.write(o)
		return true
	}
	// TCP can block on a slow receiver: its own writer goroutine
	// writes, from a bounded queue.
	select {
	case dt.recv.tcpQueue() <- o:
		return true
	default:
		dt.recv.room.dropped.Add(1)
		return false
	}
}

// write sends one packet.
func (dt *downTrack) write(o outPkt) { dt.track.write(o.pkt, o.seq, o.ts, o.at) }

// lookup finds the packet the receiver knows as seq, with the timestamp
// it had, among the packets forwarded lately.
func (dt *downTrack) lookup(seq uint16) (*inPacket, uint32, bool) {
	dt.mu.Lock()
	defer dt.mu.Unlock()
	if !dt.started || int16(dt.lastSeq-seq) < 0 {
		return nil, 0, false
	}
	for _, sg := range dt.segments {
		if sg.layer == nil {
			break
		}
		if int16(seq-sg.start) < 0 {
			continue
		}
		p := sg.layer.cache.get(seq - sg.seqOff)
		if p == nil {
			return nil, 0, false
		}
		return p, p.Timestamp + sg.tsOff, true
	}
	return nil, 0, false
}

// setTarget sets the wanted layer and asks for its keyframe if it
// changed.
func (dt *downTrack) setTarget(l *layer) {
	dt.mu.Lock()
	changed := dt.target != l
	dt.target = l
	if changed && dt.cur != l {
		dt.waitSince = time.Now()
	}
	dt.mu.Unlock()
	if changed && dt.ready() {
		l.requestKeyframe()
	}
}

// state returns the current and target layers.
func (dt *downTrack) state() (cur, target *layer) {
	dt.mu.Lock()
	defer dt.mu.Unlock()
	return dt.cur, dt.target
}

// chooseLayer picks the target layer for a share of the receiver's
// bandwidth (bit/s): the highest live layer whose bitrate fits, with a
// 20 % margin to go up; the lowest one when none fits. It returns the
// bitrate of the layer above the one dt gets (of its own when it gets the
// top one, of the lowest when none yet): how far the receiver's estimate
// needs to reach.
func (dt *downTrack) chooseLayer(share int64, now time.Time) (reach int64) {
	ls := orderedLayers(dt.pub.layerList())
	if len(ls) == 0 {
		return 0
	}
	cur, target := dt.state()
	reach = ls[min(slices.Index(ls, cur)+1, len(ls)-1)].bitrate.Load()
	live := ls[:0:0]
	for _, l := range ls {
		if l.alive(now) {
			live = append(live, l)
		}
	}
	if len(live) == 0 {
		live = ls[:1]
	}
	curIdx := slices.Index(live, cur)
	best := live[0]
	for i, l := range live {
		need := l.bitrate.Load()
		if i > curIdx {
			need = need * 6 / 5
		}
		if need <= share {
			best = l
		}
	}
	// Go up one layer at a time, and only once the stream has run for
	// upHoldoff since the start or the last switch (the estimate needs
	// feedback first); go down at once.
	if bi := slices.Index(live, best); curIdx >= 0 && bi > curIdx {
		dt.mu.Lock()
		settled := !dt.switchedAt.IsZero() && now.Sub(dt.switchedAt) >= upHoldoff
		dt.mu.Unlock()
		if !settled {
			best = cur
		} else {
			best = live[curIdx+1]
		}
	} else if curIdx < 0 {
		// Not started: start on the lowest layer; wait a little for it
		// if the publisher's other layers came first.
		if low := dt.pub.lowestExpected(ls); low != nil {
			best = low
		} else if now.Sub(dt.created) < time.Second {
			return reach
		}
	}
	if best != target {
		dt.setTarget(best)
	}
	// Waiting too long for a keyframe: ask again.
	dt.mu.Lock()
	waiting := dt.cur != dt.target && !dt.waitSince.IsZero() && now.Sub(dt.waitSince) > time.Second
	if waiting {
		dt.waitSince = now
	}
	dt.mu.Unlock()
	if waiting && dt.ready() {
		best.requestKeyframe()
	}
	return reach
}

// readRTCPThroughPion starts reading the receiver's RTCP about this track
// from Pion, once: for receivers on ICE-TCP, or whose SRTP keys the SFU
// could not derive. Over UDP the SFU's own reader takes it (rtcpin.go)
// and the track needs no goroutine for it.
func (dt *downTrack) readRTCPThroughPion() {
	dt.pionRTCP.Do(func() { dt.recv.sfu.goOwned(dt.rtcpLoop) })
}

// rtcpLoop reads the RTCP a receiver sends about this track through Pion.
func (dt *downTrack) rtcpLoop() {
	buf := make([]byte, 1500)
	for {
		n, _, err := dt.sender.Read(buf)
		if err != nil {
			return
		}
		pkts, err := rtcp.Unmarshal(buf[:n])
		if err != nil {
			continue
		}
		for _, p := range pkts {
			dt.handleRTCP(p)
		}
	}
}

// handleRTCP handles what the receiver says about this track: keyframe
// requests, REMB, NACK and receiver reports.
func (dt *downTrack) handleRTCP(p rtcp.Packet) {
	switch p := p.(type) {
	case *rtcp.PictureLossIndication, *rtcp.FullIntraRequest:
		cur, target := dt.state()
		if cur == nil {
			cur = target
		}
		cur.requestKeyframe()
	case *rtcp.ReceiverEstimatedMaximumBitrate:
		dt.recv.remb.Store(int64(p.Bitrate))
		dt.recv.rembAt.Store(time.Now().UnixNano())
	case *rtcp.TransportLayerNack:
		if dt.pub.kind == webrtc.RTPCodecTypeVideo {
			dt.track.retransmit(p)
			dt.recv.sfu.flushMedia()
		}
	case *rtcp.ReceiverReport:
		for _, r := range p.Reports {
			if r.SSRC == dt.track.SSRC() && dt.pub.kind == webrtc.RTPCodecTypeVideo {
				dt.recv.loss.report(float64(r.FractionLost)/256, time.Now())
			}
		}
	}
}

func mimeIs(a, b string) bool { return strings.EqualFold(a, b) }

// isKeyframe reports whether an RTP payload starts a keyframe.
func isKeyframe(mime string, payload []byte) bool {
	switch {
	case mimeIs(mime, webrtc.MimeTypeVP8):
		return vp8Keyframe(payload)
	case mimeIs(mime, webrtc.MimeTypeH264):
		return h264Keyframe(payload)
	}
	return false
}

// vp8Keyframe parses the VP8 payload descriptor (RFC 7741): a keyframe
// starts in the first packet of partition 0 with the P bit clear.
func vp8Keyframe(b []byte) bool {
	if len(b) < 1 {
		return false
	}
	x, s, pid := b[0]&0x80 != 0, b[0]&0x10 != 0, b[0]&0x07
	if !s || pid != 0 {
		return false
	}
	i := 1
	if x {
		if len(b) < 2 {
			return false
		}
		ext := b[1]
		i = 2
		if ext&0x80 != 0 { // I: picture ID
			if len(b) <= i {
				return false
			}
			if b[i]&0x80 != 0 {
				i += 2
			} else {
				i++
			}
		}
		if ext&0x40 != 0 { // L: TL0PICIDX
			i++
		}
		if ext&0x30 != 0 { // T or K
			i++
		}
	}
	if len(b) <= i {
		return false
	}
	return b[i]&0x01 == 0
}

// h264Keyframe reports an IDR slice or SPS at the start of the payload
// (single NAL, STAP-A, or the first fragment of FU-A).
func h264Keyframe(b []byte) bool {
	if len(b) < 1 {
		return false
	}
	isKey := func(t byte) bool { return t == 5 || t == 7 }
	switch t := b[0] & 0x1f; t {
	case 24: // STAP-A
		for i := 1; i+2 < len(b); {
			size := int(b[i])<<8 | int(b[i+1])
			if i+2 < len(b) && isKey(b[i+2]&0x1f) {
				return true
			}
			i += 2 + size
		}
		return false
	case 28: // FU-A
		return len(b) > 1 && b[1]&0x80 != 0 && isKey(b[1]&0x1f)
	default:
		return isKey(t)
	}
}

// lowestExpected returns the layer of the lowest simulcast RID announced
// by the publisher (from the ordered layers ls), nil if it has not
// arrived yet or the RIDs cannot be ranked.
func (t *pubTrack) lowestExpected(ls []*layer) *layer {
	if len(ls) == 0 {
		return nil
	}
	if len(t.rids) <= 1 {
		return ls[0]
	}
	rank := ridRanks(ls)
	if rank == nil {
		return nil
	}
	lowRID := ""
	for _, r := range t.rids {
		if _, ok := rank[r]; ok && (lowRID == "" || rank[r] < rank[lowRID]) {
			lowRID = r
		}
	}
	for _, l := range ls {
		if l.rid == lowRID {
			return l
		}
	}
	return nil
}
