"""The APQ store's bounds (api.documents.ApqStore): per client by count and by bytes, and in clients."""

from __future__ import annotations

from api.documents import ApqBounds, ApqStore
from domain.documents.models import document_id


def _put(store: ApqStore, key: str, text: str) -> str:
    doc_id = document_id(text)
    store.put(key, doc_id, text)
    return doc_id


def test_a_client_keeps_its_most_recently_used_documents_within_the_count() -> None:
    store = ApqStore(ApqBounds(documents_per_client=2, bytes_per_client=10_000, clients=4))
    first, second = _put(store, "a", "query A { x }"), _put(store, "a", "query B { x }")
    assert store.get("a", first) == "query A { x }"  # used: now the most recent
    third = _put(store, "a", "query C { x }")
    assert store.get("a", second) is None  # the least recently used went
    assert store.get("a", first) is not None
    assert store.get("a", third) is not None
    assert (store.size("a"), store.evictions) == (2, 1)
    _put(store, "a", "query C { x }")  # again: nothing new, nothing evicted
    assert (store.size("a"), store.evictions) == (2, 1)


def test_bytes_bound_a_client_and_a_text_larger_than_its_share_is_not_kept() -> None:
    store = ApqStore(ApqBounds(documents_per_client=100, bytes_per_client=100, clients=4))
    for n in range(10):
        _put(store, "a", f"query Q{n} {{ {'x ' * 10}}}")  # about 30 characters each
    assert store.size("a") == 3
    huge = _put(store, "a", "query H { " + "x " * 100 + "}")
    assert store.get("a", huge) is None
    assert store.size("a") == 3


def test_clients_are_bounded_and_a_dropped_clients_documents_count_as_evicted() -> None:
    store = ApqStore(ApqBounds(documents_per_client=10, bytes_per_client=10_000, clients=2))
    kept = {key: _put(store, key, f"query {key} {{ x }}") for key in ("a", "b")}
    _put(store, "a", "query a2 { x }")  # a is now more recent than b
    _put(store, "c", "query c { x }")
    assert store.size("b") == 0
    assert store.get("a", kept["a"]) is not None
    assert store.evictions == 1
    # One client's flood evicts only its own documents.
    for n in range(50):
        _put(store, "c", f"query flood{n} {{ x }}")
    assert store.get("a", kept["a"]) is not None
