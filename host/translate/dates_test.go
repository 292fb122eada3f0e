package translate

import (
	"testing"
	"time"
)

func TestDateFunctions(t *testing.T) {
	run(t, []evalCase{
		// to_sap_date
		{expr: `to_sap_date("2026-11-27")`, want: `"/Date(1795737600000)/"`},
		{expr: `to_sap_date(record.EffectiveDate)`, want: `"/Date(1795737600000)/"`},
		{expr: `to_sap_date("2026-11-27T08:00:01.123Z")`, want: `"/Date(1795766401123)/"`},
		{expr: `to_sap_date("2026-11-27T08:00:01.1239Z")`, want: `"/Date(1795766401123)/"`},
		{expr: `to_sap_date("/Date(1795737600000+0000)/")`, want: `"/Date(1795737600000)/"`},
		{expr: `to_sap_date("1969-12-31")`, want: `"/Date(-86400000)/"`},
		{expr: `to_sap_date("11/27/2026", "M/D/YYYY")`, want: `"/Date(1795737600000)/"`},

		// to_rfc3339
		{expr: `to_rfc3339("/Date(1795737600000)/")`, want: `"2026-11-27T00:00:00Z"`},
		{expr: `to_rfc3339("\\/Date(1795766401123)\\/")`, want: `"2026-11-27T08:00:01.123Z"`},
		{expr: `to_rfc3339("/Date(-86400000)/")`, want: `"1969-12-31T00:00:00Z"`},
		{expr: `to_rfc3339(record.ActivatedDate)`, want: `"2026-11-27T08:00:01Z"`},
		{expr: `to_rfc3339("2026-11-27T09:00:01+01:00")`, want: `"2026-11-27T08:00:01Z"`},
		{expr: `to_rfc3339("2026-11-27T03:00:01-0500")`, want: `"2026-11-27T08:00:01Z"`},
		{expr: `to_rfc3339("2026-11-27 08:00Z")`, want: `"2026-11-27T08:00:00Z"`},
		{expr: `to_rfc3339("2026-11-27t08:00:01.123456789z")`, want: `"2026-11-27T08:00:01.123456789Z"`},
		{expr: `to_rfc3339("2026-11-27")`, want: `"2026-11-27T00:00:00Z"`},
		{expr: `to_rfc3339("11/27/2026 8:05 pm", "M/D/YYYY H:mm aa")`, want: `"2026-11-27T20:05:00Z"`},
		{expr: `to_rfc3339("27.11.2026 20:05:09", "DD.MM.YYYY hh:mm:ss")`, want: `"2026-11-27T20:05:09Z"`},
		{expr: `to_rfc3339("2026-11-27 20:05:09 +0100", "YYYY-MM-DD hh:mm:ss ZZZZ")`, want: `"2026-11-27T19:05:09Z"`},
		{expr: `to_rfc3339("2026-11-27T08:00:00", "YYYY-MM-DD'T'hh:mm:ss")`, want: `"2026-11-27T08:00:00Z"`},
		{expr: `to_rfc3339("2026-11-27 at 08:00", "YYYY-MM-DD 'at' hh:mm")`, wantErr: []string{"quoted text"}},

		// to_sf_datetime
		{expr: `to_sf_datetime("2026-11-27T08:00:01Z")`, want: `"2026-11-27T08:00:01.000+0000"`},
		{expr: `to_sf_datetime("2026-11-27T09:00:01.5+01:00")`, want: `"2026-11-27T08:00:01.500+0000"`},
		{expr: `to_sf_datetime("/Date(1795766401123)/")`, want: `"2026-11-27T08:00:01.123+0000"`},
		{expr: `to_sf_datetime("27-Nov-2026", "DD-MMM-YYYY")`, want: `"2026-11-27T00:00:00.000+0000"`},
		{expr: `to_sf_datetime("November 27, 2026", "MMMM D, YYYY")`, want: `"2026-11-27T00:00:00.000+0000"`},

		// to_iso_date
		{expr: `to_iso_date("11/27/2026", "M/D/YYYY")`, want: `"2026-11-27"`},
		{expr: `to_iso_date("1/5/2026", "M/D/YYYY")`, want: `"2026-01-05"`},
		{expr: `to_iso_date("05/01/2026", "DD/MM/YYYY")`, want: `"2026-01-05"`},
		{expr: `to_iso_date("20261127", "YYYYMMDD")`, want: `"2026-11-27"`},
		{expr: `to_iso_date("/Date(1795737600000)/")`, want: `"2026-11-27"`},
		{expr: `to_iso_date(record.ActivatedDate)`, want: `"2026-11-27"`},
		{expr: `to_iso_date("2026-11-27T00:30:00+01:00")`, want: `"2026-11-26"`},
		{expr: `to_iso_date(" 2026-11-27 ")`, want: `"2026-11-27"`},
		{expr: `to_iso_date(record.Description)`, want: `null`},
		{expr: `to_iso_date("2026-11-27", null)`, want: `"2026-11-27"`},

		// formatdate, HCL's own, writes what NetSuite shows
		{expr: `formatdate("M/D/YYYY", to_rfc3339("/Date(1795737600000)/"))`, want: `"11/27/2026"`},

		// errors
		{expr: `to_rfc3339("2026-11-27T08:00:01")`, wantErr: []string{`"2026-11-27T08:00:01" is not a date-time with a zone`}},
		{expr: `to_iso_date("2026-02-30")`, wantErr: []string{`"2026-02-30" is not a valid date`}},
		{expr: `to_iso_date("2026-13-01")`, wantErr: []string{`"2026-13-01" is not a valid date`}},
		{expr: `to_rfc3339("2026-11-27T24:00:00Z")`, wantErr: []string{`is not a valid date or time`}},
		{expr: `to_rfc3339("2026-11-27T08:00:00+25:00")`, wantErr: []string{`invalid zone offset`}},
		{expr: `to_iso_date("11/27/2026")`, wantErr: []string{`"11/27/2026" is not a date`, `"M/D/YYYY"`}},
		{expr: `to_iso_date("13/27/2026", "M/D/YYYY")`, wantErr: []string{`"13/27/2026" does not match the layout "M/D/YYYY"`}},
		{expr: `to_iso_date("11/27/26", "M/D/YY")`, wantErr: []string{`two-digit year`}},
		{expr: `to_iso_date("11/27", "M/D")`, wantErr: []string{`needs a year`}},
		{expr: `to_iso_date("2026-11-27", "YYYY-MM-DD Q")`, wantErr: []string{`unknown element "Q"`}},
		{expr: `to_iso_date("2026_11_27", "YYYY_MM_DD")`, wantErr: []string{`unexpected "_"`}},
		{expr: `to_sap_date("/Date(999999999999999)/")`, wantErr: []string{`out of range`}},
		{expr: `to_sap_date("0001-01-01T00:00:00+01:00")`, wantErr: []string{`out of range`}},
		{expr: `to_sap_date("tomorrow")`, wantErr: []string{`"tomorrow" is not a date`}},
		{expr: `to_sap_date("2026-11-27", "M/D/YYYY", "x")`, wantErr: []string{`at most two arguments`}},

		// SAP times
		{expr: `to_sap_time("08:30")`, want: `"PT08H30M00S"`},
		{expr: `to_sap_time("8:30:05")`, want: `"PT08H30M05S"`},
		{expr: `to_sap_time("23:59:59.250")`, want: `"PT23H59M59.25S"`},
		{expr: `to_sap_time("2026-11-27T08:00:01Z")`, want: `"PT08H00M01S"`},
		{expr: `to_sap_time("PT8H5M")`, want: `"PT08H05M00S"`},
		{expr: `from_sap_time("PT08H30M00S")`, want: `"08:30:00"`},
		{expr: `from_sap_time("PT8H")`, want: `"08:00:00"`},
		{expr: `from_sap_time("PT45S")`, want: `"00:00:45"`},
		{expr: `from_sap_time("PT23H59M59.500S")`, want: `"23:59:59.5"`},
		{expr: `from_sap_time(record.Description)`, want: `null`},
		{expr: `from_sap_time("PT24H")`, wantErr: []string{`"PT24H" is not a time of day`}},
		{expr: `from_sap_time("PT")`, wantErr: []string{`"PT" is not an SAP time`}},
		{expr: `from_sap_time("08:30")`, wantErr: []string{`"08:30" is not an SAP time`}},
		{expr: `to_sap_time("24:00")`, wantErr: []string{`"24:00" is not a time of day`}},
		{expr: `to_sap_time("2026-11-27")`, wantErr: []string{`"2026-11-27" is not a time of day`}},
	})
}

