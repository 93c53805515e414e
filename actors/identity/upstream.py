"""Links to regional identity servers: upstream PDQ suppliers consulted by the hub's PDQ
Supplier (ITI-21), and an upstream PIX Manager fed with the identities the hub accepts.

Upstream PDQ (`[[identity.upstream_pdq]]` in hub.toml). A supplier is queried by ITI-21
(QBP^Q22 over MLLP: `Iti21Consumer`) or ITI-47 (PRPA_IN201305UV02 over SOAP 1.2:
`actors.pixpdqv3.consumer`), through the links the bindings give (the host's outbound MLLP
and SOAP clients); this module opens no connection itself:

- when a local ITI-21 query (first page, no continuation pointer) finds nobody: every
  configured supplier is asked, in order;
- when QPD-8 ("what domains returned") names the assigning authority of a supplier: that
  supplier is asked before the local search (extended search). A consumer that wants the
  regional identifier of a patient asks for the regional domain, which is what QPD-8 is
  for in ITI-21; the hub then has to learn it from the server that assigns it.

The parameters of the local query are sent (without QPD-8: the hub keeps what it needs).
Each person returned with an identifier in the supplier's domain is cross-referenced into
the local store as an identity feed from that domain would be (`core.feed`, one
transaction per person): identifiers of the supplier's domain and INS ones only (the INS
kept under the INS rules: PID-32 `VALI` in v2; HL7 v3 carries no reliability code, so an
INS from a v3 supplier is not kept), traits as the supplier gives them, EMPI matching for
a new record. The local search then runs (again) and answers. An unreachable supplier, one
that times out or answers with an error, is logged and the local answer stands: the
consumer gets the local result (`NF` when none), never an error of the upstream link.

Upstream PIX (`upstream_pix = ["host:port"]`): every ITI-8 feed (ADT^A01/A04/A05/A08,
A40) and ITI-30 create/update (A28 sent as A04, A31 as A08) the hub acknowledged `AA` is
sent on as an ITI-8 feed to each upstream PIX Manager: the PID (and MRG) segments as
received, in a new MSH from the hub. The message is written to the outbound outbox of
`actors.identity.notify` right after the local commit and delivered by its notifier, which
retries a manager that is down or does not answer `AA`.
"""
from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any, Protocol

from lxml import etree
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session

from hub.wire import hl7v2
from hub.config import ConfigError
from hub.store import Store
from hub.store.models.identity import PixNotification

from actors.identity import core, er7, ins
from actors.identity.core import Context, IncomingIdentity
from actors.identity.model import Hd
from actors.identity.query import DemographicsQuery
from actors.identity.v2 import Refusal, incoming_from_pid, parse
from vihf import issue

log = logging.getLogger(__name__)


class IdentityService(Protocol):
    """What cross-referencing needs of the identity service (`actors.identity.service`):
    the hub's v2 identity, and the one way an identity message is written."""

    identity: hl7v2.Identity

    def run(self, msh: hl7v2.Msh, work: Callable[[Session, Context], str]) -> str: ...

PROTOCOLS = ("mllp", "soap")
# The largest answer read from a supplier (the links of the binding enforce it).
MAX_RESPONSE_BYTES = 16 * 1024 * 1024


class UpstreamError(Exception):
    """An upstream server could not be reached, timed out, or refused the query."""


# -- configuration ----------------------------------------------------------------------------

@dataclass(frozen=True)
class UpstreamSupplier:
    """One `[[identity.upstream_pdq]]` table of hub.toml."""

    name: str
    protocol: str  # "mllp": ITI-21 over MLLP; "soap": ITI-47 over SOAP 1.2
    address: str  # "host:port" (mllp) or the endpoint URL (soap)
    domain: str  # OID (or namespace) of the assigning authority whose identifiers it gives
    timeout_seconds: float = 5.0
    max_results: int = 50
    receiving_application: str = ""  # MSH-5 of the ITI-21 query
    receiving_facility: str = ""  # MSH-6
    device_id: str = ""  # receiver device id of the ITI-47 query
    ca_file: str = ""  # PEM bundle trusted for the supplier's TLS certificate (default: system CAs)
    client_cert: str = ""  # PEM certificate and key for mutual TLS
    client_key: str = ""
    # VIHF assertion of the hub in each ITI-47 query (all or none): signing key and
    # certificate (PEM), user id (NameID), name, roles ("CODE" or "CODE^OID", comma
    # separated), structure id, activity sector.
    vihf_key: str = ""
    vihf_cert: str = ""
    vihf_subject_id: str = ""
    vihf_subject_name: str = ""
    vihf_roles: str = ""
    vihf_structure_id: str = ""
    vihf_sector: str = ""

    def owns(self, hd: Hd) -> bool:
        """Whether `hd` is the supplier's assigning authority (by OID or namespace)."""
        return self.domain in {hd.universal_id, hd.namespace} - {""}


