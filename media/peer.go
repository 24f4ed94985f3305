package media

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/rtcp"
	"github.com/pion/sdp/v3"
	"github.com/pion/webrtc/v4"
)

const (
	// gatherTimeout bounds the wait for the SFU's own candidates.
	gatherTimeout = 2 * time.Second
	// maxQueuedCandidates bounds remote candidates kept before the
	// remote description.
	maxQueuedCandidates = 64
	// audioShare is the bandwidth kept for each audio track when
	// sharing a receiver's estimate among its videos.
	audioShare = 64_000
	// rembValid is how long a REMB from a receiver caps its estimate.
	rembValid = 5 * time.Second
)

// Peer is one participant of a room, with its up and down connections.
type Peer struct {
	sfu      *SFU
	room     *room
	id       string
	streamID string // opaque stream ID of what it publishes
	ev       Events
	speech   speech

	mu        sync.Mutex // signaling and the fields below
	closed    bool
	rights    Rights
	audioOnly bool
	up        *webrtc.PeerConnection
	upCands   []webrtc.ICECandidateInit
	upAddr    netip.AddrPort // the up connection's UDP pair, if on the SFU's port
	published map[*webrtc.RTPReceiver]*pubTrack

	down        *webrtc.PeerConnection
	downCands   []webrtc.ICECandidateInit
	downBusy    bool // an offer waits for its answer
	downPending bool // another offer is needed after it
	downRestart bool // ... with an ICE restart
	subs        map[*pubTrack]*downTrack

	sigMu       sync.Mutex
	sigQueue    []Signal
	sigDraining bool

	upPC          atomic.Pointer[webrtc.PeerConnection] // p.up, for RTCP without p.mu
	upIn          upReader                              // the own SRTP reader of the up connection, see upin.go
	fbSSRC        uint32                                // sender SSRC of the feedback to the publisher
	lastRR        time.Time                             // tick only
	downConnected atomic.Bool
	remb          atomic.Int64
	rembAt        atomic.Int64
	lastSR        time.Time                  // tick only
	loss          *lossEstimate              // from the down connection's receiver reports
	downTCP       atomic.Bool                // the down connection runs over ICE-TCP
	downKeys      atomic.Pointer[srtpKeys]   // for the SFU's own SRTP writer, nil: Pion writes
	downSRTP      sendContext                // the own SRTP writer's context, made from downKeys
	downQueue     atomic.Pointer[destQueue]  // held batchConn queue of the UDP pair, nil: Pion writes
	rtcpIn        atomic.Pointer[rtcpReader] // the down connection's SRTCP from the receiver, see rtcpin.go
	ownRTCP       atomic.Uint64              // RTCP packets the own reader took
	tcpOnce       sync.Once
	queue         chan outPkt // TCP receivers only, see tcpQueue
	done          chan struct{}
}

func newPeer(s *SFU, r *room, cfg PeerConfig, ev Events) *Peer {
	p := &Peer{
		sfu:       s,
		room:      r,
		id:        cfg.ID,
		streamID:  randomID(),
		ev:        ev,
		rights:    cfg.Rights,
		audioOnly: cfg.AudioOnly,
		published: map[*webrtc.RTPReceiver]*pubTrack{},
		subs:      map[*pubTrack]*downTrack{},
		loss:      newLossEstimate(),
		fbSSRC:    randomSSRC(),
		done:      make(chan struct{}),
	}
	p.speech.report = ev.Speaking
	return p
}

