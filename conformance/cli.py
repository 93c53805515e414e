"""`tsnhub conformance list` and `tsnhub conformance run` (INTERFACES.md)."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path
from urllib.parse import urlsplit


def _list(args: argparse.Namespace) -> int:
    from conformance.plan import PLAN

    for test in PLAN:
        needs = f"  (after {', '.join(test.needs)})" if test.needs else ""
        print(f"{test.id:<16} {test.transaction:<9} {test.title}{needs}")
    return 0


def _mllp_address(text: str) -> tuple[str, int]:
    host, _, port = text.rpartition(":")
    if not host or not port.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST:PORT")
    return host, int(port)


def _run(args: argparse.Namespace) -> int:
    import requests

    from conformance import runner
    from conformance.plan import Sut
    from vihf.issue import Signer

    tests = runner.select(args.tests)
    if not tests:
        print(f"tsnhub: no test matches {args.tests!r} (see `tsnhub conformance list`)", file=sys.stderr)
        return 2

    def execute(https_url: str, mllp: tuple[str, int], pki: Path) -> int:
        session = requests.Session()
        session.trust_env = False  # the environment's CA bundle would override `verify`
        session.verify = str(args.ca or pki / "ca.pem")
        signer = Signer.load(args.vihf_key or pki / "vihf-signer.key", args.vihf_cert or pki / "vihf-signer.pem")
        sut = Sut(https_url.rstrip("/"), mllp, session, signer, args.affinity_domain)
        result = runner.run(sut, tests, https_url)
        for outcome in result.outcomes:
            line = f"{outcome.status.upper():<8} {outcome.test.id:<16} {outcome.test.title}"
            print(line + (f"\n         {outcome.message}" if outcome.message else ""))
        counts = {s: sum(o.status == s for o in result.outcomes) for s in (runner.PASSED, runner.FAILED, runner.ERROR, runner.NOT_RUN)}
        print(f"{counts[runner.PASSED]} passed, {counts[runner.FAILED] + counts[runner.ERROR]} failed"
              + (f", {counts[runner.NOT_RUN]} skipped" if counts[runner.NOT_RUN] else ""))
        if args.report:
            for path in runner.write_reports(result, args.report):
                print(f"report: {path}")
        return 0 if result.passed else 1

    if args.sut:
        parts = urlsplit(args.sut)
        if parts.scheme != "https" or not parts.hostname:
            print(f"tsnhub: --sut must be an https URL, not {args.sut!r}", file=sys.stderr)
            return 2
        mllp = args.mllp or (parts.hostname, 2575)
        return execute(args.sut, mllp, args.pki)
    with runner.local_hub() as (https_url, mllp, pki):
        return execute(https_url, mllp, pki)


def register(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    conformance = sub.add_parser(
        "conformance", help="Gazelle-style test plans against the hub or another system",
        description="Conformance test plans: simulators of the peer actors check a system under test.",
    )
    commands = conformance.add_subparsers(dest="conformance_command", metavar="COMMAND", parser_class=type(conformance))
    commands.required = True
    listing = commands.add_parser("list", help="list the tests of the plan", description="List the tests of the plan.")
    listing.set_defaults(run=_list)
    running = commands.add_parser(
        "run", help="run the plan and write its reports",
        description="Run the tests against --sut (an https base URL; MLLP on the same host, port 2575, unless "
        "--mllp is given), or against a hub started on loopback for the run. Exit 0 when every test passed, "
        "1 when some failed, 2 on usage errors.",
    )
    running.add_argument("--sut", help="base URL of the system under test, e.g. https://hub.example.org:8443")
    running.add_argument("--mllp", type=_mllp_address, help="MLLP address of the SUT, HOST:PORT")
    running.add_argument("--tests", help="glob of the test ids to run (and what they need), e.g. 'ITI41-*'")
    running.add_argument("--report", type=Path, help="folder for junit.xml and gazelle-report.xml")
    running.add_argument("--pki", type=Path, default=Path("var/pki"),
                         help="development PKI trusted by the SUT (default var/pki): CA and VIHF signer")
    running.add_argument("--ca", type=Path, help="CA bundle to trust for the SUT's TLS certificate (default <pki>/ca.pem)")
    running.add_argument("--vihf-key", type=Path, help="signing key of the VIHF assertions (default <pki>/vihf-signer.key)")
    running.add_argument("--vihf-cert", type=Path, help="its certificate (default <pki>/vihf-signer.pem)")
    running.add_argument("--affinity-domain", default="1.2.250.1.213.1.4.8",
                         help="assigning authority of the SUT's XDS patient ids (default INS-NIR)")
    running.set_defaults(run=_run)
