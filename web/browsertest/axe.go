package browsertest

import (
	"context"
	_ "embed"
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
)

// AxeVersion is the version of axe-core in axe.min.js.
//
// axe.min.js is the unmodified file of the npm package axe-core (MPL-2.0, its
// licence header stays in the file). Nothing is fetched at run time. To update:
//
//	npm view axe-core version                 # the latest version, X
//	cd "$(mktemp -d)" && npm pack axe-core@X && tar xzf axe-core-X.tgz
//	cp package/axe.min.js <repo>/web/browsertest/axe.min.js
//
// then set AxeVersion to X (TestAxeVersion checks that they match) and run
// the tests: a new version can bring new rules that portalo's pages fail.
const AxeVersion = "4.14.1"

//go:embed axe.min.js
var axeSource string

// A11yTags are the axe-core rule tags that [CheckA11y] runs: WCAG 2.0, 2.1
// and 2.2 at levels A and AA, and axe's best practices.
//
// The best practices are not WCAG conformance requirements, but they are kept:
// portalo's pages are complete documents that we write ourselves, and rules
// such as one main landmark, content inside landmarks, a level-one heading,
// heading order and unique landmark names are what screen-reader users rely
// on to find their way, and cheap to keep from the start. A page that has a
// good reason to break one should say so in its test (filter the result of
// [A11yViolations]) rather than dropping the tag for every page.
var A11yTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "wcag22aa", "best-practice"}

// Violation is an axe-core rule that a page breaks.
type Violation struct {
	ID      string          `json:"id"`     // rule id, e.g. "image-alt"
	Impact  string          `json:"impact"` // minor, moderate, serious or critical
	Help    string          `json:"help"`
	HelpURL string          `json:"helpUrl"`
	Nodes   []ViolationNode `json:"nodes"`
}

// ViolationNode is an element that breaks a rule.
type ViolationNode struct {
	// Target holds the CSS selectors of the element; an element inside an
	// iframe or a shadow root has several, joined with " >>> ".
	Target         []string `json:"target"`
	HTML           string   `json:"html"`
	FailureSummary string   `json:"failureSummary"`
}

// axeRun runs axe on the document and keeps the parts of the violations that
// a report needs. Frames are not tested: axe would wait for an answer from
// each frame, and would get none without axe injected into them.
const axeRun = `axe.run(document, {
	runOnly: {type: "tag", values: %s},
	resultTypes: ["violations"],
	iframes: false,
}).then(r => r.violations.map(v => ({
	id: v.id,
	impact: v.impact || "",
	help: v.help,
	helpUrl: v.helpUrl,
	nodes: v.nodes.map(n => ({
		target: n.target.map(s => Array.isArray(s) ? s.join(" >>> ") : String(s)),
		html: n.html,
		failureSummary: n.failureSummary || "",
	})),
})))`

// A11yViolations runs axe-core with [A11yTags] on the page that the tab of ctx
// shows and returns the violations. It injects axe into the page unless it is
// there already. Most tests want [CheckA11y].
func A11yViolations(ctx context.Context) ([]Violation, error) {
	present, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === "object" && typeof window.axe.run === "function"`))
	if err != nil {
		return nil, fmt.Errorf("looking for axe in the page: %w", err)
	}
	if !present {
		// Return nothing by value from the evaluation of the library.
		if err := chromedp.Do(ctx, chromedp.Evaluate[chromedp.Void](axeSource+"\n;void 0")); err != nil {
			return nil, fmt.Errorf("injecting axe-core into the page: %w", err)
		}
	}
	tags, err := json.Marshal(A11yTags)
	if err != nil {
		return nil, err
	}
	v, err := chromedp.Run(ctx, chromedp.Evaluate[[]Violation](fmt.Sprintf(axeRun, tags), chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("running axe-core: %w", err)
	}
	return v, nil
}

// CheckA11y checks the page that the tab of ctx shows with axe-core (rules of
// [A11yTags]) and fails the test on any violation, with a report of each one.
// pageName names the page in the report.
func CheckA11y(t *testing.T, ctx context.Context, pageName string) {
	t.Helper()
	v, err := A11yViolations(ctx)
	if err != nil {
		t.Fatalf("a11y check of page %q: %v", pageName, err)
	}
	if len(v) > 0 {
		t.Errorf("%s", FormatViolations(pageName, v))
	}
}

// FormatViolations describes the violations of a page, one rule after the
// other, with the elements that break it.
func FormatViolations(pageName string, violations []Violation) string {
	var b strings.Builder
	fmt.Fprintf(&b, "a11y: page %q breaks %d axe-core rule(s) (axe %s, tags %s):",
		pageName, len(violations), AxeVersion, strings.Join(A11yTags, ","))
	for _, v := range violations {
		impact := v.Impact
		if impact == "" {
			impact = "n/a"
		}
		fmt.Fprintf(&b, "\n\n  %s [%s]: %s\n    %s", v.ID, impact, v.Help, v.HelpURL)
		for _, n := range v.Nodes {
			fmt.Fprintf(&b, "\n    - %s", strings.Join(n.Target, ", "))
			if html := oneLine(n.HTML, 160); html != "" {
				fmt.Fprintf(&b, "\n        %s", html)
			}
			for line := range strings.SplitSeq(strings.TrimSpace(n.FailureSummary), "\n") {
				if line = strings.TrimSpace(line); line != "" {
					fmt.Fprintf(&b, "\n        %s", line)
				}
			}
		}
	}
	return b.String()
}

// oneLine squeezes s onto one line of at most max characters.
func oneLine(s string, max int) string {
	s = strings.Join(strings.Fields(s), " ")
	if r := []rune(s); len(r) > max {
		s = string(r[:max]) + "…"
	}
	return s
}
