package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/pion/ice/v4"
	"github.com/pion/interceptor"
	"github.com/pion/webrtc/v4"
)

// newAPI returns the Pion API the load tool's peers use: default codecs
// and interceptors (NACK, RTCP reports, TWCC) like a normal client, and
// every candidate and packet kept on 127.0.0.1 (UDP4, no mDNS).
func newAPI() (*webrtc.API, error) {
	m := &webrtc.MediaEngine{}
	if err := m.RegisterDefaultCodecs(); err != nil {
		return nil, err
	}
	reg := &interceptor.Registry{}
	if err := webrtc.RegisterDefaultInterceptors(m, reg); err != nil {
		return nil, err
	}
	// A browser numbers the packets it sends for transport-wide
	// congestion control, and the SFU records them and sends feedback:
	// the publisher here does the same (Pion's defaults do not).
	if err := webrtc.ConfigureTWCCHeaderExtensionSender(m, reg); err != nil {
		return nil, err
	}
	loop := net.IPv4(127, 0, 0, 1)
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIPFilter(func(ip net.IP) bool { return ip.Equal(loop) })
	se.SetRemoteIPFilter(func(ip net.IP) bool { return ip.Equal(loop) })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithMediaEngine(m), webrtc.WithInterceptorRegistry(reg),
		webrtc.WithSettingEngine(se)), nil
}

// signal is the "signal" field of the protocol (media.Signal).
type signal struct {
	Direction   string                     `json:"direction"`
	Description *webrtc.SessionDescription `json:"description,omitempty"`
	Candidate   *webrtc.ICECandidateInit   `json:"candidate,omitempty"`
}

// inbound is a server message, as far as the load tool reads it.
type inbound struct {
	Type    string  `json:"type"`
	Re      string  `json:"re"`
	Code    string  `json:"code"`
	Message string  `json:"message"`
	Signal  *signal `json:"signal"`
}

// roomClient is one participant: its WebSocket and its up and down
// PeerConnections. Server messages are handled in order on the read
// goroutine.
type roomClient struct {
	name string
	api  *webrtc.API
	ws   *websocket.Conn

	wmu sync.Mutex // one writer at a time

	mu           sync.Mutex
	up, down     *webrtc.PeerConnection
	upQ, downQ   []webrtc.ICECandidateInit
	onTrack      func(*webrtc.TrackRemote, *webrtc.RTPReceiver)
	onConnFailed func(dir string)

	// remoteAddrs are the addresses of the SFU's candidates (in its SDP
	// or trickled), to check that it offers only 127.0.0.1.
	remoteAddrs []string

	joined   chan struct{} // closed on "joined"
	upDone   chan struct{} // closed when the up answer is applied
	done     chan struct{} // closed when the read loop ends
	errMu    sync.Mutex
	firstErr error
	closeOne sync.Once
	joinOnce sync.Once
	upOnce   sync.Once
}

// dialRoom opens the room's WebSocket with the session cookie of jar.
func dialRoom(ctx context.Context, base, workshopID string, jar http.CookieJar, name string, api *webrtc.API) (*roomClient, error) {
	u, err := url.Parse(base)
	if err != nil {
		return nil, err
	}
	wsURL := *u
	wsURL.Scheme = strings.Replace(u.Scheme, "http", "ws", 1)
	wsURL.Path = "/api/v1/rooms/" + workshopID + "/ws"
	d := websocket.Dialer{Jar: jar, HandshakeTimeout: 10 * time.Second}
	// The server refuses other origins; a browser page sends its own.
	ws, resp, err := d.DialContext(ctx, wsURL.String(), http.Header{"Origin": {u.Scheme + "://" + u.Host}})
	if err != nil {
		if resp != nil {
			return nil, fmt.Errorf("WebSocket: %w (HTTP %d)", err, resp.StatusCode)
		}
		return nil, fmt.Errorf("WebSocket: %w", err)
	}
	c := &roomClient{
		name: name, api: api, ws: ws,
		joined: make(chan struct{}), upDone: make(chan struct{}), done: make(chan struct{}),
	}
	go c.readLoop()
	return c, nil
}

