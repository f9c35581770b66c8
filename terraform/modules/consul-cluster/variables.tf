# Every input of the consul-cluster module. README.md documents them with examples.

variable "subscription_id" {
  description = "Subscription (GUID) that holds the cluster's resource group and resources."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$", var.subscription_id))
    error_message = "subscription_id must be a GUID such as 00000000-0000-0000-0000-000000000000."
  }
}

variable "cluster_name" {
  description = "Cluster name: 3-48 lower-case letters, digits and hyphens, starting with a letter. Prefixes every resource name."
  type        = string

  validation {
    # 48 keeps "<cluster>-server-<i>" (9 more characters) within 57, the longest Linux computer
    # name prefix that leaves room for the 6-character instance suffix in a 63-character label.
    condition     = can(regex("^[a-z][a-z0-9-]{1,46}[a-z0-9]$", var.cluster_name))
    error_message = "cluster_name must be 3-48 characters of lower-case letters, digits and hyphens, start with a letter and not end with a hyphen (server names \"<cluster_name>-server-<i>\" become VM computer names)."
  }
}

variable "cluster_id" {
  description = "The cluster's random id (32 lower-case hex digits) from the control plane. Every taggable resource carries it as the hcs-cluster-id tag, so the control plane never adopts or changes a resource of another cluster."
  type        = string

  validation {
    condition     = can(regex("^[0-9a-f]{32}$", var.cluster_id))
    error_message = "cluster_id must be 32 lower-case hexadecimal digits (the cluster's 128-bit random id)."
  }
}

variable "location" {
  description = "Azure region, e.g. \"westeurope\". Must offer availability zones 1, 2 and 3."
  type        = string

  validation {
    condition     = can(regex("^[a-z0-9]{1,40}$", var.location))
    error_message = "location must be an Azure region name in lower case without spaces, such as \"westeurope\"."
  }
}

variable "resource_group_name" {
  description = "Resource group of the cluster: created by the module when create_resource_group is true, otherwise it must exist."
  type        = string

  validation {
    condition     = can(regex("^[-\\w._()]{1,90}$", var.resource_group_name)) && !endswith(var.resource_group_name, ".")
    error_message = "resource_group_name must be 1-90 characters of letters, digits, underscores, hyphens, periods and parentheses, not ending in a period."
  }
}

variable "create_resource_group" {
  description = "Create resource_group_name (true) or use an existing resource group of that name (false)."
  type        = bool
  default     = true
}

variable "vnet_cidr" {
  description = "The customer's IPv4 range for the cluster VNet, /16 to /24 inside 10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16. The servers' subnet is its first quarter."
  type        = string

  validation {
    condition     = can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}/([0-9]|[12][0-9]|3[0-2])$", var.vnet_cidr))
    error_message = "vnet_cidr must be an IPv4 CIDR such as \"10.0.0.0/16\" (four decimal octets without leading zeros, a slash and a prefix length)."
  }

  validation {
    # Each later rule passes when the shape rule already failed, so one mistake gives one error.
    condition     = try(!can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}/([0-9]|[12][0-9]|3[0-2])$", var.vnet_cidr)) || (tonumber(split("/", var.vnet_cidr)[1]) >= 16 && tonumber(split("/", var.vnet_cidr)[1]) <= 24), true)
    error_message = "vnet_cidr must have a prefix length from /16 to /24: a larger range than /16 is more than a cluster network may take, a smaller one than /24 leaves too few addresses."
  }

  validation {
    condition     = try(!can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}/([0-9]|[12][0-9]|3[0-2])$", var.vnet_cidr)) || cidrhost(var.vnet_cidr, 0) == split("/", var.vnet_cidr)[0], true)
    error_message = "vnet_cidr must have all host bits zero (for example \"10.1.0.0/16\", not \"10.1.2.3/16\")."
  }

  validation {
    condition = try(
      !can(regex("^(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])(\\.(25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])){3}/([0-9]|[12][0-9]|3[0-2])$", var.vnet_cidr)) ||
      cidrhost("${split("/", var.vnet_cidr)[0]}/8", 0) == "10.0.0.0" ||
      cidrhost("${split("/", var.vnet_cidr)[0]}/12", 0) == "172.16.0.0" ||
      cidrhost("${split("/", var.vnet_cidr)[0]}/16", 0) == "192.168.0.0",
      true
    )
    error_message = "vnet_cidr must lie inside a private range (10.0.0.0/8, 172.16.0.0/12 or 192.168.0.0/16)."
  }
}

variable "server_count" {
  description = "Number of Consul servers: 1 (development), 3 or 5. One VM Scale Set per server."
  type        = number
  default     = 3

  validation {
    condition     = contains([1, 3, 5], var.server_count)
    error_message = "server_count must be 1, 3 or 5: an odd number of Raft voters; 3 survive the loss of one server or zone, 5 of two servers."
  }
}

variable "consul_version" {
  description = "Consul release the servers run, e.g. \"1.22.7\". Written as a tag on each scale set; host-manager takes the version to run from the cluster configuration in blob storage."
  type        = string

  validation {
    condition     = can(regex("^[0-9]+\\.[0-9]+\\.[0-9]+(-[0-9A-Za-z.-]+)?(\\+[0-9A-Za-z.-]+)?$", var.consul_version))
    error_message = "consul_version must be a release version such as \"1.22.7\" (major.minor.patch, optional -prerelease and +metadata, no leading \"v\")."
  }
}

