"""`tsnhub vihf issue`: print a signed VIHF 3.0 assertion (INTERFACES.md), for test
software and the conformance simulators."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import Any

from lxml import etree

from vihf import names
from vihf.principal import Software


# The options `issue` takes as they are, under the same name.
_AS_GIVEN = ("subject_id", "subject_name", "structure_id", "sector", "patient", "purpose", "ttl", "resource_urn", "vihf_version")


def _issue(args: argparse.Namespace) -> int:
    from vihf.issue import Signer, issue

    try:
        signer = Signer.load(args.key, args.cert)
    except (OSError, ValueError) as exc:
        print(f"tsnhub: cannot load the signing key or certificate: {exc}", file=sys.stderr)
        return 2
    try:
        assertion = issue(
            signer,
            roles=args.role,
            break_the_glass_reason=args.reason,
            authentication_mode=args.auth_mode,
            authn_context=args.authn_context if args.authn_context.startswith("urn:") else names.AC_CLASSES + args.authn_context,
            software=Software(args.software_name, args.software_version, args.software_id, args.registration_id),
            **{name: getattr(args, name) for name in _AS_GIVEN},
        )
    except ValueError as exc:
        print(f"tsnhub: {exc}", file=sys.stderr)
        return 2
    sys.stdout.write(etree.tostring(assertion, encoding="unicode"))
    sys.stdout.write("\n")
    return 0


def register(subparsers: Any) -> None:
    """Add `tsnhub vihf issue`."""
    vihf = subparsers.add_parser("vihf", help="VIHF assertions", description="VIHF assertions (French SAML 2.0 profile).")
    sub = vihf.add_subparsers(dest="vihf_command", metavar="COMMAND")
    sub.required = True
    issue = sub.add_parser(
        "issue",
        help="print a signed VIHF assertion",
        description="Build a VIHF 3.0 assertion, sign it (enveloped XML-DSig, exclusive c14n, RSA-SHA256) with the "
        "given key and certificate, and print it. The Issuer is the certificate subject.",
    )
    issue.add_argument("--key", type=Path, required=True, help="PEM private key of the signing certificate")
    issue.add_argument("--cert", type=Path, required=True, help="PEM signing certificate (organisation certificate)")
    issue.add_argument("--subject-id", required=True, help="Subject/NameID: IdNat_PS of the user, e.g. 8 + RPPS")
    issue.add_argument("--subject-name", required=True, help='subject-id attribute: "Nom, Prénom, Service"')
    issue.add_argument(
        "--role", action="append", required=True, metavar="CODE",
        help="role value, CODE or CODE^OID; repeat for the specialty (e.g. --role 10 --role SM26)",
    )
    issue.add_argument("--structure-id", required=True, help="Identifiant_Structure (IdNat_Struct)")
    issue.add_argument("--sector", required=True, help="Secteur_Activite code (TRE_R02), e.g. SA07")
    issue.add_argument("--patient", help="INS of the patient (test OID 1.2.250.1.213.1.4.10) or a CX identifier")
    issue.add_argument("--purpose", default=names.NORMAL, choices=names.PURPOSES, help="access mode (default normal)")
    issue.add_argument("--reason", help="justification of a break-the-glass access (Mode_Acces_Raison)")
    issue.add_argument("--ttl", type=int, default=300, help="lifetime in seconds (default 300)")
    issue.add_argument("--auth-mode", default=names.INDIRECTE, choices=names.AUTHENTICATION_MODES)
    issue.add_argument("--authn-context", default="unspecified",
                       help="SAML authentication context class (SmartcardPKI, Password, TLSClient, unspecified)")
    issue.add_argument("--resource-urn", default="urn:dmp", help="Ressource_URN (default urn:dmp)")
    issue.add_argument("--vihf-version", default=names.DEFAULT_VIHF_VERSION, choices=names.VIHF_VERSIONS_KNOWN)
    issue.add_argument("--software-name", default="tsnhub", help="LPS_Nom")
    issue.add_argument("--software-version", default="0.1.0", help="LPS_Version")
    issue.add_argument("--software-id", help="LPS_ID")
    issue.add_argument("--registration-id", help="LPS_ID_HOMOLOGATION_DMP")
    issue.set_defaults(run=_issue)
