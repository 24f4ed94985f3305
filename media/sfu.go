package media

import (
	"errors"
	"fmt"
	"log/slog"
	"net"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/dtls/v3"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/sdp/v3"
	"github.com/pion/transport/v5"
	"github.com/pion/transport/v5/stdnet"
	"github.com/pion/webrtc/v4"
)

// Errors returned by the SFU.
var (
	ErrClosed         = errors.New("media: closed")
	ErrDuplicatePeer  = errors.New("media: peer ID already in room")
	ErrBadSignal      = errors.New("media: bad signal")
	ErrNoDownOffer    = errors.New("media: no down offer to answer")
	ErrNothingToOffer = errors.New("media: nothing to offer on down")
)

// Bandwidth estimation settings (bit/s) for the down connections.
const (
	bweInitial = 1_000_000
	bweMin     = 50_000
	bweMax     = 8_000_000
	// tickInterval drives layer selection, bitrate measurement and the
	// speaking timeout.
	tickInterval = 250 * time.Millisecond
	// srInterval is the time between sender reports to a receiver.
	srInterval = time.Second
	// feedbackInterval paces what the SFU tells publishers: TWCC
	// feedback and NACKs (as Pion's interceptors), receiver reports
	// every rrInterval.
	feedbackInterval = 100 * time.Millisecond
	rrInterval       = time.Second
)

// SFU is a selective forwarding unit: rooms of peers, each publishing on
// its "up" PeerConnection and receiving on its "down" one.
type SFU struct {
	cfg   Config
	log   *slog.Logger
	upAPI *webrtc.API
	dnAPI *webrtc.API
	udp   net.PacketConn
	tcp   net.Listener
	batch *batchConn // s.udp, when it is a UDP socket
	// rtcpFrom maps the UDP address of a receiver's down connection to
	// its *Peer, for the own SRTCP reader (rtcpin.go).
	rtcpFrom sync.Map
	// upFrom maps the UDP address of a publisher's up connection to its
	// *Peer, for the own SRTP reader (upin.go).
	upFrom  sync.Map
	readOwn atomic.Uint64 // published packets the own reader took
	// openFrames counts the video layers with a frame half-queued in
	// the batcher: audio waits for their end (layer.handle).
	openFrames atomic.Int32
	// procs is the number of processors the Go runtime runs on, as the
	// tick last saw it (it may change: package procs): the fan-out
	// shards over workers only where they can run.
	procs atomic.Int32
	// inbound is held (read) while the UDP port's reader handles a packet
	// itself; Close takes it to stop that before the fan-out workers.
	inbound       sync.RWMutex
	inboundClosed bool
	twccTap       twccTap // the up API's TWCC recorder, see upin.go

	fanJobs    chan fanJob // see fanout.go
	fanWorkers int
	fanShard   int            // fanShard; tests lower it
	fanStop    chan struct{}  // closed when the readers have ended
	readers    sync.WaitGroup // the layers' readers
	udpMux     ice.UDPMux
	tcpMux     ice.TCPMux

	mu     sync.Mutex
	rooms  map[string]*room
	closed bool

	done chan struct{}
	wg   sync.WaitGroup // every goroutine the SFU starts
}

// New creates an SFU and opens its media ports.
func New(cfg Config) (*SFU, error) {
	s := &SFU{
		cfg:   cfg,
		log:   cfg.Logger,
		rooms: map[string]*room{},
		done:  make(chan struct{}),
	}
	if s.log == nil {
		s.log = slog.New(slog.DiscardHandler)
	}
	listenIP := cfg.ListenIP
	if cfg.LoopbackOnly {
		listenIP = "127.0.0.1"
	}
	udpNet, tcpNet := "udp", "tcp"
	if cfg.LoopbackOnly {
		udpNet, tcpNet = "udp4", "tcp4"
	}
	var err error
	uc, steered, err := listenMediaUDP(udpNet, net.JoinHostPort(listenIP, strconv.Itoa(cfg.UDPPort)))
	if err != nil {
		return nil, fmt.Errorf("media: UDP port: %w", err)
	}
	var sendErr error
	if s.batch, sendErr, err = newBatchConn(uc, steered); err != nil {
		_ = uc.Close()
		return nil, err
	}
	if sendErr != nil {
		s.log.Warn("media: sending on the UDP port's own socket", "err", sendErr)
	}
	s.batch.take = s.takeInbound
	s.udp = s.batch
	s.udpMux = webrtc.NewICEUDPMux(pionLogs{s.log}.NewLogger("udpmux"), s.udp)
	if cfg.TCPPort != -1 {
		s.tcp, err = net.Listen(tcpNet, net.JoinHostPort(listenIP, strconv.Itoa(cfg.TCPPort)))
		if err != nil {
			_ = s.udpMux.Close()
			_ = s.udp.Close()
			return nil, fmt.Errorf("media: TCP port: %w", err)
		}
		s.tcpMux = webrtc.NewICETCPMux(pionLogs{s.log}.NewLogger("tcpmux"), s.tcp, 32)
	}
	// One list of the machine's interfaces for all peers: each Pion ICE
	// agent would otherwise read them (a netlink dump) when it is made and
	// keep a copy of its own, about 7 KB a receiver. The UDP mux reads
	// them once at start as well.
	ifaces, err := stdnet.NewNet()
	if err != nil {
		s.closePorts()
		return nil, fmt.Errorf("media: network interfaces: %w", err)
	}
	se := s.settingEngine(ifaces)
	if s.upAPI, err = s.newAPI(se, false); err == nil {
		s.dnAPI, err = s.newAPI(se, true)
	}
	if err != nil {
		s.closePorts()
		return nil, err
	}
	s.startFanOut()
	s.wg.Add(1)
	go s.tickLoop()
	return s, nil
}

