terraform {
  required_version = ">= 1.6.0, < 2.0.0"

  required_providers {
    google = {
      source  = "hashicorp/google"
      version = "6.14.0"
    }
    random = {
      source  = "hashicorp/random"
      version = "3.6.3"
    }
  }

  # State lives in a GCS bucket; `make deploy` creates it and passes its name
  # with -backend-config=bucket=..., so nothing project-specific is committed.
  backend "gcs" {
    prefix = "opsplane/state"
  }
}

provider "google" {
  project = var.project_id
  region  = var.region

  default_labels = {
    app        = var.name
    managed-by = "terraform"
  }
}
