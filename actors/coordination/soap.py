"""The SOAP 1.2 codec of the coordination services, described model-first with spyne
(INTERFACES.md: namespace `urn:tsnhub:coordination:1`, document/literal wrapped): the
WSDL served at `/coordination?wsdl`, the request values read from the body and the
answer written.

The hub's SOAP pipeline (parse, VIHF, audit, metrics) stays in front: `Codec.answer`
receives the parsed request, validates its body against the schema of the WSDL (a
refusal names the field), then runs the spyne application in-process (as a WSGI
application, the way spyne works unpatched) on an envelope holding that body only. The
operations call `actors.coordination.service`; its refusals travel back through `Call`
so that the pipeline answers them as the hub's own SOAP faults.
"""
from __future__ import annotations

import io
import re
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from lxml import etree
from spyne import Application, Boolean, ComplexModel, DateTime, Fault, Integer, ServiceBase, Unicode, rpc
from spyne.protocol.soap import Soap12
from spyne.server.wsgi import WsgiApplication

from actors.coordination import service
from actors.coordination.records import CoordinationError
from actors.coordination.state import CircleMember
from hub.wire import soap, xmlsafe
from vihf.faults import VihfRefusal

NAMESPACE = "urn:tsnhub:coordination:1"
CALL = "tsnhub.coordination.call"  # the WSGI environ key of the request's `service.Call`

MANDATE_KINDS = ("care-team", "break-the-glass", "patient-code")
OPPOSITION_SCOPES = ("consultation", "professional")


def _required(kind: Any, **options: Any) -> Any:
    return kind(min_occurs=1, nillable=False, **options)


class Enrolment(ComplexModel):  # type: ignore[misc]
    __namespace__ = NAMESPACE
    _type_info = [("pathway", Unicode), ("status", Unicode), ("since", DateTime)]


class Access(ComplexModel):  # type: ignore[misc]
    __namespace__ = NAMESPACE
    _type_info = [("mandate", Unicode), ("until", DateTime)]


class Member(ComplexModel):  # type: ignore[misc]
    __namespace__ = NAMESPACE
    _type_info = [
        ("professionalId", Unicode), ("structureId", Unicode), ("role", Unicode), ("since", DateTime), ("until", DateTime),
    ]


def _members(members: list[CircleMember]) -> list[Member]:
    return [Member(professionalId=m.professional_id, structureId=m.structure_id, role=m.role, since=m.since, until=m.until)
            for m in members]


def _call(ctx: Any) -> service.Call:
    call: service.Call = ctx.transport.req_env[CALL]
    return call


def _run(ctx: Any, operation: Callable[..., Any], *args: Any) -> Any:
    call = _call(ctx)
    try:
        return operation(call, *args)
    except (CoordinationError, VihfRefusal) as refusal:
        call.refusal = refusal
        raise Fault("Client", str(refusal)) from None