// UDPAddr is the address of the media UDP port.
func (s *SFU) UDPAddr() net.Addr { return s.udp.LocalAddr() }

// TCPAddr is the address of the ICE-TCP port, nil when disabled.
func (s *SFU) TCPAddr() net.Addr {
	if s.tcp == nil {
		return nil
	}
	return s.tcp.Addr()
}

func (s *SFU) settingEngine(ifaces transport.Net) webrtc.SettingEngine {
	var se webrtc.SettingEngine
	se.SetNet(ifaces)
	se.LoggerFactory = pionLogs{s.log}
	se.SetICEUDPMux(s.udpMux)
	nets := []webrtc.NetworkType{webrtc.NetworkTypeUDP4, webrtc.NetworkTypeUDP6}
	if s.cfg.LoopbackOnly {
		nets = []webrtc.NetworkType{webrtc.NetworkTypeUDP4}
	}
	if s.tcpMux != nil {
		se.SetICETCPMux(s.tcpMux)
		nets = append(nets, webrtc.NetworkTypeTCP4)
		if !s.cfg.LoopbackOnly {
			nets = append(nets, webrtc.NetworkTypeTCP6)
		}
	}
	se.SetNetworkTypes(nets)
	if len(s.cfg.PublicIPs) > 0 {
		se.SetNAT1To1IPs(s.cfg.PublicIPs, webrtc.ICECandidateTypeHost)
	}
	if s.cfg.LoopbackOnly {
		applyLoopback(&se)
	} else if ip := net.ParseIP(s.cfg.ListenIP); ip != nil && ip.IsLoopback() {
		// Bound to loopback only: without this Pion drops the one
		// candidate the mux has, and nobody could connect.
		se.SetIncludeLoopbackCandidate(true)
	}
	se.SetSRTPProtectionProfiles(
		dtls.SRTP_AEAD_AES_128_GCM,
		dtls.SRTP_AES128_CM_HMAC_SHA1_80,
	)
	// The SFU never originates data channels; it has no use for mDNS.
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	// ICE lite (RFC 8445 section 2.5), as SFUs with only host candidates
	// run: the clients check and nominate, the SFU answers. It sends no
	// keepalives of its own, so hundreds of receivers cost it no
	// connectivity-check timers and requests.
	se.SetLite(true)
	return se
}

// applyLoopback restricts a SettingEngine to 127.0.0.1 (tests, benchmarks).
func applyLoopback(se *webrtc.SettingEngine) {
	loop := net.IPv4(127, 0, 0, 1)
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(loop) })
	se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.Equal(loop) })
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
}

// opusFmtp is the Opus format both directions announce: in-band FEC, DTX,
// and an average of at most 32 kbit/s (RFC 7587), so that with the RTP
// header extensions, SRTP, UDP and IP headers of 50 packets a second
// (about 27 kbit/s, measured in Chromium) a voice stays within 64 kbit/s
// on the wire; browsers take maxaveragebitrate as their target: 64000
// there would mean about 90 kbit/s.
const opusFmtp = "minptime=10;useinbandfec=1;usedtx=1;maxaveragebitrate=32000"

