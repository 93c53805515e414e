"""PIX Manager over HL7 v2: ITI-8 Patient Identity Feed (ADT^A01/A04/A05/A08 and A40
merge) and ITI-9 PIX Query (QBP^Q23 -> RSP^K23)."""
from __future__ import annotations

from sqlalchemy.orm import Session

from hub.wire import hl7v2

from actors.identity import core, er7, query
from actors.identity.core import Context, Location
from actors.identity.model import Hd
from actors.identity.pamfr import check_z_segments
from actors.identity.service import IdentityService
from actors.identity.v2 import (
    Refusal, Route, complements, incoming_from_pid, parse, query_response, refusal, require_order, source_of, without_nulls,
)

# Segments read by the feeds, in the order of the HL7 v2.5 ADT structures.
ADT_ORDER = ("MSH", "EVN", "PID", "PD1", "NK1", "PV1", "PV2", "ZBE", "ZFA", "ZFP", "ZFV", "ZFM", "ZFD")
COMPLEMENTS = ("ZFA", "ZFD", "ZFS", "ROL", "PD1")


def feed_message(session: Session, ctx: Context, message: er7.Er7Message, msh: hl7v2.Msh) -> core.FeedResult:
    """Register or update the PID of an ADT feed (ITI-8 A01/A04/A05/A08, ITI-30 A28/A31)."""
    require_order(message, ADT_ORDER, ("PID",))
    check_z_segments(message)
    pid = message.first("PID")
    assert pid is not None
    if not pid.raw(3):
        raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "PID^1^3", "PID-3 (patient identifier list) is required")
    incoming = without_nulls(incoming_from_pid(pid, 1, source_of(msh), complements(message, COMPLEMENTS)))
    return core.feed(session, ctx, incoming)


def merge_message(session: Session, ctx: Context, message: er7.Er7Message, msh: hl7v2.Msh) -> None:
    """Merge (ITI-8 / ITI-30 A40, ADT_A39): each PID with the MRG that follows it."""
    require_order(message, ("MSH", "EVN", "PID"), ("PID",))
    groups: list[tuple[int, er7.Segment, er7.Segment | None]] = []
    pid_count = 0
    for segment in message.segments:
        if segment.name == "PID":
            pid_count += 1
            groups.append((pid_count, segment, None))
        elif segment.name == "MRG":
            if not groups or groups[-1][2] is not None:
                raise refusal(hl7v2.ERR_SEGMENT_SEQUENCE, "MRG", "MRG must follow its PID (ADT_A39)")
            groups[-1] = (groups[-1][0], groups[-1][1], segment)
    for sequence, pid, mrg in groups:
        if mrg is None:
            raise refusal(hl7v2.ERR_SEGMENT_SEQUENCE, "MRG", "ADT_A39 requires an MRG segment after each PID")
        if not pid.raw(3):
            raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, f"PID^{sequence}^3", "PID-3 (patient identifier list) is required")
        incoming = without_nulls(incoming_from_pid(pid, sequence, source_of(msh), complements(message, COMPLEMENTS)))
        retired = [cx for cx in er7.parse_cx_list(mrg.raw(1), mrg.delimiters) if cx.value]
        core.merge(session, ctx, incoming, retired, Location("MRG", sequence, 1))


def handle_feed(service: IdentityService, message: str, msh: hl7v2.Msh) -> str:
    """ITI-8 ADT^A01/A04/A05/A08 (and ITI-30 A28/A31): AA once the identity is stored."""
    def work(session: Session, ctx: Context) -> str:
        feed_message(session, ctx, parse(message), msh)
        return service.accept(msh)

    return service.run(msh, work)


def handle_merge(service: IdentityService, message: str, msh: hl7v2.Msh) -> str:
    """ITI-8 / ITI-30 ADT^A40."""
    def work(session: Session, ctx: Context) -> str:
        merge_message(session, ctx, parse(message), msh)
        return service.accept(msh)

    return service.run(msh, work)


