package media

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
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
// each video frame and after an audio packet) or until flushDelay has
// passed; everything else (STUN,
// DTLS, RTCP) is sent at once. Where GSO is not available the packets go
// out one per message, still in one sendmmsg.
type batchConn struct {
	*net.UDPConn
	sock *batchSocket
	gso  atomic.Bool
	// take, when set, may handle a packet read instead of the reader
	// (the SFU's own SRTCP and SRTP readers: rtcpin.go, upin.go); set
	// before the first read.
	take func(b []byte, from netip.AddrPort) bool

	closed atomic.Bool

	mu      sync.Mutex // the fields below
	dests   map[netip.AddrPort]*destQueue
	dirty   []*destQueue // queues with packets, in order of first packet
	timer   *time.Timer
	armed   bool
	flushes uint64 // also the generation of destQueue.used

	slots      sync.Pool     // of *slot: the buffers of queued packets
	flushDelay time.Duration // flushDelay (tests: longer)

	sendMu sync.Mutex // one flush at a time; the fields below
	out    []*destQueue
	msgs   []batchMsg
	stats  batchStats
}

// batchStats counts what the batcher did (tests, metrics).
type batchStats struct {
	Packets  uint64 // RTP packets sent through the batcher
	Messages uint64 // messages handed to the kernel
	Syscalls uint64 // sendmmsg calls
}

// destQueue is the packets waiting for one destination and the ones
// being sent: a flush takes the list, so that writers go on while it
// sends. Each packet has a slot of its own, from the batcher's pool and
// back there once sent, and a GSO message is a run of slots (one iovec
// each): memory goes with the packets in flight, not with the largest
// frame each receiver ever got. Each queue has its own lock: the fan-out
// shards write to different receivers at the same time.
type destQueue struct {
	addr netip.AddrPort
	dest destAddr

	mu     sync.Mutex // the fields below
	pkts   [][]byte   // each in a slot
	bytes  int        // in pkts
	listed bool       // on batchConn.dirty

	sendPkts [][]byte // sendMu
	used     uint64   // b.mu: flush count when it last had packets
	holders  int      // b.mu; see hold
}

// batchMsg is one message of a flush: one packet, or with seg > 0 a run
// of packets the kernel cuts at seg bytes (UDP GSO).
type batchMsg struct {
	q    *destQueue
	pkts [][]byte
	seg  int
}

// slot holds one queued packet.
type slot = [maxRTPSize]byte

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
	// sendBuffer is the send buffer of the media port's sockets.
	sendBuffer = 4 << 20
	// pruneEvery is how many flushes pass between removals of idle
	// destinations.
	pruneEvery = 4096
)

// newBatchConn makes the batcher of c; steered: c is a media port from
// listenMediaUDP, which gets a send-only socket. Where that fails the
// batcher sends on c and sendErr says why.
func newBatchConn(c *net.UDPConn, steered bool) (b *batchConn, sendErr error, err error) {
	sock, sendErr, err := newBatchSocket(c, steered)
	if err != nil {
		return nil, nil, fmt.Errorf("media: UDP socket: %w", err)
	}
	b = &batchConn{UDPConn: c, sock: sock, dests: map[netip.AddrPort]*destQueue{}, flushDelay: flushDelay}
	b.gso.Store(gsoAvailable)
	_ = c.SetWriteBuffer(sendBuffer)
	// The reader forwards what publishers send before it reads on
	// (upin.go): room for what arrives meanwhile.
	_ = c.SetReadBuffer(4 << 20)
	b.timer = time.AfterFunc(time.Hour, b.Flush)
	b.timer.Stop()
	return b, sendErr, nil
}

// isRTP tells RTP (and SRTP, whose header is clear) from STUN, DTLS and
// RTCP (RFC 7983, RFC 5761).
func isRTP(b []byte) bool {
	return len(b) >= 12 && b[0]&0xc0 == 0x80 && (b[1]&0x7f < 64 || b[1]&0x7f > 95)
}

// ReadFromAddrPort and WriteToAddrPort make the ICE mux use batchConn's
// allocation-free path.
func (b *batchConn) ReadFromAddrPort(p []byte) (int, netip.AddrPort, error) {
	for {
		n, from, err := b.sock.readFrom(p)
		if err != nil || b.take == nil || !b.take(p[:n], from) {
			return n, from, err
		}
	}
}

