"""Typed settings resolved once from the environment (Cloud Run style).

Every domain reads its variables through the ``env_*`` readers below, so a bad
value always fails start-up with a message that names the variable and says
what is wrong, instead of surfacing later as a confusing runtime error.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit

from shared import __version__

Environ = Mapping[str, str]

REPO_ROOT = Path(__file__).resolve().parent.parent
# In a checkout, state lives in the repository's .opsplane/ (ignored by git). An
# installed package (site-packages in a container image, run by a user with no
# home) falls back to the temp directory: writable, but ephemeral, so any real
# deployment sets OPSPLANE_STORE.
_STATE_ROOT = REPO_ROOT if (REPO_ROOT / "pyproject.toml").exists() else Path(tempfile.gettempdir())
DEFAULT_STORE_URL = f"file://{_STATE_ROOT / '.opsplane' / 'store'}"


class SettingsError(ValueError):
    """A configuration variable is missing or malformed."""

    def __init__(self, variable: str, problem: str) -> None:
        super().__init__(f"{variable}: {problem}")
        self.variable = variable
        self.problem = problem


def env_str(env: Environ, name: str, default: str | None = None) -> str:
    """A required string (or its default); an empty value counts as missing."""
    value = env.get(name, "").strip()
    if value:
        return value
    if default is None:
        raise SettingsError(name, "is required but not set")
    return default


def env_optional(env: Environ, name: str) -> str | None:
    """A string that may be absent."""
    value = env.get(name, "").strip()
    return value or None


def env_int(
    env: Environ,
    name: str,
    default: int,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> int:
    """An integer within optional bounds."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise SettingsError(name, f"must be an integer, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(name, f"must be >= {minimum}, got {value}")
    if maximum is not None and value > maximum:
        raise SettingsError(name, f"must be <= {maximum}, got {value}")
    return value


def env_float(env: Environ, name: str, default: float, *, minimum: float | None = None) -> float:
    """A float with an optional lower bound."""
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        raise SettingsError(name, f"must be a number, got {raw!r}") from None
    if minimum is not None and value < minimum:
        raise SettingsError(name, f"must be >= {minimum}, got {value}")
    return value


_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


def env_bool(env: Environ, name: str, default: bool) -> bool:
    """A boolean spelled 1/0, true/false, yes/no or on/off."""
    raw = env.get(name, "").strip().lower()
    if not raw:
        return default
    if raw in _TRUE:
        return True
    if raw in _FALSE:
        return False
    raise SettingsError(name, f"must be true or false, got {raw!r}")


def env_list(env: Environ, name: str) -> tuple[str, ...]:
    """A comma-separated list; blanks are dropped."""
    return tuple(part.strip() for part in env.get(name, "").split(",") if part.strip())


def env_url(env: Environ, name: str, default: str, *, schemes: tuple[str, ...]) -> str:
    """A URL whose scheme is one of ``schemes``."""
    value = env_str(env, name, default)
    scheme = urlsplit(value).scheme
    if scheme not in schemes:
        expected = ", ".join(f"{s}://" for s in schemes)
        raise SettingsError(name, f"scheme {scheme or '(none)'!r} is not one of {expected}")
    return value


@dataclass(frozen=True)
class Settings:
    """The settings every function shares."""

    store_url: str
    queue_url: str
    service_name: str
    version: str
    log_level: str
    max_body_bytes: int
    base_url: str

    @classmethod
    def from_env(cls, env: Environ | None = None) -> Settings:
        """Resolve and validate; raises SettingsError naming the bad variable."""
        env = os.environ if env is None else env
        log_level = env_str(env, "OPSPLANE_LOG_LEVEL", "INFO").upper()
        if log_level not in {"DEBUG", "INFO", "WARNING", "ERROR"}:
            raise SettingsError("OPSPLANE_LOG_LEVEL", f"unknown level {log_level!r}")
        port = env_int(env, "OPSPLANE_PORT", 8080, minimum=1, maximum=65535)
        from shared.redaction import Redactor  # imports settings itself, so not at the top

        Redactor.from_env(env)  # a malformed custom pattern fails start-up, not every log line
        return cls(
            store_url=env_url(
                env, "OPSPLANE_STORE", DEFAULT_STORE_URL, schemes=("memory", "file", "gs", "s3")
            ),
            queue_url=env_url(env, "OPSPLANE_QUEUE", "local://", schemes=("local", "cloudtasks")),
            service_name=env_str(env, "K_SERVICE", "opsplane"),
            version=env_str(env, "OPSPLANE_VERSION", __version__),
            log_level=log_level,
            max_body_bytes=env_int(
                env, "OPSPLANE_MAX_BODY_BYTES", 1024 * 1024, minimum=1024, maximum=32 * 1024 * 1024
            ),
            base_url=env_str(env, "OPSPLANE_BASE_URL", f"http://127.0.0.1:{port}").rstrip("/"),
        )
