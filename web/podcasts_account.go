package web

// The private feed section of the account page: an approved multiplier
// creates, renews and revokes the address of their private feed of the
// professionals' podcast.
//
// Only the token's hash is stored, so its address can be shown once. The
// POST that makes it answers with a redirect (303) to GET /account, so
// that reloading the page never issues another token; the new token
// travels to that one GET in a short-lived cookie (freshFeedCookie:
// HttpOnly, SameSite=Strict, Path=/account, five minutes), which the GET
// reads and clears in the same answer (Cache-Control: no-store). The
// token is in no URL of portalo's own pages and no log. Afterwards the
// page says when the address was made and offers to renew it.
//
// Taking the multiplier role away revokes the token (revokeFeedOfFormer),
// so that a later approval does not bring an old address back to life.

import (
	"context"
	"errors"
	"net/http"
	"strconv"
	"time"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/podcasts"
)

// ctxFreshFeedToken holds, for the page rendered right after it was made,
// the new private feed token.
const ctxFreshFeedToken = "portalo.podcastFeedToken"

// freshFeedCookie carries a newly issued private feed token from the POST
// that made it to the one GET /account that shows it; freshFeedPath and
// freshFeedAge are its path and lifetime.
const (
	freshFeedCookie = "portalo_feed"
	freshFeedPath   = "/account"
	freshFeedAge    = 5 * time.Minute
)

// setFreshFeedCookie hands token to the next GET /account.
func (s *Server) setFreshFeedCookie(c *gin.Context, token string, maxAge int) {
	http.SetCookie(c.Writer, &http.Cookie{
		Name:     freshFeedCookie,
		Value:    token,
		Path:     freshFeedPath,
		MaxAge:   maxAge,
		HttpOnly: true,
		Secure:   s.secure(c.Request),
		SameSite: http.SameSiteStrictMode,
	})
}

// takeFreshFeedToken reads the token a POST just issued, if any, for this
// page only (ctxFreshFeedToken) and clears its cookie in the answer, so
// that the next load of the page no longer shows it.
func (s *Server) takeFreshFeedToken(c *gin.Context) {
	ck, err := c.Request.Cookie(freshFeedCookie)
	if err != nil {
		return
	}
	s.setFreshFeedCookie(c, "", -1)
	if ck.Value != "" {
		c.Set(ctxFreshFeedToken, ck.Value)
	}
}

// revokeFeedOfFormer revokes the private feed token of a, once an admin's
// change left it without the multiplier role; the token would otherwise
// only be refused until the role comes back.
func (s *Server) revokeFeedOfFormer(ctx context.Context, a accounts.Account) error {
	if s.cfg.Podcasts == nil || a.Has(accounts.RoleMultiplier) {
		return nil
	}
	return s.cfg.Podcasts.RevokeFeedToken(ctx, a.ID)
}

// privateFeedURL is the private feed address of one series.
type privateFeedURL struct {
	Title textIn
	URL   string
	// InputID, ButtonID and StatusID are the elements' ids: the first
	// series has "private-feed-url", "copy-feed-url", "copy-feed-status".
	InputID, ButtonID, StatusID string
}

// podcastFeedView is the private feed section of the account page.
type podcastFeedView struct {
	HasToken          bool
	Issued, IssuedISO string
	// URLs are set on the page right after the token was made only.
	URLs     []privateFeedURL
	NoSeries bool
}

// podcastFeedSection fills the account page's section for an approved
// multiplier; nil for everyone else or without podcasts.
func (s *Server) podcastFeedSection(c *gin.Context, a *accounts.Account) (*podcastFeedView, error) {
	if s.cfg.Podcasts == nil || a == nil || !a.Has(accounts.RoleMultiplier) {
		return nil, nil
	}
	ctx := c.Request.Context()
	l := localizer(c)
	has, issued, err := s.cfg.Podcasts.HasFeedToken(ctx, a.ID)
	if err != nil {
		return nil, err
	}
	v := &podcastFeedView{HasToken: has}
	if has {
		v.Issued, v.IssuedISO = dateText(l, issued), issued.Format("2006-01-02")
	}
	series, err := privateSeriesList(ctx, s.cfg.Podcasts)
	if err != nil {
		return nil, err
	}
	v.NoSeries = len(series) == 0
	tok, err := s.freshFeedToken(ctx, c, a.ID)
	if err != nil {
		return nil, err
	}
	if tok != "" {
		origin := s.baseURL(c.Request)
		for i, sr := range series {
			u := privateFeedURL{Title: seriesTitle(l, sr), URL: origin + seriesBase(sr, tok) + "/feed.xml",
				InputID: "private-feed-url", ButtonID: "copy-feed-url", StatusID: "copy-feed-status"}
			if i > 0 {
				suffix := "-" + strconv.Itoa(i+1)
				u.InputID += suffix
				u.ButtonID += suffix
				u.StatusID += suffix
			}
			v.URLs = append(v.URLs, u)
		}
	}
	return v, nil
}

// freshFeedToken returns the token issued just before this page
// (ctxFreshFeedToken) if it is the account's current one: not one renewed
// or revoked since (in another tab), nor one in a cookie someone else set.
func (s *Server) freshFeedToken(ctx context.Context, c *gin.Context, accountID string) (string, error) {
	v, _ := c.Get(ctxFreshFeedToken)
	tok, _ := v.(string)
	if tok == "" {
		return "", nil
	}
	owner, err := s.cfg.Podcasts.FeedTokenAccount(ctx, tok)
	if errors.Is(err, podcasts.ErrNotFound) || (err == nil && owner != accountID) {
		return "", nil
	}
	return tok, err
}

// privateSeriesList returns the series for multipliers.
func privateSeriesList(ctx context.Context, ps Podcasts) ([]podcasts.Series, error) {
	all, err := ps.ListSeries(ctx)
	if err != nil {
		return nil, err
	}
	var out []podcasts.Series
	for _, sr := range all {
		if sr.Audience == podcasts.AudienceMultipliers {
			out = append(out, sr)
		}
	}
	return out, nil
}

// issueFeed makes a new private feed token (the first, or one replacing
// the old, which stops working at once) and sends the person to the
// account page, which shows its address once.
func (p *podcastSite) issueFeed(c *gin.Context) {
	if !p.s.parseForm(c) {
		return
	}
	a := account(c)
	if !a.Has(accounts.RoleMultiplier) {
		p.s.fail(c, http.StatusForbidden, "forbidden", "PodcastFeedForMultipliers")
		return
	}
	had, _, err := p.series.HasFeedToken(c.Request.Context(), a.ID)
	if err != nil {
		p.s.failWith(c, err)
		return
	}
	token, err := p.series.IssueFeedToken(c.Request.Context(), a.ID)
	if err != nil {
		p.s.failWith(c, err)
		return
	}
	// Post/Redirect/Get: the token goes to the one GET that shows it in
	// a cookie, never in the URL.
	p.s.setFreshFeedCookie(c, token, int(freshFeedAge.Seconds()))
	flash := "FlashPodcastFeedCreated"
	if had {
		flash = "FlashPodcastFeedRenewed"
	}
	p.s.flashAndRedirect(c, flash, "/account#podcast-feed")
}

// revokeFeed makes the private feed address stop working.
func (p *podcastSite) revokeFeed(c *gin.Context) {
	if !p.s.parseForm(c) {
		return
	}
	if err := p.series.RevokeFeedToken(c.Request.Context(), account(c).ID); err != nil {
		p.s.failWith(c, err)
		return
	}
	p.s.flashAndRedirect(c, "FlashPodcastFeedRevoked", "/account")
}
