package signaling

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/webrtc/v4"

	"portalo/media"
)

// fakeMedia stands in for the SFU: it records what signaling asks of it and
// sends each new peer a "down" offer, as the SFU does.
type fakeMedia struct {
	mu    sync.Mutex
	peers map[string]*fakePeer
}

type fakePeer struct {
	mu        sync.Mutex
	rights    media.Rights
	audioOnly bool
	signals   []media.Signal
	closed    bool
	restarts  int
	ev        media.Events
}

func (f *fakeMedia) Join(roomID string, pc media.PeerConfig, ev media.Events) (MediaPeer, error) {
	p := &fakePeer{rights: pc.Rights, audioOnly: pc.AudioOnly, ev: ev}
	f.mu.Lock()
	if f.peers == nil {
		f.peers = map[string]*fakePeer{}
	}
	f.peers[pc.ID] = p
	f.mu.Unlock()
	ev.Signal(media.Signal{Direction: media.Down, Description: &webrtc.SessionDescription{Type: webrtc.SDPTypeOffer, SDP: "v=0 fake offer"}})
	return p, nil
}

func (f *fakeMedia) peer(id string) *fakePeer {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.peers[id]
}

func (p *fakePeer) HandleSignal(s media.Signal) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if s.Description != nil && s.Description.SDP == "garbage" {
		return errors.New("cannot parse SDP")
	}
	p.signals = append(p.signals, s)
	return nil
}
func (p *fakePeer) SetRights(r media.Rights) { p.mu.Lock(); p.rights = r; p.mu.Unlock() }
func (p *fakePeer) SetAudioOnly(on bool)     { p.mu.Lock(); p.audioOnly = on; p.mu.Unlock() }
func (p *fakePeer) RestartICE() error        { p.mu.Lock(); p.restarts++; p.mu.Unlock(); return nil }
func (p *fakePeer) Close()                   { p.mu.Lock(); p.closed = true; p.mu.Unlock() }
func (p *fakePeer) state() (media.Rights, bool, bool) {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.rights, p.audioOnly, p.closed
}

type env struct {
	t     *testing.T
	hub   *Hub
	media *fakeMedia
	srv   *httptest.Server
	ended chan string
}

func newEnv(t *testing.T, mod func(*Config)) *env {
	t.Helper()
	e := &env{t: t, media: &fakeMedia{}, ended: make(chan string, 4)}
	cfg := Config{Media: e.media, ResumeWindow: 2 * time.Second, OnEnd: func(id string) { e.ended <- id }}
	if mod != nil {
		mod(&cfg)
	}
	e.hub = NewHub(cfg)
	// The test server plays the web layer: identity from the query.
	e.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		id := Identity{AccountID: r.URL.Query().Get("acct"), Moderator: r.URL.Query().Get("mod") == "1"}
		e.hub.ServeWS(w, r, strings.TrimPrefix(r.URL.Path, "/"), id)
	}))
	t.Cleanup(func() {
		e.srv.Close()
	})
	return e
}

// client is a test participant.
type client struct {
	t    *testing.T
	ws   *websocket.Conn
	in   chan map[string]any
	raw  chan string
	done chan struct{}
	code int
}

func (e *env) dial(room, acct string, moderator bool) *client {
	e.t.Helper()
	c, err := e.tryDial(room, acct, moderator)
	if err != nil {
		e.t.Fatalf("dial: %v", err)
	}
	return c
}

func (e *env) tryDial(room, acct string, moderator bool) (*client, error) {
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/" + room + "?acct=" + acct
	if moderator {
		u += "&mod=1"
	}
	ws, _, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {e.srv.URL}})
	if err != nil {
		return nil, err
	}
	c := &client{t: e.t, ws: ws, in: make(chan map[string]any, 256), raw: make(chan string, 256), done: make(chan struct{})}
	go func() {
		defer close(c.done)
		for {
			_, b, err := ws.ReadMessage()
			if err != nil {
				var ce *websocket.CloseError
				if errors.As(err, &ce) {
					c.code = ce.Code
				}
				return
			}
			var m map[string]any
			_ = json.Unmarshal(b, &m)
			c.raw <- string(b)
			c.in <- m
		}
	}()
	e.t.Cleanup(func() { ws.Close() })
	return c, nil
}

func (c *client) send(m map[string]any) {
	c.t.Helper()
	if _, ok := m["v"]; !ok {
		m["v"] = 1
	}
	if err := c.ws.WriteJSON(m); err != nil {
		c.t.Fatalf("send: %v", err)
	}
}

