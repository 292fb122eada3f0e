# Weir's default pipeline: Salesforce orders become NetSuite sales orders, and
# NetSuite's status comes back onto the Salesforce order.
#
# `make run` runs it with `weir dev`, against the vendor sandboxes started
# in-process (the environment below is then set for you). Against real
# systems, set the same variables: SF_LOGIN_URL (https://login.salesforce.com),
# SF_CLIENT_ID / SF_CLIENT_SECRET (a connected app with the client
# credentials flow), NS_ACCOUNT_ID, NS_TOKEN_URL, NS_CLIENT_ID, NS_CERT_ID,
# NS_KEY_FILE, WEIR_API_TOKEN, WEIR_SECRET_KEY. docs/pipelines.md describes
# every block and function.

api {
  token = env("WEIR_API_TOKEN")
}

connection "salesforce" "crm" {
  instance_url = try(env("SF_INSTANCE_URL"), null) # else the token's instance_url

  oauth2 {
    flow          = "client_credentials"
    client_id     = env("SF_CLIENT_ID")
    client_secret = env("SF_CLIENT_SECRET")
    token_url     = "${env("SF_LOGIN_URL")}/services/oauth2/token"
  }

  limits {
    per_day     = 100000
    concurrency = 20
  }
}

connection "netsuite" "erp" {
  account_id = env("NS_ACCOUNT_ID")
  base_url   = try(env("NS_BASE_URL"), null) # a sandbox; real accounts derive the host

  oauth2 {
    flow           = "client_credentials_jwt"
    client_id      = env("NS_CLIENT_ID")
    private_key    = file(env("NS_KEY_FILE"))
    certificate_id = env("NS_CERT_ID")
    # The account's own endpoint (account 123456_SB1: host 123456-sb1...);
    # NS_TOKEN_URL points elsewhere (the sandbox of weir dev).
    token_url = try(
      env("NS_TOKEN_URL"),
      "https://${lower(replace(env("NS_ACCOUNT_ID"), "_", "-"))}.suitetalk.api.netsuite.com/services/rest/auth/oauth2/v1/token",
    )
  }

  # NetSuite allows this account 100 requests a minute and 5 at a time;
  # stay one under.
  limits {
    rate        = 99
    per         = "1m"
    concurrency = 5
  }
}

# The CRM's units, as the ERP names them.
units "crm_to_erp" {
  entries = {
    "Each"       = { unit = "Each", factor = 1 }
    "Pack of 12" = { unit = "Case", factor = 1 }
  }
}

# A real-time stock check for quotes: POST /v1/lookups/stock {"items": [...]}.
lookup "stock" {
  connection = "erp"
  cache      = "10s"
}

pipeline "orders_to_erp" {
  # Orders the ERP has not booked yet (the way back sets ERP_Order_Number__c,
  # so an order is not sent again because its status came back).
  source "crm" {
    object = "Order"
    where  = "Status = 'Activated' AND ERP_Order_Number__c = null"
    poll   = "5s"
  }

  key  = record.OrderNumber
  when = record.TotalAmount >= 5000 # only orders of $5,000 or more

  lookup "stock" {
    connection = "erp"
    query      = { items = [for l in record.OrderItems : l.Product2.ProductCode] }
  }

  map {
    externalId  = "SF-${record.OrderNumber}"
    otherRefNum = record.Id # the CRM order, for the way back
    entity      = { externalId = record.Account.AccountNumber }
    subsidiary  = { id = "1" }
    tranDate    = record.EffectiveDate
    shippingAddress = {
      country = { id = iso_country(record.Account.ShippingCountry).alpha2 }
      city    = try(record.Account.ShippingCity, null)
    }
    item = { items = [for l in record.OrderItems : {
      item     = { externalId = l.Product2.ProductCode }
      quantity = convert_quantity("crm_to_erp", l.Product2.QuantityUnitOfMeasure, l.Quantity).quantity
      units    = unit("crm_to_erp", l.Product2.QuantityUnitOfMeasure).unit
      rate     = l.UnitPrice
    }] }
    # Orders are created even without stock, flagged for the warehouse.
    memo = length([for l in record.OrderItems : l
      if try(lookup.stock.items[l.Product2.ProductCode].quantityAvailable, 0) < l.Quantity
    ]) > 0 ? "BACKORDER" : null
  }

  # NetSuite takes one order a request: small batches show progress at
  # once and, after a crash, leave little to deliver again.
  destination "erp" {
    object     = "salesOrder"
    operation  = "upsert"
    batch_size = 20
  }

  retry {
    attempts  = 12
    max_delay = "15m"
  }
}

pipeline "erp_status_to_crm" {
  source "erp" {
    object = "salesOrder"
    where  = "t.externalid LIKE 'SF-%'"
    fetch  = "query" # headers from SuiteQL: two requests a batch, not one per order
    poll   = "10s"
  }

  key = record.externalId

  map {
    Id                  = record.otherRefNum
    ERP_Order_Number__c = record.tranId
    ERP_Status__c = lookup({
      A = "Pending", B = "Booked", C = "Rejected", D = "Shipped", E = "Shipped",
      F = "Shipped", G = "Invoiced", H = "Shipped"
    }, record.status.id, "Booked")
  }

  destination "crm" {
    object    = "Order"
    operation = "update"
  }
}
