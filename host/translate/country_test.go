package translate

import (
	"strconv"
	"testing"
)

func TestISOCountry(t *testing.T) {
	us := `{"alpha2":"US","alpha3":"USA","name":"United States","numeric":"840"}`
	gb := `{"alpha2":"GB","alpha3":"GBR","name":"United Kingdom","numeric":"826"}`
	run(t, []evalCase{
		{name: "USA", expr: `iso_country("USA")`, want: us},
		{name: "US", expr: `iso_country("US")`, want: us},
		{name: "us lower", expr: `iso_country("us")`, want: us},
		{name: "U.S.", expr: `iso_country("U.S.")`, want: us},
		{name: "U.S.A.", expr: `iso_country("U.S.A.")`, want: us},
		{name: "spaced u.s.a.", expr: `iso_country(" u.s.a. ")`, want: us},
		{name: "record field", expr: `iso_country(record.ShippingCountry)`, want: us},
		{name: "United States of America", expr: `iso_country("United States of America")`, want: us},
		{name: "UNITED STATES", expr: `iso_country("UNITED  STATES")`, want: us},
		{name: "numeric string", expr: `iso_country("840")`, want: us},
		{name: "numeric number", expr: `iso_country(840)`, want: us},
		{name: "US-840 form", expr: `format("%s-%s", iso_country("USA").alpha2, iso_country("USA").numeric)`, want: `"US-840"`},
		{name: "Deutschland", expr: `iso_country("Deutschland").alpha2`, want: `"DE"`},
		{name: "DEU", expr: `iso_country("deu").alpha2`, want: `"DE"`},
		{name: "UK", expr: `iso_country("UK")`, want: gb},
		{name: "U.K.", expr: `iso_country("U.K.")`, want: gb},
		{name: "Great Britain", expr: `iso_country("Great Britain")`, want: gb},
		{name: "England", expr: `iso_country("England").alpha2`, want: `"GB"`},
		{name: "Holland", expr: `iso_country("Holland").alpha2`, want: `"NL"`},
		{name: "The Netherlands", expr: `iso_country("The Netherlands").alpha2`, want: `"NL"`},
		{name: "South Korea", expr: `iso_country("South Korea").alpha2`, want: `"KR"`},
		{name: "Korea, Republic of", expr: `iso_country("Korea, Republic of").alpha2`, want: `"KR"`},
		{name: "Republic of Korea", expr: `iso_country("Republic of Korea").alpha2`, want: `"KR"`},
		{name: "North Korea", expr: `iso_country("North Korea").alpha2`, want: `"KP"`},
		{name: "Czechia", expr: `iso_country("Czechia").alpha2`, want: `"CZ"`},
		{name: "Czech Republic", expr: `iso_country("Czech Republic").alpha2`, want: `"CZ"`},
		{name: "Türkiye", expr: `iso_country("Türkiye").alpha2`, want: `"TR"`},
		{name: "Turkiye", expr: `iso_country("turkiye").alpha2`, want: `"TR"`},
		{name: "Turkey", expr: `iso_country("Turkey").alpha2`, want: `"TR"`},
		{name: "Ivory Coast", expr: `iso_country("Ivory Coast").alpha2`, want: `"CI"`},
		{name: "Côte d’Ivoire", expr: `iso_country("Côte d’Ivoire").alpha2`, want: `"CI"`},
		{name: "COTE DIVOIRE", expr: `iso_country("COTE DIVOIRE").name`, want: `"Côte d'Ivoire"`},
		{name: "St Kitts & Nevis", expr: `iso_country("St. Kitts & Nevis").alpha2`, want: `"KN"`},
		{name: "Saint Vincent", expr: `iso_country("Saint Vincent and Grenadines").alpha2`, want: `"VC"`},
		{name: "DR Congo", expr: `iso_country("Democratic Republic of the Congo").alpha2`, want: `"CD"`},
		{name: "Congo", expr: `iso_country("Congo").alpha2`, want: `"CG"`},
		{name: "British Virgin Islands", expr: `iso_country("British Virgin Islands").alpha2`, want: `"VG"`},
		{name: "Åland", expr: `iso_country("ALAND ISLANDS").alpha2`, want: `"AX"`},
		{name: "Australia leading zero", expr: `iso_country("036").alpha3`, want: `"AUS"`},
		{name: "Australia no zero", expr: `iso_country("36").alpha3`, want: `"AUS"`},
		{name: "Australia number", expr: `iso_country(36).numeric`, want: `"036"`},
		{name: "Australia extra zeros", expr: `iso_country("0036").alpha2`, want: `"AU"`},
		{name: "Brazil numeric", expr: `iso_country("076").alpha2`, want: `"BR"`},
		{name: "own spellings first", expr: `iso_country(lookup({ America = "US" }, "America", "America")).alpha2`, want: `"US"`},
		{name: "Atlantis", expr: `iso_country("Atlantis")`, wantErr: []string{`unknown country "Atlantis"`}},
		{name: "America", expr: `iso_country("America")`, wantErr: []string{`unknown country "America"`}},
		{name: "Korea alone", expr: `iso_country("Korea")`, wantErr: []string{`unknown country "Korea"`}},
		{name: "unknown numeric", expr: `iso_country("999")`, wantErr: []string{`unknown country "999"`}},
		{name: "unknown number", expr: `iso_country(1000)`, wantErr: []string{`unknown country 1000`}},
		{name: "fraction", expr: `iso_country(840.5)`, wantErr: []string{`unknown country 840.5`}},
		{name: "empty", expr: `iso_country("  ")`, wantErr: []string{"no country given"}},
		{name: "null", expr: `iso_country(null)`, wantErr: []string{"no country given (null)"}},
		{name: "bool", expr: `iso_country(true)`, wantErr: []string{"not bool"}},
		{name: "error has range", expr: `iso_country("Atlantis")`, wantErr: []string{`test.hcl:1,14`, `Invalid value for "value" parameter`}},
	})
}