_REQUIRED = ("name", "protocol", "address", "domain")
_VIHF = ("vihf_key", "vihf_cert", "vihf_subject_id", "vihf_subject_name", "vihf_roles", "vihf_structure_id", "vihf_sector")


def suppliers_from_config(entries: Sequence[Any]) -> tuple[UpstreamSupplier, ...]:
    """`upstream_pdq` of [identity] -> suppliers; a malformed entry is a `ConfigError`."""
    fields = {f.name: f for f in dataclasses.fields(UpstreamSupplier)}
    suppliers: list[UpstreamSupplier] = []
    for index, entry in enumerate(entries, start=1):
        where = f"[identity] upstream_pdq #{index}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(entry) - set(fields))
        if unknown:
            raise ConfigError(f"{where}: unknown key(s): {', '.join(unknown)}")
        missing = [key for key in _REQUIRED if not entry.get(key)]
        if missing:
            raise ConfigError(f"{where}: missing {', '.join(missing)}")
        values: dict[str, Any] = {}
        for key, value in entry.items():
            expected = float if key == "timeout_seconds" else int if key == "max_results" else str
            if isinstance(value, bool) or not isinstance(value, (int, float) if expected is float else expected):
                raise ConfigError(f"{where}: {key} must be of type {expected.__name__}")
            values[key] = expected(value)
        supplier = UpstreamSupplier(**values)
        if supplier.protocol not in PROTOCOLS:
            raise ConfigError(f"{where}: protocol must be one of {', '.join(PROTOCOLS)}")
        if supplier.timeout_seconds <= 0 or supplier.max_results < 1:
            raise ConfigError(f"{where}: timeout_seconds and max_results must be positive")
        if supplier.protocol == "mllp" and not supplier.address.rpartition(":")[2].isdigit():
            raise ConfigError(f"{where}: an MLLP address is host:port")
        if supplier.protocol == "soap" and not supplier.address.startswith(("https://", "http://")):
            raise ConfigError(f"{where}: a SOAP address is an http(s) URL")
        given = [key for key in _VIHF if getattr(supplier, key)]
        if given and len(given) < len(_VIHF):
            raise ConfigError(f"{where}: a VIHF assertion needs {', '.join(k for k in _VIHF if k not in given)}")
        if given:
            try:
                issue.roles_from(supplier.vihf_roles.split(","))
            except ValueError as exc:
                raise ConfigError(f"{where}: vihf_roles: {exc}") from None
        if any(other.name == supplier.name for other in suppliers):
            raise ConfigError(f"{where}: another supplier is named {supplier.name!r}")
        suppliers.append(supplier)
    return tuple(suppliers)


def accepted_domains(identity_config: Any) -> tuple[str, ...]:
    """The upstream suppliers' domains, which the identity manager must accept to keep
    the identifiers they give (the entries are checked when the hub starts)."""
    return tuple(str(entry.get("domain", "")) for entry in identity_config.upstream_pdq if isinstance(entry, dict))


def vihf_source(supplier: UpstreamSupplier) -> Callable[[], etree._Element] | None:
    """A fresh signed VIHF assertion per ITI-47 query to `supplier` (a server refuses a
    replayed assertion ID), or None when none is configured; the signer is loaded once."""
    if not supplier.vihf_key:
        return None
    try:
        signer = issue.Signer.load(Path(supplier.vihf_key), Path(supplier.vihf_cert))
    except (OSError, ValueError) as exc:
        raise ConfigError(f"[identity] upstream_pdq {supplier.name}: VIHF signer: {exc}") from None
    roles = issue.roles_from(supplier.vihf_roles.split(","))

    def fresh() -> etree._Element:
        return issue.issue(signer, subject_id=supplier.vihf_subject_id, subject_name=supplier.vihf_subject_name,
                           roles=roles, structure_id=supplier.vihf_structure_id, sector=supplier.vihf_sector)

    return fresh


# -- ITI-21 consumer over MLLP ------------------------------------------------------------------

