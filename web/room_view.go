package web

import (
	"encoding/json"
	"strconv"
	"strings"

	"golang.org/x/text/feature/plural"
	"golang.org/x/text/language"

	"portalo/web/i18n"
)

// roomView is what templates/room.html receives as .Data: one live
// workshop room, seen by the person who opens it.
type roomView struct {
	// RoomID names the room in the signaling protocol.
	RoomID string
	// Title is the workshop's title, shown as the page heading.
	Title string
	// WSPath is the path of the room's signaling WebSocket, like
	// "/api/v1/rooms/ID/ws"; room.js opens it on the page's own origin.
	WSPath string
	// DisplayName pre-fills the name field: a suggestion such as
	// randomDisplayName's, never the account's pseudonym unless chosen.
	DisplayName string
	// Moderator: the person leads the workshop (trainer, admin) and gets
	// the moderation controls; the server decides what they may really do.
	Moderator bool
	// StringsJSON is a JSON object of the translated texts room.js shows,
	// by message ID (see roomStrings); the template puts it into the
	// data-strings attribute, which html/template escapes.
	StringsJSON string
}

// roomJSMessages are the IDs of the messages room.js shows. Placeholders
// reach the script as {name}; keep this list in step with room.js.
var roomJSMessages = []string{
	"RoomUnsupported",
	"RoomStatusConnecting", "RoomStatusJoined", "RoomStatusReconnecting", "RoomStatusReconnected",
	"RoomStatusConnectionLost", "RoomStatusConnectFailed", "RoomStatusWaitingVideo", "RoomStatusMediaProblem",
	"RoomRemoved", "RoomEnded", "RoomLeft", "RoomMuted",
	"RoomMicOnStatus", "RoomMicOffStatus", "RoomCamOnStatus", "RoomCamOffStatus",
	"RoomRightsAudio", "RoomRightsVideo", "RoomRightsRevoked",
	"RoomHandYouRaised", "RoomHandYouLowered", "RoomHandRaisedBy", "RoomJoinedBy", "RoomLeftBy",
	"RoomAudioOnlyOn", "RoomAudioOnlyOff",
	"RoomYou", "RoomRoleModerator", "RoomHandIcon", "RoomSpeaking", "RoomMayUseMic", "RoomDisconnected", "RoomChatMutedBadge",
	"RoomActGrantMic", "RoomActGrantCam", "RoomActRevoke", "RoomActMute", "RoomActMuteChat", "RoomActUnmuteChat", "RoomActRemove",
	"RoomRemoveConfirm", "RoomEndConfirm",
	"RoomChatDelete", "RoomChatDeleteWhich", "RoomChatDeleted",
	"RoomCameraDenied", "RoomCameraError", "RoomTestDevices", "RoomTestStop",
	"RoomErrMalformed", "RoomErrVersion", "RoomErrUnknownType", "RoomErrNotJoined", "RoomErrAlreadyJoined",
	"RoomErrInvalidName", "RoomErrInvalidText", "RoomErrChatMuted", "RoomErrRateLimited", "RoomErrForbidden",
	"RoomErrUnknownParticipant", "RoomErrUnknownMessage", "RoomErrBadSignal", "RoomErrResumeFailed", "RoomErrGeneric",
}

// roomJSPlurals are the plural messages room.js shows; {count} is the number.
var roomJSPlurals = []string{"RoomParticipantsCount", "RoomHandsCount"}

// roomStrings returns the texts room.js needs in l's language as a JSON
// object: message ID → text, with {name} and {count} as placeholders. A
// plural message becomes an object of CLDR plural forms ("one", "few", …)
// that the script chooses from with Intl.PluralRules.
func roomStrings(l *i18n.Localizer) (string, error) {
	out := make(map[string]any, len(roomJSMessages)+len(roomJSPlurals))
	for _, id := range roomJSMessages {
		out[id] = l.T(id, "Name", "{name}")
	}
	samples := pluralSamples(l.Lang.Code)
	for _, id := range roomJSPlurals {
		forms := map[string]string{}
		for form, n := range samples {
			s := strconv.Itoa(n)
			forms[form] = strings.ReplaceAll(l.N(id, n, "Name", "{name}"), s, "{count}")
		}
		out[id] = forms
	}
	b, err := json.Marshal(out)
	if err != nil {
		return "", err
	}
	return string(b), nil
}

// pluralSamples returns, for each CLDR plural form a language uses for
// whole numbers, the smallest number from 0 to 199 that takes it.
func pluralSamples(code string) map[string]int {
	tag := language.Make(code)
	names := map[plural.Form]string{plural.Zero: "zero", plural.One: "one", plural.Two: "two", plural.Few: "few", plural.Many: "many", plural.Other: "other"}
	out := map[string]int{}
	for n := 199; n >= 0; n-- {
		out[names[plural.Cardinal.MatchPlural(tag, n, 0, 0, 0, 0)]] = n
	}
	return out
}
