package courses

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"testing"
	"time"

	"portalo/internal/storetest"
	"portalo/store/kv"
)

func accounts(t *testing.T, es []Entry) []string {
	t.Helper()
	out := make([]string, len(es))
	for i, e := range es {
		out[i] = e.Account
	}
	return out
}

func wantRoster(t *testing.T, s *Service, id string, booked, waiting []string) Roster {
	t.Helper()
	r, err := s.Roster(context.Background(), id)
	if err != nil {
		t.Fatal(err)
	}
	if b, w := accounts(t, r.Booked), accounts(t, r.Waiting); !slices.Equal(b, booked) || !slices.Equal(w, waiting) {
		t.Fatalf("roster: booked %v waiting %v, want %v and %v", b, w, booked, waiting)
	}
	return r
}

// checkInvariants checks what must hold for every roster of a course that
// is not cancelled: no more booked than seats, nobody twice, nobody waiting
// while a seat is free, and every person's place as the roster says.
func checkInvariants(t *testing.T, s *Service, id string) Roster {
	t.Helper()
	ctx := context.Background()
	r, err := s.Roster(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Booked) > r.Seats {
		t.Fatalf("overbooked: %d booked for %d seats", len(r.Booked), r.Seats)
	}
	if len(r.Waiting) > 0 && len(r.Booked) < r.Seats {
		t.Fatalf("%d waiting while %d of %d seats are booked", len(r.Waiting), len(r.Booked), r.Seats)
	}
	seen := map[string]bool{}
	for i, e := range slices.Concat(r.Booked, r.Waiting) {
		if seen[e.Account] {
			t.Fatalf("%s is on the roster twice", e.Account)
		}
		seen[e.Account] = true
		p, err := s.PlaceOf(ctx, id, e.Account)
		if err != nil {
			t.Fatal(err)
		}
		want := Place{Status: StatusBooked, Since: e.Since}
		if i >= len(r.Booked) {
			want = Place{Status: StatusWaiting, Position: i - len(r.Booked) + 1, Since: e.Since}
		}
		if p != want {
			t.Fatalf("PlaceOf(%s) = %+v, want %+v", e.Account, p, want)
		}
		ids, err := s.CoursesOf(ctx, e.Account)
		if err != nil || !slices.Contains(ids, id) {
			t.Fatalf("CoursesOf(%s) = %v, %v: misses %s", e.Account, ids, err, id)
		}
	}
	return r
}

