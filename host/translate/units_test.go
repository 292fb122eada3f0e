package translate

import (
	"sync"
	"testing"
)

func TestUnitFunctions(t *testing.T) {
	run(t, []evalCase{
		// unit
		{name: "pack to case", expr: `unit("crm_to_erp", "Pack of 12")`, want: `{"factor":1,"unit":"Case"}`},
		{name: "pack to each", expr: `unit("crm_to_each", "Pack of 12")`, want: `{"factor":12,"unit":"Each"}`},
		{name: "default factor", expr: `unit("crm_to_erp", "Each")`, want: `{"factor":1,"unit":"Unit"}`},
		{name: "fractional factor", expr: `unit("crm_to_each", "Gram").factor`, want: `0.001`},
		{name: "case and spaces", expr: `unit("crm_to_erp", "  pack OF   12 ")`, want: `{"factor":1,"unit":"Case"}`},
		{name: "record field", expr: `unit("crm_to_erp", record.OrderItems[0].Product2.QuantityUnitOfMeasure).unit`, want: `"Case"`},
		{name: "exact match wins", expr: `unit("crm_to_each", "BOX").unit`, want: `"CT"`},
		{name: "exact match wins 2", expr: `unit("crm_to_each", "Box").unit`, want: `"BX"`},
		{name: "ambiguous", expr: `unit("crm_to_each", "box")`, wantErr: []string{`unit "box" matches "BOX" and "Box" in units table "crm_to_each"`}},
		{name: "unknown unit", expr: `unit("crm_to_erp", "Pallet")`,
			wantErr: []string{`unknown unit "Pallet" in units table "crm_to_erp"`, `"Each", "Half Case", "Pack of 12"`}},
		{name: "unknown table", expr: `unit("nope", "Each")`, wantErr: []string{`unknown units table "nope"`, `"crm_to_erp", "crm_to_each"`}},
		{name: "null unit", expr: `unit("crm_to_erp", record.Description)`, wantErr: []string{`no unit given (null) for units table "crm_to_erp"`}},

		// the brief's expression: factor × quantity, exact
		{name: "factor times quantity", expr: `unit("crm_to_each", "Pack of 12").factor * record.OrderItems[0].Quantity`, want: `84`},
		{name: "decimal_mul factor", expr: `decimal_mul(unit("crm_to_each", "Gram").factor, 1234.5)`, want: `1.2345`},

		// convert_quantity
		{name: "7 packs to cases", expr: `convert_quantity("crm_to_erp", "Pack of 12", 7)`, want: `{"factor":1,"quantity":7,"unit":"Case"}`},
		{name: "7 packs to each", expr: `convert_quantity("crm_to_each", "Pack of 12", 7)`, want: `{"factor":12,"quantity":84,"unit":"Each"}`},
		{name: "record line", expr: `convert_quantity("crm_to_each", record.OrderItems[0].Product2.QuantityUnitOfMeasure, record.OrderItems[0].Quantity).quantity`, want: `84`},
		{name: "half case", expr: `convert_quantity("crm_to_erp", "Half Case", 2.5).quantity`, want: `1.25`},
		{name: "grams", expr: `convert_quantity("crm_to_each", "Gram", "1234.5").quantity`, want: `1.2345`},
		{name: "for expression", expr: `[for l in record.OrderItems : convert_quantity("crm_to_erp", l.Product2.QuantityUnitOfMeasure, l.Quantity)]`,
			want: `[{"factor":1,"quantity":7,"unit":"Case"},{"factor":1,"quantity":2.5,"unit":"Unit"}]`},
		{name: "unknown unit", expr: `convert_quantity("crm_to_each", "Each", 1)`, wantErr: []string{`unknown unit "Each" in units table "crm_to_each"`}},
		{name: "null quantity", expr: `convert_quantity("crm_to_each", "Dozen", null)`, wantErr: []string{`"quantity" parameter`, "not null"}},
		{name: "bad quantity", expr: `convert_quantity("crm_to_each", "Dozen", "seven")`, wantErr: []string{`"seven" is not a decimal number`}},
	})
}

func TestUnitNoTables(t *testing.T) {
	cfg, dir := loadConfig(t, `api { listen = "127.0.0.1:0" }`)
	runCases(t, cfg, dir, []evalCase{
		{expr: `unit("crm_to_erp", "Each")`, wantErr: []string{`unknown units table "crm_to_erp": the configuration has no units blocks`}},
	})
}

func TestLookupUnit(t *testing.T) {
	cfg, _ := loadConfig(t, "")
	u, err := LookupUnit(cfg.UnitTable("crm_to_each"), "dozen")
	if err != nil || u.Unit != "Each" || u.From != "Dozen" || u.Factor.String() != "12" {
		t.Errorf("LookupUnit = %+v, %v", u, err)
	}
}

// TestUnitConcurrent uses one configuration's unit function from many
// goroutines (run with -race).
func TestUnitConcurrent(t *testing.T) {
	cfg, dir := loadConfig(t, "")
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 50 {
				v, diags := evalIn(t, cfg, dir, `convert_quantity("crm_to_each", "pack of 12", 7).quantity`)
				if diags.HasErrors() || v.AsBigFloat().String() != "84" {
					t.Errorf("got %#v, %s", v, diags.Error())
					return
				}
			}
		})
	}
	wg.Wait()
}
