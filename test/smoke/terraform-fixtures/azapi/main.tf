# The azapi provider, installed from the project's filesystem mirror only.
terraform {
  required_providers {
    azapi = {
      source  = "hcs.internal/azure/azapi"
      version = "1.15.0"
    }
  }
}

provider "azapi" {
  skip_provider_registration = true
}
