# Cloud Scheduler calls the periodic functions with an OIDC token for the
# scheduler identity (allowed by TASKS_OIDC_ALLOWED_EMAILS and run.invoker).
resource "google_cloud_scheduler_job" "this" {
  for_each = local.schedules

  name             = "${var.name}-${each.key}"
  region           = var.region
  schedule         = each.value.schedule
  time_zone        = var.scheduler_time_zone
  attempt_deadline = each.value.deadline
  description      = "${each.value.method} ${each.value.path} on ${local.service_names[each.value.target]}"

  retry_config {
    retry_count          = 1
    min_backoff_duration = "10s"
    max_backoff_duration = "60s"
  }

  http_target {
    http_method = each.value.method
    uri         = "${google_cloud_run_v2_service.this[each.value.target].uri}${each.value.path}"
    headers = {
      "Content-Type" = "application/json"
    }
    body = base64encode("{}")

    oidc_token {
      service_account_email = google_service_account.scheduler.email
      audience              = local.oidc_audience
    }
  }

  depends_on = [google_cloud_run_v2_service_iam_member.invoker]
}
