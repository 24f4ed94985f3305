package media

import (
	"bytes"
	"crypto/rand"
	"net"
	"syscall"
	"testing"
	"time"

	"github.com/pion/rtp"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// TestSRTPPathsKeepROCInStep sends a stream through two SRTP send
// contexts with the same keys, as the SFU and Pion do for one receiver,
// switching between them as a receiver moves between UDP and ICE-TCP,
// across several rollovers of the sequence number; the receiver must
// decrypt every packet.
func TestSRTPPathsKeepROCInStep(t *testing.T) {
	for _, profile := range []srtp.ProtectionProfile{srtp.ProtectionProfileAeadAes128Gcm, srtp.ProtectionProfileAes128CmHmacSha1_80} {
		keyLen, _ := profile.KeyLen()
		saltLen, _ := profile.SaltLen()
		key, salt := make([]byte, keyLen), make([]byte, saltLen)
		_, _ = rand.Read(key)
		_, _ = rand.Read(salt)
		newCtx := func() *srtp.Context {
			c, err := srtp.CreateContext(key, salt, profile)
			if err != nil {
				t.Fatal(err)
			}
			return c
		}
		for _, tc := range []struct {
			name     string
			start    uint16
			switches []int // packet numbers at which the path changes
			direct   bool  // path at the start
		}{
			{"UDP throughout", 1000, nil, true},
			{"TCP throughout", 1000, nil, false},
			{"starts just before a rollover on UDP", 65000, []int{70000, 140000}, true},
			{"starts on TCP, moves to UDP after a rollover", 30000, []int{50000, 120000, 120001, 190000}, false},
			{"switches often", 500, []int{10, 5000, 5001, 40000, 66000, 66050, 131072, 150000}, true},
		} {
			t.Run(profile.String()+"/"+tc.name, func(t *testing.T) {
				own, pion, recv := newCtx(), newCtx(), newCtx()
				direct := tc.direct
				next := 0
				payload := bytes.Repeat([]byte{0xab}, 100)
				var sentOwn, sentPion int
				for i := range 200000 {
					if next < len(tc.switches) && i == tc.switches[next] {
						direct = !direct
						next++
					}
					h := rtp.Header{Version: 2, PayloadType: 96, SSRC: 42, SequenceNumber: tc.start + uint16(i), Timestamp: uint32(i) * 3000}
					plain, _ := (&rtp.Packet{Header: h, Payload: payload}).Marshal()
					sendOwn, runOwn := srtpPaths(h.SequenceNumber, direct, i == 0)
					var ct []byte
					var err error
					if sendOwn {
						ct, err = own.EncryptRTP(nil, plain, nil)
						sentOwn++
					} else {
						ct, err = pion.EncryptRTP(nil, plain, nil)
						sentPion++
						if runOwn {
							_, _ = own.EncryptRTP(nil, plain, nil)
						}
					}
					if err != nil {
						t.Fatal(err)
					}
					got, err := recv.DecryptRTP(nil, ct, nil)
					if err != nil {
						t.Fatalf("packet %d (seq %d, own %v): receiver cannot decrypt: %v", i, h.SequenceNumber, sendOwn, err)
					}
					if !bytes.Equal(got, plain) {
						t.Fatalf("packet %d: decrypted to something else", i)
					}
				}
				if tc.direct || len(tc.switches) > 0 {
					if sentOwn == 0 {
						t.Error("the SFU's own context sent nothing")
					}
					// Pion sends the first packet and one in srtpSyncEvery
					// on UDP.
					if tc.switches == nil && sentPion > 200000/srtpSyncEvery+2 {
						t.Errorf("Pion sent %d of 200000 packets on UDP", sentPion)
					}
				} else if sentOwn != 0 {
					t.Errorf("the SFU sent %d packets itself over TCP", sentOwn)
				}
			})
		}
	}
}

// TestOwnSRTPWriter checks that the SFU finds the keys of a down
// connection (this fails when Pion moves the DTLS connection the SFU reads
// them from) and sends the media of a UDP receiver itself, which the
// receiver's Pion decrypts and plays as one continuous stream.
func TestOwnSRTPWriter(t *testing.T) {
	s := newTestSFU(t)
	sub := join(t, s, "r", "s1", Rights{}, false)
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	publish(t, pub)
	eventually(t, 10*time.Second, "the receiver gets video and audio", func() bool {
		return sub.received(webrtc.RTPCodecTypeVideo) >= 60 && sub.received(webrtc.RTPCodecTypeAudio) >= 60
	})
	if dtlsConnOf(sub.peer.down.SCTP().Transport()) == nil {
		t.Fatal("no DTLS connection in Pion's DTLSTransport: the SFU cannot encrypt itself")
	}
	if sub.peer.downKeys.Load() == nil || sub.peer.downQueue.Load() == nil {
		t.Fatalf("keys %v, UDP queue %v", sub.peer.downKeys.Load() != nil, sub.peer.downQueue.Load() != nil)
	}
	for _, rs := range s.Stats("r").Receivers {
		if rs.PeerID != "s1" {
			continue
		}
		// All but the first packet (and one in srtpSyncEvery).
		if rs.Packets < 60 || rs.OwnSRTP+1 < rs.Packets {
			t.Errorf("%s: %d packets sent, %d by the SFU's own writer", rs.Kind, rs.Packets, rs.OwnSRTP)
		}
	}
	checkContinuous(t, sub.track(webrtc.RTPCodecTypeVideo).snapshot())
	// Every packet sent arrives and decrypts: those Pion encrypts (the
	// first) and the SFU's own alike. The publisher stops first, so that
	// nothing is in flight when counting.
	pub.close()
	time.Sleep(300 * time.Millisecond)
	for _, rs := range s.Stats("r").Receivers {
		if rs.PeerID != "s1" {
			continue
		}
		kind := webrtc.RTPCodecTypeVideo
		if rs.Kind == "audio" {
			kind = webrtc.RTPCodecTypeAudio
		}
		eventually(t, 2*time.Second, rs.Kind+": the receiver got every packet sent", func() bool {
			return sub.received(kind) == int(rs.Packets)
		})
	}
}

// BenchmarkForwardOwnSRTP measures the SFU's user-space work for one
// video packet to one receiver on UDP: rewriting the header, encrypting
// with the receiver's SRTP context and queueing it in the batcher, plus
// its share of the flush (one GSO message per receiver and frame of six
// packets, to sockets that read nothing: the kernel drops what does not
// fit). go test -run '^$' -bench ForwardOwnSRTP -benchmem ./media/
func BenchmarkForwardOwnSRTP(b *testing.B) {
	s, tracks := benchReceivers(b, 100, webrtc.RTPCodecTypeVideo)
	receivers := len(tracks)
	pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 100, SequenceNumber: 1, Timestamp: 1}, Payload: bytes.Repeat([]byte{1}, 1150)}
	now := time.Now()
	b.SetBytes(int64(len(pkt.Payload)))
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		t := tracks[i%receivers].track
		n := i / receivers
		t.write(pkt, uint16(n), uint32(n/6*3000), now)
		if i%(6*receivers) == 6*receivers-1 {
			s.batch.Flush()
		}
	}
	b.StopTimer()
	var own uint32
	for _, dt := range tracks {
		_, o := dt.track.counts()
		own += o
	}
	if own == 0 {
		b.Fatal("nothing went through the SFU's own writer")
	}
}

