# Weir's default pipeline.
#
# Orders exported from the CRM as JSON lines (examples/data/inbox), and any
# posted to the webhook, become one line per order in .weir/outbox/orders.jsonl:
# only orders of $5,000 or more, with the fields the ERP side needs.
# `make run` runs it; docs/pipelines.md describes every block.

api {
  listen = "127.0.0.1:7420"
  token  = env("WEIR_API_TOKEN")
}

connection "jsonl" "inbox" {
  path = "examples/data/inbox"
}

connection "jsonl" "outbox" {
  path = ".weir/outbox"

  limits {
    rate        = 2000
    per         = "1s"
    concurrency = 4
  }
}

pipeline "orders" {
  source "inbox" {
    poll          = "1s"
    key_field     = "OrderNumber"
    version_field = "LastModifiedDate"
    object        = "Order"
  }

  webhook {
    auth   = "token"
    secret = env("WEIR_HOOK_TOKEN")
  }

  key  = record.OrderNumber
  when = record.TotalAmount >= 5000

  map {
    externalId = "SF-${record.OrderNumber}"
    status     = record.Status
    total      = record.TotalAmount
    date       = record.EffectiveDate
    customer   = try(record.Account.AccountNumber, null)
    country    = try(record.Account.BillingCountry, null)
    lines = [for l in try(record.OrderItems, []) : {
      item     = l.Product2.ProductCode
      unit     = l.Product2.QuantityUnitOfMeasure
      quantity = l.Quantity
      price    = l.UnitPrice
    }]
  }

  destination "outbox" {
    object = "orders"
  }

  retry {
    attempts  = 12
    max_delay = "1m"
  }
}
