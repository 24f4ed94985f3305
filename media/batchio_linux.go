//go:build linux

package media

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// On Linux the batcher makes its hot system calls itself, as raw system
// calls: a non-blocking sendmmsg or recvfrom on a UDP socket is CPU work
// in the kernel, it never sleeps. Through package syscall each such call
// would tell the Go scheduler it may block, and the first one after an
// idle moment wakes the runtime's monitor thread, which then polls every
// 20 µs for a while: with a packet every few milliseconds that was a
// context switch for almost every packet, the largest single cost after
// the sends themselves. When the socket is empty (EAGAIN) a read waits
// in the poller like any Go I/O; a send waits in the poller, or in
// poll(2) on the send-only socket (below), while the socket is full.

// A socket of its own for sending. The kernel tells every waiter on a
// socket each time it frees a packet the socket sent (on loopback at once,
// on a network card when the card has sent it): "there is room to write".
// The Go runtime waits for the port's socket in its poller, for reading,
// and each of those notices woke a poller thread for nothing; measured at
// 100 receivers, more than half of the poller's returns were these. So
// the port is bound twice, with SO_REUSEPORT: the first socket reads and
// a steering program hands it every datagram that arrives, the second
// only sends and is not in the poller, so that nobody waits on it.
// listenMediaUDP makes the first, newBatchSocket adds the second; where
// either fails the one socket does both, as before.
//
// The price of SO_REUSEPORT: another process of the same user may bind
// the port too, with SO_REUSEPORT, where before it could not. It gets no
// datagram while the steering program holds, and a program of its own
// (SO_ATTACH_REUSEPORT_CBPF replaces the group's) would take the port's
// traffic from portalo. Another portalo refuses the port: its plain bind
// first (below) fails, and where two start at once the second's bind
// fails too: a socket with a steering program attached before its bind
// has a port group of its own and joins no other.

// listenMediaUDP binds the media UDP port for a batchConn; steered: it
// shares the port with a send-only socket (newBatchConn).
func listenMediaUDP(network, addr string) (c *net.UDPConn, steered bool, err error) {
	_, port, _ := net.SplitHostPort(addr)
	for attempt := 1; ; attempt++ {
		c, steered, err = bindMediaUDP(network, addr)
		// Port 0: another socket took the free port found between the
		// two binds; find another.
		if !errors.Is(err, syscall.EADDRINUSE) || port != "0" || attempt == 3 {
			return c, steered, err
		}
	}
}

// bindMediaUDP is one try of listenMediaUDP.
func bindMediaUDP(network, addr string) (*net.UDPConn, bool, error) {
	// A plain bind first: it finds a free port for port 0 and fails, as
	// without SO_REUSEPORT, when anything else has the port.
	probe, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, false, err
	}
	bound := probe.LocalAddr().String()
	_ = probe.Close()
	lc := net.ListenConfig{Control: func(_, _ string, c syscall.RawConn) error {
		var serr error
		err := c.Control(func(fd uintptr) {
			serr = unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEPORT, 1)
			if serr == nil {
				serr = steerToFirst(int(fd))
			}
		})
		if err != nil {
			return err
		}
		return serr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, bound)
	if err != nil {
		// No SO_REUSEPORT or no steering here: one socket.
		pc, err = net.ListenPacket(network, bound)
		if err != nil {
			return nil, false, err
		}
		return pc.(*net.UDPConn), false, nil
	}
	return pc.(*net.UDPConn), true, nil
}

// steerToFirst attaches to the socket the classic BPF program "return 0":
// of the sockets sharing the port, the first one bound gets every
// datagram. Attached before the bind, it holds from the first datagram,
// and the socket cannot join a group another socket made (the kernel
// gives it a group of its own at once: the bind fails, EADDRINUSE).
func steerToFirst(fd int) error {
	prog := []unix.SockFilter{{Code: unix.BPF_RET | unix.BPF_K, K: 0}}
	return unix.SetsockoptSockFprog(fd, unix.SOL_SOCKET, unix.SO_ATTACH_REUSEPORT_CBPF,
		&unix.SockFprog{Len: uint16(len(prog)), Filter: &prog[0]})
}

