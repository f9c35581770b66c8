# A Consul server cluster on Azure, written against the azapi provider so that the same module
# applies to Azure Resource Manager and to the local twin (apps/local-cloud): only the
# caller's provider configuration (endpoint and credentials) differs.
#
# Resources, in dependency order:
#   resource group (optional) -> NSG -> VNet with the servers' subnet (NSG attached)
#   -> user-assigned identity -> role assignment on the cluster's blob container
#   -> with the public endpoint: a zone-redundant Standard public IP -> a Standard load balancer
#      on it (443 -> 8501 on every server, TCP probe on 8501)
#   -> one VM Scale Set per server (capacity 1, zone round-robin; in the load balancer's pool
#      with the public endpoint) -> NIC listing for addresses.
#
# API versions are pinned per type; each is one the provider's embedded schema knows, so azapi
# checks every request body against the Azure schema before sending it (already at plan time
# when the body holds no value that is only known after apply).

locals {
  api = {
    resource_group  = "Microsoft.Resources/resourceGroups@2022-09-01"
    nsg             = "Microsoft.Network/networkSecurityGroups@2023-11-01"
    vnet            = "Microsoft.Network/virtualNetworks@2023-11-01"
    identity        = "Microsoft.ManagedIdentity/userAssignedIdentities@2023-01-31"
    role_assignment = "Microsoft.Authorization/roleAssignments@2022-04-01"
    scale_set       = "Microsoft.Compute/virtualMachineScaleSets@2024-03-01"
    scale_set_nics  = "Microsoft.Compute/virtualMachineScaleSets/networkInterfaces@2018-10-01"
    public_ip       = "Microsoft.Network/publicIPAddresses@2023-11-01"
    load_balancer   = "Microsoft.Network/loadBalancers@2023-11-01"
  }

  subscription_scope = "/subscriptions/${var.subscription_id}"
  resource_group_id  = "${local.subscription_scope}/resourceGroups/${var.resource_group_name}"

  # The servers' subnet is the first quarter of the customer's range (/16 -> /18, /24 -> /26,
  # 59 usable addresses at least); the rest stays free for later subnets (private endpoints,
  # a gateway) without renumbering the servers.
  subnet_name = "consul-servers"
  subnet_cidr = cidrsubnet(var.vnet_cidr, 2, 0)
  subnet_id   = "${azapi_resource.vnet.id}/subnets/${local.subnet_name}"

  base_tags = merge(var.tags, { "hcs-cluster" = var.cluster_name, "hcs-cluster-id" = var.cluster_id })

  # Storage Blob Data Reader: read blobs, nothing else. Scoped below to the cluster's own
  # container, so a server can never read another cluster's secrets.
  blob_reader_role_id   = "2a2b9908-6ea1-4ae2-8e65-a410df84e7d1"
  storage_subscription  = split("/", var.storage_account_id)[2]
  blob_container_scope  = "${var.storage_account_id}/blobServices/default/containers/${var.blob_container}"
  blob_reader_role_defn = "/subscriptions/${local.storage_subscription}/providers/Microsoft.Authorization/roleDefinitions/${local.blob_reader_role_id}"

  image_reference = (
    var.image.id != null
    ? { id = var.image.id }
    : { publisher = var.image.publisher, offer = var.image.offer, sku = var.image.sku, version = var.image.version }
  )

  servers = { for server in module.placement.servers : server.name => server }
}

module "placement" {
  source = "./placement"

  cluster_name       = var.cluster_name
  server_count       = var.server_count
  datacenter         = var.datacenter
  blob_account_url   = var.blob_account_url
  blob_container     = var.blob_container
  identity_client_id = local.identity.client_id
}

resource "azapi_resource" "resource_group" {
  count = var.create_resource_group ? 1 : 0

  type      = local.api.resource_group
  parent_id = local.subscription_scope
  name      = var.resource_group_name
  location  = var.location
  tags      = local.base_tags
  body      = jsonencode({})
}

# Everything below is placed in the resource group by id; when the module creates the group,
# this dependency makes it exist first.
locals {
  parent_id = var.create_resource_group ? azapi_resource.resource_group[0].id : local.resource_group_id
}

