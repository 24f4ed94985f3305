package media

import (
	"fmt"
	"net"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/pion/ice/v4"
	"github.com/pion/webrtc/v4"
)

func TestTURNCredentials(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	user, pass := TURNCredentials("secret", "p_abc", time.Hour, now)
	if user != "1800003600:p_abc" || pass == "" {
		t.Fatalf("credentials %q %q", user, pass)
	}
	if other, _ := TURNCredentials("secret", "p_abc", time.Hour, now); turnPassword("other secret", other) == pass {
		t.Fatal("the password does not depend on the secret")
	}
	for _, tc := range []struct {
		user string
		ok   bool
	}{
		{user, true},
		{"1800003600:", true},
		{"1799999999:p_abc", false}, // expired
		{"p_abc", false},
		{"soon:p_abc", false},
		{"", false},
	} {
		if got := validTURNUser(tc.user, now); got != tc.ok {
			t.Errorf("validTURNUser(%q) = %v", tc.user, got)
		}
	}
}

// loopbackAPI is a Pion API that stays on 127.0.0.1.
func loopbackAPI() *webrtc.API {
	var se webrtc.SettingEngine
	se.SetIncludeLoopbackCandidate(true)
	se.SetInterfaceFilter(func(name string) bool { return name == "lo" })
	se.SetIPFilter(func(ip net.IP) bool { return ip.IsLoopback() })
	se.SetNetworkTypes([]webrtc.NetworkType{webrtc.NetworkTypeUDP4})
	se.SetICEMulticastDNSMode(ice.MulticastDNSModeDisabled)
	return webrtc.NewAPI(webrtc.WithSettingEngine(se))
}

// connectThroughTURN makes a relay-only peer and a plain peer, connects
// them, and reports whether a data channel message got through and which
// candidate type the relay-only side used.
func connectThroughTURN(t *testing.T, turnURL, user, pass string) (delivered bool, localType string) {
	t.Helper()
	api := loopbackAPI()
	a, err := api.NewPeerConnection(webrtc.Configuration{
		ICETransportPolicy: webrtc.ICETransportPolicyRelay,
		ICEServers:         []webrtc.ICEServer{{URLs: []string{turnURL}, Username: user, Credential: pass}},
	})
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := api.NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	got := make(chan string, 1)
	b.OnDataChannel(func(dc *webrtc.DataChannel) {
		dc.OnMessage(func(m webrtc.DataChannelMessage) { got <- string(m.Data) })
	})
	dc, err := a.CreateDataChannel("probe", nil)
	if err != nil {
		t.Fatal(err)
	}
	dc.OnOpen(func() { _ = dc.SendText("through the relay") })

	offer, _ := a.CreateOffer(nil)
	done := webrtc.GatheringCompletePromise(a)
	if err := a.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	<-done
	if !strings.Contains(a.LocalDescription().SDP, "typ relay") {
		return false, "" // no relay was allocated: nothing can get through
	}
	if err := b.SetRemoteDescription(*a.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	answer, _ := b.CreateAnswer(nil)
	done = webrtc.GatheringCompletePromise(b)
	if err := b.SetLocalDescription(answer); err != nil {
		t.Fatal(err)
	}
	<-done
	if err := a.SetRemoteDescription(*b.LocalDescription()); err != nil {
		t.Fatal(err)
	}
	select {
	case msg := <-got:
		delivered = msg == "through the relay"
	case <-time.After(8 * time.Second):
	}
	if pair, err := a.SCTP().Transport().ICETransport().GetSelectedCandidatePair(); err == nil && pair != nil {
		localType = pair.Local.Typ.String()
	}
	return delivered, localType
}

func TestTURNRelaysMedia(t *testing.T) {
	srv, err := NewTURN(TURNConfig{ListenIP: "127.0.0.1", Secret: "shared secret"})
	if err != nil {
		t.Fatal(err)
	}
	defer srv.Close()
	url := fmt.Sprintf("turn:127.0.0.1:%d?transport=udp", srv.Addr().Port)

	user, pass := TURNCredentials("shared secret", "p_test", time.Minute, time.Now())
	delivered, typ := connectThroughTURN(t, url, user, pass)
	if !delivered || typ != "relay" {
		t.Fatalf("with valid credentials: delivered %v over a %q candidate, want a relay", delivered, typ)
	}

	for name, cred := range map[string][2]string{
		"wrong password": {user, "bm90IHRoZSBwYXNzd29yZA=="},
		"expired": func() [2]string {
			u, p := TURNCredentials("shared secret", "p_old", -time.Minute, time.Now())
			return [2]string{u, p}
		}(),
		"other secret": func() [2]string {
			u, p := TURNCredentials("guessed", "p_x", time.Minute, time.Now())
			return [2]string{u, p}
		}(),
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			if delivered, _ := connectThroughTURN(t, url, cred[0], cred[1]); delivered {
				t.Fatal("the relay let a client with bad credentials through")
			}
		})
	}
	if !strings.HasPrefix(user, fmt.Sprint(time.Now().Add(time.Minute).Unix())[:5]) {
		t.Fatalf("username %q does not start with the expiry", user)
	}
}