func randomID() string {
	var b [8]byte
	_, _ = rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

func randomSSRC() uint32 {
	var b [4]byte
	_, _ = rand.Read(b[:])
	return binary.BigEndian.Uint32(b[:])
}

// ID is the ID the peer joined with.
func (p *Peer) ID() string { return p.id }

// StreamID is the opaque stream ID under which the other peers receive
// what this peer publishes (the msid of the tracks in their down SDP).
// Signaling can map it to a participant for the clients.
func (p *Peer) StreamID() string { return p.streamID }

// pushSignal queues a signal; flushSignals delivers it. Signals are
// queued with p.mu held and delivered after it is released, in order,
// never two at once for one peer.
func (p *Peer) pushSignal(s Signal) {
	p.sigMu.Lock()
	p.sigQueue = append(p.sigQueue, s)
	p.sigMu.Unlock()
}

func (p *Peer) flushSignals() {
	p.sigMu.Lock()
	if p.sigDraining {
		p.sigMu.Unlock()
		return
	}
	p.sigDraining = true
	for len(p.sigQueue) > 0 {
		s := p.sigQueue[0]
		p.sigQueue = p.sigQueue[1:]
		p.sigMu.Unlock()
		if p.ev.Signal != nil {
			p.ev.Signal(s)
		}
		p.sigMu.Lock()
	}
	p.sigDraining = false
	p.sigMu.Unlock()
}

// HandleSignal applies a signaling message from the peer's client: on
// Up an offer (also renegotiation or ICE restart; the answer goes out via
// Events.Signal) or a candidate, on Down an answer to the SFU's latest
// offer or a candidate. Candidates that come before the remote
// description are kept until it is set.
func (p *Peer) HandleSignal(sig Signal) error {
	if (sig.Description == nil) == (sig.Candidate == nil) {
		return fmt.Errorf("%w: need exactly one of description and candidate", ErrBadSignal)
	}
	if sig.Candidate != nil {
		if err := checkCandidate(*sig.Candidate); err != nil {
			return err
		}
	}
	defer p.flushSignals()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	switch sig.Direction {
	case Up:
		if sig.Candidate != nil {
			return addCandidate(p.up, &p.upCands, *sig.Candidate)
		}
		return p.handleUpOffer(*sig.Description)
	case Down:
		if sig.Candidate != nil {
			return addCandidate(p.down, &p.downCands, *sig.Candidate)
		}
		return p.handleDownAnswer(*sig.Description)
	}
	return fmt.Errorf("%w: direction %q", ErrBadSignal, sig.Direction)
}

func checkCandidate(c webrtc.ICECandidateInit) error {
	s := strings.TrimPrefix(c.Candidate, "candidate:")
	if s == "" { // end of candidates
		return nil
	}
	if _, err := ice.UnmarshalCandidate(s); err != nil {
		return fmt.Errorf("%w: candidate: %v", ErrBadSignal, err)
	}
	return nil
}

func addCandidate(pc *webrtc.PeerConnection, queue *[]webrtc.ICECandidateInit, c webrtc.ICECandidateInit) error {
	if pc == nil || pc.RemoteDescription() == nil {
		if len(*queue) >= maxQueuedCandidates {
			return fmt.Errorf("%w: too many candidates before the description", ErrBadSignal)
		}
		*queue = append(*queue, c)
		return nil
	}
	if c.Candidate == "" {
		return nil
	}
	return pc.AddICECandidate(c)
}

func flushCandidates(pc *webrtc.PeerConnection, queue *[]webrtc.ICECandidateInit) {
	for _, c := range *queue {
		if c.Candidate != "" {
			_ = pc.AddICECandidate(c)
		}
	}
	*queue = nil
}

// checkSDP parses a description so that garbage is refused before Pion
// sees it.
func checkSDP(d webrtc.SessionDescription) error {
	var s sdp.SessionDescription
	if err := s.UnmarshalString(d.SDP); err != nil {
		return fmt.Errorf("%w: SDP: %v", ErrBadSignal, err)
	}
	if len(s.MediaDescriptions) == 0 {
		return fmt.Errorf("%w: SDP without media", ErrBadSignal)
	}
	return nil
}

func (p *Peer) handleUpOffer(d webrtc.SessionDescription) error {
	if d.Type != webrtc.SDPTypeOffer {
		return fmt.Errorf("%w: up takes offers, got %s", ErrBadSignal, d.Type)
	}
	if err := checkSDP(d); err != nil {
		return err
	}
	if p.up == nil {
		pc, err := p.sfu.newUpPC(p)
		if err != nil {
			return err
		}
		pc.OnTrack(p.onUpTrack)
		pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
			if p.ev.Connection != nil {
				p.ev.Connection(Up, s)
			}
		})
		pc.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(p.upPairChanged)
		pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
			if s != webrtc.PeerConnectionStateConnected || p.upIn.keyed() {
				return
			}
			if k, err := srtpKeysOf(pc, false); err != nil {
				p.sfu.log.Warn("media: Pion decrypts this publisher's media (slower)", "peer", p.id, "err", err)
			} else if err := p.upIn.setKeys(k); err != nil {
				p.sfu.log.Warn("media: Pion decrypts this publisher's media (slower)", "peer", p.id, "err", err)
			}
		})
		p.up = pc
		p.upPC.Store(pc)
	}
	if err := p.up.SetRemoteDescription(d); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignal, err)
	}
	flushCandidates(p.up, &p.upCands)
	answer, err := p.up.CreateAnswer(nil)
	if err != nil {
		return err
	}
	if err := setLocal(p.up, answer, false); err != nil {
		return err
	}
	// Pion refuses a changed answer as its local description; the
	// publisher gets it with the Opus wishes added (only the sender acts
	// on them).
	sent := *p.up.LocalDescription()
	sent.SDP = withOpusParams(sent.SDP)
	p.pushSignal(Signal{Direction: Up, Description: &sent})
	return nil
}

