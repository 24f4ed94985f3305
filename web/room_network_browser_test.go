package web

import (
	"fmt"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portalo/web/browsertest"
)

// Browser tests of the live room on networks that misbehave: a dropped
// signaling connection, a media path that breaks, a browser that may not
// use UDP; and what Chromium negotiates when it publishes. The helpers are
// in room_browser_helpers_test.go.

// TestBrowserRoomResumesAfterDroppedSocket cuts the participant's
// connections to the portal (the signaling WebSocket among them) while a
// hand is raised: within 5 s the page is back in the room as the same
// participant, under the same name, hand still raised as the trainer sees
// it, nobody counted twice, and the trainer's video is decoded again.
func TestBrowserRoomResumesAfterDroppedSocket(t *testing.T) {
	f := newRoomFixture(t, roomFixtureConfig{})
	f.register(t, "Teilnehmer", "participant password")
	trainer, participant := newTab(t), newTab(t)
	f.trainerPublishes(trainer)

	// The participant reaches the portal through a link the test can cut.
	link := newTCPProxy(t, f.server.Listener.Addr().String())
	participant.login(link.URL(), f.roomID, "Teilnehmer", "participant password")
	const name = "Ruhige Robbe"
	if got := participant.join(name); got != name {
		t.Fatalf("display name field holds %q, want %q", got, name)
	}
	participant.waitDecoding("participant decodes the trainer's video", 40*time.Second)
	participant.do("participant raises a hand", chromedp.Click(chromedp.CSS("#hand-button")))
	trainer.waitFor("the hand reaches the trainer", fmt.Sprintf(`window.portaloRoom.state().participants.some(p => p.name === %q && p.hand)`, name), 10*time.Second)

	selfID := eval[string](participant, "own ID", `window.portaloRoom.state().participants.find(p => p.self).id`)
	countBefore := eval[int](trainer, "count", `window.portaloRoom.state().participants.length`)
	countText := eval[string](trainer, "count text", `document.querySelector('#participant-count').textContent`)
	eval[bool](participant, "remember the media connection", `(window.__oldDown = window.portaloRoom.pcs.down, true)`)

	cut := time.Now()
	if n := link.cut(); n == 0 {
		t.Fatal("the participant had no connection to the portal to cut")
	}
	back := participant.waitFor("the page reconnects and resumes", fmt.Sprintf(`(() => {
		const r = window.portaloRoom, s = r.state();
		return s.joined && s.wsOpen && r.pcs.down !== window.__oldDown && s.participants.some(p => p.self && p.id === %q);
	})()`, selfID), 10*time.Second)
	if back > 5*time.Second {
		t.Errorf("the page resumed %s after the cut; the room keeps a place for 5 s", back)
	}
	t.Logf("resumed %s after the cut", time.Since(cut).Round(time.Millisecond))

	self := eval[map[string]any](participant, "own state", `window.portaloRoom.state().participants.find(p => p.self)`)
	if self["name"] != name || self["hand"] != true || self["id"] != selfID {
		t.Errorf("after the resume the page sees itself as %v, want ID %s, name %q, hand raised", self, selfID, name)
	}
	if !eval[bool](participant, "hand button", `window.portaloRoom.state().handRaised && document.querySelector('#hand-button').getAttribute('aria-pressed') === 'true'`) {
		t.Error("after the resume the hand button no longer shows the raised hand")
	}
	trainer.waitFor("the trainer sees the participant back, hand raised", fmt.Sprintf(`window.portaloRoom.state().participants.some(p => p.id === %q && p.name === %q && p.hand && p.connected)`, selfID, name), 5*time.Second)
	if got := eval[int](trainer, "count", `window.portaloRoom.state().participants.length`); got != countBefore {
		t.Errorf("the trainer counts %d people after the resume, %d before", got, countBefore)
	}
	if got := eval[string](trainer, "count text", `document.querySelector('#participant-count').textContent`); got != countText {
		t.Errorf("the trainer's count says %q after the resume, %q before", got, countText)
	}
	if n := eval[int](trainer, "entries", `document.querySelectorAll('#participants li').length`); n != countBefore {
		t.Errorf("the trainer's list has %d entries for %d people", n, countBefore)
	}

	participant.waitDecoding("the new media connection decodes the trainer's video", 15*time.Second)
	t.Logf("video decoded again %s after the cut", time.Since(cut).Round(time.Millisecond))
	participant.framesKeepComing("video after the resume")
	if st := eval[string](participant, "old connection", `window.__oldDown.connectionState`); st != "closed" {
		t.Errorf("the media connection from before the drop is %q, want closed", st)
	}
	browsertest.AssertNoJSErrors(t, participant.ctx)
	browsertest.AssertNoJSErrors(t, trainer.ctx)
}

