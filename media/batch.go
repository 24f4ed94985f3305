package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
	"unsafe"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
)

// Sending many small UDP packets is what an SFU spends most of its CPU on:
// each sendto(2) crosses into the kernel, walks the network stack and
// wakes the receiver. batchConn sits under the ICE UDP mux and sends the
// RTP packets queued since the last flush with as few system calls as
// possible:
//
//   - the packets for one destination that have the same size (the
//     packets of one video frame do: the publisher cuts a frame into
//     equal parts) go out as one UDP GSO message (Linux UDP_SEGMENT): the
//     kernel walks its stack once for all of them and the receiver still
//     gets one datagram per packet;
//   - the messages for all destinations go out in one sendmmsg(2).
//
// RTP is queued until Flush (the forwarding code calls it at the end of
// each video frame) or until flushDelay has passed; everything else (STUN,
// DTLS, RTCP) is sent at once. Where GSO is not available the packets go
// out one per message, still in one sendmmsg.
type batchConn struct {
	*net.UDPConn
	writer interface {
		WriteBatch(ms []ipv4.Message, flags int) (int, error)
	}
	gso atomic.Bool

	closed atomic.Bool

	mu      sync.Mutex // the fields below
	dests   map[netip.AddrPort]*destQueue
	dirty   []*destQueue // queues with packets, in order of first packet
	timer   *time.Timer
	armed   bool
	flushes uint64 // also the generation of destQueue.used

	freeMu sync.Mutex // the free list (taken last, never held with another lock taken after it)
	free   [][]byte   // buffers of sent packets, for the queues' next ones

	sendMu sync.Mutex // one flush at a time; the fields below
	out    []*destQueue
	msgs   []ipv4.Message
	oobs   [][]byte
	stats  batchStats
}

// batchStats counts what the batcher did (tests, metrics).
type batchStats struct {
	Packets  uint64 // RTP packets sent through the batcher
	Messages uint64 // messages handed to the kernel
	Syscalls uint64 // sendmmsg calls
}

// destQueue is the packets waiting for one destination, back to back,
// and the ones being sent: a flush takes the buffer, so that writers go
// on while it sends, and gives it back to the batcher's free list after
// sending; a queue takes a buffer from there with its next packet. A
// receiver so holds one buffer at most times, not two, and none once
// it is idle. Each queue has its own lock: the fan-out shards write to
// different receivers at the same time.
type destQueue struct {
	addr  netip.AddrPort
	uaddr *net.UDPAddr

	mu     sync.Mutex // the fields below
	buf    []byte     // nil when empty
	sizes  []int
	listed bool // on batchConn.dirty

	sendBuf   []byte // sendMu
	sendSizes []int  // sendMu
	used      uint64 // b.mu: flush count when it last had packets
	holders   int    // b.mu; see hold
}

// rtpFiller writes one RTP packet into dst (capacity maxRTPSize, length
// 0) and returns it; enqueueFilled queues it without a copy.
type rtpFiller interface {
	fillRTP(dst []byte) ([]byte, error)
}

// maxRTPSize is the largest RTP packet the batcher queues.
const maxRTPSize = 1500

const (
	// flushDelay bounds how long an RTP packet waits for a flush.
	flushDelay = 10 * time.Millisecond
	// maxQueueBytes flushes early when one destination has this much
	// queued (a keyframe, say): it bounds each receiver's buffer, without
	// a shared counter every packet would have to update.
	maxQueueBytes = 64 << 10
	// maxSegments and maxGSOBytes bound one GSO message (the kernel
	// allows 64 segments and 64 KiB).
	maxSegments = 32
	maxGSOBytes = 60000
	// udpSegment is the UDP_SEGMENT socket option (linux/udp.h).
	udpSegment = 103
	// pruneEvery is how many flushes pass between removals of idle
	// destinations.
	pruneEvery = 4096
)

func newBatchConn(c *net.UDPConn) *batchConn {
	b := &batchConn{UDPConn: c, dests: map[netip.AddrPort]*destQueue{}}
	if la, ok := c.LocalAddr().(*net.UDPAddr); ok && la.IP.To4() != nil {
		b.writer = ipv4.NewPacketConn(c)
	} else {
		b.writer = ipv6.NewPacketConn(c)
	}
	b.gso.Store(true)
	_ = c.SetWriteBuffer(4 << 20)
	b.timer = time.AfterFunc(time.Hour, b.Flush)
	b.timer.Stop()
	return b
}

// isRTP tells RTP (and SRTP, whose header is clear) from STUN, DTLS and
// RTCP (RFC 7983, RFC 5761).
func isRTP(b []byte) bool {
	return len(b) >= 12 && b[0]&0xc0 == 0x80 && (b[1]&0x7f < 64 || b[1]&0x7f > 95)
}

