"""Links to regional identity servers: upstream PDQ suppliers consulted by the hub's PDQ
Supplier (ITI-21), and an upstream PIX Manager fed with the identities the hub accepts.

Upstream PDQ (`[[identity.upstream_pdq]]` in hub.toml). A supplier is queried by ITI-21
(QBP^Q22 over MLLP) or ITI-47 (PRPA_IN201305UV02 over SOAP 1.2):

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
import socket
import ssl
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Protocol

import requests
from lxml import etree
from sqlalchemy.exc import IntegrityError, SQLAlchemyError
from sqlalchemy.orm import Session
import zeep.exceptions
from zeep import Client, Settings
from zeep.transports import Transport
from zeep.wsa import WsAddressingPlugin

from hub import mllp
from hub.wire import hl7v2, xmlsafe
from hub.config import ConfigError
from hub.store import Store
from hub.store.models.identity import PixNotification

from actors.identity import core, er7, ins
from actors.identity.core import Context, IncomingIdentity
from actors.identity.model import Hd, Traits
from actors.identity.query import DemographicsQuery
from actors.identity.v2 import Refusal, incoming_from_pid, parse
from actors.pixpdqv3 import hl7v3
from vihf import issue, wsse

log = logging.getLogger(__name__)


class IdentityService(Protocol):
    """What cross-referencing needs of the identity service (`actors.identity.service`):
    the hub's v2 identity, and the one way an identity message is written."""

    identity: hl7v2.Identity

    def run(self, msh: hl7v2.Msh, work: Callable[[Session, Context], str]) -> str: ...

PROTOCOLS = ("mllp", "soap")
MAX_RESPONSE_BYTES = 16 * 1024 * 1024
PDQ_WSDL = Path(__file__).resolve().parents[2] / "wsdl" / "PDQSupplier.wsdl"
PDQ_BINDING = "{urn:ihe:iti:pdqv3:2007}PDQSupplier_Binding_Soap12"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"


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


def supplier_tls(supplier: UpstreamSupplier) -> ssl.SSLContext:
    """The TLS client context of a supplier: its `ca_file` (system CAs when empty), and
    `client_cert` / `client_key` for mutual TLS."""
    return mllp.client_context(supplier.ca_file or None, supplier.client_cert or None, supplier.client_key or None)


def mllp_exchange(address: str, message: bytes, timeout: float, context: Callable[[], ssl.SSLContext] | None = None) -> bytes:
    """One MLLP request/response with `address` ("host:port", or "mllps://host:port" over
    TLS with the context `context` makes), all of it within `timeout` seconds (a server
    sending its answer a byte at a time does not stretch it)."""
    try:
        return mllp.exchange(address, message, timeout, context, MAX_RESPONSE_BYTES)
    except mllp.ExchangeError as exc:
        raise UpstreamError(str(exc)) from None
    except socket.timeout:
        raise UpstreamError(f"no answer from {address} within {timeout:g} s") from None
    except OSError as exc:
        raise UpstreamError(f"{address}: {exc.strerror or exc}") from None


def query_mllp(supplier: UpstreamSupplier, query: DemographicsQuery, identity: hl7v2.Identity) -> list[IncomingIdentity]:
    """ITI-21 as PDQ Consumer: ask `supplier` over MLLP."""
    request = iti21_query(query, supplier, identity, f"UP{uuid.uuid4().hex[:16]}")
    raw = mllp_exchange(supplier.address, request.encode("utf-8"), supplier.timeout_seconds, lambda: supplier_tls(supplier))
    text, _codec = hl7v2.decode(raw)
    return read_iti21_response(text, supplier)


# -- ITI-47 consumer over SOAP ------------------------------------------------------------------

