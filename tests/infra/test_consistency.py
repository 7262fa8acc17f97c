"""Terraform agrees with the code: targets, routes, environment, queue, retention."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest

from shared.http.edge import Router
from tests.infra import terraform as tf

# Variables read by the runtime rather than by our code.
RUNTIME_ENV = {
    "FUNCTION_TARGET": "functions-framework picks the function",
    "THREADS": "functions-framework sizes gunicorn's thread pool",
}
# What every deployed service must have, whatever its code's defaults say:
# the defaults are the local stack's (file:// store, local:// queue).
CLOUD_ENV = {
    "OPSPLANE_STORE": "gs://",
    "OPSPLANE_QUEUE": "cloudtasks://",
    "TASKS_TARGET_BASE_URL": "",
    "TASKS_OIDC_SERVICE_ACCOUNT": "",
    "TASKS_OIDC_AUDIENCE": "",
    "TASKS_OIDC_ALLOWED_EMAILS": "",
}


def _targets() -> dict[str, tuple[str, ...]]:
    from functions import main

    return dict(main.TARGETS)


def _router(target: str) -> Router:
    """The Router behind a target: the http_function closure holds it."""
    from functions import main

    function: Callable[..., Any] = getattr(main, target)
    for cell in function.__closure__ or ():
        if isinstance(cell.cell_contents, Router):
            return cell.cell_contents
    module = __import__(f"functions.{target}", fromlist=["router"])
    router = getattr(module, "router", None)
    assert isinstance(router, Router), f"cannot find the Router of target {target!r}"
    return router


def _route_exists(target: str, method: str, path: str) -> bool:
    try:
        _router(target).resolve(method, path)
    except Exception:  # NotFound or MethodNotAllowed: no such route
        return False
    return True


def _services() -> dict[str, dict[str, Any]]:
    services: dict[str, dict[str, Any]] = tf.local("services")
    return services


def _terraform_env_names() -> dict[str, set[str]]:
    """Every variable name a service gets, by target (common, own, per-service, secrets)."""
    common = set(tf.local("common_env")) | set(tf.local("optional_env"))
    extras = tf.env_names_in_expression(str(tf.local("service_env")))
    secrets = tf.local("secrets")
    files = tf.local("config_files")
    return {
        target: common
        | extras
        | set(settings["env"])
        | {secrets[key]["env"] for key in settings["secrets"]}
        | {file["env"] for file in files.values() if file["target"] == target}
        for target, settings in _services().items()
    }


def _code_default(name: str) -> Any:
    defaults = {read.default for read in tf.code_env_reads() if read.name == name}
    assert len(defaults) == 1, f"{name} has {len(defaults)} different defaults in the code"
    return defaults.pop()


def test_every_target_has_a_service() -> None:
    """Each functions-framework target in functions/main.py is deployed as a Cloud Run service."""
    missing = sorted(set(_targets()) - set(_services()))
    assert not missing, f"targets without a service in infra/main.tf: {missing}"


def test_every_service_runs_an_existing_target() -> None:
    """No service starts a target that functions/main.py does not define."""
    unknown = sorted(set(_services()) - set(_targets()))
    assert not unknown, f"services for unknown targets in infra/main.tf: {unknown}"


def test_service_paths_match_the_targets() -> None:
    """The path prefixes a service claims are the ones its target owns."""
    targets = _targets()
    for target, settings in _services().items():
        if target in targets:
            assert tuple(settings["paths"]) == targets[target], target


def test_function_target_is_set_from_the_service_key() -> None:
    """Each service starts its own target: FUNCTION_TARGET comes from the map key."""
    expression = str(tf.local("service_env"))
    assert re.search(r"FUNCTION_TARGET\s*=\s*target\b", expression), expression


@pytest.mark.parametrize("job", sorted(tf.local("schedules")), ids=lambda job: f"schedule-{job}")
def test_scheduler_job_calls_an_existing_route(job: str) -> None:
    """A Cloud Scheduler job targets a deployed service and a route its function serves."""
    schedule = tf.local("schedules")[job]
    target = schedule["target"]
    assert target in _services(), f"{job}: no service {target!r}"
    assert target in _targets(), f"{job}: target {target!r} is not in functions/main.py"
    assert schedule["path"].startswith(_targets()[target]), (job, schedule["path"])
    assert _route_exists(target, schedule["method"], schedule["path"]), (
        f"{job}: {schedule['method']} {schedule['path']} is not a route of {target}"
    )


@pytest.mark.parametrize("job", sorted(tf.local("schedules")), ids=lambda job: f"oidc-{job}")
def test_scheduler_job_sends_an_oidc_token_its_service_accepts(job: str) -> None:
    """The job signs as the scheduler identity, which may invoke its (private) service."""
    target = tf.local("schedules")[job]["target"]
    http_target = tf.first_block(tf.resource("google_cloud_scheduler_job", "this")["http_target"])
    oidc = tf.first_block(http_target["oidc_token"])
    assert oidc["service_account_email"] == "${google_service_account.scheduler.email}"
    assert oidc["audience"] == "${local.oidc_audience}"
    settings = _services()[target]
    assert settings["public"] or "scheduler" in settings["callers"], target


def test_queue_delivers_to_a_route_of_its_target() -> None:
    """Cloud Tasks delivers to the target's URL, and that target serves POSTs under its prefix."""
    target = tf.local("queue_target")
    assert target in _services()
    assert target in _targets()
    base_url = tf.local("common_env")["TASKS_TARGET_BASE_URL"]
    assert base_url == "${local.service_urls[local.queue_target]}"
    prefixes = _targets()[target]
    posts = [
        pattern
        for method, pattern in _router(target).patterns
        if method == "POST" and pattern.startswith(prefixes)
    ]
    assert posts, f"{target} has no POST route under {prefixes}"
    settings = _services()[target]
    assert settings["public"] or "tasks" in settings["callers"]


