package accounts

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"portalo/internal/storetest"
	"portalo/store/kv"
)

// cheap keeps argon2id fast in tests; production uses DefaultHashParams.
var cheap = HashParams{MemoryKiB: 64, Time: 1, Threads: 1}

// backends runs fn against the embedded store and against a real Redis.
func backends(t *testing.T, fn func(t *testing.T, store kv.Store)) { storetest.KV(t, fn) }

// clock is a settable test clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.now }
func (c *clock) Add(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

func newService(t *testing.T, store kv.Store, opt Options) *Service {
	t.Helper()
	opt.Hash = cheap
	s, err := New(context.Background(), store, opt)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestRegisterValidation(t *testing.T) {
	backends(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(t, store, Options{})
		if _, err := s.Register(ctx, Registration{Pseudonym: "Anna", Password: "long enough"}, "c1"); err != nil {
			t.Fatalf("first registration: %v", err)
		}
		cases := []struct {
			name string
			reg  Registration
			code string
		}{
			{"empty pseudonym", Registration{Pseudonym: "  ", Password: "long enough"}, "pseudonym_required"},
			{"short pseudonym", Registration{Pseudonym: "ab", Password: "long enough"}, "pseudonym_length"},
			{"long pseudonym", Registration{Pseudonym: strings.Repeat("x", 33), Password: "long enough"}, "pseudonym_length"},
			{"huge pseudonym", Registration{Pseudonym: strings.Repeat("x", 10000), Password: "long enough"}, "pseudonym_length"},
			{"pseudonym with markup", Registration{Pseudonym: "<b>bold</b>", Password: "long enough"}, "pseudonym_invalid"},
			{"pseudonym taken", Registration{Pseudonym: "Anna", Password: "long enough"}, "pseudonym_taken"},
			{"pseudonym taken other case", Registration{Pseudonym: "ANNA", Password: "long enough"}, "pseudonym_taken"},
			{"pseudonym taken fullwidth", Registration{Pseudonym: "Ａｎｎａ", Password: "long enough"}, "pseudonym_taken"},
			{"no password", Registration{Pseudonym: "Bert", Password: ""}, "password_required"},
			{"short password", Registration{Pseudonym: "Bert", Password: "1234567"}, "password_too_short"},
			{"long password", Registration{Pseudonym: "Bert", Password: strings.Repeat("p", 257)}, "password_too_long"},
			{"bad email", Registration{Pseudonym: "Bert", Password: "long enough", Email: "not-an-address"}, "email_invalid"},
			{"email with name", Registration{Pseudonym: "Bert", Password: "long enough", Email: "Bert <b@example.org>"}, "email_invalid"},
		}
		for _, tc := range cases {
			t.Run(tc.name, func(t *testing.T) {
				_, err := s.Register(ctx, tc.reg, "c2")
				var ie *InputError
				if !errors.As(err, &ie) || ie.Code != tc.code {
					t.Fatalf("got %v, want input error %q", err, tc.code)
				}
			})
		}
		for _, ok := range []string{"Bert Blau", "Ayşe", "Мария", "فاطمة"} {
			a, err := s.Register(ctx, Registration{Pseudonym: ok, Password: "long enough", Email: ""}, "c3")
			if err != nil {
				t.Fatalf("register %q: %v", ok, err)
			}
			if a.Pseudonym != ok || a.Email != "" || a.Has(RoleAdmin) || !a.Has(RoleParticipant) {
				t.Fatalf("unexpected account %+v", a)
			}
		}
	})
}

func TestConcurrentRegistrationOfOnePseudonym(t *testing.T) {
	backends(t, func(t *testing.T, store kv.Store) {
		s := newService(t, store, Options{})
		var wg sync.WaitGroup
		var won atomic.Int32
		for i := range 10 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				_, err := s.Register(context.Background(), Registration{Pseudonym: "Zoe", Password: "long enough"}, fmt.Sprint("c", i))
				if err == nil {
					won.Add(1)
				}
			}()
		}
		wg.Wait()
		if won.Load() != 1 {
			t.Fatalf("%d registrations of one pseudonym succeeded, want 1", won.Load())
		}
	})
}