variable "datacenter" {
  description = "Consul datacenter name: one DNS label (it appears in server.<datacenter>.consul)."
  type        = string
  default     = "dc1"

  validation {
    condition     = can(regex("^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$", var.datacenter))
    error_message = "datacenter must be one DNS label: 1-63 lower-case letters, digits and hyphens, not starting or ending with a hyphen."
  }
}

variable "public_endpoint" {
  description = "Expose the HTTPS API and UI to the Internet: one zone-redundant Standard public IP and a Standard load balancer forward TCP 443 to 8501 on every healthy server, and the NSG admits 8501 from the Internet. All other Consul ports stay VNet-only."
  type        = bool
  default     = false
}

variable "vm_size" {
  description = "VM size of every server. Must support premium storage when os_disk_type is Premium_LRS."
  type        = string
  default     = "Standard_D2s_v5"

  validation {
    condition     = can(regex("^[A-Za-z0-9_]+$", var.vm_size))
    error_message = "vm_size must be an Azure VM size name such as \"Standard_D2s_v5\"."
  }
}

variable "os_disk_type" {
  description = "Managed disk type of each server's OS disk."
  type        = string
  default     = "Premium_LRS"

  validation {
    condition     = contains(["Standard_LRS", "StandardSSD_LRS", "Premium_LRS"], var.os_disk_type)
    error_message = "os_disk_type must be one of Standard_LRS, StandardSSD_LRS or Premium_LRS (zone-redundant disks are pointless for zonal servers)."
  }
}

variable "image" {
  description = "Image of the servers: either id (a gallery image version or managed image resource id) or publisher, offer, sku and version of a marketplace image. Defaults to Ubuntu 24.04 LTS."
  type = object({
    id        = optional(string)
    publisher = optional(string)
    offer     = optional(string)
    sku       = optional(string)
    version   = optional(string, "latest")
  })
  default = {
    publisher = "Canonical"
    offer     = "ubuntu-24_04-lts"
    sku       = "server"
    version   = "latest"
  }

  validation {
    condition = (
      var.image.id != null
      ? var.image.publisher == null && var.image.offer == null && var.image.sku == null
      : var.image.publisher != null && var.image.offer != null && var.image.sku != null
    )
    error_message = "image must set either id alone or publisher, offer and sku (with an optional version, default \"latest\")."
  }
}

variable "admin_username" {
  description = "Break-glass Linux user on every server (SSH key only, no password; no NSG rule admits SSH)."
  type        = string
  default     = "hcsadmin"

  validation {
    condition     = can(regex("^[a-z_][a-z0-9_-]{0,31}$", var.admin_username)) && !contains(["root", "admin", "administrator"], var.admin_username)
    error_message = "admin_username must be a Linux user name (lower case, at most 32 characters) other than root, admin or administrator."
  }
}

variable "admin_ssh_public_key" {
  description = "OpenSSH public key for admin_username. A public key, not a secret; Azure requires one when password login is disabled."
  type        = string

  validation {
    condition     = can(regex("^(ssh-rsa|ssh-ed25519|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+", var.admin_ssh_public_key))
    error_message = "admin_ssh_public_key must be an OpenSSH public key line (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)."
  }
}

variable "storage_account_id" {
  description = "Resource id of the storage account that holds the cluster's blob container; the role assignment is scoped to that container only."
  type        = string

  validation {
    condition     = can(regex("(?i)^/subscriptions/[0-9a-f-]{36}/resourceGroups/[^/]+/providers/Microsoft\\.Storage/storageAccounts/[a-z0-9]{3,24}$", var.storage_account_id))
    error_message = "storage_account_id must be a storage account resource id: /subscriptions/<guid>/resourceGroups/<group>/providers/Microsoft.Storage/storageAccounts/<name>."
  }
}

variable "blob_account_url" {
  description = "Blob service URL of that storage account as the servers reach it, e.g. \"https://<account>.blob.core.windows.net\" (or Azurite's URL on the twin). No query string."
  type        = string

  validation {
    condition     = can(regex("^https?://[^?#\\s]+$", var.blob_account_url))
    error_message = "blob_account_url must be an http(s) URL without query string or fragment: it is written into VM customData, so a SAS token must never be part of it."
  }
}

variable "blob_container" {
  description = "The cluster's private blob container (secrets and configuration under servers/<index>/)."
  type        = string

  validation {
    condition     = length(var.blob_container) >= 3 && length(var.blob_container) <= 63 && can(regex("^[a-z0-9]+(-[a-z0-9]+)*$", var.blob_container))
    error_message = "blob_container must be a blob container name: 3-63 lower-case letters, digits and single hyphens, starting and ending with a letter or digit."
  }
}

variable "tags" {
  description = "Tags added to every taggable resource, next to the module's own (hcs-cluster, hcs-cluster-id, and per server hcs-server-index, hcs-zone, consul-version)."
  type        = map(string)
  default     = {}
}
