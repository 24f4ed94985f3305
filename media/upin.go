package media

import (
	"encoding/binary"
	"net/netip"
	"strings"
	"sync"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/interceptor/pkg/twcc"
	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// The SFU's own way in for what a publisher on UDP sends. Through Pion a
// published packet passes four goroutines before the layer's reader gets
// it: the UDP mux's reader, the DTLS/SRTP mux, the SRTP session and the
// track. Each hand-off wakes a thread, and on a small virtual machine
// those wake-ups cost more than all the rest of the publisher's path
// (the benchmark's publisher alone: 25 to 44 ms of CPU a second, 15 with
// GOMAXPROCS=1, where nothing needs waking; 11 to 24 now).
//
// So, as for receivers' RTCP (rtcpin.go), the UDP mux's reader decrypts a
// publisher's SRTP itself, with the up connection's keys from the DTLS
// handshake, and hands the packet to its layer there and then
// (layer.handle, which queues it for every receiver). RTX packets are
// unwrapped to the packet they repair. It takes only the SSRCs of layers
// whose first packet Pion has delivered (layer.readLoop): a new stream's
// first packets, which Pion reads to learn its RID, anything that does
// not authenticate, one packet in srtpSyncEvery and everything of a
// publisher on ICE-TCP still go through Pion, whose track feeds the same
// layer.handle. (A publisher behind a TURN relay reaches the UDP port
// from the relay's address: the own reader takes its packets too.) The
// fan-out therefore runs on the reader's goroutine: Events.Speaking too.
//
// Feedback to the publisher is the SFU's own, for every packet whichever
// way it came: transport-wide congestion control feedback (TWCC, from a
// Recorder of Pion's here; what reaches Pion is recorded by twccTap), and
// receiver reports and NACKs (recvstats.go). One recorder must see every
// packet: feedback from two, each reporting the other's packets as not
// received, would tell the publisher's estimate of heavy loss.

// upReader decrypts the SRTP a publisher sends on its up connection.
type upReader struct {
	mu      sync.Mutex
	ctx     *srtp.Context // nil until the up connection's keys are known
	routes  map[uint32]*upRoute
	twccExt uint8 // transport-wide sequence number extension ID, 0: none
	twcc    *twcc.Recorder
	start   time.Time   // TWCC arrival times count from here
	rtcp    *rtcpReader // the publisher's SRTCP, for its sender reports
}

// upRoute is where the packets of one SSRC go.
type upRoute struct {
	l      *layer
	rtx    bool // the layer's RTX stream
	seeded bool // the context's rollover counter for it is set
}

// srtpReplayWindow is the SRTP replay window (as Pion's default).
const srtpReplayWindow = 64

// setKeys starts decrypting with k's remote keys.
func (u *upReader) setKeys(k *srtpKeys) error {
	// Cryptex enabled: packets with RFC 9335 header encryption decrypt
	// (when the publisher and Pion negotiated it), and packets without.
	ctx, err := srtp.CreateContext(k.remoteKey, k.remoteSalt, k.profile,
		srtp.SRTPReplayProtection(srtpReplayWindow), srtp.Cryptex(srtp.CryptexModeEnabled))
	if err != nil {
		return err
	}
	r, err := k.newReader()
	if err != nil {
		return err
	}
	u.mu.Lock()
	u.ctx, u.rtcp = ctx, r
	u.mu.Unlock()
	return nil
}

// takeRTCP reads the SRTCP b the publisher sent at now: the times of its
// sender reports go into the receiver reports' LSR and DLSR (RFC 3550,
// section 6.4.1), from which the publisher learns the round-trip time.
// Nothing else a publisher sends needs an answer. False when b does not
// decrypt (Pion then gets it).
func (u *upReader) takeRTCP(b []byte, now time.Time) bool {
	u.mu.Lock()
	r := u.rtcp
	u.mu.Unlock()
	pkts, ok := r.read(b)
	if !ok {
		return false
	}
	for _, pkt := range pkts {
		sr, ok := pkt.(*rtcp.SenderReport)
		if !ok {
			continue
		}
		u.mu.Lock()
		route := u.routes[sr.SSRC]
		u.mu.Unlock()
		if route != nil && !route.rtx {
			route.l.recv.senderReport(sr.NTPTime, now)
		}
	}
	return true
}

// keyed reports whether the keys are set.
func (u *upReader) keyed() bool {
	u.mu.Lock()
	defer u.mu.Unlock()
	return u.ctx != nil
}

// route makes the packets of ssrc go to l (rtx: they are l's RTX stream).
func (u *upReader) route(ssrc uint32, l *layer, rtx bool) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.routes == nil {
		u.routes = map[uint32]*upRoute{}
	}
	if _, ok := u.routes[ssrc]; !ok {
		u.routes[ssrc] = &upRoute{l: l, rtx: rtx}
	}
}