// TestCountryTable checks the ISO table: 249 countries, unique codes, and
// every code and name finds its country.
func TestCountryTable(t *testing.T) {
	if len(countries) != 249 {
		t.Errorf("%d countries, want 249", len(countries))
	}
	for _, c := range countries {
		n, _ := strconv.Atoi(c.Numeric)
		for _, in := range []string{c.Alpha2, c.Alpha3, c.Numeric, strconv.Itoa(n), c.Name} {
			got, err := LookupCountry(in)
			if err != nil || got != c {
				t.Errorf("LookupCountry(%q) = %+v, %v; want %s", in, got, err, c.Alpha2)
			}
		}
	}
	for a2, aliases := range countryAliases {
		for _, a := range aliases {
			if got, err := LookupCountry(a); err != nil || got.Alpha2 != a2 {
				t.Errorf("LookupCountry(%q) = %+v, %v; want %s", a, got, err, a2)
			}
		}
	}
}

func TestCountryKey(t *testing.T) {
	for _, tc := range []struct{ in, want string }{
		{"U.S.A.", "usa"},
		{" u.s.a. ", "usa"},
		{"U. S. A.", "usa"},
		{"United-States", "unitedstates"},
		{"Côte d’Ivoire", "cotedivoire"},
		{"Bosnia & Herzegovina", "bosniaandherzegovina"},
		{"The Bahamas", "bahamas"},
		{"St. Lucia", "saintlucia"},
		{"DEUTSCHLAND", "deutschland"},
		{"Österreich", "osterreich"},
		{"", ""},
		{"...", ""},
	} {
		if got := countryKey(tc.in); got != tc.want {
			t.Errorf("countryKey(%q) = %q, want %q", tc.in, got, tc.want)
		}
	}
}
