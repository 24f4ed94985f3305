package signaling

import (
	"slices"
	"sort"
	"sync"
	"time"

	"github.com/pion/webrtc/v4"

	"portalo/media"
)

// room is the state of one open room. Its mutex guards everything in it;
// calls into the SFU happen outside the lock, because the SFU calls back
// (Events) from its own goroutines.
type room struct {
	hub    *Hub
	id     string
	mu     sync.Mutex
	parts  map[string]*participant // by public ID
	chat   []ChatMessage
	banned map[string]bool // account IDs removed by a moderator
	ended  bool
}

type participant struct {
	pub       Participant
	accountID string
	audioOnly bool
	token     string
	conn      *conn
	peer      MediaPeer
	timer     *time.Timer // runs out when a dropped participant did not resume
	joinedAt  time.Time
}

func newRoom(h *Hub, id string) *room {
	return &room{hub: h, id: id, parts: map[string]*participant{}, banned: map[string]bool{}}
}

func (r *room) isBanned(accountID string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.banned[accountID]
}

func (r *room) count() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.parts)
}

// othersLocked lists everyone but skip, in order of joining.
func (r *room) othersLocked(skip *participant) []Participant {
	ps := make([]*participant, 0, len(r.parts))
	for _, p := range r.parts {
		if p != skip {
			ps = append(ps, p)
		}
	}
	sort.Slice(ps, func(i, j int) bool { return ps[i].joinedAt.Before(ps[j].joinedAt) })
	out := make([]Participant, len(ps))
	for i, p := range ps {
		out[i] = p.pub
	}
	return out
}

// broadcastLocked queues a message for every connected participant but skip.
func (r *room) broadcastLocked(o outbound, skip *participant) {
	b, err := encode(o)
	if err != nil {
		r.hub.cfg.Logger.Error("encoding a message", "type", o.Type, "err", err)
		return
	}
	for _, p := range r.parts {
		if p != skip && p.conn != nil {
			p.conn.enqueueBytes(b)
		}
	}
}

func (r *room) announceLocked(p *participant) {
	pub := p.pub
	r.broadcastLocked(outbound{Type: "participant", Participant: &pub}, nil)
}

// join adds the connection's person to the room, or gives a resuming one
// their place back.
func (r *room) join(c *conn, m inbound) error {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		c.enqueue(outbound{Type: "ended"})
		c.closeWith(1000, "room ended")
		return nil
	}
	var p *participant
	if m.Resume != "" {
		for _, q := range r.parts {
			if q.token == m.Resume && q.accountID == c.id.AccountID && q.conn == nil {
				p = q
			}
		}
		if p == nil {
			r.mu.Unlock()
			return errf("resume_failed", "nothing to resume: join again without a token")
		}
		if p.timer != nil {
			p.timer.Stop()
			p.timer = nil
		}
		p.audioOnly = m.AudioOnly
	} else {
		role := "participant"
		rights := media.Rights{}
		if c.id.Moderator {
			role = "moderator"
			rights = media.Rights{Audio: true, Video: true}
		}
		p = &participant{
			pub: Participant{
				ID: randomID("p_", 10), Name: m.Name, Role: role,
				Audio: rights.Audio, Video: rights.Video,
			},
			accountID: c.id.AccountID,
			audioOnly: m.AudioOnly,
			token:     randomID("", 20),
			joinedAt:  time.Now(),
		}
		r.parts[p.pub.ID] = p
	}
	p.pub.Connected = true
	p.conn = c
	c.p = p
	self := p.pub
	joined := outbound{
		Type: "joined", Re: m.ID, Self: &self, Resume: p.token,
		Participants: r.othersLocked(p), Chat: slices.Clone(r.chat),
	}
	if r.hub.cfg.ICEServers != nil {
		joined.ICEServers = r.hub.cfg.ICEServers(c.host)
	}
	c.enqueue(joined)
	r.announceLocked(p)
	rights := media.Rights{Audio: p.pub.Audio, Video: p.pub.Video}
	audioOnly := p.audioOnly
	r.mu.Unlock()

	peer, err := r.hub.cfg.Media.Join(r.id, media.PeerConfig{ID: p.pub.ID, Rights: rights, AudioOnly: audioOnly}, media.Events{
		Signal:   func(s media.Signal) { c.enqueue(outbound{Type: "signal", Signal: &s}) },
		Speaking: func(on bool) { r.setSpeaking(p, on) },
		Connection: func(dir media.Direction, state webrtc.ICEConnectionState) {
			r.hub.cfg.Logger.Debug("media connection", "room", r.id, "direction", dir, "state", state.String())
		},
	})
	if err != nil {
		r.hub.cfg.Logger.Error("joining the SFU", "room", r.id, "err", err)
		return errf("media_unavailable", "the media server cannot take this participant now")
	}
	r.mu.Lock()
	stale := p.conn != c
	if !stale {
		p.peer = peer
	}
	r.mu.Unlock()
	if stale {
		peer.Close()
		return nil
	}
	// A moderator may have granted or revoked rights, or the participant
	// chosen audio only, while the SFU took the peer (and found no peer to
	// tell): bring it up to date, until what it has is what the room says.
	applied, appliedAudioOnly := rights, audioOnly
	for {
		r.mu.Lock()
		now, nowAudioOnly, current := media.Rights{Audio: p.pub.Audio, Video: p.pub.Video}, p.audioOnly, p.peer == peer
		r.mu.Unlock()
		if !current || now == applied && nowAudioOnly == appliedAudioOnly {
			return nil
		}
		if now != applied {
			peer.SetRights(now)
			applied = now
		}
		if nowAudioOnly != appliedAudioOnly {
			peer.SetAudioOnly(nowAudioOnly)
			appliedAudioOnly = nowAudioOnly
		}
	}
}

