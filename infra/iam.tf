# Least privilege: every function runs as its own service account with
# access to the state bucket only; only the functions that enqueue may use
# the queue and act as the tasks identity; each secret is readable only by
# the functions that need it; private functions are invokable only by the
# Cloud Tasks / Cloud Scheduler identities and var.invokers.

resource "google_service_account" "service" {
  for_each = local.services

  account_id   = local.service_names[each.key]
  display_name = "opsplane ${each.key} function"
}

# The identity Cloud Tasks signs task deliveries as (OIDC token).
resource "google_service_account" "tasks_invoker" {
  account_id   = "${var.name}-tasks-invoker"
  display_name = "opsplane Cloud Tasks deliveries"
}

# The identity Cloud Scheduler signs its calls as (OIDC token).
resource "google_service_account" "scheduler" {
  account_id   = "${var.name}-scheduler"
  display_name = "opsplane Cloud Scheduler jobs"
}

locals {
  caller_members = {
    tasks     = "serviceAccount:${google_service_account.tasks_invoker.email}"
    scheduler = "serviceAccount:${google_service_account.scheduler.email}"
  }

  enqueuers = toset([for target, s in local.services : target if s.enqueues])

  invoker_bindings = merge(
    {
      for pair in flatten([
        for target, s in local.services : [
          for member in concat([for c in s.callers : local.caller_members[c]], var.invokers) :
          { key = "${target}/${member}", target = target, member = member }
        ] if !s.public
      ]) : pair.key => pair
    },
    {
      for target, s in local.services : "${target}/allUsers" => { target = target, member = "allUsers" } if s.public
    },
  )

  secret_bindings = {
    for pair in flatten([
      for target, s in local.services : [
        for secret in s.secrets : { key = "${target}/${secret}", target = target, secret = secret }
      ]
    ]) : pair.key => pair
  }
}

resource "google_storage_bucket_iam_member" "state_object_admin" {
  for_each = local.services

  bucket = google_storage_bucket.state.name
  role   = "roles/storage.objectAdmin"
  member = "serviceAccount:${google_service_account.service[each.key].email}"
}

resource "google_cloud_tasks_queue_iam_member" "enqueuer" {
  for_each = local.enqueuers

  project  = var.project_id
  location = var.region
  name     = google_cloud_tasks_queue.tasks.name
  role     = "roles/cloudtasks.enqueuer"
  member   = "serviceAccount:${google_service_account.service[each.key].email}"
}

# Creating a task with an OIDC token for the tasks identity requires actAs on it.
resource "google_service_account_iam_member" "act_as_tasks_invoker" {
  for_each = local.enqueuers

  service_account_id = google_service_account.tasks_invoker.name
  role               = "roles/iam.serviceAccountUser"
  member             = "serviceAccount:${google_service_account.service[each.key].email}"
}

resource "google_secret_manager_secret_iam_member" "accessor" {
  for_each = local.secret_bindings

  secret_id = google_secret_manager_secret.this[each.value.secret].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.service[each.value.target].email}"
}

resource "google_cloud_run_v2_service_iam_member" "invoker" {
  for_each = local.invoker_bindings

  project  = var.project_id
  location = var.region
  name     = google_cloud_run_v2_service.this[each.value.target].name
  role     = "roles/run.invoker"
  member   = each.value.member
}
