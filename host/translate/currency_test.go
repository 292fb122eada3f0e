package translate

import "testing"

func TestCurrency(t *testing.T) {
	run(t, []evalCase{
		{expr: `currency("EUR")`, want: `{"code":"EUR","minor_units":2,"name":"Euro","numeric":"978"}`},
		{expr: `currency(" usd ")`, want: `{"code":"USD","minor_units":2,"name":"US Dollar","numeric":"840"}`},
		{expr: `currency("JPY").minor_units`, want: `0`},
		{expr: `currency("KWD").minor_units`, want: `3`},
		{expr: `currency("CLF").minor_units`, want: `4`},
		{expr: `currency("XAU").minor_units`, want: `null`},
		{expr: `currency("978").code`, want: `"EUR"`},
		{expr: `currency(36).code`, want: `"AUD"`},
		{expr: `currency("008").code`, want: `"ALL"`},
		{name: "money with the currency's places", expr: `format_decimal(1234.5, currency("JPY").minor_units)`, want: `"1235"`},
		{expr: `currency("XXY")`, wantErr: []string{`unknown currency "XXY"`}},
		{expr: `currency("EURO")`, wantErr: []string{`unknown currency "EURO"`}},
		{expr: `currency("HRK")`, wantErr: []string{`currency "HRK" was withdrawn from ISO 4217 (replaced by EUR)`}},
		{expr: `currency("")`, wantErr: []string{`no currency given`}},
		{expr: `currency(null)`, wantErr: []string{`no currency given (null)`}},
		{expr: `currency("1000")`, wantErr: []string{`unknown currency "1000"`}},
	})
}

func TestCurrencyTable(t *testing.T) {
	if n := len(currencies); n < 170 {
		t.Errorf("only %d currencies", n)
	}
	for _, c := range currencies {
		for _, in := range []string{c.Code, c.Numeric} {
			if got, err := LookupCurrency(in); err != nil || got != c {
				t.Errorf("LookupCurrency(%q) = %+v, %v", in, got, err)
			}
		}
		if c.MinorUnits < noMinorUnits || c.MinorUnits > 4 {
			t.Errorf("%s has %d minor units", c.Code, c.MinorUnits)
		}
	}
	for old, next := range withdrawnCurrencies {
		if _, ok := currencyByCode[old]; ok {
			t.Errorf("%s is both active and withdrawn", old)
		}
		if _, ok := currencyByCode[next]; !ok {
			t.Errorf("%s is replaced by unknown %s", old, next)
		}
	}
}
