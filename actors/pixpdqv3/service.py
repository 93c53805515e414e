"""SOAP handlers of the PIX Manager (`/pix`: ITI-44, ITI-45) and the PDQ Supplier (`/pdq`:
ITI-47) in HL7 v3: each runs one store transaction through the identity core and answers
in the transaction's own vocabulary (acknowledgement typeCode and details, queryAck).
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timezone

from lxml import etree
from sqlalchemy.orm import Session

from actors.identity import core, query
from actors.identity.model import Cx, Hd
from actors.identity import upstream
from actors.identity.service import IdentityService
from actors.pixpdqv3 import access, continuation, feed, hl7v3, pdq, pixquery
from actors.pixpdqv3.hl7v3 import AA, AE, Detail, MessageError
from hub.wire import hl7v2
from hub.config import IdentityConfig
from hub.store import Store
from hub.wire.soap import SoapRequest, SoapResponse

log = logging.getLogger(__name__)

ACTION_PREFIX = "urn:hl7-org:v3:"
ACK_ACTION = ACTION_PREFIX + hl7v3.MCCI_IN000002UV01
ITI45_RESPONSE_ACTION = ACTION_PREFIX + hl7v3.PRPA_IN201310UV02
ITI47_RESPONSE_ACTION = ACTION_PREFIX + hl7v3.PRPA_IN201306UV02
CONTINUE_ACTION = ACTION_PREFIX + "QUQI_IN000003UV01_Continue"
CANCEL_ACTION = ACTION_PREFIX + "QUQI_IN000003UV01_Cancel"

# Results per page when the consumer states no initialQuantity, and the most it may ask.
DEFAULT_PAGE = 100
MAX_PAGE = 1000


@dataclass(frozen=True)
class V3Context:
    """What the PIX/PDQ v3 handlers need: the store, the `[identity]` settings, the
    hub's device id in the transmission wrapper (the home community OID), and the
    identity service shared with the v2 and FHIR transports (its policy, ITI-10
    notifications and regional servers)."""

    store: Store
    identity: IdentityConfig
    device_id: str
    service: IdentityService

    @property
    def policy(self) -> core.Policy:
        return self.service.policy


def run_feed(ctx: V3Context, message_id: str, message: feed.FeedRequest) -> None:
    """One ITI-44 message, written the way the identity service writes an ITI-8 one
    (`IdentityService.transact`: one transaction, retried on a concurrent insert, ITI-10
    notifications, after-commit hooks); its refusals propagate as IdentityError."""

    def work(session: Session, ctx: core.Context) -> None:
        if message.is_merge:
            core.merge(session, ctx, message.incoming, message.prior, feed.PRIOR_SEGMENT)
        else:
            core.feed(session, ctx, message.incoming)

    ctx.service.transact(message_id, work)


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _target(body: etree._Element) -> hl7v3.II | None:
    """The id of a message whose wrapper could not be read, for `targetMessage`."""
    return hl7v3.read_ii(body.find(hl7v3.q("id")))


def _lenient_wrapper(body: etree._Element, interaction: str) -> hl7v3.Wrapper | None:
    """The wrapper of a refused request when it can be read, to address the answer."""
    try:
        return hl7v3.read_wrapper(body, interaction)
    except MessageError:
        return None


def _query_by_parameter(body: etree._Element) -> etree._Element | None:
    return body.find(f"{hl7v3.q('controlActProcess')}/{hl7v3.q('queryByParameter')}")


def _respond(body: etree._Element, action: str, patient: Cx | None = None) -> SoapResponse:
    return SoapResponse(body=body, action=action, audit_patient=access.cx_text(patient) if patient else None)


# -- ITI-44 -------------------------------------------------------------------------------

def iti44(request: SoapRequest, ctx: V3Context) -> SoapResponse:
    """ITI-44 Patient Identity Feed HL7 V3: add (201301), revise (201302), merge (201304);
    answered by MCCI_IN000002UV01 (AA, or AE/AR with details and nothing stored)."""
    interaction = request.action.removeprefix(ACTION_PREFIX)
    now = _now()
    wrapper: hl7v3.Wrapper | None = None
    patient: Cx | None = None
    try:
        message = feed.parse(request.body, interaction)
        wrapper = message.wrapper
        patient = message.incoming.identifiers[0]
        try:
            run_feed(ctx, wrapper.message_id.extension or wrapper.message_id.root, message)
        except core.IdentityError as exc:
            raise MessageError(AE, [feed.error_detail(message, exc)]) from None
        body = feed.acknowledgement(wrapper, wrapper.message_id, AA, [], ctx.device_id, now)
    except MessageError as exc:
        target = wrapper.message_id if wrapper else _target(request.body)
        body = feed.acknowledgement(wrapper, target, exc.ack_code, exc.details, ctx.device_id, now)
    return _respond(body, ACK_ACTION, patient)


# -- ITI-45 -------------------------------------------------------------------------------

def iti45(request: SoapRequest, ctx: V3Context) -> SoapResponse:
    """ITI-45 PIXV3 Query: the identifiers of the person designated by PatientIdentifier,
    in the DataSource domains (all when none), the queried identifier left out."""
    now = _now()
    message: pixquery.PixQuery | None = None
    try:
        message = pixquery.parse(request.body)
        rules = ctx.policy
        with ctx.store.transaction() as session:
            if not _known(session, rules, message.identifier.authority):
                raise MessageError(AE, [Detail(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER,
                                               f"unknown assigning authority {message.identifier.authority.key}",
                                               f"{pixquery.PATIENT_IDENTIFIER_PATH}/@root")])
            unknown = [
                Detail(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, f"unknown assigning authority {hd.key}", pixquery.data_source_path(index))
                for index, hd in enumerate(message.data_sources, start=1) if not _known(session, rules, hd)
            ]
            if unknown:
                raise MessageError(AE, unknown)
            try:
                disclose = ctx.service.disclose_to_principal(request.principal)
                found = query.cross_references(session, message.identifier, message.data_sources, disclose)
                everyone = query.cross_references(session, message.identifier, (), disclose) if message.data_sources else found
            except query.UnknownIdentifier:
                raise MessageError(
                    AE,
                    [Detail(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, "the patient identifier is not known",
                            pixquery.PATIENT_IDENTIFIER_PATH)],
                ) from None
        decision = access.may_see(request.principal, [message.identifier, *everyone])
        if decision is not None and not decision.allowed:
            raise decision.refusal()
        queried = message.identifier
        others = [
            cx for cx in found
            if not (cx.value == queried.value and cx.authority.universal_id == queried.authority.universal_id)
        ]
        body = pixquery.response(message.wrapper, message.wrapper.message_id, message.query_id,
                                 message.query_by_parameter, others, AA, [], ctx.device_id, now)
        return _respond(body, ITI45_RESPONSE_ACTION, queried)
    except MessageError as exc:
        wrapper = message.wrapper if message else _lenient_wrapper(request.body, hl7v3.PRPA_IN201309UV02)
        echo = _query_by_parameter(request.body)
        query_id = hl7v3.read_ii(echo.find(hl7v3.q("queryId"))) if echo is not None else None
        body = pixquery.response(wrapper, _target(request.body), query_id, echo, None, exc.ack_code, exc.details,
                                 ctx.device_id, now)
        return _respond(body, ITI45_RESPONSE_ACTION, message.identifier if message else None)


# -- ITI-47 -------------------------------------------------------------------------------

def _known(session: object, rules: core.Policy, hd: Hd) -> bool:
    """A domain a query may name (the identity core's policy, as ITI-9 and ITI-21 apply it)."""
    return rules.knows(hd, core.find_domain(session, hd))  # type: ignore[arg-type]


def iti47(request: SoapRequest, ctx: V3Context) -> SoapResponse:
    """ITI-47 Patient Demographics Query HL7 V3: persons matching every parameter, at most
    initialQuantity of them; the rest is kept for QUQI_IN000003UV01 continuation."""
    now = _now()
    message: pdq.PdqRequest | None = None
    try:
        message = pdq.parse(request.body)
        limits = query.Limits.from_config(ctx.identity)
        pdq.check_breadth(message.query, limits)
        page_size = min(message.initial_quantity or DEFAULT_PAGE, MAX_PAGE)
        requester = message.wrapper.sender_device.root if message.wrapper.sender_device else ""
        rules = ctx.policy
        with ctx.store.session() as session:
            unknown = [
                Detail(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, f"unknown assigning authority {hd.key}", pdq.other_ids_path(index))
                for index, hd in enumerate(message.query.domains, start=1) if not _known(session, rules, hd)
            ]
        if unknown:
            raise MessageError(AE, unknown)
        for attempt in ("local", "after upstream"):
            with ctx.store.transaction() as session:
                page = query.search(session, message.query, page_size, limits=limits,
                                    disclose=ctx.service.disclose_to_principal(request.principal))
                results = access.visible(request.principal, page.results)
                remaining = 0
                if page.next_after is not None:
                    remaining = len(access.visible(request.principal, continuation.following(session, message.query, limits, page.next_after)))
                    if message.query_id is not None:
                        continuation.save(session, message, requester, page.next_after, len(results), now)
            if page.results or attempt != "local" or not upstream.consult(ctx.service, message.query, requester):
                break
        counts = pdq.Counts(len(results) + remaining, len(results), remaining)
        body = pdq.response(message.wrapper, message.wrapper.message_id, message.query_id, message.query_by_parameter,
                            results, counts, AA, [], ctx.device_id, now)
        single = results[0].identifiers[0] if len(results) == 1 and results[0].identifiers else None
        return _respond(body, ITI47_RESPONSE_ACTION, single)
    except MessageError as exc:
        wrapper = message.wrapper if message else _lenient_wrapper(request.body, hl7v3.PRPA_IN201305UV02)
        echo = _query_by_parameter(request.body)
        query_id = hl7v3.read_ii(echo.find(hl7v3.q("queryId"))) if echo is not None else None
        body = pdq.response(wrapper, _target(request.body), query_id, echo, [], None, exc.ack_code, exc.details,
                            ctx.device_id, now)
        return _respond(body, ITI47_RESPONSE_ACTION)


def iti47_continue(request: SoapRequest, ctx: V3Context) -> SoapResponse:
    """ITI-47 continuation (QUQI_IN000003UV01, statusCode waitContinuedQueryResponse):
    the next continuationQuantity persons of the query, as PRPA_IN201306UV02."""
    now = _now()
    wrapper: hl7v3.Wrapper | None = None
    try:
        message = pdq.parse_continuation(request.body)
        wrapper = message.wrapper
        if message.cancel:
            raise MessageError(AE, [Detail(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, "a cancel is sent with the Cancel action",
                                           f"/{hl7v3.QUQI_IN000003UV01}/controlActProcess/queryContinuation/statusCode")])
        requester = wrapper.sender_device.root if wrapper.sender_device else ""
        with ctx.store.transaction() as session:
            state = continuation.resume(session, message.query_id, requester, now)
            if state is None:
                raise MessageError(
                    AE, [Detail(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, "no pending query with this queryId",
                                f"/{hl7v3.QUQI_IN000003UV01}/controlActProcess/queryContinuation/queryId")]
                )
            page_size = min(message.continuation_quantity or state.page_size, MAX_PAGE)
            limits = query.Limits.from_config(ctx.identity)
            page = query.search(session, state.query, page_size, state.after, limits,
                                ctx.service.disclose_to_principal(request.principal))
            results = access.visible(request.principal, page.results)
            remaining = 0
            if page.next_after is not None:
                remaining = len(access.visible(request.principal, continuation.following(session, state.query, limits, page.next_after)))
                continuation.advance(session, state, page.next_after, len(results), now)
            else:
                continuation.finish(session, state)
        counts = pdq.Counts(state.delivered + len(results) + remaining, len(results), remaining)
        body = pdq.response(wrapper, wrapper.message_id, message.query_id, state.query_by_parameter, results, counts,
                            AA, [], ctx.device_id, now)
    except MessageError as exc:
        body = pdq.response(wrapper, _target(request.body), None, None, [], None, exc.ack_code, exc.details,
                            ctx.device_id, now)
    return _respond(body, ITI47_RESPONSE_ACTION)


def iti47_cancel(request: SoapRequest, ctx: V3Context) -> SoapResponse:
    """ITI-47 query cancel (QUQI_IN000003UV01, statusCode aborted): the pending pages are
    dropped; answered by MCCI_IN000002UV01."""
    now = _now()
    wrapper: hl7v3.Wrapper | None = None
    try:
        message = pdq.parse_continuation(request.body)
        wrapper = message.wrapper
        requester = wrapper.sender_device.root if wrapper.sender_device else ""
        with ctx.store.transaction() as session:
            if not continuation.cancel(session, message.query_id, requester):
                raise MessageError(
                    AE, [Detail(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, "no pending query with this queryId",
                                f"/{hl7v3.QUQI_IN000003UV01}/controlActProcess/queryContinuation/queryId")]
                )
        body = feed.acknowledgement(wrapper, wrapper.message_id, AA, [], ctx.device_id, now)
    except MessageError as exc:
        target = wrapper.message_id if wrapper else _target(request.body)
        body = feed.acknowledgement(wrapper, target, exc.ack_code, exc.details, ctx.device_id, now)
    return _respond(body, ACK_ACTION)


__all__ = ["iti44", "iti45", "iti47", "iti47_cancel", "iti47_continue"]