// BenchmarkFanOut measures the CPU time (all goroutines, from
// getrusage) one published packet costs per receiver, with 200 receivers
// handled by the layer's reader alone or in shards on the fan-out
// workers: what the hand-offs to the workers cost. Flushes as at the end
// of a frame of six packets. go test -run '^$' -bench FanOut ./media/
func BenchmarkFanOut(b *testing.B) {
	for _, tc := range []struct {
		name  string
		shard int
	}{
		{"reader alone", 1 << 20},
		{"sharded", fanShard},
	} {
		b.Run(tc.name, func(b *testing.B) {
			s, subs := benchReceivers(b, 200, webrtc.RTPCodecTypeAudio)
			s.startFanOut()
			defer close(s.fanStop)
			s.fanShard = tc.shard
			l := subs[0].target
			pkt := &rtp.Packet{Header: rtp.Header{Version: 2, PayloadType: 111, SequenceNumber: 1, Timestamp: 1}, Payload: bytes.Repeat([]byte{1}, 1150)}
			cpu0 := cpuTime(b)
			b.ResetTimer()
			for i := 0; b.Loop(); i++ {
				pkt.SequenceNumber = uint16(i)
				s.fanOut(l, subs, pkt, false, time.Now())
				if i%6 == 5 {
					s.batch.Flush()
				}
			}
			b.StopTimer()
			b.ReportMetric(float64(cpuTime(b)-cpu0)/float64(b.N)/float64(len(subs)), "cpu-ns/receiver")
		})
	}
}

