# One Salesforce order stream, two ERPs: US orders go to NetSuite, German
# orders to SAP S/4HANA. Each pipeline reads the same source with its own
# cursor, filters with when, and has its own retries and dead letters; each
# ERP connection keeps its own limits.
#
#   weir validate -config examples/fan-out/pipeline.hcl

api {
  token = env("WEIR_API_TOKEN")
}

connection "salesforce" "crm" {
  oauth2 {
    flow          = "client_credentials"
    client_id     = env("SF_CLIENT_ID")
    client_secret = env("SF_CLIENT_SECRET")
    token_url     = "${env("SF_LOGIN_URL")}/services/oauth2/token"
  }
}

connection "netsuite" "us_erp" {
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

connection "sap" "de_erp" {
  base_url = env("SAP_BASE_URL")
  username = env("SAP_USER")
  password = env("SAP_PASSWORD")

  limits {
    rate = 10
    per  = "1s"
  }
}

units "to_netsuite" {
  entries = {
    "Each"       = { unit = "Each", factor = 1 }
    "Pack of 12" = { unit = "Case", factor = 1 }
  }
}

units "to_sap" {
  entries = {
    "Each"       = { unit = "EA", factor = 1 }
    "Pack of 12" = { unit = "CS", factor = 1 }
  }
}

pipeline "us_orders" {
  source "crm" {
    object = "Order"
    where  = "Status = 'Activated'"
  }

  key  = record.OrderNumber
  when = iso_country(record.Account.ShippingCountry).alpha2 == "US"

  map {
    externalId = "SF-${record.OrderNumber}"
    entity     = { externalId = record.Account.AccountNumber }
    subsidiary = { id = "1" }
    item = { items = [for l in record.OrderItems : {
      item     = { externalId = l.Product2.ProductCode }
      quantity = convert_quantity("to_netsuite", l.Product2.QuantityUnitOfMeasure, l.Quantity).quantity
      units    = unit("to_netsuite", l.Product2.QuantityUnitOfMeasure).unit
    }] }
  }

  destination "us_erp" {
    object = "salesOrder"
  }
}

pipeline "de_orders" {
  source "crm" {
    object = "Order"
    where  = "Status = 'Activated'"
  }

  key  = record.OrderNumber
  when = iso_country(record.Account.ShippingCountry).alpha2 == "DE"

  lookup "customer" {
    connection = "de_erp"
    object     = "business_partner"
    query      = { external_ids = [record.Account.AccountNumber] }
  }

  map {
    PurchaseOrderByCustomer = "SF-${record.OrderNumber}"
    SoldToParty             = lookup.customer.partners[record.Account.AccountNumber].customer
    to_Item = [for l in record.OrderItems : {
      Material              = l.Product2.ProductCode
      RequestedQuantity     = format_decimal(convert_quantity("to_sap", l.Product2.QuantityUnitOfMeasure, l.Quantity).quantity, 3)
      RequestedQuantityUnit = unit("to_sap", l.Product2.QuantityUnitOfMeasure).unit
    }]
  }

  destination "de_erp" {
    object = "A_SalesOrder"
  }
}