// openSendSocket binds a send-only socket to c's port, which
// listenMediaUDP bound with steering. The socket is blocking, so that
// os.NewFile keeps it out of the poller; every send on it says
// MSG_DONTWAIT. Write deadlines (SetWriteDeadline) do not reach it:
// nothing under the ICE UDP mux sets them.
func openSendSocket(c *net.UDPConn) (*os.File, error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, err
	}
	var (
		domain, v6only int
		sa             unix.Sockaddr
		serr           error
	)
	err = rc.Control(func(fd uintptr) {
		if domain, serr = unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_DOMAIN); serr != nil {
			return
		}
		if domain == unix.AF_INET6 {
			if v6only, serr = unix.GetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_V6ONLY); serr != nil {
				return
			}
		}
		sa, serr = unix.Getsockname(int(fd))
	})
	if err == nil {
		err = serr
	}
	if err != nil {
		return nil, err
	}
	fd, err := unix.Socket(domain, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, err
	}
	setup := func() error {
		if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_REUSEPORT, 1); err != nil {
			return err
		}
		if domain == unix.AF_INET6 {
			if err := unix.SetsockoptInt(fd, unix.IPPROTO_IPV6, unix.IPV6_V6ONLY, v6only); err != nil {
				return err
			}
		}
		_ = unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUF, sendBuffer)
		return unix.Bind(fd, sa)
	}
	if err := setup(); err != nil {
		_ = unix.Close(fd)
		return nil, err
	}
	return os.NewFile(uintptr(fd), "media UDP send socket"), nil
}

// batchSocket sends and reads the batcher's datagrams.
type batchSocket struct {
	rc syscall.RawConn // the port's socket: reads, and sends where there is no send socket
	wc syscall.RawConn // sends
	v6 bool            // an AF_INET6 socket: IPv4 peers are v4-mapped

	send   *os.File // the send-only socket (nil: rc sends)
	closed atomic.Bool

	// sendmmsg's arguments, reused from flush to flush (batchConn.sendMu).
	hdrs  []unix.Mmsghdr
	iovs  []unix.Iovec
	cmsgs []byte
	sent  int
	err   syscall.Errno
	write func(fd uintptr) bool

	sendtos sync.Pool // of *udpCall (sendto)

	readMu  sync.Mutex // one read at a time (the ICE mux has one reader)
	reading *udpCall   // recvfrom
}

// gsoAvailable: the batcher tries UDP GSO, and stops where the kernel or
// the interface says no.
const gsoAvailable = true

// destAddr is a destination as the kernel takes it; n is 0 for one the
// socket cannot reach (IPv6 from an IPv4 socket).
type destAddr struct {
	raw [unix.SizeofSockaddrInet6]byte
	n   uint32
}

// newBatchSocket wraps c; with steered (listenMediaUDP) it adds a
// send-only socket, and where that fails sends on c, returning why in
// sendErr.
func newBatchSocket(c *net.UDPConn, steered bool) (s *batchSocket, sendErr error, err error) {
	rc, err := c.SyscallConn()
	if err != nil {
		return nil, nil, err
	}
	la, _ := c.LocalAddr().(*net.UDPAddr)
	s = &batchSocket{rc: rc, wc: rc, v6: la == nil || la.IP.To4() == nil}
	s.reading = s.newUDPCall(unix.SYS_RECVFROM)
	s.write = s.sendmmsg
	if !steered {
		return s, nil, nil
	}
	send, err := openSendSocket(c)
	if err != nil {
		return s, fmt.Errorf("the media port's send-only socket: %w", err), nil
	}
	wc, err := send.SyscallConn()
	if err != nil {
		_ = send.Close()
		return s, fmt.Errorf("the media port's send-only socket: %w", err), nil
	}
	s.send, s.wc = send, wc
	s.write = s.untilSent(s.sendmmsg)
	return s, nil, nil
}

// untilSent makes a send on the send-only socket wait, where the poller
// would, until the socket has room (when the network falls behind).
func (s *batchSocket) untilSent(f func(fd uintptr) bool) func(fd uintptr) bool {
	return func(fd uintptr) bool {
		for !f(fd) && !s.closed.Load() {
			_, _ = unix.Poll([]unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}, 100)
		}
		return true
	}
}

// writeErr is net.ErrClosed for a write on the closed (or closing)
// send-only socket, as for the port's own: the os.File says "use of
// closed file", a send that stopped waiting for room EAGAIN.
func (s *batchSocket) writeErr(err error) error {
	if s.send != nil && s.closed.Load() {
		return net.ErrClosed
	}
	return err
}