// TestBrowserRoomWithoutUDP: participants whose browsers cannot use UDP
// receive the trainer's video over ICE-TCP to the media server's TCP port,
// in a portal set up as cmd/portalo sets it up by default (ICE-TCP on, the
// embedded TURN server, which listens on UDP only).
//
// Two browsers without UDP, one after the other in the same room:
//   - "policy": Chromium with the WebRtcIPHandlingPolicy
//     disable_non_proxied_udp (udpDisabled). It signals no candidate at all
//     but still connects with its TCP candidates (address 0.0.0.0, port 9,
//     tcptype active) to the server's passive TCP candidate.
//   - "no UDP port": Chromium's WebRtcUdpPortRange policy (the profile
//     preference webrtc.udp_port_range) allows one UDP port only, which the
//     test holds on every address, so Chromium can open no UDP socket: no
//     UDP host candidate, no STUN, no TURN over UDP, as on a network that
//     drops UDP; its TCP candidates are all that is left.
func TestBrowserRoomWithoutUDP(t *testing.T) {
	relay := startEmbeddedTURN(t)
	f := newRoomFixture(t, roomFixtureConfig{tcp: true, iceServers: relay.iceServers})
	trainer := newTab(t)
	f.trainerPublishes(trainer)
	// Not asserted: Chromium, ICE-controlling on up, keeps the pair that
	// worked first. The media server offers its UDP and TCP candidates at
	// once, and on a busy machine the ICE-TCP pair may win although the UDP
	// pair works as well.
	if r := trainer.waitRoute("up", 5*time.Second); r.Local.Protocol != "udp" {
		t.Logf("the trainer's browser may use UDP but publishes over %s", r.Local.Protocol)
	}

	busy, err := net.ListenPacket("udp", ":0")
	if err != nil {
		t.Fatal(err)
	}
	defer busy.Close()
	port := busy.LocalAddr().(*net.UDPAddr).Port
	tcpPort := f.sfu.TCPAddr().(*net.TCPAddr).Port
	for _, tc := range []struct {
		name     string
		settings browserSettings
	}{
		{"policy", udpDisabled},
		{"no UDP port", browserSettings{prefs: map[string]any{
			"webrtc": map[string]any{"udp_port_range": fmt.Sprintf("%d-%d", port, port)},
		}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			who := "Teilnehmer " + tc.name
			f.register(t, who, "participant password")
			participant := newTabWith(t, tc.settings)
			participant.login(f.server.URL, f.roomID, who, "participant password")
			participant.join("")
			participant.waitDecoding("participant decodes the trainer's video over TCP", 40*time.Second)
			participant.framesKeepComing("video over TCP")

			r := participant.waitRoute("down", 5*time.Second)
			t.Logf("route: %+v -> %+v", r.Local, r.Remote)
			// Either ICE-TCP to the media server's TCP port, or the
			// embedded TURN server reached over TCP: both carry no UDP
			// from the browser.
			iceTCP := r.Local.Protocol == "tcp" && r.Remote.Protocol == "tcp" && r.Remote.Port == tcpPort
			turnTCP := r.Local.Type == "relay" && r.Local.RelayProtocol == "tcp"
			if !iceTCP && !turnTCP {
				t.Errorf("selected pair %+v -> %+v; want TCP to the media server's TCP port %d or a relay reached over TCP", r.Local, r.Remote, tcpPort)
			}
			for _, c := range r.LocalCandidates {
				// A relay candidate's Protocol is the relay's own leg;
				// the browser's leg is RelayProtocol.
				if (c.Type != "relay" && c.Protocol == "udp") || c.RelayProtocol == "udp" {
					t.Errorf("the browser used UDP after all (candidate %+v)", c)
				}
			}
			participant.do("leave", chromedp.Click(chromedp.CSS("#leave-button")))
		})
	}
}

