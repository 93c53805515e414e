"""The XDM actor's registration with the host: the ITI-32 import endpoint, and the
`tsnhub xdm import` / `tsnhub xdm export` commands (INTERFACES.md): XDM media in and out
of the store."""
from __future__ import annotations

import argparse
import getpass
import sys
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

from hub.cli import add_store_options, load_config

from actors.xdm import service

if TYPE_CHECKING:
    from hub.app import Hub


def install(hub: Hub) -> None:
    """Register the XDM medium upload operation."""
    # `/coordination?wsdl` describes the coordination services (actors.coordination);
    # ImportXdmMedium keeps its own WSDL, wsdl/coordination.wsdl.
    hub.soap_endpoint(service.PATH).operation(
        service.ACTION, service.TRANSACTION, partial(service.import_xdm_medium, store=hub.store, config=hub.config)
    )


def _settings(args: argparse.Namespace):  # type: ignore[no-untyped-def]
    from actors.xdm import medium
    from actors.xdm.importer import ImportSettings
    from actors.xds.content import cda_gate

    config = load_config(args)
    xdm = config.xdm
    return config, ImportSettings(
        repository_unique_id=config.xds.repository_unique_id,
        affinity_domain=config.identity.affinity_domain,
        source_id=xdm.source_id,
        patient=args.patient,
        completion=dict(xdm.completion),
        limits=medium.Limits(xdm.max_entries, xdm.max_total_bytes, xdm.max_entry_bytes, xdm.max_ratio),
        gate=cda_gate(config),
    )


def _import(args: argparse.Namespace) -> int:
    from tqdm import tqdm

    from actors.xdm.importer import import_medium
    from actors.xdm.medium import MediumError
    from hub.app import prepare_store
    from hub.store import Store

    try:
        data = Path(args.file).open("rb")  # read entry by entry, never whole
    except OSError as exc:
        print(f"tsnhub: cannot read {args.file}: {exc.strerror}", file=sys.stderr)
        return 2
    config, settings = _settings(args)
    store = Store(config.db_url)
    try:
        prepare_store(store)
        with tqdm(total=None, unit="file", desc="importing", disable=not sys.stderr.isatty()) as bar:

            def progress(done: int, total: int) -> None:
                bar.total = total
                bar.n = done
                bar.refresh()

            result = import_medium(store, data, settings, progress)
    except MediumError as exc:
        print(f"tsnhub: medium refused: {exc}", file=sys.stderr)
        return 1
    finally:
        store.close()
        data.close()
    for subset in result.subsets:
        if subset.imported:
            print(f"{subset.subset}: {subset.documents} document(s) imported")
        else:
            print(f"{subset.subset}: refused, nothing of it stored")
            for error in subset.errors:
                where = f" [{error.location}]" if error.location else ""
                print(f"  {error.code}: {error.context}{where}")
    return 0 if result.imported else 1


def _export(args: argparse.Namespace) -> int:
    from actors.coordination.decision import Action
    from actors.coordination.gate import Gate
    from actors.xdm.exporter import NothingToExport, export_patient
    from actors.xds.access import Reader
    from hub import audit
    from hub.app import prepare_store
    from hub.store import Store

    config = load_config(args)
    store = Store(config.db_url)
    # An export from the command line is an operator's action: the access decision allows
    # it (R0-operator-export) and the audit record says who and what was decided.
    operator = f"operator:{getpass.getuser()}"
    try:
        prepare_store(store)
        with store.session() as session:
            check = Gate.from_config(config.coordination).operator(session, operator)
            reader = Reader(session, None, None, check=check, action=Action.EXPORT)
            try:
                result = export_patient(session, args.patient, readable=reader.entries)
            finally:
                audit.record(store, audit.AuditEvent("XDM-Export", "success", who=operator, patient=args.patient,
                                                     detail=reader.summary()))
    except NothingToExport:
        print(f"tsnhub: no approved document for patient {args.patient}", file=sys.stderr)
        return 1
    finally:
        store.close()
    Path(args.out).write_bytes(result.data)
    print(f"{args.out}: {result.documents} document(s) in {result.subsets} submission set(s)")
    return 0


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    xdm = sub.add_parser("xdm", help="XDM media in and out of the store", description="XDM (ITI-32) media.")
    xdm_sub = xdm.add_subparsers(dest="xdm_command", metavar="COMMAND", parser_class=type(xdm))
    xdm_sub.required = True
    importer = xdm_sub.add_parser(
        "import",
        help="import a ZIP medium into the registry and repository",
        description="Check a ZIP medium whole (paths, links, sizes), then register each submission set "
        "in one transaction through the ITI-41 path. Exit 0 when everything was imported, 1 when the "
        "medium or a submission set was refused, 2 when the file cannot be read.",
    )
    importer.add_argument("file", metavar="FILE.zip")
    add_store_options(importer)
    importer.add_argument(
        "--patient",
        help="affinity-domain patient id (CX id^^^&OID&ISO) to register the medium under, when the "
        "medium's own id is not known in the affinity domain",
    )
    importer.set_defaults(run=_import)
    exporter = xdm_sub.add_parser(
        "export",
        help="write a patient's documents to a ZIP medium",
        description="Write the approved documents of a patient, with their metadata, INDEX.HTM and README.TXT.",
    )
    exporter.add_argument("--patient", required=True, help="patient id (CX id^^^&OID&ISO)")
    exporter.add_argument("--out", required=True, type=Path, metavar="FILE.zip")
    add_store_options(exporter)
    exporter.set_defaults(run=_export)