// closing makes sends on the send-only socket stop waiting for room.
func (s *batchSocket) closing() { s.closed.Store(true) }

// close closes the send-only socket (a send in flight keeps it open
// until it returns).
func (s *batchSocket) close() error {
	s.closed.Store(true)
	if s.send == nil {
		return nil
	}
	return s.send.Close()
}

func (s *batchSocket) destAddr(a netip.AddrPort) destAddr {
	var d destAddr
	ip := a.Addr()
	if !ip.IsValid() || (!s.v6 && !ip.Unmap().Is4()) {
		return d // n 0: the kernel refuses it
	}
	if !s.v6 {
		sa := (*unix.RawSockaddrInet4)(unsafe.Pointer(&d.raw[0]))
		sa.Family = unix.AF_INET
		sa.Addr = ip.Unmap().As4()
		binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], a.Port())
		d.n = unix.SizeofSockaddrInet4
		return d
	}
	sa := (*unix.RawSockaddrInet6)(unsafe.Pointer(&d.raw[0]))
	sa.Family = unix.AF_INET6
	sa.Addr = ip.As16()
	binary.BigEndian.PutUint16((*[2]byte)(unsafe.Pointer(&sa.Port))[:], a.Port())
	if z := ip.Zone(); z != "" {
		if id, err := strconv.ParseUint(z, 10, 32); err == nil {
			sa.Scope_id = uint32(id)
		} else if ifi, err := net.InterfaceByName(z); err == nil {
			sa.Scope_id = uint32(ifi.Index)
		}
	}
	d.n = unix.SizeofSockaddrInet6
	return d
}

// sendBatch hands msgs to the kernel in one sendmmsg and returns how many
// it took.
func (s *batchSocket) sendBatch(msgs []batchMsg) (int, error) {
	s.hdrs = s.hdrs[:0]
	s.iovs = s.iovs[:0]
	s.cmsgs = s.cmsgs[:0]
	// Two passes: the headers point into iovs and cmsgs, which the first
	// pass may still grow (and move).
	for _, m := range msgs {
		for _, p := range m.pkts {
			s.iovs = append(s.iovs, unix.Iovec{Base: &p[0]})
			s.iovs[len(s.iovs)-1].SetLen(len(p))
		}
		if m.seg > 0 {
			s.cmsgs = appendSegmentCmsg(s.cmsgs, m.seg)
		}
	}
	iov, cm := 0, 0
	for _, m := range msgs {
		var h unix.Mmsghdr
		h.Hdr.Name = &m.q.dest.raw[0]
		h.Hdr.Namelen = m.q.dest.n
		h.Hdr.Iov = &s.iovs[iov]
		h.Hdr.SetIovlen(len(m.pkts))
		iov += len(m.pkts)
		if m.seg > 0 {
			h.Hdr.Control = &s.cmsgs[cm]
			h.Hdr.SetControllen(unix.CmsgSpace(2))
			cm += unix.CmsgSpace(2)
		}
		s.hdrs = append(s.hdrs, h)
	}
	s.sent, s.err = 0, 0
	err := s.wc.Write(s.write)
	if err != nil {
		return 0, s.writeErr(err)
	}
	if s.err != 0 {
		return s.sent, s.writeErr(os.NewSyscallError("sendmmsg", s.err))
	}
	return s.sent, nil
}

// sendmmsg is sendBatch's call, as syscall.RawConn.Write wants it: false
// waits until the socket can take more.
func (s *batchSocket) sendmmsg(fd uintptr) bool {
	for {
		n, _, errno := unix.RawSyscall6(unix.SYS_SENDMMSG, fd,
			uintptr(unsafe.Pointer(&s.hdrs[0])), uintptr(len(s.hdrs)), unix.MSG_DONTWAIT, 0, 0)
		switch errno {
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		case 0:
			s.sent = int(n)
		default:
			s.err = errno
		}
		return true
	}
}

// appendSegmentCmsg appends a control message setting UDP_SEGMENT = size.
func appendSegmentCmsg(b []byte, size int) []byte {
	start := len(b)
	b = append(b, make([]byte, unix.CmsgSpace(2))...)
	h := (*unix.Cmsghdr)(unsafe.Pointer(&b[start]))
	h.Level = unix.IPPROTO_UDP
	h.Type = unix.UDP_SEGMENT
	h.SetLen(unix.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&b[start+unix.CmsgLen(0)])) = uint16(size)
	return b
}

