# Salesforce orders become SAP S/4HANA sales orders (API_SALES_ORDER_SRV).
#
# The SAP variant of the default pipeline: the customer is found through the
# business partner's external id, units are converted to SAP's codes, and
# the connector looks each order up by PurchaseOrderByCustomer before it
# creates one, so a redelivered order never becomes a second sales order.
#
#   weir validate -config examples/salesforce-to-sap/pipeline.hcl

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

connection "sap" "erp" {
  base_url   = env("SAP_BASE_URL")
  sap_client = "100"
  auth       = "basic"
  username   = env("SAP_USER")
  password   = env("SAP_PASSWORD")
  unit_codes = "sap"
  defaults = {
    SalesOrderType       = "OR"
    SalesOrganization    = "1710"
    DistributionChannel  = "10"
    OrganizationDivision = "00"
  }

  limits {
    rate        = 10
    per         = "1s"
    concurrency = 4
  }
}

units "crm_to_sap" {
  entries = {
    "Each"       = { unit = "EA", factor = 1 }
    "Pack of 12" = { unit = "CS", factor = 1 }
  }
}

pipeline "orders_to_sap" {
  source "crm" {
    object = "Order"
    where  = "Status = 'Activated'"
    poll   = "30s"
  }

  key  = record.OrderNumber
  when = record.TotalAmount >= 5000

  lookup "customer" {
    connection = "erp"
    object     = "business_partner"
    query      = { external_ids = [record.Account.AccountNumber] }
  }

  map {
    PurchaseOrderByCustomer = "SF-${record.OrderNumber}"
    SoldToParty             = lookup.customer.partners[record.Account.AccountNumber].customer
    to_Item = [for i, l in record.OrderItems : {
      SalesOrderItem        = format("%d", (i + 1) * 10)
      Material              = l.Product2.ProductCode
      RequestedQuantity     = format_decimal(convert_quantity("crm_to_sap", l.Product2.QuantityUnitOfMeasure, l.Quantity).quantity, 3)
      RequestedQuantityUnit = unit("crm_to_sap", l.Product2.QuantityUnitOfMeasure).unit
    }]
  }

  destination "erp" {
    object = "A_SalesOrder"
  }
}
