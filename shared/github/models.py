"""Issues, comments and issue events as the client returns them."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from shared.clock import parse_iso


@dataclass(frozen=True)
class Issue:
    """The parts of an issue opsplane uses."""

    number: int
    title: str
    body: str
    state: str
    labels: tuple[str, ...]
    html_url: str
    user: str
    updated_at: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Issue:
        return cls(
            number=int(data["number"]),
            title=str(data.get("title") or ""),
            body=str(data.get("body") or ""),
            state=str(data.get("state") or "open"),
            labels=tuple(_label_names(data.get("labels") or [])),
            html_url=str(data.get("html_url") or ""),
            user=str((data.get("user") or {}).get("login") or ""),
            updated_at=_parse_time(data.get("updated_at")),
        )


@dataclass(frozen=True)
class Comment:
    """One issue comment."""

    id: int
    body: str
    user: str
    created_at: datetime | None
    updated_at: datetime | None
    html_url: str

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> Comment:
        return cls(
            id=int(data["id"]),
            body=str(data.get("body") or ""),
            user=str((data.get("user") or {}).get("login") or ""),
            created_at=_parse_time(data.get("created_at")),
            updated_at=_parse_time(data.get("updated_at")),
            html_url=str(data.get("html_url") or ""),
        )


@dataclass(frozen=True)
class IssueEvent:
    """One entry of an issue's event history (``labeled``, ``closed``, ...)."""

    id: int
    event: str
    actor: str
    label: str | None
    created_at: datetime | None

    @classmethod
    def from_api(cls, data: Mapping[str, Any]) -> IssueEvent:
        return cls(
            id=int(data.get("id") or 0),
            event=str(data.get("event") or ""),
            actor=str((data.get("actor") or {}).get("login") or ""),
            label=(data.get("label") or {}).get("name"),
            created_at=_parse_time(data.get("created_at")),
        )


def _label_names(labels: Iterable[Any]) -> Iterator[str]:
    for label in labels:
        yield str(label["name"]) if isinstance(label, Mapping) else str(label)


def _parse_time(value: Any) -> datetime | None:
    if not value:
        return None
    try:
        return parse_iso(str(value))
    except ValueError:
        return None
