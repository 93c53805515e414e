"""The validation engine's registration with the host: the `/validation` SOAP service
(`cda.service`) and the `tsnhub validate` command.

`tsnhub validate FILE... [--profile auto|cda|xd-lab|ci-sis] [--format text|json|junit]
[--schema-dir DIR] [--schematron FILE]... [--config FILE]` (INTERFACES.md).

Exit status: 0 every document valid, 1 some document invalid (including documents that
are not well-formed or carry a DTD), 2 usage error, unusable configuration (schema
folder, schematron) or a file that cannot be read.
"""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from hub import config as hub_config
from hub.config import ConfigError

from cda import render
from cda.engine import Validator, ValidatorConfig
from cda.gate import POLICIES
from cda.profiles import PROFILES
from cda.report import Report
from cda.schema import SchemaConfigurationError
from cda.schematron import SchematronError
from cda.service import ACTION_VALIDATE, ValidationService

if TYPE_CHECKING:
    from hub.app import Hub

EXIT_VALID = 0
EXIT_INVALID = 1
EXIT_USAGE = 2

FORMATS = ("text", "json", "junit")

# Where the host serves the validation service, the WSDL that describes it, and the
# transaction name of its audit records and metrics.
PATH = "/validation"
WSDL = Path(__file__).resolve().parents[1] / "wsdl" / "validation.wsdl"
TRANSACTION = "validation"


def install(hub: Hub) -> None:
    """Register `/validation` with the `[cda]` configuration of the hub; an unusable schema
    folder, schematron or gate policy is a configuration error (the hub does not start)."""
    section = hub.config.cda
    if section.submission_gate not in POLICIES:
        raise ConfigError(f"[cda] submission_gate must be one of {', '.join(POLICIES)}")
    try:
        validator = Validator(ValidatorConfig(
            schema_dir=section.schema_dir,
            schematrons=list(section.schematrons),
            max_bytes=hub.config.server.max_request_bytes,
        ))
    except (SchemaConfigurationError, SchematronError) as exc:
        raise ConfigError(f"[cda] {exc}") from None
    service = ValidationService(validator)
    hub.soap_endpoint(PATH, WSDL).operation(ACTION_VALIDATE, TRANSACTION, service.validate)


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser(
        "validate",
        help="validate CDA documents (CDA R2 schema, CI-SIS, XD-LAB, schematron)",
        description="Validate clinical documents: well-formedness, HL7 CDA R2 schema, CI-SIS header rules, "
        "XD-LAB / CR-BIO / VAC / XDS-SD content rules and ISO schematrons. Exit 0 when every document is "
        "valid, 1 when one is invalid, 2 on a usage error or an unreadable file.",
    )
    parser.add_argument("files", nargs="+", type=Path, metavar="FILE", help="CDA documents to validate")
    parser.add_argument("--profile", choices=PROFILES, default="auto",
                        help="validation profile (default auto: detected from the templateIds)")
    parser.add_argument("--format", choices=FORMATS, default="text", help="report format (default text)")
    parser.add_argument("--schema-dir", type=Path,
                        help="folder holding the HL7 CDA schemas (CDA.xsd, CDA_SDTC.xsd, LabCDA.xsd); "
                        "default: [cda] schema_dir of the configuration; without one the schema step is skipped")
    parser.add_argument("--schematron", type=Path, action="append", default=[], metavar="FILE",
                        help="ISO schematron to run, FILE or FILE#PHASE (repeatable; replaces [cda] schematrons)")
    parser.add_argument("--config", type=Path, help="hub.toml configuration file")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    config = hub_config.load(args.config)
    schema_dir = str(args.schema_dir) if args.schema_dir is not None else config.cda.schema_dir
    schematrons = [str(p) for p in args.schematron] if args.schematron else list(config.cda.schematrons)
    try:
        validator = Validator(ValidatorConfig(schema_dir=schema_dir, schematrons=schematrons))
    except (SchemaConfigurationError, SchematronError) as exc:
        print(f"tsnhub validate: {exc}", file=sys.stderr)
        return EXIT_USAGE

    # Reports name files and quote rule messages: never fail on a narrow terminal encoding.
    if hasattr(sys.stdout, "reconfigure"):
        sys.stdout.reconfigure(errors="backslashreplace")
    reports: list[Report] = []
    unreadable = False
    for path in args.files:
        try:
            data = path.read_bytes()
        except OSError as exc:
            print(f"tsnhub validate: cannot read {path}: {exc.strerror}", file=sys.stderr)
            unreadable = True
            continue
        reports.append(validator.validate(data, args.profile, str(path)))

    if args.format == "json":
        sys.stdout.write(render.json_text(reports))
    elif args.format == "junit":
        sys.stdout.flush()
        sys.stdout.buffer.write(render.junit(reports))
    else:
        sys.stdout.write(render.text(reports))
    sys.stdout.flush()
    if unreadable:
        return EXIT_USAGE
    return EXIT_VALID if all(r.valid for r in reports) else EXIT_INVALID