// withOpusParams adds the receiver's Opus wishes (opusFmtp: DTX, an
// average of at most 32 kbit/s) to the fmtp lines of Opus in an answer: Pion copies the
// offer's parameters, and these tell the publisher's encoder what to do.
func withOpusParams(sdp string) string {
	lines := strings.Split(sdp, "\r\n")
	opusPT := map[string]bool{}
	for _, l := range lines {
		if rest, ok := strings.CutPrefix(l, "a=rtpmap:"); ok {
			pt, codec, _ := strings.Cut(rest, " ")
			if strings.HasPrefix(strings.ToLower(codec), "opus/") {
				opusPT[pt] = true
			}
		}
	}
	want := strings.Split(opusFmtp, ";")
	for i, l := range lines {
		rest, ok := strings.CutPrefix(l, "a=fmtp:")
		if !ok {
			continue
		}
		pt, params, _ := strings.Cut(rest, " ")
		if !opusPT[pt] {
			continue
		}
		have := map[string]bool{}
		for _, kv := range strings.Split(params, ";") {
			k, _, _ := strings.Cut(strings.TrimSpace(kv), "=")
			have[k] = true
		}
		for _, kv := range want {
			if k, _, _ := strings.Cut(kv, "="); !have[k] {
				params += ";" + kv
			}
		}
		lines[i] = "a=fmtp:" + pt + " " + strings.TrimPrefix(params, ";")
	}
	return strings.Join(lines, "\r\n")
}

