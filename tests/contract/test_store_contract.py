"""The object store contract, run unchanged against memory, file, gcs and s3.

Every test takes the ``store`` fixture (tests/contract/conftest.py), so each
shows up once per backend: ``test_put_then_get_round_trips[gcs]``.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta

import pytest

from shared.storage import ObjectNotFound, ObjectStore, PreconditionFailed

THREADS = 16
INCREMENTS_PER_THREAD = 4


def _is(store: ObjectStore, scheme: str) -> bool:
    return store.url.startswith(f"{scheme}://")


def test_put_then_get_round_trips(store: ObjectStore) -> None:
    """A put returns a generation; get returns the same bytes, generation and metadata."""
    generation = store.put("doc.json", b'{"a": 1}', metadata={"owner": "ops", "kind": "doc"})
    got = store.get("doc.json")
    assert got.name == "doc.json"
    assert got.data == b'{"a": 1}'
    assert got.generation == generation
    assert dict(got.metadata) == {"owner": "ops", "kind": "doc"}


def test_updated_time_is_aware_and_recent(store: ObjectStore) -> None:
    """An object's updated time is timezone-aware and close to now."""
    store.put("stamp", b"x")
    updated = store.get("stamp").updated
    assert updated.tzinfo is not None
    assert abs(datetime.now(UTC) - updated) < timedelta(minutes=5)


def test_get_missing_raises_not_found(store: ObjectStore) -> None:
    """Reading a name that was never written raises ObjectNotFound."""
    with pytest.raises(ObjectNotFound):
        store.get("nothing/here")
    assert store.get_or_none("nothing/here") is None


def test_overwrite_replaces_data_and_metadata(store: ObjectStore) -> None:
    """An unconditional put replaces bytes and metadata and changes the generation."""
    first = store.put("k", b"one", metadata={"v": "1"})
    second = store.put("k", b"two", metadata={"w": "2"})
    got = store.get("k")
    assert second != first
    assert (got.data, got.generation, dict(got.metadata)) == (b"two", second, {"w": "2"})


def test_create_only_refuses_an_existing_object(store: ObjectStore) -> None:
    """if_absent creates once; a second create fails and leaves the first bytes."""
    generation = store.put("once", b"first", if_absent=True)
    with pytest.raises(PreconditionFailed):
        store.put("once", b"second", if_absent=True)
    got = store.get("once")
    assert (got.data, got.generation) == (b"first", generation)
    assert store.create("once", b"third") is False
    assert store.create("fresh", b"new") is True


def test_compare_and_swap_succeeds_at_the_current_generation(store: ObjectStore) -> None:
    """A put with the current generation writes and returns a new generation."""
    first = store.put("counter", b"1")
    second = store.put("counter", b"2", if_generation=first)
    assert second != first
    assert store.get("counter").data == b"2"


def test_compare_and_swap_fails_at_a_stale_generation(store: ObjectStore) -> None:
    """A put with an old generation fails and leaves the current bytes in place."""
    first = store.put("counter", b"1")
    second = store.put("counter", b"2", if_generation=first)
    with pytest.raises(PreconditionFailed):
        store.put("counter", b"3", if_generation=first)
    got = store.get("counter")
    assert (got.data, got.generation) == (b"2", second)


def test_compare_and_swap_on_a_missing_object_fails(store: ObjectStore) -> None:
    """A generation precondition on a name that does not exist fails, creating nothing."""
    other = store.put("elsewhere", b"x")
    with pytest.raises(PreconditionFailed):
        store.put("missing", b"x", if_generation=other)
    assert store.get_or_none("missing") is None


def test_delete_removes_the_object(store: ObjectStore) -> None:
    """After delete, get raises ObjectNotFound and the name is gone from listings."""
    store.put("gone", b"x")
    store.put("kept", b"y")
    store.delete("gone")
    with pytest.raises(ObjectNotFound):
        store.get("gone")
    assert [info.name for info in store.list()] == ["kept"]


def test_delete_missing_raises_not_found(store: ObjectStore) -> None:
    """Deleting a name that does not exist raises ObjectNotFound."""
    with pytest.raises(ObjectNotFound):
        store.delete("never")
    assert store.delete_if_exists("never") is False


