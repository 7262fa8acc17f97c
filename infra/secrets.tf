# Secret Manager secrets exposed to the functions as environment variables.
# Terraform creates each secret with a random placeholder version so the
# first deploy starts (Cloud Run refuses a secret without a version) while
# nobody knows a usable value; operators add the real value as a new
# version (docs/deploy.md) and it is picked up by the next revision.

resource "google_secret_manager_secret" "this" {
  for_each = local.secrets

  secret_id = "${var.name}-${replace(each.key, "_", "-")}"
  labels = {
    env-var = lower(replace(each.value.env, "_", "-"))
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "random_password" "placeholder" {
  for_each = local.secrets

  length  = 48
  special = false
}

resource "google_secret_manager_secret_version" "placeholder" {
  for_each = local.secrets

  secret      = google_secret_manager_secret.this[each.key].id
  secret_data = "placeholder-${random_password.placeholder[each.key].result}"

  lifecycle {
    # Real values are added outside Terraform; never roll them back.
    ignore_changes = [secret_data, enabled]
  }
}

# Configuration documents mounted as files (local.config_files). Not secret,
# but Secret Manager is how Cloud Run mounts a file; Terraform owns the value.
resource "google_secret_manager_secret" "config" {
  for_each = local.config_files

  secret_id = "${var.name}-config-${each.key}"
  labels = {
    env-var = lower(replace(each.value.env, "_", "-"))
  }

  replication {
    auto {}
  }

  depends_on = [google_project_service.enabled]
}

resource "google_secret_manager_secret_version" "config" {
  for_each = local.config_files

  secret      = google_secret_manager_secret.config[each.key].id
  secret_data = each.value.content
}

resource "google_secret_manager_secret_iam_member" "config_accessor" {
  for_each = local.config_files

  secret_id = google_secret_manager_secret.config[each.key].id
  role      = "roles/secretmanager.secretAccessor"
  member    = "serviceAccount:${google_service_account.service[each.value.target].email}"
}
