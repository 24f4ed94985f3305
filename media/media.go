// Package media is portalo's selective forwarding unit (SFU) for the live
// workshops, built on Pion WebRTC. It receives what a peer publishes (the
// trainer's simulcast video and Opus audio, a participant's microphone once
// granted) and forwards it to every other peer of the room, choosing for
// each receiver the simulcast layer its bandwidth allows.
//
// It knows nothing of HTTP, accounts or how signaling messages travel: the
// caller hands it SDP and ICE candidates (Peer.HandleSignal) and sends on
// what it emits (Events.Signal).
//
// Each peer has up to two PeerConnections, one per direction, each with one
// fixed offerer, so offers never collide: "up" carries what the peer
// publishes (the client offers, the SFU answers), "down" carries what it
// receives (the SFU offers, the client answers, and the SFU renegotiates
// when tracks come and go).
package media

import (
	"log/slog"

	"github.com/pion/webrtc/v4"
)

// Config holds the settings of an SFU.
type Config struct {
	// UDPPort is the one UDP port that carries all media of all peers
	// (ICE UDP mux). 0 picks a free port (tests).
	UDPPort int
	// TCPPort is the ICE-TCP fallback port for networks that block UDP.
	// 0 picks a free port; -1 disables ICE-TCP.
	TCPPort int
	// ListenIP is the address the media ports bind to ("" for all).
	ListenIP string
	// PublicIPs are announced as candidates instead of the local addresses
	// (a server behind 1:1 NAT).
	PublicIPs []string
	// LoopbackOnly keeps every candidate and every packet on 127.0.0.1 and
	// turns mDNS off (tests and benchmarks on one machine).
	LoopbackOnly bool
	// Logger receives the SFU's logs; nil discards them.
	Logger *slog.Logger
}

// Direction names one of a peer's two PeerConnections.
type Direction string

// The two directions.
const (
	// Up carries what the peer publishes: the client offers.
	Up Direction = "up"
	// Down carries what the peer receives: the SFU offers.
	Down Direction = "down"
)

// Rights says what a peer may publish. Taking a right away stops the
// forwarding of that kind at once.
type Rights struct {
	Audio bool
	Video bool
}

// PeerConfig describes a peer when it joins a room.
type PeerConfig struct {
	// ID is chosen by the caller and unique within the room; it is never
	// shown to other peers by this package.
	ID string
	// Rights are what the peer may publish.
	Rights Rights
	// AudioOnly: the peer receives audio only (at most 64 kbit/s).
	AudioOnly bool
}

// Signal is one signaling message between the SFU and a peer's client:
// either a session description or an ICE candidate, for one direction.
type Signal struct {
	Direction   Direction                  `json:"direction"`
	Description *webrtc.SessionDescription `json:"description,omitempty"`
	Candidate   *webrtc.ICECandidateInit   `json:"candidate,omitempty"`
}

// Events are how the SFU tells the caller about a peer. The functions are
// called from the SFU's goroutines and must not block for long.
type Events struct {
	// Signal must be delivered to the peer's client, in order.
	Signal func(Signal)
	// Speaking reports that the peer started or stopped speaking, from the
	// RFC 6464 audio levels of the audio it publishes. It may be called
	// on the goroutine that reads the UDP port: it must not block.
	Speaking func(speaking bool)
	// Connection reports a change of the ICE connection state of one of
	// the peer's PeerConnections (for reconnect handling and metrics).
	Connection func(dir Direction, state webrtc.ICEConnectionState)
}
