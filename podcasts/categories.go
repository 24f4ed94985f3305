package podcasts

import (
	"slices"
	"strings"
)

// Category is one of Apple Podcasts' top-level categories with its
// subcategories (which may be none), as listed at
// https://podcasters.apple.com/support/1691-apple-podcasts-categories.
// The names are the exact text of itunes:category and are not translated.
type Category struct {
	Name          string
	Subcategories []string
}

// appleCategories is Apple's list in Apple's order. It is never modified;
// AppleCategories hands out copies.
var appleCategories = []Category{
	{"Arts", []string{"Books", "Design", "Fashion & Beauty", "Food", "Performing Arts", "Visual Arts"}},
	{"Business", []string{"Careers", "Entrepreneurship", "Investing", "Management", "Marketing", "Non-Profit"}},
	{"Comedy", []string{"Comedy Interviews", "Improv", "Stand-Up"}},
	{"Education", []string{"Courses", "How To", "Language Learning", "Self-Improvement"}},
	{"Fiction", []string{"Comedy Fiction", "Drama", "Science Fiction"}},
	{"Government", nil},
	{"History", nil},
	{"Health & Fitness", []string{"Alternative Health", "Fitness", "Medicine", "Mental Health", "Nutrition", "Sexuality"}},
	{"Kids & Family", []string{"Education for Kids", "Parenting", "Pets & Animals", "Stories for Kids"}},
	{"Leisure", []string{"Animation & Manga", "Automotive", "Aviation", "Crafts", "Games", "Hobbies", "Home & Garden", "Video Games"}},
	{"Music", []string{"Music Commentary", "Music History", "Music Interviews"}},
	{"News", []string{"Business News", "Daily News", "Entertainment News", "News Commentary", "Politics", "Sports News", "Tech News"}},
	{"Religion & Spirituality", []string{"Buddhism", "Christianity", "Hinduism", "Islam", "Judaism", "Religion", "Spirituality"}},
	{"Science", []string{"Astronomy", "Chemistry", "Earth Sciences", "Life Sciences", "Mathematics", "Natural Sciences", "Nature", "Physics", "Social Sciences"}},
	{"Society & Culture", []string{"Documentary", "Personal Journals", "Philosophy", "Places & Travel", "Relationships"}},
	{"Sports", []string{"Baseball", "Basketball", "Cricket", "Fantasy Sports", "Football", "Golf", "Hockey", "Rugby", "Running", "Soccer", "Swimming", "Tennis", "Volleyball", "Wilderness", "Wrestling"}},
	{"Technology", nil},
	{"True Crime", nil},
	{"TV & Film", []string{"After Shows", "Film History", "Film Interviews", "Film Reviews", "TV Reviews"}},
}

// AppleCategories returns Apple's podcast categories in Apple's order (a
// copy the caller may change).
func AppleCategories() []Category {
	out := make([]Category, len(appleCategories))
	for i, c := range appleCategories {
		out[i] = Category{Name: c.Name, Subcategories: slices.Clone(c.Subcategories)}
	}
	return out
}

// ValidCategory reports whether cat is a top-level category of Apple's list
// and sub is empty or one of its subcategories.
func ValidCategory(cat, sub string) bool {
	i := slices.IndexFunc(appleCategories, func(c Category) bool { return c.Name == cat })
	return i >= 0 && (sub == "" || slices.Contains(appleCategories[i].Subcategories, sub))
}

// CategoryChoice is one option of a category <select>: a top-level
// category alone (Subcategory empty) or with one of its subcategories.
type CategoryChoice struct {
	Category, Subcategory string
}

// categorySep joins a choice's parts in its form value; no category name
// contains it.
const categorySep = " > "

// Value is the choice as one form value ("Health & Fitness > Mental Health",
// or "Government"); ParseCategoryValue reverses it.
func (c CategoryChoice) Value() string {
	if c.Subcategory == "" {
		return c.Category
	}
	return c.Category + categorySep + c.Subcategory
}

// CategoryChoices lists every valid choice in the order of a <select>:
// each top-level category followed by its subcategories.
func CategoryChoices() []CategoryChoice {
	var out []CategoryChoice
	for _, c := range appleCategories {
		out = append(out, CategoryChoice{Category: c.Name})
		for _, s := range c.Subcategories {
			out = append(out, CategoryChoice{Category: c.Name, Subcategory: s})
		}
	}
	return out
}

// ParseCategoryValue splits a CategoryChoice.Value and reports whether it
// names a valid choice.
func ParseCategoryValue(v string) (cat, sub string, ok bool) {
	cat, sub, found := strings.Cut(v, categorySep)
	if found && sub == "" || !ValidCategory(cat, sub) {
		return "", "", false
	}
	return cat, sub, true
}
