package web

// The private feed section of the account page: an approved multiplier
// creates, renews and revokes the address of their private feed of the
// professionals' podcast.
//
// Only the token's hash is stored, so its address can be shown once: in
// the answer to the POST that made it (the account page rendered directly,
// "no-store", never a redirect, so that the token is in no URL of
// portalo's own pages, no cookie and no log). Afterwards the page says
// when the address was made and offers to renew it.

import (
	"context"
	"net/http"
	"strconv"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/podcasts"
)

// ctxFreshFeedToken holds, for the page rendered right after it was made,
// the new private feed token.
const ctxFreshFeedToken = "portalo.podcastFeedToken"

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
	token, _ := c.Get(ctxFreshFeedToken)
	if tok, ok := token.(string); ok && tok != "" {
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
// the old, which stops working at once) and shows its address once.
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
	c.Set(ctxFreshFeedToken, token)
	pg := p.s.newPage(c, "AccountTitle")
	pg.Flash = pg.L.T("PodcastFeedCreated")
	if had {
		pg.Flash = pg.L.T("PodcastFeedRenewed")
	}
	p.s.renderAccount(c, http.StatusOK, pg)
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
