//go:build !linux

package media

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// batchSocket sends and reads the batcher's datagrams (elsewhere than
// Linux: through x/net, which writes one message at a time where the
// system has no sendmmsg).
type batchSocket struct {
	c      *net.UDPConn
	writer interface {
		WriteBatch(ms []ipv4.Message, flags int) (int, error)
	}
	ms []ipv4.Message
}

// gsoAvailable: UDP GSO is Linux's.
const gsoAvailable = false

// destAddr is a destination as the writer takes it.
type destAddr = *net.UDPAddr

func newBatchSocket(c *net.UDPConn, _ bool) (s *batchSocket, sendErr error, err error) {
	s = &batchSocket{c: c}
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() != nil {
		s.writer = ipv4.NewPacketConn(c)
	} else {
		s.writer = ipv6.NewPacketConn(c)
	}
	return s, nil, nil
}

// listenMediaUDP binds the media UDP port for a batchConn (one socket
// here: steered is false).
func listenMediaUDP(network, addr string) (c *net.UDPConn, steered bool, err error) {
	pc, err := net.ListenPacket(network, addr)
	if err != nil {
		return nil, false, err
	}
	return pc.(*net.UDPConn), false, nil
}

// closing and close: the one socket is the batchConn's.
func (s *batchSocket) closing()     {}
func (s *batchSocket) close() error { return nil }

func (s *batchSocket) destAddr(a netip.AddrPort) destAddr { return net.UDPAddrFromAddrPort(a) }

// sendBatch hands msgs to the system and returns how many it took.
func (s *batchSocket) sendBatch(msgs []batchMsg) (int, error) {
	s.ms = s.ms[:0]
	for _, m := range msgs { // m.seg is 0: no gsoAvailable
		s.ms = append(s.ms, ipv4.Message{Buffers: m.pkts, Addr: m.q.dest})
	}
	return s.writer.WriteBatch(s.ms, 0)
}

func (s *batchSocket) readFrom(p []byte) (int, netip.AddrPort, error) {
	return s.c.ReadFromUDPAddrPort(p)
}

func (s *batchSocket) writeTo(p []byte, a netip.AddrPort) (int, error) {
	return s.c.WriteToUDPAddrPort(p, a)
}
