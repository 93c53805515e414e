"""ITI-44 Patient Identity Feed HL7 v3: PRPA_IN201301UV02 (add), PRPA_IN201302UV02
(revise) and PRPA_IN201304UV02 (resolve duplicates, i.e. merge) read into the identity
core's values, and the MCCI_IN000002UV01 acknowledgement written back.

No French extension of PIX v3 carries the identity status of the referential (PID-32 in
PAM-FR): a v3 feed states no status, so the core keeps it provisional and, by the INS rule
(spec/identity-fr.md §2.3), integrates the identity without its INS.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from lxml import etree

from hub.wire import hl7v2

from actors.identity.core import IdentityError, IncomingIdentity, Location
from actors.identity.model import Cx, Traits
from actors.pixpdqv3 import hl7v3
from actors.pixpdqv3.hl7v3 import AE, Detail, MessageError, child, children

FEED_INTERACTIONS = (hl7v3.PRPA_IN201301UV02, hl7v3.PRPA_IN201302UV02, hl7v3.PRPA_IN201304UV02)
PRIOR_SEGMENT = Location("MRG", 1, 1)


@dataclass
class FeedRequest:
    """One ITI-44 message: the patient it states, where each identifier came from (XPath,
    in the order of `incoming.identifiers`), and for a merge the prior identifiers."""

    wrapper: hl7v3.Wrapper
    incoming: IncomingIdentity
    identifier_paths: list[str]
    prior: list[Cx] = field(default_factory=list)
    prior_paths: list[str] = field(default_factory=list)

    @property
    def is_merge(self) -> bool:
        return self.wrapper.interaction == hl7v3.PRPA_IN201304UV02


def _patient_path(interaction: str) -> str:
    return f"/{interaction}/controlActProcess/subject/registrationEvent/subject1/patient"


def _read_ids(holder: etree._Element | None, path: str, identifiers: list[Cx], paths: list[str]) -> None:
    """Append to `identifiers` the ids of `holder` (those without a nullFlavor), and to
    `paths` the XPath of each, `path`/id[n]."""
    for index, element in enumerate(children(holder, "id"), start=1):
        ii = hl7v3.read_ii(element)
        if ii is not None and not ii.null_flavor:
            identifiers.append(hl7v3.ii_to_cx(ii))
            paths.append(f"{path}/id[{index}]")


def parse(root: etree._Element, interaction: str) -> FeedRequest:
    """Read an ITI-44 message (ITI TF-2b 3.44.4.1.2); raises `MessageError`."""
    wrapper = hl7v3.read_wrapper(root, interaction)
    base = _patient_path(interaction)
    event = child(root, "controlActProcess", "subject", "registrationEvent")
    patient = child(event, "subject1", "patient")
    if patient is None:
        raise MessageError(AE, [Detail(hl7v2.ERR_REQUIRED_FIELD_MISSING, "the message states no patient", base)])
    identifiers: list[Cx] = []
    paths: list[str] = []
    _read_ids(patient, base, identifiers, paths)
    if not identifiers:
        raise MessageError(
            AE, [Detail(hl7v2.ERR_REQUIRED_FIELD_MISSING, "Patient.id is required (one identifier at least)", f"{base}/id")]
        )
    person = child(patient, "patientPerson")
    if person is None:
        raise MessageError(AE, [Detail(hl7v2.ERR_REQUIRED_FIELD_MISSING, "patientPerson is required", f"{base}/patientPerson")])
    for index, other in enumerate(children(person, "asOtherIDs"), start=1):
        _read_ids(other, f"{base}/patientPerson/asOtherIDs[{index}]", identifiers, paths)
    gender = child(person, "administrativeGenderCode")
    sex = (gender.get("code") or "").strip().upper() if gender is not None else ""
    if sex == "UN":
        sex = "U"
    if sex and sex not in {"F", "M", "U"}:
        raise MessageError(
            AE,
            [Detail(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, f"administrativeGenderCode {sex} is not M, F or UN",
                    f"{base}/patientPerson/administrativeGenderCode")],
        )
    birth = child(person, "birthTime")
    birth_date = (birth.get("value") or "").strip() if birth is not None else ""
    if birth_date and not (birth_date[:8].isdigit() and len(birth_date) >= 4):
        raise MessageError(
            AE, [Detail(hl7v2.ERR_DATA_TYPE, "birthTime is not an HL7 TS", f"{base}/patientPerson/birthTime")]
        )
    traits = Traits(
        names=hl7v3.person_names(children(person, "name")),
        birth_date=birth_date[:8],
        sex=sex,
        addresses=[hl7v3.read_address(a) for a in children(person, "addr") if not a.get("nullFlavor")],
        phone=hl7v3.phone_of(children(person, "telecom")),
        **hl7v3.read_birthplace(person),
    )
    source = wrapper.sender_device.root if wrapper.sender_device else ""
    incoming = IncomingIdentity(identifiers=identifiers, traits=traits, source=source)
    request = FeedRequest(wrapper, incoming, paths)
    if interaction == hl7v3.PRPA_IN201304UV02:
        prior_base = f"/{interaction}/controlActProcess/subject/registrationEvent/replacementOf"
        for index, replacement in enumerate(children(event, "replacementOf"), start=1):
            role = child(replacement, "priorRegistration", "subject1", "priorRegisteredRole")
            _read_ids(role, f"{prior_base}[{index}]/priorRegistration/subject1/priorRegisteredRole", request.prior, request.prior_paths)
        if not request.prior:
            raise MessageError(
                AE,
                [Detail(hl7v2.ERR_REQUIRED_FIELD_MISSING, "replacementOf/priorRegistration names no prior patient id",
                        f"{prior_base}/priorRegistration/subject1/priorRegisteredRole/id")],
            )
    return request


def error_detail(request: FeedRequest, error: IdentityError) -> Detail:
    """An identity-core refusal as an acknowledgement detail, its location turned from
    the core's segment/field/repetition numbering into the XPath of the v3 element."""
    return Detail(error.code, error.message, locate(request, error.location))


def locate(request: FeedRequest, location: Location | None) -> str:
    base = _patient_path(request.wrapper.interaction)
    if location is None:
        return base
    paths = request.prior_paths if location.segment == PRIOR_SEGMENT.segment else request.identifier_paths
    if not location.repetition or location.repetition > len(paths):
        return paths[0] if paths and location.segment == PRIOR_SEGMENT.segment else f"{base}/id"
    path = paths[location.repetition - 1]
    if location.component == 1:
        return f"{path}/@extension"
    if location.component == 4:
        return f"{path}/@root"
    return path


def acknowledgement(request: hl7v3.Wrapper | None, target: hl7v3.II | None, type_code: str,
                    details: list[Detail], device_id: str, now: datetime) -> etree._Element:
    """MCCI_IN000002UV01 answering an ITI-44 message."""
    root = hl7v3.new_message(hl7v3.MCCI_IN000002UV01, request, device_id, now)
    hl7v3.acknowledgement(root, type_code, target, details)
    return root


__all__ = ["FEED_INTERACTIONS", "FeedRequest", "acknowledgement", "error_detail", "parse"]