func TestLoginLogout(t *testing.T) {
	backends(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(t, store, Options{})
		a, err := s.Register(ctx, Registration{Pseudonym: "Carla", Password: "correct horse"}, "c")
		if err != nil {
			t.Fatal(err)
		}
		for _, tc := range []struct{ name, pseudonym, password string }{
			{"wrong password", "Carla", "wrong horse"},
			{"unknown pseudonym", "Nobody", "correct horse"},
			{"invalid pseudonym", "<>", "correct horse"},
		} {
			if _, _, err := s.Login(ctx, tc.pseudonym, tc.password, "c"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("%s: got %v, want ErrInvalidCredentials", tc.name, err)
			}
		}
		got, token, err := s.Login(ctx, "carla", "correct horse", "c")
		if err != nil || got.ID != a.ID || len(token) < 40 {
			t.Fatalf("login: %v %+v %q", err, got, token)
		}
		if _, who, err := s.Authenticate(ctx, token); err != nil || who.ID != a.ID {
			t.Fatalf("authenticate: %v", err)
		}
		if _, _, err := s.Authenticate(ctx, token+"x"); !errors.Is(err, ErrNoSession) {
			t.Fatalf("forged token: %v", err)
		}
		// The store never holds the token itself.
		keys, _ := store.Keys(ctx, "")
		for _, k := range keys {
			v, _ := store.Get(ctx, k)
			if strings.Contains(k, token) || strings.Contains(string(v), token) {
				t.Fatalf("store holds the raw session token in %s", k)
			}
		}
		if err := s.Logout(ctx, token); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Authenticate(ctx, token); !errors.Is(err, ErrNoSession) {
			t.Fatalf("after logout: %v", err)
		}
	})
}

func TestLogoutEverywhere(t *testing.T) {
	backends(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(t, store, Options{})
		a, _ := s.Register(ctx, Registration{Pseudonym: "Dana", Password: "correct horse"}, "c")
		var tokens []string
		for range 3 {
			_, tok, err := s.Login(ctx, "Dana", "correct horse", "c")
			if err != nil {
				t.Fatal(err)
			}
			tokens = append(tokens, tok)
		}
		if n, _ := s.SessionCount(ctx, a.ID); n != 3 {
			t.Fatalf("sessions = %d, want 3", n)
		}
		if err := s.LogoutEverywhere(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		for _, tok := range tokens {
			if _, _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrNoSession) {
				t.Fatalf("session survived logout everywhere: %v", err)
			}
		}
	})
}

func TestSessionExpiry(t *testing.T) {
	backends(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		clk := &clock{now: time.Now()}
		s := newService(t, store, Options{IdleTimeout: 2 * time.Second, MaxSessionAge: time.Hour, Now: clk.Now})
		_, _ = s.Register(ctx, Registration{Pseudonym: "Emil", Password: "correct horse"}, "c")
		_, tok, err := s.Login(ctx, "Emil", "correct horse", "c")
		if err != nil {
			t.Fatal(err)
		}
		// Use slides the idle expiry: 1.3 s + 1.3 s after login the session
		// lives on because it was used in between.
		time.Sleep(1300 * time.Millisecond)
		clk.Add(2 * time.Minute)
		if _, _, err := s.Authenticate(ctx, tok); err != nil {
			t.Fatalf("used session: %v", err)
		}
		time.Sleep(1300 * time.Millisecond)
		if _, _, err := s.Authenticate(ctx, tok); err != nil {
			t.Fatalf("session did not slide: %v", err)
		}
		// Unused, it ends after the idle timeout.
		deadline := time.Now().Add(10 * time.Second)
		for {
			_, _, err := s.Authenticate(ctx, tok)
			if errors.Is(err, ErrNoSession) {
				break
			}
			if time.Now().After(deadline) {
				t.Fatal("idle session never expired")
			}
			time.Sleep(500 * time.Millisecond)
		}
		// The absolute age limit holds even for a session in use.
		_, tok2, _ := s.Login(ctx, "Emil", "correct horse", "c")
		clk.Add(2 * time.Hour)
		if _, _, err := s.Authenticate(ctx, tok2); !errors.Is(err, ErrNoSession) {
			t.Fatalf("session older than MaxSessionAge: %v", err)
		}
	})
}