// ReadFromAddrPort and WriteToAddrPort make the ICE mux use batchConn's
// allocation-free path.
func (b *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	return b.UDPConn.ReadFromUDPAddrPort(p)
}

func (b *batchConn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	if !isRTP(p) || len(p) > maxRTPSize {
		return b.UDPConn.WriteToUDPAddrPort(p, addr)
	}
	b.mu.Lock()
	q := b.dests[addr]
	if q == nil {
		q = b.newQueueLocked(addr)
	}
	b.mu.Unlock()
	return b.enqueue(q, p)
}

// newQueueLocked adds the queue of a destination. b.mu held.
func (b *batchConn) newQueueLocked(addr netip.AddrPort) *destQueue {
	q := &destQueue{addr: addr, uaddr: net.UDPAddrFromAddrPort(addr)}
	b.dests[addr] = q
	return q
}

// hold returns the queue of addr and keeps it until release, for a writer
// that sends to one destination many times (the SFU's own SRTP writer):
// it saves a map lookup a packet.
func (b *batchConn) hold(addr netip.AddrPort) *destQueue {
	b.mu.Lock()
	defer b.mu.Unlock()
	q := b.dests[addr]
	if q == nil {
		q = b.newQueueLocked(addr)
	}
	q.holders++
	return q
}

// release gives back a queue from hold.
func (b *batchConn) release(q *destQueue) {
	b.mu.Lock()
	q.holders--
	b.mu.Unlock()
}

// enqueue queues a copy of the RTP packet p for q.
func (b *batchConn) enqueue(q *destQueue, p []byte) (int, error) {
	if err := b.lockQueue(q); err != nil {
		return 0, err
	}
	q.buf = append(q.buf, p...)
	return b.queuedLocked(q, len(p))
}

// enqueueFilled queues for q the packet f writes straight into the queue.
func (b *batchConn) enqueueFilled(q *destQueue, f rtpFiller) (int, error) {
	if err := b.lockQueue(q); err != nil {
		return 0, err
	}
	off := len(q.buf)
	q.buf = slices.Grow(q.buf, maxRTPSize)
	p, err := f.fillRTP(q.buf[off : off : off+maxRTPSize])
	if err != nil || len(p) == 0 || len(p) > maxRTPSize {
		q.buf = q.buf[:off]
		q.mu.Unlock()
		if err == nil {
			err = fmt.Errorf("media: RTP packet of %d bytes", len(p))
		}
		return 0, err
	}
	if &p[0] == &q.buf[off : off+1][0] {
		q.buf = q.buf[:off+len(p)]
	} else {
		q.buf = append(q.buf[:off], p...) // the filler had to allocate
	}
	return b.queuedLocked(q, len(p))
}

// lockQueue locks q for a packet and gives it a buffer if it has none.
func (b *batchConn) lockQueue(q *destQueue) error {
	if b.closed.Load() {
		return net.ErrClosed
	}
	q.mu.Lock()
	if q.buf == nil {
		q.buf = b.freeBuffer()
	}
	return nil
}

// freeBuffer returns an empty buffer from the free list, or a new one.
func (b *batchConn) freeBuffer() []byte {
	b.freeMu.Lock()
	defer b.freeMu.Unlock()
	if n := len(b.free); n > 0 {
		buf := b.free[n-1]
		b.free[n-1] = nil
		b.free = b.free[:n-1]
		return buf[:0]
	}
	return make([]byte, 0, 8<<10)
}

// queuedLocked records a packet of n bytes just appended to q.buf,
// unlocks q.mu, lists q for the next flush and flushes early when much
// is queued.
func (b *batchConn) queuedLocked(q *destQueue, n int) (int, error) {
	q.sizes = append(q.sizes, n)
	list := !q.listed
	q.listed = true
	full := len(q.buf) >= maxQueueBytes
	q.mu.Unlock()
	if list {
		b.mu.Lock()
		b.dirty = append(b.dirty, q)
		if !b.armed {
			b.armed = true
			b.timer.Reset(flushDelay)
		}
		b.mu.Unlock()
	}
	if full {
		b.Flush()
	}
	return n, nil
}

func (b *batchConn) WriteTo(p []byte, addr net.Addr) (int, error) {
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return b.UDPConn.WriteTo(p, addr)
	}
	return b.WriteToAddrPort(p, ua.AddrPort())
}