def test_queue_signs_deliveries_with_oidc() -> None:
    """Every delivery carries an OIDC token for the tasks identity and the shared audience."""
    queue = tf.resource("google_cloud_tasks_queue", "tasks")
    oidc = tf.first_block(tf.first_block(queue["http_target"])["oidc_token"])
    assert oidc["service_account_email"] == "${google_service_account.tasks_invoker.email}"
    assert oidc["audience"] == "${local.oidc_audience}"
    env = tf.local("common_env")
    assert env["TASKS_OIDC_SERVICE_ACCOUNT"] == "${google_service_account.tasks_invoker.email}"
    assert env["TASKS_OIDC_AUDIENCE"] == "${local.oidc_audience}"


@pytest.mark.parametrize(
    ("env_name", "variable", "scale"),
    [
        pytest.param("TASKS_MAX_ATTEMPTS", "tasks_max_attempts", 1, id="max-attempts"),
        pytest.param("TASKS_MIN_BACKOFF_MS", "tasks_min_backoff_seconds", 1000, id="min-backoff"),
        pytest.param("TASKS_MAX_BACKOFF_MS", "tasks_max_backoff_seconds", 1000, id="max-backoff"),
        pytest.param("TASKS_MAX_DOUBLINGS", "tasks_max_doublings", 1, id="max-doublings"),
        pytest.param(
            "TASKS_MAX_DISPATCHES_PER_SECOND", "tasks_max_dispatches_per_second", 1, id="rate"
        ),
        pytest.param(
            "TASKS_MAX_CONCURRENT_DISPATCHES", "tasks_max_concurrent_dispatches", 1, id="in-flight"
        ),
    ],
)
def test_queue_settings_match_the_code(env_name: str, variable: str, scale: int) -> None:
    """The queue's retry and rate settings default to the executor's, and reach it as env."""
    assert tf.variable_default(variable) * scale == _code_default(env_name)
    assert variable in tf.local("common_env")[env_name]


def test_queue_resource_uses_the_shared_settings() -> None:
    """The Cloud Tasks queue takes max attempts and rate limits from the same variables."""
    queue = tf.resource("google_cloud_tasks_queue", "tasks")
    retry = tf.first_block(queue["retry_config"])
    rate = tf.first_block(queue["rate_limits"])
    assert retry["max_attempts"] == "${var.tasks_max_attempts}"
    assert retry["max_doublings"] == "${var.tasks_max_doublings}"
    assert rate["max_dispatches_per_second"] == "${var.tasks_max_dispatches_per_second}"
    assert rate["max_concurrent_dispatches"] == "${var.tasks_max_concurrent_dispatches}"
    assert queue["name"] == "${local.queue_name}"
    assert f"{tf.variable_default('name')}-tasks" == _code_default("TASKS_QUEUE_NAME")


def test_queue_never_delivers_more_than_the_executor_can_take() -> None:
    """Concurrent dispatches fit execute_task's instances x concurrency (no capacity 429s)."""
    executor = _services()[tf.local("queue_target")]
    capacity = executor["max_instances"] * executor["concurrency"]
    assert tf.variable_default("tasks_max_concurrent_dispatches") <= capacity


def test_execute_task_outlives_the_dispatch_deadline() -> None:
    """Cloud Run's request timeout covers Cloud Tasks' dispatch deadline and the task timeout."""
    timeout_ms = _services()[tf.local("queue_target")]["timeout_seconds"] * 1000
    assert timeout_ms >= _code_default("TASKS_DISPATCH_DEADLINE_MS")
    task_timeouts = [r.default for r in tf.code_env_reads() if r.name == "WORKER_TASK_TIMEOUT_MS"]
    for default in task_timeouts:
        assert default < _code_default("TASKS_DISPATCH_DEADLINE_MS")


@pytest.mark.parametrize("name", sorted(CLOUD_ENV), ids=str)
def test_cloud_settings_are_set_on_every_service(name: str) -> None:
    """What the local defaults get wrong in the cloud is set for every service."""
    env = tf.local("common_env")
    assert name in env
    assert str(env[name]).startswith(CLOUD_ENV[name]), env[name]


