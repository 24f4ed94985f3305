package media

import (
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/pion/interceptor"
	"github.com/pion/rtcp"
	"github.com/pion/webrtc/v4"
)

// lossyLink is an interceptor on a receiving client that drops a share of
// the incoming video RTP packets, as a weak mobile link does, before
// Pion's NACK and receiver-report interceptors see them: the SFU learns of
// the loss only from the receiver reports, as from a real browser.
type lossyLink struct {
	interceptor.NoOp
	dropPermille atomic.Int64 // of incoming video packets
	mu           sync.Mutex
	rng          *rand.Rand
}

func (l *lossyLink) NewInterceptor(string) (interceptor.Interceptor, error) { return l, nil }

// BindRTCPWriter loses the receiver's NACKs while the link is lossy, so
// that retransmissions do not hide the loss from its receiver reports
// (on a congested link they would only add to the load).
func (l *lossyLink) BindRTCPWriter(writer interceptor.RTCPWriter) interceptor.RTCPWriter {
	return interceptor.RTCPWriterFunc(func(pkts []rtcp.Packet, a interceptor.Attributes) (int, error) {
		if l.dropPermille.Load() == 0 {
			return writer.Write(pkts, a)
		}
		kept := pkts[:0:0]
		for _, p := range pkts {
			if _, nack := p.(*rtcp.TransportLayerNack); !nack {
				kept = append(kept, p)
			}
		}
		if len(kept) == 0 {
			return 0, nil
		}
		return writer.Write(kept, a)
	})
}

func (l *lossyLink) BindRemoteStream(info *interceptor.StreamInfo, reader interceptor.RTPReader) interceptor.RTPReader {
	if info.MimeType == "" || info.MimeType[:5] != "video" {
		return reader
	}
	return interceptor.RTPReaderFunc(func(b []byte, a interceptor.Attributes) (int, interceptor.Attributes, error) {
		for {
			n, attr, err := reader.Read(b, a)
			if err != nil {
				return n, attr, err
			}
			l.mu.Lock()
			drop := l.rng.Int64N(1000) < l.dropPermille.Load()
			l.mu.Unlock()
			if !drop {
				return n, attr, nil
			}
		}
	})
}

// TestLayerSwitchOnLossyLink: a receiver whose link starts losing a third
// of its video packets (and sends no REMB, like a browser whose own
// estimate has not caught up) is moved down to the lowest layer by the
// loss-based estimate, at a keyframe, while a receiver on a clean link
// keeps the full layer.
func TestLayerSwitchOnLossyLink(t *testing.T) {
	s := newTestSFU(t)
	pub := join(t, s, "r", "trainer", Rights{Audio: true, Video: true}, false)
	publish(t, pub)
	link := &lossyLink{rng: rand.New(rand.NewPCG(1, 2))}
	lossy := joinWith(t, s, "r", "lossy", Rights{}, false, clientAPIWith(t, link))
	clean := join(t, s, "r", "clean", Rights{}, false)

	lastSize := func(c *client) int {
		v := c.track(webrtc.RTPCodecTypeVideo)
		if v == nil {
			return 0
		}
		p := v.snapshot()
		if len(p) == 0 {
			return 0
		}
		return p[len(p)-1].size
	}
	for _, c := range []*client{lossy, clean} {
		eventually(t, 15*time.Second, c.peer.ID()+" gets the full layer", func() bool {
			return lastSize(c) == layerSizes["f"]
		})
	}
	link.dropPermille.Store(330)
	lossyFrom := time.Now()
	eventually(t, 40*time.Second, "the lossy receiver switches down to the lowest layer", func() bool {
		return lastSize(lossy) == layerSizes["q"]
	})
	if got := lastSize(clean); got != layerSizes["f"] {
		t.Errorf("the clean receiver left the full layer: last packet of size %d", got)
	}
	var layers []string
	for _, r := range s.Stats("r").Receivers {
		if r.Kind == "video" {
			layers = append(layers, r.PeerID+":"+r.Layer)
		}
	}
	t.Logf("layers: %v; down to q %v after the loss began", layers, time.Since(lossyFrom).Round(100*time.Millisecond))
}
