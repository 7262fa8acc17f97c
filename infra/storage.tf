# The one bucket all state lives in (runs, leases, dead letters, reports,
# latency samples, exports). Private, uniform access, versioned so an
# operator's mistaken delete or overwrite can be undone for a week.
resource "google_storage_bucket" "state" {
  #checkov:skip=CKV_GCP_62:Access is audited through Data Access audit logs; a second log bucket would only duplicate them.
  name     = local.bucket_name
  location = var.region

  uniform_bucket_level_access = true
  public_access_prevention    = "enforced"
  force_destroy               = false

  versioning {
    enabled = true
  }

  # Compare-and-swap writes (leases, heartbeats) leave noncurrent versions
  # behind; keep them only as long as they are useful for recovery.
  lifecycle_rule {
    action {
      type = "Delete"
    }
    condition {
      days_since_noncurrent_time = 7
      with_state                 = "ARCHIVED"
    }
  }

  # Retention of what the jobs write (local.retention_days). The jobs prune
  # on their own schedule; these rules catch whatever a failed job left.
  dynamic "lifecycle_rule" {
    for_each = local.retention_days
    content {
      action {
        type = "Delete"
      }
      condition {
        age            = lifecycle_rule.value
        matches_prefix = [lifecycle_rule.key]
        with_state     = "ANY"
      }
    }
  }

  depends_on = [google_project_service.enabled]
}
