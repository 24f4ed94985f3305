package media

import (
	"encoding/binary"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/webrtc/v4"
)

// TestOwnSRTPReader checks that the SFU decrypts what a publisher on UDP
// sends itself (this fails when Pion moves the DTLS connection the SFU
// reads the keys from), forwards it as one continuous stream, and tells
// the publisher in receiver reports what arrived; over ICE-TCP Pion reads
// it, and the reports are the same.
func TestOwnSRTPReader(t *testing.T) {
	for _, tc := range []struct {
		network webrtc.NetworkType
		own     bool
	}{
		{webrtc.NetworkTypeUDP4, true},
		{webrtc.NetworkTypeTCP4, false},
	} {
		t.Run(tc.network.String(), func(t *testing.T) {
			s := newTestSFU(t)
			sub := join(t, s, "r", "viewer", Rights{}, false)
			pub := publish(t, joinWith(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false, clientAPIOn(t, tc.network)))
			eventually(t, 15*time.Second, "the receiver gets video and audio", func() bool {
				return sub.received(webrtc.RTPCodecTypeVideo) >= 100 && sub.received(webrtc.RTPCodecTypeAudio) >= 100
			})
			// Four streams of 50 packets a second for two seconds and more:
			// all but each stream's first few through the own reader.
			taken := s.PublishedPacketsReadOwn()
			if tc.own && taken < 300 {
				t.Errorf("the own reader took %d packets", taken)
			}
			if !tc.own && taken != 0 {
				t.Errorf("the own reader took %d packets of a publisher on TCP", taken)
			}
			checkContinuous(t, sub.track(webrtc.RTPCodecTypeVideo).snapshot())
			checkContinuous(t, sub.track(webrtc.RTPCodecTypeAudio).snapshot())

			// A receiver report block for each stream: current, nothing lost.
			for _, ssrc := range pub.ssrcs {
				eventually(t, 5*time.Second, "a current receiver report", func() bool {
					r, ok := pub.report(ssrc)
					return ok && r.LastSequenceNumber >= 100
				})
				if r, _ := pub.report(ssrc); r.TotalLost != 0 || r.FractionLost != 0 {
					t.Errorf("SSRC %d: %d lost (fraction %d/256) on a lossless link", ssrc, r.TotalLost, r.FractionLost)
				}
			}
			if tc.own {
				// The publisher's sender reports (Pion's, once a second)
				// reach the own reader: LSR and DLSR, for its round-trip time.
				for _, ssrc := range pub.ssrcs {
					eventually(t, 5*time.Second, "LSR in a receiver report", func() bool {
						r, _ := pub.report(ssrc)
						return r.LastSenderReport != 0
					})
					if r, _ := pub.report(ssrc); r.Delay > 2*65536 {
						t.Errorf("SSRC %d: DLSR %.2f s with sender reports every second", ssrc, float64(r.Delay)/65536)
					}
				}
			}
			if !tc.own {
				return
			}
			// What does not authenticate with the publisher's keys is left
			// to Pion (a sequence number ahead, not a replay), as is an SSRC
			// the SFU has no layer for, and one packet in srtpSyncEvery.
			u := &pub.peer.upIn
			forged := make([]byte, 60)
			forged[0], forged[1] = 0x80, 96
			binary.BigEndian.PutUint32(forged[8:], pub.ssrcs[0])
			binary.BigEndian.PutUint16(forged[2:], 30000)
			if u.take(forged, time.Now()) {
				t.Error("the own reader took a packet that is not the publisher's")
			}
			binary.BigEndian.PutUint32(forged[8:], pub.ssrcs[0]+1)
			if u.take(forged, time.Now()) {
				t.Error("the own reader took a packet of an unknown SSRC")
			}
			// A genuine packet (encrypted with the publisher's keys) is
			// taken; the same again is a replay, dropped, not left to Pion,
			// which would forward it once more. Last: it is not one of the
			// publisher's own packets.
			k, err := srtpKeysOf(pub.peer.up, false)
			if err != nil {
				t.Fatal(err)
			}
			enc, err := (&srtpKeys{profile: k.profile, key: k.remoteKey, salt: k.remoteSalt}).newContext()
			if err != nil {
				t.Fatal(err)
			}
			audio := pub.ssrcs[3]
			last := sub.track(webrtc.RTPCodecTypeAudio).snapshot()
			plain, _ := (&rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SSRC: audio,
				SequenceNumber: uint16(len(last) + 100), Timestamp: 1}, Payload: []byte{0xfc, 0xff, 0xfe}}).Marshal()
			genuine, err := enc.EncryptRTP(nil, plain, nil)
			if err != nil {
				t.Fatal(err)
			}
			if !u.take(genuine, time.Now()) {
				t.Fatal("the own reader left a genuine packet to Pion")
			}
			if !u.take(genuine, time.Now()) {
				t.Error("the own reader left a replayed packet to Pion")
			}
			binary.BigEndian.PutUint16(forged[2:], 2*srtpSyncEvery)
			binary.BigEndian.PutUint32(forged[8:], audio)
			if u.take(forged, time.Now()) {
				t.Error("the own reader took a packet Pion is to see, to keep its rollover counter in step")
			}
		})
	}
}
