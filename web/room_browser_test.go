package web

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portalo/web/browsertest"
)

// TestBrowserLiveRoom runs a live workshop in two real headless Chromiums
// with fake cameras and microphones: the trainer publishes, a participant
// receives and decodes the video, a chat message and a raised hand reach
// the trainer, and the trainer removes the participant, whose page says so.
func TestBrowserLiveRoom(t *testing.T) {
	f := newRoomFixture(t, roomFixtureConfig{})
	f.register(t, "Teilnehmer", "participant password")

	// Two browsers: each person has their own cookies.
	trainer, participant := newTab(t), newTab(t)

	trainer.login(f.server.URL, f.roomID, trainerPseudonym, trainerPassword)
	browsertest.CheckA11y(t, trainer.ctx, "room lobby")
	trainer.publish()

	participant.login(f.server.URL, f.roomID, "Teilnehmer", "participant password")
	name := participant.join("")
	if name == "" || strings.Contains(name, "Teilnehmer") {
		t.Fatalf("display name pre-filled with %q: it must be a random pseudonym, never the account name", name)
	}
	participant.waitDecoding("participant decodes the trainer's video", 40*time.Second)
	// Chrome's media (simulcast, RTX, transport-wide numbers) went
	// through the SFU's own SRTP reader, not only through Pion.
	if n := f.sfu.PublishedPacketsReadOwn(); n < 100 {
		t.Errorf("the SFU's own reader took %d of the trainer's packets", n)
	}
	browsertest.CheckA11y(t, participant.ctx, "room")

	// The participant sees the trainer by the display name chosen in the
	// lobby only: never the account's ID or pseudonym.
	others := eval[string](participant, "participants seen", `JSON.stringify(window.portaloRoom.state().participants)`)
	if !strings.Contains(others, `"role":"moderator"`) || strings.Contains(others, f.trainer.ID) || strings.Contains(others, trainerPseudonym) {
		t.Fatalf("participants seen: %s", others)
	}

	participant.do("participant chats",
		chromedp.SendKeys(chromedp.CSS("#chat-input"), "Guten Morgen!"),
		chromedp.Click(chromedp.CSS("#chat-send")),
	)
	trainer.waitFor("chat reaches the trainer", `document.querySelector('#chat-log').textContent.includes('Guten Morgen!')`, 10*time.Second)

	participant.do("participant raises a hand", chromedp.Click(chromedp.CSS("#hand-button")))
	trainer.waitFor("the hand reaches the trainer", fmt.Sprintf(`window.portaloRoom.state().participants.some(p => p.name === %q && p.hand)`, name), 10*time.Second)

	pid := eval[string](trainer, "the participant's ID", fmt.Sprintf(`window.portaloRoom.state().participants.find(p => p.name === %q).id`, name))
	trainer.do("trainer removes the participant",
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; undefined`),
		chromedp.Click(chromedp.CSS(`#p-`+pid+` button[data-action="remove"]`)),
	)
	participant.waitFor("the participant's page says they were removed", `window.portaloRoom.state().removed && !document.querySelector('#room-over').hidden && document.querySelector('#room-over-text').textContent.trim().length > 0`, 10*time.Second)
	trainer.waitFor("the trainer's list no longer has the participant", fmt.Sprintf(`!window.portaloRoom.state().participants.some(p => p.id === %q)`, pid), 10*time.Second)
}
