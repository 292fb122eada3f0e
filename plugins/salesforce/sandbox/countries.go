package sandbox

import (
	"strings"
	"sync"
)

// isoCountries is ISO 3166-1: alpha-2 code and English short name, the
// default integration values of the State and Country picklists.
const isoCountries = `AD Andorra|AE United Arab Emirates|AF Afghanistan|AG Antigua and Barbuda|AI Anguilla|AL Albania|AM Armenia|AO Angola|AQ Antarctica|AR Argentina|AS American Samoa|AT Austria|AU Australia|AW Aruba|AX Åland Islands|AZ Azerbaijan|BA Bosnia and Herzegovina|BB Barbados|BD Bangladesh|BE Belgium|BF Burkina Faso|BG Bulgaria|BH Bahrain|BI Burundi|BJ Benin|BL Saint Barthélemy|BM Bermuda|BN Brunei Darussalam|BO Bolivia|BQ Bonaire, Sint Eustatius and Saba|BR Brazil|BS Bahamas|BT Bhutan|BV Bouvet Island|BW Botswana|BY Belarus|BZ Belize|CA Canada|CC Cocos (Keeling) Islands|CD Congo, the Democratic Republic of the|CF Central African Republic|CG Congo|CH Switzerland|CI Cote d'Ivoire|CK Cook Islands|CL Chile|CM Cameroon|CN China|CO Colombia|CR Costa Rica|CU Cuba|CV Cape Verde|CW Curaçao|CX Christmas Island|CY Cyprus|CZ Czechia|DE Germany|DJ Djibouti|DK Denmark|DM Dominica|DO Dominican Republic|DZ Algeria|EC Ecuador|EE Estonia|EG Egypt|EH Western Sahara|ER Eritrea|ES Spain|ET Ethiopia|FI Finland|FJ Fiji|FK Falkland Islands (Malvinas)|FM Micronesia|FO Faroe Islands|FR France|GA Gabon|GB United Kingdom|GD Grenada|GE Georgia|GF French Guiana|GG Guernsey|GH Ghana|GI Gibraltar|GL Greenland|GM Gambia|GN Guinea|GP Guadeloupe|GQ Equatorial Guinea|GR Greece|GS South Georgia and the South Sandwich Islands|GT Guatemala|GU Guam|GW Guinea-Bissau|GY Guyana|HK Hong Kong|HM Heard Island and McDonald Islands|HN Honduras|HR Croatia|HT Haiti|HU Hungary|ID Indonesia|IE Ireland|IL Israel|IM Isle of Man|IN India|IO British Indian Ocean Territory|IQ Iraq|IR Iran|IS Iceland|IT Italy|JE Jersey|JM Jamaica|JO Jordan|JP Japan|KE Kenya|KG Kyrgyzstan|KH Cambodia|KI Kiribati|KM Comoros|KN Saint Kitts and Nevis|KP Korea, Democratic People's Republic of|KR Korea, Republic of|KW Kuwait|KY Cayman Islands|KZ Kazakhstan|LA Lao People's Democratic Republic|LB Lebanon|LC Saint Lucia|LI Liechtenstein|LK Sri Lanka|LR Liberia|LS Lesotho|LT Lithuania|LU Luxembourg|LV Latvia|LY Libya|MA Morocco|MC Monaco|MD Moldova, Republic of|ME Montenegro|MF Saint Martin (French part)|MG Madagascar|MH Marshall Islands|MK North Macedonia|ML Mali|MM Myanmar|MN Mongolia|MO Macao|MP Northern Mariana Islands|MQ Martinique|MR Mauritania|MS Montserrat|MT Malta|MU Mauritius|MV Maldives|MW Malawi|MX Mexico|MY Malaysia|MZ Mozambique|NA Namibia|NC New Caledonia|NE Niger|NF Norfolk Island|NG Nigeria|NI Nicaragua|NL Netherlands|NO Norway|NP Nepal|NR Nauru|NU Niue|NZ New Zealand|OM Oman|PA Panama|PE Peru|PF French Polynesia|PG Papua New Guinea|PH Philippines|PK Pakistan|PL Poland|PM Saint Pierre and Miquelon|PN Pitcairn|PR Puerto Rico|PS Palestine|PT Portugal|PW Palau|PY Paraguay|QA Qatar|RE Reunion|RO Romania|RS Serbia|RU Russian Federation|RW Rwanda|SA Saudi Arabia|SB Solomon Islands|SC Seychelles|SD Sudan|SE Sweden|SG Singapore|SH Saint Helena, Ascension and Tristan da Cunha|SI Slovenia|SJ Svalbard and Jan Mayen|SK Slovakia|SL Sierra Leone|SM San Marino|SN Senegal|SO Somalia|SR Suriname|SS South Sudan|ST Sao Tome and Principe|SV El Salvador|SX Sint Maarten (Dutch part)|SY Syrian Arab Republic|SZ Eswatini|TC Turks and Caicos Islands|TD Chad|TF French Southern Territories|TG Togo|TH Thailand|TJ Tajikistan|TK Tokelau|TL Timor-Leste|TM Turkmenistan|TN Tunisia|TO Tonga|TR Türkiye|TT Trinidad and Tobago|TV Tuvalu|TW Taiwan|TZ Tanzania|UA Ukraine|UG Uganda|UM United States Minor Outlying Islands|US United States|UY Uruguay|UZ Uzbekistan|VA Holy See (Vatican City State)|VC Saint Vincent and the Grenadines|VE Venezuela|VG Virgin Islands, British|VI Virgin Islands, U.S.|VN Vietnam|VU Vanuatu|WF Wallis and Futuna|WS Samoa|YE Yemen|YT Mayotte|ZA South Africa|ZM Zambia|ZW Zimbabwe`