// routeRTX makes the packets of rtx go to l as its RTX stream, if l's
// own stream (ssrc) still has its route.
func (u *upReader) routeRTX(rtx, ssrc uint32, l *layer) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if r, ok := u.routes[ssrc]; ok && r.l == l {
		if _, ok := u.routes[rtx]; !ok {
			u.routes[rtx] = &upRoute{l: l, rtx: true}
		}
	}
}

// unroute forgets the routes to l.
func (u *upReader) unroute(l *layer) {
	u.mu.Lock()
	defer u.mu.Unlock()
	for ssrc, r := range u.routes {
		if r.l == l {
			delete(u.routes, ssrc)
		}
	}
}

// setTWCC records arrivals for TWCC feedback from now on, reading the
// transport-wide sequence number from header extension ext.
func (u *upReader) setTWCC(ext uint8, senderSSRC uint32) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.twcc != nil || ext == 0 {
		return
	}
	u.twccExt = ext
	u.twcc = twcc.NewRecorder(senderSSRC)
	u.start = time.Now()
}

// record notes the arrival of a packet of ssrc with header h at now, for
// TWCC feedback.
func (u *upReader) record(ssrc uint32, h *rtp.Header, now time.Time) {
	u.mu.Lock()
	u.recordLocked(ssrc, h, now)
	u.mu.Unlock()
}

func (u *upReader) recordLocked(ssrc uint32, h *rtp.Header, now time.Time) {
	if u.twcc == nil {
		return
	}
	if ext := h.GetExtension(u.twccExt); len(ext) >= 2 {
		u.twcc.Record(ssrc, binary.BigEndian.Uint16(ext), now.Sub(u.start).Microseconds())
	}
}

// feedback returns the TWCC feedback for the packets recorded since the
// last call, by the own reader and by twccTap (none if there were none).
func (u *upReader) feedback() []rtcp.Packet {
	u.mu.Lock()
	defer u.mu.Unlock()
	if u.twcc == nil || u.twcc.PacketsHeld() == 0 {
		return nil
	}
	return u.twcc.BuildFeedbackPacket()
}

// take decrypts and forwards one SRTP packet b that arrived at now; false
// when it is not one to take here (Pion then gets it).
//
// Pion's SRTP context and this one each infer a stream's rollover counter
// from the sequence numbers they see, which works across gaps of less
// than 2^15. So that Pion can take a stream back (the publisher moves to
// ICE-TCP, say) after it has wrapped, Pion gets one packet in
// srtpSyncEvery, as on the way down (srtpout.go). The other way, a stream
// this context first sees after Pion has read it for a while starts from
// the rollover counter the layer's account knows.
func (u *upReader) take(b []byte, now time.Time) bool {
	if len(b) < 12 {
		return false
	}
	ssrc := binary.BigEndian.Uint32(b[8:12])
	seq := binary.BigEndian.Uint16(b[2:4])
	if seq%srtpSyncEvery == 0 {
		return false
	}
	u.mu.Lock()
	r, ok := u.routes[ssrc]
	if !ok || u.ctx == nil {
		u.mu.Unlock()
		return false
	}
	if !r.seeded {
		r.seeded = true
		if _, known := u.ctx.ROC(ssrc); !known && !r.rtx {
			if roc, ok := r.l.recv.roc(seq); ok {
				u.ctx.SetROC(ssrc, roc)
			}
		}
	}
	plain, err := u.ctx.DecryptRTP(make([]byte, len(b)), b, nil)
	if err != nil {
		u.mu.Unlock()
		// A replay (a duplicate on the way, or an attack) is dropped;
		// Pion, whose window is not this one, would take it. What does
		// not authenticate with these keys is left to Pion.
		return strings.Contains(err.Error(), "duplicated")
	}
	in := &inPacket{}
	pkt := &in.Packet
	if pkt.Unmarshal(plain) != nil {
		u.mu.Unlock()
		return true // authentic but malformed: dropped, as Pion would
	}
	u.recordLocked(ssrc, &pkt.Header, now)
	u.mu.Unlock()
	size := len(plain)
	if r.rtx && !unwrapRTX(pkt, r.l) {
		return true // padding only: a probe for the publisher's estimate
	}
	r.l.handle(in, size, now, r.rtx)
	return true
}