_QPD3_TRAITS = (
    ("family", "PID.5.1.1"), ("given", "PID.5.2"), ("mother_maiden_name", "PID.6.1.1"), ("birth_date", "PID.7.1"),
    ("sex", "PID.8"), ("street", "PID.11.1.1"), ("city", "PID.11.3"), ("postal_code", "PID.11.5"),
    ("country", "PID.11.6"), ("account_number", "PID.18.1"),
)


def qpd3(query: DemographicsQuery) -> str:
    """QPD-3 of ITI-21 (`@PID.5.1.1^DUPONT~...`) for the parameters of a query."""
    parameters = [(f"@{name}", getattr(query, attribute)) for attribute, name in _QPD3_TRAITS if getattr(query, attribute)]
    for cx in query.identifiers:
        parameters.append(("@PID.3.1", cx.value))
        for name, value in (("@PID.3.4.1", cx.authority.namespace), ("@PID.3.4.2", cx.authority.universal_id),
                            ("@PID.3.4.3", cx.authority.universal_id_type), ("@PID.3.5", cx.type_code)):
            if value:
                parameters.append((name, value))
    return "~".join(f"{name}^{er7.escape(value)}" for name, value in parameters)


def iti21_query(query: DemographicsQuery, supplier: UpstreamSupplier, identity: hl7v2.Identity, tag: str) -> str:
    """QBP^Q22 asking `supplier` for the persons matching `query`, `max_results` at most."""
    msh = er7.segment("MSH|^~\\&", [
        er7.escape(identity.application), er7.escape(identity.facility), er7.escape(supplier.receiving_application),
        er7.escape(supplier.receiving_facility), hl7v2.hl7_timestamp(), "", "QBP^Q22^QBP_Q21", hl7v2.new_control_id(),
        "P", "2.5", "", "", "", "", "", "UNICODE UTF-8",
    ])
    return "\r".join([msh, f"QPD|IHE PDQ Query|{tag}|{qpd3(query)}", f"RCP|I|{supplier.max_results}^RD"]) + "\r"


def read_iti21_response(text: str, supplier: UpstreamSupplier) -> list[IncomingIdentity]:
    """The persons of an RSP^K22: AA with QAK-2 OK (or NF: none); anything else is an
    `UpstreamError`. A PID the identity manager could not read is left out."""
    try:
        message = parse(text)
    except Refusal as exc:
        raise UpstreamError(f"not an HL7 v2 response: {exc}") from None
    msa = message.first("MSA")
    if msa is None or msa.value(1) not in ("AA", "CA"):
        errors = hl7v2.error_summary(text) or ""
        raise UpstreamError(f"query answered {msa.value(1) if msa else 'without MSA'} {errors}".strip())
    found = []
    for sequence, pid in message.all("PID"):
        try:
            found.append(incoming_from_pid(pid, sequence, f"upstream|{supplier.name}"))
        except Refusal as exc:
            log.warning("upstream %s: PID %d left out: %s", supplier.name, sequence, exc)
    return found


class MllpLink(Protocol):
    """The outside world's part of an ITI-21 query: one MLLP request/response with
    `supplier.address` ("host:port", or "mllps://host:port" over TLS with the supplier's
    `ca_file`, `client_cert`, `client_key`), all of it within `supplier.timeout_seconds`
    (a server sending its answer a byte at a time does not stretch it), the answer capped
    at `MAX_RESPONSE_BYTES`. Raises `UpstreamError` when any of that fails."""

    def __call__(self, supplier: UpstreamSupplier, message: bytes) -> bytes: ...


# How the hub asks a supplier of one protocol: the persons it returns (raises
# `UpstreamError`). ITI-21 is `Iti21Consumer` below; ITI-47, `actors.pixpdqv3.consumer`.
Consumer = Callable[[UpstreamSupplier, DemographicsQuery, hl7v2.Identity], list[IncomingIdentity]]


class Iti21Consumer:
    """ITI-21 as PDQ Consumer: `Consumer` for the suppliers of protocol `mllp`."""

    def __init__(self, link: MllpLink) -> None:
        self.link = link

    def __call__(self, supplier: UpstreamSupplier, query: DemographicsQuery,
                 identity: hl7v2.Identity) -> list[IncomingIdentity]:
        request = iti21_query(query, supplier, identity, f"UP{uuid.uuid4().hex[:16]}")
        text, _codec = hl7v2.decode(self.link(supplier, request.encode("utf-8")))
        return read_iti21_response(text, supplier)


# -- cross-referencing ---------------------------------------------------------------------------