// registerCodecs registers the codecs and header extensions both
// directions use.
func registerCodecs(m *webrtc.MediaEngine, down bool) error {
	// Up: the publisher's send-side estimate runs on our TWCC feedback.
	// Down: the receiver estimates (REMB, with abs-send-time) and its
	// receiver reports' loss moves our estimate (bwe.go); nothing to
	// record per packet sent.
	videoFB := []webrtc.RTCPFeedback{
		{Type: "nack"}, {Type: "nack", Parameter: "pli"}, {Type: "ccm", Parameter: "fir"},
	}
	var audioFB []webrtc.RTCPFeedback
	if down {
		videoFB = append(videoFB, webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBGoogREMB})
	} else {
		videoFB = append(videoFB, webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC})
		audioFB = []webrtc.RTCPFeedback{{Type: webrtc.TypeRTCPFBTransportCC}}
	}
	codecs := []struct {
		p    webrtc.RTPCodecParameters
		kind webrtc.RTPCodecType
	}{
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2,
			// DTX: silence costs almost nothing; see opusFmtp for the
			// bitrate.
			SDPFmtpLine: opusFmtp, RTCPFeedback: audioFB,
		}, PayloadType: 111}, webrtc.RTPCodecTypeAudio},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeVP8, ClockRate: 90000, RTCPFeedback: videoFB,
		}, PayloadType: 96}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFB,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42e01f",
		}, PayloadType: 102}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFB,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=42001f",
		}, PayloadType: 104}, webrtc.RTPCodecTypeVideo},
		{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
			MimeType: webrtc.MimeTypeH264, ClockRate: 90000, RTCPFeedback: videoFB,
			SDPFmtpLine: "level-asymmetry-allowed=1;packetization-mode=1;profile-level-id=640c1f",
		}, PayloadType: 106}, webrtc.RTPCodecTypeVideo},
	}
	if !down {
		// Publishers retransmit on their own RTX streams; the own reader
		// (upin.go), or Pion off UDP, repairs the track from them.
		for _, apt := range []webrtc.PayloadType{96, 102, 104, 106} {
			codecs = append(codecs, struct {
				p    webrtc.RTPCodecParameters
				kind webrtc.RTPCodecType
			}{webrtc.RTPCodecParameters{RTPCodecCapability: webrtc.RTPCodecCapability{
				MimeType: webrtc.MimeTypeRTX, ClockRate: 90000, SDPFmtpLine: fmt.Sprintf("apt=%d", apt),
			}, PayloadType: apt + 1}, webrtc.RTPCodecTypeVideo})
		}
	}
	for _, c := range codecs {
		if err := m.RegisterCodec(c.p, c.kind); err != nil {
			return err
		}
	}
	type ext struct {
		uri   string
		kinds []webrtc.RTPCodecType
	}
	both := []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio, webrtc.RTPCodecTypeVideo}
	audio := []webrtc.RTPCodecType{webrtc.RTPCodecTypeAudio}
	video := []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo}
	exts := []ext{{sdp.SDESMidURI, both}}
	if down {
		exts = append(exts, ext{sdp.ABSSendTimeURI, video})
	} else {
		exts = append(exts,
			ext{sdp.TransportCCURI, both},
			ext{sdp.AudioLevelURI, audio},
			ext{sdp.SDESRTPStreamIDURI, video},
			ext{sdp.SDESRepairRTPStreamIDURI, video},
		)
	}
	for _, e := range exts {
		for _, k := range e.kinds {
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: e.uri}, k); err != nil {
				return err
			}
		}
	}
	return nil
}

// maxNACKsPerPacket is how often the SFU asks a publisher for one lost
// packet: a lost retransmission or two.
const maxNACKsPerPacket = 3

// newAPI builds the API of one direction. Up: only twccTap, which
// records what reaches Pion into the peer's one TWCC account; the
// feedback, NACKs and receiver reports are the SFU's own (upin.go,
// recvstats.go). Down: no interceptors; localTrack stamps
// abs-send-time, answers NACKs from the shared layer caches and sends
// sender reports itself (see forward.go).
func (s *SFU) newAPI(se webrtc.SettingEngine, down bool) (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := registerCodecs(m, down); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if !down {
		// TWCC feedback is the SFU's own (upin.go): the header extension
		// and the feedback type as webrtc.ConfigureTWCCSender announces
		// them, a tap instead of Pion's generator.
		for _, kind := range []webrtc.RTPCodecType{webrtc.RTPCodecTypeVideo, webrtc.RTPCodecTypeAudio} {
			m.RegisterFeedback(webrtc.RTCPFeedback{Type: webrtc.TypeRTCPFBTransportCC}, kind)
			if err := m.RegisterHeaderExtension(webrtc.RTPHeaderExtensionCapability{URI: sdp.TransportCCURI}, kind); err != nil {
				return nil, err
			}
		}
		reg.Add(&s.twccTap)
	}
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(se)), nil
}

// Join adds a peer to a room, creating the room if needed.
//
// The new peer receives the tracks already published in the room: its
// first down offer may be emitted (Events.Signal) before Join returns.
func (s *SFU) Join(roomID string, pc PeerConfig, ev Events) (*Peer, error) {
	p, err := s.join(roomID, pc, ev)
	if err != nil {
		return nil, err
	}
	p.attachExisting()
	return p, nil
}