def test_required_variables_are_set() -> None:
    """A variable the code reads without a default is set on every service."""
    required = {read.name for read in tf.code_env_reads() if read.required}
    for target, names in _terraform_env_names().items():
        assert not required - names, f"{target} lacks {sorted(required - names)}"


def test_every_variable_terraform_sets_is_read_by_the_code() -> None:
    """No misspelt or stale variable: each one set in Terraform is read somewhere."""
    read = {r.name for r in tf.code_env_reads()}
    unread = {
        target: sorted(names - read - set(RUNTIME_ENV))
        for target, names in _terraform_env_names().items()
        if names - read - set(RUNTIME_ENV)
    }
    assert not unread, f"variables set in infra/ that no code reads: {unread}"


def test_secrets_exposed_to_services_exist() -> None:
    """Every secret a service lists is a Secret Manager secret with a variable name."""
    secrets = tf.local("secrets")
    for target, settings in _services().items():
        for key in settings["secrets"]:
            assert key in secrets, f"{target}: unknown secret {key!r}"
            assert re.fullmatch(r"[A-Z][A-Z0-9_]+", secrets[key]["env"])


def test_config_files_are_mounted_on_existing_services() -> None:
    """A mounted configuration file belongs to a deployed service and a variable the code reads."""
    read = {r.name for r in tf.code_env_reads()}
    for key, file in tf.local("config_files").items():
        assert file["target"] in _services(), key
        assert file["env"] in read, f"{key}: no code reads {file['env']}"
        assert file["dir"].startswith("/"), key
        assert "/" not in file["file"], key


def test_executor_in_flight_limit_follows_cloud_run_concurrency() -> None:
    """WORKER_MAX_CONCURRENT_TASKS is set from the same concurrency Cloud Run enforces."""
    expression = str(tf.local("service_env"))
    assert re.search(r"WORKER_MAX_CONCURRENT_TASKS\s*=\s*tostring\(s\.concurrency\)", expression)
    assert re.search(r"THREADS\s*=\s*tostring\(s\.concurrency\)", expression)


def test_callers_are_known_identities() -> None:
    """A private service is invokable only by the tasks or scheduler identity (or var.invokers)."""
    for target, settings in _services().items():
        assert set(settings["callers"]) <= {"tasks", "scheduler"}, target


def test_service_account_ids_fit() -> None:
    """Service account ids derived from the default name stay within Google's 6-30 characters."""
    name = tf.variable_default("name")
    for target in _services():
        account = f"{name}-{target.replace('_', '-')}"
        assert 6 <= len(account) <= 30, account
    for extra in ("tasks-invoker", "scheduler"):
        assert len(f"{name}-{extra}") <= 30


# Retention promised by the product (days) for what the jobs write.
RETENTION = [
    pytest.param("reports/history/", 60, "shared/reports", id="report-history"),
    pytest.param("latency/raw/", 14, "shared/latency", id="latency-raw"),
    pytest.param("latency/rollups/", 90, "shared/latency", id="latency-rollups"),
    pytest.param("exports/history/", 56, "shared/exports", id="export-history"),
]


@pytest.mark.parametrize(("prefix", "days", "package"), RETENTION)
def test_bucket_lifecycle_keeps_what_the_product_promises(
    prefix: str, days: int, package: str
) -> None:
    """The bucket deletes each prefix after the promised number of days."""
    assert tf.local("retention_days")[prefix] == days
    bucket = tf.resource("google_storage_bucket", "state")
    dynamic = [block["lifecycle_rule"] for block in bucket["dynamic"] if "lifecycle_rule" in block]
    assert dynamic, "the bucket has no lifecycle rules built from local.retention_days"
    assert dynamic[0]["for_each"] == "${local.retention_days}"


@pytest.mark.parametrize(
    ("prefix", "package"),
    [pytest.param(p.values[0], p.values[2], id=p.id) for p in RETENTION],
)
def test_lifecycle_prefixes_are_the_ones_the_code_writes(prefix: str, package: str) -> None:
    """Each retained prefix appears in the code of the feature that writes it."""
    literals = tf.code_string_literals()
    sources = {
        text
        for name, values in literals.items()
        if name == package or name.startswith(package + "/")
        for text in values
    }
    top, kind = prefix.rstrip("/").split("/")
    if not any(kind in text for text in sources):
        pytest.skip(
            f"{package} writes no {kind!r} objects yet; the prefix is fixed in infra/main.tf"
        )
    stem = prefix.rstrip("/")
    written = (
        any(text.startswith(prefix) or text == stem for text in sources)
        or {top, kind} <= sources  # built from its parts
    )
    assert written, f"{package} names {kind!r} objects but never under {prefix!r}"


def test_bucket_is_private() -> None:
    """Uniform access and enforced public access prevention on the state bucket."""
    bucket = tf.resource("google_storage_bucket", "state")
    assert bucket["uniform_bucket_level_access"] is True
    assert bucket["public_access_prevention"] == "enforced"
