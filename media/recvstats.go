package media

import (
	"math"
	"slices"
	"sync"
	"time"

	"github.com/pion/rtcp"
)

// What the SFU tells a publisher about each stream it receives from it:
// receiver reports (RFC 3550, section 6.4.2 and appendix A) and NACKs for
// lost video packets (RFC 4585). The SFU keeps these itself rather than
// through Pion's interceptors, because on UDP its own reader (upin.go)
// takes the publisher's packets before Pion sees them; both ways in feed
// the same layer.handle, so one account covers both.

// recvStats is the reception account of one published stream. The
// layer's handle updates it, the feedback tick reads it; its own lock,
// so that the tick never waits for a fan-out.
type recvStats struct {
	mu            sync.Mutex
	started       bool
	base          time.Time // arrival times count from here (monotonic)
	baseSeq       uint32    // extended
	maxSeq        uint16
	cycles        uint32 // sequence number wraps, times 65536
	received      uint32
	expectedPrior uint32
	receivedPrior uint32
	reported      bool
	jitter        float64 // in timestamp units
	lastTransit   int64
	haveTransit   bool

	lastSR   uint32    // middle 32 bits of the NTP time of the publisher's last sender report
	lastSRAt time.Time // when it arrived

	nack    bool                   // ask for lost packets (video with NACK negotiated); set before the first packet
	missing map[uint16]*missingPkt // lost packets not yet repaired
}

// missingPkt is a lost packet: when its loss was noticed, NACKs sent.
type missingPkt struct {
	since time.Time
	sent  uint8
}

// nackDelay is how long a missing packet may be merely late (reordered
// on the way) before the publisher is asked for it; the feedback tick
// asks at most every feedbackInterval.
const nackDelay = 10 * time.Millisecond

// maxMissing bounds the lost packets remembered: a jump ahead by more
// starts the account of losses afresh (a publisher's restart, say).
const maxMissing = cacheSize

// observe counts packet seq with RTP timestamp ts that arrived at now
// (clockRate: the stream's timestamp rate). A repair (an RTX packet) is
// no longer missing, but counts neither as received (the loss on the
// wire is what the publisher's estimate wants) nor for jitter.
func (s *recvStats) observe(seq uint16, ts uint32, now time.Time, clockRate uint32, repair bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if repair {
		delete(s.missing, seq)
		return
	}
	if !s.started {
		s.started = true
		s.base = now
		s.baseSeq, s.maxSeq = uint32(seq), seq
		s.received = 1
		s.observeTransit(ts, now, clockRate)
		return
	}
	s.received++
	switch d := seq - s.maxSeq; {
	case d == 0:
	case d < 0x8000: // ahead of the highest so far
		if seq < s.maxSeq {
			s.cycles += 1 << 16
		}
		if s.nack {
			if d > maxMissing {
				clear(s.missing)
			} else {
				if s.missing == nil {
					s.missing = map[uint16]*missingPkt{}
				}
				for m := s.maxSeq + 1; m != seq; m++ {
					s.missing[m] = &missingPkt{since: now}
				}
			}
		}
		s.maxSeq = seq
	default: // late: a reordered packet
		delete(s.missing, seq)
		// Before the first report, a packet older than the first one
		// (the two ways in can deliver a stream's first packets out of
		// order) moves the start back.
		if first := uint16(s.baseSeq); !s.reported && s.cycles == 0 && seq < first && first-seq < maxMissing {
			s.baseSeq = uint32(seq)
		}
	}
	s.observeTransit(ts, now, clockRate)
}

// observeTransit updates the interarrival jitter (RFC 3550, A.8).
func (s *recvStats) observeTransit(ts uint32, now time.Time, clockRate uint32) {
	if clockRate == 0 {
		return
	}
	arrival := now.Sub(s.base).Microseconds() * int64(clockRate) / 1_000_000
	transit := arrival - int64(ts)
	if s.haveTransit {
		d := transit - s.lastTransit
		if d < 0 {
			d = -d
		}
		// A jump by a wrapped timestamp is not jitter.
		if d < int64(clockRate)*10 {
			s.jitter += (float64(d) - s.jitter) / 16
		}
	}
	s.lastTransit, s.haveTransit = transit, true
}

// roc returns the SRTP rollover counter of a packet with sequence number
// seq as this account knows the stream; false before its first packet.
func (s *recvStats) roc(seq uint16) (uint32, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return 0, false
	}
	roc := s.cycles >> 16
	switch d := seq - s.maxSeq; {
	case d != 0 && d < 0x8000 && seq < s.maxSeq: // ahead, across a wrap
		roc++
	case d >= 0x8000 && seq > s.maxSeq && roc > 0: // behind, from before a wrap
		roc--
	}
	return roc, true
}

