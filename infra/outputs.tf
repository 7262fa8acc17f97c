output "service_urls" {
  description = "URL of every function's service, by target (feed to `opsplane verify-deployment --services-json`)."
  value       = { for target, service in google_cloud_run_v2_service.this : target => service.uri }
}

output "bucket" {
  description = "The state bucket."
  value       = google_storage_bucket.state.name
}

output "store_url" {
  description = "OPSPLANE_STORE of the deployment (use it with the CLI)."
  value       = local.common_env.OPSPLANE_STORE
}

output "queue_url" {
  description = "OPSPLANE_QUEUE of the deployment (use it with the CLI)."
  value       = local.common_env.OPSPLANE_QUEUE
}

output "image_repository" {
  description = "Where Cloud Build pushes the image."
  value       = "${var.region}-docker.pkg.dev/${var.project_id}/${google_artifact_registry_repository.images.repository_id}"
}

output "oidc_audience" {
  description = "Audience of the OIDC tokens Cloud Tasks and Cloud Scheduler send."
  value       = local.oidc_audience
}

output "service_accounts" {
  description = "Service account of every function, by target."
  value       = { for target, account in google_service_account.service : target => account.email }
}

output "secrets" {
  description = "Secret Manager secret ids, by environment variable; add real values with `gcloud secrets versions add`."
  value       = { for key, secret in google_secret_manager_secret.this : local.secrets[key].env => secret.secret_id }
}

output "image" {
  description = "The image the services run (make plan reuses it)."
  value       = var.image
}

output "operator_env" {
  description = "Environment for running the opsplane CLI against this deployment (store, queue, delivery settings)."
  value = {
    for name in [
      "OPSPLANE_STORE", "OPSPLANE_QUEUE", "TASKS_QUEUE_NAME", "TASKS_TARGET_BASE_URL",
      "TASKS_OIDC_SERVICE_ACCOUNT", "TASKS_OIDC_AUDIENCE", "TASKS_MAX_ATTEMPTS", "WORKER_CALLBACK_URL",
    ] : name => local.common_env[name]
  }
}
