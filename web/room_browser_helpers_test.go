package web

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http/httptest"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	cdppage "github.com/chromedp/cdproto/page"
	"github.com/chromedp/chromedp"
	"github.com/pion/turn/v4"

	"portalo/accounts"
	"portalo/media"
	"portalo/signaling"
	"portalo/store/kv/boltkv"
	"portalo/web/browsertest"
	"portalo/web/i18n"
	"portalo/workshops"
)

// This file holds what the live-room browser tests share: a portal with one
// open room (roomFixture), a driven tab (roomTab) and the JavaScript that
// reads the room page's WebRTC statistics.

// The trainer of every roomFixture.
const (
	trainerPseudonym = "Trainerin"
	trainerPassword  = "trainer password"
)

// roomFixture is a portal on 127.0.0.1 with a media server, signaling and
// one workshop whose room is open now, led by the account trainerPseudonym.
type roomFixture struct {
	server   *httptest.Server
	sfu      *media.SFU
	accounts *accounts.Service
	roomID   string // the workshop's ID
	trainer  accounts.Account
}

// roomFixtureConfig changes a roomFixture.
type roomFixtureConfig struct {
	// tcp turns the media server's ICE-TCP port on (on a free port).
	tcp bool
	// iceServers are the STUN/TURN servers the pages get when they join.
	iceServers func(host string) []signaling.ICEServer
}

func newRoomFixture(t *testing.T, cfg roomFixtureConfig) *roomFixture {
	t.Helper()
	ctx := context.Background()
	store, err := boltkv.Open(filepath.Join(t.TempDir(), "state.db"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { store.Close() })
	accts, err := accounts.New(ctx, store, accounts.Options{Hash: accounts.HashParams{MemoryKiB: 64, Time: 1, Threads: 1}})
	if err != nil {
		t.Fatal(err)
	}
	ws := workshops.New(store, workshops.Options{IsTrainer: isTrainer(accts)})
	mc := media.Config{LoopbackOnly: true, TCPPort: -1}
	if cfg.tcp {
		mc.TCPPort = 0
	}
	sfu, err := media.New(mc)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sfu.Close() })
	hub := signaling.NewHub(signaling.Config{Media: signaling.SFU(sfu), ICEServers: cfg.iceServers})
	t.Cleanup(func() {
		cctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		defer cancel()
		_ = hub.Close(cctx)
	})
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Accounts: accts, Catalog: cat, Logger: slog.New(slog.DiscardHandler),
		Workshops: ws, Rooms: hub, RoomSchedule: ws,
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv)
	t.Cleanup(hs.Close)

	trainer, err := accts.Register(ctx, accounts.Registration{Pseudonym: trainerPseudonym, Password: trainerPassword}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if trainer, err = accts.SetRoles(ctx, trainer.ID, []accounts.Role{accounts.RoleTrainer}); err != nil {
		t.Fatal(err)
	}
	// A workshop that started two minutes ago, so its room is open now.
	start := time.Now().In(workshops.Berlin).Add(-2 * time.Minute)
	w, err := ws.Create(ctx, workshops.Workshop{
		Title: map[string]string{"de": "Yoga am Morgen", "en": "Morning yoga"}, Topic: workshops.TopicMovement,
		Language: "de", TrainerID: trainer.ID, Weekday: start.Weekday(),
		Start: workshops.TimeOfDay{Hour: start.Hour(), Minute: start.Minute()}, Duration: 60,
		StartsOn: workshops.DateOf(start),
	})
	if err != nil {
		t.Fatal(err)
	}
	return &roomFixture{server: hs, sfu: sfu, accounts: accts, roomID: w.ID, trainer: trainer}
}

// register adds a participant's account.
func (f *roomFixture) register(t *testing.T, pseudonym, password string) {
	t.Helper()
	if _, err := f.accounts.Register(context.Background(), accounts.Registration{Pseudonym: pseudonym, Password: password}, "p"); err != nil {
		t.Fatal(err)
	}
}