# ---------------------------------------------------------------------------------------------
# Network security: Consul's ports from the cluster VNet only, 8501 from the Internet (and the
# load balancer's probe) only with the public endpoint, everything else denied (this also overrides Azure's default
# AllowVnetInBound, which would admit every port from peered networks).
# ---------------------------------------------------------------------------------------------
locals {
  consul_rules = [
    { name = "consul-server-rpc", priority = 100, protocol = "Tcp", port = "8300", description = "Consul server RPC (Raft, forwarding)" },
    { name = "consul-serf-lan-tcp", priority = 110, protocol = "Tcp", port = "8301", description = "Consul LAN gossip (Serf), TCP" },
    { name = "consul-serf-lan-udp", priority = 111, protocol = "Udp", port = "8301", description = "Consul LAN gossip (Serf), UDP" },
    { name = "consul-serf-wan-tcp", priority = 120, protocol = "Tcp", port = "8302", description = "Consul WAN gossip (Serf), TCP" },
    { name = "consul-serf-wan-udp", priority = 121, protocol = "Udp", port = "8302", description = "Consul WAN gossip (Serf), UDP" },
    { name = "consul-https", priority = 130, protocol = "Tcp", port = "8501", description = "Consul HTTPS API and UI" },
    { name = "consul-grpc-tls", priority = 140, protocol = "Tcp", port = "8503", description = "Consul gRPC over TLS (xDS for dataplanes)" },
  ]

  vnet_rules = [
    for rule in local.consul_rules : {
      name = "allow-${rule.name}-from-vnet"
      properties = {
        description              = "${rule.description}, from the cluster VNet"
        priority                 = rule.priority
        direction                = "Inbound"
        access                   = "Allow"
        protocol                 = rule.protocol
        sourceAddressPrefix      = var.vnet_cidr
        sourcePortRange          = "*"
        destinationAddressPrefix = local.subnet_cidr
        destinationPortRange     = rule.port
      }
    }
  ]

  public_rules = var.public_endpoint ? [
    {
      name = "allow-consul-https-from-internet"
      properties = {
        description              = "Consul HTTPS API and UI, public endpoint"
        priority                 = 200
        direction                = "Inbound"
        access                   = "Allow"
        protocol                 = "Tcp"
        sourceAddressPrefix      = "Internet"
        sourcePortRange          = "*"
        destinationAddressPrefix = local.subnet_cidr
        destinationPortRange     = "8501"
      }
    },
    {
      # The load balancer's health probe comes from Azure's probe address, which the deny rule
      # below would block (the default AllowAzureLoadBalancerInBound has a lower priority).
      name = "allow-lb-probe-consul-https"
      properties = {
        description              = "Health probe of the public endpoint's load balancer"
        priority                 = 210
        direction                = "Inbound"
        access                   = "Allow"
        protocol                 = "Tcp"
        sourceAddressPrefix      = "AzureLoadBalancer"
        sourcePortRange          = "*"
        destinationAddressPrefix = local.subnet_cidr
        destinationPortRange     = "8501"
      }
    }
  ] : []

  deny_rules = [
    {
      name = "deny-other-inbound"
      properties = {
        description              = "Nothing else reaches the servers"
        priority                 = 4000
        direction                = "Inbound"
        access                   = "Deny"
        protocol                 = "*"
        sourceAddressPrefix      = "*"
        sourcePortRange          = "*"
        destinationAddressPrefix = "*"
        destinationPortRange     = "*"
      }
    }
  ]
}

resource "azapi_resource" "nsg" {
  type      = local.api.nsg
  parent_id = local.parent_id
  name      = "${var.cluster_name}-nsg"
  location  = var.location
  tags      = local.base_tags

  body = jsonencode({
    properties = {
      securityRules = concat(local.vnet_rules, local.public_rules, local.deny_rules)
    }
  })
}

# The subnet is declared inside the VNet body, not as a separate subnets resource: a PUT of a
# VNet without its subnets would try to delete them, so one resource owns both.
resource "azapi_resource" "vnet" {
  type      = local.api.vnet
  parent_id = local.parent_id
  name      = "${var.cluster_name}-vnet"
  location  = var.location
  tags      = local.base_tags

  body = jsonencode({
    properties = {
      addressSpace = {
        addressPrefixes = [var.vnet_cidr]
      }
      subnets = [
        {
          name = local.subnet_name
          properties = {
            addressPrefix        = local.subnet_cidr
            networkSecurityGroup = { id = azapi_resource.nsg.id }
            # Blob traffic (host-manager fetching its configuration) stays on the Azure backbone.
            serviceEndpoints = [{ service = "Microsoft.Storage" }]
          }
        }
      ]
    }
  })
}

