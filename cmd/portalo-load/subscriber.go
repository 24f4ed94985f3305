package main

import (
	"context"
	"encoding/binary"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"
)

// kindStats are the counters of one media kind of one subscriber.
type kindStats struct {
	packets, bytes uint64
	seq            map[uint32]*seqCounter // per SSRC
}

func (k *kindStats) expectedLost() (uint64, uint64) {
	var e, l uint64
	for _, c := range k.seq {
		e += c.expected()
		l += c.lost()
	}
	return e, l
}

// subSnapshot is a copy of a subscriber's counters at one moment.
type subSnapshot struct {
	at                         time.Time
	vPackets, vBytes, aPackets uint64
	aBytes                     uint64
	vExpected, vLost           uint64
	aExpected, aLost           uint64
}

// subscriber is one viewer: it receives the trainer's tracks and counts
// RTP packets without decoding them.
type subscriber struct {
	idx int
	rc  *roomClient

	dialAt     time.Time
	firstVideo chan struct{}
	firstOnce  sync.Once
	joinTime   time.Duration

	mu    sync.Mutex
	video kindStats
	audio kindStats

	wg sync.WaitGroup // track and RTCP readers
}

func (s *subscriber) snapshot() subSnapshot {
	s.mu.Lock()
	defer s.mu.Unlock()
	ve, vl := s.video.expectedLost()
	ae, al := s.audio.expectedLost()
	return subSnapshot{
		at:       time.Now(),
		vPackets: s.video.packets, vBytes: s.video.bytes,
		aPackets: s.audio.packets, aBytes: s.audio.bytes,
		vExpected: ve, vLost: vl, aExpected: ae, aLost: al,
	}
}

// onTrack reads a received track into one reused buffer, parsing only the
// sequence number and SSRC of the RTP header; it also reads the
// receiver's RTCP (sender reports) so the interceptors see it.
func (s *subscriber) onTrack(tr *webrtc.TrackRemote, recv *webrtc.RTPReceiver) {
	ks := &s.audio
	isVideo := tr.Kind() == webrtc.RTPCodecTypeVideo
	if isVideo {
		ks = &s.video
	}
	s.wg.Add(2)
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 1500)
		for {
			if _, _, err := recv.Read(buf); err != nil {
				return
			}
		}
	}()
	go func() {
		defer s.wg.Done()
		buf := make([]byte, 1600)
		for {
			n, _, err := tr.Read(buf)
			if err != nil {
				return
			}
			if n < 12 {
				continue
			}
			seq := binary.BigEndian.Uint16(buf[2:4])
			ssrc := binary.BigEndian.Uint32(buf[8:12])
			s.mu.Lock()
			ks.packets++
			ks.bytes += uint64(n)
			c := ks.seq[ssrc]
			if c == nil {
				c = &seqCounter{}
				ks.seq[ssrc] = c
			}
			c.add(seq)
			s.mu.Unlock()
			if isVideo {
				s.firstOnce.Do(func() {
					s.joinTime = time.Since(s.dialAt)
					close(s.firstVideo)
				})
			}
		}
	}()
}

// connectSubscriber dials, joins and waits for the first video packet.
// On failure the subscriber is returned (for cleanup) with the error.
func connectSubscriber(ctx context.Context, idx int, base, workshopID string, jar http.CookieJar, api *webrtc.API) (*subscriber, error) {
	s := &subscriber{idx: idx, firstVideo: make(chan struct{}), dialAt: time.Now()}
	s.video.seq = map[uint32]*seqCounter{}
	s.audio.seq = map[uint32]*seqCounter{}
	rc, err := dialRoom(ctx, base, workshopID, jar, fmt.Sprintf("load-%d", idx), api)
	if err != nil {
		return s, err
	}
	rc.onTrack = s.onTrack
	s.rc = rc
	if err := rc.join(ctx); err != nil {
		return s, fmt.Errorf("join: %w", err)
	}
	select {
	case <-s.firstVideo:
		return s, nil
	case <-rc.done:
		return s, fmt.Errorf("no video: WebSocket closed: %v", rc.err())
	case <-ctx.Done():
		if err := rc.err(); err != nil {
			return s, fmt.Errorf("no video after %s: %w", time.Since(s.dialAt).Round(time.Millisecond), err)
		}
		return s, fmt.Errorf("no video within the join timeout (%s)", s.state())
	}
}

// state describes how far a subscriber got, for a failed join.
func (s *subscriber) state() string {
	s.mu.Lock()
	audio, video := s.audio.packets, s.video.packets
	s.mu.Unlock()
	desc := "no down connection"
	s.rc.mu.Lock()
	pc := s.rc.down
	s.rc.mu.Unlock()
	if pc != nil {
		desc = fmt.Sprintf("down connection %s, ICE %s, %d transceivers",
			pc.ConnectionState(), pc.ICEConnectionState(), len(pc.GetTransceivers()))
	}
	return fmt.Sprintf("%s; %d audio and %d video packets", desc, audio, video)
}

func (s *subscriber) close() {
	if s.rc != nil {
		s.rc.close(true)
	}
	s.wg.Wait()
}
