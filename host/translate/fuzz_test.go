package translate

import (
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/cockroachdb/apd/v3"
	"github.com/zclconf/go-cty/cty"
)

// FuzzLookupCountry: never panics; a country found is found again by its
// codes and name, whatever the case and dots of the input.
func FuzzLookupCountry(f *testing.F) {
	for _, s := range []string{
		"USA", " u.s.a. ", "U.S.", "United States of America", "Deutschland", "UK", "U.K.",
		"Great Britain", "Holland", "South Korea", "Czechia", "Türkiye", "Ivory Coast",
		"Côte d’Ivoire", "St. Kitts & Nevis", "840", "036", "0036", "Atlantis", "", "...",
		"the", "St", "\u00a0DE\u00a0", "ÅLAND", "ﬁji", "korea, republic of",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		c, err := LookupCountry(s)
		if err != nil {
			if !strings.Contains(err.Error(), "country") {
				t.Errorf("LookupCountry(%q) error %q does not say country", s, err)
			}
			return
		}
		for _, again := range []string{c.Alpha2, c.Alpha3, c.Numeric, c.Name, strings.ToLower(c.Name)} {
			if got, err := LookupCountry(again); err != nil || got != c {
				t.Errorf("LookupCountry(%q) = %s but LookupCountry(%q) = %+v, %v", s, c.Alpha2, again, got, err)
			}
		}
		if isASCII(s) {
			for _, v := range []string{strings.ToUpper(s), strings.ToLower(s), strings.ReplaceAll(s, ".", ""), " " + s + " "} {
				if got, err := LookupCountry(v); err != nil || got != c {
					t.Errorf("LookupCountry(%q) = %s but LookupCountry(%q) = %+v, %v", s, c.Alpha2, v, got, err)
				}
			}
		}
	})
}

// FuzzParseDecimal: never panics; a decimal parsed survives the trip
// through text and through an HCL number; formatting rounds by at most half
// a place.
func FuzzParseDecimal(f *testing.F) {
	for _, s := range []string{
		"0", "-0.00", "0.1", "499.00", "12345678901234567.89", "1e3", "-1.5E-7", ".5", "5.",
		"1,234.56", "NaN", "Infinity", "1e999999", "00000000000000000000000000001", "+7",
		strings.Repeat("9", 101), "0." + strings.Repeat("0", 200) + "1", " 12 ", "1e-1000", "1e1000",
	} {
		f.Add(s)
	}
	half := apd.New(5, -3)
	f.Fuzz(func(t *testing.T, s string) {
		d, err := ParseDecimal(s)
		if err != nil {
			return
		}
		if d.NumDigits() > MaxDigits {
			t.Fatalf("ParseDecimal(%q) = %s: more than %d digits", s, d, MaxDigits)
		}
		back, err := ParseDecimal(d.String())
		if err != nil || back.Cmp(d) != 0 {
			t.Fatalf("ParseDecimal(%q) = %s, which reads back as %v, %v", s, d, back, err)
		}
		n, err := DecimalFromNumber(NumberFromDecimal(d).AsBigFloat())
		if err != nil || n.Cmp(d) != 0 {
			t.Fatalf("ParseDecimal(%q) = %s, which comes back from an HCL number as %v, %v", s, d, n, err)
		}
		// JSON numbers reach the functions as HCL numbers parsed from text.
		if v, err := cty.ParseNumberVal(strings.TrimSpace(s)); err == nil {
			if n, err := DecimalFromNumber(v.AsBigFloat()); err != nil || n.Cmp(d) != 0 {
				t.Fatalf("HCL number %q is %v, %v; ParseDecimal gives %s", s, n, err, d)
			}
		}
		text, err := FormatDecimal(d, 2, apd.RoundHalfEven)
		if err != nil {
			return // too many digits once written with 2 places
		}
		if i := strings.IndexByte(text, '.'); i < 0 || len(text)-i-1 != 2 || strings.ContainsAny(text, "eE") {
			t.Fatalf("FormatDecimal(%s, 2) = %q", d, text)
		}
		r, err := ParseDecimal(text)
		if err != nil {
			t.Fatalf("FormatDecimal(%s, 2) = %q does not parse: %v", d, text, err)
		}
		diff := new(apd.Decimal)
		if _, err := apd.BaseContext.Sub(diff, r, d); err != nil {
			t.Fatal(err)
		}
		if diff.Abs(diff).Cmp(half) > 0 {
			t.Fatalf("FormatDecimal(%s, 2) = %q: off by %s", d, text, diff)
		}
	})
}

