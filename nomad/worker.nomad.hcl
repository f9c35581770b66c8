# The control plane's Temporal worker as HCS ran it on Nomad: two or more stateless replicas
# polling one task queue; each runs the workflows and the activities (Vault PKI, Blob, terraform
# against Azure Resource Manager, DNS, ACME). It reaches Azure with the machine's managed
# identity (no client secret, no account key) and everything secret through Vault templates
# (workload identity). See nomad/README.md for the Vault roles and policies this job needs.

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "artifact_url" {
  type        = string
  description = "The release tarball: dist/ from npm run build (with the Terraform modules in dist/terraform), node_modules (production only), package.json."
}

variable "artifact_checksum" {
  type        = string
  description = "sha256:<hex> of the tarball."
}

variable "terraform_artifact_url" {
  type        = string
  description = "terraform and the azapi provider's filesystem mirror (the tool cache's terraform binary and mirror folder)."
}

variable "terraform_artifact_checksum" {
  type = string
}

variable "task_user" {
  type        = string
  description = "The Nomad clients' user the task runs as; its secret files are owned by it."
  default     = "hcs"
}

variable "task_uid" {
  type        = number
  description = "Numeric id of task_user on the clients."
}

variable "task_gid" {
  type        = number
  description = "Numeric group id of task_user on the clients."
}

variable "vault_role" {
  type    = string
  default = "hcs-worker"
}

variable "vault_address" {
  type    = string
  default = "https://vault.service.consul:8200"
}

variable "temporal_service" {
  type    = string
  default = "temporal-frontend"
}

variable "temporal_namespace" {
  type    = string
  default = "hcs"
}

variable "postgres_service" {
  type    = string
  default = "hcs-postgres"
}

variable "otlp_service" {
  type        = string
  description = "Consul service of the OTLP/gRPC trace collector."
  default     = "otel-collector"
}

variable "consul_catalogue" {
  type        = string
  description = "HCS_CONSUL_CATALOGUE: the Consul versions offered, as JSON."
  default     = "[{\"version\":\"1.22.7\",\"status\":\"RECOMMENDED\"},{\"version\":\"1.22.5\",\"status\":\"AVAILABLE\"}]"
}

variable "azure_tenant_id" {
  type = string
}

variable "azure_subscription_id" {
  type = string
}

variable "managed_identity_client_id" {
  type        = string
  description = "Client id of the Nomad clients' user-assigned managed identity (Blob, Resource Manager, DNS)."
}

variable "blob_url" {
  type = string
}

variable "storage_account_id" {
  type = string
}

variable "admin_ssh_public_key" {
  type = string
}

variable "dns_resource_group" {
  type = string
}

variable "dns_zone" {
  type = string
}

variable "acme_directory_url" {
  type    = string
  default = "https://acme-v02.api.letsencrypt.org/directory"
}

variable "acme_contact_email" {
  type = string
}