// tabTimeout is the overall limit of every tab of these tests.
const tabTimeout = 3 * time.Minute

// roomTab is a browser tab of one person in the room's test.
type roomTab struct {
	t   *testing.T
	ctx context.Context
}

// newTab opens a tab at phone width on a fresh browsertest browser.
func newTab(t *testing.T) *roomTab {
	t.Helper()
	b := browsertest.New(t)
	return &roomTab{t: t, ctx: b.NewTab(t, browsertest.Viewport(360, 740), browsertest.Timeout(tabTimeout))}
}

// do runs actions on the tab and ends the test if they fail.
func (tab *roomTab) do(step string, actions ...chromedp.Action[chromedp.Void]) {
	tab.t.Helper()
	if err := chromedp.Do(tab.ctx, actions...); err != nil {
		tab.t.Fatalf("%s: %v", step, err)
	}
}

// eval evaluates a JavaScript expression (awaiting a promise) and decodes
// its value.
func eval[T any](tab *roomTab, step, expr string) T {
	tab.t.Helper()
	v, err := chromedp.Run(tab.ctx, chromedp.Evaluate[T](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		tab.t.Fatalf("%s: %v", step, err)
	}
	return v
}

// waitFor polls a JavaScript condition (getStats and friends) every 200 ms
// until it holds, up to limit, and returns how long that took.
func (tab *roomTab) waitFor(step, expr string, limit time.Duration) time.Duration {
	tab.t.Helper()
	start := time.Now()
	deadline := start.Add(limit)
	for {
		ok, err := chromedp.Run(tab.ctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise))
		if err == nil && ok {
			return time.Since(start)
		}
		if time.Now().After(deadline) {
			tab.t.Fatalf("%s: not within %s (err %v); %s", step, limit, err, tab.describe())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// describe is the room page's state for a failure message.
func (tab *roomTab) describe() string {
	state, _ := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`JSON.stringify(window.portaloRoom && window.portaloRoom.state())`))
	status, _ := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`(document.querySelector('#room-status')||{}).textContent`))
	ice, _ := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`(() => { const r = window.portaloRoom; if (!r) return ''; const s = pc => pc ? pc.iceConnectionState + '/' + pc.connectionState : 'none'; return 'up ' + s(r.pcs.up) + ', down ' + s(r.pcs.down); })()`))
	video, _ := chromedp.Run(tab.ctx, chromedp.Evaluate[string](`(async () => {
		const pc = window.portaloRoom && window.portaloRoom.pcs.down; if (!pc) return '';
		const out = []; (await pc.getStats()).forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video') out.push({
			packetsReceived: s.packetsReceived, packetsLost: s.packetsLost, framesReceived: s.framesReceived, framesDecoded: s.framesDecoded,
			keyFramesDecoded: s.keyFramesDecoded, pliCount: s.pliCount, nackCount: s.nackCount, frameWidth: s.frameWidth }); });
		return JSON.stringify(out); })()`, chromedp.EvalAwaitPromise))
	return fmt.Sprintf("state %s; status %q; ICE %s; received video %s", state, status, ice, video)
}

// login logs in on base (the portal's URL, or a proxy's in front of it)
// and waits for the room's lobby.
func (tab *roomTab) login(base, roomID, who, password string) {
	tab.t.Helper()
	tab.do("open login "+who, chromedp.Navigate(base+"/login?next=/workshops/"+roomID+"/room"), chromedp.WaitVisible(chromedp.CSS("#pseudonym")))
	tab.do("log in "+who,
		chromedp.SendKeys(chromedp.CSS("#pseudonym"), who),
		chromedp.SendKeys(chromedp.CSS("#password"), password),
		chromedp.Submit(chromedp.CSS("#password")),
		chromedp.WaitEnabled(chromedp.CSS("#join-button")),
	)
}

// trainerPublishes logs the trainer in, joins and waits until the page
// encodes video.
func (f *roomFixture) trainerPublishes(tab *roomTab) {
	tab.t.Helper()
	tab.login(f.server.URL, f.roomID, trainerPseudonym, trainerPassword)
	tab.publish()
}