// unwrapRTX turns an RTX packet (RFC 4588) of l into the packet it
// repairs; false if it repairs none.
func unwrapRTX(pkt *rtp.Packet, l *layer) bool {
	if len(pkt.Payload) < 2 {
		return false
	}
	pkt.SequenceNumber = binary.BigEndian.Uint16(pkt.Payload)
	pkt.Payload = pkt.Payload[2:]
	pkt.SSRC = uint32(l.track.SSRC())
	pkt.PayloadType = uint8(l.track.PayloadType())
	pkt.Padding, pkt.PaddingSize = false, 0
	return true
}

// takeRTP is the inbound hook's part for publishers: SRTP from the
// address of a publisher's up connection.
func (s *SFU) takeRTP(b []byte, from netip.AddrPort) bool {
	v, ok := s.upFrom.Load(from)
	if !ok {
		return false
	}
	if !v.(*Peer).upIn.take(b, time.Now()) {
		return false
	}
	s.readOwn.Add(1)
	return true
}

// routeUp makes SRTP from addr reach p's own reader (old: the address
// its up connection had before, if any).
func (s *SFU) routeUp(p *Peer, old, addr netip.AddrPort) {
	if old.IsValid() {
		s.upFrom.CompareAndDelete(old, p)
	}
	if addr.IsValid() {
		s.upFrom.Store(addr, p)
	}
}

// twccTap is an interceptor of the up API: it records, for the SFU's own
// TWCC feedback, the packets of a publisher that reach Pion (a stream's
// first packets, RTX before its SSRC is known, everything over ICE-TCP
// and TURN). Pion builds an up connection's interceptors while the SFU
// makes the connection (newUpPC), which tells the factory whose they are.
type twccTap struct {
	mu   sync.Mutex // held while an up connection is made
	next *Peer
}

// NewInterceptor implements interceptor.Factory.
func (f *twccTap) NewInterceptor(string) (interceptor.Interceptor, error) {
	return &twccTapOf{p: f.next}, nil
}

// twccTapOf is the twccTap of one up connection.
type twccTapOf struct {
	interceptor.NoOp
	p *Peer // nil for a connection not made by newUpPC
}

// BindRemoteStream records the stream's packets as Pion reads them.
func (t *twccTapOf) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	var ext uint8
	for _, e := range info.RTPHeaderExtensions {
		if e.URI == sdp.TransportCCURI {
			ext = uint8(e.ID)
		}
	}
	if ext == 0 || t.p == nil {
		return reader
	}
	p, ssrc := t.p, info.SSRC
	p.upIn.setTWCC(ext, p.fbSSRC)
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		n, a, err := reader.Read(b, a)
		if err != nil {
			return n, a, err
		}
		if a == nil {
			a = interceptor.Attributes{}
		}
		if h, err := a.GetRTPHeader(b[:n]); err == nil {
			p.upIn.record(ssrc, h, time.Now())
		}
		return n, a, nil
	})
}

// newUpPC makes p's up connection.
func (s *SFU) newUpPC(p *Peer) (*webrtc.PeerConnection, error) {
	s.twccTap.mu.Lock()
	defer s.twccTap.mu.Unlock()
	s.twccTap.next = p
	defer func() { s.twccTap.next = nil }()
	return s.upAPI.NewPeerConnection(webrtc.Configuration{})
}
