output "server_names" {
  value = module.cluster.server_names
}

output "server_zones" {
  value = module.cluster.server_zones
}

output "private_addresses" {
  value = module.cluster.private_addresses
}

output "servers" {
  value = module.cluster.servers
}

output "public_ip_address" {
  value = module.cluster.public_ip_address
}
