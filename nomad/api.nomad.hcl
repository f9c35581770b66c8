# The control plane's API (REST and gRPC) as HCS ran it on Nomad: two or more stateless replicas
# on one PostgreSQL store and one Temporal cluster, registered in Consul, rolled out canary first.
# Secrets reach the process only through Vault templates (workload identity); nothing secret is
# written in this file. See nomad/README.md for the Vault roles and policies this job needs.

variable "datacenters" {
  type    = list(string)
  default = ["dc1"]
}

variable "artifact_url" {
  type        = string
  description = "The release tarball: dist/ from npm run build, node_modules (production only), package.json."
}

variable "artifact_checksum" {
  type        = string
  description = "sha256:<hex> of the tarball."
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
  default = "hcs-api"
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

job "hcs-api" {
  type        = "service"
  datacenters = var.datacenters

  # One canary per deployment; it must pass its checks for min_healthy_time before the rest
  # follow. A deployment that does not become healthy goes back to the last good version.
  update {
    max_parallel      = 1
    canary            = 1
    auto_promote      = true
    auto_revert       = true
    health_check      = "checks"
    min_healthy_time  = "20s"
    healthy_deadline  = "3m"
    progress_deadline = "10m"
  }

  group "api" {
    count = 2

    # Replicas on different machines: losing one host leaves the other replica serving.
    constraint {
      operator = "distinct_hosts"
      value    = "true"
    }

    network {
      port "rest" {}
      port "grpc" {}
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

    service {
      name     = "hcs-api"
      provider = "consul"
      port     = "rest"
      tags     = ["rest"]

      # Readiness: the store and Temporal answer. A failing replica leaves the catalogue (and the
      # load balancer) but is not restarted for it: its dependencies are what is down.
      check {
        name            = "ready"
        type            = "http"
        protocol        = "https"
        path            = "/readyz"
        interval        = "10s"
        timeout         = "3s"
        tls_server_name = "hcs-api.service.consul"
      }

      # Liveness: the process answers at all; three misses in a row restart it.
      check {
        name            = "alive"
        type            = "http"
        protocol        = "https"
        path            = "/healthz"
        interval        = "10s"
        timeout         = "3s"
        tls_server_name = "hcs-api.service.consul"

        check_restart {
          limit = 3
          grace = "30s"
        }
      }
    }

    service {
      name     = "hcs-api-grpc"
      provider = "consul"
      port     = "grpc"
      tags     = ["grpc"]

      # The gRPC health service follows readiness.
      check {
        name            = "grpc-ready"
        type            = "grpc"
        grpc_use_tls    = true
        interval        = "10s"
        timeout         = "3s"
        tls_server_name = "hcs-api.service.consul"
      }
    }

    task "api" {
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

      config {
        command = "node"
        args    = ["${NOMAD_TASK_DIR}/hcs/dist/apps/control-plane/src/api-main.js"]
      }

      # SIGTERM closes the listeners and the store in order (apps/control-plane/src/run.ts).
      kill_signal  = "SIGTERM"
      kill_timeout = "30s"

      # A Vault token for this task from its workload identity (no token in the job).
      vault {
        role        = var.vault_role
        change_mode = "restart"
      }

      env {
        HCS_API_HOST                  = "${NOMAD_IP_rest}"
        HCS_API_PORT                  = "${NOMAD_PORT_rest}"
        HCS_GRPC_PORT                 = "${NOMAD_PORT_grpc}"
        HCS_API_TLS_CERT_FILE         = "${NOMAD_SECRETS_DIR}/api.crt"
        HCS_API_TLS_KEY_FILE          = "${NOMAD_SECRETS_DIR}/api.key"
        HCS_TEMPORAL_NAMESPACE        = var.temporal_namespace
        HCS_TEMPORAL_TLS_CA_FILE      = "${NOMAD_SECRETS_DIR}/temporal-ca.pem"
        HCS_TEMPORAL_TLS_CERT_FILE    = "${NOMAD_SECRETS_DIR}/temporal-client.crt"
        HCS_TEMPORAL_TLS_KEY_FILE     = "${NOMAD_SECRETS_DIR}/temporal-client.key"
        HCS_TEMPORAL_TLS_SERVER_NAME  = "${var.temporal_service}.service.consul"
        HCS_CONSUL_CATALOGUE          = var.consul_catalogue
        HCS_LOG_LEVEL                 = "info"
        # Each replica keeps its own token buckets: with count = 2 these are half the defaults, so a
        # caller spread over both replicas by the load balancer gets about the default 20/s and 100.
        HCS_RATE_LIMIT_PER_SECOND     = "10"
        HCS_RATE_LIMIT_BURST          = "50"
        HCS_PAYLOAD_KEYS_FILE         = "${NOMAD_SECRETS_DIR}/payload-keys"
        HCS_AUTH_FILE                 = "${NOMAD_SECRETS_DIR}/auth.json"
      }

      # Where Temporal's frontend is, from Consul's catalogue.
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

      # The store: a short-lived PostgreSQL login from Vault's database secrets engine and the
      # server from Consul's catalogue, certificate-checked against the PKI's CA. HCS_DATABASE is
      # still one inline JSON setting, so it comes as an environment file the task alone reads.
      template {
        data        = <<-EOT
          {{- with secret "database/creds/hcs-api" }}{{ $user := .Data.username }}{{ $password := .Data.password -}}
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

      # The API's callers (ARM's certificate thumbprints and token issuers, operator token hashes)
      # from Vault's KV, as the HCS_AUTH JSON in a file only this task reads.
      template {
        data        = <<-EOT
          {{ with secret "kv/data/hcs/control-plane" }}{{ .Data.data.auth }}{{ end }}
        EOT
        destination = "secrets/auth.json"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        change_mode = "restart"
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

      # The API's own TLS certificate from Vault PKI, for the name Consul gives it and this
      # allocation's address (the checks and the load balancer connect to the address).
      template {
        data        = <<-EOT
          {{ with secret "pki_int/issue/hcs-api" "common_name=hcs-api.service.consul" (printf "ip_sans=%s" (env "NOMAD_IP_rest")) "ttl=72h" }}{{ .Data.certificate }}
          {{ .Data.issuing_ca }}{{ end }}
        EOT
        destination = "secrets/api.crt"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        change_mode = "restart"
      }

      template {
        data        = <<-EOT
          {{ with secret "pki_int/issue/hcs-api" "common_name=hcs-api.service.consul" (printf "ip_sans=%s" (env "NOMAD_IP_rest")) "ttl=72h" }}{{ .Data.private_key }}{{ end }}
        EOT
        destination = "secrets/api.key"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        change_mode = "restart"
      }

      # Mutual TLS to Temporal's frontend: a client certificate from Vault PKI and the CA that
      # signs the frontend's certificate.
      template {
        data        = <<-EOT
          {{ with secret "pki_int/issue/hcs-temporal-client" "common_name=hcs-api.temporal-client" "ttl=72h" }}{{ .Data.certificate }}{{ end }}
        EOT
        destination = "secrets/temporal-client.crt"
        perms       = "0600"
        uid         = var.task_uid
        gid         = var.task_gid
        change_mode = "restart"
      }

      template {
        data        = <<-EOT
          {{ with secret "pki_int/issue/hcs-temporal-client" "common_name=hcs-api.temporal-client" "ttl=72h" }}{{ .Data.private_key }}{{ end }}
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

      # Sized from measurement (nomad/README.md, Resources): 155-164 MiB RSS, at most 0.21 of a
      # 2.1 GHz core under load on a contended machine.
      resources {
        cpu        = 500
        memory     = 256
        memory_max = 512
      }
    }
  }
}