def kept_identity(incoming: IncomingIdentity, supplier: UpstreamSupplier) -> IncomingIdentity | None:
    """What the hub keeps of a person an upstream supplier returned: its identifiers in
    the supplier's domain, and its INS when the supplier states the identity qualified
    (PID-32 `VALI`; the INS rules of the core then apply); None when the person has no
    identifier in the supplier's domain (not a record of that server)."""
    own = [cx for cx in incoming.identifiers if supplier.owns(cx.authority)]
    if not own:
        return None
    qualified = "VALI" in incoming.reliability_codes
    insured = [
        cx for cx in incoming.identifiers
        if qualified and cx not in own and ins.claims_ins(cx.authority.universal_id, cx.authority.namespace, cx.type_code)
    ]
    return dataclasses.replace(incoming, identifiers=own + insured)


class UpstreamPdq:
    """The configured upstream PDQ suppliers and how the hub consults them."""

    def __init__(self, suppliers: Sequence[UpstreamSupplier], consumers: Mapping[str, Consumer] | None = None) -> None:
        self.suppliers = tuple(suppliers)
        self.consumers: dict[str, Consumer] = dict(consumers or {})

    def use(self, protocol: str, consumer: Consumer) -> None:
        """Ask the suppliers of `protocol` with `consumer` (each binding registers the
        consumer of its own transport)."""
        self.consumers[protocol] = consumer

    def named_in(self, domains: Sequence[Hd]) -> tuple[UpstreamSupplier, ...]:
        """Suppliers whose domain a query asks for (QPD-8): an extended search."""
        return tuple(s for s in self.suppliers if any(s.owns(hd) for hd in domains))

    def ask(self, supplier: UpstreamSupplier, query: DemographicsQuery, identity: hl7v2.Identity) -> list[IncomingIdentity]:
        """The persons `supplier` returns for `query` (raises `UpstreamError`)."""
        consumer = self.consumers.get(supplier.protocol)
        if consumer is None:
            raise UpstreamError(f"no {supplier.protocol} consumer is installed on this hub")
        return consumer(supplier, dataclasses.replace(query, domains=()), identity)

    def cross_reference(self, service: IdentityService, msh: hl7v2.Msh, query: DemographicsQuery,
                        suppliers: Sequence[UpstreamSupplier]) -> int:
        """Ask each supplier and feed what it returns into the local store, one identity
        transaction per person; returns the number of persons stored. Failures of a
        supplier, and persons the identity core refuses, are logged and skipped."""
        stored = 0
        for supplier in suppliers:
            try:
                found = self.ask(supplier, query, service.identity)
            except UpstreamError as exc:
                log.warning("upstream PDQ supplier %s not consulted: %s", supplier.name, exc)
                continue
            for incoming in found:
                kept = kept_identity(incoming, supplier)
                if kept is None:
                    continue
                try:
                    refused = service.run(msh, _feeding(kept))
                except IntegrityError as exc:  # still clashing after the service's retries
                    log.warning("upstream %s: a person was not cross-referenced: %s", supplier.name, exc.orig)
                    continue
                if refused:
                    log.warning("upstream %s: a person was not cross-referenced: %s", supplier.name,
                                hl7v2.error_summary(refused) or refused.split("\r")[1])
                else:
                    stored += 1
        return stored


    def consult_on_miss(self, service: IdentityService, query: DemographicsQuery, requester: str) -> int:
        """A PDQ of another transport (ITI-47, ITI-78) found nobody locally: ask every
        supplier, as ITI-21 does, and cross-reference what they return. The identity
        transactions carry a message header of the hub's own naming the requester."""
        msh = hl7v2.parse_msh(
            f"MSH|^~\\&|{er7.escape(requester) or 'PDQ'}|TSNHUB|{service.identity.application}|"
            f"{service.identity.facility}|{hl7v2.hl7_timestamp()}||QBP^Q22^QBP_Q21|{hl7v2.new_control_id()}|P|2.5"
        )
        return self.cross_reference(service, msh, query, self.suppliers)


class ConsultingService(IdentityService, Protocol):
    """The identity service with its links to regional identity servers (None: none)."""

    upstream_pdq: UpstreamPdq | None


def consult(service: ConsultingService, search: DemographicsQuery, requester: str) -> bool:
    """For the PDQ of another transport (ITI-47, ITI-78) that found nobody locally: ask
    the hub's regional identity servers; True when they added someone to the store."""
    if service.upstream_pdq is None:
        return False
    return service.upstream_pdq.consult_on_miss(service, search, requester) > 0