func TestSignUpAndWaitingList(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		c := &clock{t0}
		s := newService(store, c)
		course, err := s.Create(ctx, sample(t, 2))
		if err != nil {
			t.Fatal(err)
		}
		id := course.ID

		steps := []struct {
			name    string
			do      func() (any, error)
			want    any
			booked  []string
			waiting []string
		}{
			{"first seat", func() (any, error) { return s.SignUp(ctx, id, "a") }, Place{Status: StatusBooked, Since: t0}, []string{"a"}, nil},
			{"repeat is idempotent", func() (any, error) { return s.SignUp(ctx, id, "a") }, Place{Status: StatusBooked, Since: t0}, []string{"a"}, nil},
			{"second seat", func() (any, error) { return s.SignUp(ctx, id, "b") }, Place{Status: StatusBooked, Since: t0}, []string{"a", "b"}, nil},
			{"full: waiting 1", func() (any, error) { return s.SignUp(ctx, id, "c") }, Place{Status: StatusWaiting, Position: 1, Since: t0}, []string{"a", "b"}, []string{"c"}},
			{"waiting 2", func() (any, error) { return s.SignUp(ctx, id, "d") }, Place{Status: StatusWaiting, Position: 2, Since: t0}, []string{"a", "b"}, []string{"c", "d"}},
			{"waiting 3", func() (any, error) { return s.SignUp(ctx, id, "e") }, Place{Status: StatusWaiting, Position: 3, Since: t0}, []string{"a", "b"}, []string{"c", "d", "e"}},
			{"repeat while waiting", func() (any, error) { return s.SignUp(ctx, id, "d") }, Place{Status: StatusWaiting, Position: 2, Since: t0}, []string{"a", "b"}, []string{"c", "d", "e"}},
			{"place of a waiting person", func() (any, error) { return s.PlaceOf(ctx, id, "e") }, Place{Status: StatusWaiting, Position: 3, Since: t0}, []string{"a", "b"}, []string{"c", "d", "e"}},
			{"place of a stranger", func() (any, error) { return s.PlaceOf(ctx, id, "zz") }, Place{}, []string{"a", "b"}, []string{"c", "d", "e"}},
			{"cancel booked: first waiting moves up", func() (any, error) {
				c.now = t0.Add(time.Hour)
				return s.CancelSignUp(ctx, id, "a")
			}, "c", []string{"b", "c"}, []string{"d", "e"}},
			{"promoted has a seat since now", func() (any, error) { return s.PlaceOf(ctx, id, "c") }, Place{Status: StatusBooked, Since: t0.Add(time.Hour)}, []string{"b", "c"}, []string{"d", "e"}},
			{"cancel waiting: positions shift", func() (any, error) { return s.CancelSignUp(ctx, id, "d") }, "", []string{"b", "c"}, []string{"e"}},
			{"e moved to 1", func() (any, error) { return s.PlaceOf(ctx, id, "e") }, Place{Status: StatusWaiting, Position: 1, Since: t0}, []string{"b", "c"}, []string{"e"}},
			{"cancel again is harmless", func() (any, error) { return s.CancelSignUp(ctx, id, "d") }, "", []string{"b", "c"}, []string{"e"}},
			{"cancelled person signs up again: end of the list", func() (any, error) { return s.SignUp(ctx, id, "a") }, Place{Status: StatusWaiting, Position: 2, Since: t0.Add(time.Hour)}, []string{"b", "c"}, []string{"e", "a"}},
			{"raising seats moves people up in order", func() (any, error) {
				m := sample(t, 3)
				c, err := s.Update(ctx, id, m)
				return c.Seats, err
			}, 3, []string{"b", "c", "e"}, []string{"a"}},
			{"raising further empties the list", func() (any, error) {
				c, err := s.Update(ctx, id, sample(t, 10))
				return c.Seats, err
			}, 10, []string{"b", "c", "e", "a"}, nil},
			{"lowering to the number booked is fine", func() (any, error) {
				c, err := s.Update(ctx, id, sample(t, 4))
				return c.Seats, err
			}, 4, []string{"b", "c", "e", "a"}, nil},
			{"lowering below booked is refused", func() (any, error) {
				_, err := s.Update(ctx, id, sample(t, 3))
				f, code := inputCode(err)
				return f + "/" + code, nil
			}, "seats/seats_below_booked", []string{"b", "c", "e", "a"}, nil},
			{"last seat cancelled with nobody waiting", func() (any, error) { return s.CancelSignUp(ctx, id, "a") }, "", []string{"b", "c", "e"}, nil},
		}
		for _, st := range steps {
			got, err := st.do()
			if err != nil {
				t.Fatalf("%s: %v", st.name, err)
			}
			if got != st.want {
				t.Fatalf("%s: got %+v, want %+v", st.name, got, st.want)
			}
			wantRoster(t, s, id, st.booked, st.waiting)
			checkInvariants(t, s, id)
		}
		if r, _ := s.Roster(ctx, id); r.Seats != 4 {
			t.Fatalf("seats %d", r.Seats)
		}
	})
}