// publish joins a moderator's page from the lobby and waits until it
// encodes video.
func (tab *roomTab) publish() {
	tab.t.Helper()
	tab.do("trainer joins", chromedp.Click(chromedp.CSS("#join-button")))
	tab.waitFor("trainer joined and publishing", `(async () => {
		const r = window.portaloRoom; if (!r || !r.state().joined || !r.pcs.up) return false;
		return (await `+jsEncodedFrames+`) > 0;
	})()`, 30*time.Second)
}

// join enters the room from the lobby, under name unless it is empty (then
// under the pre-filled random name), and returns the display name.
func (tab *roomTab) join(name string) string {
	tab.t.Helper()
	if name != "" {
		tab.do("choose the display name "+name,
			chromedp.Evaluate[chromedp.Void](`document.querySelector('#display-name').value = ''; undefined`),
			chromedp.SendKeys(chromedp.CSS("#display-name"), name),
		)
	}
	got := eval[string](tab, "read the display name", `document.querySelector('#display-name').value`)
	tab.do("join", chromedp.Click(chromedp.CSS("#join-button")))
	tab.waitFor("joined", `window.portaloRoom.state().joined`, 15*time.Second)
	return got
}

// waitDecoding waits until the page decodes the trainer's video and shows
// it.
func (tab *roomTab) waitDecoding(step string, limit time.Duration) {
	tab.t.Helper()
	tab.waitFor(step, `(async () => (await `+jsDecodedFrames+`) > 0 && document.querySelector('#remote-video').videoWidth > 0)()`, limit)
}

// JavaScript that reads the room page's statistics; each is an expression
// of a promise.
const (
	// jsDecodedFrames: video frames decoded on the down connection (-1
	// without one).
	jsDecodedFrames = `(async () => {
		const pc = window.portaloRoom && window.portaloRoom.pcs.down; if (!pc) return -1;
		let n = 0; (await pc.getStats()).forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video') n += s.framesDecoded || 0; });
		return n; })()`
	// jsEncodedFrames: video frames encoded on the up connection, all
	// layers (-1 without one).
	jsEncodedFrames = `(async () => {
		const pc = window.portaloRoom && window.portaloRoom.pcs.up; if (!pc) return -1;
		let n = 0; (await pc.getStats()).forEach(s => { if (s.type === 'outbound-rtp' && s.kind === 'video') n += s.framesEncoded || 0; });
		return n; })()`
)

// addScript runs script in every page the tab loads from now on, before
// the page's own scripts.
func (tab *roomTab) addScript(script string) {
	tab.t.Helper()
	tab.do("add a script to the pages", chromedp.Func(func(ctx context.Context, _ *chromedp.Target) error {
		_, err := chromedp.Call(ctx, cdppage.AddScriptToEvaluateOnNewDocument, cdppage.AddScriptToEvaluateOnNewDocumentParams{Source: script})
		return err
	}))
}

// sentLayer is one simulcast layer the page sends (outbound-rtp).
type sentLayer struct {
	RID    string `json:"rid"`
	Codec  string `json:"codec"`
	Frames int    `json:"frames"`
	Width  int    `json:"width"`
	Limit  string `json:"limit"` // qualityLimitationReason: none, cpu, bandwidth, other
}

// sentLayers lists the video streams of the page's up connection, by rid
// in the order of room.js's layers (q, h, f).
func (tab *roomTab) sentLayers() []sentLayer {
	tab.t.Helper()
	s := eval[string](tab, "read the sent layers", `(async () => {
		const pc = window.portaloRoom && window.portaloRoom.pcs.up; if (!pc) return '[]';
		const stats = await pc.getStats(); const out = [];
		stats.forEach(s => { if (s.type === 'outbound-rtp' && s.kind === 'video') out.push({
			rid: s.rid || '', codec: s.codecId && stats.has(s.codecId) ? stats.get(s.codecId).mimeType : '',
			frames: s.framesEncoded || 0, width: s.frameWidth || 0, limit: s.qualityLimitationReason || '' }); });
		const order = ['q', 'h', 'f'];
		out.sort((a, b) => order.indexOf(a.rid) - order.indexOf(b.rid));
		return JSON.stringify(out); })()`)
	var ls []sentLayer
	if err := json.Unmarshal([]byte(s), &ls); err != nil {
		tab.t.Fatalf("sent layers %s: %v", s, err)
	}
	return ls
}

