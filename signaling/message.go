package signaling

import (
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"portalo/media"
)

// Version is the protocol version this package speaks (PROTOCOL.md).
const Version = 1

// Limits of the protocol.
const (
	MaxMessageBytes = 64 << 10
	MaxNameRunes    = 40
	MaxChatRunes    = 500
	maxIDLen        = 64
	chatHistory     = 50
)

// inbound is any message a client sends; which fields count depends on Type.
type inbound struct {
	V         int           `json:"v"`
	Type      string        `json:"type"`
	ID        string        `json:"id,omitempty"`
	Name      string        `json:"name,omitempty"`
	AudioOnly bool          `json:"audioOnly,omitempty"`
	Resume    string        `json:"resume,omitempty"`
	Signal    *media.Signal `json:"signal,omitempty"`
	Text      string        `json:"text,omitempty"`
	Raised    bool          `json:"raised,omitempty"`
	Enabled   bool          `json:"enabled,omitempty"`
	Action    string        `json:"action,omitempty"`
	Target    string        `json:"target,omitempty"`
	MessageID string        `json:"messageId,omitempty"`
	Audio     bool          `json:"audio,omitempty"`
	Video     bool          `json:"video,omitempty"`
}

// protoError is an error reply: a code from PROTOCOL.md and an English text.
type protoError struct {
	Code    string
	Message string
}

func (e *protoError) Error() string { return e.Code + ": " + e.Message }

func errf(code, format string, args ...any) *protoError {
	return &protoError{Code: code, Message: fmt.Sprintf(format, args...)}
}

// decode parses and checks one client message. It never panics, whatever
// the bytes; every problem is a *protoError.
func decode(b []byte) (inbound, error) {
	var m inbound
	if len(b) > MaxMessageBytes {
		return m, errf("malformed", "message larger than %d bytes", MaxMessageBytes)
	}
	if err := json.Unmarshal(b, &m); err != nil {
		return inbound{}, errf("malformed", "not a JSON object of the expected shape")
	}
	if len(m.ID) > maxIDLen {
		m.ID = ""
		return m, errf("malformed", "id longer than %d characters", maxIDLen)
	}
	if m.V != Version {
		return m, errf("version", "protocol version %d is not supported (use %d)", m.V, Version)
	}
	switch m.Type {
	case "join":
		name, err := cleanName(m.Name)
		if err != nil {
			return m, err
		}
		m.Name = name
	case "signal":
		if m.Signal == nil || (m.Signal.Direction != media.Up && m.Signal.Direction != media.Down) ||
			(m.Signal.Description == nil) == (m.Signal.Candidate == nil) {
			return m, errf("bad_signal", "a signal needs a direction (up or down) and either a description or a candidate")
		}
	case "chat":
		text, err := cleanText(m.Text)
		if err != nil {
			return m, err
		}
		m.Text = text
	case "hand", "audioOnly", "restartIce", "leave":
	case "moderate":
		switch m.Action {
		case "grant", "revoke", "mute", "muteChat", "unmuteChat", "remove":
			if m.Target == "" {
				return m, errf("unknown_participant", "%s needs a target", m.Action)
			}
		case "deleteChat":
			if m.MessageID == "" {
				return m, errf("unknown_message", "deleteChat needs a messageId")
			}
		case "end":
		default:
			return m, errf("unknown_type", "unknown moderator action %q", m.Action)
		}
	default:
		return m, errf("unknown_type", "unknown message type %q", m.Type)
	}
	return m, nil
}

// cleanName trims a display name and checks its length and characters.
func cleanName(s string) (string, error) {
	s = strings.Join(strings.Fields(s), " ")
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n < 1 || n > MaxNameRunes {
		return "", errf("invalid_name", "a display name has 1 to %d characters", MaxNameRunes)
	}
	for _, r := range s {
		if unicode.IsControl(r) || r == '<' || r == '>' {
			return "", errf("invalid_name", "the display name has characters that are not allowed")
		}
	}
	return s, nil
}

// cleanText trims a chat message and checks it.
func cleanText(s string) (string, error) {
	s = strings.TrimSpace(s)
	n := utf8.RuneCountInString(s)
	if !utf8.ValidString(s) || n < 1 || n > MaxChatRunes {
		return "", errf("invalid_text", "a chat message has 1 to %d characters", MaxChatRunes)
	}
	for _, r := range s {
		if unicode.IsControl(r) && r != '\n' {
			return "", errf("invalid_text", "the message has control characters")
		}
	}
	return s, nil
}

// Participant is what everyone in a room may know about a participant.
type Participant struct {
	ID        string `json:"id"`
	Name      string `json:"name"`
	Role      string `json:"role"`
	Hand      bool   `json:"hand"`
	Audio     bool   `json:"audio"`
	Video     bool   `json:"video"`
	Speaking  bool   `json:"speaking"`
	ChatMuted bool   `json:"chatMuted"`
	Connected bool   `json:"connected"`
}

// ChatMessage is one message of a room's chat.
type ChatMessage struct {
	ID   string    `json:"id"`
	From string    `json:"from"`
	Name string    `json:"name"`
	Text string    `json:"text"`
	At   time.Time `json:"at"`
}

// ICEServer is a STUN or TURN server a client may use.
type ICEServer struct {
	URLs       []string `json:"urls"`
	Username   string   `json:"username,omitempty"`
	Credential string   `json:"credential,omitempty"`
}

// outbound is any message the server sends.
type outbound struct {
	V    int    `json:"v"`
	Type string `json:"type"`
	Re   string `json:"re,omitempty"`
	Code string `json:"code,omitempty"`
	// Message is the English text of an error, or the *ChatMessage of a
	// chat message.
	Message      any           `json:"message,omitempty"`
	Self         *Participant  `json:"self,omitempty"`
	Resume       string        `json:"resume,omitempty"`
	Participants []Participant `json:"participants,omitempty"`
	Chat         []ChatMessage `json:"chat,omitempty"`
	ICEServers   []ICEServer   `json:"iceServers,omitempty"`
	Signal       *media.Signal `json:"signal,omitempty"`
	Participant  *Participant  `json:"participant,omitempty"`
	ID           string        `json:"id,omitempty"`
	MessageID    string        `json:"messageId,omitempty"`
	Audio        *bool         `json:"audio,omitempty"`
	Video        *bool         `json:"video,omitempty"`
}

var errClosed = errors.New("signaling: connection closed")
