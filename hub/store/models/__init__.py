"""Every model module of the store; importing this package registers them all on `Base`.

One module per group of tables (audit, vihf, identity, registry, ...), each owned by
the package that writes those tables.
"""
from __future__ import annotations

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
