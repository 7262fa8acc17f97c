# The queue POST /runs enqueues into and Cloud Tasks delivers from to
# execute_task (TASKS_TARGET_BASE_URL). Its retry settings are passed to the
# code as TASKS_* variables (main.tf), so both agree on when a task is spent.
resource "google_cloud_tasks_queue" "tasks" {
  name     = local.queue_name
  location = var.region

  rate_limits {
    max_dispatches_per_second = var.tasks_max_dispatches_per_second
    max_concurrent_dispatches = var.tasks_max_concurrent_dispatches
  }

  retry_config {
    max_attempts  = var.tasks_max_attempts
    min_backoff   = "${var.tasks_min_backoff_seconds}s"
    max_backoff   = "${var.tasks_max_backoff_seconds}s"
    max_doublings = var.tasks_max_doublings
  }

  # Every delivery carries an OIDC token for the tasks identity and the shared
  # audience, even if a task was created without one.
  http_target {
    oidc_token {
      service_account_email = google_service_account.tasks_invoker.email
      audience              = local.oidc_audience
    }
  }

  stackdriver_logging_config {
    sampling_ratio = 1.0
  }

  depends_on = [google_project_service.enabled]
}