// Flush sends every queued packet.
func (b *batchConn) Flush() {
	b.sendMu.Lock()
	defer b.sendMu.Unlock()
	b.mu.Lock()
	if len(b.dirty) == 0 {
		b.mu.Unlock()
		return
	}
	// Take the queued packets; writers fill the other buffers meanwhile.
	b.out = append(b.out[:0], b.dirty...)
	b.dirty = b.dirty[:0]
	b.flushes++
	for _, q := range b.out {
		q.mu.Lock()
		q.buf, q.sendBuf = nil, q.buf
		q.sizes, q.sendSizes = q.sendSizes[:0], q.sizes
		q.listed = false
		q.mu.Unlock()
		q.used = b.flushes
	}
	if b.armed {
		b.armed = false
		b.timer.Stop()
	}
	if b.flushes%pruneEvery == 0 {
		for a, q := range b.dests {
			if b.flushes-q.used > pruneEvery && q.holders == 0 {
				delete(b.dests, a)
			}
		}
	}
	b.mu.Unlock()

	b.send()
	// The sent buffers go to the free list, as many as there are
	// destinations at most; the rest to the garbage collector.
	b.freeMu.Lock()
	for _, q := range b.out {
		if q.sendBuf != nil && len(b.free) < len(b.out)+16 {
			b.free = append(b.free, q.sendBuf)
		}
		q.sendBuf = nil
	}
	b.freeMu.Unlock()
	clear(b.out)
}

// send builds the messages of b.out and hands them to the kernel.
// sendMu held.
func (b *batchConn) send() {
	gso := b.gso.Load()
	b.msgs = b.msgs[:0]
	nOOB := 0
	for _, q := range b.out {
		sizes := q.sendSizes
		b.stats.Packets += uint64(len(sizes))
		off := 0
		for i := 0; i < len(sizes); {
			seg := sizes[i]
			n, total := 1, seg
			if gso {
				// A run of equal sizes; the last one may be shorter.
				for i+n < len(sizes) && n < maxSegments && total+sizes[i+n] <= maxGSOBytes {
					s := sizes[i+n]
					if s > seg {
						break
					}
					n++
					total += s
					if s < seg {
						break
					}
				}
			}
			m := ipv4.Message{Buffers: [][]byte{q.sendBuf[off : off+total]}, Addr: q.uaddr}
			if n > 1 {
				m.OOB = b.segmentOOB(nOOB, seg)
				nOOB++
			}
			b.msgs = append(b.msgs, m)
			off += total
			i += n
		}
	}
	msgs := b.msgs
	for len(msgs) > 0 {
		n, err := b.writer.WriteBatch(msgs, 0)
		b.stats.Syscalls++
		if n > 0 {
			b.stats.Messages += uint64(n)
			msgs = msgs[n:]
			continue
		}
		if err == nil || errors.Is(err, net.ErrClosed) {
			return
		}
		if len(msgs[0].OOB) > 0 && gsoUnsupported(err) {
			// No GSO here: send the rest one packet per message.
			b.gso.Store(false)
			msgs = splitSegments(msgs)
			continue
		}
		// The first message failed (an unreachable address, say): drop
		// it as the network would, send the others.
		msgs = msgs[1:]
	}
}

// segmentOOB returns the i-th reusable control message carrying
// UDP_SEGMENT = size.
func (b *batchConn) segmentOOB(i, size int) []byte {
	for len(b.oobs) <= i {
		b.oobs = append(b.oobs, make([]byte, syscall.CmsgSpace(2)))
	}
	oob := b.oobs[i]
	h := (*syscall.Cmsghdr)(unsafe.Pointer(&oob[0]))
	h.Level = syscall.IPPROTO_UDP
	h.Type = udpSegment
	h.SetLen(syscall.CmsgLen(2))
	*(*uint16)(unsafe.Pointer(&oob[syscall.CmsgLen(0)])) = uint16(size)
	return oob
}

func gsoUnsupported(err error) bool {
	return errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOPROTOOPT) || errors.Is(err, syscall.EOPNOTSUPP)
}

// splitSegments turns GSO messages back into one message per packet.
func splitSegments(msgs []ipv4.Message) []ipv4.Message {
	var out []ipv4.Message
	for _, m := range msgs {
		if len(m.OOB) == 0 {
			out = append(out, m)
			continue
		}
		size := int(*(*uint16)(unsafe.Pointer(&m.OOB[syscall.CmsgLen(0)])))
		buf := m.Buffers[0]
		for len(buf) > 0 {
			n := min(size, len(buf))
			out = append(out, ipv4.Message{Buffers: [][]byte{buf[:n]}, Addr: m.Addr})
			buf = buf[n:]
		}
	}
	return out
}

// Stats returns what the batcher has sent so far.
func (b *batchConn) Stats() batchStats {
	b.sendMu.Lock()
	defer b.sendMu.Unlock()
	return b.stats
}

// Close sends what is queued and closes the socket.
func (b *batchConn) Close() error {
	b.Flush()
	b.closed.Store(true)
	b.mu.Lock()
	b.timer.Stop()
	b.mu.Unlock()
	return b.UDPConn.Close()
}
