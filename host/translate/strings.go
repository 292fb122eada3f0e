package translate

import (
	"strings"
	"unicode"
	"unicode/utf8"

	"github.com/apparentlymart/go-textseg/v17/textseg"
	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
	"golang.org/x/text/unicode/norm"
)

// NormalizeSpace trims s and replaces every run of white space (any Unicode
// space, tab or line break, including no-break spaces) by one ASCII space.
// Zero-width spaces and byte order marks are removed.
func NormalizeSpace(s string) string {
	var b strings.Builder
	b.Grow(len(s))
	pending := false
	for _, r := range s {
		switch {
		case r == '\u200b' || r == '\ufeff':
			continue
		case unicode.IsSpace(r):
			pending = b.Len() > 0
			continue
		}
		if pending {
			b.WriteByte(' ')
			pending = false
		}
		b.WriteRune(r)
	}
	return b.String()
}

// asciiSpecial folds letters and punctuation that have no ASCII
// decomposition.
var asciiSpecial = map[rune]string{
	'ß': "ss", 'ẞ': "SS", 'æ': "ae", 'Æ': "AE", 'œ': "oe", 'Œ': "OE",
	'ø': "o", 'Ø': "O", 'ł': "l", 'Ł': "L", 'đ': "d", 'Đ': "D",
	'ð': "d", 'Ð': "D", 'þ': "th", 'Þ': "TH", 'ı': "i", 'ħ': "h",
	'Ħ': "H", 'ŧ': "t", 'Ŧ': "T", 'ſ': "s", 'ŀ': "l", 'Ŀ': "L",
	'‘': "'", '’': "'", '‚': "'", '‛': "'", '′': "'", 'ʼ': "'",
	'“': `"`, '”': `"`, '„': `"`, '‟': `"`, '″': `"`,
	'‐': "-", '‑': "-", '‒': "-", '–': "-", '—': "-", '―': "-", '−': "-",
	'…': "...",
}

// ASCIIFold replaces accented Latin letters by their base letters ("é" →
// "e", "Ø" → "O", "ß" → "ss"), compatibility forms by their ASCII letters
// (full-width "Ａ" → "A", the ligature "ﬁ" → "fi"), typographic quotes and
// dashes by ASCII ones and Unicode spaces by an ASCII space. Characters with
// no ASCII form (Greek, Cyrillic, CJK…) are kept as they are.
func ASCIIFold(s string) string {
	if isASCII(s) {
		return s
	}
	s = norm.NFC.String(s)
	var b strings.Builder
	b.Grow(len(s))
	folded := false // the last rune written was ASCII: marks after it go
	for _, r := range s {
		if r < utf8.RuneSelf {
			b.WriteRune(r)
			folded = true
			continue
		}
		if unicode.Is(unicode.Mn, r) {
			if !folded {
				b.WriteRune(r)
			}
			continue
		}
		if unicode.IsSpace(r) {
			b.WriteByte(' ')
			folded = true
			continue
		}
		if f, ok := asciiSpecial[r]; ok {
			b.WriteString(f)
			folded = true
			continue
		}
		if f, ok := foldRune(r); ok {
			b.WriteString(f)
			folded = true
			continue
		}
		b.WriteRune(r)
		folded = false
	}
	return b.String()
}

// foldRune returns the compatibility decomposition of r without its
// combining marks, when that is non-empty ASCII.
func foldRune(r rune) (string, bool) {
	d := norm.NFKD.String(string(r))
	var b strings.Builder
	for _, c := range d {
		switch {
		case unicode.Is(unicode.Mn, c):
		case c < utf8.RuneSelf:
			b.WriteRune(c)
		default:
			return "", false
		}
	}
	return b.String(), b.Len() > 0
}

func isASCII(s string) bool {
	for i := 0; i < len(s); i++ {
		if s[i] >= utf8.RuneSelf {
			return false
		}
	}
	return true
}

// DigitsOnly keeps the decimal digits of s: ASCII digits, and full-width
// digits written as ASCII ones.
func DigitsOnly(s string) string {
	var b strings.Builder
	for _, r := range s {
		switch {
		case r >= '0' && r <= '9':
			b.WriteRune(r)
		case r >= '０' && r <= '９':
			b.WriteRune('0' + r - '０')
		}
	}
	return b.String()
}

// Truncate returns the longest prefix of s of at most n characters (Unicode
// code points) that does not split a grapheme cluster: an accent is never
// separated from its letter, nor an emoji sequence cut in half.
func Truncate(s string, n int) string {
	if n <= 0 {
		return ""
	}
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	end, count := 0, 0
	rest := []byte(s)
	for len(rest) > 0 {
		adv, cluster, err := textseg.ScanGraphemeClusters(rest, true)
		if err != nil || adv <= 0 {
			break
		}
		c := utf8.RuneCount(cluster)
		if count+c > n {
			break
		}
		count += c
		end += adv
		rest = rest[adv:]
	}
	return s[:end]
}

// stringFunc makes a one-string function that maps null to null.
func stringFunc(desc string, f func(string) string) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      []function.Parameter{{Name: "value", Type: cty.String, AllowNull: true}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if args[0].IsNull() {
				return cty.NullVal(cty.String), nil
			}
			return cty.StringVal(f(args[0].AsString())), nil
		},
	})
}

var normalizeSpaceFunc = stringFunc(
	"Trims a string and replaces each run of white space by one space.", NormalizeSpace)

var asciiFoldFunc = stringFunc(
	"Replaces accented letters by their base letters and typographic punctuation by ASCII.", ASCIIFold)

var digitsOnlyFunc = stringFunc("Keeps only the digits of a string.", DigitsOnly)

var truncateFunc = function.New(&function.Spec{
	Description: "Returns at most n characters of a string, without splitting a character and its accents.",
	Params: []function.Parameter{
		{Name: "value", Type: cty.String, AllowNull: true},
		{Name: "n", Type: cty.Number},
	},
	Type: function.StaticReturnType(cty.String),
	Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
		n, err := intArg(args[1], 0, 1<<30)
		if err != nil {
			return cty.NilVal, function.NewArgError(1, err)
		}
		if args[0].IsNull() {
			return cty.NullVal(cty.String), nil
		}
		return cty.StringVal(Truncate(args[0].AsString(), n)), nil
	},
})
