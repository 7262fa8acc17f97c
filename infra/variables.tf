variable "project_id" {
  description = "The Google Cloud project that hosts opsplane."
  type        = string
}

variable "region" {
  description = "Region of the Cloud Run services, the queue, the scheduler jobs, the bucket and the image repository."
  type        = string
  default     = "us-central1"
}

variable "name" {
  description = "Prefix of every resource name. The default matches the code's TASKS_QUEUE_NAME default (opsplane-tasks)."
  type        = string
  default     = "opsplane"

  validation {
    condition     = can(regex("^[a-z][a-z0-9-]{1,11}$", var.name))
    error_message = "name must be 2-12 characters of [a-z0-9-] starting with a letter (service account ids are limited to 30)."
  }
}

variable "image" {
  description = "The container image every service runs, e.g. REGION-docker.pkg.dev/PROJECT/opsplane/opsplane:TAG (make deploy sets it)."
  type        = string
}

variable "bucket_name" {
  description = "The state bucket; empty means PROJECT_ID-opsplane."
  type        = string
  default     = ""
}

variable "log_level" {
  description = "OPSPLANE_LOG_LEVEL of every service."
  type        = string
  default     = "INFO"

  validation {
    condition     = contains(["DEBUG", "INFO", "WARNING", "ERROR"], var.log_level)
    error_message = "log_level must be DEBUG, INFO, WARNING or ERROR."
  }
}

variable "invokers" {
  description = "Named callers allowed to invoke the private services, as IAM members (user:..., group:..., serviceAccount:...)."
  type        = list(string)
  default     = []
}

variable "service_overrides" {
  description = "Per-function overrides of the sizing in main.tf, keyed by target (e.g. execute_task)."
  type = map(object({
    min_instances = optional(number)
    max_instances = optional(number)
    concurrency   = optional(number)
    cpu           = optional(string)
    memory        = optional(string)
  }))
  default = {}
}

variable "tasks_max_attempts" {
  description = "Cloud Tasks attempts per task; equals the code's TASKS_MAX_ATTEMPTS default (checked by tests/infra)."
  type        = number
  default     = 100
}

variable "tasks_min_backoff_seconds" {
  description = "First retry delay of the queue (TASKS_MIN_BACKOFF_MS / 1000)."
  type        = number
  default     = 1
}

variable "tasks_max_backoff_seconds" {
  description = "Ceiling of every retry delay of the queue (TASKS_MAX_BACKOFF_MS / 1000)."
  type        = number
  default     = 60
}

variable "tasks_max_doublings" {
  description = "Times the retry delay doubles before it grows linearly (TASKS_MAX_DOUBLINGS)."
  type        = number
  default     = 5
}

variable "tasks_max_dispatches_per_second" {
  description = "Queue rate limit (TASKS_MAX_DISPATCHES_PER_SECOND); the main backpressure knob, see docs/runbook.md."
  type        = number
  default     = 50
}

variable "tasks_max_concurrent_dispatches" {
  description = "Deliveries in flight at once (TASKS_MAX_CONCURRENT_DISPATCHES)."
  type        = number
  default     = 10
}

variable "scheduler_time_zone" {
  description = "Time zone of the Cloud Scheduler cron expressions."
  type        = string
  default     = "Etc/UTC"
}

variable "report_runner_schedule" {
  description = "Cron of the schedule runner (POST /schedule/run); it decides itself which reports are due."
  type        = string
  default     = "* * * * *"
}

variable "latency_schedule" {
  description = "Cron of latency sampling (POST /latency/sample)."
  type        = string
  default     = "*/15 * * * *"
}

variable "sweeper_schedule" {
  description = "Cron of the sweeper (POST /sweeper), which re-enqueues runs whose task never arrived."
  type        = string
  default     = "*/5 * * * *"
}

variable "export_schedule" {
  description = "Cron of the dashboard export (POST /export/dashboard)."
  type        = string
  default     = "15 * * * *"
}

variable "github_repository" {
  description = "GITHUB_REPOSITORY (owner/name) for reports, triage and approvals; empty leaves it unset."
  type        = string
  default     = ""
}

variable "job_policies_json" {
  description = "OPSPLANE_JOB_POLICIES: retry policies per job type as inline JSON (shared/jobs/policy.py); empty keeps the built-in ones."
  type        = string
  default     = ""

  validation {
    condition     = var.job_policies_json == "" || can(jsondecode(var.job_policies_json))
    error_message = "job_policies_json must be a JSON document."
  }
}

variable "api_oidc_allowed_emails" {
  description = "Service accounts allowed to call the API with a Google ID token (audience: the oidc_audience output) instead of an API token."
  type        = list(string)
  default     = []
}

variable "latency_config_json" {
  description = "OPSPLANE_LATENCY_CONFIG: the latency targets as inline JSON (shared/latency/config.py)."
  type        = string
  default     = ""

  validation {
    condition     = var.latency_config_json == "" || can(jsondecode(var.latency_config_json))
    error_message = "latency_config_json must be a JSON document."
  }
}

variable "latency_webhook_url" {
  description = "OPSPLANE_LATENCY_WEBHOOK_URL: where SLO alerts are posted; empty uses the config's webhook_url."
  type        = string
  default     = ""
}

variable "schedule_config_json" {
  description = "The schedule runner's configuration (shared/schedule/schema.json), mounted as the file OPSPLANE_SCHEDULE_CONFIG names. {} keeps the defaults (scheduling off)."
  type        = string
  default     = "{}"

  validation {
    condition     = can(jsondecode(var.schedule_config_json))
    error_message = "schedule_config_json must be a JSON document."
  }
}

variable "callback_url" {
  description = "WORKER_CALLBACK_URL: where run events are POSTed, signed with the callback secret; empty means this deployment's own callbacks function."
  type        = string
  default     = ""

  validation {
    condition     = var.callback_url == "" || can(regex("^https://", var.callback_url))
    error_message = "callback_url must be an https:// URL."
  }
}

variable "approvers" {
  description = "OPSPLANE_APPROVERS: GitHub logins allowed to approve runs waiting for approval; empty means nobody."
  type        = list(string)
  default     = []
}

variable "commit_sha" {
  description = "OPSPLANE_COMMIT_SHA: the commit the image was built from, recorded in export manifests (make deploy sets it)."
  type        = string
  default     = ""
}
