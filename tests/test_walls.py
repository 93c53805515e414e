"""The walls of `.importlinter` stand: each contract fails on an import it forbids.

A copy of the five root packages and `.importlinter` is linted as it is (it must pass),
then once per case with one import planted in one module: `lint-imports` must exit
non-zero and print the planted contract's `name` followed by BROKEN, and the output
must name the planted import. Removing a contract from `.importlinter`, or narrowing
it so that it no longer covers the planted import, fails its case. The actors' bindings
are the one place the actors contract lets Twisted and the host in; that exception is
proven to hold, and the planted imports in other actor modules prove it goes no wider.
"""
from __future__ import annotations

import configparser
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import NamedTuple

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("hub", "actors", "vihf", "cda", "conformance")
CONFIG = ".importlinter"
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


class Plant(NamedTuple):
    """One import appended to one module of the copy, and what the linter must say."""

    contract: str  # the section `importlinter:contract:<contract>`
    module: str  # path of the module inside the copy
    line: str  # the import appended to it
    evidence: str  # text the report of the broken contract must contain


BREACHES = [
    Plant("wire", "hub/wire/soap.py", "import twisted.internet.reactor", "hub.wire.soap -> twisted"),
    Plant("wire", "hub/wire/mllp.py", "import socket", "hub.wire.mllp -> socket"),
    Plant("store", "hub/store/bulk.py", "import hub.app", "hub.store.bulk -> hub.app"),
    Plant("vihf-cda", "vihf/parse.py", "import hub.store", "vihf.parse -> hub.store"),
    Plant("vihf-cda", "cda/document.py", "import actors.xds.registry", "cda.document -> actors.xds.registry"),
    Plant("actors", "actors/xds/registry.py", "import zeep", "actors.xds.registry -> zeep"),
    Plant("actors", "actors/identity/pix.py", "import hub.mllp", "actors.identity.pix -> hub.mllp"),
    # actors.xds.registry imports actors.xds.errors; vihf.parse imports vihf.dn.
    Plant("acyclic", "actors/xds/errors.py", "from actors.xds import registry",
          "No cycles are allowed in actors.xds."),
    Plant("acyclic", "vihf/dn.py", "import vihf.parse", "No cycles are allowed in vihf."),
]

# `actors.*.binding -> **`: a binding is where an actor meets Twisted and the host.
ALLOWED = [
    Plant("actors", "actors/xds/binding.py", "import twisted", ""),
    Plant("actors", "actors/identity/binding.py", "import hub.mllp", ""),
]


def plant_id(plant: Plant) -> str:
    return f"{plant.contract}:{plant.module}:{plant.line}"


def contract_name(contract: str) -> str:
    """The `name =` of a contract, read from the project's own `.importlinter`."""
    config = configparser.ConfigParser()
    config.read(ROOT / CONFIG, encoding="utf-8")
    return config[f"importlinter:contract:{contract}"]["name"]


def lint(tree: Path) -> tuple[int, str]:
    """Run `lint-imports` on the copy at `tree`; its exit code and whitespace-folded output.

    Rich wraps long contract names at the terminal width, so the output's whitespace is
    folded before it is searched. No cache: a graph takes a fraction of a second, and a
    cache keyed on modification times must not be trusted across planted files.
    """
    result = subprocess.run(
        [str(LINT_IMPORTS), "--no-cache", "--no-logo", str(tree / CONFIG)],
        cwd=tree,
        env={**os.environ, "PYTHONPATH": str(tree)},
        capture_output=True,
        text=True,
        timeout=120,
    )
    return result.returncode, " ".join((result.stdout + result.stderr).split())


def plant(tree: Path, plant: Plant) -> None:
    path = tree / plant.module
    assert path.is_file(), f"{plant.module} is gone: choose another module for the case"
    with path.open("a", encoding="utf-8") as module:
        module.write(f"\n{plant.line}  # planted\n")


@pytest.fixture(scope="module")
def pristine(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The root packages and `.importlinter`, copied once for the module."""
    tree = tmp_path_factory.mktemp("pristine")
    for package in PACKAGES:
        shutil.copytree(ROOT / package, tree / package, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy2(ROOT / CONFIG, tree / CONFIG)
    return tree


@pytest.fixture
def house(pristine: Path, tmp_path: Path) -> Path:
    """A fresh copy of the pristine tree for one case to plant into."""
    tree = tmp_path / "house"
    shutil.copytree(pristine, tree)
    return tree


def test_the_house_as_it_stands_keeps_every_contract(pristine: Path) -> None:
    code, output = lint(pristine)
    assert code == 0, output
    assert "5 kept, 0 broken" in output, output


@pytest.mark.parametrize("breach", BREACHES, ids=plant_id)
def test_a_forbidden_import_breaks_its_contract(house: Path, breach: Plant) -> None:
    plant(house, breach)
    code, output = lint(house)
    assert code != 0, output
    assert f"{contract_name(breach.contract)} BROKEN" in output, output
    assert breach.evidence in output, output


@pytest.mark.parametrize("allowed", ALLOWED, ids=plant_id)
def test_a_binding_may_import_twisted_and_the_host(house: Path, allowed: Plant) -> None:
    plant(house, allowed)
    code, output = lint(house)
    assert code == 0, output
    assert f"{contract_name(allowed.contract)} KEPT" in output, output