# ---------------------------------------------------------------------------------------------
# Identity: one user-assigned identity for all servers of the cluster, allowed to read the
# cluster's own blob container and nothing else.
# ---------------------------------------------------------------------------------------------
resource "azapi_resource" "identity" {
  type      = local.api.identity
  parent_id = local.parent_id
  name      = "${var.cluster_name}-identity"
  location  = var.location
  tags      = local.base_tags
  body      = jsonencode({})

  response_export_values = ["properties.principalId", "properties.clientId"]
}

locals {
  # The output is a JSON string when the body is (jsonencode); try() also accepts an object.
  identity_output = try(jsondecode(azapi_resource.identity.output), azapi_resource.identity.output)
  identity = {
    client_id    = local.identity_output.properties.clientId
    principal_id = local.identity_output.properties.principalId
  }
}

resource "azapi_resource" "blob_reader" {
  type      = local.api.role_assignment
  parent_id = local.blob_container_scope
  # Role assignment names are GUIDs. Deriving it from scope, role and principal makes re-runs
  # find the same assignment, and a new identity (new principal) gets a new one rather than a
  # refused update of the old.
  name = uuidv5("url", "hcs:${local.blob_container_scope}:${local.blob_reader_role_id}:${local.identity.principal_id}")

  body = jsonencode({
    properties = {
      roleDefinitionId = local.blob_reader_role_defn
      principalId      = local.identity.principal_id
      # Stated so ARM does not look the principal up in a directory that may not have
      # replicated the new identity yet.
      principalType = "ServicePrincipal"
      description   = "Consul servers of ${var.cluster_name} read their own blob container"
    }
  })
}

# ---------------------------------------------------------------------------------------------
# Public endpoint (only with var.public_endpoint): one zone-redundant Standard public IP and a
# Standard load balancer on it. TCP 443 on the public IP goes to 8501 (Consul's HTTPS API and
# UI) on every server that answers the TCP probe on 8501 (every 5 s, out after 2 failures in a
# row; Azure counts probeThreshold and ignores numberOfProbes, the twin counts numberOfProbes, so
# both are 2). TLS is not terminated: clients talk TLS to Consul itself. The servers need
# no outbound SNAT through it (disableOutboundSnat). A private cluster has neither resource.
# ---------------------------------------------------------------------------------------------
locals {
  lb_name         = "${var.cluster_name}-lb"
  lb_id           = "${local.parent_id}/providers/Microsoft.Network/loadBalancers/${local.lb_name}"
  backend_pool    = "consul-servers"
  https_frontend  = "public"
  https_probe     = "consul-https"
  https_rule_name = "consul-https"
  # Built from the load balancer resource, so every scale set waits for the load balancer.
  backend_pool_ref = one([for lb in azapi_resource.load_balancer : "${lb.id}/backendAddressPools/${local.backend_pool}"])
}

resource "azapi_resource" "public_ip" {
  count = var.public_endpoint ? 1 : 0

  type      = local.api.public_ip
  parent_id = local.parent_id
  name      = "${var.cluster_name}-pip"
  location  = var.location
  tags      = local.base_tags

  body = jsonencode({
    sku   = { name = "Standard", tier = "Regional" }
    zones = ["1", "2", "3"]
    properties = {
      publicIPAllocationMethod = "Static"
      publicIPAddressVersion   = "IPv4"
      idleTimeoutInMinutes     = 15
    }
  })

  response_export_values = ["properties.ipAddress"]
}

resource "azapi_resource" "load_balancer" {
  count = var.public_endpoint ? 1 : 0

  type      = local.api.load_balancer
  parent_id = local.parent_id
  name      = local.lb_name
  location  = var.location
  tags      = local.base_tags

  body = jsonencode({
    sku = { name = "Standard", tier = "Regional" }
    properties = {
      frontendIPConfigurations = [
        {
          name       = local.https_frontend
          properties = { publicIPAddress = { id = azapi_resource.public_ip[0].id } }
        }
      ]
      backendAddressPools = [{ name = local.backend_pool }]
      probes = [
        {
          name = local.https_probe
          properties = {
            protocol          = "Tcp"
            port              = 8501
            intervalInSeconds = 5
            numberOfProbes    = 2
            probeThreshold    = 2
          }
        }
      ]
      loadBalancingRules = [
        {
          name = local.https_rule_name
          properties = {
            frontendIPConfiguration = { id = "${local.lb_id}/frontendIPConfigurations/${local.https_frontend}" }
            backendAddressPool      = { id = "${local.lb_id}/backendAddressPools/${local.backend_pool}" }
            probe                   = { id = "${local.lb_id}/probes/${local.https_probe}" }
            protocol                = "Tcp"
            frontendPort            = 443
            backendPort             = 8501
            enableFloatingIP        = false
            enableTcpReset          = true
            disableOutboundSnat     = true
            idleTimeoutInMinutes    = 15
            loadDistribution        = "Default"
          }
        }
      ]
    }
  })
}

