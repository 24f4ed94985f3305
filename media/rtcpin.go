package media

import (
	"net/netip"
	"sync"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/srtp/v3"
)

// The SFU's own SRTCP reader for receivers on UDP. What a receiver sends
// back (receiver reports, REMB, NACK, PLI: a few packets a second each,
// hundreds a second for a room) would otherwise pass four goroutines
// inside Pion on its way to the track's RTCP reader: the ICE candidate's
// reader, the mux, the SRTCP session and the RTP sender's stream, each
// hand-off waking a thread. For a receiver whose down connection is
// connected over UDP, the UDP mux's own reader decrypts it with the
// receiver's SRTCP keys from the DTLS handshake and hands it to the
// tracks directly. Anything else (STUN, DTLS, RTCP from addresses the
// SFU does not know, or that does not decrypt) goes on to Pion as before.
// SRTCP carries its index in each packet, so nothing needs keeping in
// step with Pion's own SRTCP context.

// rtcpReader decrypts the SRTCP one receiver sends on its down
// connection.
type rtcpReader struct {
	mu  sync.Mutex // the fields below
	ctx *srtp.Context
	buf []byte
}

// srtcpReplayWindow is the SRTCP replay window (as Pion's default).
const srtcpReplayWindow = 64

// newReader makes the SRTCP reader for what the remote side of k's
// connection sends.
func (k *srtpKeys) newReader() (*rtcpReader, error) {
	ctx, err := srtp.CreateContext(k.remoteKey, k.remoteSalt, k.profile, srtp.SRTCPReplayProtection(srtcpReplayWindow))
	if err != nil {
		return nil, err
	}
	return &rtcpReader{ctx: ctx, buf: make([]byte, 0, maxRTPSize)}, nil
}

// read decrypts and parses SRTCP packet b; false when r is nil or b does
// not decrypt with its keys. An authentic but malformed packet gives no
// packets (dropped, as Pion would).
func (r *rtcpReader) read(b []byte) ([]rtcp.Packet, bool) {
	if r == nil {
		return nil, false
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	plain, err := r.ctx.DecryptRTCP(r.buf[:0], b, nil)
	if err != nil {
		return nil, false
	}
	pkts, err := rtcp.Unmarshal(plain)
	if err != nil {
		return nil, true
	}
	return pkts, true
}

// isRTCP tells RTCP (SRTCP) from RTP, STUN and DTLS (RFC 5761, RFC 7983).
func isRTCP(b []byte) bool {
	return len(b) >= 8 && b[0]&0xc0 == 0x80 && b[1] >= 192 && b[1] <= 223
}

// takeInbound is the batchConn's inbound hook: it handles the SRTCP of
// known receivers and the SRTP of known publishers on UDP (upin.go) and
// reports whether it did; the rest goes to Pion.
func (s *SFU) takeInbound(b []byte, from netip.AddrPort) bool {
	s.inbound.RLock()
	defer s.inbound.RUnlock()
	if s.inboundClosed {
		return false
	}
	if !isRTCP(b) {
		return isRTP(b) && s.takeRTP(b, from)
	}
	if v, ok := s.rtcpFrom.Load(from); ok {
		return v.(*Peer).takeRTCP(b)
	}
	if v, ok := s.upFrom.Load(from); ok {
		return v.(*Peer).upIn.takeRTCP(b, time.Now())
	}
	return false
}

// routeRTCP makes RTCP from addr reach p's own reader (old: the address
// it came from before, if any).
func (s *SFU) routeRTCP(p *Peer, old, addr *destQueue) {
	if old != nil {
		s.rtcpFrom.CompareAndDelete(old.addr, p)
	}
	if addr != nil {
		s.rtcpFrom.Store(addr.addr, p)
	}
}

// takeRTCP decrypts and handles one SRTCP packet from p's receiver;
// false when it is not one (Pion then gets it).
func (p *Peer) takeRTCP(b []byte) bool {
	pkts, ok := p.rtcpIn.Load().read(b)
	if !ok {
		return false
	}
	p.ownRTCP.Add(1)
	dts := p.downTracks()
	for _, pkt := range pkts {
		for _, ssrc := range pkt.DestinationSSRC() {
			for _, dt := range dts {
				if dt.track.SSRC() == ssrc {
					dt.handleRTCP(pkt)
				}
			}
		}
	}
	return true
}