// setLocal sets a local description and waits until it carries the
// SFU's candidates (the SFU does not trickle: its candidates are host
// candidates on the muxed ports, known at once).
func setLocal(pc *webrtc.PeerConnection, d webrtc.SessionDescription, restart bool) error {
	gathered := webrtc.GatheringCompletePromise(pc)
	if err := pc.SetLocalDescription(d); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), gatherTimeout)
	defer cancel()
	select {
	case <-gathered:
	case <-ctx.Done():
	}
	if restart { // gathering state may not have left "complete"
		for ctx.Err() == nil {
			ld := pc.LocalDescription()
			if ld != nil && strings.Contains(ld.SDP, "a=candidate") &&
				pc.ICEGatheringState() == webrtc.ICEGatheringStateComplete {
				break
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return nil
}

func (p *Peer) handleDownAnswer(d webrtc.SessionDescription) error {
	if d.Type != webrtc.SDPTypeAnswer {
		return fmt.Errorf("%w: down takes answers, got %s", ErrBadSignal, d.Type)
	}
	if p.down == nil || !p.downBusy {
		return ErrNoDownOffer
	}
	if err := checkSDP(d); err != nil {
		return err
	}
	if err := p.down.SetRemoteDescription(d); err != nil {
		return fmt.Errorf("%w: %v", ErrBadSignal, err)
	}
	flushCandidates(p.down, &p.downCands)
	p.downBusy = false
	if p.downPending {
		restart := p.downRestart
		p.downPending, p.downRestart = false, false
		return p.offerDownLocked(restart)
	}
	return nil
}

// offerDownLocked sends a new down offer, or notes that one is needed
// when an offer is in flight (one at a time). p.mu held.
func (p *Peer) offerDownLocked(restart bool) error {
	if p.down == nil || p.closed {
		return nil
	}
	if p.downBusy {
		p.downPending = true
		p.downRestart = p.downRestart || restart
		return nil
	}
	offer, err := p.down.CreateOffer(&webrtc.OfferOptions{ICERestart: restart})
	if err != nil {
		return err
	}
	if err := setLocal(p.down, offer, restart); err != nil {
		return err
	}
	p.downBusy = true
	p.pushSignal(Signal{Direction: Down, Description: p.down.LocalDescription()})
	return nil
}

// RestartICE sends a new down offer with an ICE restart (after the
// answer to the current offer if one is in flight).
func (p *Peer) RestartICE() error {
	defer p.flushSignals()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return ErrClosed
	}
	if p.down == nil || p.down.LocalDescription() == nil {
		return ErrNothingToOffer
	}
	return p.offerDownLocked(true)
}

// ensureDownLocked creates the down connection and its writer. p.mu held.
func (p *Peer) ensureDownLocked() error {
	if p.down != nil {
		return nil
	}
	// No RFC 9335 header encryption on the way down: the SFU's own SRTP
	// writer does not do it, and the one header extension sent down,
	// abs-send-time, tells nobody anything.
	pc, err := p.sfu.dnAPI.NewPeerConnection(webrtc.Configuration{
		RTPHeaderEncryptionPolicy: webrtc.RTPHeaderEncryptionPolicyDisable,
	})
	if err != nil {
		return err
	}
	p.down = pc
	pc.SCTP().Transport().ICETransport().OnSelectedCandidatePairChange(p.downPairChanged)
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if p.ev.Connection != nil {
			p.ev.Connection(Down, s)
		}
	})
	pc.OnConnectionStateChange(func(s webrtc.PeerConnectionState) {
		was := p.downConnected.Load()
		now := s == webrtc.PeerConnectionStateConnected
		if now && p.downKeys.Load() == nil {
			// Before the tracks learn they are connected: their first
			// packet already has the keys to choose from.
			if k, err := srtpKeysOf(pc, true); err != nil {
				p.sfu.log.Warn("media: Pion encrypts this receiver's media (slower)", "peer", p.id, "err", err)
			} else if r, err := k.newReader(); err != nil {
				p.sfu.log.Warn("media: Pion encrypts this receiver's media (slower)", "peer", p.id, "err", err)
			} else {
				p.rtcpIn.Store(r)
				p.downKeys.Store(k)
			}
		}
		if now && (p.rtcpIn.Load() == nil || p.downQueue.Load() == nil) {
			for _, dt := range p.downTracks() {
				dt.readRTCPThroughPion()
			}
		}
		p.downConnected.Store(now)
		if now && !was {
			for _, dt := range p.downTracks() {
				dt.restart()
			}
		}
	})
	return nil
}

// downPairChanged follows the down connection's selected ICE candidate
// pair: over TCP a goroutine of its own writes (see tcpQueue); over UDP
// the SFU's own SRTP writer queues to the pair's address.
func (p *Peer) downPairChanged(pair *webrtc.ICECandidatePair) {
	p.downTCP.Store(pair != nil && pair.Local != nil && pair.Local.Protocol == webrtc.ICEProtocolTCP)
	var q *destQueue
	if addr, ok := udpDest(pair, p.sfu.batch); ok {
		q = p.sfu.batch.hold(addr)
	}
	p.mu.Lock()
	if p.closed && q != nil {
		p.sfu.batch.release(q)
		q = nil
	}
	old := p.downQueue.Swap(q)
	p.sfu.routeRTCP(p, old, q)
	p.mu.Unlock()
	if old != nil {
		p.sfu.batch.release(old)
	}
	if q == nil {
		for _, dt := range p.downTracks() {
			dt.readRTCPThroughPion()
		}
	}
}

// upPairChanged follows the up connection's selected ICE candidate pair:
// over UDP on the SFU's port, the own SRTP reader takes the publisher's
// packets from its address.
func (p *Peer) upPairChanged(pair *webrtc.ICECandidatePair) {
	addr, ok := udpDest(pair, p.sfu.batch)
	if !ok {
		addr = netip.AddrPort{}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return
	}
	p.sfu.routeUp(p, p.upAddr, addr)
	p.upAddr = addr
}

// ownRTCPPath reports whether the receiver's RTCP reaches the SFU's own
// reader (rtcpin.go), or may still: until the down connection is
// connected it is not known which way it goes, and nothing that needs
// RTCP has been sent yet.
func (p *Peer) ownRTCPPath() bool {
	if p.downTCP.Load() {
		return false
	}
	if !p.downConnected.Load() {
		return true
	}
	return p.rtcpIn.Load() != nil && p.downQueue.Load() != nil
}