// udpDisabled is a Chromium whose WebRTC may not use UDP unless through a
// proxy (the WebRtcIPHandlingPolicy disable_non_proxied_udp that managed
// computers may have). Chromium 156 then signals no candidate of its own;
// it still tries TCP from an unnamed address (0.0.0.0, port 9, tcptype
// active) to the server's passive TCP candidates, and it relays through
// TURN servers that it reaches over TCP, never over UDP. Chromium spells
// the switch --webrtc-ip-handling-policy; --force-webrtc-ip-handling-policy
// has no effect.
var udpDisabled = browserSettings{switches: map[string]string{"webrtc-ip-handling-policy": "disable_non_proxied_udp"}}

// TestBrowserRoomRelayOverTCP: a trainer and a participant whose browsers
// may not use UDP, in a portal without ICE-TCP, publish and receive through
// a TURN server that they reach over TCP. Then that path breaks twice,
// first silently (the TCP connections to the TURN server become black
// holes), then loudly (they are closed): each time both pages get the
// media back by themselves with ICE restarts, the trainer's page with a new
// offer on its up connection, the participant's page by asking the server
// for a new offer on its down connection.
func TestBrowserRoomRelayOverTCP(t *testing.T) {
	relay := newTURNOverTCP(t)
	f := newRoomFixture(t, roomFixtureConfig{iceServers: relay.iceServers})
	f.register(t, "Teilnehmer", "participant password")
	trainer := newTabWith(t, udpDisabled)
	f.trainerPublishes(trainer)
	participant := newTabWith(t, udpDisabled)
	participant.login(f.server.URL, f.roomID, "Teilnehmer", "participant password")
	participant.join("")
	participant.waitDecoding("participant decodes the trainer's video through TURN over TCP", 40*time.Second)
	participant.framesKeepComing("video through TURN over TCP")

	up, down := trainer.waitRoute("up", 5*time.Second), participant.waitRoute("down", 5*time.Second)
	for _, r := range []iceRoute{up, down} {
		t.Logf("route: %+v -> %+v", r.Local, r.Remote)
		if r.Local.Type != "relay" || r.Local.RelayProtocol != "tcp" {
			t.Errorf("selected pair %+v -> %+v; want a relay candidate reached over TCP", r.Local, r.Remote)
		}
		for _, c := range r.LocalCandidates {
			if (c.Type == "relay" && c.RelayProtocol != "tcp") || (c.Type != "relay" && c.Protocol != "tcp") {
				t.Errorf("the browser used UDP (candidate %+v) although the policy forbids it", c)
			}
		}
	}
	eval[bool](trainer, "remember the connection", `(window.__pc = window.portaloRoom.pcs.up, true)`)
	eval[bool](participant, "remember the connection", `(window.__pc = window.portaloRoom.pcs.down, true)`)

	for _, brk := range []struct {
		name  string
		apply func() int
	}{
		{"silent", relay.silence},
		{"closed", relay.cut},
	} {
		frames := eval[int](participant, "frames", jsDecodedFrames)
		start := time.Now()
		if n := brk.apply(); n < 2 {
			t.Fatalf("%s: %d connections to the TURN server to break, want one per page", brk.name, n)
		}
		for _, p := range []struct {
			tab       *roomTab
			direction string
			before    *iceRoute
		}{{trainer, "up", &up}, {participant, "down", &down}} {
			p.tab.waitFor(brk.name+": the page restarts ICE on "+p.direction, fmt.Sprintf(`(() => {
				const pc = window.portaloRoom.pcs.%s; const m = pc && pc.localDescription && pc.localDescription.sdp.match(/a=ice-ufrag:(\S+)/);
				return !!m && m[1] !== %q; })()`, p.direction, p.before.Ufrag), 30*time.Second)
			restarted := time.Since(start)
			p.tab.waitFor(brk.name+": connected again on "+p.direction, fmt.Sprintf(`['connected', 'completed'].includes(window.portaloRoom.pcs.%s.iceConnectionState)`, p.direction), 15*time.Second)
			t.Logf("%s break, %s: ICE restarted after %s, connected after %s", brk.name, p.direction, restarted.Round(time.Millisecond), time.Since(start).Round(time.Millisecond))
			now := p.tab.waitRoute(p.direction, 5*time.Second)
			if now.Local.Type != "relay" {
				t.Errorf("%s: after the restart the route on %s is %+v -> %+v", brk.name, p.direction, now.Local, now.Remote)
			}
			*p.before = now
			if !eval[bool](p.tab, "same connection", `window.__pc === window.portaloRoom.pcs.`+p.direction) {
				t.Errorf("%s: the page replaced its %s connection: it should have restarted ICE on it", brk.name, p.direction)
			}
		}
		participant.waitMoreFrames(brk.name+": video again", frames+5, 15*time.Second)
		t.Logf("%s break: video again after %s", brk.name, time.Since(start).Round(time.Millisecond))
		participant.framesKeepComing(brk.name + ": video after the ICE restarts")
	}
}

