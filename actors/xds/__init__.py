"""IHE XDS.b Document Registry and Document Repository actors (ITI-18, 41, 42, 43, 57)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hub.app import Hub


def install(hub: Hub) -> None:
    """Register /xds/registry and /xds/repository on the hub (INTERFACES.md)."""
    from actors.xds import service

    service.install(hub)