// cpuTime is the process's user and system CPU time so far.
func cpuTime(b *testing.B) time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		b.Fatal(err)
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// benchReceivers makes an SFU with a batcher on 127.0.0.1 and n
// receivers of one published track of the kind, each on a UDP socket of
// its own that reads nothing (the kernel drops what does not fit), with
// SRTP keys: what the forwarding path needs, without Pion.
func benchReceivers(b testing.TB, n int, kind webrtc.RTPCodecType) (*SFU, []*downTrack) {
	b.Helper()
	s := &SFU{batch: mediaBatchConnT(b)}
	key, salt := make([]byte, 16), make([]byte, 12)
	keys := &srtpKeys{profile: srtp.ProtectionProfileAeadAes128Gcm, key: key, salt: salt}
	codec := webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeVP8, ClockRate: 90000}
	if kind == webrtc.RTPCodecTypeAudio {
		codec = webrtc.RTPCodecCapability{MimeType: webrtc.MimeTypeOpus, ClockRate: 48000, Channels: 2}
	}
	pub := &pubTrack{kind: kind, codec: codec, owner: &Peer{room: &room{}}}
	l := &layer{pub: pub}
	var subs []*downTrack
	for range n {
		dst, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { dst.Close() })
		p := &Peer{sfu: s}
		p.downKeys.Store(keys)
		p.downQueue.Store(s.batch.hold(dst.LocalAddr().(*net.UDPAddr).AddrPort()))
		p.downConnected.Store(true)
		dt := &downTrack{pub: pub, recv: p, target: l}
		dt.bound.Store(true)
		dt.track = &localTrack{dt: dt, codec: codec, bound: true, ssrc: 1234, pt: 96, absID: 3, stream: discardWriter{}}
		subs = append(subs, dt)
	}
	return s, subs
}

// discardWriter stands for Pion's writer, which the SFU's own writer
// leaves the first packet and one in srtpSyncEvery.
type discardWriter struct{}

func (discardWriter) WriteRTP(h *rtp.Header, payload []byte) (int, error) {
	return h.MarshalSize() + len(payload), nil
}

func (discardWriter) Write(b []byte) (int, error) { return len(b), nil }

func TestDTLSClient(t *testing.T) {
	for _, tc := range []struct {
		name, local, remote string
		client              bool
	}{
		{"down: the SFU offers, the receiver answers active", "a=setup:actpass", "a=setup:active", false},
		{"down: ... answers passive", "a=setup:actpass", "a=setup:passive", true},
		{"up: the publisher offers, the SFU answers active", "a=setup:active", "a=setup:actpass", true},
		{"up: ... answers passive", "a=setup:passive", "a=setup:active", false},
	} {
		if got := dtlsClient(tc.local, tc.remote); got != tc.client {
			t.Errorf("%s: client %v, want %v", tc.name, got, tc.client)
		}
	}
}