class CoordinationService(ServiceBase):  # type: ignore[misc]
    """The operations of INTERFACES.md, each a thin call of `actors.coordination.service`."""

    @rpc(_required(Unicode), _returns=(Unicode, Enrolment.customize(max_occurs="unbounded"), Unicode, Unicode, Access),
         _out_variable_names=("identityStatus", "enrolments", "treatingPhysician", "opposition", "access"))
    def GetPatientStatus(ctx, patientId):  # type: ignore[no-untyped-def]  # noqa: N802,N803
        status = _run(ctx, service.get_patient_status, patientId)
        enrolments = [Enrolment(pathway=p, status=s, since=since) for p, s, since in status.enrolments]
        return (status.identity_status, enrolments, status.treating_physician, status.opposition,
                Access(mandate=status.mandate, until=status.until))

    @rpc(_required(Unicode), _required(Unicode), _required(Boolean), DateTime, Unicode,
         _returns=(Integer, Unicode), _out_variable_names=("enrolmentId", "status"))
    def Enrol(ctx, patientId, pathway, consent, consentDate, consentDocumentUniqueId):  # type: ignore[no-untyped-def]  # noqa: N802,N803
        return _run(ctx, service.enrol, patientId, pathway, consent, _utc(consentDate), consentDocumentUniqueId or None)

    @rpc(_required(Unicode), _required(Unicode), _required(Unicode), _returns=Unicode, _out_variable_name="status")
    def EndEnrolment(ctx, patientId, pathway, reason):  # type: ignore[no-untyped-def]  # noqa: N802,N803
        return _run(ctx, service.end_enrolment, patientId, pathway, reason)

    @rpc(_required(Unicode), _returns=Member.customize(max_occurs="unbounded"), _out_variable_name="members")
    def ListCareCircle(ctx, patientId):  # type: ignore[no-untyped-def]  # noqa: N802,N803
        return _members(_run(ctx, service.list_circle, patientId))

    @rpc(_required(Unicode), _required(Unicode), Unicode, _required(Unicode), _returns=Member.customize(max_occurs="unbounded"),
         _out_variable_name="members")
    def AddCareCircleMember(ctx, patientId, professionalId, structureId, role):  # type: ignore[no-untyped-def]  # noqa: N802,N803
        return _members(_run(ctx, service.add_member, patientId, professionalId, structureId or None, role))

    @rpc(_required(Unicode), _required(Unicode), _returns=Member.customize(max_occurs="unbounded"), _out_variable_name="members")
    def RemoveCareCircleMember(ctx, patientId, professionalId):  # type: ignore[no-untyped-def]  # noqa: N802,N803
        return _members(_run(ctx, service.remove_member, patientId, professionalId))

    @rpc(_required(Unicode), _required(Unicode, values=MANDATE_KINDS), Unicode, Unicode,
         _returns=(Unicode, DateTime), _out_variable_names=("kind", "until"))
    def DeclareMandate(ctx, patientId, kind, reason, patientCode):  # type: ignore[no-untyped-def]  # noqa: N802,N803
        return _run(ctx, service.declare_mandate, patientId, kind, reason or None, patientCode or None)

    @rpc(_required(Unicode), _required(Unicode, values=OPPOSITION_SCOPES), Unicode, _returns=Unicode,
         _out_variable_name="opposition")
    def SetOpposition(ctx, patientId, scope, professionalId):  # type: ignore[no-untyped-def]  # noqa: N802,N803
        return _run(ctx, service.set_opposition, patientId, scope, professionalId or None)

    @rpc(_required(Unicode), _required(Unicode, values=OPPOSITION_SCOPES), Unicode, _returns=Unicode,
         _out_variable_name="opposition")
    def WithdrawOpposition(ctx, patientId, scope, professionalId):  # type: ignore[no-untyped-def]  # noqa: N802,N803
        return _run(ctx, service.withdraw_opposition, patientId, scope, professionalId or None)

    @rpc(_required(Unicode), _returns=(Unicode, DateTime), _out_variable_names=("code", "until"))
    def IssuePatientAccessCode(ctx, patientId):  # type: ignore[no-untyped-def]  # noqa: N802,N803
        return _run(ctx, service.issue_patient_code, patientId)


OPERATIONS = (
    "GetPatientStatus", "Enrol", "EndEnrolment", "ListCareCircle", "AddCareCircleMember", "RemoveCareCircleMember",
    "DeclareMandate", "SetOpposition", "WithdrawOpposition", "IssuePatientAccessCode",
)


def _utc(moment: datetime | None) -> datetime | None:
    if moment is None:
        return None
    return moment.replace(tzinfo=timezone.utc) if moment.tzinfo is None else moment.astimezone(timezone.utc)


_ELEMENT = re.compile(r"Element '\{[^}]*\}([^']+)'")
_EXPECTED = re.compile(r"Expected is (?:one of )?\( ?([^)]*)\)")