func TestLoginRateLimits(t *testing.T) {
	backends(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		clk := &clock{now: time.Date(2026, 11, 23, 10, 0, 0, 0, time.UTC)}
		s := newService(t, store, Options{LoginAttemptsPerAccount: 3, LoginAttemptsPerClient: 5, LimitWindow: 15 * time.Minute, Now: clk.Now})
		_, _ = s.Register(ctx, Registration{Pseudonym: "Fritz", Password: "correct horse"}, "r")
		_, _ = s.Register(ctx, Registration{Pseudonym: "Greta", Password: "correct horse"}, "r")
		for i := range 3 {
			if _, _, err := s.Login(ctx, "Fritz", "guess", fmt.Sprint("client-", i)); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("attempt %d: %v", i, err)
			}
		}
		// Per account: even the right password from a new client waits now.
		_, _, err := s.Login(ctx, "FRITZ", "correct horse", "client-new")
		var rl *RateLimitedError
		if !errors.As(err, &rl) || rl.RetryAfter <= 0 || rl.RetryAfter > 15*time.Minute {
			t.Fatalf("per-account limit: %v", err)
		}
		// Another account is unaffected.
		if _, _, err := s.Login(ctx, "Greta", "correct horse", "client-x"); err != nil {
			t.Fatalf("other account: %v", err)
		}
		// Per client: spraying guesses over many pseudonyms from one client
		// is refused from the sixth attempt on.
		for i := range 4 {
			if _, _, err := s.Login(ctx, fmt.Sprint("Nobody", i), "guess", "busy-client"); !errors.Is(err, ErrInvalidCredentials) {
				t.Fatalf("spray %d: %v", i, err)
			}
		}
		if _, _, err := s.Login(ctx, "Greta", "correct horse", "busy-client"); err != nil {
			t.Fatalf("fifth attempt should pass: %v", err)
		}
		if _, _, err := s.Login(ctx, "Greta", "correct horse", "busy-client"); !errors.As(err, &rl) {
			t.Fatalf("per-client limit: %v", err)
		}
		// The next window lets everyone in again.
		clk.Add(16 * time.Minute)
		if _, _, err := s.Login(ctx, "Fritz", "correct horse", "busy-client"); err != nil {
			t.Fatalf("next window: %v", err)
		}
		// The store keeps no client address in clear.
		keys, _ := store.Keys(ctx, "")
		for _, k := range keys {
			if strings.Contains(k, "busy-client") || strings.Contains(k, "client-new") || strings.Contains(k, "client-0") {
				t.Fatalf("client identifier stored in clear: %s", k)
			}
		}
	})
}

func TestRolesAndMultiplierApproval(t *testing.T) {
	backends(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(t, store, Options{})
		admin, err := s.CreateAdmin(ctx, "Root Admin", "correct horse")
		if err != nil || !admin.Has(RoleAdmin) {
			t.Fatalf("create admin: %v %+v", err, admin)
		}
		m, _ := s.Register(ctx, Registration{Pseudonym: "Hanna", Password: "correct horse", WantsMultiplier: true}, "c")
		if !m.MultiplierRequested || m.Has(RoleMultiplier) {
			t.Fatalf("request not recorded: %+v", m)
		}
		m, err = s.ApproveMultiplier(ctx, m.ID)
		if err != nil || !m.Has(RoleMultiplier) || m.MultiplierRequested {
			t.Fatalf("approve: %v %+v", err, m)
		}
		if _, err := s.SetRoles(ctx, m.ID, []Role{"overlord"}); err == nil {
			t.Fatal("unknown role accepted")
		}
		m, err = s.SetRoles(ctx, m.ID, []Role{RoleTrainer, RoleEditor, RoleTrainer})
		if err != nil || !m.Has(RoleTrainer) || !m.Has(RoleEditor) || m.Has(RoleMultiplier) || len(m.Roles) != 2 {
			t.Fatalf("set roles: %v %+v", err, m)
		}
		if _, err := s.SetRoles(ctx, admin.ID, nil); !errors.Is(err, ErrLastAdmin) {
			t.Fatalf("removing the last admin: %v", err)
		}
		if err := s.Delete(ctx, admin.ID); !errors.Is(err, ErrLastAdmin) {
			t.Fatalf("deleting the last admin: %v", err)
		}
		if _, err := s.SetRoles(ctx, m.ID, []Role{RoleAdmin}); err != nil {
			t.Fatal(err)
		}
		if _, err := s.SetRoles(ctx, admin.ID, nil); err != nil {
			t.Fatalf("demoting one of two admins: %v", err)
		}
		if _, err := s.ApproveMultiplier(ctx, "missing"); !errors.Is(err, ErrNotFound) {
			t.Fatalf("approve missing: %v", err)
		}
	})
}