// candidate is one end of an ICE candidate pair as getStats reports it.
type candidate struct {
	Type          string `json:"candidateType"` // host, srflx, prflx, relay
	Protocol      string `json:"protocol"`      // udp, tcp
	RelayProtocol string `json:"relayProtocol"` // how a relay candidate reaches its TURN server
	Address       string `json:"address"`
	Port          int    `json:"port"`
}

// iceRoute is the selected candidate pair of a connection, and every
// local candidate the connection had.
type iceRoute struct {
	Local, Remote   candidate
	LocalCandidates []candidate
	Ufrag           string // the local ICE username fragment
}

// route reads the selected candidate pair of the page's up or down
// connection; ok is false while there is none.
func (tab *roomTab) route(direction string) (r iceRoute, ok bool) {
	tab.t.Helper()
	s := eval[string](tab, "read the ICE route", `(async () => {
		const pc = window.portaloRoom && window.portaloRoom.pcs.`+direction+`; if (!pc) return '';
		const stats = await pc.getStats(); let pair = null; const locals = [];
		stats.forEach(s => {
			if (s.type === 'transport' && s.selectedCandidatePairId) pair = stats.get(s.selectedCandidatePairId);
			if (s.type === 'local-candidate') locals.push(s);
		});
		if (!pair) return '';
		const ufrag = ((pc.localDescription && pc.localDescription.sdp.match(/a=ice-ufrag:(\S+)/)) || [])[1] || '';
		return JSON.stringify({Local: stats.get(pair.localCandidateId), Remote: stats.get(pair.remoteCandidateId), LocalCandidates: locals, Ufrag: ufrag});
	})()`)
	if s == "" {
		return iceRoute{}, false
	}
	if err := json.Unmarshal([]byte(s), &r); err != nil {
		tab.t.Fatalf("ICE route %s: %v", s, err)
	}
	return r, true
}