def test_conditional_delete(store: ObjectStore) -> None:
    """A delete at a stale generation fails and keeps the object; at the current one it works."""
    if _is(store, "gs"):
        pytest.skip("fake-gcs-server does not enforce generation preconditions on delete")
    first = store.put("guarded", b"1")
    second = store.put("guarded", b"2", if_generation=first)
    with pytest.raises(PreconditionFailed):
        store.delete("guarded", if_generation=first)
    assert store.get("guarded").data == b"2"
    store.delete("guarded", if_generation=second)
    assert store.get_or_none("guarded") is None


def test_recreate_after_delete_gets_a_fresh_object(store: ObjectStore) -> None:
    """A deleted name can be created again, and the new object can be read."""
    store.put("phoenix", b"old", if_absent=True)
    store.delete("phoenix")
    store.put("phoenix", b"new", if_absent=True)
    assert store.get("phoenix").data == b"new"


@pytest.mark.parametrize(
    "data",
    [
        pytest.param(b"", id="empty"),
        pytest.param(bytes(range(256)) * 4, id="all-byte-values"),
        pytest.param(b"\n\n{not json}\r\n\x00", id="newlines-and-nul"),
        pytest.param(b"x" * 300_000, id="300kb"),
    ],
)
def test_bytes_survive_unchanged(store: ObjectStore, data: bytes) -> None:
    """Empty, binary and larger payloads come back byte for byte, with the right size."""
    store.put("blob.bin", data, content_type="application/octet-stream")
    assert store.get("blob.bin").data == data
    [info] = store.list("blob")
    assert info.size == len(data)


def test_nested_names_coexist_with_their_parents(store: ObjectStore) -> None:
    """Objects "a", "a/b" and "a/b/c" are three independent objects."""
    for name in ("a", "a/b", "a/b/c", "a/b/c/d.json"):
        store.put(name, name.encode())
    for name in ("a", "a/b", "a/b/c", "a/b/c/d.json"):
        assert store.get(name).data == name.encode()
    assert [i.name for i in store.list("a")] == ["a", "a/b", "a/b/c", "a/b/c/d.json"]
    assert [i.name for i in store.list("a/b/")] == ["a/b/c", "a/b/c/d.json"]
    store.delete("a/b")
    assert [i.name for i in store.list("a")] == ["a", "a/b/c", "a/b/c/d.json"]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("runs/2026-06-27/run id with spaces.json", id="spaces"),
        pytest.param("jobs/ünïcødé/名前", id="unicode"),
        pytest.param("odd/chars=+,@;%25&~!", id="punctuation"),
        pytest.param("dots/.hidden/..twice", id="leading-dots"),
    ],
)
def test_unusual_names_round_trip(store: ObjectStore, name: str) -> None:
    """Names with spaces, unicode and punctuation are stored and listed as given."""
    store.put(name, b"ok")
    assert store.get(name).data == b"ok"
    assert [i.name for i in store.list(name.split("/", maxsplit=1)[0])] == [name]


@pytest.mark.parametrize(
    "name",
    [
        pytest.param("", id="empty"),
        pytest.param("/abs", id="leading-slash"),
        pytest.param("dir/", id="trailing-slash"),
        pytest.param("a//b", id="empty-segment"),
        pytest.param("a/../b", id="dot-dot"),
    ],
)
def test_invalid_names_are_rejected(store: ObjectStore, name: str) -> None:
    """Names no backend can store the same way raise ValueError before any write."""
    with pytest.raises(ValueError, match="invalid object name"):
        store.put(name, b"x")
    assert list(store.list()) == []