def _feeding(incoming: IncomingIdentity) -> Callable[[Session, Context], str]:
    """The work of one cross-referencing transaction: an empty answer means stored."""
    def work(session: Session, ctx: Context) -> str:
        core.feed(session, ctx, incoming)
        return ""

    return work


# -- ITI-8 to an upstream PIX Manager ---------------------------------------------------------------

# Trigger of the local feed -> trigger of the ITI-8 message sent upstream.
FORWARDED_TRIGGERS = {"A01": "A01", "A04": "A04", "A05": "A05", "A08": "A08", "A28": "A04", "A31": "A08", "A40": "A40"}


def _standard(segment: er7.Segment) -> str:
    """A segment re-encoded with the standard delimiters (`|^~\\&`), whatever the ones of
    the message it came in; escape sequences keep their meaning."""
    d = segment.delimiters
    mapping = {d.component: "^", d.repetition: "~", d.subcomponent: "&", d.escape: "\\"}
    literal = {"|": "\\F\\", "^": "\\S\\", "~": "\\R\\", "&": "\\T\\", "\\": "\\E\\"}

    def field(text: str) -> str:
        return "".join(mapping.get(c) or literal.get(c) or c for c in text)

    return "|".join([segment.name, *(field(f) for f in segment.fields[1:])])


def iti8_message(message: str, msh: hl7v2.Msh, identity: hl7v2.Identity, now: datetime) -> str | None:
    """The ITI-8 feed forwarding an accepted `message`: ADT^A01/A04/A05/A08 with its PID and
    `PV1|1|N`, or ADT^A40 with its PID/MRG pairs; None for other messages."""
    trigger = FORWARDED_TRIGGERS.get(msh.trigger_event)
    if trigger is None or msh.message_code != "ADT":
        return None
    parsed = er7.Er7Message(message)
    stamp = hl7v2.hl7_timestamp(now)
    structure = "ADT_A39" if trigger == "A40" else "ADT_A05" if trigger in ("A05", "A08") else "ADT_A01"
    header = er7.segment("MSH|^~\\&", [
        er7.escape(identity.application), er7.escape(identity.facility), "", "", stamp, "", f"ADT^{trigger}^{structure}",
        hl7v2.new_control_id(), msh.get(11) or "P", "2.5", "", "", "", "", "", "UNICODE UTF-8",
    ])
    segments = [header, f"EVN|{trigger}|{stamp}"]
    if trigger == "A40":
        segments += [_standard(s) for s in parsed.segments if s.name in ("PID", "MRG")]
    else:
        pid = parsed.first("PID")
        if pid is None:
            return None
        segments += [_standard(pid), "PV1|1|N"]
    return "\r".join(segments) + "\r"


class PixForwarder:
    """Writes the ITI-8 feeds for the upstream PIX Managers into the outbox of
    `actors.identity.notify` once the local transaction is committed, and wakes the
    notifier that sends them."""

    def __init__(self, store: Store, managers: Sequence[str], identity: hl7v2.Identity,
                 clock: Callable[[], datetime], wake: Callable[[], None] = lambda: None) -> None:
        for address in managers:
            if not address.rpartition(":")[2].isdigit():
                raise ConfigError(f"[identity] upstream_pix: {address!r} is not host:port")
        self.store = store
        self.managers = tuple(managers)
        self.identity = identity
        self.clock = clock
        self.wake = wake

    def enqueue(self, message: str, msh: hl7v2.Msh) -> int:
        """Write the forwarded feed for each manager; returns how many were written."""
        now = self.clock()
        forwarded = iti8_message(message, msh, self.identity, now)
        if forwarded is None:
            return 0
        with self.store.transaction() as session:
            for address in self.managers:
                session.add(PixNotification(consumer=address, message=forwarded, created_at=now, attempts=0, last_error=""))
        return len(self.managers)

    def wrap(self, handler: Callable[[str, hl7v2.Msh], str]) -> Callable[[str, hl7v2.Msh], str]:
        """`handler`, followed, when it answered AA, by the forwarding of the message."""
        def handle(message: str, msh: hl7v2.Msh) -> str:
            response = handler(message, msh)
            if hl7v2.acknowledgement_code(response) != "AA":
                return response
            try:
                written = self.enqueue(message, msh)
            except SQLAlchemyError:
                # The feed is committed and acknowledged: its forwarding alone is lost.
                log.exception("feed %s not forwarded upstream", msh.get(10))
                return response
            if written:
                self.wake()
            return response

        return handle
