package media

import (
	"errors"
	"fmt"
	"net/netip"
	"reflect"
	"strings"
	"sync"
	"unsafe"

	"github.com/pion/dtls/v3"
	"github.com/pion/srtp/v3"
	"github.com/pion/webrtc/v4"
)

// The SFU's own SRTP writer. Pion's way from TrackLocalWriter.WriteRTP to
// the socket (the RTP sender, the SRTP session with its lock and buffer
// pool, the mux endpoint, the ICE connection, the candidate pair, the UDP
// mux) costs about 4 µs a packet on the development machine, several
// times the AES-GCM encryption itself, and the SFU does it once per
// receiver for every published packet. For receivers on UDP the SFU
// therefore encrypts the packets itself, with the SRTP keys of the down
// connection's DTLS handshake, and queues them straight into the
// batchConn for the address of the selected ICE candidate pair.
//
// Pion still sends everything else (RTCP, STUN, DTLS) and the media of
// receivers over ICE-TCP. Both sides keep an SRTP context per SSRC whose
// rollover counter (ROC) they infer from the sequence numbers they see;
// so that either can take over after a change of path (UDP to TCP or
// back) without a ROC the receiver does not expect, each sees a packet at
// least every srtpSyncEvery sequence numbers: the SFU sends one packet
// in srtpSyncEvery through Pion, and runs its own context over a packet
// Pion sends.

// srtpSyncEvery: a packet whose sequence number is a multiple of this
// goes through both SRTP contexts (the inference works within 2^15).
const srtpSyncEvery = 4096

// srtpPaths decides for the packet with sequence number seq whether the
// SFU sends it itself (own; else Pion does) and whether its own context
// runs over it (runOwn). direct: the SFU could send it itself (the
// receiver is on UDP and the keys are known); first: it is the SSRC's
// first packet, which both contexts see so that both count the ROC from
// the same start.
func srtpPaths(seq uint16, direct, first bool) (own, runOwn bool) {
	both := first || seq%srtpSyncEvery == 0
	return direct && !both, direct || both
}

// srtpKeys are the SRTP keys of one down connection: for what the SFU
// sends and for what the receiver sends (its RTCP).
type srtpKeys struct {
	profile               srtp.ProtectionProfile
	key, salt             []byte
	remoteKey, remoteSalt []byte
}

var errNoDTLSConn = errors.New("media: no DTLS connection found in Pion's DTLS transport")

// srtpKeysOf derives the SRTP keys of a connected PeerConnection from
// its DTLS handshake, as Pion does for its own SRTP session (RFC 5764,
// section 4.2). sending: the SFU is to encrypt with them, which it does
// not do with RFC 9335 header encryption (cryptex); Pion does.
func srtpKeysOf(pc *webrtc.PeerConnection, sending bool) (*srtpKeys, error) {
	conn := dtlsConnOf(pc.SCTP().Transport())
	if conn == nil {
		return nil, errNoDTLSConn
	}
	state, ok := conn.ConnectionState()
	if !ok {
		return nil, errors.New("media: DTLS handshake not finished")
	}
	profile, ok := conn.SelectedSRTPProtectionProfile()
	if !ok {
		return nil, errors.New("media: no SRTP protection profile negotiated")
	}
	remote, local := pc.RemoteDescription(), pc.LocalDescription()
	if remote == nil || local == nil {
		return nil, errors.New("media: no remote or local description")
	}
	if sending && strings.Contains(remote.SDP, "a=cryptex") {
		// RFC 9335 header encryption: Pion knows how, this writer does not.
		return nil, errors.New("media: cryptex negotiated")
	}
	cfg := srtp.Config{Profile: srtp.ProtectionProfile(profile)}
	if err := cfg.ExtractSessionKeysFromDTLS(&state, dtlsClient(local.SDP, remote.SDP)); err != nil {
		return nil, fmt.Errorf("media: SRTP keys: %w", err)
	}
	return &srtpKeys{
		profile: cfg.Profile,
		key:     cfg.Keys.LocalMasterKey, salt: cfg.Keys.LocalMasterSalt,
		remoteKey: cfg.Keys.RemoteMasterKey, remoteSalt: cfg.Keys.RemoteMasterSalt,
	}, nil
}

// dtlsClient reports whether the SFU is the DTLS client of a
// connection, from its local and remote descriptions (RFC 8842): the
// offer says "actpass", and the answer's "active" makes the answerer
// the client, "passive" the offerer. The SFU offers down and answers up.
func dtlsClient(local, remote string) bool {
	return strings.Contains(local, "a=setup:active") || strings.Contains(remote, "a=setup:passive")
}

// dtlsConnOf returns the DTLS connection of Pion's DTLSTransport, which
// Pion does not export (its field conn); nil when this version of Pion
// keeps it elsewhere: then every packet goes through Pion, as before.
// TestOwnSRTPWriter fails when that happens.
func dtlsConnOf(t *webrtc.DTLSTransport) *dtls.Conn {
	if t == nil {
		return nil
	}
	f := reflect.ValueOf(t).Elem().FieldByName("conn")
	if !f.IsValid() || f.Type() != reflect.TypeFor[*dtls.Conn]() {
		return nil
	}
	return *(**dtls.Conn)(unsafe.Pointer(f.UnsafeAddr()))
}

// newContext makes an SRTP context for sending with k.
func (k *srtpKeys) newContext() (*srtp.Context, error) {
	return srtp.CreateContext(k.key, k.salt, k.profile)
}

// sendContext is the SRTP context the SFU sends one receiver's tracks
// with: one for all of them (it keeps each SSRC's rollover counter
// apart), as each context holds two AES-GCM ciphers. mu serialises the
// encryption, which the tracks' writers do each under their own lock.
type sendContext struct {
	mu  sync.Mutex
	ctx *srtp.Context
}

// get returns the context, made with k on first use.
func (c *sendContext) get(k *srtpKeys) (*srtp.Context, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ctx == nil {
		ctx, err := k.newContext()
		if err != nil {
			return nil, err
		}
		c.ctx = ctx
	}
	return c.ctx, nil
}

// udpDest returns the address the batchConn sends to for the remote
// candidate of a selected pair on the SFU's UDP port, false when the pair
// is not on that port (ICE-TCP, or no pair).
func udpDest(pair *webrtc.ICECandidatePair, b *batchConn) (netip.AddrPort, bool) {
	if b == nil || pair == nil || pair.Local == nil || pair.Remote == nil ||
		pair.Local.Protocol != webrtc.ICEProtocolUDP || pair.Local.Typ == webrtc.ICECandidateTypeRelay {
		return netip.AddrPort{}, false
	}
	ip, err := netip.ParseAddr(pair.Remote.Address)
	if err != nil {
		return netip.AddrPort{}, false
	}
	ip = ip.WithZone("")
	if la, ok := b.LocalAddr().(interface{ AddrPort() netip.AddrPort }); ok && !la.AddrPort().Addr().Is4() && ip.Is4() {
		// A dual-stack socket reports IPv4 peers as ::ffff:a.b.c.d.
		ip = netip.AddrFrom16(ip.As16())
	}
	return netip.AddrPortFrom(ip, pair.Remote.Port), true
}