func TestExportAndDelete(t *testing.T) {
	backends(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		var hooked []string
		failHook := false
		s := newService(t, store, Options{BeforeDelete: []func(context.Context, string) error{
			func(_ context.Context, id string) error {
				if failHook {
					return errors.New("feature store down")
				}
				hooked = append(hooked, id)
				return nil
			},
		}})
		a, _ := s.Register(ctx, Registration{Pseudonym: "Ida", Password: "correct horse", Email: "ida@example.org", Language: "tr"}, "c")
		_, tok, _ := s.Login(ctx, "Ida", "correct horse", "c")
		e, err := s.Export(ctx, a.ID)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := json.Marshal(e)
		if !strings.Contains(string(b), "ida@example.org") || !strings.Contains(string(b), `"pseudonym":"Ida"`) || len(e.Sessions) != 1 {
			t.Fatalf("export misses data: %s", b)
		}
		if strings.Contains(string(b), "argon2") || strings.Contains(string(b), "password") {
			t.Fatalf("export leaks the password hash: %s", b)
		}

		failHook = true
		if err := s.Delete(ctx, a.ID); err == nil {
			t.Fatal("delete went on although a feature could not remove its data")
		}
		if _, err := s.Get(ctx, a.ID); err != nil {
			t.Fatalf("failed delete removed the account: %v", err)
		}
		failHook = false
		if err := s.Delete(ctx, a.ID); err != nil {
			t.Fatal(err)
		}
		if len(hooked) != 1 || hooked[0] != a.ID {
			t.Fatalf("hooks ran for %v", hooked)
		}
		if _, err := s.Get(ctx, a.ID); !errors.Is(err, ErrNotFound) {
			t.Fatalf("account still there: %v", err)
		}
		if _, _, err := s.Authenticate(ctx, tok); !errors.Is(err, ErrNoSession) {
			t.Fatalf("session survived deletion: %v", err)
		}
		keys, _ := store.Keys(ctx, "")
		for _, k := range keys {
			v, _ := store.Get(ctx, k)
			if strings.Contains(k, a.ID) || strings.Contains(string(v), a.ID) || strings.Contains(strings.ToLower(k), "ida") {
				t.Fatalf("deleted account left %s = %s", k, v)
			}
		}
		if m, _ := store.Members(ctx, accountSessionsKey(a.ID)); len(m) != 0 {
			t.Fatalf("session index left: %v", m)
		}
		if _, err := s.Register(ctx, Registration{Pseudonym: "Ida", Password: "correct horse"}, "c"); err != nil {
			t.Fatalf("pseudonym not freed: %v", err)
		}
	})
}

func TestChangePassword(t *testing.T) {
	backends(t, func(t *testing.T, store kv.Store) {
		ctx := context.Background()
		s := newService(t, store, Options{})
		a, _ := s.Register(ctx, Registration{Pseudonym: "Jon", Password: "correct horse"}, "c")
		var ie *InputError
		if err := s.ChangePassword(ctx, a.ID, "wrong", "new password"); !errors.As(err, &ie) || ie.Code != "password_wrong" {
			t.Fatalf("wrong current password: %v", err)
		}
		if err := s.ChangePassword(ctx, a.ID, "correct horse", "short"); !errors.As(err, &ie) || ie.Code != "password_too_short" {
			t.Fatalf("short new password: %v", err)
		}
		if err := s.ChangePassword(ctx, a.ID, "correct horse", "new password"); err != nil {
			t.Fatal(err)
		}
		if _, _, err := s.Login(ctx, "Jon", "correct horse", "c"); !errors.Is(err, ErrInvalidCredentials) {
			t.Fatalf("old password still works: %v", err)
		}
		if _, _, err := s.Login(ctx, "Jon", "new password", "c"); err != nil {
			t.Fatalf("new password: %v", err)
		}
	})
}

func TestPasswordHash(t *testing.T) {
	h, err := hashPassword("secret pass", DefaultHashParams)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.HasPrefix(h, "$argon2id$v=19$m=19456,t=2,p=1$") {
		t.Fatalf("unexpected hash format %q", h)
	}
	for _, tc := range []struct {
		hash, pw string
		ok       bool
		err      bool
	}{
		{h, "secret pass", true, false},
		{h, "secret pasS", false, false},
		{"$argon2i$v=19$m=1,t=1,p=1$YQ$YQ", "x", false, true},
		{"garbage", "x", false, true},
		{strings.Replace(h, "m=19456", "m=abc", 1), "secret pass", false, true},
	} {
		ok, err := checkPassword(tc.hash, tc.pw)
		if ok != tc.ok || (err != nil) != tc.err {
			t.Errorf("checkPassword(%q, %q) = %v, %v", tc.hash, tc.pw, ok, err)
		}
	}
}
