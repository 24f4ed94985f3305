package web

// The multipliers' area (/multipliers): its home page, the materials
// (documents of the mediathek for professionals, with search and filters),
// the professionals' podcast page and, in courses.go, the training
// courses. Approved multipliers, editors and admins may enter; a trainer
// who is none of these sees only the rosters of their own courses.
// Everyone else gets a page that says whom the area is for and how to ask
// for access, never its content.

import (
	"context"
	"errors"
	"fmt"
	"html/template"
	"io/fs"
	"net/http"
	"net/url"
	"path"
	"strconv"
	"strings"

	"github.com/gin-gonic/gin"

	"portalo/accounts"
	"portalo/catalog"
	"portalo/courses"
	"portalo/podcasts"
	"portalo/web/i18n"
	"portalo/workshops"
)

// Courses is what the web layer needs of the training courses
// (courses.Service).
type Courses interface {
	Create(ctx context.Context, m courses.CourseMeta) (courses.Course, error)
	Update(ctx context.Context, id string, m courses.CourseMeta) (courses.Course, error)
	Get(ctx context.Context, id string) (courses.Course, error)
	List(ctx context.Context, opt courses.ListOptions) ([]courses.Course, error)
	Cancel(ctx context.Context, id string) (courses.Course, error)
	Delete(ctx context.Context, id string) error
	SignUp(ctx context.Context, courseID, accountID string) (courses.Place, error)
	CancelSignUp(ctx context.Context, courseID, accountID string) (string, error)
	PlaceOf(ctx context.Context, courseID, accountID string) (courses.Place, error)
	Roster(ctx context.Context, courseID string) (courses.Roster, error)
}

// materialsPageSize is how many documents a page of materials lists.
const materialsPageSize = 20

// multiplierTemplates are the area's pages (templates/multipliers*.html and
// templates/course*.html), each parsed with the layout.
var multiplierTemplates = []string{"templates/multipliers*.html", "templates/course*.html"}

// multiplierParts holds the pieces the area's pages share.
const multiplierParts = "templates/multipliers_parts.html"

// multiplierRoutes registers the area; Config.Courses must be set.
func (s *Server) multiplierRoutes(e *gin.Engine) error {
	for _, pattern := range multiplierTemplates {
		names, err := fs.Glob(templateFiles, pattern)
		if err != nil {
			return fmt.Errorf("web: finding the multipliers' templates: %w", err)
		}
		for _, name := range names {
			if name == multiplierParts {
				continue
			}
			t, err := template.ParseFS(templateFiles, "templates/layout.html", multiplierParts, name)
			if err != nil {
				return fmt.Errorf("web: parsing template %s: %w", name, err)
			}
			s.pages[strings.TrimSuffix(path.Base(name), ".html")] = t
		}
	}

	g := e.Group("/multipliers")
	area := g.Group("", s.requireArea)
	area.GET("", s.multipliersHome)
	area.GET("/materials", s.multipliersMaterials)
	area.GET("/podcast", s.multipliersPodcast)
	area.GET("/courses", s.courseList)
	area.GET("/courses/:id", s.courseDetail)
	area.GET("/courses/:id/course.ics", s.courseICS)
	area.POST("/courses/:id/signup", s.courseSignUp)
	area.POST("/courses/:id/cancel", s.courseCancelSignUp)

	// The roster: the course's trainer (who need not be a multiplier),
	// editors and admins.
	g.GET("/courses/:id/roster", s.courseRoster)
	g.GET("/courses/:id/roster.csv", s.courseRosterCSV)

	ed := area.Group("", s.requireCourseEditor)
	ed.GET("/courses/new", s.courseNewPage)
	ed.POST("/courses/new", s.courseCreate)
	ed.GET("/courses/:id/edit", s.courseEditPage)
	ed.POST("/courses/:id/edit", s.courseSave)
	ed.POST("/courses/:id/cancel-course", s.courseCancelCourse)
	ed.GET("/courses/:id/delete", s.courseDeletePage)
	ed.POST("/courses/:id/delete", s.courseDelete)
	return nil
}

// inArea reports whether a may enter the multipliers' area: approved
// multipliers, editors and admins.
func inArea(a *accounts.Account) bool {
	return a != nil && (a.Has(accounts.RoleMultiplier) || a.Has(accounts.RoleEditor) || a.Has(accounts.RoleAdmin))
}

// canEditCourses: editors and admins plan the courses.
func canEditCourses(a *accounts.Account) bool {
	return a != nil && (a.Has(accounts.RoleEditor) || a.Has(accounts.RoleAdmin))
}

// refusalData is the page for those who may not enter the area.
type refusalData struct {
	// State is "anonymous", "pending" (asked, not yet approved) or
	// "participant" (may ask).
	State string
	Login string
}