// disconnected handles the end of a participant's connection: a planned
// leave removes them; a drop keeps their place for the resume window.
func (r *room) disconnected(c *conn, planned bool) {
	r.mu.Lock()
	p := c.p
	if p == nil || p.conn != c {
		r.mu.Unlock()
		return
	}
	peer := p.peer
	p.peer, p.conn = nil, nil
	if planned || r.ended {
		r.removeLocked(p)
	} else {
		p.pub.Connected = false
		p.pub.Speaking = false
		r.announceLocked(p)
		p.timer = time.AfterFunc(r.hub.cfg.ResumeWindow, func() { r.expire(p) })
	}
	empty := len(r.parts) == 0
	r.mu.Unlock()
	if peer != nil {
		peer.Close()
	}
	if empty {
		r.hub.forget(r)
	}
}

// expire removes a dropped participant who did not come back in time.
func (r *room) expire(p *participant) {
	r.mu.Lock()
	if p.conn != nil || r.parts[p.pub.ID] != p {
		r.mu.Unlock()
		return
	}
	r.removeLocked(p)
	empty := len(r.parts) == 0
	r.mu.Unlock()
	if empty {
		r.hub.forget(r)
	}
}

func (r *room) removeLocked(p *participant) {
	if p.timer != nil {
		p.timer.Stop()
		p.timer = nil
	}
	if r.parts[p.pub.ID] == p {
		delete(r.parts, p.pub.ID)
		r.broadcastLocked(outbound{Type: "left", ID: p.pub.ID}, nil)
	}
}

func (r *room) setSpeaking(p *participant, on bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.parts[p.pub.ID] != p || p.pub.Speaking == on {
		return
	}
	p.pub.Speaking = on
	r.announceLocked(p)
}

// setAudioOnly records a participant's audio-only choice (a resume and a
// peer still joining the SFU take it from here) and returns the peer to
// tell, if there is one yet.
func (r *room) setAudioOnly(p *participant, on bool) MediaPeer {
	r.mu.Lock()
	defer r.mu.Unlock()
	p.audioOnly = on
	return p.peer
}

func (r *room) peerOf(p *participant) MediaPeer {
	r.mu.Lock()
	defer r.mu.Unlock()
	return p.peer
}

func (r *room) chatMessage(p *participant, text string) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.pub.ChatMuted {
		return errf("chat_muted", "a moderator has muted your chat")
	}
	msg := ChatMessage{ID: randomID("m_", 8), From: p.pub.ID, Name: p.pub.Name, Text: text, At: time.Now().UTC().Truncate(time.Second)}
	r.chat = append(r.chat, msg)
	if len(r.chat) > chatHistory {
		r.chat = slices.Delete(r.chat, 0, len(r.chat)-chatHistory)
	}
	r.broadcastLocked(outbound{Type: "chat", Message: &msg}, nil)
	return nil
}

