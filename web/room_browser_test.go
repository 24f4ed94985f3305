package web

import (
	"context"
	"fmt"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"portalo/accounts"
	"portalo/media"
	"portalo/signaling"
	"portalo/store/kv/boltkv"
	"portalo/web/browsertest"
	"portalo/web/i18n"
	"portalo/workshops"
)

// TestBrowserLiveRoom runs a live workshop in two real headless Chromiums
// with fake cameras and microphones: the trainer publishes, a participant
// receives and decodes the video, a chat message and a raised hand reach
// the trainer, and the trainer removes the participant, whose page says so.
func TestBrowserLiveRoom(t *testing.T) {
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
	sfu, err := media.New(media.Config{LoopbackOnly: true, TCPPort: -1})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sfu.Close() })
	hub := signaling.NewHub(signaling.Config{Media: signaling.SFU(sfu)})
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
	defer hs.Close()

	trainer, err := accts.Register(ctx, accounts.Registration{Pseudonym: "Trainerin", Password: "trainer password"}, "t")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := accts.SetRoles(ctx, trainer.ID, []accounts.Role{accounts.RoleTrainer}); err != nil {
		t.Fatal(err)
	}
	if _, err := accts.Register(ctx, accounts.Registration{Pseudonym: "Teilnehmer", Password: "participant password"}, "p"); err != nil {
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

	// Two browsers: each person has their own cookies.
	tb, pb := browsertest.New(t), browsertest.New(t)
	tctx := tb.NewTab(t, browsertest.Viewport(360, 740), browsertest.Timeout(3*time.Minute))
	pctx := pb.NewTab(t, browsertest.Viewport(360, 740), browsertest.Timeout(3*time.Minute))

	do := func(ctx context.Context, step string, actions ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, actions...); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
	}
	// waitFor polls a JavaScript condition (getStats and friends) until it
	// holds, up to limit.
	waitFor := func(ctx context.Context, step, expr string, limit time.Duration) {
		t.Helper()
		deadline := time.Now().Add(limit)
		for {
			ok, err := chromedp.Run(ctx, chromedp.Evaluate[bool](expr, chromedp.EvalAwaitPromise))
			if err == nil && ok {
				return
			}
			if time.Now().After(deadline) {
				state, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`JSON.stringify(window.portaloRoom && window.portaloRoom.state())`))
				status, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`(document.querySelector('#room-status')||{}).textContent`))
				t.Fatalf("%s: not within %s (err %v); state %s; status %q", step, limit, err, state, status)
			}
			time.Sleep(200 * time.Millisecond)
		}
	}
	login := func(ctx context.Context, who, password string) {
		t.Helper()
		do(ctx, "open login "+who, chromedp.Navigate(hs.URL+"/login?next=/workshops/"+w.ID+"/room"), chromedp.WaitVisible(chromedp.CSS("#pseudonym")))
		do(ctx, "log in "+who,
			chromedp.SendKeys(chromedp.CSS("#pseudonym"), who),
			chromedp.SendKeys(chromedp.CSS("#password"), password),
			chromedp.Submit(chromedp.CSS("#password")),
			chromedp.WaitVisible(chromedp.CSS("#join-button")),
		)
	}

	login(tctx, "Trainerin", "trainer password")
	browsertest.CheckA11y(t, tctx, "room lobby")
	do(tctx, "trainer joins", chromedp.Click(chromedp.CSS("#join-button")))
	waitFor(tctx, "trainer joined and publishing", `(async () => {
		const r = window.portaloRoom; if (!r || !r.state().joined || !r.pcs.up) return false;
		const stats = await r.pcs.up.getStats(); let frames = 0;
		stats.forEach(s => { if (s.type === 'outbound-rtp' && s.kind === 'video') frames += s.framesEncoded || 0; });
		return frames > 0;
	})()`, 30*time.Second)

	login(pctx, "Teilnehmer", "participant password")
	name, err := chromedp.Run(pctx, chromedp.Value(chromedp.CSS("#display-name")))
	if err != nil || name == "" || strings.Contains(name, "Teilnehmer") {
		t.Fatalf("display name pre-filled with %q (%v): it must be a random pseudonym, never the account name", name, err)
	}
	do(pctx, "participant joins", chromedp.Click(chromedp.CSS("#join-button")))
	waitFor(pctx, "participant decodes the trainer's video", `(async () => {
		const r = window.portaloRoom; if (!r || !r.pcs.down) return false;
		const stats = await r.pcs.down.getStats(); let frames = 0;
		stats.forEach(s => { if (s.type === 'inbound-rtp' && s.kind === 'video') frames += s.framesDecoded || 0; });
		return frames > 0 && document.querySelector('#remote-video').videoWidth > 0;
	})()`, 40*time.Second)
	browsertest.CheckA11y(t, pctx, "room")

	// The participant sees the trainer by the display name chosen in the
	// lobby only: never the account's ID or pseudonym.
	others, err := chromedp.Run(pctx, chromedp.Evaluate[string](`JSON.stringify(window.portaloRoom.state().participants)`))
	if err != nil || !strings.Contains(others, `"role":"moderator"`) || strings.Contains(others, trainer.ID) || strings.Contains(others, "Trainerin") {
		t.Fatalf("participants seen: %s (%v)", others, err)
	}

	do(pctx, "participant chats",
		chromedp.SendKeys(chromedp.CSS("#chat-input"), "Guten Morgen!"),
		chromedp.Click(chromedp.CSS("#chat-send")),
	)
	waitFor(tctx, "chat reaches the trainer", `document.querySelector('#chat-log').textContent.includes('Guten Morgen!')`, 10*time.Second)

	do(pctx, "participant raises a hand", chromedp.Click(chromedp.CSS("#hand-button")))
	waitFor(tctx, "the hand reaches the trainer", fmt.Sprintf(`window.portaloRoom.state().participants.some(p => p.name === %q && p.hand)`, name), 10*time.Second)

	pid, err := chromedp.Run(tctx, chromedp.Evaluate[string](fmt.Sprintf(`window.portaloRoom.state().participants.find(p => p.name === %q).id`, name)))
	if err != nil {
		t.Fatal(err)
	}
	do(tctx, "trainer removes the participant",
		chromedp.Evaluate[chromedp.Void](`window.confirm = () => true; undefined`),
		chromedp.Click(chromedp.CSS(`#p-`+pid+` button[data-action="remove"]`)),
	)
	waitFor(pctx, "the participant's page says they were removed", `window.portaloRoom.state().removed && !document.querySelector('#room-over').hidden && document.querySelector('#room-over-text').textContent.trim().length > 0`, 10*time.Second)
	waitFor(tctx, "the trainer's list no longer has the participant", fmt.Sprintf(`!window.portaloRoom.state().participants.some(p => p.id === %q)`, pid), 10*time.Second)
}