func (c *roomClient) send(msg map[string]any) error {
	msg["v"] = 1
	b, err := json.Marshal(msg)
	if err != nil {
		return err
	}
	c.wmu.Lock()
	defer c.wmu.Unlock()
	_ = c.ws.SetWriteDeadline(time.Now().Add(10 * time.Second))
	return c.ws.WriteMessage(websocket.TextMessage, b)
}

func (c *roomClient) sendSignal(s signal) error {
	return c.send(map[string]any{"type": "signal", "signal": s})
}

func (c *roomClient) fail(err error) {
	c.errMu.Lock()
	if c.firstErr == nil {
		c.firstErr = err
	}
	c.errMu.Unlock()
}

// err returns the first error the client saw (server error messages,
// failed negotiations, a closed WebSocket).
func (c *roomClient) err() error {
	c.errMu.Lock()
	defer c.errMu.Unlock()
	return c.firstErr
}

// join sends "join" and waits for "joined".
func (c *roomClient) join(ctx context.Context) error {
	if err := c.send(map[string]any{"type": "join", "name": c.name, "audioOnly": false, "id": "join"}); err != nil {
		return err
	}
	select {
	case <-c.joined:
		return nil
	case <-c.done:
		if err := c.err(); err != nil {
			return err
		}
		return errors.New("WebSocket closed before joined")
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (c *roomClient) readLoop() {
	defer close(c.done)
	c.ws.SetReadLimit(64 << 10)
	for {
		_, b, err := c.ws.ReadMessage()
		if err != nil {
			c.fail(fmt.Errorf("WebSocket: %w", err))
			return
		}
		var m inbound
		if err := json.Unmarshal(b, &m); err != nil {
			continue
		}
		switch m.Type {
		case "joined":
			c.joinOnce.Do(func() { close(c.joined) })
		case "signal":
			if verbose && m.Signal != nil {
				if m.Signal.Description != nil {
					debugf("%s: %s %s:\n%s", c.name, m.Signal.Direction, m.Signal.Description.Type, m.Signal.Description.SDP)
				} else if m.Signal.Candidate != nil {
					debugf("%s: %s candidate %s", c.name, m.Signal.Direction, m.Signal.Candidate.Candidate)
				}
			}
			if m.Signal != nil {
				if err := c.handleSignal(*m.Signal); err != nil {
					c.fail(fmt.Errorf("signal %s: %w", m.Signal.Direction, err))
				}
			}
		case "error":
			c.fail(fmt.Errorf("server error %s (re %q): %s", m.Code, m.Re, m.Message))
		case "removed", "ended":
			c.fail(fmt.Errorf("server: %s", m.Type))
		}
	}
}

func (c *roomClient) newPC(dir string) (*webrtc.PeerConnection, error) {
	pc, err := c.api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		return nil, err
	}
	pc.OnICECandidate(func(cand *webrtc.ICECandidate) {
		if cand == nil {
			return
		}
		init := cand.ToJSON()
		if verbose {
			debugf("%s: %s local candidate %s", c.name, dir, init.Candidate)
		}
		_ = c.sendSignal(signal{Direction: dir, Candidate: &init})
	})
	pc.OnICEConnectionStateChange(func(s webrtc.ICEConnectionState) {
		if verbose {
			debugf("%s: %s ICE %s", c.name, dir, s)
		}
		if s == webrtc.ICEConnectionStateFailed {
			c.fail(fmt.Errorf("%s: ICE failed", dir))
			if c.onConnFailed != nil {
				c.onConnFailed(dir)
			}
		}
	})
	return pc, nil
}

// handleSignal applies one signal of the server: down offers are
// answered, up answers applied, candidates added (or queued until the
// remote description is set).
func (c *roomClient) handleSignal(s signal) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.Description != nil {
		c.remoteAddrs = append(c.remoteAddrs, sdpCandidateAddrs(s.Description.SDP)...)
	}
	if s.Candidate != nil {
		c.remoteAddrs = append(c.remoteAddrs, sdpCandidateAddrs("a="+s.Candidate.Candidate)...)
	}
	switch s.Direction {
	case "down":
		if s.Candidate != nil {
			return addCand(c.down, &c.downQ, *s.Candidate)
		}
		if s.Description == nil || s.Description.Type != webrtc.SDPTypeOffer {
			return nil
		}
		if c.down == nil {
			pc, err := c.newPC("down")
			if err != nil {
				return err
			}
			if c.onTrack != nil {
				pc.OnTrack(c.onTrack)
			}
			c.down = pc
		}
		if err := c.down.SetRemoteDescription(*s.Description); err != nil {
			return err
		}
		flushCands(c.down, &c.downQ)
		ans, err := c.down.CreateAnswer(nil)
		if err != nil {
			return err
		}
		if err := c.down.SetLocalDescription(ans); err != nil {
			return err
		}
		return c.sendSignal(signal{Direction: "down", Description: c.down.LocalDescription()})
	case "up":
		if s.Candidate != nil {
			return addCand(c.up, &c.upQ, *s.Candidate)
		}
		if c.up == nil || s.Description == nil || s.Description.Type != webrtc.SDPTypeAnswer {
			return nil
		}
		if c.up.SignalingState() != webrtc.SignalingStateHaveLocalOffer {
			return nil
		}
		if err := c.up.SetRemoteDescription(*s.Description); err != nil {
			return err
		}
		flushCands(c.up, &c.upQ)
		c.upOnce.Do(func() { close(c.upDone) })
	}
	return nil
}

