#!/bin/sh
# The Terraform half of a deployment, shared by `make plan`, `make deploy` and
# cloudbuild.yaml so all three run the same commands.
#
#   infra/deploy.sh check          tools and PROJECT are there
#   infra/deploy.sh state-bucket   create the Terraform state bucket if missing
#   infra/deploy.sh bootstrap      enable the APIs and create the image repository
#   infra/deploy.sh plan           terraform plan  (IMAGE optional: the deployed one)
#   infra/deploy.sh apply          terraform apply (IMAGE required)
#
# Environment: PROJECT (required), REGION (us-central1), IMAGE, COMMIT_SHA,
# TF_STATE_BUCKET (PROJECT-opsplane-tfstate), NAME (opsplane),
# NEED (tools the step needs; `check` only).
set -eu

die() {
    echo "deploy: $*" >&2
    exit 1
}

need() {
    for tool in "$@"; do
        case "$tool" in
            terraform) hint="install Terraform >= 1.6: https://developer.hashicorp.com/terraform/install" ;;
            gcloud) hint="install the Google Cloud CLI: https://cloud.google.com/sdk/docs/install, then gcloud auth login && gcloud auth application-default login" ;;
            *) hint="install it" ;;
        esac
        command -v "$tool" >/dev/null 2>&1 || die "$tool is not installed; $hint"
    done
}

[ $# -eq 1 ] || die "usage: infra/deploy.sh check|state-bucket|bootstrap|plan|apply"
[ -n "${PROJECT:-}" ] || die "PROJECT is not set; run e.g. make deploy PROJECT=my-project REGION=us-central1"

REGION=${REGION:-us-central1}
NAME=${NAME:-opsplane}
STATE_BUCKET=${TF_STATE_BUCKET:-$PROJECT-$NAME-tfstate}
cd "$(dirname "$0")"

init() {
    terraform init -input=false -reconfigure -backend-config="bucket=$STATE_BUCKET" >/dev/null
}

case "$1" in
    check)
        # shellcheck disable=SC2086 # NEED is a word list on purpose
        need ${NEED:-terraform gcloud}
        ;;
    state-bucket)
        need gcloud
        if ! gcloud storage buckets describe "gs://$STATE_BUCKET" --project "$PROJECT" >/dev/null 2>&1; then
            echo "deploy: creating the Terraform state bucket gs://$STATE_BUCKET"
            gcloud storage buckets create "gs://$STATE_BUCKET" --project "$PROJECT" \
                --location "$REGION" --uniform-bucket-level-access --public-access-prevention
            gcloud storage buckets update "gs://$STATE_BUCKET" --versioning
        fi
        ;;
    bootstrap)
        # The image repository must exist before Cloud Build can push to it.
        need terraform
        init
        terraform apply -input=false -auto-approve \
            -var "project_id=$PROJECT" -var "region=$REGION" -var "name=$NAME" \
            -var "image=bootstrap" \
            -target=google_project_service.enabled \
            -target=google_artifact_registry_repository.images
        ;;
    plan)
        need terraform
        init
        image=${IMAGE:-$(terraform output -raw image 2>/dev/null || true)}
        [ -n "$image" ] || image="$REGION-docker.pkg.dev/$PROJECT/$NAME/$NAME:not-built-yet"
        terraform plan -input=false \
            -var "project_id=$PROJECT" -var "region=$REGION" -var "name=$NAME" -var "image=$image" \
            -var "commit_sha=${COMMIT_SHA:-}"
        ;;
    apply)
        need terraform
        [ -n "${IMAGE:-}" ] || die "IMAGE is not set (the image Cloud Build pushed)"
        init
        terraform apply -input=false -auto-approve \
            -var "project_id=$PROJECT" -var "region=$REGION" -var "name=$NAME" -var "image=$IMAGE" \
            -var "commit_sha=${COMMIT_SHA:-}"
        echo "deploy: done. Check it with:"
        echo "  terraform -chdir=infra output -json service_urls > service_urls.json"
        echo "  OPSPLANE_ID_TOKEN=\$(gcloud auth print-identity-token) opsplane verify-deployment --services-json service_urls.json"
        ;;
    *)
        die "unknown step '$1'; use check|state-bucket|bootstrap|plan|apply"
        ;;
esac
