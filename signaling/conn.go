package signaling

import (
	"encoding/json"
	"errors"
	"sync"
	"time"

	"github.com/gorilla/websocket"
)

// frame is one item of a connection's send queue: a message, or the close
// frame that ends the queue.
type frame struct {
	data      []byte
	closeCode int
	closeText string
}

// sendQueue bounds what may wait for a slow client; a client that falls
// this far behind is disconnected rather than slowing the room down. The
// queue takes memory only while frames wait.
const sendQueue = 256

// conn is one participant's WebSocket. One goroutine reads (run), one
// writes (writeLoop); gorilla/websocket allows one of each.
type conn struct {
	hub  *Hub
	room *room
	ws   *websocket.Conn
	id   Identity
	host string       // the host the client connected to
	p    *participant // set by join, guarded by room.mu

	sendMu    sync.Mutex
	queue     []frame       // waiting for the writer, at most sendQueue; grows only as needed
	wake      chan struct{} // the writer has frames (capacity 1)
	stop      chan struct{} // closed to end the writer
	stopOnce  sync.Once
	planned   bool // leave, removal or end: no resume
	plannedMu sync.Mutex

	// rate limiting, used by the reader goroutine only
	tokens    float64
	last      time.Time
	dropped   int
	dropSince time.Time
	chats     []time.Time
}

func newConn(h *Hub, rm *room, ws *websocket.Conn, id Identity) *conn {
	return &conn{
		hub: h, room: rm, ws: ws, id: id,
		wake:   make(chan struct{}, 1),
		stop:   make(chan struct{}),
		tokens: h.cfg.RateBurst,
		last:   time.Now(),
	}
}

func encode(o outbound) ([]byte, error) {
	o.V = Version
	return json.Marshal(o)
}

// enqueue queues a message without blocking.
func (c *conn) enqueue(o outbound) {
	b, err := encode(o)
	if err != nil {
		c.hub.cfg.Logger.Error("encoding a message", "type", o.Type, "err", err)
		return
	}
	c.enqueueBytes(b)
}

func (c *conn) enqueueBytes(b []byte) {
	if !c.push(frame{data: b}) {
		c.hub.cfg.Logger.Warn("a participant's connection is too slow; closing it", "room", c.room.id)
		c.halt()
	}
}

// closeWith sends a close frame after what is queued, then ends the
// connection.
func (c *conn) closeWith(code int, text string) {
	if !c.push(frame{closeCode: code, closeText: text}) {
		c.halt()
	}
}

// push queues f for the writer; false when sendQueue frames wait already.
// A connection that has ended takes (and drops) everything.
func (c *conn) push(f frame) bool {
	select {
	case <-c.stop:
		return true
	default:
	}
	c.sendMu.Lock()
	full := len(c.queue) >= sendQueue
	if !full {
		c.queue = append(c.queue, f)
	}
	c.sendMu.Unlock()
	if !full {
		select {
		case c.wake <- struct{}{}:
		default:
		}
	}
	return !full
}

// pop takes the frames waiting for the writer.
func (c *conn) pop() []frame {
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	q := c.queue
	c.queue = nil
	return q
}

func (c *conn) halt() { c.stopOnce.Do(func() { close(c.stop) }) }

func (c *conn) leaving() {
	c.plannedMu.Lock()
	c.planned = true
	c.plannedMu.Unlock()
}

func (c *conn) wasPlanned() bool {
	c.plannedMu.Lock()
	defer c.plannedMu.Unlock()
	return c.planned
}

// run serves the connection until it ends.
func (c *conn) run() {
	writerDone := make(chan struct{})
	go func() {
		defer close(writerDone)
		c.writeLoop()
	}()
	c.readLoop()
	c.halt()
	<-writerDone
	c.room.disconnected(c, c.wasPlanned())
}

func (c *conn) writeLoop() {
	ping := time.NewTicker(c.hub.cfg.PingInterval)
	defer ping.Stop()
	defer c.ws.Close() // also ends the reader
	for {
		select {
		case <-c.stop:
			return
		case <-c.wake:
			for _, f := range c.pop() {
				_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
				if f.closeCode != 0 {
					_ = c.ws.WriteMessage(websocket.CloseMessage, websocket.FormatCloseMessage(f.closeCode, f.closeText))
					// Give the client a moment to read the close frame.
					time.Sleep(50 * time.Millisecond)
					c.halt()
					return
				}
				if err := c.ws.WriteMessage(websocket.TextMessage, f.data); err != nil {
					c.halt()
					return
				}
			}
		case <-ping.C:
			_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
			if err := c.ws.WriteMessage(websocket.PingMessage, nil); err != nil {
				c.halt()
				return
			}
		}
	}
}