func (s *SFU) join(roomID string, pc PeerConfig, ev Events) (*Peer, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return nil, ErrClosed
	}
	r := s.rooms[roomID]
	if r == nil {
		r = &room{id: roomID, sfu: s, peers: map[string]*Peer{}}
		s.rooms[roomID] = r
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if _, dup := r.peers[pc.ID]; dup {
		return nil, ErrDuplicatePeer
	}
	p := newPeer(s, r, pc, ev)
	r.peers[pc.ID] = p
	return p, nil
}

// removePeer drops p from its room and the room when it is empty.
func (s *SFU) removePeer(p *Peer) {
	s.mu.Lock()
	defer s.mu.Unlock()
	r := p.room
	r.mu.Lock()
	if r.peers[p.id] == p {
		delete(r.peers, p.id)
	}
	empty := len(r.peers) == 0
	r.mu.Unlock()
	if empty && s.rooms[r.id] == r {
		delete(s.rooms, r.id)
	}
}

// Close closes every peer and the media ports and waits for every
// goroutine of the SFU to stop.
func (s *SFU) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	var peers []*Peer
	for _, r := range s.rooms {
		r.mu.Lock()
		for _, p := range r.peers {
			peers = append(peers, p)
		}
		r.mu.Unlock()
	}
	s.mu.Unlock()
	for _, p := range peers {
		p.Close()
	}
	close(s.done)
	s.readers.Wait()
	s.inbound.Lock()
	s.inboundClosed = true
	s.inbound.Unlock()
	close(s.fanStop)
	s.wg.Wait()
	if s.batch != nil {
		st := s.batch.Stats()
		s.log.Info("media: packets sent", "rtp_packets", st.Packets, "messages", st.Messages, "syscalls", st.Syscalls,
			"published_packets_read_own", s.readOwn.Load())
	}
	s.closePorts()
	return nil
}

func (s *SFU) closePorts() {
	if s.tcpMux != nil {
		_ = s.tcpMux.Close()
	}
	if s.tcp != nil {
		_ = s.tcp.Close()
	}
	if s.udpMux != nil {
		_ = s.udpMux.Close()
	}
	if s.udp != nil {
		_ = s.udp.Close()
	}
}

// flushMedia sends the media packets queued for sending.
func (s *SFU) flushMedia() {
	if s.batch != nil {
		s.batch.Flush()
	}
}

// go starts a goroutine owned by the SFU (waited for by Close).
func (s *SFU) goOwned(f func()) {
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		f()
	}()
}

// tickLoop periodically measures layer bitrates, chooses layers and times
// out speaking states.
func (s *SFU) tickLoop() {
	defer s.wg.Done()
	t := time.NewTicker(tickInterval)
	defer t.Stop()
	fb := time.NewTicker(feedbackInterval)
	defer fb.Stop()
	for {
		select {
		case <-s.done:
			return
		case now := <-t.C:
			s.procs.Store(int32(runtime.GOMAXPROCS(0)))
			for _, r := range s.roomList() {
				r.tick(now)
			}
		case now := <-fb.C:
			for _, r := range s.roomList() {
				for _, p := range r.peerList() {
					p.tickFeedback(now)
				}
			}
		}
	}
}

func (s *SFU) roomList() []*room {
	s.mu.Lock()
	defer s.mu.Unlock()
	rooms := make([]*room, 0, len(s.rooms))
	for _, r := range s.rooms {
		rooms = append(rooms, r)
	}
	return rooms
}

// ReceiverStats describes one forwarded track as one receiver gets it.
type ReceiverStats struct {
	PeerID  string // the receiver
	TrackID string // the published track (opaque)
	Kind    string // "audio" or "video"
	Layer   string // RID of the layer being forwarded ("" if none or not simulcast)
	Target  string // RID of the layer wanted
	// Estimate is the receiver's bandwidth estimate (bit/s).
	Estimate int
	// Packets were sent so far, OwnSRTP of them encrypted and queued by
	// the SFU itself rather than through Pion (see srtpout.go).
	Packets, OwnSRTP uint32
}

// RoomStats is a snapshot of a room.
type RoomStats struct {
	Peers            int
	Tracks           int // published tracks being forwarded
	PacketsForwarded uint64
	PacketsDropped   uint64 // dropped because a receiver's queue was full
	// PacketsRetransmitted counts packets sent again on a receiver's NACK.
	PacketsRetransmitted uint64
	Receivers            []ReceiverStats
}

// PublishedPacketsReadOwn counts the published packets, of all rooms so
// far, that the SFU's own reader decrypted rather than Pion (upin.go).
func (s *SFU) PublishedPacketsReadOwn() uint64 { return s.readOwn.Load() }

// Stats returns a snapshot of a room (zero if it does not exist).
func (s *SFU) Stats(roomID string) RoomStats {
	s.mu.Lock()
	r := s.rooms[roomID]
	s.mu.Unlock()
	if r == nil {
		return RoomStats{}
	}
	return r.stats()
}
