"""PDQ Supplier over HL7 v2: ITI-21 Patient Demographics Query (QBP^Q22 -> RSP^K22) with
the continuation option (RCP-2 quantity, DSC-1 pointer kept in the store) and query
cancel (QCN^J01), domain filtering by QPD-8; regional identity servers consulted on a
local miss or when QPD-8 names their domain (`actors.identity.upstream`). The query
core's breadth caps apply (`query.check_breadth`, `query.search`)."""
from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from hub.wire import hl7v2

from actors.identity import core, er7, query
from actors.identity.core import Context
from actors.identity.model import Cx, Hd
from actors.identity.service import IdentityService
from actors.identity.v2 import Refusal, Route, format_pid, parse, query_response, refusal, require_order, source_of

DEFAULT_QUANTITY = 100  # records per response when RCP-2 does not say
MAX_QUANTITY = 1000

# QPD-3 field names (ITI TF-2a 3.21.4.1.2.2) -> DemographicsQuery attribute.
_TRAIT_FIELDS = {
    "PID.5.1": "family", "PID.5.1.1": "family", "PID.5.2": "given",
    "PID.6.1": "mother_maiden_name", "PID.6.1.1": "mother_maiden_name",
    "PID.7": "birth_date", "PID.7.1": "birth_date", "PID.8": "sex",
    "PID.11.1": "street", "PID.11.1.1": "street", "PID.11.3": "city", "PID.11.5": "postal_code", "PID.11.6": "country",
}
_IDENTIFIER_FIELDS = {"PID.3.1", "PID.3.4.1", "PID.3.4.2", "PID.3.4.3", "PID.3.5", "PID.3"}
# PID-18 account number: its value is searched; its assigning authority narrows nothing
# more than the value does in the stays of the hub, so it is accepted and not compared.
_ACCOUNT_FIELDS = {"PID.18", "PID.18.1"}
_ACCOUNT_AUTHORITY_FIELDS = {"PID.18.4", "PID.18.4.1", "PID.18.4.2", "PID.18.4.3"}


def parse_parameters(qpd: er7.Segment) -> query.DemographicsQuery:
    """QPD-3 (`@PID.5.1.1^DUPONT~@PID.7^19870412...`) and QPD-8 (domains) -> query.
    An unsupported field name is 103 at its QPD-3 repetition; no parameter at all is 101."""
    d = qpd.delimiters
    values: dict[str, str] = {}
    identifier: dict[str, str] = {}
    identifiers: list[Cx] = []

    def close_identifier() -> None:
        if identifier:
            identifiers.append(Cx(identifier.get("PID.3.1", ""), Hd(identifier.get("PID.3.4.1", ""), identifier.get("PID.3.4.2", ""), identifier.get("PID.3.4.3", "")), identifier.get("PID.3.5", "")))
            identifier.clear()

    for index, rep in enumerate(qpd.repetitions(3), start=1):
        comps = rep.split(d.component, 1)
        name = comps[0].lstrip("@").strip()
        value = er7.unescape(comps[1], d).strip() if len(comps) > 1 else ""
        if not name:
            continue
        if name in _TRAIT_FIELDS:
            values[_TRAIT_FIELDS[name]] = value
        elif name in _ACCOUNT_FIELDS:
            values["account_number"] = value
        elif name in _ACCOUNT_AUTHORITY_FIELDS:
            continue
        elif name in _IDENTIFIER_FIELDS:
            if name in ("PID.3.1", "PID.3") and "PID.3.1" in identifier:
                close_identifier()
            identifier["PID.3.1" if name == "PID.3" else name] = value
        else:
            raise refusal(hl7v2.ERR_TABLE_VALUE_NOT_FOUND, f"QPD^1^3^{index}^1", f"unsupported query parameter {name}")
    close_identifier()
    domains = tuple(er7.parse_cx(rep, d).authority for rep in qpd.repetitions(8))
    result = query.DemographicsQuery(identifiers=tuple(identifiers), domains=domains, **values)
    if result.is_empty():
        raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "QPD^1^3", "QPD-3 holds no query parameter")
    if any(not cx.value for cx in result.identifiers):
        raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "QPD^1^3", "@PID.3.1 (identifier value) is required with @PID.3.4")
    return result


def _quantity(message: er7.Er7Message) -> int:
    rcp = message.first("RCP")
    if rcp is None or not rcp.value(2):
        return DEFAULT_QUANTITY
    amount, unit = query.quantity(rcp.value(2, 1)), rcp.value(2, 2) or "RD"
    if unit != "RD" or amount is None:
        raise refusal(hl7v2.ERR_DATA_TYPE, "RCP^1^2", "RCP-2 must be a positive number of records (unit RD)")
    return min(amount, MAX_QUANTITY)


