"""The OpenAPI document and the code agree: routes, methods, examples, serving."""

from __future__ import annotations

import importlib
from typing import Any

import jsonschema
import pytest
from functions_framework import create_app
from jsonschema.validators import Draft202012Validator

from functions import main
from shared import openapi
from shared.http.edge import Router

SOURCE = "functions/main.py"
SPEC = openapi.document()


def _routes() -> set[tuple[str, str]]:
    """(METHOD, pattern) of every route of every target in functions/main.py."""
    found: set[tuple[str, str]] = set()
    for target in main.TARGETS:
        router = importlib.import_module(f"functions.{target}").router
        assert isinstance(router, Router), target
        found.update(router.patterns)
    return found


def _resolve(schema: dict[str, Any]) -> dict[str, Any]:
    """A schema with the document's components, so $refs resolve."""
    return {**schema, "components": SPEC["components"]}


def _validate(instance: Any, schema: dict[str, Any]) -> None:
    jsonschema.validate(instance, _resolve(schema), cls=Draft202012Validator)


def _response_schema(path: str, method: str, status: int) -> dict[str, Any]:
    response = SPEC["paths"][path][method]["responses"][str(status)]
    schema: dict[str, Any] = response["content"]["application/json"]["schema"]
    return schema


def test_every_route_is_in_the_spec() -> None:
    """Each Router pattern of each target has its path and method in the spec."""
    missing = sorted(_routes() - set(openapi.operations()))
    assert not missing, f"routes the spec does not describe: {missing}"


def test_every_operation_in_the_spec_is_served() -> None:
    """The spec describes no operation that no Router serves."""
    extra = sorted(set(openapi.operations()) - _routes())
    assert not extra, f"operations in the spec that no function serves: {extra}"


def test_every_path_is_owned_by_a_target() -> None:
    """Each spec path falls under a prefix some target owns, so the local stack reaches it."""
    prefixes = [prefix for owned in main.TARGETS.values() for prefix in owned]
    for path in SPEC["paths"]:
        assert any(path == p or path.startswith(p.rstrip("/") + "/") for p in prefixes), path


def test_the_document_is_valid_openapi_3_1() -> None:
    """The document passes the OpenAPI 3.1 schema check schemathesis applies."""
    import schemathesis

    schema = schemathesis.openapi.from_dict(openapi.document())
    assert len(list(schema.get_all_operations())) == len(openapi.operations())


def test_every_ref_resolves_and_every_schema_is_valid() -> None:
    """Each request and response schema is a valid JSON Schema whose refs resolve."""
    checked = 0
    for item in SPEC["paths"].values():
        for op in item.values():
            bodies = [op.get("requestBody", {}).get("content", {})]
            bodies += [r.get("content", {}) for r in op["responses"].values()]
            for content in bodies:
                for media in content.values():
                    Draft202012Validator.check_schema(media["schema"])
                    Draft202012Validator(_resolve(media["schema"])).is_valid({})
                    checked += 1
    assert checked > 40


@pytest.mark.parametrize(
    ("schema", "example", "valid"),
    [
        pytest.param("RunSubmission", {"job_type": "noop", "params": {}}, True, id="submit-ok"),
        pytest.param("RunSubmission", {"job_type": "noop", "bogus": 1}, False, id="submit-extra"),
        pytest.param("RunSubmission", {"job_type": "noop", "priority": 10}, False, id="priority"),
        pytest.param("TaskBody", {"run_id": "r", "attempt": 1}, True, id="task-ok"),
        pytest.param("TaskBody", {"run_id": "r", "attempt": 0}, False, id="task-attempt-0"),
        pytest.param("DlqReplayRequest", {"all": True, "dry_run": True}, True, id="dlq-all"),
        pytest.param("CallbackReplayRequest", {"eventIds": ["e1"]}, True, id="cb-replay"),
        pytest.param("LatencySampleOptions", {"raw_retention_days": 0}, False, id="latency-0"),
    ],
)
def test_request_examples(schema: str, example: dict[str, Any], valid: bool) -> None:
    """Example request bodies validate (or not) against the spec as the handlers decide."""
    errors = list(
        Draft202012Validator(_resolve({"$ref": f"#/components/schemas/{schema}"})).iter_errors(
            example
        )
    )
    assert (not errors) is valid, errors


@pytest.fixture
def stack_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OPSPLANE_API_TOKENS", "alice=api-token")
    monkeypatch.setenv("TASKS_AUTH_TOKEN", "tasks-token")
    monkeypatch.setenv("OPSPLANE_QUEUE", "local://")
    return "api-token"


def test_real_responses_match_the_spec(stack_env: str) -> None:
    """Bodies the functions really answer (submit, read, list, errors) validate against the spec."""
    runs = create_app("runs", SOURCE).test_client()  # type: ignore[no-untyped-call]
    auth = {"Authorization": f"Bearer {stack_env}"}
    job_types = runs.post("/runs", json={"job_type": "?"}, headers=auth).get_json()
    job_type = job_types["known_job_types"][0]
    submitted = runs.post("/runs", json={"job_type": job_type}, headers=auth)
    assert submitted.status_code == 202
    _validate(submitted.get_json(), _response_schema("/runs", "post", 202))
    run_id = submitted.get_json()["run_id"]
    got = runs.get(f"/runs/{run_id}", headers=auth)
    _validate(got.get_json(), _response_schema("/runs/{run_id}", "get", 200))
    listed = runs.get("/runs?limit=5", headers=auth)
    _validate(listed.get_json(), _response_schema("/runs", "get", 200))
    cancelled = runs.post(f"/runs/{run_id}/cancel", headers=auth)
    _validate(cancelled.get_json(), _response_schema("/runs/{run_id}/cancel", "post", 200))
    unauthorised = runs.get("/runs")
    assert unauthorised.status_code == 401
    _validate(unauthorised.get_json(), _response_schema("/runs", "get", 401))
    health = create_app("health", SOURCE).test_client()  # type: ignore[no-untyped-call]
    _validate(health.get("/health").get_json(), _response_schema("/health", "get", 200))


def test_spec_is_served_at_openapi_json() -> None:
    """GET /openapi.json on the health function answers the document."""
    client = create_app("health", SOURCE).test_client()  # type: ignore[no-untyped-call]
    response = client.get("/openapi.json")
    assert response.status_code == 200
    assert response.get_json() == openapi.document()