// expect returns the next message of type typ, skipping others.
func (c *client) expect(typ string) map[string]any {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-c.in:
			if m["type"] == typ {
				return m
			}
		case <-deadline:
			c.t.Fatalf("no %q message within 5 s", typ)
			return nil
		}
	}
}

// expectWhere waits for a message of type typ for which ok holds.
func (c *client) expectWhere(typ string, ok func(map[string]any) bool) map[string]any {
	c.t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		select {
		case m := <-c.in:
			if m["type"] == typ && ok(m) {
				return m
			}
		case <-deadline:
			c.t.Fatalf("no matching %q message within 5 s", typ)
			return nil
		}
	}
}

func (c *client) expectError(code string) {
	c.t.Helper()
	m := c.expect("error")
	if m["code"] != code {
		c.t.Fatalf("error code %v (%v), want %s", m["code"], m["message"], code)
	}
}

func (c *client) join(name string) map[string]any {
	c.t.Helper()
	c.send(map[string]any{"type": "join", "name": name})
	return c.expect("joined")
}

func (c *client) waitClosed() int {
	c.t.Helper()
	select {
	case <-c.done:
		return c.code
	case <-time.After(5 * time.Second):
		c.t.Fatal("connection not closed")
		return 0
	}
}

func selfID(joined map[string]any) string { return joined["self"].(map[string]any)["id"].(string) }

func participantIs(id string, key string, want any) func(map[string]any) bool {
	return func(m map[string]any) bool {
		p := m["participant"].(map[string]any)
		return p["id"] == id && p[key] == want
	}
}

func TestJoinChatHandsPresence(t *testing.T) {
	e := newEnv(t, nil)
	trainer := e.dial("yoga", "acct-trainer", true)
	tj := trainer.join("Trainerin Tara")
	if tj["self"].(map[string]any)["role"] != "moderator" || tj["self"].(map[string]any)["audio"] != true {
		t.Fatalf("trainer joined as %v", tj["self"])
	}
	trainer.expect("signal") // the SFU's down offer

	p := e.dial("yoga", "acct-secret-42", false)
	pj := p.join("  Fröhlicher   Fuchs ")
	self := pj["self"].(map[string]any)
	if self["name"] != "Fröhlicher Fuchs" || self["role"] != "participant" || self["audio"] != false {
		t.Fatalf("participant joined as %v", self)
	}
	if others := pj["participants"].([]any); len(others) != 1 || others[0].(map[string]any)["name"] != "Trainerin Tara" {
		t.Fatalf("participants = %v", pj["participants"])
	}
	if sig := p.expect("signal")["signal"].(map[string]any); sig["direction"] != "down" {
		t.Fatalf("down offer: %v", sig)
	}
	pid := selfID(pj)
	trainer.expectWhere("participant", participantIs(pid, "name", "Fröhlicher Fuchs"))

	p.send(map[string]any{"type": "chat", "text": "Hallo zusammen!", "id": "c1"})
	for _, c := range []*client{trainer, p} {
		msg := c.expect("chat")["message"].(map[string]any)
		if msg["text"] != "Hallo zusammen!" || msg["name"] != "Fröhlicher Fuchs" || msg["from"] != pid {
			t.Fatalf("chat: %v", msg)
		}
	}
	p.send(map[string]any{"type": "hand", "raised": true})
	trainer.expectWhere("participant", participantIs(pid, "hand", true))

	// The answer to the down offer reaches the SFU.
	p.send(map[string]any{"type": "signal", "signal": map[string]any{"direction": "down", "description": map[string]any{"type": "answer", "sdp": "v=0 answer"}}})
	p.send(map[string]any{"type": "audioOnly", "enabled": true})
	p.send(map[string]any{"type": "restartIce"})
	deadline := time.Now().Add(3 * time.Second)
	for {
		fp := e.media.peer(pid)
		if fp == nil { // still joining the SFU
			if time.Now().After(deadline) {
				t.Fatal("no SFU peer")
			}
			time.Sleep(20 * time.Millisecond)
			continue
		}
		_, audioOnly, _ := fp.state()
		fp.mu.Lock()
		n, restarts := len(fp.signals), fp.restarts
		fp.mu.Unlock()
		if n == 1 && audioOnly && restarts == 1 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SFU saw %d signals, audioOnly %v, restarts %d", n, audioOnly, restarts)
		}
		time.Sleep(20 * time.Millisecond)
	}
	if e.hub.Count("yoga") != 2 {
		t.Fatalf("count = %d", e.hub.Count("yoga"))
	}
	p.send(map[string]any{"type": "leave"})
	if code := p.waitClosed(); code != websocket.CloseNormalClosure {
		t.Fatalf("leave closed with %d", code)
	}
	trainer.expectWhere("left", func(m map[string]any) bool { return m["id"] == pid })
}

