"""The Dockerfile builds one small, non-root image without dev dependencies."""

from __future__ import annotations

import re
import shlex
from dataclasses import dataclass

import pytest

from tests.infra.terraform import ROOT

DOCKERFILE = ROOT / "Dockerfile"


@dataclass(frozen=True)
class Instruction:
    keyword: str
    arguments: str
    line: int


def parse(text: str) -> list[Instruction]:
    """Instructions with continuation lines joined and comments dropped."""
    instructions: list[Instruction] = []
    pending = ""
    start = 0
    for number, raw in enumerate(text.splitlines(), start=1):
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if pending and line.startswith("#"):
            continue
        if not pending:
            start = number
        if line.endswith("\\"):
            pending += line[:-1].rstrip() + " "
            continue
        pending += line
        keyword, _, arguments = pending.partition(" ")
        instructions.append(Instruction(keyword.upper(), arguments.strip(), start))
        pending = ""
    assert not pending, "the Dockerfile ends inside a continued line"
    return instructions


@pytest.fixture(scope="module")
def instructions() -> list[Instruction]:
    return parse(DOCKERFILE.read_text())


def _stages(instructions: list[Instruction]) -> list[list[Instruction]]:
    stages: list[list[Instruction]] = []
    for instruction in instructions:
        if instruction.keyword == "FROM":
            stages.append([])
        assert stages, "an instruction comes before the first FROM"
        stages[-1].append(instruction)
    return stages


def test_parser_joins_continuations() -> None:
    """The test's own parser: continued lines are one instruction, comments vanish."""
    parsed = parse("FROM a:1.2.3\n# note\nRUN one \\\n    two\nUSER 1\n")
    assert [(i.keyword, i.arguments) for i in parsed] == [
        ("FROM", "a:1.2.3"),
        ("RUN", "one two"),
        ("USER", "1"),
    ]


def test_base_images_are_pinned(instructions: list[Instruction]) -> None:
    """Every FROM names an exact version tag or a digest, never latest or a bare major."""
    froms = [i for i in instructions if i.keyword == "FROM"]
    assert froms
    stage_names = set()
    for instruction in froms:
        image = instruction.arguments.split()[0]
        if image in stage_names:
            continue
        assert "@sha256:" in image or re.search(r":\d+\.\d+\.\d+", image), image
        assert not image.endswith(":latest"), image
        parts = instruction.arguments.split()
        if len(parts) == 3 and parts[1].upper() == "AS":
            stage_names.add(parts[2])


def test_base_is_slim_python_311(instructions: list[Instruction]) -> None:
    """The runtime base is a slim Python 3.11 image (what the project supports)."""
    final = _stages(instructions)[-1][0]
    assert re.match(r"python:3\.11\.\d+-slim", final.arguments), final.arguments


def test_final_stage_runs_as_non_root(instructions: list[Instruction]) -> None:
    """The last USER of the runtime stage is neither root nor uid 0."""
    users = [i.arguments for i in _stages(instructions)[-1] if i.keyword == "USER"]
    assert users, "the runtime stage never switches user"
    user = users[-1].split(":")[0]
    assert user not in {"root", "0"}


def test_no_dev_dependencies_installed(instructions: list[Instruction]) -> None:
    """No pip install pulls the dev extra, an editable install or test tools."""
    runs = [i.arguments for i in instructions if i.keyword == "RUN"]
    installs = [run for run in runs if "pip install" in run or "uv pip" in run]
    assert installs, "the package is never installed"
    for run in installs:
        assert "dev]" not in run, run
        assert not re.search(r"\s-e\s|--editable", run), run
        for tool in ("pytest", "ruff", "mypy", "moto", "hypothesis", "checkov"):
            assert tool not in run, run


def test_tests_are_not_copied(instructions: list[Instruction]) -> None:
    """Only the package goes into the image: no tests, benchmarks or whole-context copies."""
    copies = [i.arguments for i in instructions if i.keyword == "COPY"]
    for copy in copies:
        sources = [part for part in shlex.split(copy)[:-1] if not part.startswith("--")]
        for source in sources:
            assert source not in {".", "./", "tests", "bench", "infra"}, copy


def test_command_serves_the_chosen_target_on_port(instructions: list[Instruction]) -> None:
    """CMD starts functions-framework on functions/main.py with $FUNCTION_TARGET and $PORT."""
    commands = [i.arguments for i in instructions if i.keyword in {"CMD", "ENTRYPOINT"}]
    assert commands
    command = commands[-1]
    assert "functions-framework" in command
    assert "--source functions/main.py" in command
    assert '--target \\"$FUNCTION_TARGET\\"' in command or "--target $FUNCTION_TARGET" in command
    assert "$PORT" in command
    assert "exec " in command, "without exec the shell swallows SIGTERM"


def test_dockerignore_keeps_the_context_small() -> None:
    """The build context excludes everything but the package (virtualenvs, git, tests)."""
    lines = [
        line.strip()
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*", "start from an empty context and allow what the image needs"
    allowed = {line[1:].rstrip("/") for line in lines if line.startswith("!")}
    assert allowed == {"pyproject.toml", "README.md", "shared", "functions"}


def test_copied_sources_exist(instructions: list[Instruction]) -> None:
    """Every local path the Dockerfile copies exists in the repository."""
    for instruction in instructions:
        if instruction.keyword != "COPY" or "--from=" in instruction.arguments:
            continue
        for source in shlex.split(instruction.arguments)[:-1]:
            if not source.startswith("--"):
                assert (ROOT / source).exists(), source
