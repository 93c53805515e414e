"""The XDS.b actors' registration with the host: /xds/registry and /xds/repository."""
from __future__ import annotations

from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import wsdl
from actors.xds import constants as c
from actors.xds import identity_feed, service

if TYPE_CHECKING:
    from hub.app import Hub

WSDL_DIR = Path(wsdl.__file__).resolve().parent
REGISTRY_PATH = "/xds/registry"
REPOSITORY_PATH = "/xds/repository"


def install(hub: Hub) -> None:
    """Register the Document Registry and Document Repository endpoints (INTERFACES.md);
    a broken value sets file or CDA gate policy stops the hub at start."""
    ctx = service.XdsContext.from_config(hub.config, hub.store)
    identity_feed.subscribe()
    registry = hub.soap_endpoint(REGISTRY_PATH, WSDL_DIR / "XDS.b_DocumentRegistry.wsdl", store_bound=True)
    registry.operation(c.ACTION_ITI42, "ITI-42", partial(service.iti42, ctx=ctx))
    registry.operation(c.ACTION_ITI18, "ITI-18", partial(service.iti18, ctx=ctx))
    registry.operation(c.ACTION_ITI57, "ITI-57", partial(service.iti57, ctx=ctx))
    repository = hub.soap_endpoint(REPOSITORY_PATH, WSDL_DIR / "XDS.b_DocumentRepository.wsdl", store_bound=True)
    repository.operation(c.ACTION_ITI41, "ITI-41", partial(service.iti41, ctx=ctx))
    repository.operation(c.ACTION_ITI43, "ITI-43", partial(service.iti43, ctx=ctx))
