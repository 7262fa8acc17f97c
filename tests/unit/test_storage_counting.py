"""CountingStore: every port call passed through and counted; put_if_unchanged."""

from __future__ import annotations

import pytest

from shared.storage import ObjectNotFound, PreconditionFailed
from shared.storage.counting import CountingStore
from shared.storage.memory import MemoryStore


def test_every_operation_reaches_the_inner_store_and_is_counted() -> None:
    """Gets, puts, deletes and list pages are counted and their effects are real."""
    inner = MemoryStore()
    store = CountingStore(inner)
    generation = store.put("a/1", b"one", metadata={"k": "v"})
    store.put("a/2", b"two")
    assert store.get("a/1").data == b"one"
    assert inner.get("a/1").metadata == {"k": "v"}
    assert [i.name for i in store.list("a/", page_size=1)] == ["a/1", "a/2"]
    store.delete("a/1", if_generation=generation)
    with pytest.raises(ObjectNotFound):
        inner.get("a/1")
    assert dict(store.ops) == {"put": 2, "get": 1, "list": 2, "delete": 1}
    assert store.listed == 2
    assert store.operations == 6


def test_preconditions_pass_through() -> None:
    """A failed precondition on the inner store still fails, and still counts."""
    store = CountingStore(MemoryStore())
    store.put("x", b"1")
    with pytest.raises(PreconditionFailed):
        store.put("x", b"2", if_absent=True)
    assert store.get("x").data == b"1"
    assert store.ops["put"] == 2


def test_names_are_kept_only_when_asked_and_reset_forgets() -> None:
    """record_names keeps (operation, name) in call order; reset clears all counts."""
    quiet = CountingStore(MemoryStore())
    quiet.put("runs/1", b"")
    assert quiet.calls == []
    store = CountingStore(MemoryStore(), record_names=True)
    store.put("runs/1", b"")
    store.put("stats/1", b"")
    store.get("runs/1")
    assert store.names("put") == ["runs/1", "stats/1"]
    assert store.by_prefix("put") == {"runs": 1, "stats": 1}
    assert store.by_prefix("get") == {"runs": 1}
    store.reset()
    assert (store.operations, store.listed, store.calls) == (0, 0, [])


def test_put_if_unchanged_creates_or_swaps() -> None:
    """None means create-only; a generation means compare-and-swap; a stale one fails."""
    store = MemoryStore()
    first = store.put_if_unchanged("doc", b"1", None)
    with pytest.raises(PreconditionFailed):
        store.put_if_unchanged("doc", b"again", None)
    second = store.put_if_unchanged("doc", b"2", first)
    with pytest.raises(PreconditionFailed):
        store.put_if_unchanged("doc", b"stale", first)
    assert store.get("doc").data == b"2"
    assert store.get("doc").generation == second