// FuzzParseTime: never panics; a time read converts to every format and
// reads back as the same instant (to the millisecond for Salesforce and
// SAP).
func FuzzParseTime(f *testing.F) {
	for _, s := range []string{
		"2026-11-27", "2026-11-27T08:00:01.000+0000", "2026-11-27T08:00:01Z", "2026-11-27T09:00:01+01:00",
		"2026-11-27 08:00Z", "/Date(1795737600000)/", "/Date(1795737600000+0000)/", `\/Date(-86400000)\/`,
		"/Date(-62135596800000)/", "/Date(253402300799999)/", "2026-02-30", "2026-11-27T08:00:01",
		"9999-12-31T23:59:59.999999999Z", "0001-01-01T00:00:00+01:00", "2026-11-27t08:00:01.123456789z",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		tm, dateOnly, err := ParseTime(s, "")
		if err != nil {
			return
		}
		if u := tm.UTC(); u.Before(minTime) || u.After(maxTime) {
			t.Fatalf("ParseTime(%q) = %v: out of range", s, tm)
		}
		if dateOnly && (tm.Hour() != 0 || tm.Minute() != 0 || tm.Second() != 0 || tm.Nanosecond() != 0) {
			t.Fatalf("ParseTime(%q) = %v: a date with a time", s, tm)
		}
		ms := tm.UTC().Truncate(time.Millisecond)
		for _, tc := range []struct {
			out  string
			want time.Time
		}{
			{FormatRFC3339(tm), tm},
			{FormatSFDatetime(tm), ms},
			{FormatSAPDate(tm), ms},
			{FormatISODate(tm), time.Date(tm.UTC().Year(), tm.UTC().Month(), tm.UTC().Day(), 0, 0, 0, 0, time.UTC)},
		} {
			back, _, err := ParseTime(tc.out, "")
			if err != nil || !back.Equal(tc.want) {
				t.Fatalf("ParseTime(%q) = %v, written %q, reads back as %v, %v; want %v", s, tm, tc.out, back, err, tc.want)
			}
		}
	})
}

// FuzzParseTimeLayout: layouts and values never panic; a value read with a
// layout is within range.
func FuzzParseTimeLayout(f *testing.F) {
	for _, s := range [][2]string{
		{"11/27/2026", "M/D/YYYY"}, {"27.11.2026", "DD.MM.YYYY"}, {"20261127", "YYYYMMDD"},
		{"11/27/2026 8:05 pm", "M/D/YYYY H:mm aa"}, {"27-Nov-2026", "DD-MMM-YYYY"},
		{"2026-11-27T08:00:00", "YYYY-MM-DD'T'hh:mm:ss"}, {"11/27/26", "M/D/YY"}, {"x", "'"},
		{"2026-11-27 08:00 +0100", "YYYY-MM-DD hh:mm ZZZZ"}, {"Fri, 27 Nov 2026", "EEE, DD MMM YYYY"},
	} {
		f.Add(s[0], s[1])
	}
	f.Fuzz(func(t *testing.T, value, layout string) {
		tm, _, err := ParseTime(value, layout)
		if err != nil {
			return
		}
		if u := tm.UTC(); u.Before(minTime) || u.After(maxTime) {
			t.Fatalf("ParseTime(%q, %q) = %v: out of range", value, layout, tm)
		}
	})
}

// FuzzSAPTime: never panics; a time read writes and reads back the same.
func FuzzSAPTime(f *testing.F) {
	for _, s := range []string{"PT08H30M00S", "PT8H", "PT45S", "PT23H59M59.500S", "PT24H", "PT", "08:30", "8:30:05.25", "2026-11-27T08:00:01Z"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		if c, err := ParseSAPTime(s); err == nil {
			sap, err := FormatSAPTime(c)
			if err != nil {
				t.Fatalf("ParseSAPTime(%q) = %q, which FormatSAPTime refuses: %v", s, c, err)
			}
			if again, err := ParseSAPTime(sap); err != nil || again != c {
				t.Fatalf("%q → %q → %q → %q, %v", s, c, sap, again, err)
			}
		}
		if sap, err := FormatSAPTime(s); err == nil {
			if _, err := ParseSAPTime(sap); err != nil {
				t.Fatalf("FormatSAPTime(%q) = %q, which does not read back: %v", s, sap, err)
			}
		}
	})
}

// FuzzStrings: the string helpers never panic and keep their promises.
func FuzzStrings(f *testing.F) {
	for _, s := range []string{"  Acme \t Corp ", "Müller Straße", "ＡＢＣ１２３", "👩‍👩‍👧 family", "a\u0301\u0302b", "\xff\xfe", "q\u0303"} {
		f.Add(s, 3)
	}
	f.Fuzz(func(t *testing.T, s string, n int) {
		ns := NormalizeSpace(s)
		if NormalizeSpace(ns) != ns || strings.HasPrefix(ns, " ") || strings.HasSuffix(ns, " ") || strings.Contains(ns, "  ") {
			t.Fatalf("NormalizeSpace(%q) = %q", s, ns)
		}
		if af := ASCIIFold(s); utf8.ValidString(s) && !utf8.ValidString(af) {
			t.Fatalf("ASCIIFold(%q) = %q: invalid UTF-8", s, af)
		}
		for _, r := range DigitsOnly(s) {
			if r < '0' || r > '9' {
				t.Fatalf("DigitsOnly(%q) has %q", s, r)
			}
		}
		if n < 0 || n > 1000 {
			return
		}
		tr := Truncate(s, n)
		if !strings.HasPrefix(s, tr) || utf8.RuneCountInString(tr) > n {
			t.Fatalf("Truncate(%q, %d) = %q", s, n, tr)
		}
	})
}
