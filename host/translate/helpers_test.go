package translate

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/hashicorp/hcl/v2"
	"github.com/hashicorp/hcl/v2/hclsyntax"
	"github.com/zclconf/go-cty/cty"

	"github.com/weirhq/weir/host/config"
	"github.com/weirhq/weir/host/expr"
)

// testConfig has two unit tables that map "Pack of 12" differently.
const testConfig = `
units "crm_to_erp" {
  entries = {
    "Pack of 12" = { unit = "Case", factor = 1 }
    "Each"       = { unit = "Unit" }
    "Half Case"  = { unit = "Case", factor = 0.5 }
  }
}

units "crm_to_each" {
  entries = {
    "Pack of 12" = { unit = "Each", factor = 12 }
    "Dozen"      = { unit = "Each", factor = 12 }
    "Gram"       = { unit = "KGM", factor = 0.001 }
    "Box"        = { unit = "BX" }
    "BOX"        = { unit = "CT" }
  }
}
`

// testRecord is the record variable of the expressions under test.
const testRecord = `{
  "OrderNumber": "00012345",
  "ShippingCountry": " u.s.a. ",
  "TotalAmount": 12345678901234567.89,
  "EffectiveDate": "2026-11-27",
  "ActivatedDate": "2026-11-27T08:00:01.000+0000",
  "Description": null,
  "OrderItems": [
    {"Quantity": 7, "UnitPrice": 19.99, "Product2": {"QuantityUnitOfMeasure": "Pack of 12"}},
    {"Quantity": 2.5, "UnitPrice": 0.1, "Product2": {"QuantityUnitOfMeasure": "Each"}}
  ]
}`

// loadConfig parses src (testConfig when empty) as a configuration file.
func loadConfig(t testing.TB, src string) (*config.Config, string) {
	t.Helper()
	if src == "" {
		src = testConfig
	}
	dir := t.TempDir()
	name := filepath.Join(dir, "main.hcl")
	if err := os.WriteFile(name, []byte(src), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, diags := config.Parse(name)
	if diags.HasErrors() {
		t.Fatalf("parse: %s", diags.Error())
	}
	return cfg, dir
}

// evalIn evaluates an HCL expression with cfg's functions and the test
// record as `record`.
func evalIn(t testing.TB, cfg *config.Config, dir, src string) (cty.Value, hcl.Diagnostics) {
	t.Helper()
	e, diags := hclsyntax.ParseExpression([]byte(src), "test.hcl", hcl.InitialPos)
	if diags.HasErrors() {
		t.Fatalf("parse %s: %s", src, diags.Error())
	}
	rec, err := expr.FromJSON([]byte(testRecord))
	if err != nil {
		t.Fatal(err)
	}
	return e.Value(cfg.EvalContext(dir, map[string]cty.Value{"record": rec}))
}

// evalCase is one expression and its expected JSON result or error.
type evalCase struct {
	name string
	expr string
	// want is the result as JSON (host/expr.ToJSON), unless wantErr is set.
	want string
	// wantErr lists substrings of the error.
	wantErr []string
}

// runCases evaluates each case in cfg.
func runCases(t *testing.T, cfg *config.Config, dir string, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		name := tc.name
		if name == "" {
			name = tc.expr
		}
		t.Run(name, func(t *testing.T) {
			v, diags := evalIn(t, cfg, dir, tc.expr)
			if len(tc.wantErr) > 0 {
				if !diags.HasErrors() {
					got, _ := expr.ToJSON(v)
					t.Fatalf("%s = %s, want an error containing %q", tc.expr, got, tc.wantErr)
				}
				msg := diags.Error()
				for _, w := range tc.wantErr {
					if !strings.Contains(msg, w) {
						t.Errorf("%s: error %q does not contain %q", tc.expr, msg, w)
					}
				}
				return
			}
			if diags.HasErrors() {
				t.Fatalf("%s: %s", tc.expr, diags.Error())
			}
			got, err := expr.ToJSON(v)
			if err != nil {
				t.Fatalf("%s: %v", tc.expr, err)
			}
			if string(got) != tc.want {
				t.Errorf("%s = %s, want %s", tc.expr, got, tc.want)
			}
		})
	}
}

// run evaluates cases in the test configuration.
func run(t *testing.T, cases []evalCase) {
	t.Helper()
	cfg, dir := loadConfig(t, "")
	runCases(t, cfg, dir, cases)
}