def handle_query(service: IdentityService, message: str, msh: hl7v2.Msh) -> str:
    """ITI-21: AA/OK with one PID per person (PID-3 limited to the QPD-8 domains), AA/NF,
    or AE with ERR (204 at QPD-8 for an unknown domain, 204 at DSC-1 for an unknown
    continuation pointer). DSC-1 carries the pointer when more records remain."""
    parsed = parse(message)
    qpd = parsed.first("QPD")
    tag = qpd.raw(2) if qpd is not None else ""

    def answer(status: str, body: list[str], errors: list[hl7v2.Hl7Error] | None = None, pointer: str = "") -> str:
        segments = query_response(msh, "RSP^K22^RSP_K21", service.identity, qpd, status, errors)
        segments.extend(body)
        if pointer:
            segments.append(f"DSC|{pointer}|I")
        return "\r".join(segments) + "\r"

    try:
        require_order(parsed, ("MSH", "QPD", "RCP", "DSC"), ("QPD",))
        assert qpd is not None
        if not tag:
            raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "QPD^1^2", "QPD-2 (query tag) is required")
        parameters = parse_parameters(qpd)
        _check_breadth(service, parameters)
        quantity = _quantity(parsed)
        dsc = parsed.first("DSC")
        pointer_in = dsc.value(1) if dsc is not None else ""
    except Refusal as refused:
        return answer("AE", [], refused.errors)

    found = False

    def work(session: Session, ctx: Context) -> str:
        nonlocal found
        _check_domains(service, session, parameters)
        after = 0
        if pointer_in:
            try:
                after = query.take_continuation(session, pointer_in, tag, parameters, ctx.now)
            except query.UnknownContinuation:
                raise refusal(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, "DSC^1^1", "unknown, expired or cancelled continuation pointer") from None
        page = query.search(session, parameters, quantity, after, service.pdq_limits,
                            service.disclose_to_sender(source_of(msh)))
        pointer = ""
        if page.next_after is not None:
            query.purge_expired(session, ctx.now)
            pointer = query.save_continuation(session, tag, source_of(msh), parameters, page.next_after, ctx.now)
        body = [format_pid(view, n) for n, view in enumerate(page.results, start=1)]
        found = bool(body)
        return answer("OK" if body else "NF", body, pointer=pointer)

    # Regional identity servers (actors.identity.upstream): those whose domain QPD-8
    # names are asked first (extended search); all of them when the local store has
    # nobody to return. A new query only: a continuation pages through the first answer.
    upstream = service.upstream_pdq if not pointer_in else None
    try:
        extended = upstream.named_in(parameters.domains) if upstream is not None else ()
        if upstream is not None and extended:
            with service.store.session() as session:
                _check_domains(service, session, parameters)
            upstream.cross_reference(service, msh, parameters, extended)
        response = _run_query(service, msh, work)
        if upstream is not None and not found and not extended:
            if upstream.cross_reference(service, msh, parameters, upstream.suppliers):
                response = _run_query(service, msh, work)
        return response
    except Refusal as refused:
        return answer("AE", [], refused.errors)


def _check_breadth(service: IdentityService, parameters: query.DemographicsQuery) -> None:
    """The query core's breadth rule, checked before anything runs (a QPD-8 naming a
    regional server's domain would forward the query there first). ITI-21 has no case of
    its own for a query too broad: HL7 v2.5 chapter 5 answers an application error, QAK-2
    AE with an ERR; 207 is the table 0357 code for a refusal of the application."""
    try:
        query.check_breadth(parameters, service.pdq_limits)
    except query.QueryTooBroad as exc:
        raise refusal(hl7v2.ERR_APPLICATION_INTERNAL, "QPD^1^3", str(exc)) from None


def _check_domains(service: IdentityService, session: Session, parameters: query.DemographicsQuery) -> None:
    """QPD-8 names only domains the hub knows: 204 at the first unknown repetition."""
    for index, hd in enumerate(parameters.domains, start=1):
        if not hd or not service.policy.knows(hd, core.find_domain(session, hd)):
            raise refusal(hl7v2.ERR_UNKNOWN_KEY_IDENTIFIER, f"QPD^1^8^{index}", f"unknown assigning authority {hd.key} in QPD-8")


def _run_query(service: IdentityService, msh: hl7v2.Msh, work: Callable[[Session, Context], str]) -> str:
    """A query runs in one transaction too (it consumes and stores continuation
    pointers); refusals are answered as RSP, not ACK, so they are re-raised here."""
    ctx = Context(service.policy, service.clock(), msh.get(10))
    with service.store.transaction() as session:
        return work(session, ctx)


def handle_cancel(service: IdentityService, message: str, msh: hl7v2.Msh) -> str:
    """QCN^J01 (ITI-21 query cancel): QID-1 names the query tag whose continuation
    pointers are dropped; later continuation requests for it are refused."""
    parsed = parse(message)

    def work(session: Session, ctx: Context) -> str:
        require_order(parsed, ("MSH", "QID"), ("QID",))
        qid = parsed.first("QID")
        assert qid is not None
        if not qid.value(1):
            raise refusal(hl7v2.ERR_REQUIRED_FIELD_MISSING, "QID^1^1", "QID-1 (query tag) is required")
        query.cancel(session, qid.value(1), source_of(msh))
        return service.accept(msh)

    return service.run(msh, work)


def routes(service: IdentityService) -> list[Route]:
    return [
        Route("QBP^Q22", "ITI-21", lambda message, msh: handle_query(service, message, msh)),
        Route("QCN^J01", "ITI-21", lambda message, msh: handle_cancel(service, message, msh)),
    ]