// writeTo sends p to a at once.
func (s *batchSocket) writeTo(p []byte, a netip.AddrPort) (int, error) {
	c, _ := s.sendtos.Get().(*udpCall)
	if c == nil {
		c = s.newUDPCall(unix.SYS_SENDTO)
	}
	defer s.sendtos.Put(c)
	c.to = s.destAddr(a)
	if c.to.n == 0 {
		return 0, &net.OpError{Op: "write", Net: "udp", Err: &net.AddrError{Err: "not reachable from this socket", Addr: a.String()}}
	}
	c.p = p
	err := s.wc.Write(c.f)
	c.p = nil
	if err == nil && c.errno != 0 {
		err = os.NewSyscallError("sendto", c.errno)
	}
	if err != nil {
		return 0, &net.OpError{Op: "write", Net: "udp", Addr: net.UDPAddrFromAddrPort(a), Err: s.writeErr(err)}
	}
	return c.n, nil
}

// readFrom reads one datagram into p.
func (s *batchSocket) readFrom(p []byte) (int, netip.AddrPort, error) {
	s.readMu.Lock()
	defer s.readMu.Unlock()
	c := s.reading
	c.p = p
	err := s.rc.Read(c.f)
	c.p = nil
	if err != nil {
		return 0, netip.AddrPort{}, err
	}
	if c.errno != 0 {
		return 0, netip.AddrPort{}, &net.OpError{Op: "read", Net: "udp", Err: os.NewSyscallError("recvfrom", c.errno)}
	}
	return c.n, sockaddrAddrPort(&c.from), nil
}

// udpCall is one sendto(2) or recvfrom(2), its arguments and result in
// fields, so that neither it nor the function syscall.RawConn takes is
// allocated per call.
type udpCall struct {
	trap  uintptr
	p     []byte
	to    destAddr            // sendto
	from  unix.RawSockaddrAny // recvfrom
	n     int
	errno syscall.Errno
	f     func(fd uintptr) bool // c.call
}

func (s *batchSocket) newUDPCall(trap uintptr) *udpCall {
	c := &udpCall{trap: trap}
	c.f = c.call
	if trap == unix.SYS_SENDTO && s.send != nil {
		c.f = s.untilSent(c.call)
	}
	return c
}

// call makes the system call, again when a signal interrupted it; false
// (EAGAIN) makes RawConn wait until the socket is ready.
func (c *udpCall) call(fd uintptr) bool {
	var buf *byte
	if len(c.p) > 0 {
		buf = &c.p[0]
	}
	for {
		var n uintptr
		var errno syscall.Errno
		if c.trap == unix.SYS_SENDTO {
			n, _, errno = unix.RawSyscall6(unix.SYS_SENDTO, fd, uintptr(unsafe.Pointer(buf)), uintptr(len(c.p)), unix.MSG_DONTWAIT,
				uintptr(unsafe.Pointer(&c.to.raw[0])), uintptr(c.to.n))
		} else {
			fromLen := uint32(unix.SizeofSockaddrAny)
			n, _, errno = unix.RawSyscall6(unix.SYS_RECVFROM, fd, uintptr(unsafe.Pointer(buf)), uintptr(len(c.p)), 0,
				uintptr(unsafe.Pointer(&c.from)), uintptr(unsafe.Pointer(&fromLen)))
		}
		if errno != unix.EINTR {
			c.n, c.errno = int(n), errno
			return errno != unix.EAGAIN
		}
	}
}

func sockaddrAddrPort(sa *unix.RawSockaddrAny) netip.AddrPort {
	switch sa.Addr.Family {
	case unix.AF_INET:
		a := (*unix.RawSockaddrInet4)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&a.Port))[:])
		return netip.AddrPortFrom(netip.AddrFrom4(a.Addr), port)
	case unix.AF_INET6:
		a := (*unix.RawSockaddrInet6)(unsafe.Pointer(sa))
		port := binary.BigEndian.Uint16((*[2]byte)(unsafe.Pointer(&a.Port))[:])
		ip := netip.AddrFrom16(a.Addr)
		if a.Scope_id != 0 { // numeric: no interface lookup a packet
			ip = ip.WithZone(strconv.FormatUint(uint64(a.Scope_id), 10))
		}
		return netip.AddrPortFrom(ip, port)
	}
	return netip.AddrPort{}
}
