"""The interoperability layer of the test suite: tests over third-party samples (IHE,
NIST, IPF, HL7 schemas and schematrons, the shared composed samples) that the project
does not ship. They find the corpus through `TSNHUB_CORPUS` (default `../shared/corpus`
beside the checkout). Without it they are skipped, all with the one reason below, and
the project's own tests (fixtures the project makes) still run; `.ci/run` requires it.

A test belongs to the layer when it uses the `corpus` fixture or carries the `corpus`
marker. Modules that list corpus files at collection time use `corpus_files`, which
gives an empty list (no test ids, no error) when the corpus is absent.
"""
from __future__ import annotations

import os
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = Path(os.environ.get("TSNHUB_CORPUS") or ROOT.parent / "shared" / "corpus").resolve()
PRESENT = CORPUS.is_dir()
SKIP_REASON = (
    f"interoperability layer: the third-party corpus is not at {CORPUS}; "
    "set TSNHUB_CORPUS to its folder to run these tests"
)


def corpus_files(folder: str, pattern: str = "*") -> list[str]:
    """Paths (relative to `folder` of the corpus, sorted) matching `pattern`, for
    parametrising a test at collection time; [] without the corpus."""
    base = CORPUS / folder
    if not base.is_dir():
        return []
    return sorted(str(p.relative_to(base)) for p in base.glob(pattern) if p.is_file())
