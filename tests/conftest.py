"""Shared fixtures: the third-party corpus (the interoperability layer), stores on SQLite and PostgreSQL, a development PKI, and
real hub processes on loopback."""
from __future__ import annotations

import os
import sys
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.engine import make_url

from conformance.hubprocess import HubProcess, launch_hub, mllp_exchange, mllp_read, tsnhub_command
from hub import pki as hub_pki
from hub.store import Store

import interop

__all__ = ["HubProcess", "mllp_exchange", "mllp_read"]

ROOT = Path(__file__).resolve().parent.parent
POSTGRES_URL = os.environ.get("TSNHUB_TEST_POSTGRES_URL", "")


# -- the interoperability layer (tests/interop.py) ---------------------------------------

def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    # A test that reads the corpus through the fixture belongs to the layer: `-m corpus`
    # selects the layer, `-m "not corpus"` the project's own tests.
    for item in items:
        if "corpus" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.corpus)


def pytest_runtest_setup(item: pytest.Item) -> None:
    # Raised here, the skip has one location and one reason for the whole layer, so the
    # summary shows one line, however many tests the layer holds.
    if item.get_closest_marker("corpus") is not None and not interop.PRESENT:
        pytest.skip(interop.SKIP_REASON)


@pytest.fixture(scope="session")
def corpus() -> Path:
    """The third-party corpus folder (`TSNHUB_CORPUS`)."""
    if not interop.PRESENT:
        pytest.skip(interop.SKIP_REASON)
    return interop.CORPUS


# -- stores -------------------------------------------------------------------------------

def _fresh_postgres_database() -> str:
    """A new empty database on the CI PostgreSQL server, so tests never share state."""
    url = make_url(POSTGRES_URL)
    name = f"tsnhub_{uuid.uuid4().hex[:12]}"
    admin = create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    return url.set(database=name).render_as_string(hide_password=False)


def _drop_postgres_database(database_url: str) -> None:
    url = make_url(database_url)
    admin = create_engine(make_url(POSTGRES_URL), isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


STORE_BACKENDS = ["sqlite"] + (["postgresql"] if POSTGRES_URL else [])


@pytest.fixture(params=STORE_BACKENDS)
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database URL, on each backend available (SQLite always, PostgreSQL in CI)."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'store.sqlite'}"
        return
    url = _fresh_postgres_database()
    yield url
    _drop_postgres_database(url)


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    """An upgraded, empty store on each available backend."""
    instance = Store(store_url)
    instance.upgrade()
    yield instance
    instance.close()


# -- PKI ----------------------------------------------------------------------------------

@pytest.fixture(scope="session")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    directory = tmp_path_factory.mktemp("pki")
    hub_pki.init(directory)
    return directory


# -- hub processes ------------------------------------------------------------------------

@pytest.fixture
def start_hub(tmp_path: Path, pki: Path) -> Iterator[Callable[..., HubProcess]]:
    """Start `tsnhub serve` with the given hub.toml text; every hub is stopped afterwards."""
    started: list[HubProcess] = []

    def start(config: str = "", *args: str) -> HubProcess:
        hub = launch_hub(tmp_path / f"hub{len(started)}", pki, config, *args)
        started.append(hub)
        return hub

    yield start
    for hub in started:
        hub.stop()


@pytest.fixture(scope="session")
def open_hub(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    """One hub for the whole run with VIHF switched off: for transport-level tests."""
    hub = launch_hub(tmp_path_factory.mktemp("open-hub"), pki, "[security]\nrequire_vihf = false\n")
    yield hub
    hub.stop()


@pytest.fixture(scope="session")
def tsnhub_executable() -> list[str]:
    """The `tsnhub` command as installed in the virtual environment."""
    candidate = Path(sys.executable).parent / "tsnhub"
    return [str(candidate)] if candidate.exists() else tsnhub_command()


@pytest.fixture
def fresh_domain_cache() -> Iterator[None]:
    """The identity manager's process-wide cache of assigning authorities, emptied around
    a test whose store starts empty."""
    from actors.identity import core

    core.domain_cache.clear()
    yield
    core.domain_cache.clear()