def field_error(message: str) -> str:
    """A schema validation message as `field: reason`."""
    expected = _EXPECTED.search(message)
    if "Missing child element" in message and expected:
        fields = ", ".join(name.split("}")[-1].strip() for name in expected.group(1).split(","))
        return f"{fields}: required"
    found = _ELEMENT.search(message)
    reason = _ELEMENT.sub("", message, count=1).lstrip(": ").strip() or message
    reason = re.sub(r"\{(?:urn|https?):[^}]*\}", "", reason)
    return f"{found.group(1)}: {reason}" if found else reason


class Codec:
    """The spyne application and the schema of its WSDL, built once per hub."""

    def __init__(self) -> None:
        self.application = Application(
            [CoordinationService], tns=NAMESPACE, name="Coordination",
            in_protocol=Soap12(validator=None), out_protocol=Soap12(),
        )
        self.wsgi = WsgiApplication(self.application)
        self.wsdl = self._get("wsdl")
        self.schema = _schema(self.wsdl)

    def _environ(self, method: str, query: str, body: bytes = b"") -> dict[str, Any]:
        return {
            "REQUEST_METHOD": method, "PATH_INFO": "/coordination", "QUERY_STRING": query, "SERVER_NAME": "localhost",
            "SERVER_PORT": "443", "HTTP_HOST": "localhost", "wsgi.url_scheme": "https", "wsgi.input": io.BytesIO(body),
            "CONTENT_TYPE": "application/soap+xml; charset=utf-8", "CONTENT_LENGTH": str(len(body)),
        }

    def _get(self, query: str) -> bytes:
        status: list[str] = []
        data = b"".join(self.wsgi(self._environ("GET", query), lambda s, h, e=None: status.append(s)))
        if not status or not status[0].startswith("200"):
            raise RuntimeError(f"spyne did not describe the coordination services: {status}")
        return data

    def answer(self, request: soap.SoapRequest, call: service.Call) -> soap.SoapResponse:
        """Answer one coordination request (the pipeline authenticated it already)."""
        errors = self._validate(request.body)
        if errors:
            raise soap.sender_fault(errors)
        envelope = etree.Element(f"{{{soap.SOAP12}}}Envelope")
        etree.SubElement(envelope, f"{{{soap.SOAP12}}}Body").append(_copy(request.body))
        environ = self._environ("POST", "", etree.tostring(envelope))
        environ[CALL] = call
        call.refusal = None
        status: list[str] = []
        data = b"".join(self.wsgi(environ, lambda s, h, e=None: status.append(s)))
        if isinstance(call.refusal, CoordinationError):
            raise soap.sender_fault(str(call.refusal))
        if call.refusal is not None:
            raise call.refusal
        answered = xmlsafe.parse_own(data).find(f"{{{soap.SOAP12}}}Body")
        first = next((c for c in answered if isinstance(c.tag, str)), None) if answered is not None else None
        if first is None or etree.QName(first).localname == "Fault":
            raise soap.SoapFault("Receiver", "internal error; the request was not processed")
        response = soap.SoapResponse(first, f"{NAMESPACE}:{etree.QName(first).localname}")
        response.audit_patient = call.patient
        response.audit_access = call.access
        return response

    def _validate(self, body: etree._Element) -> str | None:
        if self.schema.validate(_copy(body)):
            return None
        return field_error(self.schema.error_log[0].message) if self.schema.error_log else "the request does not follow the WSDL"


def _copy(element: etree._Element) -> etree._Element:
    return etree.fromstring(etree.tostring(element))


def _schema(wsdl: bytes) -> etree.XMLSchema:
    tree = etree.fromstring(wsdl)
    schema = tree.find(".//{http://www.w3.org/2001/XMLSchema}schema")
    if schema is None:
        raise RuntimeError("the coordination WSDL has no schema")
    return etree.XMLSchema(etree.fromstring(etree.tostring(schema)))