job "hcs-worker" {
  type        = "service"
  datacenters = var.datacenters

  # One canary first: it must be ready (store and Temporal answer, polling its task queue) for
  # min_healthy_time before the others are replaced; a version that does not become healthy goes
  # back. Temporal retries what a stopped worker was running on another one.
  update {
    max_parallel      = 1
    canary            = 1
    auto_promote      = true
    auto_revert       = true
    health_check      = "checks"
    min_healthy_time  = "30s"
    healthy_deadline  = "5m"
    progress_deadline = "15m"
  }

  group "worker" {
    count = 2

    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    # The worker's ops server: /readyz, /healthz and /metrics (plain HTTP; no tenant data).
    network {
      port "ops" {}
    }

    service {
      name     = "hcs-worker"
      provider = "consul"
      port     = "ops"
      tags     = ["metrics"]

      # Readiness: store and Temporal answer and the worker polls. Not a reason to restart it.
      check {
        name     = "ready"
        type     = "http"
        path     = "/readyz"
        interval = "10s"
        timeout  = "3s"
      }

      check {
        name     = "alive"
        type     = "http"
        path     = "/healthz"
        interval = "10s"
        timeout  = "3s"

        check_restart {
          limit = 3
          grace = "60s"
        }
      }
    }

    restart {
      attempts = 3
      interval = "5m"
      delay    = "15s"
      mode     = "delay"
    }

    reschedule {
      delay          = "30s"
      delay_function = "exponential"
      max_delay      = "10m"
      unlimited      = true
    }

    task "worker" {
      driver = "exec"
      # A user of its own: the secret files are owner-only and owned by it (uid/gid below).
      user = var.task_user

      artifact {
        source      = var.artifact_url
        destination = "local/hcs"
        options {
          checksum = var.artifact_checksum
        }
      }

      artifact {
        source      = var.terraform_artifact_url
        destination = "local/terraform"
        options {
          checksum = var.terraform_artifact_checksum
        }
      }

      config {
        command = "node"
        args    = ["${NOMAD_TASK_DIR}/hcs/dist/apps/control-plane/src/worker-main.js"]
      }

      # SIGTERM lets the worker finish its running activities' heartbeats and stop polling; a
      # terraform apply cut short is resumed by the activity's retry on another worker.
      kill_signal  = "SIGTERM"
      kill_timeout = "2m"

      vault {
        role        = var.vault_role
        change_mode = "restart"
      }

      env {
        HCS_TEMPORAL_NAMESPACE             = var.temporal_namespace
        HCS_TEMPORAL_TLS_CA_FILE           = "${NOMAD_SECRETS_DIR}/temporal-ca.pem"
        HCS_TEMPORAL_TLS_CERT_FILE         = "${NOMAD_SECRETS_DIR}/temporal-client.crt"
        HCS_TEMPORAL_TLS_KEY_FILE          = "${NOMAD_SECRETS_DIR}/temporal-client.key"
        HCS_TEMPORAL_TLS_SERVER_NAME       = "${var.temporal_service}.service.consul"
        HCS_CONSUL_CATALOGUE               = var.consul_catalogue
        HCS_LOG_LEVEL                      = "info"
        HCS_PAYLOAD_KEYS_FILE              = "${NOMAD_SECRETS_DIR}/payload-keys"
        HCS_FLEET_UPGRADE_INTERVAL_SECONDS = "3600"
        HCS_WORKER_OPS_HOST                = "${NOMAD_IP_ops}"
        HCS_WORKER_OPS_PORT                = "${NOMAD_PORT_ops}"
      }

      template {
        data        = <<-EOT
          {{- with service "${var.temporal_service}" }}{{ with index . 0 -}}
          HCS_TEMPORAL_ADDRESS={{ .Address }}:{{ .Port }}
          {{- end }}{{ end }}
        EOT
        destination = "local/temporal.env"
        env         = true
        change_mode = "restart"
        splay       = "30s"
      }

      # Traces to the OTLP collector Consul knows of; none registered: no tracing.
      template {
        data        = <<-EOT
          {{- with service "${var.otlp_service}" }}{{ with index . 0 -}}
          OTEL_EXPORTER_OTLP_ENDPOINT=http://{{ .Address }}:{{ .Port }}
          {{- end }}{{ end }}
        EOT
        destination = "local/otlp.env"
        env         = true
        change_mode = "restart"
        splay       = "30s"
      }

      # The store, as for the API: a short-lived login from Vault's database secrets engine.
      template {
        data        = <<-EOT
          {{- with secret "database/creds/hcs-worker" }}{{ $user := .Data.username }}{{ $password := .Data.password -}}
          {{- with service "${var.postgres_service}" }}{{ with index . 0 -}}
          HCS_DATABASE={{ printf `{"kind":"postgres","url":"postgres://%s:%s@%s:%d/hcs?sslmode=verify-full&sslrootcert=/secrets/postgres-ca.pem"}` $user ($password | urlquery) .Address .Port | toJSON }}
          {{- end }}{{ end }}{{ end }}
        EOT
        destination = "secrets/database.env"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        env         = true
        change_mode = "restart"
        splay       = "30s"
      }

      # Temporal payload encryption keys (the first encrypts), a file only this task reads.
      template {
        data        = <<-EOT
          {{ with secret "kv/data/hcs/control-plane" }}{{ .Data.data.payload_keys }}{{ end }}
        EOT
        destination = "secrets/payload-keys"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        change_mode = "restart"
        # A key change restarts the replicas spread over two minutes, not all at once
        # (docs/runbooks/payload-key-rotation.md waits for every replica before the next step).
        splay = "120s"
      }

      # What the worker builds clusters with. It holds no secret: secrets are files (the Vault
      # token, terraform's state login) that the templates below render from Vault; Azure is
      # reached with the managed identity, so there is no client secret or account key to hand out.
      template {
        data        = <<-EOT
          HCS_LIFECYCLE={{ printf `{"vault":{"address":"${var.vault_address}","tokenFile":"/secrets/vault-token","pkiMount":"pki-hcs-root","transitMount":"transit"},"blob":{"url":"${var.blob_url}","clientId":"${var.managed_identity_client_id}"},"cloud":{"tenantId":"${var.azure_tenant_id}","subscriptionId":"${var.azure_subscription_id}","clientId":"${var.managed_identity_client_id}","storageAccountId":"${var.storage_account_id}","adminSshPublicKey":"${var.admin_ssh_public_key}"},"terraform":{"binary":"/local/terraform/terraform","cliConfigFile":"/local/terraformrc","workRoot":"/local/runs","backend":{"kind":"pg","connStrFile":"/secrets/tfstate-conn"},"moduleDir":"/local/hcs/dist/terraform","root":"azure"},"dns":{"kind":"azure","subscriptionId":"${var.azure_subscription_id}","resourceGroup":"${var.dns_resource_group}","zone":"${var.dns_zone}","tenantId":"${var.azure_tenant_id}","clientId":"${var.managed_identity_client_id}"},"acme":{"directoryUrl":"${var.acme_directory_url}","contactEmail":"${var.acme_contact_email}"}}` | toJSON }}
        EOT
        destination = "local/lifecycle.env"
        env         = true
        change_mode = "restart"
        splay       = "30s"
      }

      # Terraform's state login: a short-lived login from Vault's database secrets engine, as a
      # connection string in a file only this task reads.
      template {
        data        = <<-EOT
          {{- with secret "database/creds/hcs-worker-tfstate" }}{{ $user := .Data.username }}{{ $password := .Data.password -}}
          {{- with service "${var.postgres_service}" }}{{ with index . 0 -}}
          {{ printf "postgres://%s:%s@%s:%d/hcs_tfstate?sslmode=verify-full&sslrootcert=/secrets/postgres-ca.pem" $user ($password | urlquery) .Address .Port }}
          {{- end }}{{ end }}{{ end }}
        EOT
        destination = "secrets/tfstate-conn"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        change_mode = "restart"
        splay       = "30s"
      }

      # The task's own Vault token (from its workload identity), copied owner-only: Nomad writes
      # secrets/vault_token readable by every user of the task, which the worker refuses for a
      # secret file. Re-rendered (and the worker restarted) when Nomad derives a new token.
      template {
        data        = <<-EOT
          {{ file "secrets/vault_token" }}
        EOT
        destination = "secrets/vault-token"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        change_mode = "restart"
      }

      # terraform's CLI configuration: providers only from the mirror shipped in the artifact.
      template {
        data        = <<-EOT
          provider_installation {
            filesystem_mirror {
              path    = "/local/terraform/mirror"
              include = ["hcs.internal/*/*"]
            }
          }
        EOT
        destination = "local/terraformrc"
      }

      template {
        data        = <<-EOT
          {{ with secret "pki_int/issue/hcs-temporal-client" "common_name=hcs-worker.temporal-client" "ttl=72h" }}{{ .Data.certificate }}{{ end }}
        EOT
        destination = "secrets/temporal-client.crt"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        change_mode = "restart"
      }

      template {
        data        = <<-EOT
          {{ with secret "pki_int/issue/hcs-temporal-client" "common_name=hcs-worker.temporal-client" "ttl=72h" }}{{ .Data.private_key }}{{ end }}
        EOT
        destination = "secrets/temporal-client.key"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        change_mode = "restart"
      }

      template {
        data        = <<-EOT
          {{ with secret "pki_int/cert/ca_chain" }}{{ .Data.certificate }}{{ end }}
        EOT
        destination = "secrets/temporal-ca.pem"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        change_mode = "restart"
      }

      template {
        data        = <<-EOT
          {{ with secret "pki_int/cert/ca_chain" }}{{ .Data.certificate }}{{ end }}
        EOT
        destination = "secrets/postgres-ca.pem"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        change_mode = "restart"
      }

      # Sized from measurement (nomad/README.md, Resources): the node process 261-292 MiB RSS;
      # each terraform run adds its own processes (65 MiB for terraform itself; the azapi
      # provider's share was not measured here, so the rest is an allowance for a few runs at once).
      resources {
        cpu        = 1000
        memory     = 768
        memory_max = 1536
      }
    }
  }
}
