"""The XDM actor's registration with the host: the ITI-32 import endpoint."""
from __future__ import annotations

from typing import TYPE_CHECKING

from actors.xdm import service

if TYPE_CHECKING:
    from hub.app import Hub


def install(hub: Hub) -> None:
    """Register the XDM medium upload operation."""
    service.install(hub)