func (r *room) raiseHand(p *participant, up bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if p.pub.Hand != up {
		p.pub.Hand = up
		r.announceLocked(p)
	}
}

// moderate carries out a moderator's action.
func (r *room) moderate(p *participant, m inbound) error {
	if p.pub.Role != "moderator" {
		return errf("forbidden", "only moderators may do this")
	}
	if m.Action == "end" {
		r.end()
		if r.hub.cfg.OnEnd != nil {
			r.hub.cfg.OnEnd(r.id)
		}
		return nil
	}
	r.mu.Lock()
	if m.Action == "deleteChat" {
		defer r.mu.Unlock()
		i := slices.IndexFunc(r.chat, func(c ChatMessage) bool { return c.ID == m.MessageID })
		if i < 0 {
			return errf("unknown_message", "no such chat message")
		}
		r.chat = slices.Delete(r.chat, i, i+1)
		r.broadcastLocked(outbound{Type: "chatDeleted", MessageID: m.MessageID}, nil)
		return nil
	}
	t := r.parts[m.Target]
	if t == nil {
		r.mu.Unlock()
		return errf("unknown_participant", "no such participant")
	}
	var peer MediaPeer
	var rights *media.Rights
	var closeTarget, rightsTo *conn
	switch m.Action {
	case "grant", "revoke":
		on := m.Action == "grant"
		if m.Audio {
			t.pub.Audio = on
		}
		if m.Video {
			t.pub.Video = on
		}
		rights = &media.Rights{Audio: t.pub.Audio, Video: t.pub.Video}
		peer, rightsTo = t.peer, t.conn
		r.announceLocked(t)
	case "mute":
		if t.conn != nil {
			t.conn.enqueue(outbound{Type: "mute"})
		}
	case "muteChat", "unmuteChat":
		t.pub.ChatMuted = m.Action == "muteChat"
		r.announceLocked(t)
	case "remove":
		r.banned[t.accountID] = true
		closeTarget = t.conn
		peer = t.peer
		t.peer, t.conn = nil, nil
		r.removeLocked(t)
	}
	r.mu.Unlock()
	if rights != nil && peer != nil {
		peer.SetRights(*rights)
	}
	// The participant learns of new rights once the SFU applies them: a
	// revoked microphone is off before the page says so.
	if rights != nil && rightsTo != nil {
		rightsTo.enqueue(outbound{Type: "rights", Audio: &rights.Audio, Video: &rights.Video})
	}
	if closeTarget != nil {
		closeTarget.leaving()
		closeTarget.enqueue(outbound{Type: "removed"})
		closeTarget.closeWith(1000, "removed by a moderator")
		if peer != nil {
			peer.Close()
		}
	}
	return nil
}

// end tells everyone the room is over and closes their connections.
func (r *room) end() {
	r.mu.Lock()
	if r.ended {
		r.mu.Unlock()
		return
	}
	r.ended = true
	conns, peers := r.detachAllLocked()
	r.mu.Unlock()
	for _, c := range conns {
		c.leaving()
		c.enqueue(outbound{Type: "ended"})
		c.closeWith(1000, "room ended")
	}
	for _, p := range peers {
		p.Close()
	}
	r.hub.forget(r)
}

// shutdown closes every connection because the server stops; clients may
// resume on another node or after the restart.
func (r *room) shutdown() {
	r.mu.Lock()
	conns, peers := r.detachAllLocked()
	r.mu.Unlock()
	for _, c := range conns {
		c.closeWith(1001, "server shutting down")
	}
	for _, p := range peers {
		p.Close()
	}
}

func (r *room) detachAllLocked() ([]*conn, []MediaPeer) {
	var conns []*conn
	var peers []MediaPeer
	for id, p := range r.parts {
		if p.timer != nil {
			p.timer.Stop()
		}
		if p.conn != nil {
			conns = append(conns, p.conn)
		}
		if p.peer != nil {
			peers = append(peers, p.peer)
		}
		p.conn, p.peer = nil, nil
		delete(r.parts, id)
	}
	return conns, peers
}
