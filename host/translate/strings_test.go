package translate

import "testing"

func TestStringFunctions(t *testing.T) {
	run(t, []evalCase{
		// normalize_space
		{expr: `normalize_space("  Acme \t Corp\n\nLtd  ")`, want: `"Acme Corp Ltd"`},
		{expr: "normalize_space(\"a\u00a0\u00a0b\u2003c\u200bd\")", want: `"a b cd"`},
		{expr: `normalize_space("")`, want: `""`},
		{expr: `normalize_space(record.Description)`, want: `null`},

		// ascii_fold
		{expr: `ascii_fold("Müller Straße")`, want: `"Muller Strasse"`},
		{expr: `ascii_fold("Crème brûlée, Æsir, Øresund, Łódź")`, want: `"Creme brulee, AEsir, Oresund, Lodz"`},
		{expr: `ascii_fold("São Paulo – “Centro”")`, want: `"Sao Paulo - \"Centro\""`},
		{expr: `ascii_fold("ＡＢＣ１２３ ﬁle")`, want: `"ABC123 file"`},
		{expr: `ascii_fold("Αθήνα Москва 東京")`, want: `"Αθήνα Москва 東京"`},
		{expr: `ascii_fold("plain")`, want: `"plain"`},
		{expr: `ascii_fold(record.Description)`, want: `null`},

		// digits_only
		{expr: `digits_only("+1 (415) 555-0100")`, want: `"14155550100"`},
		{expr: `digits_only("DE 123.456.789")`, want: `"123456789"`},
		{expr: `digits_only("０３-１２３４")`, want: `"031234"`},
		{expr: `digits_only("none")`, want: `""`},
		{expr: `digits_only(12345)`, want: `"12345"`},

		// truncate
		{expr: `truncate("Acme Corporation", 4)`, want: `"Acme"`},
		{expr: `truncate("short", 80)`, want: `"short"`},
		{expr: `truncate("Zürich", 2)`, want: `"Zü"`},
		{expr: `truncate("日本語テキスト", 3)`, want: `"日本語"`},
		{name: "combining mark kept with its letter", expr: "truncate(\"abq\u0303d\", 3)", want: `"ab"`},
		{name: "flag not split", expr: `truncate("ok🇩🇪", 3)`, want: `"ok"`},
		{name: "flag whole", expr: `truncate("ok🇩🇪", 4)`, want: `"ok🇩🇪"`},
		{expr: `truncate("abc", 0)`, want: `""`},
		{expr: `truncate(record.Description, 10)`, want: `null`},
		{expr: `truncate("abc", -1)`, wantErr: []string{`"n" parameter`, "between 0 and"}},
		{expr: `truncate("abc", 1.5)`, wantErr: []string{"whole number"}},
	})
}

func TestTruncateRuneSafe(t *testing.T) {
	for _, s := range []string{"héllo wörld", "👩‍👩‍👧 family", "a\u0301\u0302b", "日本"} {
		for n := 0; n <= len(s); n++ {
			got := Truncate(s, n)
			if len([]rune(got)) > n {
				t.Errorf("Truncate(%q, %d) = %q: too long", s, n, got)
			}
			if s[:len(got)] != got {
				t.Errorf("Truncate(%q, %d) = %q: not a prefix", s, n, got)
			}
		}
	}
}