# -- ITI-9 ----------------------------------------------------------------------------------

def handle_query(service: IdentityService, message: str, msh: hl7v2.Msh) -> str:
    """ITI-9 PIX Query: QPD-3 the known identifier, QPD-4 the domains asked for.
    Case 1 AA/OK with PID-3; case 2 AA/NF; unknown identifier or domain AE with 204
    at QPD-3 (component 1 for the id, 4 for its domain) or at the QPD-4 repetition."""
    parsed = parse(message)
    qpd = parsed.first("QPD")

    def answer(status: str, pid: str = "", errors: list[hl7v2.Hl7Error] | None = None) -> str:
        segments = query_response(msh, "RSP^K23^RSP_K23", service.identity, qpd, status, errors)
        if pid:
            segments.append(pid)
        return "\r".join(segments) + "\r"

    try:
        require_order(parsed, ("MSH", "QPD", "RCP"), ("QPD",))
        assert qpd is not None
        if not qpd.raw(3):
            raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "QPD^1^3", "QPD-3 (person identifier) is required")
        identifier = er7.parse_cx(qpd.repetitions(3)[0], qpd.delimiters)
        if not identifier.value:
            raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "QPD^1^3^1^1", "QPD-3 has no ID number")
        if not identifier.authority:
            raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "QPD^1^3^1^4", "QPD-3 has no assigning authority")
        domains = [er7.parse_cx(rep, qpd.delimiters).authority for rep in qpd.repetitions(4)]
        for index, hd in enumerate(domains, start=1):
            if not hd:
                raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, f"QPD^1^4^{index}^4", "a requested domain has no assigning authority")
    except Refusal as refused:
        return answer("AE", errors=refused.errors)

    with service.store.session() as session:
        policy = service.policy
        if not policy.knows(identifier.authority, core.find_domain(session, identifier.authority)):
            return answer("AE", errors=[hl7v2.Hl7Error(
                hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, "QPD^1^3^1^4",
                message=f"unknown assigning authority {identifier.authority.key}")])
        for index, hd in enumerate(domains, start=1):
            if not policy.knows(hd, core.find_domain(session, hd)):
                return answer("AE", errors=[hl7v2.Hl7Error(
                    hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, f"QPD^1^4^{index}",
                    message=f"unknown assigning authority {hd.key} in QPD-4")])
        try:
            found = query.cross_references(session, identifier, domains, service.disclose_to_sender(source_of(msh)))
        except query.UnknownIdentifier:
            return answer("AE", errors=[hl7v2.Hl7Error(
                hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, "QPD^1^3^1^1",
                message=f"unknown patient identifier {identifier.value}")])
    if not domains:
        # Without QPD-4 every other domain is returned, not the queried identifier itself.
        found = [cx for cx in found if not (cx.value == identifier.value and _same_domain(cx.authority, identifier.authority))]
    if not found:
        return answer("NF")
    pid = "PID|1||" + "~".join(er7.format_cx(cx) for cx in found) + "||~^^^^^^S"
    return answer("OK", pid)


def _same_domain(a: Hd, b: Hd) -> bool:
    if a.universal_id and b.universal_id:
        return a.universal_id == b.universal_id
    return a.namespace == b.namespace


def routes(service: IdentityService) -> list[Route]:
    """ITI-8 update and ITI-30 create/update (same feed), merges, and ITI-9."""
    feed = lambda message, msh: handle_feed(service, message, msh)  # noqa: E731
    return [
        Route("ADT^A08", "ITI-8", feed),
        Route("ADT^A28", "ITI-30", feed),
        Route("ADT^A31", "ITI-30", feed),
        Route("ADT^A40", "ITI-8", lambda message, msh: handle_merge(service, message, msh)),
        Route("QBP^Q23", "ITI-9", lambda message, msh: handle_query(service, message, msh)),
    ]