func TestBadMessagesGetErrorsAndDisturbNothing(t *testing.T) {
	e := newEnv(t, nil)
	other := e.dial("r", "acct-other", false)
	other.join("Other")
	c := e.dial("r", "acct-c", false)

	c.send(map[string]any{"type": "chat", "text": "too early"})
	c.expectError("not_joined")
	c.send(map[string]any{"type": "join", "name": strings.Repeat("n", 41)})
	c.expectError("invalid_name")
	c.send(map[string]any{"type": "join", "name": "\u0007bell"})
	c.expectError("invalid_name")
	cj := c.join("Carla")

	cases := []struct {
		name string
		raw  string
		code string
	}{
		{"not json", `{"v":1,"type":`, "malformed"},
		{"array", `[1,2,3]`, "malformed"},
		{"wrong field type", `{"v":1,"type":"chat","text":42}`, "malformed"},
		{"old version", `{"v":0,"type":"chat","text":"x"}`, "version"},
		{"future version", `{"v":2,"type":"chat","text":"x"}`, "version"},
		{"unknown type", `{"v":1,"type":"dance"}`, "unknown_type"},
		{"join twice", `{"v":1,"type":"join","name":"Again"}`, "already_joined"},
		{"empty chat", `{"v":1,"type":"chat","text":"   "}`, "invalid_text"},
		{"long chat", `{"v":1,"type":"chat","text":"` + strings.Repeat("ü", 501) + `"}`, "invalid_text"},
		{"signal without direction", `{"v":1,"type":"signal","signal":{"candidate":{"candidate":"x"}}}`, "bad_signal"},
		{"signal with both", `{"v":1,"type":"signal","signal":{"direction":"down","candidate":{"candidate":"x"},"description":{"type":"answer","sdp":"x"}}}`, "bad_signal"},
		{"unparsable sdp", `{"v":1,"type":"signal","signal":{"direction":"down","description":{"type":"answer","sdp":"garbage"}}}`, "bad_signal"},
		{"publish without right", `{"v":1,"type":"signal","signal":{"direction":"up","description":{"type":"offer","sdp":"v=0"}}}`, "forbidden"},
		{"moderate as participant", `{"v":1,"type":"moderate","action":"end"}`, "forbidden"},
		{"unknown action", `{"v":1,"type":"moderate","action":"launch"}`, "unknown_type"},
		{"remove nobody", `{"v":1,"type":"moderate","action":"remove"}`, "unknown_participant"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			c.t = t
			if err := c.ws.WriteMessage(websocket.TextMessage, []byte(tc.raw)); err != nil {
				t.Fatal(err)
			}
			c.expectError(tc.code)
		})
	}
	c.t = t
	if err := c.ws.WriteMessage(websocket.BinaryMessage, []byte{1, 2, 3}); err != nil {
		t.Fatal(err)
	}
	c.expectError("malformed")
	// An error reply carries the request's id.
	c.send(map[string]any{"type": "dance", "id": "req-7"})
	if m := c.expect("error"); m["re"] != "req-7" {
		t.Fatalf("re = %v", m["re"])
	}
	// The room carries on for everyone, the sender included.
	c.send(map[string]any{"type": "chat", "text": "still here"})
	if msg := other.expect("chat")["message"].(map[string]any); msg["from"] != selfID(cj) {
		t.Fatalf("chat after errors: %v", msg)
	}
}