func (b *batchConn) WriteToAddrPort(p []byte, addr netip.AddrPort) (int, error) {
	if !isRTP(p) || len(p) > maxRTPSize {
		return b.sock.writeTo(p, addr)
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
	q := &destQueue{addr: addr, dest: b.sock.destAddr(addr)}
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
	if b.closed.Load() {
		return 0, net.ErrClosed
	}
	s := b.slot()
	return b.queue(q, s[:copy(s[:], p)])
}

// enqueueFilled queues for q the packet f writes straight into a slot.
func (b *batchConn) enqueueFilled(q *destQueue, f rtpFiller) (int, error) {
	if b.closed.Load() {
		return 0, net.ErrClosed
	}
	s := b.slot()
	p, err := f.fillRTP(s[:0])
	if err != nil || len(p) == 0 || len(p) > maxRTPSize {
		b.slots.Put(s)
		if err == nil {
			err = fmt.Errorf("media: RTP packet of %d bytes", len(p))
		}
		return 0, err
	}
	if &p[0] != &s[0] {
		p = s[:copy(s[:], p)] // the filler had to allocate
	}
	return b.queue(q, p)
}

// slot returns a packet buffer from the pool.
func (b *batchConn) slot() *slot {
	if s, ok := b.slots.Get().(*slot); ok {
		return s
	}
	return new(slot)
}

// queue adds p (in a slot) to q, lists q for the next flush and flushes
// early when much is queued.
func (b *batchConn) queue(q *destQueue, p []byte) (int, error) {
	n := len(p)
	q.mu.Lock()
	q.pkts = append(q.pkts, p)
	q.bytes += n
	list := !q.listed
	q.listed = true
	full := q.bytes >= maxQueueBytes
	q.mu.Unlock()
	if list {
		b.mu.Lock()
		b.dirty = append(b.dirty, q)
		if !b.armed {
			b.armed = true
			b.timer.Reset(b.flushDelay)
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
		q.pkts, q.sendPkts = q.sendPkts[:0], q.pkts
		q.bytes = 0
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
	for _, q := range b.out {
		for i, p := range q.sendPkts {
			b.slots.Put((*slot)(p[:maxRTPSize]))
			q.sendPkts[i] = nil
		}
		q.sendPkts = q.sendPkts[:0]
	}
	clear(b.out)
}

// send builds the messages of b.out and hands them to the kernel.
// sendMu held.
func (b *batchConn) send() {
	gso := b.gso.Load()
	b.msgs = b.msgs[:0]
	for _, q := range b.out {
		pkts := q.sendPkts
		b.stats.Packets += uint64(len(pkts))
		for i := 0; i < len(pkts); {
			seg := len(pkts[i])
			n, total := 1, seg
			if gso {
				// A run of equal sizes; the last one may be shorter.
				for i+n < len(pkts) && n < maxSegments && total+len(pkts[i+n]) <= maxGSOBytes {
					s := len(pkts[i+n])
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
			// One iovec per packet: the kernel cuts the message at seg.
			m := batchMsg{q: q, pkts: pkts[i : i+n : i+n]}
			if n > 1 {
				m.seg = seg
			}
			b.msgs = append(b.msgs, m)
			i += n
		}
	}
	msgs := b.msgs
	for len(msgs) > 0 {
		n, err := b.sock.sendBatch(msgs)
		b.stats.Syscalls++
		if n > 0 {
			b.stats.Messages += uint64(n)
			msgs = msgs[n:]
			continue
		}
		if err == nil || errors.Is(err, net.ErrClosed) {
			return
		}
		if msgs[0].seg > 0 && gsoUnsupported(err) {
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

func gsoUnsupported(err error) bool {
	return errors.Is(err, syscall.EIO) || errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.ENOPROTOOPT) || errors.Is(err, syscall.EOPNOTSUPP)
}

// splitSegments turns GSO messages back into one message per packet.
func splitSegments(msgs []batchMsg) []batchMsg {
	var out []batchMsg
	for _, m := range msgs {
		if m.seg == 0 {
			out = append(out, m)
			continue
		}
		for i := range m.pkts { // a packet each
			out = append(out, batchMsg{q: m.q, pkts: m.pkts[i : i+1 : i+1]})
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

// Close sends what is queued (what does not fit in the socket at once is
// dropped) and closes the socket.
func (b *batchConn) Close() error {
	b.sock.closing()
	b.Flush()
	b.closed.Store(true)
	b.mu.Lock()
	b.timer.Stop()
	b.mu.Unlock()
	return errors.Join(b.sock.close(), b.UDPConn.Close())
}
