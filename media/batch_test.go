package media

import (
	"bytes"
	"net"
	"net/netip"
	"testing"
	"time"
)

// rtpLike makes a packet batchConn treats as RTP: version 2, payload type
// 96, then a marker byte and filler up to size.
func rtpLike(size int, mark byte) []byte {
	b := make([]byte, size)
	b[0], b[1] = 0x80, 96
	for i := 2; i < size; i++ {
		b[i] = mark
	}
	return b
}

func listenUDP(t *testing.T) *net.UDPConn {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// readAll reads n datagrams from c.
func readAll(t *testing.T, c *net.UDPConn, n int) [][]byte {
	t.Helper()
	var got [][]byte
	buf := make([]byte, 2000)
	for len(got) < n {
		_ = c.SetReadDeadline(time.Now().Add(2 * time.Second))
		k, err := c.Read(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", len(got), n, err)
		}
		got = append(got, append([]byte(nil), buf[:k]...))
	}
	return got
}

func TestBatchConnDeliversEveryPacketInOrder(t *testing.T) {
	for _, tc := range []struct {
		name  string
		gso   bool
		sizes []int // packets to each destination, in order
		// fewerMessages: GSO must have merged packets into fewer messages.
		fewerMessages bool
	}{
		{"video frame", true, []int{1200, 1200, 1200, 1200, 700}, true},
		{"audio and video mixed", true, []int{120, 1200, 1200, 1200, 90, 1200, 500, 130}, true},
		{"all different sizes", true, []int{100, 200, 300, 400}, false},
		{"many equal beyond one message", true, repeated(1100, 80), true},
		{"without GSO", false, []int{1200, 1200, 1200, 700, 120}, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			send := listenUDP(t)
			b := newBatchConn(send)
			b.gso.Store(tc.gso)
			dsts := []*net.UDPConn{listenUDP(t), listenUDP(t), listenUDP(t)}
			var want [][]byte
			for i, size := range tc.sizes {
				p := rtpLike(size, byte(i))
				want = append(want, p)
				for _, d := range dsts {
					if _, err := b.WriteToAddrPort(p, d.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
						t.Fatal(err)
					}
				}
			}
			b.Flush()
			for _, d := range dsts {
				got := readAll(t, d, len(want))
				for i := range want {
					if !bytes.Equal(got[i], want[i]) {
						t.Fatalf("datagram %d: %d bytes starting %x, want %d bytes starting %x",
							i, len(got[i]), got[i][:3], len(want[i]), want[i][:3])
					}
				}
			}
			st := b.Stats()
			if st.Packets != uint64(len(want)*len(dsts)) {
				t.Errorf("stats: %d packets, want %d", st.Packets, len(want)*len(dsts))
			}
			if tc.fewerMessages && st.Messages >= st.Packets {
				t.Errorf("GSO merged nothing: %+v", st)
			}
			if !tc.gso && st.Messages != st.Packets {
				t.Errorf("without GSO every packet is a message: %+v", st)
			}
		})
	}
}

// repeated is n copies of v.
func repeated[T any](v T, n int) []T {
	s := make([]T, n)
	for i := range s {
		s[i] = v
	}
	return s
}

func TestBatchConnSendsOthersAtOnceAndFlushesLateRTP(t *testing.T) {
	b := newBatchConn(listenUDP(t))
	dst := listenUDP(t)
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	// STUN (first byte 0), DTLS (22) and RTCP (payload type 200) go out
	// at once, without a flush.
	for _, p := range [][]byte{
		append([]byte{0x00, 0x01}, make([]byte, 18)...),
		append([]byte{22, 0xfe}, make([]byte, 30)...),
		append([]byte{0x80, 200}, make([]byte, 26)...),
	} {
		if _, err := b.WriteTo(p, net.UDPAddrFromAddrPort(to)); err != nil {
			t.Fatal(err)
		}
		if got := readAll(t, dst, 1)[0]; !bytes.Equal(got, p) {
			t.Fatalf("got %x, want %x", got[:2], p[:2])
		}
	}
	// RTP nobody flushes still leaves within flushDelay.
	p := rtpLike(300, 7)
	if _, err := b.WriteToAddrPort(p, to); err != nil {
		t.Fatal(err)
	}
	if got := readAll(t, dst, 1)[0]; !bytes.Equal(got, p) {
		t.Fatal("late RTP packet differs")
	}
}

func TestBatchConnClosed(t *testing.T) {
	b := newBatchConn(listenUDP(t))
	dst := listenUDP(t)
	if _, err := b.WriteToAddrPort(rtpLike(100, 1), dst.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
		t.Fatal(err)
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	readAll(t, dst, 1) // Close sent what was queued
	if _, err := b.WriteToAddrPort(rtpLike(100, 2), netip.MustParseAddrPort("127.0.0.1:9")); err == nil {
		t.Error("write after Close succeeded")
	}
}

func TestIsRTP(t *testing.T) {
	for _, tc := range []struct {
		b    []byte
		want bool
	}{
		{rtpLike(12, 0), true},
		{[]byte{0x80, 0xe0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, true},   // marker + PT 96
		{[]byte{0x80, 200, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false},   // RTCP SR
		{[]byte{0x81, 205, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false},   // RTCP feedback
		{[]byte{0x00, 0x01, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false},  // STUN
		{[]byte{22, 0xfe, 0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0}, false}, // DTLS
		{[]byte{0x80, 96}, false},                                  // too short
	} {
		if got := isRTP(tc.b); got != tc.want {
			t.Errorf("isRTP(%x) = %v, want %v", tc.b[:2], got, tc.want)
		}
	}
}