func TestSignUpClosed(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		c := &clock{t0}
		s := newService(store, c)
		mk := func() Course {
			t.Helper()
			course, err := s.Create(ctx, sample(t, 1))
			if err != nil {
				t.Fatal(err)
			}
			return course
		}
		started, cancelled, open := mk(), mk(), mk()
		for _, id := range []string{started.ID, cancelled.ID} {
			if _, err := s.SignUp(ctx, id, "early"); err != nil {
				t.Fatal(err)
			}
			if _, err := s.SignUp(ctx, id, "waiting"); err != nil {
				t.Fatal(err)
			}
		}
		if _, err := s.Cancel(ctx, cancelled.ID); err != nil {
			t.Fatal(err)
		}
		if open, _ := s.Get(ctx, open.ID); !open.SignUpOpen(c.now) {
			t.Fatal("open course reports closed")
		}

		c.now = started.Start() // the first session starts
		cases := []struct {
			name      string
			course    string
			account   string
			wantErr   error
			wantPlace Place
		}{
			{"after the start", started.ID, "late", ErrClosed, Place{}},
			{"cancelled course", cancelled.ID, "late", ErrClosed, Place{}},
			{"repeat after the start returns the place", started.ID, "early", nil, Place{Status: StatusBooked, Since: t0}},
			{"repeat on a cancelled course returns the place", cancelled.ID, "waiting", nil, Place{Status: StatusWaiting, Position: 1, Since: t0}},
			{"missing course", "nosuchcourse", "late", ErrNotFound, Place{}},
			{"bad course ID", "a:b", "late", ErrNotFound, Place{}},
		}
		for _, tc := range cases {
			p, err := s.SignUp(ctx, tc.course, tc.account)
			if !errors.Is(err, tc.wantErr) || p != tc.wantPlace {
				t.Errorf("%s: %+v, %v; want %+v, %v", tc.name, p, err, tc.wantPlace, tc.wantErr)
			}
		}
		for _, bad := range []string{"", "a:b", "x/y", string(make([]byte, 65))} {
			_, err := s.SignUp(ctx, open.ID, bad)
			if f, code := inputCode(err); f != "account" || code != "account_invalid" {
				t.Errorf("SignUp with account %q: %v", bad, err)
			}
		}
		// Nobody who was refused is left in the index.
		if ids, err := s.CoursesOf(ctx, "late"); err != nil || len(ids) != 0 {
			t.Fatalf("CoursesOf(late) = %v, %v", ids, err)
		}
		if ids, err := store.Members(ctx, signupsKey("late")); err != nil || len(ids) != 0 {
			t.Fatalf("index of late: %v, %v", ids, err)
		}
		// Cancelling on a cancelled course frees the seat but moves nobody up.
		if promoted, err := s.CancelSignUp(ctx, cancelled.ID, "early"); err != nil || promoted != "" {
			t.Fatalf("cancel on a cancelled course: %q, %v", promoted, err)
		}
		wantRoster(t, s, cancelled.ID, nil, []string{"waiting"})
		// On a started course, a freed seat still goes to the next in line.
		if promoted, err := s.CancelSignUp(ctx, started.ID, "early"); err != nil || promoted != "waiting" {
			t.Fatalf("cancel on a started course: %q, %v", promoted, err)
		}
	})
}

func TestWaitingListLimit(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store, &clock{t0})
		course, err := s.Create(ctx, sample(t, 1))
		if err != nil {
			t.Fatal(err)
		}
		if _, err := s.SignUp(ctx, course.ID, "p0"); err != nil {
			t.Fatal(err)
		}
		// Fill the waiting list but for one directly: signing up 500
		// people one by one takes long under -race.
		// (Those have no index entry; checkInvariants is not run here.)
		if _, err := s.modify(ctx, course.ID, func(r *record) error {
			for i := 1; i < MaxWaiting; i++ {
				r.Waiting = append(r.Waiting, Entry{Account: fmt.Sprintf("p%d", i), Since: t0})
			}
			return nil
		}); err != nil {
			t.Fatal(err)
		}
		if p, err := s.SignUp(ctx, course.ID, "last"); err != nil || p.Position != MaxWaiting {
			t.Fatalf("last place on the waiting list: %+v, %v", p, err)
		}
		if _, err := s.SignUp(ctx, course.ID, "one-too-many"); !errors.Is(err, ErrFull) {
			t.Fatalf("sign-up beyond the waiting list: %v", err)
		}
		if p, err := s.SignUp(ctx, course.ID, "p3"); err != nil || p.Position != 3 {
			t.Fatalf("repeat on a full list: %+v, %v", p, err)
		}
		if r, err := s.Roster(ctx, course.ID); err != nil || len(r.Booked) != 1 || len(r.Waiting) != MaxWaiting {
			t.Fatalf("roster: %d booked, %d waiting, %v", len(r.Booked), len(r.Waiting), err)
		}
	})
}

