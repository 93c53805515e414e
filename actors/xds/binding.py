"""The XDS.b actors' registration with the host: /xds/registry and /xds/repository."""
from __future__ import annotations

from typing import TYPE_CHECKING

from actors.xds import service

if TYPE_CHECKING:
    from hub.app import Hub


def install(hub: Hub) -> None:
    """Register /xds/registry and /xds/repository on the hub (INTERFACES.md)."""
    service.install(hub)