// An SFU whose media port is bound to 127.0.0.1 (as a single-machine
// deployment or the load test runs it) must still offer that address.
func TestLoopbackListenIPOffersCandidates(t *testing.T) {
	sfu, err := New(Config{ListenIP: "127.0.0.1", TCPPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	defer sfu.Close()
	answers := make(chan Signal, 4)
	peer, err := sfu.Join("room", PeerConfig{ID: "pub", Rights: Rights{Audio: true}}, Events{Signal: func(s Signal) {
		if s.Direction == Up && s.Description != nil {
			answers <- s
		}
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer peer.Close()
	client, err := loopbackAPI().NewPeerConnection(webrtc.Configuration{})
	if err != nil {
		t.Fatal(err)
	}
	defer client.Close()
	if _, err := client.AddTransceiverFromKind(webrtc.RTPCodecTypeAudio, webrtc.RTPTransceiverInit{Direction: webrtc.RTPTransceiverDirectionSendonly}); err != nil {
		t.Fatal(err)
	}
	offer, err := client.CreateOffer(nil)
	if err != nil {
		t.Fatal(err)
	}
	if err := client.SetLocalDescription(offer); err != nil {
		t.Fatal(err)
	}
	if err := peer.HandleSignal(Signal{Direction: Up, Description: &offer}); err != nil {
		t.Fatal(err)
	}
	select {
	case a := <-answers:
		if !strings.Contains(a.Description.SDP, "a=candidate:") || !strings.Contains(a.Description.SDP, "127.0.0.1") {
			t.Fatalf("the answer offers no 127.0.0.1 candidate:\n%s", a.Description.SDP)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("no answer")
	}
}

// TestTURNFreePortTakenForTCP: with port 0 the TURN server finds a number
// free for UDP and TCP both, also when the system's first pick is taken
// for TCP; a given port taken for TCP is an error that names it.
func TestTURNFreePortTakenForTCP(t *testing.T) {
	// Take TCP ports, so that some UDP picks collide.
	var held []net.Listener
	for range 200 {
		l, err := net.Listen("tcp4", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		held = append(held, l)
	}
	defer func() {
		for _, l := range held {
			l.Close()
		}
	}()
	for range 20 {
		conn, tcp, err := listenUDPAndTCP("127.0.0.1", 0)
		if err != nil {
			t.Fatal(err)
		}
		if u, p := conn.LocalAddr().(*net.UDPAddr).Port, tcp.Addr().(*net.TCPAddr).Port; u != p {
			t.Errorf("UDP port %d, TCP port %d", u, p)
		}
		conn.Close()
		tcp.Close()
	}
	taken := held[0].Addr().(*net.TCPAddr).Port
	if _, _, err := listenUDPAndTCP("127.0.0.1", taken); err == nil || !strings.Contains(err.Error(), strconv.Itoa(taken)) {
		t.Errorf("port %d taken for TCP: %v", taken, err)
	}
}