// tcpQueue returns the queue of the goroutine that writes to a receiver
// over ICE-TCP, starting it the first time.
func (p *Peer) tcpQueue() chan<- outPkt {
	p.tcpOnce.Do(func() {
		p.queue = make(chan outPkt, queueLen)
		q := p.queue
		p.sfu.goOwned(func() {
			for {
				select {
				case <-p.done:
					return
				case o := <-q:
					o.dt.write(o)
				}
			}
		})
	})
	return p.queue
}

func (p *Peer) downTracks() []*downTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	l := make([]*downTrack, 0, len(p.subs))
	for _, dt := range p.subs {
		l = append(l, dt)
	}
	return l
}

// attach makes p receive t (if it may) and renegotiates.
func (p *Peer) attach(t *pubTrack) {
	defer p.flushSignals()
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.attachLocked(t) {
		p.offerLocked()
	}
}

// attachLocked adds t to the down connection if p may receive it and
// reports whether it did; the caller renegotiates. p.mu held.
func (p *Peer) attachLocked(t *pubTrack) bool {
	if p.closed || t.owner == p || p.subs[t] != nil || !t.active.Load() ||
		(p.audioOnly && t.kind == webrtc.RTPCodecTypeVideo) {
		return false
	}
	if err := p.ensureDownLocked(); err != nil {
		p.sfu.log.Warn("media: down connection", "peer", p.id, "err", err)
		return false
	}
	dt := &downTrack{pub: t, recv: p}
	dt.track = &localTrack{dt: dt, codec: t.codec, id: t.id, streamID: t.owner.streamID}
	sender, err := p.down.AddTrack(dt.track)
	if err != nil {
		p.sfu.log.Warn("media: add track", "peer", p.id, "err", err)
		return false
	}
	dt.sender = sender
	dt.created = time.Now()
	dt.target = t.lowestExpected(orderedLayers(t.layerList())) // start at the lowest layer
	p.subs[t] = dt
	t.addSub(dt)
	if !p.ownRTCPPath() {
		dt.readRTCPThroughPion()
	}
	return true
}

// offerLocked sends a down offer for added or removed tracks (logging a
// failure: the caller has no one to return it to). p.mu held.
func (p *Peer) offerLocked() {
	if err := p.offerDownLocked(false); err != nil {
		p.sfu.log.Warn("media: down offer", "peer", p.id, "err", err)
	}
}

// detach stops sending t to p and renegotiates.
func (p *Peer) detach(t *pubTrack) {
	defer p.flushSignals()
	p.mu.Lock()
	defer p.mu.Unlock()
	dt := p.subs[t]
	if dt == nil {
		return
	}
	delete(p.subs, t)
	t.removeSub(dt)
	dt.mu.Lock()
	dt.removed = true
	dt.mu.Unlock()
	if p.closed {
		return
	}
	_ = p.down.RemoveTrack(dt.sender)
	p.offerLocked()
}

// attachExisting subscribes p to every track of its room, with one
// offer for all of them: a joining receiver gets audio and video in its
// first offer, not in an offer and a renegotiation right after it (which
// costs a round trip, and which a client that starts its ICE agent
// asynchronously, as Pion does, can take for an ICE restart).
func (p *Peer) attachExisting() {
	tracks := p.room.publishedTracks() // before p.mu: the room's lock is not taken under it
	defer p.flushSignals()
	p.mu.Lock()
	defer p.mu.Unlock()
	added := false
	for _, t := range tracks {
		added = p.attachLocked(t) || added
	}
	if added {
		p.offerLocked()
	}
}

// onUpTrack receives one RTP stream the peer publishes (one per
// simulcast layer).
func (p *Peer) onUpTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	t := p.published[recv]
	isNew := t == nil
	if isNew {
		t = &pubTrack{
			id:    randomID(),
			owner: p,
			kind:  tr.Kind(),
			codec: tr.Codec().RTPCodecCapability,
			subs:  map[*Peer]*downTrack{},
		}
		t.rids = announcedRIDs(p.up, recv)
		for _, e := range recv.GetParameters().HeaderExtensions {
			if e.URI == sdp.AudioLevelURI {
				t.levelExt = uint8(e.ID)
			}
		}
		t.active.Store(p.allowedLocked(t.kind))
		p.published[recv] = t
	}
	l := &layer{pub: t, rid: tr.RID(), track: tr, clockRate: tr.Codec().ClockRate}
	l.recv.nack = t.kind == webrtc.RTPCodecTypeVideo && slices.ContainsFunc(tr.Codec().RTCPFeedback,
		func(f webrtc.RTCPFeedback) bool { return f.Type == webrtc.TypeRTCPFBNACK && f.Parameter == "" })
	t.mu.Lock()
	t.layers = append(t.layers, l)
	t.running++
	t.mu.Unlock()
	p.mu.Unlock()

	p.sfu.goReader(l.readLoop)
	if isNew && t.active.Load() {
		p.announce(t)
	}
}