// TestBrowserRoomEmbeddedTURNWithoutUDP: a participant whose browser may not
// use UDP, in a portal whose ICE-TCP port it cannot reach (here: ICE-TCP
// off), gets the trainer's video through the embedded TURN server.
// TestBrowserRoomRelayOverTCP shows that it works with a TURN server that
// listens on TCP.
func TestBrowserRoomEmbeddedTURNWithoutUDP(t *testing.T) {
	relay := startEmbeddedTURN(t)
	f := newRoomFixture(t, roomFixtureConfig{iceServers: relay.iceServers})
	f.register(t, "Teilnehmer", "participant password")
	trainer := newTab(t)
	f.trainerPublishes(trainer)

	participant := newTabWith(t, udpDisabled)
	participant.login(f.server.URL, f.roomID, "Teilnehmer", "participant password")
	participant.join("")
	participant.waitDecoding("participant decodes the trainer's video through the embedded TURN server", 40*time.Second)
	r := participant.waitRoute("down", 5*time.Second)
	if r.Local.Type != "relay" || r.Local.RelayProtocol != "tcp" {
		t.Errorf("selected pair %+v -> %+v; want a relay reached over TCP", r.Local, r.Remote)
	}
}

// preferH264 makes a page prefer H.264 for the video it sends, as Safari
// does: every video transceiver lists Chromium's H.264 codecs
// (packetization-mode 1) first, then the rest. room.js has no codec choice
// of its own, so the test sets the preference where room.js adds its
// transceivers.
const preferH264 = `(() => {
	const add = RTCPeerConnection.prototype.addTransceiver;
	RTCPeerConnection.prototype.addTransceiver = function (trackOrKind, init) {
		const tr = add.call(this, trackOrKind, init);
		const kind = typeof trackOrKind === 'string' ? trackOrKind : trackOrKind.kind;
		if (kind === 'video') {
			const all = RTCRtpReceiver.getCapabilities('video').codecs;
			const h264 = all.filter(c => c.mimeType === 'video/H264' && /packetization-mode=1/.test(c.sdpFmtpLine || ''));
			tr.setCodecPreferences(h264.concat(all.filter(c => !h264.includes(c))));
		}
		return tr;
	};
})();`

