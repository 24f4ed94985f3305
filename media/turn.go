package media

import (
	"crypto/hmac"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/pion/turn/v4"
)

// TURNConfig holds the settings of the embedded TURN server, which relays
// media for clients whose networks allow neither UDP to the SFU's port nor
// ICE-TCP (some job-centre and public Wi-Fi networks).
//
// It uses the TURN REST API's short-lived credentials (a shared secret,
// usernames "expiry:tag", passwords base64(HMAC-SHA1(secret, username))),
// so an external coturn with use-auth-secret can take its place with the
// same secret.
type TURNConfig struct {
	// Port is the UDP port clients reach the TURN server on; 0 picks a
	// free one.
	Port int
	// ListenIP is the address to bind ("" for all).
	ListenIP string
	// RelayIP is the address relayed traffic is announced on (the
	// server's public address). Empty: ListenIP, or 127.0.0.1.
	RelayIP string
	// RelayMinPort and RelayMaxPort bound the relay ports (for firewall
	// rules); 0 lets the system choose.
	RelayMinPort, RelayMaxPort uint16
	// Secret is the shared secret of the credentials; required.
	Secret string
	// Realm is the TURN realm ("portalo").
	Realm string
	// MaxAllocationsPerUser limits relays per credential (10).
	MaxAllocationsPerUser int
	// Logger receives the TURN server's logs, addresses removed; nil
	// discards them.
	Logger *slog.Logger
}

// TURNServer is the embedded TURN server.
type TURNServer struct {
	srv  *turn.Server
	conn net.PacketConn

	mu    sync.Mutex
	alloc map[string]int // allocations per username
}

// NewTURN starts a TURN server.
func NewTURN(cfg TURNConfig) (*TURNServer, error) {
	if cfg.Secret == "" {
		return nil, errors.New("media: the TURN server needs a shared secret")
	}
	if cfg.Realm == "" {
		cfg.Realm = "portalo"
	}
	if cfg.MaxAllocationsPerUser <= 0 {
		cfg.MaxAllocationsPerUser = 10
	}
	listen := cfg.ListenIP
	if listen == "" {
		listen = "0.0.0.0"
	}
	relayIP := cfg.RelayIP
	if relayIP == "" {
		relayIP = cfg.ListenIP
	}
	if relayIP == "" || relayIP == "0.0.0.0" {
		relayIP = "127.0.0.1"
	}
	rip := net.ParseIP(relayIP)
	if rip == nil {
		return nil, fmt.Errorf("media: TURN relay address %q is not an IP address", relayIP)
	}
	conn, tcp, err := listenUDPAndTCP(listen, cfg.Port)
	if err != nil {
		return nil, err
	}
	var gen turn.RelayAddressGenerator = &turn.RelayAddressGeneratorStatic{RelayAddress: rip, Address: listen}
	if cfg.RelayMinPort > 0 && cfg.RelayMaxPort >= cfg.RelayMinPort {
		gen = &turn.RelayAddressGeneratorPortRange{RelayAddress: rip, Address: listen, MinPort: cfg.RelayMinPort, MaxPort: cfg.RelayMaxPort}
	}
	t := &TURNServer{conn: conn, alloc: map[string]int{}}
	secret := cfg.Secret
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	t.srv, err = turn.NewServer(turn.ServerConfig{
		Realm:         cfg.Realm,
		LoggerFactory: pionLogs{cfg.Logger},
		AuthHandler: func(username, realm string, _ net.Addr) ([]byte, bool) {
			if !validTURNUser(username, time.Now()) {
				return nil, false
			}
			return turn.GenerateAuthKey(username, realm, turnPassword(secret, username)), true
		},
		QuotaHandler: func(username, _ string, _ net.Addr) bool {
			t.mu.Lock()
			defer t.mu.Unlock()
			if t.alloc[username] >= cfg.MaxAllocationsPerUser {
				return false
			}
			t.alloc[username]++
			return true
		},
		EventHandler: turn.EventHandler{
			OnAllocationDeleted: func(_, _ net.Addr, _ string, username, _ string) {
				t.mu.Lock()
				defer t.mu.Unlock()
				if t.alloc[username] <= 1 {
					delete(t.alloc, username)
				} else {
					t.alloc[username]--
				}
			},
		},
		PacketConnConfigs: []turn.PacketConnConfig{{PacketConn: conn, RelayAddressGenerator: gen}},
		ListenerConfigs:   []turn.ListenerConfig{{Listener: tcp, RelayAddressGenerator: gen}},
	})
	if err != nil {
		conn.Close()
		tcp.Close()
		return nil, fmt.Errorf("media: starting the TURN server: %w", err)
	}
	return t, nil
}

// listenUDPAndTCP listens on UDP and TCP with the same port number (TURN
// over TCP is for networks that let no UDP through at all). Port 0 picks
// a number free for both: the UDP port the system picks may be taken for
// TCP, then it tries another.
func listenUDPAndTCP(host string, port int) (net.PacketConn, net.Listener, error) {
	const attempts = 20
	for i := 0; ; i++ {
		conn, err := net.ListenPacket("udp4", net.JoinHostPort(host, strconv.Itoa(port)))
		if err != nil {
			return nil, nil, fmt.Errorf("media: TURN listening on UDP port %d: %w", port, err)
		}
		got := conn.LocalAddr().(*net.UDPAddr).Port
		tcp, err := net.Listen("tcp4", net.JoinHostPort(host, strconv.Itoa(got)))
		if err == nil {
			return conn, tcp, nil
		}
		conn.Close()
		if port != 0 || i == attempts-1 {
			return nil, nil, fmt.Errorf("media: TURN listening on TCP port %d: %w", got, err)
		}
	}
}

// Addr is the UDP address the TURN server listens on; it listens for TCP
// on the same port.
func (t *TURNServer) Addr() *net.UDPAddr { return t.conn.LocalAddr().(*net.UDPAddr) }

// Close stops the TURN server and its relays.
func (t *TURNServer) Close() error { return t.srv.Close() }

// TURNCredentials returns credentials valid for ttl from now: the username
// carries the expiry and a tag (not an account name: use a random or room-
// local ID), the password is derived from the shared secret.
func TURNCredentials(secret, tag string, ttl time.Duration, now time.Time) (username, password string) {
	username = strconv.FormatInt(now.Add(ttl).Unix(), 10) + ":" + tag
	return username, turnPassword(secret, username)
}

func turnPassword(secret, username string) string {
	mac := hmac.New(sha1.New, []byte(secret))
	mac.Write([]byte(username))
	return base64.StdEncoding.EncodeToString(mac.Sum(nil))
}

// validTURNUser checks that a username is "expiry:tag" and not expired.
func validTURNUser(username string, now time.Time) bool {
	exp, _, ok := strings.Cut(username, ":")
	if !ok {
		return false
	}
	t, err := strconv.ParseInt(exp, 10, 64)
	return err == nil && t >= now.Unix()
}