func (c *conn) readLoop() {
	c.ws.SetReadLimit(MaxMessageBytes)
	_ = c.ws.SetReadDeadline(time.Now().Add(c.hub.cfg.PongWait))
	c.ws.SetPongHandler(func(string) error {
		return c.ws.SetReadDeadline(time.Now().Add(c.hub.cfg.PongWait))
	})
	closing := false
	for {
		typ, data, err := c.ws.ReadMessage()
		if err != nil {
			return
		}
		if closing {
			continue // the writer sends the close frame, then ends the socket
		}
		_ = c.ws.SetReadDeadline(time.Now().Add(c.hub.cfg.PongWait))
		if !c.allow() {
			if c.flooding() {
				closing = true
				c.closeWith(websocket.ClosePolicyViolation, "too many messages")
				continue
			}
			c.reply("", errf("rate_limited", "too many messages; slow down"))
			continue
		}
		if typ != websocket.TextMessage {
			c.reply("", errf("malformed", "messages are JSON text frames"))
			continue
		}
		m, err := decode(data)
		if err != nil {
			c.reply(m.ID, err)
			continue
		}
		c.handle(m)
	}
}

// allow takes a token from the connection's bucket.
func (c *conn) allow() bool {
	now := time.Now()
	c.tokens = min(c.hub.cfg.RateBurst, c.tokens+now.Sub(c.last).Seconds()*c.hub.cfg.RatePerSecond)
	c.last = now
	if c.tokens < 1 {
		return false
	}
	c.tokens--
	return true
}

// flooding counts a dropped message and reports whether the client keeps
// sending far beyond the limit (100 dropped within 10 s).
func (c *conn) flooding() bool {
	now := time.Now()
	if now.Sub(c.dropSince) > 10*time.Second {
		c.dropSince, c.dropped = now, 0
	}
	c.dropped++
	return c.dropped > 100
}

// allowChat: at most 5 chat messages per 10 seconds.
func (c *conn) allowChat() bool {
	now := time.Now()
	c.chats = append(c.chats[:0], filterRecent(c.chats, now.Add(-10*time.Second))...)
	if len(c.chats) >= 5 {
		return false
	}
	c.chats = append(c.chats, now)
	return true
}

func filterRecent(ts []time.Time, since time.Time) []time.Time {
	out := ts[:0:0]
	for _, t := range ts {
		if t.After(since) {
			out = append(out, t)
		}
	}
	return out
}

func (c *conn) reply(re string, err error) {
	var pe *protoError
	if !errors.As(err, &pe) {
		c.hub.cfg.Logger.Error("signaling request failed", "room", c.room.id, "err", err)
		pe = errf("internal", "something went wrong")
	}
	c.enqueue(outbound{Type: "error", Re: re, Code: pe.Code, Message: pe.Message})
}

// handle carries out one valid message.
func (c *conn) handle(m inbound) {
	if m.Type == "join" {
		if c.p != nil {
			c.reply(m.ID, errf("already_joined", "this connection has joined already"))
			return
		}
		if err := c.room.join(c, m); err != nil {
			c.reply(m.ID, err)
		}
		return
	}
	p := c.p
	if p == nil {
		c.reply(m.ID, errf("not_joined", "send join first"))
		return
	}
	var err error
	switch m.Type {
	case "signal":
		err = c.signal(p, m)
	case "chat":
		if !c.allowChat() {
			err = errf("rate_limited", "at most 5 chat messages in 10 seconds")
		} else {
			err = c.room.chatMessage(p, m.Text)
		}
	case "hand":
		c.room.raiseHand(p, m.Raised)
	case "audioOnly":
		if peer := c.room.setAudioOnly(p, m.Enabled); peer != nil {
			peer.SetAudioOnly(m.Enabled)
		}
	case "restartIce":
		if peer := c.room.peerOf(p); peer != nil {
			if e := peer.RestartICE(); e != nil {
				err = errf("bad_signal", "ICE restart failed: %v", e)
			}
		}
	case "moderate":
		err = c.room.moderate(p, m)
	case "leave":
		// The writer sends the close frame and then closes the socket,
		// which ends this reader.
		c.leaving()
		c.closeWith(1000, "left")
	}
	if err != nil {
		c.reply(m.ID, err)
	}
}

func (c *conn) signal(p *participant, m inbound) error {
	if m.Signal.Direction == "up" && m.Signal.Description != nil {
		c.room.mu.Lock()
		may := p.pub.Audio || p.pub.Video
		c.room.mu.Unlock()
		if !may {
			return errf("forbidden", "you have not been given the microphone or camera")
		}
	}
	peer := c.room.peerOf(p)
	if peer == nil {
		return errf("bad_signal", "the media connection is not ready yet")
	}
	if err := peer.HandleSignal(*m.Signal); err != nil {
		return errf("bad_signal", "%v", err)
	}
	return nil
}
