# The azapi provider comes from the project's filesystem mirror under this address (see
# scripts/setup.mjs). The module declares no provider block: the caller configures azapi,
# for real Azure or for the local twin, and only the endpoint and credentials differ.
terraform {
  required_version = ">= 1.8.0"

  required_providers {
    azapi = {
      source  = "hcs.internal/azure/azapi"
      version = "1.15.0"
    }
  }
}
