//go:build linux

package media

import (
	"context"
	"errors"
	"net"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// TestMediaPortSendSocket: the media port gets a send-only socket of its
// own; the port still reads everything sent to it, even when another
// socket of this user joins it with SO_REUSEPORT, and refuses a second
// media port on it; closing frees the port.
func TestMediaPortSendSocket(t *testing.T) {
	c, steered, err := listenMediaUDP("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if !steered {
		c.Close()
		t.Skip("no SO_REUSEPORT steering here (SO_ATTACH_REUSEPORT_CBPF): the port is one socket")
	}
	b, sendErr, err := newBatchConn(c, steered)
	if err != nil || sendErr != nil {
		c.Close()
		t.Fatal(err, sendErr)
	}
	t.Cleanup(func() { b.Close() })
	if b.sock.send == nil {
		t.Fatal("no send-only socket")
	}
	addr := b.LocalAddr().String()

	if other, _, err := listenMediaUDP("udp4", addr); err == nil {
		other.Close()
		t.Fatal("a second media port on the same port: no error")
	}
	// Another socket that shares the port on purpose gets nothing.
	intruder, err := listenReusePort(addr, false)
	if err != nil {
		t.Fatal(err)
	}
	defer intruder.Close()

	// From many ports: without the steering the kernel would spread
	// them over both sockets by a hash of the sender's address.
	var peer *net.UDPConn
	const n = 64
	for i := range n {
		if i%4 == 0 {
			peer = listenUDP(t)
		}
		if _, err := peer.WriteTo([]byte{byte(i)}, b.LocalAddr()); err != nil {
			t.Fatal(err)
		}
	}
	buf := make([]byte, 100)
	for i := range n {
		_ = b.SetReadDeadline(time.Now().Add(2 * time.Second))
		k, _, err := b.ReadFromAddrPort(buf)
		if err != nil {
			t.Fatalf("after %d of %d datagrams: %v", i, n, err)
		}
		if k != 1 || buf[0] != byte(i) {
			t.Fatalf("datagram %d: %x", i, buf[:k])
		}
	}
	_ = intruder.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if k, _, err := intruder.ReadFrom(buf); err == nil {
		t.Fatalf("the other socket on the port got %x", buf[:k])
	}

	// Sending after Close says closed; both sockets are gone.
	intruder.Close()
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := b.WriteToAddrPort([]byte{0, 1, 0, 0}, peer.LocalAddr().(*net.UDPAddr).AddrPort()); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("write after Close: %v, want net.ErrClosed", err)
	}
	again, err := net.ListenPacket("udp4", addr)
	if err != nil {
		t.Fatalf("the port after Close: %v", err)
	}
	again.Close()
}

// listenReusePort binds a UDP socket with SO_REUSEPORT on addr, with
// listenMediaUDP's steering program or without.
func listenReusePort(addr string, steer bool) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		if err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if serr == nil && steer {
				serr = steerToFirst(int(fd))
			}
		}); err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), "udp4", addr)
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// TestSteeredSocketJoinsNoOtherGroup: what listenMediaUDP relies on when
// two nodes start on one port at once, both past their plain binds: the
// second steered socket does not join the first's port group (where it
// would get nothing), its bind fails.
func TestSteeredSocketJoinsNoOtherGroup(t *testing.T) {
	first, err := listenReusePort("127.0.0.1:0", true)
	if err != nil {
		t.Skipf("no SO_REUSEPORT steering here: %v", err)
	}
	defer first.Close()
	second, err := listenReusePort(first.LocalAddr().String(), true)
	if err == nil {
		second.Close()
		t.Fatal("a second steered socket joined the port")
	}
	if !errors.Is(err, syscall.EADDRINUSE) {
		t.Fatalf("the second steered socket: %v, want EADDRINUSE", err)
	}
	// Without a program of its own a socket joins, and gets nothing
	// (TestMediaPortSendSocket): the send-only socket.
	joined, err := listenReusePort(first.LocalAddr().String(), false)
	if err != nil {
		t.Fatalf("an unsteered socket: %v", err)
	}
	joined.Close()
}
