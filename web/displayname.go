package web

import (
	"crypto/rand"
	"math/big"
)

// displayNameWords are the building blocks of random pseudonyms, per
// language: friendly adjectives and animals or plants. Within a language all
// nouns share one grammatical gender (masculine in German, Russian and
// Arabic), so every adjective agrees with every noun. Arabic puts the
// adjective after the noun.
var displayNameWords = map[string]struct {
	adjectives, nouns []string
	nounFirst         bool
}{
	"de": {
		adjectives: []string{"Fröhlicher", "Ruhiger", "Mutiger", "Freundlicher", "Heiterer", "Sanfter", "Munterer", "Kluger", "Flinker", "Gelassener", "Fleißiger", "Neugieriger", "Tapferer", "Sonniger", "Froher", "Geduldiger", "Achtsamer", "Wacher", "Herzlicher", "Lustiger", "Entspannter", "Gemütlicher"},
		nouns:      []string{"Fuchs", "Bär", "Igel", "Dachs", "Hase", "Luchs", "Biber", "Otter", "Adler", "Falke", "Rabe", "Spatz", "Delfin", "Pinguin", "Tiger", "Elefant", "Hirsch", "Wal", "Ahorn", "Kaktus", "Lavendel", "Löwenzahn", "Mohn", "Wolf", "Uhu"},
	},
	"en": {
		adjectives: []string{"Cheerful", "Calm", "Brave", "Friendly", "Gentle", "Lively", "Clever", "Swift", "Relaxed", "Curious", "Kind", "Sunny", "Happy", "Patient", "Mindful", "Bright", "Cosy", "Merry", "Quiet", "Bold", "Jolly"},
		nouns:      []string{"Fox", "Bear", "Hedgehog", "Badger", "Hare", "Lynx", "Beaver", "Otter", "Eagle", "Falcon", "Raven", "Sparrow", "Dolphin", "Penguin", "Tiger", "Elephant", "Deer", "Whale", "Maple", "Cactus", "Lavender", "Sunflower", "Oak", "Wolf", "Owl"},
	},
	"tr": {
		adjectives: []string{"Neşeli", "Sakin", "Cesur", "Nazik", "Canlı", "Akıllı", "Çevik", "Rahat", "Meraklı", "İyi Kalpli", "Güneşli", "Mutlu", "Sabırlı", "Dikkatli", "Parlak", "Sevimli", "Şen", "Sessiz", "Cömert", "Hızlı", "Tatlı"},
		nouns:      []string{"Tilki", "Ayı", "Kirpi", "Porsuk", "Tavşan", "Vaşak", "Kunduz", "Kartal", "Şahin", "Karga", "Serçe", "Yunus", "Penguen", "Kaplan", "Fil", "Geyik", "Balina", "Akçaağaç", "Kaktüs", "Lavanta", "Ayçiçeği", "Meşe", "Papatya", "Lale", "Baykuş"},
	},
	"ru": {
		adjectives: []string{"Весёлый", "Спокойный", "Смелый", "Дружелюбный", "Добрый", "Ласковый", "Бодрый", "Умный", "Быстрый", "Мудрый", "Любопытный", "Солнечный", "Счастливый", "Терпеливый", "Внимательный", "Ясный", "Тихий", "Храбрый", "Милый", "Шустрый", "Радостный"},
		nouns:      []string{"Лис", "Медведь", "Ёж", "Барсук", "Заяц", "Бобр", "Орёл", "Сокол", "Ворон", "Воробей", "Дельфин", "Пингвин", "Тигр", "Слон", "Олень", "Кит", "Клён", "Кактус", "Подсолнух", "Дуб", "Лев", "Волк", "Енот", "Филин", "Журавль"},
	},
	"ar": {
		adjectives: []string{"مرح", "هادئ", "شجاع", "لطيف", "ودود", "نشيط", "ذكي", "سريع", "مبتسم", "فضولي", "سعيد", "صبور", "حكيم", "مشرق", "كريم", "وديع", "حنون", "رشيق", "ظريف", "مسرور", "متفائل"},
		nouns:      []string{"ثعلب", "دب", "قنفذ", "أرنب", "نسر", "صقر", "غراب", "عصفور", "دلفين", "بطريق", "نمر", "فيل", "غزال", "حوت", "أسد", "ذئب", "طاووس", "هدهد", "قندس", "سنجاب", "فهد", "حصان", "صبّار", "ياسمين", "ريحان"},
		nounFirst:  true,
	},
}

// randomDisplayName returns a random friendly pseudonym in the language
// lang (German for a language without a word list), such as "Fröhlicher
// Fuchs", "Cheerful Fox" or "ثعلب مرح": a suggestion for the name others
// see in a live workshop, never linked to the account. It draws from
// crypto/rand and is at most 40 runes long.
func randomDisplayName(lang string) string {
	w, ok := displayNameWords[lang]
	if !ok {
		w = displayNameWords["de"]
	}
	adj, noun := pick(w.adjectives), pick(w.nouns)
	if w.nounFirst {
		return noun + " " + adj
	}
	return adj + " " + noun
}

// pick returns a uniformly random element of words.
func pick(words []string) string {
	n, err := rand.Int(rand.Reader, big.NewInt(int64(len(words))))
	if err != nil { // crypto/rand does not fail on supported platforms
		return words[0]
	}
	return words[n.Int64()]
}
