package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
	"time"
)

// apiClient is one logged-in account: an HTTP client with its own cookie
// jar (the session cookie).
type apiClient struct {
	base string
	hc   *http.Client
	jar  http.CookieJar
	id   string // account ID
}

func newAPIClient(base string) *apiClient {
	jar, _ := cookiejar.New(nil)
	return &apiClient{base: base, jar: jar, hc: &http.Client{Jar: jar, Timeout: 15 * time.Second}}
}

type apiError struct {
	status int
	body   string
}

func (e *apiError) Error() string { return fmt.Sprintf("HTTP %d: %s", e.status, e.body) }

// do sends a JSON request and decodes a JSON answer into out (if not nil).
func (c *apiClient) do(ctx context.Context, method, path string, in, out any) error {
	var body io.Reader
	if in != nil {
		b, err := json.Marshal(in)
		if err != nil {
			return err
		}
		body = bytes.NewReader(b)
	}
	req, err := http.NewRequestWithContext(ctx, method, c.base+path, body)
	if err != nil {
		return err
	}
	if in != nil {
		req.Header.Set("Content-Type", "application/json")
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Origin", c.base)
	resp, err := c.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if resp.StatusCode/100 != 2 {
		return &apiError{status: resp.StatusCode, body: string(bytes.TrimSpace(b))}
	}
	if out != nil {
		if err := json.Unmarshal(b, out); err != nil {
			return fmt.Errorf("%s %s: decoding the answer: %w", method, path, err)
		}
	}
	return nil
}

type accountAnswer struct {
	Account struct {
		ID    string   `json:"id"`
		Roles []string `json:"roles"`
	} `json:"account"`
}

// login logs in with a pseudonym and password.
func (c *apiClient) login(ctx context.Context, pseudonym, password string) error {
	var a accountAnswer
	if err := c.do(ctx, http.MethodPost, "/api/v1/session",
		map[string]string{"pseudonym": pseudonym, "password": password}, &a); err != nil {
		return fmt.Errorf("logging in as %q: %w", pseudonym, err)
	}
	c.id = a.Account.ID
	return nil
}

// loginOrRegister logs in, or registers the account if logging in fails
// (registration is rate limited: 20 per client and hour, so accounts are
// reused across runs).
func (c *apiClient) loginOrRegister(ctx context.Context, pseudonym, password string) error {
	lerr := c.login(ctx, pseudonym, password)
	if lerr == nil {
		return nil
	}
	var a accountAnswer
	if err := c.do(ctx, http.MethodPost, "/api/v1/accounts",
		map[string]any{"pseudonym": pseudonym, "password": password, "language": "en"}, &a); err != nil {
		return fmt.Errorf("%v; registering %q: %w", lerr, pseudonym, err)
	}
	c.id = a.Account.ID
	return nil
}

// setup prepares a run: the trainer and viewer accounts, the trainer role
// and a workshop whose room is open now.
type setupResult struct {
	admin, trainer, viewer *apiClient
	workshopID             string
}

func setup(ctx context.Context, base, admin, adminPW, accountPW string) (*setupResult, error) {
	ad := newAPIClient(base)
	if err := ad.login(ctx, admin, adminPW); err != nil {
		return nil, fmt.Errorf("admin: %w", err)
	}
	tr := newAPIClient(base)
	if err := tr.loginOrRegister(ctx, "load-trainer", accountPW); err != nil {
		return nil, err
	}
	vw := newAPIClient(base)
	if err := vw.loginOrRegister(ctx, "load-viewer", accountPW); err != nil {
		return nil, err
	}
	if err := ad.do(ctx, http.MethodPut, "/api/v1/admin/accounts/"+tr.id+"/roles",
		map[string]any{"roles": []string{"trainer"}}, nil); err != nil {
		return nil, fmt.Errorf("giving load-trainer the trainer role: %w", err)
	}
	berlin, err := time.LoadLocation("Europe/Berlin")
	if err != nil {
		return nil, err
	}
	// Started 2 minutes ago (Berlin time), so its room is open.
	start := time.Now().In(berlin).Add(-2 * time.Minute).Truncate(time.Minute)
	var w struct {
		Workshop struct {
			ID string `json:"id"`
		} `json:"workshop"`
	}
	if err := ad.do(ctx, http.MethodPost, "/api/v1/workshops", map[string]any{
		"title":            map[string]string{"en": "portalo load test"},
		"topic":            "movement",
		"language":         "en",
		"trainer_id":       tr.id,
		"weekday":          int(start.Weekday()),
		"start":            start.Format("15:04"),
		"duration_minutes": 240,
		"starts_on":        start.Format("2006-01-02"),
	}, &w); err != nil {
		return nil, fmt.Errorf("creating the workshop: %w", err)
	}
	return &setupResult{admin: ad, trainer: tr, viewer: vw, workshopID: w.Workshop.ID}, nil
}

// deleteWorkshop removes the run's workshop again.
func (s *setupResult) deleteWorkshop() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return s.admin.do(ctx, http.MethodDelete, "/api/v1/workshops/"+s.workshopID, nil, nil)
}