// TestSignUpRace: 20 people sign up at once for 5 seats; exactly 5 get a
// seat and 15 wait, in positions 1 to 15, nobody twice.
func TestSignUpRace(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store, &clock{t0})
		course, err := s.Create(ctx, sample(t, 5))
		if err != nil {
			t.Fatal(err)
		}
		const n = 20
		places := make([]Place, n)
		errs := make([]error, n)
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i := range n {
			wg.Go(func() {
				<-start
				places[i], errs[i] = s.SignUp(ctx, course.ID, fmt.Sprintf("person%02d", i))
			})
		}
		close(start)
		wg.Wait()

		booked, positions := 0, []int{}
		for i := range n {
			if errs[i] != nil {
				t.Fatalf("person%02d: %v", i, errs[i])
			}
			switch places[i].Status {
			case StatusBooked:
				booked++
			case StatusWaiting:
				positions = append(positions, places[i].Position)
			default:
				t.Fatalf("person%02d has no place", i)
			}
		}
		slices.Sort(positions)
		want := make([]int, 0, n-5)
		for p := 1; p <= n-5; p++ {
			want = append(want, p)
		}
		if booked != 5 || !slices.Equal(positions, want) {
			t.Fatalf("SignUp results: %d booked, waiting positions %v", booked, positions)
		}
		r := checkInvariants(t, s, course.ID)
		if len(r.Booked) != 5 || len(r.Waiting) != 15 {
			t.Fatalf("roster: %d booked, %d waiting", len(r.Booked), len(r.Waiting))
		}
		// What each was told is what the roster says.
		for i := range n {
			p, _ := s.PlaceOf(ctx, course.ID, fmt.Sprintf("person%02d", i))
			if p != places[i] {
				t.Fatalf("person%02d was told %+v, roster says %+v", i, places[i], p)
			}
		}
	})
}

// TestMixedRace: sign-ups, repeated sign-ups and cancellations at once keep
// the roster consistent and end with exactly the people who stayed.
func TestMixedRace(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(store, &clock{t0})
		course, err := s.Create(ctx, sample(t, 5))
		if err != nil {
			t.Fatal(err)
		}
		// Ten people are there before: five booked, five waiting.
		for i := range 10 {
			if _, err := s.SignUp(ctx, course.ID, fmt.Sprintf("old%d", i)); err != nil {
				t.Fatal(err)
			}
		}
		// At once: the even old ones cancel (booked and waiting alike),
		// ten new people sign up, and the odd old ones sign up again.
		var ops []func() error
		stay := map[string]bool{}
		for i := range 10 {
			old := fmt.Sprintf("old%d", i)
			if i%2 == 0 {
				ops = append(ops, func() error { _, err := s.CancelSignUp(ctx, course.ID, old); return err })
			} else {
				stay[old] = true
				ops = append(ops, func() error { _, err := s.SignUp(ctx, course.ID, old); return err })
			}
			nw := fmt.Sprintf("new%d", i)
			stay[nw] = true
			ops = append(ops, func() error { _, err := s.SignUp(ctx, course.ID, nw); return err })
		}
		errs := make([]error, len(ops))
		var wg sync.WaitGroup
		start := make(chan struct{})
		for i, op := range ops {
			wg.Go(func() { <-start; errs[i] = op() })
		}
		close(start)
		wg.Wait()
		if err := errors.Join(errs...); err != nil {
			t.Fatal(err)
		}
		r := checkInvariants(t, s, course.ID)
		if len(r.Booked) != 5 || len(r.Waiting) != len(stay)-5 {
			t.Fatalf("%d booked, %d waiting; want 5 and %d", len(r.Booked), len(r.Waiting), len(stay)-5)
		}
		for _, e := range slices.Concat(r.Booked, r.Waiting) {
			if !stay[e.Account] {
				t.Fatalf("%s cancelled but is on the roster", e.Account)
			}
			delete(stay, e.Account)
		}
		if len(stay) != 0 {
			t.Fatalf("missing from the roster: %v", stay)
		}
		// The odd old ones who were booked before kept their seats.
		for _, old := range []string{"old1", "old3"} {
			if p, _ := s.PlaceOf(ctx, course.ID, old); p.Status != StatusBooked {
				t.Fatalf("%s lost the seat: %+v", old, p)
			}
		}
		for i := 0; i < 10; i += 2 {
			if ids, _ := s.CoursesOf(ctx, fmt.Sprintf("old%d", i)); len(ids) != 0 {
				t.Fatalf("old%d cancelled but CoursesOf = %v", i, ids)
			}
		}
	})
}