// senderReport notes the publisher's sender report with NTP time ntp,
// arrived at now.
func (s *recvStats) senderReport(ntp uint64, now time.Time) {
	s.mu.Lock()
	s.lastSR, s.lastSRAt = uint32(ntp>>16), now
	s.mu.Unlock()
}

// report returns the reception report block for ssrc at now since the
// previous one (RFC 3550, appendix A.3); false before the first packet.
func (s *recvStats) report(ssrc uint32, now time.Time) (rtcp.ReceptionReport, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.started {
		return rtcp.ReceptionReport{}, false
	}
	ext := s.cycles + uint32(s.maxSeq)
	expected := ext - s.baseSeq + 1
	lost := int64(expected) - int64(s.received)
	lost = min(max(lost, 0), 0x7fffff) // 24 bits, duplicates make it negative
	expInterval := expected - s.expectedPrior
	recvInterval := s.received - s.receivedPrior
	s.expectedPrior, s.receivedPrior = expected, s.received
	s.reported = true
	var fraction uint8
	if lostInterval := int64(expInterval) - int64(recvInterval); expInterval > 0 && lostInterval > 0 {
		fraction = uint8(min(lostInterval<<8/int64(expInterval), 255))
	}
	rr := rtcp.ReceptionReport{
		SSRC:               ssrc,
		FractionLost:       fraction,
		TotalLost:          uint32(lost),
		LastSequenceNumber: ext,
		Jitter:             uint32(s.jitter),
	}
	if s.lastSR != 0 {
		// DLSR in units of 1/65536 s.
		rr.LastSenderReport = s.lastSR
		rr.Delay = uint32(min(max(now.Sub(s.lastSRAt).Seconds(), 0)*65536, math.MaxUint32))
	}
	return rr, true
}

// nacks returns the lost packets to ask for at now: each at most
// maxNACKsPerPacket times, none missing for less than nackDelay, none
// that has fallen out of the window the layer keeps. (A packet that
// arrives late or repaired leaves the list in observe.)
func (s *recvStats) nacks(now time.Time) []uint16 {
	s.mu.Lock()
	defer s.mu.Unlock()
	var seqs []uint16
	for seq, m := range s.missing {
		if uint16(s.maxSeq-seq) >= maxMissing {
			delete(s.missing, seq)
			continue
		}
		if now.Sub(m.since) < nackDelay {
			continue
		}
		seqs = append(seqs, seq)
		if m.sent++; m.sent >= maxNACKsPerPacket {
			delete(s.missing, seq)
		}
	}
	// Oldest first, as NACK pairs want them.
	slices.SortFunc(seqs, func(a, b uint16) int { return int(s.maxSeq-b) - int(s.maxSeq-a) })
	return seqs
}

// maxReportBlocks is the most reception report blocks one receiver
// report holds.
const maxReportBlocks = 31

// tickFeedback tells the publisher what arrived of what it publishes:
// TWCC feedback (the own reader's and twccTap's account), NACKs for lost video
// packets, and every rrInterval receiver reports.
func (p *Peer) tickFeedback(now time.Time) {
	up := p.upPC.Load()
	if up == nil {
		return
	}
	pkts := p.upIn.feedback()
	rr := now.Sub(p.lastRR) >= rrInterval
	var reports []rtcp.ReceptionReport
	for _, l := range p.publishedLayers() {
		ssrc := uint32(l.track.SSRC())
		seqs := l.recv.nacks(now)
		if rr {
			if r, ok := l.recv.report(ssrc, now); ok {
				reports = append(reports, r)
			}
		}
		if len(seqs) > 0 {
			pkts = append(pkts, &rtcp.TransportLayerNack{
				SenderSSRC: p.fbSSRC, MediaSSRC: ssrc, Nacks: rtcp.NackPairsFromSequenceNumbers(seqs),
			})
		}
		// An RTX stream announced by its first packet (simulcast with
		// RIDs) becomes known to Pion's track after the layer started;
		// a layer whose reader has ended has no routes any more.
		if rtx := uint32(l.track.RtxSSRC()); rtx != 0 {
			p.upIn.routeRTX(rtx, ssrc, l)
		}
	}
	if rr {
		p.lastRR = now
		for len(reports) > 0 {
			n := min(len(reports), maxReportBlocks)
			pkts = append(pkts, &rtcp.ReceiverReport{SSRC: p.fbSSRC, Reports: reports[:n]})
			reports = reports[n:]
		}
	}
	if len(pkts) > 0 {
		_ = up.WriteRTCP(pkts)
	}
}

// publishedLayers returns the layers of every track p publishes.
func (p *Peer) publishedLayers() []*layer {
	p.mu.Lock()
	ts := make([]*pubTrack, 0, len(p.published))
	for _, t := range p.published {
		ts = append(ts, t)
	}
	p.mu.Unlock()
	var ls []*layer
	for _, t := range ts {
		ls = append(ls, t.layerList()...)
	}
	return ls
}