def iti47_query(query: DemographicsQuery, supplier: UpstreamSupplier, sender_device: str, now: datetime) -> etree._Element:
    """PRPA_IN201305UV02 (ITI TF-2b 3.47.4.1) for the parameters of a query. A parameter
    PDQ v3 cannot state (an account number, an identifier whose authority has no OID) is
    an `UpstreamError`: leaving it out would widen the query."""
    if query.account_number:
        raise UpstreamError("PDQ v3 has no account number parameter")
    if any(not cx.authority.universal_id for cx in query.identifiers):
        raise UpstreamError("an identifier without the OID of its authority cannot be sent in HL7 v3")
    q = hl7v3.q
    root = etree.Element(q(hl7v3.PRPA_IN201305UV02), nsmap=hl7v3.NSMAP)
    root.set("ITSVersion", "XML_1.0")
    hl7v3.write_ii(root, "id", hl7v3.II(sender_device, str(uuid.uuid4())))
    etree.SubElement(root, q("creationTime")).set("value", now.strftime("%Y%m%d%H%M%S"))
    interaction = etree.SubElement(root, q("interactionId"))
    interaction.set("root", hl7v3.INTERACTION_CODE_SYSTEM)
    interaction.set("extension", hl7v3.PRPA_IN201305UV02)
    etree.SubElement(root, q("processingCode")).set("code", "P")
    etree.SubElement(root, q("processingModeCode")).set("code", "T")
    etree.SubElement(root, q("acceptAckCode")).set("code", "AL")
    receiver = etree.SubElement(etree.SubElement(root, q("receiver"), typeCode="RCV"), q("device"),
                                classCode="DEV", determinerCode="INSTANCE")
    hl7v3.write_ii(receiver, "id", hl7v3.II(supplier.device_id) if supplier.device_id else hl7v3.II(null_flavor="UNK"))
    sender = etree.SubElement(etree.SubElement(root, q("sender"), typeCode="SND"), q("device"),
                              classCode="DEV", determinerCode="INSTANCE")
    hl7v3.write_ii(sender, "id", hl7v3.II(sender_device))
    act = etree.SubElement(root, q("controlActProcess"), classCode="CACT", moodCode="EVN")
    code = etree.SubElement(act, q("code"))
    code.set("code", "PRPA_TE201305UV02")
    code.set("codeSystem", hl7v3.INTERACTION_CODE_SYSTEM)
    by_parameter = etree.SubElement(act, q("queryByParameter"))
    hl7v3.write_ii(by_parameter, "queryId", hl7v3.II(sender_device, uuid.uuid4().hex))
    etree.SubElement(by_parameter, q("statusCode")).set("code", "new")
    etree.SubElement(by_parameter, q("responseModalityCode")).set("code", "R")
    etree.SubElement(by_parameter, q("responsePriorityCode")).set("code", "I")
    etree.SubElement(by_parameter, q("initialQuantity")).set("value", str(supplier.max_results))
    parameters = etree.SubElement(by_parameter, q("parameterList"))

    def parameter(name: str, semantics: str) -> etree._Element:
        element = etree.SubElement(parameters, q(name))
        value = etree.SubElement(element, q("value"))
        etree.SubElement(element, q("semanticsText")).text = semantics
        return value

    # Order of the parameterList (PRPA_MT201306UV02): gender, birth time, ids, name.
    if query.sex:
        parameter("livingSubjectAdministrativeGender", "LivingSubject.administrativeGender").set(
            "code", "UN" if query.sex.upper() == "U" else query.sex.upper())
    if query.birth_date:
        parameter("livingSubjectBirthTime", "LivingSubject.birthTime").set("value", query.birth_date)
    for cx in query.identifiers:
        value = parameter("livingSubjectId", "LivingSubject.id")
        value.set("root", cx.authority.universal_id)
        value.set("extension", cx.value)
    if query.family or query.given:
        name = parameter("livingSubjectName", "LivingSubject.name")
        if query.given:
            etree.SubElement(name, q("given")).text = query.given
        if query.family:
            etree.SubElement(name, q("family")).text = query.family
    if query.mother_maiden_name:
        etree.SubElement(parameter("mothersMaidenName", "Person.MothersMaidenName"), q("family")).text = query.mother_maiden_name
    address = (("streetAddressLine", query.street), ("city", query.city), ("postalCode", query.postal_code),
               ("country", query.country))
    if any(value for _name, value in address):
        element = parameter("patientAddress", "Patient.addr")
        for name, value in address:
            if value:
                etree.SubElement(element, q(name)).text = value
    return root


def read_iti47_response(root: etree._Element, supplier: UpstreamSupplier) -> list[IncomingIdentity]:
    """The persons of a PRPA_IN201306UV02: acknowledgement AA, else `UpstreamError`."""
    child, children = hl7v3.child, hl7v3.children
    if etree.QName(root).localname != hl7v3.PRPA_IN201306UV02 or etree.QName(root).namespace != hl7v3.HL7:
        raise UpstreamError(f"answered {etree.QName(root).localname}, not {hl7v3.PRPA_IN201306UV02}")
    type_code = child(root, "acknowledgement", "typeCode")
    code = type_code.get("code") if type_code is not None else None
    if code not in ("AA", "CA"):
        texts = [hl7v3.text_of(child(detail, "text")) for detail in children(child(root, "acknowledgement"), "acknowledgementDetail")]
        raise UpstreamError(f"query answered {code or 'without acknowledgement'} {'; '.join(texts)}".strip())
    found = []
    for subject in children(child(root, "controlActProcess"), "subject"):
        patient = child(subject, "registrationEvent", "subject1", "patient")
        person = child(patient, "patientPerson")
        if patient is None or person is None:
            continue
        identifiers = []
        for element in children(patient, "id"):
            ii = hl7v3.read_ii(element)
            if ii is not None and ii.root and ii.extension:
                identifiers.append(hl7v3.ii_to_cx(ii))
        gender = child(person, "administrativeGenderCode")
        sex = (gender.get("code") or "").upper() if gender is not None else ""
        birth = child(person, "birthTime")
        addresses = [hl7v3.read_address(a) for a in children(person, "addr")]
        traits = Traits(
            names=hl7v3.person_names(children(person, "name")),
            birth_date=((birth.get("value") or "") if birth is not None else "")[:8],
            sex="U" if sex == "UN" else sex[:1],
            addresses=[a for a in addresses if a.use != "BDL"],
            **hl7v3.read_birthplace(person),
            phone=hl7v3.phone_of(children(person, "telecom")),
        )
        found.append(IncomingIdentity(identifiers=identifiers, traits=traits, source=f"upstream|{supplier.name}"))
    return found


