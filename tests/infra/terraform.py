"""Read infra/*.tf and the code's environment reads, for the static infra checks."""

from __future__ import annotations

import ast
import re
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any, cast

import hcl2

ROOT = Path(__file__).resolve().parents[2]
INFRA = ROOT / "infra"
CODE_DIRS = (ROOT / "shared", ROOT / "functions")
# Modules that never run in a deployed service (the local stack sets its own env).
LOCAL_ONLY = {ROOT / "shared" / "localstack.py"}

_ENV_READERS = {
    "env_str",
    "env_int",
    "env_bool",
    "env_url",
    "env_list",
    "env_optional",
    "env_float",
}


def tf_files() -> list[Path]:
    return sorted(INFRA.glob("*.tf"))


def _unquote(value: Any) -> Any:
    # python-hcl2 8 keeps the quotes of string keys; older versions strip them.
    if isinstance(value, dict):
        return {_strip(k): _unquote(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_unquote(v) for v in value]
    return _strip(value) if isinstance(value, str) else value


def _strip(text: str) -> str:
    if len(text) >= 2 and text[0] == text[-1] == '"':
        return text[1:-1]
    return text


def load_tf(path: Path) -> dict[str, Any]:
    """One .tf file as plain Python data (strings unquoted, no comments)."""
    text = path.read_text()
    try:
        from hcl2.utils import SerializationOptions
    except ImportError:  # python-hcl2 < 8
        return cast(dict[str, Any], _unquote(hcl2.loads(text)))
    options = SerializationOptions(
        with_comments=False, explicit_blocks=False, strip_string_quotes=True
    )
    return cast(dict[str, Any], _unquote(hcl2.loads(text, serialization_options=options)))


@cache
def config() -> dict[str, Any]:
    """Every .tf file merged: locals, variables, resources by type and name."""
    merged: dict[str, Any] = {"locals": {}, "variable": {}, "resource": {}, "output": {}}
    for path in tf_files():
        data = load_tf(path)
        for block in data.get("locals", []):
            merged["locals"].update(block)
        for block in data.get("variable", []):
            merged["variable"].update(block)
        for block in data.get("output", []):
            merged["output"].update(block)
        for block in data.get("resource", []):
            for rtype, by_name in block.items():
                merged["resource"].setdefault(rtype, {}).update(by_name)
    return merged


def local(name: str) -> Any:
    return config()["locals"][name]


def variable_default(name: str) -> Any:
    return config()["variable"][name]["default"]


def resource(rtype: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = config()["resource"][rtype][name]
    return found


def first_block(value: Any) -> dict[str, Any]:
    """Nested blocks come as a list of dicts; most appear once."""
    block: dict[str, Any] = value[0] if isinstance(value, list) else value
    return block


def env_names_in_expression(expression: str) -> set[str]:
    """UPPER_CASE names assigned in an HCL object expression (``NAME = ...``)."""
    return set(re.findall(r"\b([A-Z][A-Z0-9_]+)\s*=", expression))


@dataclass(frozen=True)
class EnvRead:
    """One place the code reads an environment variable."""

    name: str
    reader: str
    required: bool
    default: Any
    where: str


def _literal(node: ast.expr | None) -> Any:
    if node is None:
        return None
    try:
        return ast.literal_eval(node)
    except ValueError:
        return ast.unparse(node)


def _callee(node: ast.Call) -> str:
    func = node.func
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return ""


_ENV_NAME = re.compile(r"^[A-Z][A-Z0-9_]+$")
_ENV_MAPPINGS = {"env", "environ", "environment"}


def _is_os_environ(node: ast.expr) -> bool:
    """``os.environ`` or an ``env``/``environ`` mapping passed around (shared.settings style)."""
    if isinstance(node, ast.Attribute):
        return node.attr == "environ"
    return isinstance(node, ast.Name) and node.id in _ENV_MAPPINGS


def _module_constants(tree: ast.Module) -> dict[str, str]:
    """Module-level ``NAME = "VALUE"`` strings (variable names kept in constants)."""
    constants: dict[str, str] = {}
    for node in tree.body:
        target = value = None
        if isinstance(node, ast.Assign) and len(node.targets) == 1:
            target, value = node.targets[0], node.value
        elif isinstance(node, ast.AnnAssign):
            target, value = node.target, node.value
        if (
            isinstance(target, ast.Name)
            and isinstance(value, ast.Constant)
            and isinstance(value.value, str)
        ):
            constants[target.id] = value.value
    return constants


def _resolve(node: ast.expr, constants: dict[str, str]) -> ast.expr:
    """A Name bound to a module string constant becomes that Constant."""
    if isinstance(node, ast.Name) and node.id in constants:
        return ast.Constant(constants[node.id])
    return node


def _reads_in(path: Path) -> list[EnvRead]:
    tree = ast.parse(path.read_text(), filename=str(path))
    constants = _module_constants(tree)
    reads: list[EnvRead] = []
    where = str(path.relative_to(ROOT))
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            callee = _callee(node)
            args = [_resolve(arg, constants) for arg in node.args]
            if (
                callee in _ENV_READERS
                and len(args) >= 2
                and isinstance(args[1], ast.Constant)
                and isinstance(args[1].value, str)
            ):
                name = args[1].value
                default_node = args[2] if len(args) >= 3 else None
                for keyword in node.keywords:
                    if keyword.arg == "default":
                        default_node = keyword.value
                required = callee == "env_str" and default_node is None
                reads.append(EnvRead(name, callee, required, _literal(default_node), where))
            elif (
                callee in {"get", "getenv"}
                and args
                and isinstance(args[0], ast.Constant)
                and isinstance(args[0].value, str)
                and _ENV_NAME.match(args[0].value)
                and (
                    (callee == "get" and _is_os_environ(node.func.value))  # type: ignore[attr-defined]
                    or (callee == "getenv")
                )
            ):
                default = _literal(args[1]) if len(args) > 1 else None
                reads.append(EnvRead(args[0].value, callee, False, default, where))
        elif isinstance(node, ast.Subscript) and isinstance(node.ctx, ast.Load):
            key = _resolve(node.slice, constants)
            if (
                _is_os_environ(node.value)
                and isinstance(key, ast.Constant)
                and isinstance(key.value, str)
                and _ENV_NAME.match(key.value)
            ):
                reads.append(EnvRead(key.value, "os.environ[]", True, None, where))
    return reads


@cache
def code_env_reads() -> tuple[EnvRead, ...]:
    """Every environment read in shared/ and functions/ (not tests, not the local stack)."""
    reads: list[EnvRead] = []
    for directory in CODE_DIRS:
        for path in sorted(directory.rglob("*.py")):
            if path not in LOCAL_ONLY:
                reads.extend(_reads_in(path))
    return tuple(reads)


@cache
def code_string_literals() -> dict[str, frozenset[str]]:
    """String constants (and f-string pieces) of every module, by package directory."""
    found: dict[str, set[str]] = {}
    for directory in CODE_DIRS:
        for path in sorted(directory.rglob("*.py")):
            package = str(path.parent.relative_to(ROOT))
            for node in ast.walk(ast.parse(path.read_text())):
                if isinstance(node, ast.Constant) and isinstance(node.value, str):
                    found.setdefault(package, set()).add(node.value)
    return {package: frozenset(values) for package, values in found.items()}
