// Package signaling owns the live rooms of the workshops as people see
// them: who is in a room under which display name, the chat, raised hands,
// the moderators' actions, and the WebSocket protocol (PROTOCOL.md) that
// carries all of it plus the WebRTC negotiation with the SFU.
//
// It gets people's identity from the web layer (Identity) and never passes
// an account ID, e-mail or address on to other participants; it drives the
// media through the Media interface (package media implements it).
package signaling

import (
	"context"
	"crypto/rand"
	"encoding/base32"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"portalo/media"
)

// Identity is who the web layer authenticated for a connection.
type Identity struct {
	// AccountID identifies the account; it is used to keep a removed
	// person out and is never sent to anyone.
	AccountID string
	// Moderator: the workshop's trainer or an admin.
	Moderator bool
}

// Media is what signaling needs of the SFU.
type Media interface {
	Join(roomID string, pc media.PeerConfig, ev media.Events) (MediaPeer, error)
}

// MediaPeer is one participant's media at the SFU.
type MediaPeer interface {
	HandleSignal(sig media.Signal) error
	SetRights(r media.Rights)
	SetAudioOnly(on bool)
	RestartICE() error
	Close()
}

// Config holds what a Hub needs.
type Config struct {
	Media  Media
	Logger *slog.Logger
	// ICEServers returns the STUN/TURN servers for a client joining
	// through host (the Host its request was sent to, without the port),
	// for example with short-lived TURN credentials; nil gives none.
	ICEServers func(host string) []ICEServer
	// ResumeWindow is how long a dropped participant may resume (5 s).
	ResumeWindow time.Duration
	// PingInterval and PongWait set the keepalive (20 s and 45 s).
	PingInterval, PongWait time.Duration
	// RatePerSecond and RateBurst limit messages per connection (20, 40).
	RatePerSecond, RateBurst float64
	// OnEnd is called when a moderator ends a room.
	OnEnd func(roomID string)
}

// Hub holds the open rooms.
type Hub struct {
	cfg      Config
	upgrader websocket.Upgrader

	mu     sync.Mutex
	rooms  map[string]*room
	closed bool
	wg     sync.WaitGroup // connections' goroutines
}

// NewHub returns a Hub.
func NewHub(cfg Config) *Hub {
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.ResumeWindow <= 0 {
		cfg.ResumeWindow = 5 * time.Second
	}
	if cfg.PingInterval <= 0 {
		cfg.PingInterval = 20 * time.Second
	}
	if cfg.PongWait <= 0 {
		cfg.PongWait = 45 * time.Second
	}
	if cfg.RatePerSecond <= 0 {
		cfg.RatePerSecond = 20
	}
	if cfg.RateBurst <= 0 {
		cfg.RateBurst = 40
	}
	return &Hub{
		cfg:   cfg,
		rooms: map[string]*room{},
		// CheckOrigin nil: gorilla refuses a browser request whose Origin
		// is not the Host it was sent to.
		// ReadBufferSize 0 reads through the HTTP server's own 4 KB
		// buffer; the write buffers come from a pool, held only while a
		// message is written: a room of hundreds of mostly quiet
		// connections keeps no write buffer each.
		upgrader: websocket.Upgrader{WriteBufferSize: 4096, WriteBufferPool: &sync.Pool{}},
	}
}

// ServeWS upgrades the request to a WebSocket and starts the participant's
// connection to the room; it returns once the connection runs. The caller
// has authenticated id and checked that the room may be entered.
func (h *Hub) ServeWS(w http.ResponseWriter, r *http.Request, roomID string, id Identity) {
	rm, err := h.room(roomID)
	if err != nil {
		http.Error(w, err.Error(), http.StatusConflict)
		return
	}
	if rm.isBanned(id.AccountID) {
		http.Error(w, "you were removed from this room", http.StatusForbidden)
		return
	}
	ws, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered already
	}
	c := newConn(h, rm, ws, id)
	c.host = r.Host
	if host, _, err := net.SplitHostPort(r.Host); err == nil {
		c.host = host
	}
	// The connection runs on a goroutine of the hub's (Close waits for
	// it), and the HTTP server's returns: with it go its stack, grown
	// deep by the middleware, and the 4 KB write buffer the server keeps
	// for each connection it serves, which a hijacked one never uses.
	h.wg.Add(1)
	go func() {
		defer h.wg.Done()
		c.run()
	}()
}

// room returns the room, creating it when needed.
func (h *Hub) room(id string) (*room, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errClosed
	}
	rm, ok := h.rooms[id]
	if !ok {
		rm = newRoom(h, id)
		h.rooms[id] = rm
	}
	return rm, nil
}

// forget drops an empty room.
func (h *Hub) forget(rm *room) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.rooms[rm.id] == rm {
		delete(h.rooms, rm.id)
	}
}

// Count returns how many participants are in a room.
func (h *Hub) Count(roomID string) int {
	h.mu.Lock()
	rm := h.rooms[roomID]
	h.mu.Unlock()
	if rm == nil {
		return 0
	}
	return rm.count()
}

// End ends a room for everyone (the moderator's "end", or its time is up).
func (h *Hub) End(roomID string) {
	h.mu.Lock()
	rm := h.rooms[roomID]
	h.mu.Unlock()
	if rm != nil {
		rm.end()
	}
}

// Close ends every room and waits until every connection has stopped or
// ctx ends.
func (h *Hub) Close(ctx context.Context) error {
	h.mu.Lock()
	h.closed = true
	rooms := make([]*room, 0, len(h.rooms))
	for _, rm := range h.rooms {
		rooms = append(rooms, rm)
	}
	h.mu.Unlock()
	for _, rm := range rooms {
		rm.shutdown()
	}
	done := make(chan struct{})
	go func() { h.wg.Wait(); close(done) }()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func randomID(prefix string, n int) string {
	b := make([]byte, n)
	_, _ = rand.Read(b)
	return prefix + strings.ToLower(base32.StdEncoding.WithPadding(base32.NoPadding).EncodeToString(b))
}

// SFU lets a Hub drive portalo's SFU (package media).
func SFU(sfu *media.SFU) Media { return sfuMedia{sfu} }

type sfuMedia struct{ sfu *media.SFU }

func (m sfuMedia) Join(roomID string, pc media.PeerConfig, ev media.Events) (MediaPeer, error) {
	p, err := m.sfu.Join(roomID, pc, ev)
	if err != nil {
		return nil, err // not a typed nil inside the interface
	}
	return p, nil
}
