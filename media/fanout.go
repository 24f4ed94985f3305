package media

import (
	"runtime"
	"time"

	"github.com/pion/rtp"
)

// Fan-out: a published packet goes to every receiver of its track. Up to
// fanShard receivers the goroutine that has the packet (the UDP port's
// reader, or the layer's Pion reader) writes to them itself (writing only
// queues the packet in the batchConn); with more, the receivers are cut
// into shards and the SFU's fan-out workers take all shards but its own,
// so that one trainer's packets reach hundreds of receivers on every core
// instead of through one goroutine.

// fanShard is the least number of receivers worth a shard of their own.
// Queueing a packet for a receiver costs about 1.4 µs of CPU (encrypting
// it is most of that); a hand-off to a worker and the wait for it cost
// more than they save below this (BenchmarkFanOut: 200 receivers in two
// shards cost 1.6 µs of CPU each, by the reader alone 1.4 µs).
const fanShard = 128

// fanJob is one shard of one packet.
type fanJob struct {
	l    *layer
	subs []*downTrack
	pkt  *rtp.Packet
	kf   bool
	now  time.Time
}

// goReader starts a layer's reader. The fan-out workers outlive every
// reader and every packet the UDP port's reader hands on (Close stops
// them after both, see SFU.inbound), so nobody waits for a shard nobody
// takes.
func (s *SFU) goReader(f func()) {
	s.readers.Add(1)
	s.goOwned(func() {
		defer s.readers.Done()
		f()
	})
}

// startFanOut starts the fan-out workers: one per core beyond the first.
func (s *SFU) startFanOut() {
	n := max(runtime.GOMAXPROCS(0)-1, 1)
	s.fanJobs = make(chan fanJob, 4*n)
	s.fanStop = make(chan struct{})
	s.fanWorkers = n
	s.procs.Store(int32(runtime.GOMAXPROCS(0)))
	s.fanShard = fanShard
	for range n {
		s.goOwned(func() {
			for {
				select {
				case <-s.fanStop:
					return
				case j := <-s.fanJobs:
					pushAll(j.l, j.subs, j.pkt, j.kf, j.now)
					j.l.fanWG.Done()
				}
			}
		})
	}
}

// fanOut hands pkt of layer l to subs and returns when every receiver has
// it queued. Called by l's handle only (l.in held).
func (s *SFU) fanOut(l *layer, subs []*downTrack, pkt *rtp.Packet, kf bool, now time.Time) {
	shards := len(subs) / s.fanShard
	if shards > 1 {
		// Workers help only with processors to run on, and the process
		// may run on fewer than it started with (package procs).
		shards = min(shards, s.fanWorkers+1, int(s.procs.Load()))
	}
	if shards <= 1 {
		pushAll(l, subs, pkt, kf, now)
		return
	}
	per := (len(subs) + shards - 1) / shards
	for i := per; i < len(subs); i += per {
		l.fanWG.Add(1)
		s.fanJobs <- fanJob{l: l, subs: subs[i:min(i+per, len(subs))], pkt: pkt, kf: kf, now: now}
	}
	pushAll(l, subs[:per], pkt, kf, now)
	l.fanWG.Wait()
}

// pushAll hands pkt to subs and counts the forwarded packets once, not
// once per receiver (a shared counter is a contended cache line).
func pushAll(l *layer, subs []*downTrack, pkt *rtp.Packet, kf bool, now time.Time) {
	n := uint64(0)
	for _, dt := range subs {
		if dt.push(l, pkt, kf, now) {
			n++
		}
	}
	if n > 0 {
		l.pub.owner.room.forwarded.Add(n)
	}
}
