# opsplane on Google Cloud: one image, one Cloud Run service per function,
# a Cloud Tasks queue for runs, Cloud Scheduler for the periodic functions,
# one bucket for all state. The tables below are the single place to change
# what runs where; tests/infra checks them against the code.

data "google_project" "this" {
  project_id = var.project_id
}

locals {
  bucket_name = var.bucket_name != "" ? var.bucket_name : "${var.project_id}-${var.name}"

  # Every service accepts OIDC tokens minted for this audience (besides its
  # own URL), so Cloud Tasks, Cloud Scheduler and the code share one value.
  oidc_audience = "https://${var.name}.${var.project_id}.oidc"

  # One entry per functions-framework target in functions/main.py (TARGETS).
  #   paths       the prefixes the target owns (as in TARGETS)
  #   public      true: allUsers may invoke; the function authenticates callers
  #               itself (API tokens, HMAC signatures). false: only the IAM
  #               members in `callers` and var.invokers get through Cloud Run.
  #   callers     "tasks" (the Cloud Tasks OIDC identity) and/or "scheduler"
  #   enqueues    may create Cloud Tasks tasks (enqueuer + actAs the tasks identity)
  #   secrets     keys of local.secrets exposed to it as environment variables
  #   env         extra environment of this service only
  # timeout_seconds of execute_task must cover the dispatch deadline (600 s).
  services = {
    health = {
      paths = ["/health", "/openapi.json"], public = false, callers = [], enqueues = false, secrets = []
      timeout_seconds = 30, concurrency = 80, min_instances = 0, max_instances = 2
      cpu = "1", memory = "512Mi", env = {}
    }
    runs = {
      paths = ["/runs"], public = true, callers = [], enqueues = true
      secrets         = ["api_tokens", "callback_signing_secret"]
      timeout_seconds = 60, concurrency = 40, min_instances = 0, max_instances = 10
      cpu = "1", memory = "512Mi", env = {}
    }
    execute_task = {
      paths = ["/tasks"], public = false, callers = ["tasks"], enqueues = true
      secrets         = ["callback_signing_secret", "github_token"]
      timeout_seconds = 600, concurrency = 8, min_instances = 0, max_instances = 20
      cpu = "1", memory = "1Gi", env = {}
    }
    sweeper = {
      paths = ["/sweeper"], public = false, callers = ["scheduler"], enqueues = true
      secrets         = ["callback_signing_secret"]
      timeout_seconds = 300, concurrency = 1, min_instances = 0, max_instances = 1
      cpu = "1", memory = "512Mi", env = {}
    }
    callbacks = {
      paths = ["/callbacks"], public = true, callers = ["tasks"], enqueues = true
      secrets         = ["callback_signing_secret", "api_tokens"]
      timeout_seconds = 60, concurrency = 40, min_instances = 0, max_instances = 10
      cpu = "1", memory = "512Mi", env = {}
    }
    ops = {
      paths = ["/ops"], public = true, callers = [], enqueues = false
      secrets         = ["api_tokens"]
      timeout_seconds = 60, concurrency = 20, min_instances = 0, max_instances = 3
      cpu = "1", memory = "512Mi", env = {}
    }
    dlq = {
      paths = ["/dlq"], public = true, callers = [], enqueues = true
      secrets         = ["api_tokens", "callback_signing_secret", "github_token"]
      timeout_seconds = 300, concurrency = 10, min_instances = 0, max_instances = 3
      cpu = "1", memory = "512Mi", env = {}
    }
    scheduled = {
      paths = ["/schedule"], public = false, callers = ["scheduler"], enqueues = true
      secrets         = ["github_token", "webhook_secret", "callback_signing_secret"]
      timeout_seconds = 540, concurrency = 1, min_instances = 0, max_instances = 1
      cpu = "1", memory = "1Gi", env = {}
    }
    latency = {
      paths = ["/latency"], public = false, callers = ["scheduler"], enqueues = false
      secrets         = ["webhook_secret"]
      timeout_seconds = 300, concurrency = 1, min_instances = 0, max_instances = 1
      cpu = "1", memory = "512Mi"
      env = {
        OPSPLANE_LATENCY_CONFIG      = var.latency_config_json
        OPSPLANE_LATENCY_WEBHOOK_URL = var.latency_webhook_url
      }
    }
    export = {
      paths = ["/export"], public = false, callers = ["scheduler"], enqueues = false
      secrets         = []
      timeout_seconds = 300, concurrency = 1, min_instances = 0, max_instances = 1
      cpu = "1", memory = "512Mi", env = {}
    }
    # Read-only operations data behind Cloud Run IAM: operators get roles/run.invoker.
    dashboard = {
      paths = ["/dashboard"], public = false, callers = [], enqueues = false
      secrets         = []
      timeout_seconds = 60, concurrency = 20, min_instances = 0, max_instances = 2
      cpu = "1", memory = "512Mi", env = {}
    }
  }

  # Sizing after var.service_overrides.
  service_settings = {
    for target, s in local.services : target => merge(s, {
      min_instances = coalesce(try(var.service_overrides[target].min_instances, null), s.min_instances)
      max_instances = coalesce(try(var.service_overrides[target].max_instances, null), s.max_instances)
      concurrency   = coalesce(try(var.service_overrides[target].concurrency, null), s.concurrency)
      cpu           = coalesce(try(var.service_overrides[target].cpu, null), s.cpu)
      memory        = coalesce(try(var.service_overrides[target].memory, null), s.memory)
    })
  }

  # The full environment of each service: the common part, its own extras,
  # what only it can know, and the paths of its configuration files. Empty
  # values are dropped, so an unset optional variable stays unset.
  service_env = {
    for target, s in local.service_settings : target => {
      for name, value in merge(local.common_env, local.optional_env, s.env, {
        FUNCTION_TARGET   = target
        OPSPLANE_BASE_URL = local.service_urls[target]
        # functions-framework serves with gunicorn threads; match Cloud Run's concurrency,
        # and let the executor's in-flight limit agree with both.
        THREADS                     = tostring(s.concurrency)
        WORKER_MAX_CONCURRENT_TASKS = tostring(s.concurrency)
        }, {
        for key, file in local.config_files : file.env => "${file.dir}/${file.file}" if file.target == target
      }) : name => value if value != ""
    }
  }

  service_names = { for target in keys(local.services) : target => "${var.name}-${replace(target, "_", "-")}" }

  # Cloud Run URLs are deterministic (https://SERVICE-PROJECT_NUMBER.REGION.run.app),
  # so services can name each other without a dependency cycle.
  service_urls = {
    for target, service in local.service_names :
    target => "https://${service}-${data.google_project.this.number}.${var.region}.run.app"
  }

  queue_name = "${var.name}-tasks"
  queue_id   = "projects/${var.project_id}/locations/${var.region}/queues/${local.queue_name}"

  # The queue delivers every task to this target; tests/infra checks the route.
  queue_target = "execute_task"

  # Environment every service gets. Names are the ones the code reads
  # (shared/settings.py, shared/queue/config.py, ...); tests/infra checks both ways.
  common_env = {
    OPSPLANE_STORE                  = "gs://${local.bucket_name}"
    OPSPLANE_QUEUE                  = "cloudtasks://${local.queue_id}"
    OPSPLANE_LOG_LEVEL              = var.log_level
    GOOGLE_CLOUD_PROJECT            = var.project_id
    TASKS_QUEUE_NAME                = local.queue_name
    TASKS_TARGET_BASE_URL           = local.service_urls[local.queue_target]
    TASKS_OIDC_SERVICE_ACCOUNT      = google_service_account.tasks_invoker.email
    TASKS_OIDC_AUDIENCE             = local.oidc_audience
    TASKS_OIDC_ALLOWED_EMAILS       = join(",", [google_service_account.tasks_invoker.email, google_service_account.scheduler.email])
    TASKS_MAX_ATTEMPTS              = tostring(var.tasks_max_attempts)
    TASKS_MIN_BACKOFF_MS            = tostring(var.tasks_min_backoff_seconds * 1000)
    TASKS_MAX_BACKOFF_MS            = tostring(var.tasks_max_backoff_seconds * 1000)
    TASKS_MAX_DOUBLINGS             = tostring(var.tasks_max_doublings)
    TASKS_MAX_DISPATCHES_PER_SECOND = tostring(var.tasks_max_dispatches_per_second)
    TASKS_MAX_CONCURRENT_DISPATCHES = tostring(var.tasks_max_concurrent_dispatches)
    WORKER_CALLBACK_URL             = var.callback_url != "" ? var.callback_url : "${local.service_urls["callbacks"]}/callbacks"
  }

  # Environment set only when the variable behind it is given.
  optional_env = {
    GITHUB_REPOSITORY                = var.github_repository
    OPSPLANE_APPROVERS               = join(",", var.approvers)
    OPSPLANE_COMMIT_SHA              = var.commit_sha
    OPSPLANE_JOB_POLICIES            = var.job_policies_json
    OPSPLANE_API_OIDC_ALLOWED_EMAILS = join(",", var.api_oidc_allowed_emails)
    OPSPLANE_API_OIDC_AUDIENCE       = length(var.api_oidc_allowed_emails) > 0 ? local.oidc_audience : ""
  }

  # Configuration documents a function reads from a file. Cloud Run has no
  # config maps, so each is a Secret Manager secret mounted read-only and
  # pinned to its version (a change rolls out a new revision).
  config_files = {
    schedule = {
      target  = "scheduled"
      env     = "OPSPLANE_SCHEDULE_CONFIG"
      dir     = "/etc/opsplane/schedule"
      file    = "schedule.json"
      content = var.schedule_config_json
    }
  }

  # Secret Manager secrets, the variable each is exposed as, and what it is.
  # Values are never in Terraform: secrets.tf creates a random placeholder
  # version, operators add the real one (docs/deploy.md).
  secrets = {
    api_tokens              = { env = "OPSPLANE_API_TOKENS", description = "API bearer tokens (name=sha256:<hex>, comma separated)" }
    callback_signing_secret = { env = "WORKER_CALLBACK_SIGNING_SECRET", description = "HMAC secret of run callbacks" }
    github_token            = { env = "GITHUB_TOKEN", description = "GitHub token for reports, triage and approvals" }
    webhook_secret          = { env = "OPSPLANE_WEBHOOK_SECRET", description = "HMAC secret of outgoing alert webhooks" }
  }

  # Cloud Scheduler jobs: the target service and the route they call.
  schedules = {
    report-runner = { target = "scheduled", path = "/schedule/run", method = "POST", schedule = var.report_runner_schedule, deadline = "540s" }
    latency       = { target = "latency", path = "/latency/sample", method = "POST", schedule = var.latency_schedule, deadline = "300s" }
    sweeper       = { target = "sweeper", path = "/sweeper", method = "POST", schedule = var.sweeper_schedule, deadline = "300s" }
    export        = { target = "export", path = "/export/dashboard", method = "POST", schedule = var.export_schedule, deadline = "300s" }
  }

  # Object prefixes the code writes and how long the bucket keeps them (days).
  # The jobs prune these themselves; the lifecycle rules are the backstop.
  retention_days = {
    "reports/history/" = 60
    "latency/raw/"     = 14
    "latency/rollups/" = 90
    "exports/history/" = 56
  }

  apis = toset([
    "artifactregistry.googleapis.com",
    "cloudbuild.googleapis.com",
    "cloudscheduler.googleapis.com",
    "cloudtasks.googleapis.com",
    "iam.googleapis.com",
    "run.googleapis.com",
    "secretmanager.googleapis.com",
    "storage.googleapis.com",
  ])
}

resource "google_project_service" "enabled" {
  for_each = local.apis

  project            = var.project_id
  service            = each.value
  disable_on_destroy = false
}
