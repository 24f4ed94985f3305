package media

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
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

// newBatchConnT is newBatchConn for a test, of a plain socket.
func newBatchConnT(t testing.TB, c *net.UDPConn) *batchConn {
	t.Helper()
	b, _, err := newBatchConn(c, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

// mediaBatchConnT is a batcher on 127.0.0.1 as the SFU makes its media
// port's (listenMediaUDP: on Linux with a send-only socket).
func mediaBatchConnT(t testing.TB) *batchConn {
	t.Helper()
	c, steered, err := listenMediaUDP("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b, sendErr, err := newBatchConn(c, steered)
	if err != nil || sendErr != nil {
		c.Close()
		t.Fatal(err, sendErr)
	}
	t.Cleanup(func() { b.Close() })
	return b
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

// expectDatagrams reads len(want) datagrams from c and checks they are
// want, in order.
func expectDatagrams(t *testing.T, c *net.UDPConn, want [][]byte) {
	t.Helper()
	got := readAll(t, c, len(want))
	for i := range want {
		if !bytes.Equal(got[i], want[i]) {
			t.Fatalf("datagram %d: %d bytes, want %d", i, len(got[i]), len(want[i]))
		}
	}
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
			b := mediaBatchConnT(t)
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

// TestBatchConnSocketFamilies: the batcher delivers from an IPv4 socket,
// an IPv6 one and a dual-stack one sending to IPv4 receivers (as
// ::ffff:a.b.c.d), with and without GSO.
func TestBatchConnSocketFamilies(t *testing.T) {
	// media: the port bound as the SFU binds it (listenMediaUDP: on Linux
	// with a send-only socket beside it), or one plain socket.
	listen := func(t *testing.T, network, ip string, media bool) (c *net.UDPConn, steered bool) {
		t.Helper()
		var err error
		if media {
			c, steered, err = listenMediaUDP(network, net.JoinHostPort(ip, "0"))
		} else {
			c, err = net.ListenUDP(network, &net.UDPAddr{IP: net.ParseIP(ip)})
		}
		if err != nil {
			t.Skipf("no %s socket on %s here: %v", network, ip, err)
		}
		t.Cleanup(func() { c.Close() })
		return c, steered
	}
	for _, tc := range []struct {
		name            string
		sendNet, sendIP string
		recvNet, recvIP string
	}{
		{"IPv4", "udp4", "127.0.0.1", "udp4", "127.0.0.1"},
		{"IPv6", "udp6", "::1", "udp6", "::1"},
		{"dual-stack to IPv4", "udp", "::", "udp4", "127.0.0.1"},
	} {
		for _, v := range []struct{ gso, media bool }{{true, true}, {false, true}, {true, false}} {
			t.Run(fmt.Sprintf("%s gso=%v media=%v", tc.name, v.gso, v.media), func(t *testing.T) {
				c, steered := listen(t, tc.sendNet, tc.sendIP, v.media)
				b, sendErr, err := newBatchConn(c, steered)
				if err != nil || sendErr != nil {
					t.Fatal(err, sendErr)
				}
				defer b.Close()
				if v.media && steered != (b.sock.send != nil) {
					t.Fatalf("steered %v, send-only socket %v", steered, b.sock.send != nil)
				}
				b.gso.Store(v.gso)
				dst, _ := listen(t, tc.recvNet, tc.recvIP, false)
				var want [][]byte
				for i, size := range []int{1200, 1200, 1200, 400, 90} {
					p := rtpLike(size, byte(i))
					want = append(want, p)
					if _, err := b.WriteToAddrPort(p, dst.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
						t.Fatal(err)
					}
				}
				b.Flush()
				expectDatagrams(t, dst, want)

				// Not RTP: sent at once, like everything from the port
				// itself (a peer answers where a packet came from).
				stun := append([]byte{0x00, 0x01}, make([]byte, 18)...)
				if _, err := b.WriteToAddrPort(stun, dst.LocalAddr().(*net.UDPAddr).AddrPort()); err != nil {
					t.Fatal(err)
				}
				buf := make([]byte, 100)
				_ = dst.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, src, err := dst.ReadFromUDPAddrPort(buf)
				if err != nil {
					t.Fatal(err)
				}
				if port := b.LocalAddr().(*net.UDPAddr).AddrPort().Port(); !bytes.Equal(buf[:n], stun) || src.Port() != port ||
					src.Addr().Unmap() != netip.MustParseAddr(tc.recvIP) {
					t.Fatalf("got %d bytes from %v, want the STUN packet from port %d of %s", n, src, port, tc.recvIP)
				}

				// Reading tells who sent it.
				reply := []byte("reply")
				if _, err := dst.WriteToUDPAddrPort(reply, src); err != nil {
					t.Fatal(err)
				}
				_ = b.SetReadDeadline(time.Now().Add(5 * time.Second))
				n, from, err := b.ReadFromAddrPort(buf)
				if err != nil {
					t.Fatal(err)
				}
				if want := dst.LocalAddr().(*net.UDPAddr).AddrPort(); !bytes.Equal(buf[:n], reply) ||
					from.Addr().Unmap() != want.Addr().Unmap() || from.Port() != want.Port() {
					t.Fatalf("read %q from %v, want %q from %v", buf[:n], from, reply, want)
				}
			})
		}
	}
}

func TestBatchConnUnreachableFamily(t *testing.T) {
	// An IPv4 socket cannot send to IPv6: that destination fails, the
	// others still get theirs.
	b := mediaBatchConnT(t)
	dst := listenUDP(t)
	v6 := netip.MustParseAddrPort("[2001:db8::1]:5000")
	if _, err := b.WriteToAddrPort(append([]byte{0x00, 0x01}, make([]byte, 18)...), v6); err == nil {
		t.Error("STUN to IPv6 from an IPv4 socket: no error")
	}
	for _, to := range []netip.AddrPort{v6, {}, dst.LocalAddr().(*net.UDPAddr).AddrPort()} {
		if _, err := b.WriteToAddrPort(rtpLike(200, 1), to); err != nil {
			t.Fatal(err)
		}
	}
	b.Flush()
	expectDatagrams(t, dst, [][]byte{rtpLike(200, 1)})
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
	b := mediaBatchConnT(t)
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
	b := mediaBatchConnT(t)
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

// testFiller writes p in place, or in a buffer of its own (alloc), or
// fails.
type testFiller struct {
	p     []byte
	alloc bool
	err   error
}

func (f testFiller) fillRTP(dst []byte) ([]byte, error) {
	if f.err != nil {
		return append(dst, 0x80, 96), f.err // a half-written packet
	}
	if f.alloc {
		return append([]byte(nil), f.p...), nil
	}
	return append(dst, f.p...), nil
}

// TestBatchConnFilledPackets checks the in-place queue of the SFU's own
// SRTP writer: packets written into the queue, or in a buffer of the
// writer's own, arrive in order among copied ones; a failed write leaves
// nothing behind; writers on several goroutines and flushes in between
// lose nothing (run with -race).
func TestBatchConnFilledPackets(t *testing.T) {
	b := mediaBatchConnT(t)
	dst := listenUDP(t)
	q := b.hold(dst.LocalAddr().(*net.UDPAddr).AddrPort())
	defer b.release(q)
	want := [][]byte{rtpLike(1200, 1), rtpLike(1200, 2), rtpLike(900, 3), rtpLike(120, 4)}
	if _, err := b.enqueueFilled(q, testFiller{p: want[0]}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.enqueueFilled(q, testFiller{err: errors.New("no keys")}); err == nil {
		t.Fatal("a failing filler queued a packet")
	}
	if _, err := b.enqueueFilled(q, testFiller{p: want[1], alloc: true}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.enqueue(q, want[2]); err != nil {
		t.Fatal(err)
	}
	if _, err := b.enqueueFilled(q, testFiller{p: want[3]}); err != nil {
		t.Fatal(err)
	}
	b.Flush()
	expectDatagrams(t, dst, want)

	// Two writers, each to its own receivers, and flushes meanwhile.
	const perWriter, packets = 4, 200
	var dsts []*net.UDPConn
	var qs []*destQueue
	for range 2 * perWriter {
		d := listenUDP(t)
		_ = d.SetReadBuffer(1 << 20)
		dsts = append(dsts, d)
		qs = append(qs, b.hold(d.LocalAddr().(*net.UDPAddr).AddrPort()))
	}
	var wg sync.WaitGroup
	for w := range 2 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range packets {
				for _, q := range qs[w*perWriter : (w+1)*perWriter] {
					if _, err := b.enqueueFilled(q, testFiller{p: rtpLike(200, byte(i))}); err != nil {
						t.Error(err)
						return
					}
				}
				if i%10 == 9 {
					b.Flush()
				}
			}
		}()
	}
	wg.Wait()
	b.Flush()
	for _, d := range dsts {
		for i, p := range readAll(t, d, packets) {
			if p[2] != byte(i) {
				t.Fatalf("datagram %d carries packet %d", i, p[2])
			}
		}
	}
}

// TestBatchConnFlushesAFullQueue: a destination with maxQueueBytes queued
// (a keyframe burst) is sent at once, without waiting for a flush.
func TestBatchConnFlushesAFullQueue(t *testing.T) {
	b := mediaBatchConnT(t)
	// No timer flush during the test: the timer counts as armed, and is not.
	b.mu.Lock()
	b.armed = true
	b.timer.Stop()
	b.mu.Unlock()
	dst := listenUDP(t)
	_ = dst.SetReadBuffer(1 << 20)
	to := dst.LocalAddr().(*net.UDPAddr).AddrPort()
	n := maxQueueBytes/1000 + 1
	for i := range n {
		if _, err := b.WriteToAddrPort(rtpLike(1000, byte(i)), to); err != nil {
			t.Fatal(err)
		}
	}
	if st := b.Stats(); st.Packets != uint64(n) {
		t.Fatalf("%d of %d packets sent without a flush", st.Packets, n)
	}
	readAll(t, dst, n)
}

// TestBatchConnHoldsNothingOnceSent: a keyframe burst to one receiver
// and a frame to another arrive whole, and once sent neither queue holds
// a packet: memory goes with the packets in flight, not with the largest
// frame a receiver ever got.
func TestBatchConnHoldsNothingOnceSent(t *testing.T) {
	b := mediaBatchConnT(t)
	var dsts []*net.UDPConn
	var qs []*destQueue
	for range 2 {
		d := listenUDP(t)
		_ = d.SetReadBuffer(1 << 20)
		dsts = append(dsts, d)
		q := b.hold(d.LocalAddr().(*net.UDPAddr).AddrPort())
		defer b.release(q)
		qs = append(qs, q)
	}
	counts := []int{40, 5}
	var want [2][][]byte
	for i := range 40 {
		for k, q := range qs {
			if i >= counts[k] {
				continue
			}
			p := rtpLike(1200, byte(i))
			if i == counts[k]-1 {
				p = rtpLike(700, byte(i)) // a frame's last packet is shorter
			}
			want[k] = append(want[k], p)
			if _, err := b.enqueue(q, p); err != nil {
				t.Fatal(err)
			}
		}
	}
	b.Flush()
	for k, d := range dsts {
		for i, p := range readAll(t, d, counts[k]) {
			if !bytes.Equal(p, want[k][i]) {
				t.Fatalf("receiver %d, datagram %d: %d bytes, not the packet sent", k, i, len(p))
			}
		}
	}
	if st := b.Stats(); b.gso.Load() && st.Messages != 3 {
		t.Errorf("%d messages for a run of 40 packets and one of 5, want 3 (GSO: at most %d segments each)", st.Messages, maxSegments)
	}
	for k, q := range qs {
		q.mu.Lock()
		n := len(q.pkts) + len(q.sendPkts)
		q.mu.Unlock()
		if n != 0 {
			t.Errorf("receiver %d: %d packets still held after the flush", k, n)
		}
	}
}
