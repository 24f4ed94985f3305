package web

import (
	"context"
	"log/slog"
	"net/http"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"portalo/accounts"
	"portalo/signaling"
	"portalo/store/kv/boltkv"
	"portalo/web/i18n"
	"portalo/workshops"
)

// A room is entered only while it is open: otherwise the page and the
// WebSocket say so in the person's language, and an unknown workshop is 404.
func TestRoomOnlyWhileOpen(t *testing.T) {
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
	cat, err := i18n.Load()
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{
		Accounts: accts, Catalog: cat, Logger: slog.New(slog.DiscardHandler),
		Workshops: ws, Rooms: signaling.NewHub(signaling.Config{}), RoomSchedule: ws,
	})
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{srv: srv}
	trainer, _ := accts.Register(ctx, accounts.Registration{Pseudonym: "Trainer", Password: "long enough"}, "x")
	if _, err := accts.SetRoles(ctx, trainer.ID, []accounts.Role{accounts.RoleTrainer}); err != nil {
		t.Fatal(err)
	}
	// Twelve hours from now: the room is closed (it opens 15 minutes before).
	start := time.Now().In(workshops.Berlin).Add(12 * time.Hour)
	w, err := ws.Create(ctx, workshops.Workshop{
		Title: map[string]string{"de": "Später"}, Topic: workshops.TopicRelaxation, Language: "de",
		TrainerID: trainer.ID, Weekday: start.Weekday(), Start: workshops.TimeOfDay{Hour: start.Hour(), Minute: start.Minute()},
		Duration: 60, StartsOn: workshops.DateOf(start),
	})
	if err != nil {
		t.Fatal(err)
	}
	tok, _ := accts.StartSession(ctx, trainer.ID)
	sess := &http.Cookie{Name: sessionCookie, Value: tok}
	en := map[string]string{"Accept-Language": "en"}
	for _, tc := range []struct {
		path   string
		status int
		text   string
	}{
		{"/workshops/" + w.ID + "/room", http.StatusConflict, "Rooms open 15 minutes before the start"},
		{"/api/v1/rooms/" + w.ID + "/ws", http.StatusConflict, "room_not_open"},
		{"/workshops/nope/room", http.StatusNotFound, "does not exist"},
		{"/api/v1/rooms/nope/ws", http.StatusNotFound, "not_found"},
	} {
		w := h.do(t, "GET", tc.path, nil, en, sess)
		if w.Code != tc.status || !strings.Contains(w.Body.String(), tc.text) {
			t.Errorf("%s: %d %s, want %d with %q", tc.path, w.Code, w.Body, tc.status, tc.text)
		}
	}
	// Without a session: the page asks for a login, the socket is refused.
	if w := h.do(t, "GET", "/workshops/"+w.ID+"/room", nil, en); w.Code != http.StatusSeeOther {
		t.Errorf("room page without login: %d", w.Code)
	}
	if w := h.do(t, "GET", "/api/v1/rooms/"+w.ID+"/ws", nil, en); w.Code != http.StatusUnauthorized {
		t.Errorf("room socket without login: %d", w.Code)
	}
}