// waitRoute waits until the page's connection in direction has a
// selected candidate pair and returns it.
func (tab *roomTab) waitRoute(direction string, limit time.Duration) iceRoute {
	tab.t.Helper()
	deadline := time.Now().Add(limit)
	for {
		if r, ok := tab.route(direction); ok {
			return r
		}
		if time.Now().After(deadline) {
			tab.t.Fatalf("no selected candidate pair on %s within %s; %s", direction, limit, tab.describe())
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitMoreFrames waits until the page has decoded more than n video frames
// on its down connection.
func (tab *roomTab) waitMoreFrames(step string, n int, limit time.Duration) {
	tab.t.Helper()
	tab.waitFor(step, fmt.Sprintf(`(async () => (await %s) > %d)()`, jsDecodedFrames, n), limit)
}

// framesKeepComing checks that the page decodes more video frames over
// about two seconds.
func (tab *roomTab) framesKeepComing(step string) {
	tab.t.Helper()
	before := eval[int](tab, step, jsDecodedFrames)
	time.Sleep(2 * time.Second)
	after := eval[int](tab, step, jsDecodedFrames)
	if before <= 0 || after <= before {
		tab.t.Fatalf("%s: video frames decoded went from %d to %d in 2 s; %s", step, before, after, tab.describe())
	}
}

// ---------------------------------------------------------------- a browser with other settings

// browserSettings are the command-line switches and profile preferences
// of a browser that differs from browsertest's, such as one that may not
// use UDP.
type browserSettings struct {
	switches map[string]string // name → value ("" for a bare switch)
	prefs    map[string]any    // written to the profile's Default/Preferences
}

// newTabWith starts a headless Chromium with settings and opens a
// phone-width tab on it.
func newTabWith(t *testing.T, settings browserSettings) *roomTab {
	t.Helper()
	var opts []browsertest.BrowserOption
	for name, value := range settings.switches {
		opts = append(opts, browsertest.Switch(name, value))
	}
	if settings.prefs != nil {
		opts = append(opts, browsertest.Preferences(settings.prefs))
	}
	b := browsertest.New(t, opts...)
	return &roomTab{t: t, ctx: b.NewTab(t, browsertest.Viewport(360, 740), browsertest.Timeout(tabTimeout))}
}

// ---------------------------------------------------------------- a network in front of the portal

// tcpProxy forwards TCP connections from its own 127.0.0.1 port to a
// target and can cut every connection at once, as a dropped network link
// does: both ends see the connection closed.
type tcpProxy struct {
	ln     net.Listener
	target string

	mu    sync.Mutex
	conns map[net.Conn]struct{}
	wg    sync.WaitGroup // the accept loop and every copier
}

// newTCPProxy starts a proxy to target (host:port); it stops at the end
// of the test.
func newTCPProxy(t *testing.T, target string) *tcpProxy {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	p := &tcpProxy{ln: ln, target: target, conns: map[net.Conn]struct{}{}}
	p.wg.Add(1)
	go p.accept()
	t.Cleanup(p.close)
	return p
}

// URL is the proxy's http:// address.
func (p *tcpProxy) URL() string { return "http://" + p.ln.Addr().String() }

func (p *tcpProxy) accept() {
	defer p.wg.Done()
	for {
		c, err := p.ln.Accept()
		if err != nil {
			return
		}
		up, err := net.Dial("tcp4", p.target)
		if err != nil {
			c.Close()
			continue
		}
		if !p.track(c, up) {
			return
		}
		p.wg.Add(2)
		go p.pipe(c, up)
		go p.pipe(up, c)
	}
}

// track registers a pair of connections; false when the proxy is closed.
func (p *tcpProxy) track(cs ...net.Conn) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.conns == nil {
		for _, c := range cs {
			c.Close()
		}
		return false
	}
	for _, c := range cs {
		p.conns[c] = struct{}{}
	}
	return true
}

func (p *tcpProxy) pipe(dst, src net.Conn) {
	defer p.wg.Done()
	_, _ = io.Copy(dst, src)
	dst.Close()
	src.Close()
	p.mu.Lock()
	delete(p.conns, dst)
	delete(p.conns, src)
	p.mu.Unlock()
}

// cut closes every connection through the proxy (new ones are accepted)
// and returns how many there were.
func (p *tcpProxy) cut() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	for c := range p.conns {
		c.Close()
	}
	return len(p.conns) / 2
}

func (p *tcpProxy) close() {
	p.ln.Close()
	p.mu.Lock()
	for c := range p.conns {
		c.Close()
	}
	p.conns = nil
	p.mu.Unlock()
	p.wg.Wait()
}

// ---------------------------------------------------------------- TURN servers

// embeddedTURN is the portal's own TURN server (media.NewTURN) on
// 127.0.0.1, offered to the pages as cmd/portalo's startTURN offers it.
type embeddedTURN struct {
	srv    *media.TURNServer
	secret string
}

func startEmbeddedTURN(t *testing.T) *embeddedTURN {
	t.Helper()
	const secret = "a test secret"
	srv, err := media.NewTURN(media.TURNConfig{ListenIP: "127.0.0.1", Secret: secret})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &embeddedTURN{srv: srv, secret: secret}
}

// iceServers is the signaling.Config.ICEServers of a portal that uses
// this TURN server.
func (s *embeddedTURN) iceServers(host string) []signaling.ICEServer {
	user, pass := media.TURNCredentials(s.secret, "test", time.Hour, time.Now())
	return []signaling.ICEServer{{
		URLs: []string{
			fmt.Sprintf("turn:%s:%d?transport=udp", host, s.srv.Addr().Port),
			fmt.Sprintf("turn:%s:%d?transport=tcp", host, s.srv.Addr().Port),
		},
		Username: user, Credential: pass,
	}}
}

// turnOverTCP is a TURN server that clients reach over TCP and that relays
// over UDP on 127.0.0.1, with the TURN REST credentials of the embedded
// server (the same shared secret works for both): what an external coturn
// with use-auth-secret and a TCP listener gives the portal. The test can
// cut every client connection to it.
type turnOverTCP struct {
	srv    *turn.Server
	ln     *cuttableListener
	secret string
}

func newTURNOverTCP(t *testing.T) *turnOverTCP {
	t.Helper()
	ln, err := net.Listen("tcp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cl := &cuttableListener{Listener: ln, conns: map[*cuttableConn]struct{}{}}
	const secret = "a test secret"
	srv, err := turn.NewServer(turn.ServerConfig{
		Realm:       "portalo",
		AuthHandler: turn.LongTermTURNRESTAuthHandler(secret, nil),
		ListenerConfigs: []turn.ListenerConfig{{
			Listener:              cl,
			RelayAddressGenerator: &turn.RelayAddressGeneratorStatic{RelayAddress: net.IPv4(127, 0, 0, 1), Address: "127.0.0.1"},
		}},
	})
	if err != nil {
		ln.Close()
		t.Fatal(err)
	}
	t.Cleanup(func() { srv.Close() })
	return &turnOverTCP{srv: srv, ln: cl, secret: secret}
}

// iceServers is the signaling.Config.ICEServers of a portal that uses
// this TURN server.
func (s *turnOverTCP) iceServers(string) []signaling.ICEServer {
	user, pass := media.TURNCredentials(s.secret, "test", time.Hour, time.Now())
	return []signaling.ICEServer{{
		URLs:     []string{"turn:" + s.ln.Addr().String() + "?transport=tcp"},
		Username: user, Credential: pass,
	}}
}

// cut closes every client connection to the TURN server, as a dropped
// link does, and returns how many there were.
func (s *turnOverTCP) cut() int { return s.ln.cut() }

// silence turns every client connection to the TURN server into a black
// hole, as a link that went away without a word does: both ends keep the
// connection, and nothing they send arrives. It returns how many there
// were; new connections work.
func (s *turnOverTCP) silence() int { return s.ln.silence() }

// cuttableListener remembers the connections it accepted until they
// close, so that the test can close them all.
type cuttableListener struct {
	net.Listener
	mu    sync.Mutex
	conns map[*cuttableConn]struct{}
}

func (l *cuttableListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	cc := &cuttableConn{Conn: c, l: l}
	l.mu.Lock()
	l.conns[cc] = struct{}{}
	l.mu.Unlock()
	return cc, nil
}

func (l *cuttableListener) current() []*cuttableConn {
	l.mu.Lock()
	defer l.mu.Unlock()
	conns := make([]*cuttableConn, 0, len(l.conns))
	for c := range l.conns {
		conns = append(conns, c)
	}
	return conns
}

func (l *cuttableListener) cut() int {
	conns := l.current()
	for _, c := range conns {
		c.Close()
	}
	return len(conns)
}

func (l *cuttableListener) silence() int {
	conns := l.current()
	for _, c := range conns {
		c.silent.Store(true)
	}
	return len(conns)
}

type cuttableConn struct {
	net.Conn
	l      *cuttableListener
	silent atomic.Bool // drop everything in both directions
}

func (c *cuttableConn) Read(p []byte) (int, error) {
	for {
		n, err := c.Conn.Read(p)
		if err != nil || !c.silent.Load() {
			return n, err
		}
	}
}

func (c *cuttableConn) Write(p []byte) (int, error) {
	if c.silent.Load() {
		return len(p), nil
	}
	return c.Conn.Write(p)
}

func (c *cuttableConn) Close() error {
	c.l.mu.Lock()
	delete(c.l.conns, c)
	c.l.mu.Unlock()
	return c.Conn.Close()
}