// refuse answers with the page that says the area is for registered
// multipliers and how to get access (403), and stops the request.
func (s *Server) refuse(c *gin.Context) {
	a := account(c)
	d := refusalData{State: "participant"}
	switch {
	case a == nil:
		d.State = "anonymous"
		next := c.Request.URL.Path
		if c.Request.Method != http.MethodGet {
			next = "/multipliers"
		}
		d.Login = "/login?next=" + url.QueryEscape(next)
	case a.MultiplierRequested:
		d.State = "pending"
	}
	p := s.newPage(c, "MultipliersRefusedTitle")
	p.Data = d
	s.render(c, http.StatusForbidden, "multipliers_refused", p)
	c.Abort()
}

func (s *Server) requireArea(c *gin.Context) {
	if !inArea(account(c)) {
		s.refuse(c)
		return
	}
	c.Next()
}

func (s *Server) requireCourseEditor(c *gin.Context) {
	if !canEditCourses(account(c)) {
		s.fail(c, http.StatusForbidden, "forbidden", "ErrForbidden")
		return
	}
	c.Next()
}

// The home page.

type multipliersHomeData struct {
	Materials, Podcast, CanEdit bool
}

func (s *Server) multipliersHome(c *gin.Context) {
	p := s.newPage(c, "MultipliersTitle")
	p.Data = multipliersHomeData{Materials: s.cfg.Mediathek != nil, Podcast: s.cfg.Podcasts != nil, CanEdit: canEditCourses(account(c))}
	s.render(c, http.StatusOK, "multipliers", p)
}

// The materials.

// materialsFilter is what the materials page is asked for.
type materialsFilter struct {
	Q, Category, Topic, Language string
	Page                         int
}

func (f materialsFilter) url(page int) string {
	v := url.Values{}
	for k, x := range map[string]string{"q": f.Q, "category": f.Category, "topic": f.Topic, "language": f.Language} {
		if x != "" {
			v.Set(k, x)
		}
	}
	if page > 1 {
		v.Set("page", strconv.Itoa(page))
	}
	if q := v.Encode(); q != "" {
		return "/multipliers/materials?" + q
	}
	return "/multipliers/materials"
}

// document is one document on the materials page.
type document struct {
	ID                  string
	Title, Description  textIn
	Category, Topic     string
	Version             string
	Updated, UpdatedISO string
	// Files are the downloads, one per language version.
	Files []documentFile
	// Edit is the editor's link (editors only).
	Edit string
}

type documentFile struct {
	URL, Type, Size string
	Lang            string
	LangName        string
}

type materialsData struct {
	Filter                    materialsFilter
	Categories, Topics, Langs []option
	Documents                 []document
	Total, Page, Pages        int
	Prev, Next                string
	Searched, Failed, CanEdit bool
	MaxQuery                  int
	Available                 bool
}

// documentFiles returns the files a viewer downloads of a document: per
// complete language version its downloads, else its uploaded source.
func documentFiles(l *i18n.Localizer, it catalog.Item) []documentFile {
	var out []documentFile
	for _, lang := range catalog.Languages {
		v, ok := it.Versions[lang]
		if !ok || !v.Complete() {
			continue
		}
		var fs []catalog.File
		for _, f := range v.Files {
			if f.Role == catalog.RoleDownload {
				fs = append(fs, f)
			}
		}
		if len(fs) == 0 {
			for _, f := range v.Files {
				if f.Role == catalog.RoleSource {
					fs = append(fs, f)
				}
			}
		}
		for _, f := range fs {
			df := documentFile{URL: mediaURL(it, f.Key) + "?download=1", Size: sizeText(l, f.Size), Lang: lang, LangName: langName(lang)}
			df.Type = strings.ToUpper(strings.TrimPrefix(path.Ext(f.Key), "."))
			out = append(out, df)
		}
	}
	return out
}