// TestBrowserRoomNegotiatedCodecs looks at what Chromium negotiates when
// the trainer publishes: three simulcast layers (rid q, h, f) of VP8 by
// default, or of H.264 when the page prefers it (as Safari does); the
// participant decodes that codec. With VP8 it also checks RTX and Opus DTX.
func TestBrowserRoomNegotiatedCodecs(t *testing.T) {
	for _, tc := range []struct {
		name, mime string
		script     string // run in the trainer's pages before their own scripts
	}{
		{"VP8", "video/VP8", ""},
		{"H.264", "video/H264", preferH264},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := newRoomFixture(t, roomFixtureConfig{})
			f.register(t, "Teilnehmer", "participant password")
			trainer, participant := newTab(t), newTab(t)
			if tc.script != "" {
				if n := eval[int](trainer, "H.264 senders", `RTCRtpSender.getCapabilities('video').codecs.filter(c => c.mimeType === 'video/H264').length`); n == 0 {
					t.Fatal("this Chromium cannot send H.264")
				}
				trainer.addScript(tc.script)
			}
			f.trainerPublishes(trainer)

			// Chromium starts the higher layers as its bandwidth estimate
			// grows: wait until all three send. On an overloaded machine
			// (seen at a load average of 16 on 2 cores) its bandwidth or CPU
			// adaptation may hold the top layer back for longer: then the
			// two lower layers must send and the top one must be held back
			// for bandwidth or CPU, not for any other reason.
			var layers []sentLayer
			deadline := time.Now().Add(30 * time.Second)
			for {
				layers = trainer.sentLayers()
				sending := 0
				for _, l := range layers {
					if l.Frames > 0 {
						sending++
					}
				}
				if len(layers) == 3 && sending == 3 {
					break
				}
				if time.Now().After(deadline) {
					if len(layers) == 3 && layers[0].Frames > 0 && layers[1].Frames > 0 && (layers[2].Limit == "bandwidth" || layers[2].Limit == "cpu") {
						t.Logf("the top layer was held back for %s for 30 s", layers[2].Limit)
						break
					}
					t.Fatalf("the trainer's page does not send three layers: %+v", layers)
				}
				time.Sleep(200 * time.Millisecond)
			}
			t.Logf("layers: %+v", layers)
			for i, want := range []string{"q", "h", "f"} {
				if i >= len(layers) {
					break
				}
				l := layers[i]
				if l.RID != want || l.Codec != tc.mime {
					t.Errorf("layer %d: rid %q codec %q, want rid %q codec %s", i, l.RID, l.Codec, want, tc.mime)
				}
				if i > 0 && l.Frames > 0 && l.Width <= layers[i-1].Width {
					t.Errorf("layer %s is %d px wide, layer %s %d px: want each larger", l.RID, l.Width, layers[i-1].RID, layers[i-1].Width)
				}
			}

			participant.login(f.server.URL, f.roomID, "Teilnehmer", "participant password")
			participant.join("")
			participant.waitDecoding("participant decodes the trainer's video", 40*time.Second)
			participant.framesKeepComing("video")
			got := eval[string](participant, "received codec", `(async () => {
				const stats = await window.portaloRoom.pcs.down.getStats(); const out = [];
				stats.forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video' && s.framesDecoded > 0) out.push(stats.get(s.codecId).mimeType); });
				return out.join(','); })()`)
			if got != tc.mime {
				t.Errorf("the participant decodes %q, want %s", got, tc.mime)
			}
			if tc.mime != "video/VP8" {
				return
			}

			t.Run("RTX", func(t *testing.T) {
				neg := eval[string](trainer, "negotiated video codecs", `JSON.stringify(window.portaloRoom.pcs.up.getTransceivers().filter(tr => tr.sender.track && tr.sender.track.kind === 'video').flatMap(tr => tr.sender.getParameters().codecs.map(c => c.mimeType + ' ' + (c.sdpFmtpLine || ''))))`)
				if !strings.Contains(neg, "video/rtx apt=") {
					t.Errorf("the trainer's video sender negotiated %s: no RTX", neg)
				}
			})
			t.Run("Opus DTX", func(t *testing.T) {
				fmtp := eval[string](trainer, "negotiated Opus", `window.portaloRoom.pcs.up.getTransceivers().filter(tr => tr.sender.track && tr.sender.track.kind === 'audio').flatMap(tr => tr.sender.getParameters().codecs).filter(c => c.mimeType === 'audio/opus').map(c => c.sdpFmtpLine || '').join(' ')`)
				for _, want := range []string{"usedtx=1", "maxaveragebitrate=32000"} {
					if !strings.Contains(fmtp, want) {
						t.Errorf("the trainer's Opus is negotiated with %q: no %s", fmtp, want)
					}
				}
			})
		})
	}
}
