output "server_names" {
  description = "Server (scale set) names, index order: <cluster_name>-server-<i>."
  value       = module.placement.names
}

output "server_zones" {
  description = "Availability zone of each server as a string, index order (5 servers: 1, 2, 3, 1, 2)."
  value       = module.placement.zones
}

output "private_addresses" {
  description = "Private IPv4 address of each server by server name, as reported by the scale set's instance NIC listing; null while an instance reports none."
  value       = local.private_addresses
}

output "servers" {
  description = "One object per server, index order: index, name, zone, scale_set_id and private_address."
  value = [
    for server in module.placement.servers : {
      index           = server.index
      name            = server.name
      zone            = server.zone
      scale_set_id    = azapi_resource.server[server.name].id
      private_address = local.private_addresses[server.name]
    }
  ]
}

output "public_ip_address" {
  description = "The public endpoint's address: the Standard public IP of the load balancer that forwards TCP 443 to 8501 on every server (read back from the public IP). null for a private cluster."
  value       = local.public_ip_address
}

output "public_ip_id" {
  description = "Id of that public IP; null for a private cluster."
  value       = one(azapi_resource.public_ip[*].id)
}

output "load_balancer_id" {
  description = "Id of the public endpoint's load balancer; null for a private cluster."
  value       = one(azapi_resource.load_balancer[*].id)
}

output "resource_group_id" {
  description = "Id of the cluster's resource group (created or given)."
  value       = local.parent_id
}

output "vnet_id" {
  description = "Id of the cluster VNet."
  value       = azapi_resource.vnet.id
}

output "subnet_id" {
  description = "Id of the servers' subnet."
  value       = local.subnet_id
}

output "subnet_cidr" {
  description = "Address range of the servers' subnet (the first quarter of vnet_cidr)."
  value       = local.subnet_cidr
}

output "nsg_id" {
  description = "Id of the servers' network security group."
  value       = azapi_resource.nsg.id
}

output "identity_id" {
  description = "Resource id of the servers' user-assigned identity."
  value       = azapi_resource.identity.id
}

output "identity_client_id" {
  description = "Client id of that identity (also in each server's customData)."
  value       = local.identity.client_id
}

output "identity_principal_id" {
  description = "Principal (object) id of that identity."
  value       = local.identity.principal_id
}

output "role_assignment_id" {
  description = "Id of the Storage Blob Data Reader assignment on the cluster's container."
  value       = azapi_resource.blob_reader.id
}

output "custom_data" {
  description = "customData of each server by name: base64 of the host-manager JSON configuration (paths and ids only)."
  value       = { for name, server in local.servers : name => server.custom_data }
}