def query_soap(supplier: UpstreamSupplier, query: DemographicsQuery, sender_device: str,
               assertion: Callable[[], etree._Element] | None = None) -> list[IncomingIdentity]:
    """ITI-47 as PDQ Consumer: ask `supplier` with a zeep client of the IHE PDQ v3 WSDL,
    with a VIHF assertion in `wsse:Security` when `assertion` gives one."""
    session = requests.Session()
    session.trust_env = False  # the environment's CA bundle must not override `verify`
    session.verify = supplier.ca_file or True
    if supplier.client_cert:
        session.cert = (supplier.client_cert, supplier.client_key) if supplier.client_key else supplier.client_cert
    try:
        transport = Transport(  # type: ignore[no-untyped-call]
            session=session, timeout=supplier.timeout_seconds, operation_timeout=supplier.timeout_seconds)
        client = Client(  # type: ignore[no-untyped-call]
            str(PDQ_WSDL), transport=transport, plugins=[WsAddressingPlugin()], settings=Settings(raw_response=True),
            wsse=wsse.VihfSecurity(assertion) if assertion is not None else None)
        service = client.create_service(PDQ_BINDING, supplier.address)  # type: ignore[no-untyped-call]
        message = iti47_query(query, supplier, sender_device, datetime.now(timezone.utc))
        try:
            response = service.PDQSupplier_PRPA_IN201305UV02(_value_1=list(message), _attr_1=dict(message.attrib))
        except (requests.RequestException, zeep.exceptions.Error) as exc:
            raise UpstreamError(f"{supplier.address}: {exc}") from None
        if len(response.content) > MAX_RESPONSE_BYTES:
            raise UpstreamError(f"the answer of {supplier.address} is larger than {MAX_RESPONSE_BYTES} bytes")
        try:
            envelope = xmlsafe.parse(response.content)
        except xmlsafe.UnsafeXmlError as exc:
            raise UpstreamError(f"{supplier.address} answered HTTP {response.status_code}: {exc}") from None
    finally:
        session.close()
    body = envelope.find(f"{{{SOAP12}}}Body")
    first = next((element for element in body if isinstance(element.tag, str)), None) if body is not None else None
    if first is None:
        raise UpstreamError(f"{supplier.address} answered HTTP {response.status_code} without a SOAP body")
    if etree.QName(first).localname == "Fault":
        reason = " ".join(first.itertext()).split()
        raise UpstreamError(f"{supplier.address} answered a SOAP fault: {' '.join(reason)[:300]}")
    return read_iti47_response(first, supplier)


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

    def __init__(self, suppliers: Sequence[UpstreamSupplier], device_id: str) -> None:
        self.suppliers = tuple(suppliers)
        self.device_id = device_id  # the hub's device id as sender of ITI-47 queries
        self.assertions = {s.name: vihf_source(s) for s in self.suppliers}

    def named_in(self, domains: Sequence[Hd]) -> tuple[UpstreamSupplier, ...]:
        """Suppliers whose domain a query asks for (QPD-8): an extended search."""
        return tuple(s for s in self.suppliers if any(s.owns(hd) for hd in domains))

    def ask(self, supplier: UpstreamSupplier, query: DemographicsQuery, identity: hl7v2.Identity) -> list[IncomingIdentity]:
        """The persons `supplier` returns for `query` (raises `UpstreamError`)."""
        upstream_query = dataclasses.replace(query, domains=())
        if supplier.protocol == "mllp":
            return query_mllp(supplier, upstream_query, identity)
        return query_soap(supplier, upstream_query, self.device_id, self.assertions.get(supplier.name))

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


def consult(hub: Any, search: DemographicsQuery, requester: str) -> bool:
    """For the PDQ of another transport (ITI-47, ITI-78) that found nobody locally: ask
    the hub's regional identity servers; True when they added someone to the store."""
    service = getattr(hub, "identity_service", None)
    pdq = getattr(service, "upstream_pdq", None)
    if service is None or pdq is None:
        return False
    return bool(pdq.consult_on_miss(service, search, requester) > 0)


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
