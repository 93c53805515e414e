"""Store-bound endpoints (XDS) are served by a pool of `[server] store_threads` threads,
apart from the general pool that outbound calls may hold."""
from __future__ import annotations

import io
import threading
import time
from pathlib import Path
from typing import Any

from twisted.web.test.requesthelper import DummyRequest

from hub import web
from hub.app import Hub
from hub.config import Config, ServerConfig, StoreConfig


class _ThreadClock:
    """Results delivered on the worker thread: enough for Hub.in_*_thread without a reactor."""

    def callFromThread(self, function: Any, *args: Any, **kwargs: Any) -> None:
        function(*args, **kwargs)


def _hub(tmp_path: Path, store_threads: int) -> Hub:
    config = Config(server=ServerConfig(store_threads=store_threads), store=StoreConfig(url=f"sqlite:///{tmp_path / 'h.sqlite'}"))
    return Hub(config, clock=_ThreadClock())


def test_store_bound_work_runs_on_at_most_store_threads_threads(tmp_path: Path) -> None:
    hub = _hub(tmp_path, store_threads=2)
    hub.store_pool.start()
    lock = threading.Lock()
    active, most, names = [0], [0], set()
    done = threading.Semaphore(0)

    def work() -> None:
        with lock:
            active[0] += 1
            most[0] = max(most[0], active[0])
            names.add(threading.current_thread().name)
        time.sleep(0.05)
        with lock:
            active[0] -= 1

    try:
        for _ in range(6):
            hub.in_store_thread(work).addBoth(lambda _: done.release())
        for _ in range(6):
            assert done.acquire(timeout=10)
    finally:
        hub.store_pool.stop()
        hub.store.close()
    assert most[0] == 2
    assert all(name.startswith("PoolThread-tsnhub-store") for name in names), names
    assert not hub.inflight


def test_the_xds_endpoints_are_store_bound_and_dispatched_to_the_store_pool(tmp_path: Path) -> None:
    hub = _hub(tmp_path, store_threads=2)
    hub.install(("actors.xds.binding",))
    assert hub.soap_endpoints["/xds/registry"].store_bound and hub.soap_endpoints["/xds/repository"].store_bound
    assert not hub.soap_endpoints["/pix"].store_bound
    used: list[str] = []

    def recorder(name: str) -> Any:
        def run(function: Any, *args: Any, **kwargs: Any) -> Any:
            used.append(name)
            from twisted.internet import defer

            return defer.Deferred()

        return run

    hub.in_store_thread = recorder("store")  # type: ignore[method-assign]
    hub.in_thread = recorder("general")  # type: ignore[method-assign]
    for path in ("/xds/repository", "/pix"):
        request = DummyRequest([b""])
        request.method = b"POST"
        request.content = io.BytesIO(b"<x/>")
        request.channel = None
        web.SoapResource(hub, hub.soap_endpoints[path]).render_POST(request)
    hub.store.close()
    assert used == ["store", "general"]
