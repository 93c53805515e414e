"""`tsnhub` command line (INTERFACES.md): serve, pki init, db upgrade, and the commands
the other packages register (vihf issue, validate, xdm, conformance)."""
from __future__ import annotations

import argparse
import importlib
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import NoReturn

from hub import config as hub_config

# Modules exposing `register(subparsers)` for commands of their own.
COMMAND_MODULES: tuple[str, ...] = ("vihf.cli", "cda.binding", "actors.xdm.binding", "conformance.cli")


class Parser(argparse.ArgumentParser):
    """Usage errors on one line, exit status 2."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see --help)\n")


def add_store_options(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--config", type=Path, help="hub.toml configuration file")
    parser.add_argument("--data-dir", type=Path, help="folder of the embedded store (default var/)")
    parser.add_argument("--db", help="SQLAlchemy URL of the store (sqlite:///... or postgresql+psycopg://...)")


def load_config(args: argparse.Namespace) -> hub_config.Config:
    """Configuration file first, then the command-line options that override it."""
    config = hub_config.load(getattr(args, "config", None))
    data_dir = getattr(args, "data_dir", None)
    if data_dir is not None:
        config.data_dir = data_dir
    pki = getattr(args, "pki", None)
    if pki is not None:
        config.pki_dir = pki
    elif data_dir is not None:
        config.pki_dir = data_dir.resolve().parent / "pki"
    if getattr(args, "db", None):
        config.store.url = args.db
    for option, section, key in (
        ("host", "server", "host"),
        ("https_port", "server", "https_port"),
        ("mllp_port", "server", "mllp_port"),
    ):
        value = getattr(args, option, None)
        if value is not None:
            setattr(getattr(config, section), key, value)
    return config


def _serve(args: argparse.Namespace) -> int:
    from hub import app, xmllibs

    config = load_config(args)
    for name in ("server.pem", "server.key", "ca.pem"):
        if not (config.pki_dir / name).exists():
            print(f"tsnhub: {config.pki_dir / name} is missing: run `tsnhub pki init --dir {config.pki_dir}`", file=sys.stderr)
            return 1
    try:
        return app.serve(config)
    except (app.StoreNotReady, xmllibs.XmlLibraryMismatch) as exc:
        print(f"tsnhub: {exc}", file=sys.stderr)
        return 1


def _pki_init(args: argparse.Namespace) -> int:
    from hub import pki

    try:
        written = pki.init(args.dir, force=args.force)
    except pki.PkiExistsError as exc:
        print(f"tsnhub: {exc}", file=sys.stderr)
        return 1
    if written:
        print(f"development PKI written to {args.dir}")
    else:
        print(f"development PKI already present in {args.dir} (use --force to replace it)")
    return 0


def _db_upgrade(args: argparse.Namespace) -> int:
    from hub.store import Store

    config = load_config(args)
    store = Store(config.db_url)
    try:
        store.upgrade()
    finally:
        store.close()
    print("store at the current revision")
    return 0


def _port(value: str) -> int:
    port = int(value)
    if not 0 <= port <= 65535:
        raise argparse.ArgumentTypeError(f"{value} is not a TCP port")
    return port


def build_parser() -> argparse.ArgumentParser:
    parser = Parser(
        prog="tsnhub",
        description="tsnhub: IHE interoperability hub (XDS.b, PIX/PDQ/PAM, VIHF, CDA validation) "
        "for French regional care-coordination platforms.",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)
    sub.required = True

    serve = sub.add_parser("serve", help="run the hub (HTTPS and MLLP listeners)",
                           description="Run the hub in the foreground until SIGINT/SIGTERM. Port 0 picks a free "
                           "port; the chosen ports are printed as 'listening https HOST:PORT' and 'listening mllp HOST:PORT'.")
    add_store_options(serve)
    serve.add_argument("--pki", type=Path, help="folder written by `tsnhub pki init` (default var/pki, or <data-dir>/../pki)")
    serve.add_argument("--host", help="address to listen on (default 127.0.0.1)")
    serve.add_argument("--https-port", type=_port, help="HTTPS port (default 8443; 0 = any free port)")
    serve.add_argument("--mllp-port", type=_port, help="MLLP port (default 2575; 0 = any free port)")
    serve.set_defaults(run=_serve)

    pki = sub.add_parser("pki", help="development PKI", description="Development public-key infrastructure.")
    pki_sub = pki.add_subparsers(dest="pki_command", metavar="COMMAND", parser_class=Parser)
    pki_sub.required = True
    init = pki_sub.add_parser("init", help="create the development CA and certificates",
                              description="Write ca.pem, server.pem/key, client.pem/key and vihf-signer.pem/key. "
                              "An existing PKI is kept unless --force is given.")
    init.add_argument("--dir", type=Path, default=Path("var/pki"), help="target folder (default var/pki)")
    init.add_argument("--force", action="store_true", help="replace an existing PKI")
    init.set_defaults(run=_pki_init)

    db = sub.add_parser("db", help="store administration", description="Store administration.")
    db_sub = db.add_subparsers(dest="db_command", metavar="COMMAND", parser_class=Parser)
    db_sub.required = True
    upgrade = db_sub.add_parser("upgrade", help="apply migrations to the configured store",
                                description="Apply every pending migration to the configured store.")
    add_store_options(upgrade)
    upgrade.set_defaults(run=_db_upgrade)

    for name in COMMAND_MODULES:
        importlib.import_module(name).register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.run(args))
    except hub_config.ConfigError as exc:
        print(f"tsnhub: configuration: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
