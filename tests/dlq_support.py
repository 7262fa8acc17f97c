"""Seeding dead letters for the dlq tests: failed runs written as the executor writes them."""

from __future__ import annotations

import itertools
import random
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from shared.jobs.deadletters import write_dead_letter
from shared.jobs.models import Attempt, AttemptOutcome, Run, RunStatus, new_run_id
from shared.jobs.store import RunStore
from shared.storage import ObjectStore

START = datetime(2026, 11, 1, tzinfo=UTC)
JOB_TYPES = ("http", "email", "report", "sync")
# (error code, message template): {n} a number, {rid} a run id, {uid} a uuid, {secret}s.
TEMPLATES = (
    ("http_error", "HTTP 503 from https://api.example.com/v1/items/{n} after {ms}ms"),
    ("http_error", "HTTP 404 for item {uid}"),
    ("timeout", "attempt timed out after {ms}ms on run {rid}"),
    ("auth_failed", "login refused with token {gh} for request {n}"),
    ("auth_failed", "database password={pw} rejected at 2026-11-0{d}T10:00:0{d}Z"),
    ("invalid_params", "missing field 'customer_{n}' (key {aws})"),
)


@dataclass
class Seeded:
    """What was seeded: ids, exact counts and every secret planted."""

    run_ids: list[str] = field(default_factory=list)
    by_job_type: Counter[str] = field(default_factory=Counter)
    by_code: Counter[str] = field(default_factory=Counter)
    by_template: Counter[str] = field(default_factory=Counter)
    secrets: list[str] = field(default_factory=list)
    created: dict[str, datetime] = field(default_factory=dict)


def _secret_gh(rng: random.Random) -> str:
    return "ghp_" + "".join(rng.choice("abcdefghijkLMNOPQRSTUVwxyz0123456789") for _ in range(36))


def _secret_aws(rng: random.Random) -> str:
    return "AKIA" + "".join(rng.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567") for _ in range(16))


def seed_dead_letters(
    store: ObjectStore, count: int, *, seed: int = 7, step: timedelta = timedelta(minutes=1)
) -> Seeded:
    """``count`` FAILED runs (stored) and their dead letters, with secrets planted."""
    rng = random.Random(seed)
    runs = RunStore(store)
    seeded = Seeded()
    ticks = itertools.count()
    for i in range(count):
        job_type = JOB_TYPES[i % len(JOB_TYPES)]
        template_index = (i + i // 4) % len(TEMPLATES)
        code, template = TEMPLATES[template_index]
        gh, aws, pw = _secret_gh(rng), _secret_aws(rng), f"Pw{rng.getrandbits(48):x}Q"
        param_secret = f"sk_live_{rng.getrandbits(96):024x}"
        url_password = f"urlpw{rng.getrandbits(40):x}"
        message = template.format(
            n=rng.randint(1, 99999),
            ms=rng.randint(100, 30000),
            uid=f"{rng.getrandbits(32):08x}-1111-2222-3333-{rng.getrandbits(48):012x}",
            rid=new_run_id(START + timedelta(seconds=i)),
            gh=gh,
            pw=pw,
            aws=aws,
            d=i % 9 + 1,
        )
        seeded.secrets += [gh, pw, aws, param_secret, url_password]
        created = START + step * next(ticks)
        run_id = new_run_id(created)
        attempt = Attempt(
            1,
            started_at=created,
            ended_at=created,
            outcome=AttemptOutcome.FAILED,
            error_code=code,
            error_message=message,
        )
        run = Run(
            run_id=run_id,
            job_type=job_type,
            params={
                "api_key": param_secret,
                "endpoint": f"https://deploy:{url_password}@hooks.example.com/x",
                "item": i,
            },
            owner="team-a",
            status=RunStatus.FAILED,
            created_at=created,
            updated_at=created,
            attempts=(attempt,),
            error_code=code,
            error_message=message,
            finished_at=created,
        )
        runs.create(run)
        assert write_dead_letter(store, run, lambda created=created: created)
        seeded.run_ids.append(run_id)
        seeded.by_job_type[job_type] += 1
        seeded.by_code[code] += 1
        seeded.by_template[f"{code}:{template_index}"] += 1
        seeded.created[run_id] = created
    return seeded