locals {
  public_ip_outputs = [for pip in azapi_resource.public_ip : try(jsondecode(pip.output), pip.output)]
  public_ip_address = try(local.public_ip_outputs[0].properties.ipAddress, null)
}

# ---------------------------------------------------------------------------------------------
# Servers: one scale set per server, capacity 1, pinned to its zone. A scale set per server
# (rather than one spanning zones) keeps each server's name, zone and blob prefix fixed for life,
# so replacing or upgrading one server never moves another.
# ---------------------------------------------------------------------------------------------
resource "azapi_resource" "server" {
  for_each = local.servers

  type      = local.api.scale_set
  parent_id = local.parent_id
  name      = each.key
  location  = var.location
  tags = merge(local.base_tags, {
    "hcs-server-index" = tostring(each.value.index)
    "hcs-zone"         = each.value.zone
    "consul-version"   = var.consul_version
  })

  identity {
    type         = "UserAssigned"
    identity_ids = [azapi_resource.identity.id]
  }

  body = jsonencode({
    sku = {
      name     = var.vm_size
      tier     = "Standard"
      capacity = 1
    }
    zones = [each.value.zone]
    properties = {
      orchestrationMode = "Uniform"
      # No surplus instances: a second VM booting with the same server index would try to
      # join as the same Consul server.
      overprovision            = false
      platformFaultDomainCount = 1
      # Instances change only when the control plane says so (upgrade workflow, one server at a
      # time, inside the maintenance window).
      upgradePolicy = { mode = "Manual" }
      virtualMachineProfile = {
        osProfile = {
          computerNamePrefix = each.key
          adminUsername      = var.admin_username
          customData         = each.value.custom_data
          linuxConfiguration = {
            disablePasswordAuthentication = true
            provisionVMAgent              = true
            ssh = {
              publicKeys = [
                {
                  path    = "/home/${var.admin_username}/.ssh/authorized_keys"
                  keyData = var.admin_ssh_public_key
                }
              ]
            }
          }
        }
        storageProfile = {
          imageReference = local.image_reference
          osDisk = {
            createOption = "FromImage"
            caching      = "ReadWrite"
            managedDisk  = { storageAccountType = var.os_disk_type }
          }
        }
        networkProfile = {
          networkInterfaceConfigurations = [
            {
              name = "${each.key}-nic"
              properties = {
                primary = true
                ipConfigurations = [
                  {
                    name = "primary"
                    properties = merge(
                      {
                        primary                 = true
                        privateIPAddressVersion = "IPv4"
                        subnet                  = { id = local.subnet_id }
                      },
                      # Only with the public endpoint: every server is in the load balancer's
                      # pool (no server has a public IP of its own).
                      { for k, v in {
                        loadBalancerBackendAddressPools = [{ id = local.backend_pool_ref }]
                      } : k => v if var.public_endpoint }
                    )
                  }
                ]
              }
            }
          ]
        }
        diagnosticsProfile = {
          bootDiagnostics = { enabled = true }
        }
      }
    }
  })

  # host-manager reads its container at boot; grant the read before the first VM starts.
  depends_on = [azapi_resource.blob_reader]

  timeouts {
    create = "30m"
    update = "30m"
    delete = "30m"
  }
}

# ---------------------------------------------------------------------------------------------
# Private addresses. A Uniform scale set's NICs are not resources of their own and the scale set
# resource does not report addresses, so they are read from the instance NIC listing that the
# Network resource provider serves under the scale set (the API that Consul's own Azure
# cloud auto-join uses; it only exists at api-version 2018-10-01). Read at apply time after a
# scale set changes, and on every later plan/refresh, so the output follows what the instance
# actually got.
# ---------------------------------------------------------------------------------------------
data "azapi_resource_list" "server_nics" {
  for_each = azapi_resource.server

  type                   = local.api.scale_set_nics
  parent_id              = each.value.id
  response_export_values = ["value"]
}

locals {
  nic_listings = {
    for name, listing in data.azapi_resource_list.server_nics :
    name => try(jsondecode(listing.output), listing.output)
  }

  private_addresses = {
    for name, listing in local.nic_listings : name => try(
      [
        for nic in listing.value : [
          for ip in nic.properties.ipConfigurations : ip.properties.privateIPAddress
          if try(ip.properties.primary, true)
        ][0]
        if try(nic.properties.primary, true)
      ][0],
      null
    )
  }
}