func addCand(pc *webrtc.PeerConnection, q *[]webrtc.ICECandidateInit, cand webrtc.ICECandidateInit) error {
	if pc == nil || pc.RemoteDescription() == nil {
		*q = append(*q, cand)
		return nil
	}
	if cand.Candidate == "" {
		return nil
	}
	return pc.AddICECandidate(cand)
}

func flushCands(pc *webrtc.PeerConnection, q *[]webrtc.ICECandidateInit) {
	for _, cand := range *q {
		if cand.Candidate != "" {
			_ = pc.AddICECandidate(cand)
		}
	}
	*q = nil
}

// offerUp creates the up connection with the given senders' setup and
// sends its offer.
func (c *roomClient) offerUp(build func(pc *webrtc.PeerConnection) error) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	pc, err := c.newPC("up")
	if err != nil {
		return err
	}
	c.up = pc
	if err := build(pc); err != nil {
		return err
	}
	offer, err := pc.CreateOffer(nil)
	if err != nil {
		return err
	}
	if err := pc.SetLocalDescription(offer); err != nil {
		return err
	}
	return c.sendSignal(signal{Direction: "up", Description: pc.LocalDescription()})
}

// close leaves the room (if leave) and closes the connections. It waits
// at most a few seconds for the server to close the WebSocket.
func (c *roomClient) close(leave bool) {
	c.closeOne.Do(func() {
		if leave {
			_ = c.send(map[string]any{"type": "leave"})
		}
		c.mu.Lock()
		up, down := c.up, c.down
		c.mu.Unlock()
		if up != nil {
			_ = up.Close()
		}
		if down != nil {
			_ = down.Close()
		}
		if leave {
			select {
			case <-c.done:
			case <-time.After(3 * time.Second):
			}
		}
		c.wmu.Lock()
		_ = c.ws.WriteControl(websocket.CloseMessage,
			websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(time.Second))
		c.wmu.Unlock()
		_ = c.ws.Close()
		<-c.done
	})
}

// verbose makes the clients log signaling and ICE states (-v).
var verbose bool

func debugf(format string, a ...any) {
	fmt.Fprintf(os.Stderr, "%s debug: "+format+"\n", append([]any{time.Now().Format("15:04:05.000")}, a...)...)
}

// candidateCheck reports the SFU's candidates seen so far: none at all,
// or ones that are not on 127.0.0.1 (which the remote IP filter drops).
func (c *roomClient) candidateCheck() (total int, other []string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.remoteAddrs {
		if ip := net.ParseIP(a); ip == nil || !ip.Equal(net.IPv4(127, 0, 0, 1)) {
			other = append(other, a)
		}
	}
	return len(c.remoteAddrs), other
}