func TestModeratorActions(t *testing.T) {
	e := newEnv(t, nil)
	mod := e.dial("room", "acct-mod", true)
	mod.join("Trainer")
	p := e.dial("room", "acct-p", false)
	pid := selfID(p.join("Paula"))
	mod.expectWhere("participant", participantIs(pid, "name", "Paula"))

	// Grant the microphone: the participant is told, the SFU too, and an
	// up offer is now allowed.
	mod.send(map[string]any{"type": "moderate", "action": "grant", "target": pid, "audio": true})
	if r := p.expect("rights"); r["audio"] != true || r["video"] != false {
		t.Fatalf("rights: %v", r)
	}
	mod.expectWhere("participant", participantIs(pid, "audio", true))
	// The SFU peer may still be joining when the grant arrives: it gets
	// the rights all the same.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		var r media.Rights
		if fp := e.media.peer(pid); fp != nil {
			r, _, _ = fp.state()
		}
		if r.Audio && !r.Video {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("SFU rights %+v, want audio only", r)
		}
	}
	p.send(map[string]any{"type": "signal", "signal": map[string]any{"direction": "up", "description": map[string]any{"type": "offer", "sdp": "v=0 up"}}})
	mod.send(map[string]any{"type": "moderate", "action": "revoke", "target": pid, "audio": true})
	if r := p.expect("rights"); r["audio"] != false {
		t.Fatalf("revoke: %v", r)
	}
	if r, _, _ := e.media.peer(pid).state(); r.Audio {
		t.Fatal("SFU still lets the participant publish audio")
	}

	mod.send(map[string]any{"type": "moderate", "action": "mute", "target": pid})
	p.expect("mute")

	p.send(map[string]any{"type": "chat", "text": "spam"})
	mid := mod.expect("chat")["message"].(map[string]any)["id"].(string)
	mod.send(map[string]any{"type": "moderate", "action": "deleteChat", "messageId": mid})
	if m := p.expect("chatDeleted"); m["messageId"] != mid {
		t.Fatalf("chatDeleted: %v", m)
	}
	mod.send(map[string]any{"type": "moderate", "action": "deleteChat", "messageId": mid})
	mod.expectError("unknown_message")
	mod.send(map[string]any{"type": "moderate", "action": "muteChat", "target": pid})
	mod.expectWhere("participant", participantIs(pid, "chatMuted", true))
	p.send(map[string]any{"type": "chat", "text": "more spam"})
	p.expectError("chat_muted")
	mod.send(map[string]any{"type": "moderate", "action": "unmuteChat", "target": pid})
	mod.expectWhere("participant", participantIs(pid, "chatMuted", false))

	mod.send(map[string]any{"type": "moderate", "action": "remove", "target": pid})
	p.expect("removed")
	p.waitClosed()
	mod.expectWhere("left", func(m map[string]any) bool { return m["id"] == pid })
	// The media peer is closed by the connection's teardown, which may
	// finish just after the others hear that the participant left.
	for deadline := time.Now().Add(2 * time.Second); ; time.Sleep(10 * time.Millisecond) {
		if _, _, closed := e.media.peer(pid).state(); closed {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("the removed participant's media was not closed")
		}
	}
	if _, err := e.tryDial("room", "acct-p", false); err == nil {
		t.Fatal("a removed participant could come back")
	}

	q := e.dial("room", "acct-q", false)
	q.join("Quentin")
	mod.send(map[string]any{"type": "moderate", "action": "end"})
	q.expect("ended")
	mod.expect("ended")
	q.waitClosed()
	if got := <-e.ended; got != "room" {
		t.Fatalf("OnEnd(%q)", got)
	}
}

func TestResumeWithinWindow(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.ResumeWindow = 700 * time.Millisecond })
	watcher := e.dial("room", "acct-w", true)
	watcher.join("Watcher")
	p := e.dial("room", "acct-p", false)
	pj := p.join("Petra")
	pid, token := selfID(pj), pj["resume"].(string)
	p.send(map[string]any{"type": "hand", "raised": true})
	watcher.expectWhere("participant", participantIs(pid, "hand", true))

	// The network drops: no close frame.
	p.ws.UnderlyingConn().Close()
	watcher.expectWhere("participant", participantIs(pid, "connected", false))

	p2 := e.dial("room", "acct-p", false)
	p2.send(map[string]any{"type": "join", "name": "ignored", "resume": token})
	self := p2.expect("joined")["self"].(map[string]any)
	if self["id"] != pid || self["name"] != "Petra" || self["hand"] != true || self["connected"] != true {
		t.Fatalf("resumed as %v", self)
	}
	watcher.expectWhere("participant", participantIs(pid, "connected", true))

	// Another account cannot take the place over.
	p2.ws.UnderlyingConn().Close()
	thief := e.dial("room", "acct-thief", false)
	thief.send(map[string]any{"type": "join", "name": "x", "resume": token})
	thief.expectError("resume_failed")

	// After the window the place is gone.
	watcher.expectWhere("left", func(m map[string]any) bool { return m["id"] == pid })
	p3 := e.dial("room", "acct-p", false)
	p3.send(map[string]any{"type": "join", "name": "Petra", "resume": token})
	p3.expectError("resume_failed")
	p3.join("Petra")
}

