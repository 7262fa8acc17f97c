"""``--upload-command``: hand the bundle directory to a command of the user's choice.

The command line is split with :func:`shlex.split` and run without a shell;
``{bundle}`` in it is replaced by the directory, otherwise the directory is
appended as the last argument. Its exit code decides success, and its output
is logged redacted (it may echo credentials it was given).
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path

from shared import logs
from shared.redaction import redact_text

DEFAULT_TIMEOUT_S = 300.0
_MAX_LOGGED_OUTPUT = 4000
_log = logs.get_logger("opsplane.exports")


class UploadFailed(Exception):
    """The upload command could not run, timed out or exited non-zero."""

    def __init__(self, message: str, *, exit_code: int | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.exit_code = exit_code


@dataclass(frozen=True)
class UploadResult:
    exit_code: int
    output: str  # redacted, truncated


def parse_command(command: str) -> list[str]:
    """The argument vector of a command line; ValueError when it cannot be split."""
    argv = shlex.split(command)
    if not argv:
        raise ValueError("the upload command is empty")
    return argv


def run_upload(command: str, bundle: Path, *, timeout_s: float = DEFAULT_TIMEOUT_S) -> UploadResult:
    """Run the upload command on ``bundle``; UploadFailed unless it exits 0."""
    try:
        argv = parse_command(command)
    except ValueError as exc:
        raise UploadFailed(f"cannot parse the upload command: {exc}") from None
    if any("{bundle}" in arg for arg in argv):
        argv = [arg.replace("{bundle}", str(bundle)) for arg in argv]
    else:
        argv.append(str(bundle))
    try:
        done = subprocess.run(
            argv,
            capture_output=True,
            text=True,
            timeout=timeout_s,
            check=False,
            stdin=subprocess.DEVNULL,
        )
    except FileNotFoundError:
        raise UploadFailed(f"upload command not found: {redact_text(argv[0])}") from None
    except subprocess.TimeoutExpired:
        raise UploadFailed(f"the upload command ran longer than {timeout_s:g} s") from None
    except OSError as exc:
        raise UploadFailed(f"the upload command could not start: {exc.strerror}") from None
    output = redact_text((done.stdout or "") + (done.stderr or ""))[-_MAX_LOGGED_OUTPUT:]
    fields = {"exit_code": done.returncode, "output": output, "program": redact_text(argv[0])}
    if done.returncode != 0:
        _log.error("upload command failed", extra={"fields": fields})
        raise UploadFailed(
            f"the upload command exited with {done.returncode}: {output.strip()[-300:]}",
            exit_code=done.returncode,
        )
    _log.info("upload command finished", extra={"fields": fields})
    return UploadResult(done.returncode, output)