func (p *Peer) allowedLocked(kind webrtc.RTPCodecType) bool {
	if kind == webrtc.RTPCodecTypeAudio {
		return p.rights.Audio
	}
	return p.rights.Video
}

// announce attaches t to every other peer of the room.
func (p *Peer) announce(t *pubTrack) {
	for _, q := range p.room.peerList() {
		if q != p {
			q.attach(t)
		}
	}
}

// withdraw stops forwarding t to everyone.
func withdraw(t *pubTrack) {
	t.active.Store(false)
	t.mu.Lock()
	subs := make([]*downTrack, 0, len(t.subs))
	for _, dt := range t.subs {
		subs = append(subs, dt)
	}
	t.mu.Unlock()
	for _, dt := range subs {
		dt.recv.detach(t)
	}
}

// layerEnded is called when the reader of one layer of t stops.
func (p *Peer) layerEnded(t *pubTrack) {
	t.mu.Lock()
	t.running--
	last := t.running == 0
	t.mu.Unlock()
	if !last {
		return
	}
	p.mu.Lock()
	for r, pt := range p.published {
		if pt == t {
			delete(p.published, r)
		}
	}
	p.mu.Unlock()
	withdraw(t)
}

func (p *Peer) activePublished() []*pubTrack {
	p.mu.Lock()
	defer p.mu.Unlock()
	var l []*pubTrack
	for _, t := range p.published {
		if t.active.Load() {
			l = append(l, t)
		}
	}
	return l
}

// SetRights changes what the peer may publish. A revoked kind stops
// being forwarded at once and its tracks are removed from the receivers;
// a granted one is forwarded again if the peer still sends it.
func (p *Peer) SetRights(r Rights) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.rights = r
	var on, off []*pubTrack
	for _, t := range p.published {
		allowed := p.allowedLocked(t.kind)
		if allowed && !t.active.Load() {
			t.active.Store(true)
			on = append(on, t)
		} else if !allowed && t.active.Load() {
			off = append(off, t)
		}
	}
	p.mu.Unlock()
	for _, t := range off {
		withdraw(t)
	}
	for _, t := range on {
		p.announce(t)
	}
}

// SetAudioOnly switches the peer between receiving everything and
// receiving audio only; the down connection is renegotiated.
func (p *Peer) SetAudioOnly(audioOnly bool) {
	p.mu.Lock()
	if p.closed || p.audioOnly == audioOnly {
		p.mu.Unlock()
		return
	}
	p.audioOnly = audioOnly
	var videos []*pubTrack
	for t := range p.subs {
		if t.kind == webrtc.RTPCodecTypeVideo {
			videos = append(videos, t)
		}
	}
	p.mu.Unlock()
	if audioOnly {
		for _, t := range videos {
			p.detach(t)
		}
		return
	}
	p.attachExisting()
}

// writeUpRTCP sends RTCP to the publisher. It does not take p.mu: it is
// called with other peers' locks held.
func (p *Peer) writeUpRTCP(pkt rtcp.Packet) {
	if up := p.upPC.Load(); up != nil {
		_ = up.WriteRTCP([]rtcp.Packet{pkt})
	}
}

// estimate is the receiver's available bandwidth (bit/s): the estimate
// from its receiver reports' loss, capped by its recent REMB.
func (p *Peer) estimate(now time.Time) int64 {
	est := p.loss.get()
	if now.UnixNano()-p.rembAt.Load() < int64(rembValid) {
		est = min(est, p.remb.Load())
	}
	return est
}

// tickPublish measures the layers of what p publishes and ends their
// stale half-queued frames.
func (p *Peer) tickPublish(now time.Time) {
	for _, l := range p.publishedLayers() {
		l.measure(now)
		l.endStaleFrame(now)
	}
	p.speech.check(now)
}

