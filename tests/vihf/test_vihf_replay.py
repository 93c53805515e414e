"""vihf.replay: the replay cache in the store (shared by every hub process)."""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

from sqlalchemy import func, select

from hub.store import Store
from hub.store.models.vihf import VihfReplay
from hub.store.replay import ReplayCache

NOW = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


def count(store: Store) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(VihfReplay)) or 0


def test_second_use_within_validity_is_a_replay(store: Store) -> None:
    cache = ReplayCache(store)
    assert cache.first_use("_a1", NOW + timedelta(minutes=5), NOW)
    assert not cache.first_use("_a1", NOW + timedelta(minutes=5), NOW + timedelta(minutes=1))
    assert not ReplayCache(store).first_use("_a1", NOW + timedelta(minutes=5), NOW + timedelta(minutes=2))


def test_an_expired_id_left_in_the_store_does_not_block_a_new_use(store: Store) -> None:
    cache = ReplayCache(store)
    assert cache.first_use("_a2", NOW + timedelta(seconds=30), NOW)
    later = NOW + timedelta(seconds=45)
    assert cache.first_use("_a2", later + timedelta(minutes=5), later)
    with store.session() as session:
        assert session.get(VihfReplay, "_a2").expires_at == later + timedelta(minutes=5)


def test_expired_ids_are_purged(store: Store) -> None:
    cache = ReplayCache(store)
    for index in range(3):
        cache.first_use(f"_old{index}", NOW + timedelta(seconds=10), NOW)
    cache.first_use("_live", NOW + timedelta(hours=1), NOW)
    assert cache.purge(NOW + timedelta(minutes=1)) == 3
    assert count(store) == 1


def test_purge_runs_on_insert_once_a_minute(store: Store) -> None:
    cache = ReplayCache(store)
    cache.first_use("_b0", NOW + timedelta(seconds=10), NOW)  # first insert purges (nothing yet)
    cache.first_use("_b1", NOW + timedelta(hours=1), NOW + timedelta(seconds=30))
    assert count(store) == 2  # _b0 expired but the purge interval has not elapsed
    cache.first_use("_b2", NOW + timedelta(hours=1), NOW + timedelta(seconds=90))
    assert count(store) == 2  # _b0 purged