// TestDateRoundTrips converts between the formats and back.
func TestDateRoundTrips(t *testing.T) {
	for _, in := range []string{
		"2026-11-27T08:00:01.123Z", "1970-01-01T00:00:00Z", "1969-07-20T20:17:40Z",
		"0001-01-01T00:00:00Z", "9999-12-31T23:59:59.999Z", "2024-02-29T12:00:00Z",
	} {
		tm, _, err := ParseTime(in, "")
		if err != nil {
			t.Fatal(err)
		}
		for _, out := range []string{FormatRFC3339(tm), FormatSFDatetime(tm), FormatSAPDate(tm)} {
			back, _, err := ParseTime(out, "")
			if err != nil {
				t.Fatalf("%s → %s: %v", in, out, err)
			}
			if !back.Equal(tm) {
				t.Errorf("%s → %s → %s", in, out, back)
			}
		}
		if got := FormatRFC3339(tm); got != in {
			t.Errorf("FormatRFC3339(%s) = %s", in, got)
		}
	}
	d, dateOnly, err := ParseTime("2026-11-27", "")
	if err != nil || !dateOnly || !d.Equal(time.Date(2026, 11, 27, 0, 0, 0, 0, time.UTC)) {
		t.Errorf("ParseTime(date) = %v, %v, %v", d, dateOnly, err)
	}
	if _, dateOnly, _ := ParseTime("11/27/2026 8:00", "M/D/YYYY h:mm"); dateOnly {
		t.Error("a layout with hours reads a date")
	}
}

func TestParseLayout(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"M/D/YYYY", "1/2/2006"},
		{"DD.MM.YYYY", "02.01.2006"},
		{"YYYYMMDD", "20060102"},
		{"YYYY-MM-DD'T'hh:mm:ssZ", "2006-01-02T15:04:05Z07:00"},
		{"EEE, DD MMM YYYY hh:mm:ss ZZZZ", "Mon, 02 Jan 2006 15:04:05 -0700"},
		{"M/D/YYYY H:mm AA", "1/2/2006 3:04 PM"},
	} {
		got, _, err := ParseLayout(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseLayout(%q) = %q, %v; want %q", tc.in, got, err, tc.want)
		}
	}
}
