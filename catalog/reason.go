package catalog

import (
	"bytes"
	"encoding/json"
	"maps"
	"slices"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Reason is a machine-readable status detail: a stable code and its
// parameters, which the web layer turns into a sentence in the editor's
// language. The processing step sets one when an item fails (its codes and
// parameters are listed in package processing).
//
// In Item.StatusDetail a Reason is a JSON object of strings, the code under
// "reason" and each parameter under its name, keys sorted:
//
//	{"exit":"1","reason":"tool_failed","step":"encode","detail":"Invalid data found"}
//
// A detail that is not such an object (written before reasons existed, or
// by hand) is free text, shown as it is.
type Reason struct {
	// Code is a lowercase word of letters, digits and underscores.
	Code string
	// Params are named strings; names are words like Code's, other than
	// "reason".
	Params map[string]string
}

// reasonKey is the JSON key of the code.
const reasonKey = "reason"

// maxReasonCode bounds a code and a parameter name.
const maxReasonCode = 64

// validReasonWord reports whether s can be a code or a parameter name.
func validReasonWord(s string) bool {
	if s == "" || len(s) > maxReasonCode || s[0] < 'a' || s[0] > 'z' {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_') {
			return false
		}
	}
	return true
}

// Detail returns the reason as a status detail: at most
// MaxStatusDetailLen runes, so that SetStatus takes it. Control characters
// in values become spaces, empty values and invalid names are left out,
// and when it would be too long the longest values are shortened (ending
// in "…"). An invalid code gives "".
func (r Reason) Detail() string {
	if !validReasonWord(r.Code) {
		return ""
	}
	m := map[string]string{reasonKey: r.Code}
	for k, v := range r.Params {
		v = strings.TrimSpace(strings.Map(func(c rune) rune {
			if unicode.IsControl(c) || c == utf8.RuneError {
				return ' '
			}
			return c
		}, v))
		if k == reasonKey || !validReasonWord(k) || v == "" {
			continue
		}
		m[k] = v
	}
	for {
		s := encodeReason(m)
		n := utf8.RuneCountInString(s)
		if n <= MaxStatusDetailLen {
			return s
		}
		// Shorten the longest value by what is too much, scaled by how
		// much its escapes add (and a little more).
		var longest string
		for _, k := range slices.Sorted(maps.Keys(m)) {
			if k != reasonKey && utf8.RuneCountInString(m[k]) > utf8.RuneCountInString(m[longest]) {
				longest = k
			}
		}
		if longest == "" {
			return "" // only names: cannot be too long with valid names
		}
		runes := []rune(m[longest])
		encoded := utf8.RuneCountInString(encodeReason(map[string]string{"": m[longest]})) - 6 // {"":""}
		cut := (n-MaxStatusDetailLen)*len(runes)/max(encoded, 1) + 4
		keep := max(len(runes)-cut, 0)
		if keep == 0 {
			delete(m, longest)
			continue
		}
		m[longest] = strings.TrimSpace(string(runes[:keep])) + "…"
	}
}

func encodeReason(m map[string]string) string {
	var b bytes.Buffer
	enc := json.NewEncoder(&b)
	enc.SetEscapeHTML(false)
	if err := enc.Encode(m); err != nil {
		return "" // a map of strings always encodes
	}
	return strings.TrimSuffix(b.String(), "\n")
}

// ParseReason reads a status detail written by Reason.Detail; ok is false
// for free text.
func ParseReason(detail string) (Reason, bool) {
	detail = strings.TrimSpace(detail)
	if !strings.HasPrefix(detail, "{") || !strings.HasSuffix(detail, "}") {
		return Reason{}, false
	}
	var m map[string]string
	if err := json.Unmarshal([]byte(detail), &m); err != nil {
		return Reason{}, false
	}
	code := m[reasonKey]
	if !validReasonWord(code) {
		return Reason{}, false
	}
	r := Reason{Code: code}
	for k, v := range m {
		if k == reasonKey || !validReasonWord(k) {
			continue
		}
		if r.Params == nil {
			r.Params = map[string]string{}
		}
		r.Params[k] = v
	}
	return r, true
}