func (s *Server) multipliersMaterials(c *gin.Context) {
	l := localizer(c)
	a := account(c)
	p := s.newPage(c, "MultipliersMaterialsTitle")
	f := materialsFilter{Q: c.Query("q"), Category: c.Query("category"), Topic: c.Query("topic"), Language: c.Query("language"), Page: 1}
	d := materialsData{CanEdit: canEditMedia(a), MaxQuery: catalog.MaxQueryLen, Available: s.cfg.Mediathek != nil}
	status := http.StatusOK
	var problemID string
	if len(f.Q) > 4*catalog.MaxQueryLen+4 {
		f.Q = f.Q[:4*catalog.MaxQueryLen+4]
	}
	switch {
	case len(f.Category) > 64 || f.Category != "" && !catalog.ValidDocumentCategory(catalog.DocumentCategory(f.Category)):
		f.Category, problemID = "", "MultipliersFilterInvalid"
	case len(f.Topic) > 64 || f.Topic != "" && !catalog.ValidTopic(catalog.Topic(f.Topic)):
		f.Topic, problemID = "", "MultipliersFilterInvalid"
	case len(f.Language) > 64 || f.Language != "" && !catalog.ValidLanguage(f.Language):
		f.Language, problemID = "", "MultipliersFilterInvalid"
	}
	if pg := c.Query("page"); pg != "" && problemID == "" {
		n, err := strconv.Atoi(pg)
		if err != nil || n < 1 || n > maxMediaPage {
			problemID = "MultipliersPageInvalid"
		} else {
			f.Page = n
		}
	}
	d.Filter = f
	d.Searched = strings.TrimSpace(f.Q) != "" || f.Category != "" || f.Topic != "" || f.Language != ""
	var res catalog.Result
	if problemID == "" && d.Available {
		var err error
		res, err = s.cfg.Mediathek.Search(f.Q, catalog.Query{
			Kind: catalog.KindDocument, Category: catalog.DocumentCategory(f.Category), Topic: catalog.Topic(f.Topic),
			Language: f.Language, Status: catalog.StatusPublished, Viewer: mediaViewer(a),
			Page: f.Page, PageSize: materialsPageSize,
		})
		if err != nil {
			var ie *catalog.InputError
			if !errors.As(err, &ie) {
				s.failWith(c, err)
				return
			}
			problemID = "MultipliersFilterInvalid"
			if ie.Field == "q" {
				problemID = "MultipliersQueryInvalid"
			}
		}
	}
	if problemID != "" {
		status = http.StatusBadRequest
		pr := problem{Code: "bad_request", Message: l.T(problemID, "Max", catalog.MaxQueryLen)}
		if problemID == "MultipliersQueryInvalid" {
			pr.Field = "q"
		}
		p.addProblem(pr)
		d.Failed = true
	}
	d.Categories = []option{{Value: "", Label: l.T("MultipliersFilterAll")}}
	for _, cat := range catalog.DocumentCategories {
		d.Categories = append(d.Categories, option{Value: string(cat), Label: label(l, categoryLabels, cat), Selected: string(cat) == f.Category})
	}
	d.Topics = []option{{Value: "", Label: l.T("MultipliersFilterAll")}}
	for _, t := range catalog.Topics {
		d.Topics = append(d.Topics, option{Value: string(t), Label: label(l, mediaTopicLabels, t), Selected: string(t) == f.Topic})
	}
	d.Langs = []option{{Value: "", Label: l.T("MultipliersFilterAll")}}
	for _, lg := range i18n.Languages {
		d.Langs = append(d.Langs, option{Value: lg.Code, Label: lg.Name, Lang: lg.Code, Selected: lg.Code == f.Language})
	}
	if !d.Failed {
		for _, it := range res.Items {
			doc := document{ID: it.ID, Title: titleText(l, it), Topic: label(l, mediaTopicLabels, it.Topic), Version: it.DocVersion}
			if it.Category != "" {
				doc.Category = label(l, categoryLabels, it.Category)
			}
			desc, lang := it.DescriptionIn(l.Lang.Code)
			doc.Description = pickText(l, desc, lang)
			doc.Updated, doc.UpdatedISO = dateText(l, it.Updated.In(workshops.Berlin)), it.Updated.In(workshops.Berlin).Format("2006-01-02")
			doc.Files = documentFiles(l, it)
			if d.CanEdit {
				doc.Edit = "/manage/mediathek/" + it.ID
			}
			d.Documents = append(d.Documents, doc)
		}
		d.Total, d.Page, d.Pages = res.Total, res.Page, res.Pages()
		if d.Page > 1 {
			d.Prev = f.url(min(d.Page-1, d.Pages))
		}
		if d.Page < d.Pages {
			d.Next = f.url(d.Page + 1)
		}
	}
	p.Data = d
	s.render(c, status, "multipliers_materials", p)
}

// The professionals' podcast page.

type podcastLink struct {
	Title, Description textIn
	URL                string
}

type multipliersPodcastData struct {
	Series    []podcastLink
	Available bool
}

func (s *Server) multipliersPodcast(c *gin.Context) {
	l := localizer(c)
	d := multipliersPodcastData{Available: s.cfg.Podcasts != nil}
	if d.Available {
		all, err := s.cfg.Podcasts.ListSeries(c.Request.Context())
		if err != nil {
			s.failWith(c, err)
			return
		}
		for _, sr := range all {
			if sr.Audience != podcasts.AudienceMultipliers {
				continue
			}
			t, tl := sr.TitleIn(l.Lang.Code)
			desc, dl := sr.DescriptionIn(l.Lang.Code)
			d.Series = append(d.Series, podcastLink{Title: pickText(l, t, tl), Description: pickText(l, shorten(desc, 240), dl), URL: "/podcasts/" + url.PathEscape(sr.Slug)})
		}
	}
	p := s.newPage(c, "MultipliersPodcastTitle")
	p.Data = d
	s.render(c, http.StatusOK, "multipliers_podcast", p)
}
