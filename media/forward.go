package media

import (
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/pion/rtcp"
	"github.com/pion/rtp"
	"github.com/pion/sdp/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// The down connections run without Pion's interceptors: with hundreds of
// receivers their per-packet work (a copy of every packet per receiver
// for NACK, locks and maps for reports) cost more than the rest of the
// forwarding together. localTrack does what a receiver needs itself:
//
//   - abs-send-time on video, for the receiver's own estimate (REMB);
//   - retransmission on NACK from one packet cache per published layer
//     (layerCache), shared by all receivers;
//   - sender reports, once a second, from the tick.

// cacheSize is the number of packets a layer keeps for retransmission
// (a power of two): about 2 s of a 2.5 Mbit/s layer.
const cacheSize = 512

// inPacket is a published packet and when it arrived (unix ns). A
// retransmission carries the abs-send-time of the first sending, so that
// it is the same packet again, byte for byte: SRTP encrypts it with the
// same nonce, and AES-GCM must never see one nonce with two different
// packets.
type inPacket struct {
	rtp.Packet
	at int64
}

// layerCache keeps a published layer's recent packets by sequence number.
// The layer's handle stores (l.in held), any goroutine loads.
type layerCache struct {
	pkts [cacheSize]atomic.Pointer[inPacket]
}

func (c *layerCache) put(p *inPacket) { c.pkts[p.SequenceNumber%cacheSize].Store(p) }

func (c *layerCache) get(seq uint16) *inPacket {
	p := c.pkts[seq%cacheSize].Load()
	if p == nil || p.SequenceNumber != seq {
		return nil
	}
	return p
}

// segment maps the receiver's sequence numbers from start on to a layer:
// the layer's sequence number is the receiver's minus seqOff.
type segment struct {
	start  uint16
	layer  *layer
	seqOff uint16
	tsOff  uint32
}

// maxSegments is how many layer switches a receiver remembers for NACK.
const maxSegmentHistory = 4

// localTrack is one track as the SFU sends it to one receiver.
type localTrack struct {
	dt       *downTrack
	codec    webrtc.RTPCodecCapability
	id       string
	streamID string

	mu      sync.Mutex // writes and the fields below
	bound   bool
	ssrc    uint32
	pt      uint8
	absID   uint8 // abs-send-time header extension ID, 0 if none
	stream  webrtc.TrackLocalWriter
	abs     [3]byte
	ext     [1]rtp.Extension
	hdr     rtp.Header    // scratch for write
	srtp    *srtp.Context // the receiver's downSRTP context (srtpout.go), nil until the keys are known
	plain   rtp.Packet    // scratch: the packet to encrypt
	parsed  rtp.Header    // scratch for the SRTP context
	scratch []byte        // for fillRTP when the packet goes through Pion
	packets uint32        // for sender reports
	ownSRTP uint32        // packets sent by the SFU's own SRTP writer
	octets  uint32
	lastTS  uint32
	lastAt  time.Time
	resent  [64]resend // recent retransmissions, by sequence number
}

type resend struct {
	seq uint16
	at  int64 // unix ns
}

// resendGap is the least time between two retransmissions of one packet.
const resendGap = 100 * time.Millisecond

func (t *localTrack) ID() string                { return t.id }
func (t *localTrack) RID() string               { return "" }
func (t *localTrack) StreamID() string          { return t.streamID }
func (t *localTrack) Kind() webrtc.RTPCodecType { return t.dt.pub.kind }

// Bind is called by Pion when the receiver's transport is ready for this
// track.
func (t *localTrack) Bind(ctx webrtc.TrackLocalContext) (webrtc.RTPCodecParameters, error) {
	codec, ok := matchCodec(t.codec, ctx.CodecParameters())
	if !ok {
		return webrtc.RTPCodecParameters{}, webrtc.ErrUnsupportedCodec
	}
	var absID uint8
	for _, e := range ctx.HeaderExtensions() {
		if e.URI == sdp.ABSSendTimeURI {
			absID = uint8(e.ID)
		}
	}
	t.mu.Lock()
	if uint32(ctx.SSRC()) != t.ssrc {
		// A new stream: counts (and SRTP's first packet) start again.
		t.packets, t.octets, t.ownSRTP, t.lastAt = 0, 0, 0, time.Time{}
	}
	t.bound, t.ssrc, t.pt, t.absID, t.stream = true, uint32(ctx.SSRC()), uint8(codec.PayloadType), absID, ctx.WriteStream()
	t.mu.Unlock()
	t.dt.bound.Store(true)
	t.dt.restart()
	return codec, nil
}

// Unbind is called by Pion when the track leaves the transport.
func (t *localTrack) Unbind(webrtc.TrackLocalContext) error {
	t.dt.bound.Store(false)
	t.mu.Lock()
	t.bound, t.stream = false, nil
	t.mu.Unlock()
	return nil
}

// matchCodec finds the receiver's codec for c: the same type and format
// parameters, or else the same type.
func matchCodec(c webrtc.RTPCodecCapability, offered []webrtc.RTPCodecParameters) (webrtc.RTPCodecParameters, bool) {
	var loose *webrtc.RTPCodecParameters
	for i, o := range offered {
		if !strings.EqualFold(o.MimeType, c.MimeType) {
			continue
		}
		if o.SDPFmtpLine == c.SDPFmtpLine {
			return o, true
		}
		if loose == nil {
			loose = &offered[i]
		}
	}
	if loose != nil {
		return *loose, true
	}
	return webrtc.RTPCodecParameters{}, false
}

// write sends pkt to the receiver with sequence number seq and timestamp
// ts. The packet is shared and stays unchanged.
func (t *localTrack) write(pkt *rtp.Packet, seq uint16, ts uint32, now time.Time) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bound {
		return
	}
	t.hdr = pkt.Header // a field, not a local: a local would escape to the heap
	h := &t.hdr
	h.SequenceNumber, h.Timestamp, h.SSRC, h.PayloadType = seq, ts, t.ssrc, t.pt
	// The publisher's header extensions use the up connection's IDs:
	// drop them; add the send time for the receiver's estimate.
	h.Extension, h.Extensions, h.ExtensionProfile = false, nil, 0
	if t.absID != 0 {
		putAbsSendTime(t.abs[:], now)
		h.Extensions = t.ext[:0] // no allocation: SetExtension appends here
		_ = h.SetExtension(t.absID, t.abs[:])
	}
	if err := t.send(h, pkt.Payload); err != nil {
		return
	}
	t.packets++
	t.octets += uint32(len(pkt.Payload))
	if int32(ts-t.lastTS) > 0 || t.lastAt.IsZero() {
		t.lastTS, t.lastAt = ts, now
	}
}