// tickReceive chooses the layers p receives: its estimate, minus a share
// for audio, split evenly among its videos.
func (p *Peer) tickReceive(now time.Time) {
	dts := p.downTracks()
	if now.Sub(p.lastSR) >= srInterval {
		p.lastSR = now
		p.sendReports(dts, now)
	}
	var videos []*downTrack
	audios := 0
	for _, dt := range dts {
		if dt.pub.kind == webrtc.RTPCodecTypeVideo {
			videos = append(videos, dt)
		} else {
			audios++
		}
	}
	if len(videos) == 0 {
		return
	}
	share := (p.estimate(now) - int64(audios)*audioShare) / int64(len(videos))
	// The loss estimate may grow to 1.5 times what the next layers up
	// need (GCC lets its estimate reach 1.5 times the received rate).
	reach := int64(audios) * audioShare
	for _, dt := range videos {
		reach += dt.chooseLayer(share, now) * 3 / 2
	}
	p.loss.setReach(max(reach, bweInitial))
}

// sendReports sends a sender report for each track p receives.
func (p *Peer) sendReports(dts []*downTrack, now time.Time) {
	var pkts []rtcp.Packet
	for _, dt := range dts {
		if sr := dt.track.senderReport(now); sr != nil {
			pkts = append(pkts, sr)
		}
	}
	p.mu.Lock()
	down := p.down
	p.mu.Unlock()
	if len(pkts) > 0 && down != nil {
		_ = down.WriteRTCP(pkts)
	}
}

func (p *Peer) receiverStats() []ReceiverStats {
	est := p.estimate(time.Now())
	var l []ReceiverStats
	for _, dt := range p.downTracks() {
		cur, target := dt.state()
		rs := ReceiverStats{PeerID: p.id, TrackID: dt.pub.id, Kind: dt.pub.kind.String(), Estimate: int(est)}
		if cur != nil {
			rs.Layer = cur.rid
		}
		if target != nil {
			rs.Target = target.rid
		}
		rs.Packets, rs.OwnSRTP = dt.track.counts()
		l = append(l, rs)
	}
	return l
}

// Close removes the peer from its room and closes its connections.
func (p *Peer) Close() {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		return
	}
	p.closed = true
	up, down := p.up, p.down
	var pubs []*pubTrack
	for _, t := range p.published {
		pubs = append(pubs, t)
	}
	subs := p.subs
	p.subs = map[*pubTrack]*downTrack{}
	p.mu.Unlock()

	close(p.done)
	p.mu.Lock()
	p.sfu.routeUp(p, p.upAddr, netip.AddrPort{})
	p.upAddr = netip.AddrPort{}
	p.mu.Unlock()
	if q := p.downQueue.Swap(nil); q != nil {
		p.sfu.routeRTCP(p, q, nil)
		p.sfu.batch.release(q)
	}
	for _, t := range pubs {
		withdraw(t)
	}
	for t, dt := range subs {
		t.removeSub(dt)
		dt.mu.Lock()
		dt.removed = true
		dt.mu.Unlock()
	}
	if up != nil {
		_ = up.Close()
	}
	if down != nil {
		_ = down.Close()
	}
	p.sfu.removePeer(p)
}

// announcedRIDs returns the simulcast RIDs the client announced for the
// m-line of recv.
func announcedRIDs(pc *webrtc.PeerConnection, recv *webrtc.RTPReceiver) []string {
	var mid string
	for _, tr := range pc.GetTransceivers() {
		if tr.Receiver() == recv {
			mid = tr.Mid()
		}
	}
	rd := pc.RemoteDescription()
	if rd == nil || mid == "" {
		return nil
	}
	// Parse a copy: Pion caches the parsed form in *rd, unsynchronised.
	var d sdp.SessionDescription
	if err := d.UnmarshalString(rd.SDP); err != nil {
		return nil
	}
	var rids []string
	for _, m := range d.MediaDescriptions {
		if v, _ := m.Attribute(sdp.AttrKeyMID); v != mid {
			continue
		}
		for _, a := range m.Attributes {
			if a.Key == "rid" {
				if f := strings.Fields(a.Value); len(f) >= 2 && f[1] == "send" {
					rids = append(rids, f[0])
				}
			}
		}
	}
	return rids
}
