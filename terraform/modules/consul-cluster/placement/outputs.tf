output "servers" {
  description = "One object per server, index order: index, name, zone, host_config (object) and custom_data (base64 of the JSON host_config)."
  value = [
    for i, server in local.servers : merge(server, {
      host_config = local.host_configs[i]
      custom_data = base64encode(jsonencode(local.host_configs[i]))
    })
  ]
}

output "names" {
  description = "Server names, index order."
  value       = [for server in local.servers : server.name]
}

output "zones" {
  description = "Availability zone of each server as a string (\"1\", \"2\", \"3\"), index order."
  value       = [for server in local.servers : server.zone]
}
