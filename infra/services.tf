# One Cloud Run service per function target, all from the same image;
# FUNCTION_TARGET picks the function (see Dockerfile).
resource "google_cloud_run_v2_service" "this" {
  for_each = local.service_settings

  name                = local.service_names[each.key]
  location            = var.region
  ingress             = "INGRESS_TRAFFIC_ALL"
  deletion_protection = false
  # Cloud Tasks and Cloud Scheduler mint tokens for one shared audience,
  # which the code checks too (TASKS_OIDC_AUDIENCE).
  custom_audiences = [local.oidc_audience]

  template {
    service_account                  = google_service_account.service[each.key].email
    timeout                          = "${each.value.timeout_seconds}s"
    max_instance_request_concurrency = each.value.concurrency
    execution_environment            = "EXECUTION_ENVIRONMENT_GEN2"

    scaling {
      min_instance_count = each.value.min_instances
      max_instance_count = each.value.max_instances
    }

    dynamic "volumes" {
      for_each = { for key, file in local.config_files : key => file if file.target == each.key }
      content {
        name = "config-${volumes.key}"
        secret {
          secret = google_secret_manager_secret.config[volumes.key].secret_id
          items {
            version = google_secret_manager_secret_version.config[volumes.key].version
            path    = volumes.value.file
            mode    = 292 # 0444: read-only for the non-root user
          }
        }
      }
    }

    containers {
      image = var.image

      ports {
        container_port = 8080
      }

      resources {
        limits = {
          cpu    = each.value.cpu
          memory = each.value.memory
        }
        cpu_idle          = true
        startup_cpu_boost = true
      }

      # FUNCTION_TARGET picks the function; THREADS sizes functions-framework's
      # gunicorn threads to Cloud Run's concurrency (local.service_env).
      dynamic "env" {
        for_each = local.service_env[each.key]
        content {
          name  = env.key
          value = env.value
        }
      }

      dynamic "env" {
        for_each = toset(each.value.secrets)
        content {
          name = local.secrets[env.value].env
          value_source {
            secret_key_ref {
              secret  = google_secret_manager_secret.this[env.value].secret_id
              version = "latest"
            }
          }
        }
      }

      dynamic "volume_mounts" {
        for_each = { for key, file in local.config_files : key => file if file.target == each.key }
        content {
          name       = "config-${volume_mounts.key}"
          mount_path = volume_mounts.value.dir
        }
      }

      startup_probe {
        tcp_socket {
          port = 8080
        }
        initial_delay_seconds = 0
        period_seconds        = 2
        failure_threshold     = 15
        timeout_seconds       = 1
      }
    }
  }

  depends_on = [
    google_project_service.enabled,
    google_secret_manager_secret_iam_member.accessor,
    google_secret_manager_secret_iam_member.config_accessor,
    google_secret_manager_secret_version.placeholder,
    google_storage_bucket_iam_member.state_object_admin,
  ]
}
