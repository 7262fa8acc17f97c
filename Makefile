# opsplane: make run | make test | make bench | make lint | make deploy
SHELL := /bin/bash
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
UV := $(VENV)/bin/uv
STAMP := $(VENV)/.installed
TASKS_EMULATOR_VENV := .venv-tasks-emulator
CHECKOV_VENV := .venv-checkov

.PHONY: run test test-fast bench lint deploy plan soak clean venv tasks-emulator checkov browser

# The virtualenv is rebuilt when pyproject.toml changes; uv resolves in seconds.
$(STAMP): pyproject.toml
	@test -x $(PY) || $(PYTHON) -m venv $(VENV)
	@test -x $(UV) || $(PY) -m pip install --quiet --disable-pip-version-check uv
	$(UV) pip install --quiet --python $(PY) -e '.[dev]'
	@touch $(STAMP)

venv: $(STAMP)

# The Cloud Tasks emulator pins an old protobuf, so it lives in its own virtualenv.
$(TASKS_EMULATOR_VENV)/.installed: | $(STAMP)
	@test -x $(TASKS_EMULATOR_VENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(TASKS_EMULATOR_VENV)
	$(UV) pip install --quiet --python $(TASKS_EMULATOR_VENV)/bin/python gcloud-tasks-emulator
	@touch $@

tasks-emulator: $(TASKS_EMULATOR_VENV)/.installed

# checkov's dependency tree conflicts with ours, so it gets its own virtualenv too.
$(CHECKOV_VENV)/.installed: | $(STAMP)
	@test -x $(CHECKOV_VENV)/bin/python || $(UV) venv --quiet --python $(PYTHON) $(CHECKOV_VENV)
	$(UV) pip install --quiet --python $(CHECKOV_VENV)/bin/python 'checkov==3.3.30'
	@touch $@

checkov: $(CHECKOV_VENV)/.installed

# The dashboard's browser test drives Debian's chromium. Installed when missing (sudo
# unless root); without apt-get, or when the install fails, the step passes and the
# test skips, saying why.
browser:
	@command -v chromium >/dev/null || { command -v apt-get >/dev/null || { echo "browser: apt-get unavailable; the dashboard browser test will skip"; exit 0; }; \
		SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
		{ $$SUDO apt-get update -qq && $$SUDO apt-get install -y -qq --no-install-recommends chromium; } \
		|| echo "browser: chromium could not be installed; the dashboard browser test will skip"; }

run: $(STAMP)
	$(PY) -m shared.localstack

test: $(STAMP) tasks-emulator checkov browser
	$(PY) -m pytest -n 2 --dist loadgroup

test-fast: $(STAMP)
	$(PY) -m pytest -m "not integration and not e2e" -n 2

bench: $(STAMP)
	$(PY) -m bench

lint: $(STAMP)
	$(VENV)/bin/ruff check functions shared tests bench
	$(VENV)/bin/ruff format --check functions shared tests bench
	$(VENV)/bin/mypy shared functions
	$(VENV)/bin/bandit -q -r functions shared --severity-level medium --confidence-level medium
	$(PY) -m tests.security.pip_audit_gate

# The long forms: a 5-minute soak at the local stack's capacity and a longer API fuzz.
soak: $(STAMP)
	@mkdir -p .opsplane
	$(PY) -m tests.load.soak --seconds 300 --report .opsplane/soak.json
	OPSPLANE_FUZZ_EXAMPLES=500 OPSPLANE_FUZZ_RANDOM=1 $(PY) -m pytest tests/fuzz -q

# make deploy PROJECT=my-project [REGION=us-central1] [TAG=...]: Cloud Build tests,
# builds and pushes the image (cloudbuild.yaml), then Terraform applies infra/
# with your credentials. make plan shows what Terraform would change.
REGION ?= us-central1
TAG := $(shell git rev-parse --short=12 HEAD 2>/dev/null || echo dev)-$(shell date -u +%Y%m%d%H%M%S)
IMAGE ?= $(REGION)-docker.pkg.dev/$(PROJECT)/opsplane/opsplane:$(TAG)
DEPLOY_ENV = PROJECT="$(PROJECT)" REGION="$(REGION)" IMAGE="$(IMAGE)" COMMIT_SHA="$(shell git rev-parse HEAD 2>/dev/null)"

deploy:
	@$(DEPLOY_ENV) NEED="gcloud terraform" infra/deploy.sh check
	@$(DEPLOY_ENV) infra/deploy.sh state-bucket
	@$(DEPLOY_ENV) infra/deploy.sh bootstrap
	gcloud builds submit --project "$(PROJECT)" --region "$(REGION)" --config cloudbuild.yaml \
		--substitutions "_REGION=$(REGION),_IMAGE=$(IMAGE),_DEPLOY=false" .
	@$(DEPLOY_ENV) infra/deploy.sh apply

plan:
	@PROJECT="$(PROJECT)" REGION="$(REGION)" NEED="terraform" infra/deploy.sh check
	@PROJECT="$(PROJECT)" REGION="$(REGION)" COMMIT_SHA="$(shell git rev-parse HEAD 2>/dev/null)" \
		$(if $(filter command line,$(origin IMAGE)),IMAGE="$(IMAGE)") infra/deploy.sh plan

clean:
	rm -rf $(VENV) $(TASKS_EMULATOR_VENV) $(CHECKOV_VENV) .mypy_cache .ruff_cache .pytest_cache
