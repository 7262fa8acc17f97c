# The repository the opsplane image is pushed to by Cloud Build.
resource "google_artifact_registry_repository" "images" {
  #checkov:skip=CKV_GCP_84:Images hold no customer data; Google-managed encryption is enough and avoids a KMS key to run.
  location      = var.region
  repository_id = var.name
  description   = "opsplane container images"
  format        = "DOCKER"

  # Every deploy pushes a new tag: keep the recent ones for rollback, drop the rest.
  cleanup_policy_dry_run = false
  cleanup_policies {
    id     = "keep-recent"
    action = "KEEP"
    most_recent_versions {
      keep_count = 20
    }
  }
  cleanup_policies {
    id     = "delete-old"
    action = "DELETE"
    condition {
      tag_state  = "ANY"
      older_than = "7776000s"
    }
  }

  depends_on = [google_project_service.enabled]
}
