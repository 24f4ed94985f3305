package web

import (
	"context"
	"net/http"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/signaling"
	"portalo/workshops"
)

// Rooms is what the web layer needs of the live rooms (package signaling).
type Rooms interface {
	ServeWS(w http.ResponseWriter, r *http.Request, roomID string, id signaling.Identity)
}

// RoomSchedule tells whether a workshop's room is open now.
type RoomSchedule interface {
	OpenOccurrence(ctx context.Context, workshopID string, now time.Time) (workshops.Occurrence, bool, error)
}

func (s *Server) roomRoutes(e *gin.Engine) {
	e.GET("/workshops/:id/room", s.requireLogin, s.roomPage)
	e.GET("/api/v1/rooms/:id/ws", s.requireLogin, s.roomSocket)
}

// openRoom finds the open occurrence of the workshop in the URL, or answers
// the request itself.
func (s *Server) openRoom(c *gin.Context) (workshops.Occurrence, bool) {
	occ, open, err := s.cfg.RoomSchedule.OpenOccurrence(c.Request.Context(), c.Param("id"), time.Now())
	if err == nil && !open {
		err = workshops.ErrRoomNotOpen
	}
	if err != nil {
		s.failWith(c, err) // 404 unknown workshop, 409 closed room
		return occ, false
	}
	return occ, true
}

// roomKey names the room of one occurrence: every week's workshop is a new
// room, with its own chat and its own removals.
func roomKey(occ workshops.Occurrence) string {
	return occ.Workshop.ID + "@" + occ.Date.String()
}

func isModerator(a *accounts.Account, occ workshops.Occurrence) bool {
	return a.ID == occ.Workshop.TrainerID || a.Has(accounts.RoleAdmin)
}

// roomPage is the lobby and the room of a live workshop.
func (s *Server) roomPage(c *gin.Context) {
	occ, ok := s.openRoom(c)
	if !ok {
		return
	}
	a, l := account(c), localizer(c)
	strs, err := roomStrings(l)
	if err != nil {
		s.failWith(c, err)
		return
	}
	title, _ := occ.Workshop.TitleIn(l.Lang.Code)
	p := s.newPage(c, "RoomPageTitle")
	p.Title = title
	p.Data = roomView{
		RoomID:      occ.Workshop.ID,
		Title:       title,
		WSPath:      "/api/v1/rooms/" + occ.Workshop.ID + "/ws",
		DisplayName: randomDisplayName(l.Lang.Code),
		Moderator:   isModerator(a, occ),
		StringsJSON: strs,
	}
	s.render(c, http.StatusOK, "room", p)
}

// roomSocket hands the WebSocket to signaling with the person's identity.
func (s *Server) roomSocket(c *gin.Context) {
	occ, ok := s.openRoom(c)
	if !ok {
		return
	}
	a := account(c)
	s.cfg.Rooms.ServeWS(c.Writer, c.Request, roomKey(occ), signaling.Identity{AccountID: a.ID, Moderator: isModerator(a, occ)})
}
