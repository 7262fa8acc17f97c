"""The object-store contract as a model: memory and file stores behave like a dict.

Hypothesis drives random sequences of puts (plain, create-only, compare-and-
swap on a current or an outdated generation), deletes (plain or conditional),
reads and listings; after every step the store must hold exactly what the
model says, and every refused precondition must have written nothing.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, rule

from shared.storage.base import ObjectStore
from shared.storage.errors import ObjectNotFound, PreconditionFailed
from shared.storage.file import FileStore
from shared.storage.memory import MemoryStore

NAMES = st.sampled_from(["a", "a/b", "a/c", "b/x", "runs/1", "runs/10", "runs/2", "z é"])
DATA = st.binary(max_size=64)
PREFIXES = st.sampled_from(["", "a", "a/", "runs/", "runs/1", "q"])


class StoreModel(RuleBasedStateMachine):
    """One store against a dict of name -> (data, generation), plus every generation seen."""

    def __init__(self) -> None:
        super().__init__()
        self.store = self.open_store()
        self.model: dict[str, tuple[bytes, str]] = {}
        self.old_generations: dict[str, list[str]] = {}

    def open_store(self) -> ObjectStore:
        raise NotImplementedError

    def _remember(self, name: str) -> None:
        if name in self.model:
            self.old_generations.setdefault(name, []).append(self.model[name][1])

    @rule(name=NAMES, data=DATA)
    def put(self, name: str, data: bytes) -> None:
        generation = self.store.put(name, data)
        self._remember(name)
        assert generation not in self.old_generations.get(name, []), "a generation was reused"
        self.model[name] = (data, generation)

    @rule(name=NAMES, data=DATA)
    def create_only(self, name: str, data: bytes) -> None:
        created = self.store.create(name, data)
        assert created == (name not in self.model)
        if created:
            self.model[name] = (data, self.store.get(name).generation)

    @rule(name=NAMES, data=DATA, outdated=st.booleans())
    def compare_and_swap(self, name: str, data: bytes, outdated: bool) -> None:
        olds = self.old_generations.get(name, [])
        if name in self.model and not (outdated and olds):
            expected = self.model[name][1]
            generation = self.store.put(name, data, if_generation=expected)
            self._remember(name)
            self.model[name] = (data, generation)
            return
        stale = olds[-1] if olds else "1"
        with pytest.raises((PreconditionFailed, ObjectNotFound)):
            self.store.put(name, data, if_generation=stale)

    @rule(name=NAMES, conditional=st.booleans(), outdated=st.booleans())
    def delete(self, name: str, conditional: bool, outdated: bool) -> None:
        olds = self.old_generations.get(name, [])
        if name not in self.model:
            with pytest.raises(ObjectNotFound):
                self.store.delete(name)
            return
        if conditional and outdated and olds:
            with pytest.raises(PreconditionFailed):
                self.store.delete(name, if_generation=olds[-1])
            return
        generation = self.model[name][1] if conditional else None
        self.store.delete(name, if_generation=generation)
        self._remember(name)
        del self.model[name]

    @rule(prefix=PREFIXES, page_size=st.integers(1, 4))
    def listing(self, prefix: str, page_size: int) -> None:
        listed = [(i.name, i.generation) for i in self.store.list(prefix, page_size=page_size)]
        expected = sorted((n, g) for n, (_, g) in self.model.items() if n.startswith(prefix))
        assert listed == expected

    @invariant()
    def contents_match(self) -> None:
        for name in ("a", "a/b", "runs/1", "z é"):
            stored = self.store.get_or_none(name)
            if name in self.model:
                assert stored is not None, name
                assert (stored.data, stored.generation) == self.model[name]
            else:
                assert stored is None, name

    def teardown(self) -> None:
        self.store.close()


class MemoryStoreModel(StoreModel):
    def open_store(self) -> ObjectStore:
        return MemoryStore()


class FileStoreModel(StoreModel):
    def open_store(self) -> ObjectStore:
        self.root = Path(tempfile.mkdtemp(prefix="store-model-"))
        return FileStore(self.root)

    def teardown(self) -> None:
        super().teardown()
        shutil.rmtree(self.root, ignore_errors=True)


_SETTINGS = settings(
    max_examples=60,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
MemoryStoreModel.TestCase.settings = _SETTINGS
FileStoreModel.TestCase.settings = _SETTINGS
test_memory_store_model = MemoryStoreModel.TestCase
test_file_store_model = FileStoreModel.TestCase