// send encrypts and queues one packet: itself when the receiver is on
// the SFU's UDP port, else through Pion (see srtpout.go). t.mu held.
func (t *localTrack) send(h *rtp.Header, payload []byte) error {
	recv := t.dt.recv
	if t.srtp == nil {
		if k := recv.downKeys.Load(); k != nil {
			ctx, err := recv.downSRTP.get(k)
			if err != nil {
				return err
			}
			t.srtp = ctx
		}
	}
	q := recv.downQueue.Load()
	own, runOwn := srtpPaths(h.SequenceNumber, q != nil && t.srtp != nil, t.packets == 0)
	if own {
		t.plain.Header, t.plain.Payload = *h, payload
		_, err := recv.sfu.batch.enqueueFilled(q, t)
		t.plain.Payload = nil
		if err == nil {
			t.ownSRTP++
		}
		return err
	}
	if _, err := t.stream.WriteRTP(h, payload); err != nil {
		return err
	}
	if runOwn && t.srtp != nil {
		// Only to keep the context's ROC in step.
		t.plain.Header, t.plain.Payload = *h, payload
		if cap(t.scratch) < maxRTPSize {
			t.scratch = make([]byte, maxRTPSize)
		}
		_, _ = t.fillRTP(t.scratch[:0])
		t.plain.Payload = nil
	}
	return nil
}

// fillRTP writes t.plain encrypted with t.srtp into dst (see rtpFiller).
// t.mu held.
func (t *localTrack) fillRTP(dst []byte) ([]byte, error) {
	n := t.plain.MarshalSize()
	if n+srtpMaxOverhead > cap(dst) {
		return nil, fmt.Errorf("media: RTP packet of %d bytes", n)
	}
	n, err := t.plain.MarshalTo(dst[:n])
	if err != nil {
		return nil, err
	}
	// In place: EncryptRTP writes into the buffer it reads.
	sc := &t.dt.recv.downSRTP
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return t.srtp.EncryptRTP(dst, dst[:n], &t.parsed)
}

// srtpMaxOverhead is the most SRTP adds to an RTP packet (the 16-byte
// AES-GCM tag; HMAC-SHA1-80 adds 10).
const srtpMaxOverhead = 16

// counts returns the packets sent so far and how many of them the SFU's
// own SRTP writer sent.
func (t *localTrack) counts() (packets, own uint32) {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.packets, t.ownSRTP
}

// retransmit sends the packets the receiver reported lost again, from the
// layers' caches.
func (t *localTrack) retransmit(nack *rtcp.TransportLayerNack) {
	now := time.Now()
	for _, pair := range nack.Nacks {
		for _, seq := range pair.PacketList() {
			pkt, ts, ok := t.dt.lookup(seq)
			if !ok {
				continue
			}
			t.mu.Lock()
			r := &t.resent[seq%uint16(len(t.resent))]
			recent := r.seq == seq && now.UnixNano()-r.at < int64(resendGap)
			if !recent {
				r.seq, r.at = seq, now.UnixNano()
			}
			t.mu.Unlock()
			if !recent {
				t.write(&pkt.Packet, seq, ts, time.Unix(0, pkt.at))
				t.dt.recv.room.retransmitted.Add(1)
			}
		}
	}
}

// senderReport describes what was sent, for the receiver's lip sync and
// round-trip time; nil before the first packet.
func (t *localTrack) senderReport(now time.Time) *rtcp.SenderReport {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.bound || t.lastAt.IsZero() {
		return nil
	}
	elapsed := now.Sub(t.lastAt).Seconds() * float64(t.codec.ClockRate)
	return &rtcp.SenderReport{
		SSRC:        t.ssrc,
		NTPTime:     ntpTime(now),
		RTPTime:     t.lastTS + uint32(elapsed),
		PacketCount: t.packets,
		OctetCount:  t.octets,
	}
}

// SSRC is the receiver-side SSRC of the track, 0 until bound.
func (t *localTrack) SSRC() uint32 {
	t.mu.Lock()
	defer t.mu.Unlock()
	return t.ssrc
}

// putAbsSendTime writes t as abs-send-time: 24 bits, seconds in 6.18
// fixed point.
func putAbsSendTime(b []byte, t time.Time) {
	ns := uint64(t.UnixNano())
	v := uint32((ns/1e9<<18 | (ns%1e9)<<18/1e9) & 0xffffff)
	b[0], b[1], b[2] = byte(v>>16), byte(v>>8), byte(v)
}

// ntpTime is t in the 64-bit NTP format of RTCP.
func ntpTime(t time.Time) uint64 {
	const ntpEpochOffset = 2208988800 // 1900 to 1970, in seconds
	ns := uint64(t.UnixNano())
	secs := ns/1e9 + ntpEpochOffset
	frac := (ns % 1e9) << 32 / 1e9
	return secs<<32 | frac
}