// countryAliases are the ways people write countries in free-text address
// fields. The sandbox uses them only for data that bypasses the picklists
// (seeded, as if imported before picklists were enabled), to fill in the
// code; API writes must use a code or an integration value.
var countryAliases = map[string]string{
	"usa": "US", "u.s.": "US", "u.s.a.": "US", "us": "US", "united states of america": "US", "america": "US",
	"uk": "GB", "u.k.": "GB", "great britain": "GB", "england": "GB", "britain": "GB",
	"deutschland": "DE", "germany": "DE", "brd": "DE",
	"france": "FR", "españa": "ES", "espana": "ES", "nederland": "NL", "holland": "NL", "the netherlands": "NL",
	"österreich": "AT", "schweiz": "CH", "suisse": "CH", "italia": "IT", "méxico": "MX", "brasil": "BR",
	"nippon": "JP", "prc": "CN", "canada": "CA",
}

// usStates are the State picklist of the United States.
const usStates = `AL Alabama|AK Alaska|AZ Arizona|AR Arkansas|CA California|CO Colorado|CT Connecticut|DE Delaware|DC District of Columbia|FL Florida|GA Georgia|HI Hawaii|ID Idaho|IL Illinois|IN Indiana|IA Iowa|KS Kansas|KY Kentucky|LA Louisiana|ME Maine|MD Maryland|MA Massachusetts|MI Michigan|MN Minnesota|MS Mississippi|MO Missouri|MT Montana|NE Nebraska|NV Nevada|NH New Hampshire|NJ New Jersey|NM New Mexico|NY New York|NC North Carolina|ND North Dakota|OH Ohio|OK Oklahoma|OR Oregon|PA Pennsylvania|RI Rhode Island|SC South Carolina|SD South Dakota|TN Tennessee|TX Texas|UT Utah|VT Vermont|VA Virginia|WA Washington|WV West Virginia|WI Wisconsin|WY Wyoming`

type codeTable struct {
	name   map[string]string // code → name
	byName map[string]string // lower-case name → code
}

func parseTable(s string) codeTable {
	t := codeTable{name: map[string]string{}, byName: map[string]string{}}
	for _, e := range strings.Split(s, "|") {
		code, name, _ := strings.Cut(e, " ")
		t.name[code] = name
		t.byName[strings.ToLower(name)] = code
	}
	return t
}

var (
	tablesOnce sync.Once
	countries  codeTable
	states     codeTable
)

func loadTables() {
	tablesOnce.Do(func() {
		countries = parseTable(isoCountries)
		states = parseTable(usStates)
	})
}

// countryPicklist is an org's Country picklist: codes with integration
// values, which admins may change (e.g. US → "USA").
type countryPicklist struct {
	value  map[string]string // code → integration value
	byName map[string]string // lower-case integration value → code
}

func newCountryPicklist(overrides map[string]string) *countryPicklist {
	loadTables()
	p := &countryPicklist{value: map[string]string{}, byName: map[string]string{}}
	for code, name := range countries.name {
		if v, ok := overrides[code]; ok {
			name = v
		}
		p.value[code] = name
		p.byName[strings.ToLower(name)] = code
	}
	return p
}

// codeOf returns the code for an integration value (or, lenient, for any
// usual spelling) of a country.
func (p *countryPicklist) codeOf(name string, lenient bool) (string, bool) {
	key := strings.ToLower(strings.TrimSpace(name))
	if c, ok := p.byName[key]; ok {
		return c, true
	}
	if !lenient {
		return "", false
	}
	if c, ok := countryAliases[key]; ok {
		return c, true
	}
	if c, ok := countries.byName[key]; ok {
		return c, true
	}
	if up := strings.ToUpper(key); len(up) == 2 && p.value[up] != "" {
		return up, true
	}
	return "", false
}

// stateCode and stateName map US states.
func stateCode(country, name string) (string, bool) {
	loadTables()
	if country != "US" {
		return "", false
	}
	if c, ok := states.byName[strings.ToLower(strings.TrimSpace(name))]; ok {
		return c, true
	}
	if up := strings.ToUpper(strings.TrimSpace(name)); states.name[up] != "" {
		return up, true
	}
	return "", false
}

func stateName(country, code string) (string, bool) {
	loadTables()
	if country != "US" {
		return "", false
	}
	n, ok := states.name[strings.ToUpper(code)]
	return n, ok
}