func TestRateLimits(t *testing.T) {
	e := newEnv(t, func(c *Config) { c.RatePerSecond, c.RateBurst = 5, 10 })
	c := e.dial("room", "acct", false)
	c.join("Flo")
	for range 30 {
		c.send(map[string]any{"type": "hand", "raised": true})
	}
	c.expectError("rate_limited")
	time.Sleep(1200 * time.Millisecond) // the bucket refills
	for i := range 6 {
		c.send(map[string]any{"type": "chat", "text": "hi", "id": string(rune('a' + i))})
	}
	c.expectError("rate_limited")
	// Flooding far beyond the limit ends the connection.
	for range 400 {
		if err := c.ws.WriteMessage(websocket.TextMessage, []byte(`{"v":1,"type":"hand"}`)); err != nil {
			break
		}
	}
	if code := c.waitClosed(); code != websocket.ClosePolicyViolation {
		t.Fatalf("flood closed with %d", code)
	}
}

func TestOversizedMessageClosesConnection(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("room", "acct", false)
	c.join("Big")
	_ = c.ws.WriteMessage(websocket.TextMessage, []byte(`{"v":1,"type":"chat","text":"`+strings.Repeat("x", MaxMessageBytes)+`"}`))
	if code := c.waitClosed(); code != websocket.CloseMessageTooBig {
		t.Fatalf("closed with %d, want 1009", code)
	}
}

func TestOtherOriginsRefused(t *testing.T) {
	e := newEnv(t, nil)
	u := "ws" + strings.TrimPrefix(e.srv.URL, "http") + "/room?acct=a"
	_, resp, err := websocket.DefaultDialer.Dial(u, http.Header{"Origin": {"https://evil.example"}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin upgrade: %v %v", err, resp)
	}
}

// Nothing a participant receives names another's account.
func TestNoAccountDataReachesOthers(t *testing.T) {
	e := newEnv(t, nil)
	a := e.dial("room", "account-alpha-7f3", true)
	a.join("A")
	b := e.dial("room", "account-bravo-9c1", false)
	b.join("B")
	b.send(map[string]any{"type": "hand", "raised": true})
	b.send(map[string]any{"type": "chat", "text": "hi"})
	a.expect("chat")
	b.expect("chat")
	for _, c := range []*client{a, b} {
		for {
			select {
			case raw := <-c.raw:
				if strings.Contains(raw, "account-") {
					t.Fatalf("account ID sent: %s", raw)
				}
				continue
			default:
			}
			break
		}
	}
}

func TestCloseEndsConnections(t *testing.T) {
	e := newEnv(t, nil)
	c := e.dial("room", "acct", false)
	c.join("Z")
	done := make(chan error)
	go func() {
		ctx, cancel := contextWithTimeout(5 * time.Second)
		defer cancel()
		done <- e.hub.Close(ctx)
	}()
	if code := c.waitClosed(); code != websocket.CloseGoingAway {
		t.Fatalf("closed with %d", code)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func FuzzDecode(f *testing.F) {
	for _, seed := range []string{
		`{"v":1,"type":"join","name":"Anna","audioOnly":true}`,
		`{"v":1,"type":"join","name":"x","resume":"abc"}`,
		`{"v":1,"type":"signal","signal":{"direction":"up","description":{"type":"offer","sdp":"v=0\r\n"}}}`,
		`{"v":1,"type":"signal","signal":{"direction":"down","candidate":{"candidate":"candidate:1 1 udp 1 127.0.0.1 5000 typ host","sdpMid":"0"}}}`,
		`{"v":1,"type":"chat","text":"مرحبا","id":"1"}`,
		`{"v":1,"type":"moderate","action":"grant","target":"p_x","audio":true,"video":false}`,
		`{"v":1,"type":"moderate","action":"deleteChat","messageId":"m_1"}`,
		`{"v":1,"type":"hand","raised":true}`,
		`{"v":2,"type":"chat"}`,
		`{"type":null}`, `[]`, `""`, `{`, "\xff\xfe", `{"v":1,"type":"chat","text":"\u0000"}`,
	} {
		f.Add([]byte(seed))
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := decode(b)
		if err == nil {
			// Whatever decodes must be a known type with checked fields.
			switch m.Type {
			case "join":
				if _, e := cleanName(m.Name); e != nil {
					t.Fatalf("join with invalid name %q passed", m.Name)
				}
			case "chat":
				if _, e := cleanText(m.Text); e != nil {
					t.Fatalf("chat with invalid text %q passed", m.Text)
				}
			case "signal":
				if m.Signal == nil {
					t.Fatal("signal without signal passed")
				}
			case "hand", "audioOnly", "restartIce", "leave", "moderate":
			default:
				t.Fatalf("unknown type %q passed", m.Type)
			}
			return
		}
		var pe *protoError
		if !errors.As(err, &pe) || pe.Code == "" {
			t.Fatalf("error without a protocol code: %v", err)
		}
	})
}

func contextWithTimeout(d time.Duration) (context.Context, context.CancelFunc) {
	return context.WithTimeout(context.Background(), d)
}
