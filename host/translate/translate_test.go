package translate

import (
	"slices"
	"testing"

	"github.com/weirhq/weir/host/config"
)

// TestRegistered checks that every function Names lists is in a
// configuration's function table, with a description.
func TestRegistered(t *testing.T) {
	if !slices.IsSorted(Names()) {
		t.Error("Names is not sorted")
	}
	fns := config.Functions(t.TempDir())
	for _, name := range Names() {
		f, ok := fns[name]
		if !ok {
			t.Errorf("%s is not registered", name)
			continue
		}
		if f.Description() == "" {
			t.Errorf("%s has no description", name)
		}
	}
}

// TestParseChecksFunctions checks that a pipeline using the functions
// passes the configuration's static checks.
func TestParseChecksFunctions(t *testing.T) {
	loadConfig(t, testConfig+`
connection "jsonl" "inbox" {
  path = "in"
}
connection "jsonl" "outbox" {
  path = "out"
}
pipeline "orders" {
  source "inbox" {}
  key = record.OrderNumber
  map {
    country  = iso_country(record.ShippingCountry).alpha2
    currency = currency(record.CurrencyIsoCode).code
    total    = format_decimal(record.TotalAmount, 2)
    start    = to_sap_date(record.EffectiveDate)
    erp_id   = xref("inbox", record.OrderNumber, "outbox")
    lines    = [for l in record.OrderItems : convert_quantity("crm_to_erp", l.Product2.QuantityUnitOfMeasure, l.Quantity)]
    name     = truncate(ascii_fold(normalize_space(record.Name)), 80)
  }
  destination "outbox" {
    object = "orders"
  }
}
`)
}
