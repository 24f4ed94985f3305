package media

import (
	"sync"
	"sync/atomic"
	"time"
)

// room is a set of peers; every track one of them publishes (and may
// publish) is forwarded to all the others.
type room struct {
	id  string
	sfu *SFU

	mu    sync.Mutex
	peers map[string]*Peer

	forwarded     atomic.Uint64
	dropped       atomic.Uint64
	retransmitted atomic.Uint64
}

// peerList returns the peers of the room.
func (r *room) peerList() []*Peer {
	r.mu.Lock()
	defer r.mu.Unlock()
	ps := make([]*Peer, 0, len(r.peers))
	for _, p := range r.peers {
		ps = append(ps, p)
	}
	return ps
}

// publishedTracks returns every track currently forwarded in the room.
func (r *room) publishedTracks() []*pubTrack {
	var ts []*pubTrack
	for _, p := range r.peerList() {
		ts = append(ts, p.activePublished()...)
	}
	return ts
}

func (r *room) tick(now time.Time) {
	peers := r.peerList()
	for _, p := range peers {
		p.tickPublish(now)
	}
	for _, p := range peers {
		p.tickReceive(now)
	}
}

func (r *room) stats() RoomStats {
	st := RoomStats{
		PacketsForwarded:     r.forwarded.Load(),
		PacketsDropped:       r.dropped.Load(),
		PacketsRetransmitted: r.retransmitted.Load(),
	}
	peers := r.peerList()
	st.Peers = len(peers)
	for _, p := range peers {
		st.Tracks += len(p.activePublished())
		st.Receivers = append(st.Receivers, p.receiverStats()...)
	}
	return st
}
