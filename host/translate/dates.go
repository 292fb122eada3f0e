package translate

import (
	"fmt"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/zclconf/go-cty/cty"
	"github.com/zclconf/go-cty/cty/function"
)

// Output layouts of the date functions.
const (
	// SFDatetimeLayout is Salesforce's datetime: 2026-11-27T08:00:01.000+0000.
	SFDatetimeLayout = "2006-01-02T15:04:05.000-0700"
	// ISODateLayout is a calendar date: 2026-11-27 (Salesforce and NetSuite
	// dates).
	ISODateLayout = "2006-01-02"
)

// Bounds of the times the date functions accept: years 0001 to 9999.
var (
	minTime = time.Date(1, 1, 1, 0, 0, 0, 0, time.UTC)
	maxTime = time.Date(9999, 12, 31, 23, 59, 59, 999999999, time.UTC)
)

var (
	sapDateRE  = regexp.MustCompile(`^\\?/Date\((-?[0-9]{1,16})(?:[+-]([0-9]{4}))?\)\\?/$`)
	isoDateRE  = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})-([0-9]{2})$`)
	isoStampRE = regexp.MustCompile(`^([0-9]{4})-([0-9]{2})-([0-9]{2})[Tt ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?` +
		`(?:([Zz])|([+-])([0-9]{2})(?::?([0-9]{2}))?)$`)
	sapTimeRE = regexp.MustCompile(`^PT(?:([0-9]{1,2})H)?(?:([0-9]{1,2})M)?(?:([0-9]{1,2})(?:\.([0-9]{1,9}))?S)?$`)
	clockRE   = regexp.MustCompile(`^([0-9]{1,2}):([0-9]{2})(?::([0-9]{2})(?:[.,]([0-9]{1,9}))?)?$`)
)

// ParseTime reads a date or a date-time. Without a layout it accepts, and
// tells apart without guessing:
//
//   - a calendar date, 2026-11-27 (Salesforce, NetSuite REST), read as
//     midnight UTC;
//   - an RFC 3339 / ISO 8601 date-time with a zone: 2026-11-27T08:00:01Z,
//     2026-11-27T09:00:01+01:00, Salesforce's 2026-11-27T08:00:01.000+0000
//     (seconds and fractions optional, a space allowed for the T);
//   - SAP OData V2 /Date(1795737600000)/ and /Date(1795737600000+0000)/:
//     milliseconds since 1970 UTC (the offset does not change the instant).
//
// A date-time without a zone is refused: its instant is unknown. Other
// forms need a layout in formatdate's notation (see ParseLayout), such as
// "M/D/YYYY" for NetSuite's US dates; a layout without a zone reads UTC.
// dateOnly reports a value without a time of day.
func ParseTime(value, layout string) (t time.Time, dateOnly bool, err error) {
	s := strings.TrimSpace(value)
	if layout != "" {
		goLayout, hasTime, err := ParseLayout(layout)
		if err != nil {
			return time.Time{}, false, err
		}
		t, err := time.ParseInLocation(goLayout, s, time.UTC)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%s does not match the layout %s", quote(value), quote(layout))
		}
		return checkTime(value, t, !hasTime)
	}
	if m := sapDateRE.FindStringSubmatch(s); m != nil {
		ms, err := strconv.ParseInt(m[1], 10, 64)
		if err != nil {
			return time.Time{}, false, fmt.Errorf("%s is out of range", quote(value))
		}
		return checkTime(value, time.UnixMilli(ms).UTC(), false)
	}
	if m := isoDateRE.FindStringSubmatch(s); m != nil {
		t, err := civil(value, m[1], m[2], m[3], "0", "0", "0", "", time.UTC)
		if err != nil {
			return time.Time{}, false, err
		}
		return checkTime(value, t, true)
	}
	if m := isoStampRE.FindStringSubmatch(s); m != nil {
		loc := time.UTC
		if m[8] == "" {
			oh, _ := strconv.Atoi(m[10])
			om, _ := strconv.Atoi(m[11])
			if oh > 23 || om > 59 {
				return time.Time{}, false, fmt.Errorf("%s has an invalid zone offset", quote(value))
			}
			off := oh*3600 + om*60
			if m[9] == "-" {
				off = -off
			}
			loc = time.FixedZone("", off)
		}
		t, err := civil(value, m[1], m[2], m[3], m[4], m[5], m[6], m[7], loc)
		if err != nil {
			return time.Time{}, false, err
		}
		return checkTime(value, t, false)
	}
	if strings.Contains(s, "T") || strings.Contains(s, ":") {
		return time.Time{}, false, fmt.Errorf("%s is not a date-time with a zone: write it as RFC 3339 (2026-11-27T08:00:01Z), or give a layout", quote(value))
	}
	return time.Time{}, false, fmt.Errorf("%s is not a date: write it as YYYY-MM-DD, or give a layout such as \"M/D/YYYY\"", quote(value))
}

// civil builds a time from checked fields; an impossible date (February
// 30) or time (25:00) is an error.
func civil(value, y, mo, d, h, mi, s, frac string, loc *time.Location) (time.Time, error) {
	atoi := func(x string) int { n, _ := strconv.Atoi(x); return n }
	year, month, day := atoi(y), atoi(mo), atoi(d)
	hour, minute, sec := atoi(h), atoi(mi), atoi(s)
	ns := 0
	if frac != "" {
		ns = atoi((frac + "000000000")[:9])
	}
	if month < 1 || month > 12 || day < 1 || day > 31 || hour > 23 || minute > 59 || sec > 59 {
		return time.Time{}, fmt.Errorf("%s is not a valid date or time", quote(value))
	}
	t := time.Date(year, time.Month(month), day, hour, minute, sec, ns, loc)
	if t.Day() != day {
		return time.Time{}, fmt.Errorf("%s is not a valid date", quote(value))
	}
	return t, nil
}

func checkTime(value string, t time.Time, dateOnly bool) (time.Time, bool, error) {
	if u := t.UTC(); u.Before(minTime) || u.After(maxTime) {
		return time.Time{}, false, fmt.Errorf("%s is out of range (years 0001 to 9999)", quote(value))
	}
	return t, dateOnly, nil
}

// layoutTokens maps formatdate's layout elements to Go's.
var layoutTokens = map[string]string{
	"YYYY": "2006",
	"MMMM": "January", "MMM": "Jan", "MM": "01", "M": "1",
	"DD": "02", "D": "2",
	"EEEE": "Monday", "EEE": "Mon",
	"hh": "15", "h": "15", "HH": "03", "H": "3",
	"AA": "PM", "aa": "pm",
	"mm": "04", "m": "4",
	"ss": "05", "s": "5",
	"ZZZZZ": "-07:00", "ZZZZ": "-0700", "Z": "Z07:00",
}

// ParseLayout converts a layout in the notation of HCL's formatdate to a
// Go time layout: YYYY year; MMMM, MMM, MM, M month (name, abbreviation,
// two digits, one or two digits); DD, D day; EEEE, EEE weekday; hh, h hour
// 0–23; HH, H hour 1–12 with AA (AM/PM) or aa (am/pm); mm, m minute; ss, s
// second (a fraction may follow); Z (Z or ±hh:mm), ZZZZ (±hhmm), ZZZZZ
// (±hh:mm) zone; 'T' a quoted letter; spaces and punctuation as written.
// Two-digit years are refused: their century would be a guess. hasTime
// reports whether the layout has an hour.
func ParseLayout(layout string) (goLayout string, hasTime bool, err error) {
	var b strings.Builder
	var year, month, day bool
	for i := 0; i < len(layout); {
		c := layout[i]
		switch {
		case c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z':
			j := i
			for j < len(layout) && layout[j] == c {
				j++
			}
			tok := layout[i:j]
			g, ok := layoutTokens[tok]
			if !ok {
				if c == 'Y' {
					return "", false, fmt.Errorf("layout %s: write the year as YYYY (a two-digit year's century would be a guess)", quote(layout))
				}
				return "", false, fmt.Errorf("layout %s: unknown element %s", quote(layout), quote(tok))
			}
			switch c {
			case 'h', 'H':
				hasTime = true
			case 'Y':
				year = true
			case 'M':
				month = true
			case 'D':
				day = true
			}
			b.WriteString(g)
			i = j
		case c == '\'':
			j := strings.IndexByte(layout[i+1:], '\'')
			if j < 0 {
				return "", false, fmt.Errorf("layout %s: unterminated quote", quote(layout))
			}
			lit := layout[i+1 : i+1+j]
			if lit == "" {
				lit = "'"
			}
			for k := 0; k < len(lit); k++ {
				if !layoutLiteral(lit[k]) && lit[k] != 'T' {
					return "", false, fmt.Errorf("layout %s: quoted text may be only 'T' and punctuation", quote(layout))
				}
			}
			b.WriteString(lit)
			i += j + 2
		case layoutLiteral(c):
			b.WriteByte(c)
			i++
		default:
			return "", false, fmt.Errorf("layout %s: unexpected %s", quote(layout), quote(string(rune(c))))
		}
	}
	if !year || !month || !day {
		return "", false, fmt.Errorf("layout %s needs a year (YYYY), a month (M, MM, MMM or MMMM) and a day (D or DD)", quote(layout))
	}
	return b.String(), hasTime, nil
}

// layoutLiteral reports the characters a layout may hold as themselves.
func layoutLiteral(c byte) bool {
	return strings.IndexByte(" /-.,:;'()[]", c) >= 0
}

// FormatRFC3339 writes t as RFC 3339 in UTC, with a fraction only when the
// time has one: 2026-11-27T08:00:01Z.
func FormatRFC3339(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// FormatISODate writes the UTC date of t: 2026-11-27.
func FormatISODate(t time.Time) string { return t.UTC().Format(ISODateLayout) }

// FormatSFDatetime writes t as a Salesforce datetime in UTC, to the
// millisecond (finer digits are dropped): 2026-11-27T08:00:01.000+0000.
func FormatSFDatetime(t time.Time) string {
	return t.UTC().Truncate(time.Millisecond).Format(SFDatetimeLayout)
}

// FormatSAPDate writes t as an SAP OData V2 Edm.DateTime,
// /Date(1795737600000)/: milliseconds since 1970 UTC (finer digits are
// dropped). A date is its midnight UTC.
func FormatSAPDate(t time.Time) string {
	return "/Date(" + strconv.FormatInt(t.UnixMilli(), 10) + ")/"
}

// ParseSAPTime reads an SAP OData V2 Edm.Time, an ISO 8601 duration such
// as PT08H00M01S, and returns it as a clock time, 08:00:01 (with a
// fraction when it has one). It must be less than 24 hours.
func ParseSAPTime(value string) (string, error) {
	s := strings.TrimSpace(value)
	m := sapTimeRE.FindStringSubmatch(s)
	if m == nil || s == "PT" {
		return "", fmt.Errorf("%s is not an SAP time such as PT08H30M00S", quote(value))
	}
	return clock(value, m[1], m[2], m[3], m[4])
}

// FormatSAPTime writes a time of day as an SAP Edm.Time, PT08H00M01S. It
// accepts a clock time (8:00, 08:00:01, 08:00:01.5), an SAP time, or a
// date-time with a zone (its UTC time of day).
func FormatSAPTime(value string) (string, error) {
	s := strings.TrimSpace(value)
	var c string
	var err error
	if m := clockRE.FindStringSubmatch(s); m != nil {
		c, err = clock(value, m[1], m[2], m[3], m[4])
	} else if strings.HasPrefix(s, "PT") {
		c, err = ParseSAPTime(value)
	} else {
		t, dateOnly, perr := ParseTime(value, "")
		if perr != nil || dateOnly {
			return "", fmt.Errorf("%s is not a time of day such as 08:30:00", quote(value))
		}
		c = t.UTC().Format("15:04:05.999999999")
	}
	if err != nil {
		return "", err
	}
	h, rest, _ := strings.Cut(c, ":")
	mi, sec, _ := strings.Cut(rest, ":")
	return "PT" + h + "H" + mi + "M" + sec + "S", nil
}

// clock writes hours, minutes, seconds and a fraction as HH:MM:SS[.f].
func clock(value, h, m, s, frac string) (string, error) {
	atoi := func(x string) int { n, _ := strconv.Atoi(x); return n }
	hour, minute, sec := atoi(h), atoi(m), atoi(s)
	if hour > 23 || minute > 59 || sec > 59 {
		return "", fmt.Errorf("%s is not a time of day (00:00:00 to 23:59:59)", quote(value))
	}
	out := fmt.Sprintf("%02d:%02d:%02d", hour, minute, sec)
	if frac = strings.TrimRight(frac, "0"); frac != "" {
		out += "." + frac
	}
	return out, nil
}

// dateFunc makes a date conversion function: value and an optional layout,
// null in, null out.
func dateFunc(desc string, format func(time.Time) string) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      []function.Parameter{{Name: "value", Type: cty.String, AllowNull: true}},
		VarParam:    &function.Parameter{Name: "layout", Type: cty.String, AllowNull: true},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			layout := ""
			switch {
			case len(args) > 2:
				return cty.NilVal, function.NewArgErrorf(2, "takes at most two arguments: value and layout")
			case len(args) == 2 && !args[1].IsNull():
				layout = args[1].AsString()
			}
			if args[0].IsNull() {
				return cty.NullVal(cty.String), nil
			}
			t, _, err := ParseTime(args[0].AsString(), layout)
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			return cty.StringVal(format(t)), nil
		},
	})
}

var (
	toRFC3339Func = dateFunc("Converts a date or date-time to RFC 3339 in UTC, e.g. 2026-11-27T08:00:01Z.",
		FormatRFC3339)
	toISODateFunc = dateFunc("Converts a date or date-time to its UTC calendar date, e.g. 2026-11-27.",
		FormatISODate)
	toSFDatetimeFunc = dateFunc("Converts a date or date-time to a Salesforce datetime, e.g. 2026-11-27T08:00:01.000+0000.",
		FormatSFDatetime)
	toSAPDateFunc = dateFunc("Converts a date or date-time to an SAP OData V2 date, e.g. /Date(1795737600000)/.",
		FormatSAPDate)
)

// timeFunc makes a one-string time function, null in, null out.
func timeFunc(desc string, f func(string) (string, error)) function.Function {
	return function.New(&function.Spec{
		Description: desc,
		Params:      []function.Parameter{{Name: "value", Type: cty.String, AllowNull: true}},
		Type:        function.StaticReturnType(cty.String),
		Impl: func(args []cty.Value, _ cty.Type) (cty.Value, error) {
			if args[0].IsNull() {
				return cty.NullVal(cty.String), nil
			}
			s, err := f(args[0].AsString())
			if err != nil {
				return cty.NilVal, function.NewArgError(0, err)
			}
			return cty.StringVal(s), nil
		},
	})
}

var (
	toSAPTimeFunc   = timeFunc("Converts a time of day to an SAP time, e.g. PT08H30M00S.", FormatSAPTime)
	fromSAPTimeFunc = timeFunc("Converts an SAP time such as PT08H30M00S to a clock time, 08:30:00.", ParseSAPTime)
)