def test_list_by_prefix_pages_in_name_order(store: ObjectStore) -> None:
    """Listing pages through every object under a prefix, in name order, and no others."""
    names = [f"p/item-{i:02d}" for i in range(8)]
    for name in reversed(names):
        store.put(name, name.encode(), metadata={"n": name[-2:]})
    store.put("p-sibling", b"x")
    store.put("q/other", b"x")
    first = store.list_page("p/", page_size=3)
    assert [i.name for i in first.items] == names[:3]
    assert first.next_token is not None
    second = store.list_page("p/", page_size=3, page_token=first.next_token)
    assert [i.name for i in second.items] == names[3:6]
    third = store.list_page("p/", page_size=3, page_token=second.next_token)
    assert [i.name for i in third.items] == names[6:]
    assert third.next_token is None
    assert [i.name for i in store.list("p/", page_size=3)] == names
    assert [i.name for i in store.list("p")] == ["p-sibling", *names]  # "-" sorts before "/"


def test_list_items_carry_generation_size_time_and_metadata(store: ObjectStore) -> None:
    """Each listed item has the object's generation, size, updated time and metadata."""
    generation = store.put("meta/one", b"12345", metadata={"team": "sre"})
    [info] = store.list("meta/")
    assert info.name == "meta/one"
    assert info.generation == generation
    assert info.size == 5
    assert info.updated.tzinfo is not None
    assert dict(info.metadata) == {"team": "sre"}


def test_list_start_after_skips_up_to_and_including_the_name(store: ObjectStore) -> None:
    """start_after lists only names strictly after it, and combines with paging."""
    names = [f"s/{letter}" for letter in "abcdef"]
    for name in names:
        store.put(name, b"x")
    assert [i.name for i in store.list("s/", start_after="s/b")] == names[2:]
    assert [i.name for i in store.list("s/", start_after="s/bb", page_size=2)] == names[2:]
    assert [i.name for i in store.list("s/", start_after="s/f")] == []
    assert [i.name for i in store.list("s/", start_after="a")] == names


def test_listing_orders_nested_names_as_plain_strings(store: ObjectStore) -> None:
    """Nested names list in plain string order, and start_after can land inside a subtree."""
    names = ["t/a", "t/a-b", "t/a/x", "t/a/y/z", "t/a0", "t/b"]  # sorted() order
    for name in reversed(names):
        store.put(name, b"x")
    assert [i.name for i in store.list("t/")] == names
    assert [i.name for i in store.list("t/", start_after="t/a/x")] == names[3:]
    assert [i.name for i in store.list("t/", start_after="t/a/zz")] == names[4:]
    assert [i.name for i in store.list("t/a/")] == ["t/a/x", "t/a/y/z"]
    paged, token = [], None
    while True:
        page = store.list_page("t/", page_size=2, page_token=token)
        paged.extend(i.name for i in page.items)
        if page.next_token is None:
            break
        token = page.next_token
    assert paged == names


def test_list_of_an_empty_prefix_is_empty(store: ObjectStore) -> None:
    """Listing a prefix with no objects gives one empty last page."""
    store.put("x/1", b"x")
    page = store.list_page("y/")
    assert page.items == []
    assert page.next_token is None


def _race(workers: int, job: Callable[[int], object]) -> list[object]:
    barrier = threading.Barrier(workers)

    def run(index: int) -> object:
        barrier.wait()  # start together to maximise contention
        return job(index)

    with ThreadPoolExecutor(workers) as pool:
        return list(pool.map(run, range(workers)))


def test_racing_create_only_has_exactly_one_winner(store: ObjectStore) -> None:
    """16 threads create the same name at once: exactly one succeeds, its bytes stay."""
    results = _race(THREADS, lambda i: store.create("lock", str(i).encode()))
    winners = [i for i, won in enumerate(results) if won]
    assert len(winners) == 1
    assert store.get("lock").data == str(winners[0]).encode()


def test_racing_compare_and_swap_loses_no_update(store: ObjectStore) -> None:
    """16 threads increment one counter with compare-and-swap: the total is exact."""
    store.put("counter", b"0")

    def increment(_: int) -> int:
        conflicts = 0
        for _ in range(INCREMENTS_PER_THREAD):
            while True:
                current = store.get("counter")
                try:
                    store.put(
                        "counter",
                        str(int(current.data) + 1).encode(),
                        if_generation=current.generation,
                    )
                    break
                except PreconditionFailed:
                    conflicts += 1
        return conflicts

    _race(THREADS, increment)
    assert int(store.get("counter").data) == THREADS * INCREMENTS_PER_THREAD
