# A one-off import of legacy orders exported as JSON lines into NetSuite:
# every line of data/*.jsonl becomes a sales order, amounts kept exact,
# dates converted from the old system's M/D/YYYY, countries normalised.
# Lines that cannot be imported are dead-lettered with the reason; fix the
# pipeline and `weir dlq replay legacy_orders -all`.
#
#   weir validate -config examples/legacy-import/pipeline.hcl

connection "jsonl" "legacy" {
  path = "examples/legacy-import/data"
}

connection "netsuite" "erp" {
  account_id = env("NS_ACCOUNT_ID")

  oauth2 {
    flow           = "client_credentials_jwt"
    client_id      = env("NS_CLIENT_ID")
    private_key    = file(env("NS_KEY_FILE"))
    certificate_id = env("NS_CERT_ID")
    # The account's own endpoint (account 123456_SB1: host 123456-sb1...);
    # NS_TOKEN_URL points elsewhere (a sandbox).
    token_url = try(
      env("NS_TOKEN_URL"),
      "https://${lower(replace(env("NS_ACCOUNT_ID"), "_", "-"))}.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
    )
  }

  limits {
    rate        = 99
    per         = "1m"
    concurrency = 5
  }
}

pipeline "legacy_orders" {
  source "legacy" {
    poll      = "10s"
    key_field = "order_no"
    object    = "LegacyOrder"
  }

  key = record.order_no

  map {
    externalId = "LEGACY-${record.order_no}"
    entity     = { externalId = record.customer }
    subsidiary = { id = "1" }
    tranDate   = to_iso_date(record.date, "M/D/YYYY")
    memo       = normalize_space(try(record.note, ""))
    shippingAddress = {
      country = { id = iso_country(record.country).alpha2 }
    }
    item = { items = [for l in record.lines : {
      item     = { externalId = l.sku }
      quantity = l.qty
      rate     = decimal(l.price)
    }] }
  }

  destination "erp" {
    object = "salesOrder"
  }
}