func TestCoursesOfAndForgetAccount(t *testing.T) {
	storetest.KV(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		c := &clock{t0}
		s := newService(store, c)
		mk := func(seats int, day string, trainerID string) Course {
			t.Helper()
			m := sample(t, seats)
			st := utc(t, day+"T08:00:00Z")
			m.Sessions = []Session{{Start: st, End: st.Add(2 * time.Hour)}}
			m.Trainer = trainerID
			course, err := s.Create(ctx, m)
			if err != nil {
				t.Fatal(err)
			}
			return course
		}
		may, april, june := mk(1, "2026-05-05", trainer), mk(1, "2026-04-05", ""), mk(3, "2026-06-05", "trainer2")
		signups := []struct{ course, account string }{
			{may.ID, "gone"}, {may.ID, "w1"}, {may.ID, "w2"}, // gone booked, two waiting
			{april.ID, "w1"}, {april.ID, "gone"}, // gone waiting
			{june.ID, "w2"}, {june.ID, "gone"},
		}
		for _, su := range signups {
			if _, err := s.SignUp(ctx, su.course, su.account); err != nil {
				t.Fatal(err)
			}
		}
		for _, tc := range []struct {
			account string
			want    []string
		}{
			{"gone", []string{april.ID, may.ID, june.ID}}, // by first session
			{"w1", []string{april.ID, may.ID}},
			{"w2", []string{may.ID, june.ID}},
			{"nobody", nil},
			{"bad:id", nil},
		} {
			ids, err := s.CoursesOf(ctx, tc.account)
			if err != nil || !slices.Equal(ids, tc.want) {
				t.Errorf("CoursesOf(%s) = %v, %v; want %v", tc.account, ids, err, tc.want)
			}
		}

		// A stale index entry (a course deleted, a crash between index and
		// roster) does not show.
		if err := store.AddMember(ctx, signupsKey("w1"), june.ID); err != nil {
			t.Fatal(err)
		}
		if err := store.AddMember(ctx, signupsKey("w1"), "deletedcourse"); err != nil {
			t.Fatal(err)
		}
		if ids, _ := s.CoursesOf(ctx, "w1"); !slices.Equal(ids, []string{april.ID, may.ID}) {
			t.Fatalf("CoursesOf with stale entries: %v", ids)
		}

		c.now = t0.Add(time.Hour)
		for range 2 { // a second run is harmless
			if err := s.ForgetAccount(ctx, "gone"); err != nil {
				t.Fatal(err)
			}
		}
		wantRoster(t, s, may.ID, []string{"w1"}, []string{"w2"}) // w1 moved up
		wantRoster(t, s, april.ID, []string{"w1"}, nil)
		wantRoster(t, s, june.ID, []string{"w2"}, nil)
		if p, _ := s.PlaceOf(ctx, may.ID, "w1"); p.Since != c.now {
			t.Fatalf("w1 moved up at %v", p.Since)
		}
		if ids, _ := s.CoursesOf(ctx, "gone"); len(ids) != 0 {
			t.Fatalf("CoursesOf after ForgetAccount: %v", ids)
		}
		if m, _ := store.Members(ctx, signupsKey("gone")); len(m) != 0 {
			t.Fatalf("index left after ForgetAccount: %v", m)
		}

		// Forgetting a trainer leaves the course without one.
		if err := s.ForgetAccount(ctx, trainer); err != nil {
			t.Fatal(err)
		}
		if got, _ := s.Get(ctx, may.ID); got.Trainer != "" || !got.Updated.Equal(c.now) {
			t.Fatalf("course of a forgotten trainer: %+v", got)
		}
		if got, _ := s.Get(ctx, june.ID); got.Trainer != "trainer2" || !got.Updated.Equal(t0) {
			t.Fatalf("another trainer's course changed: %+v", got)
		}

		// Deleting a course takes it out of its people's index.
		if err := s.Delete(ctx, may.ID); err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{"w1", "w2"} {
			m, _ := store.Members(ctx, signupsKey(a))
			if slices.Contains(m, may.ID) {
				t.Fatalf("index of %s still holds the deleted course: %v", a, m)
			}
		}
		for _, id := range []string{april.ID, june.ID} {
			checkInvariants(t, s, id)
		}
	})
}
