"""PDQm (ITI-78) and PIXm (ITI-83) over the identity store: one store transaction per
request, the answer as (HTTP status, resource) in the format the client asked for.
Runs in the hub's thread pool; `actors.fhir.binding` only moves bytes and records the request.
"""
from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any
from urllib.parse import urlencode

from actors.fhir import format as fhir_format
from actors.fhir import pdqm, pixm, resources, security
from actors.identity import core, query
from actors.identity.query import DemographicsQuery
from actors.identity.service import policy_from_config
from actors.pixpdqv3 import access
from hub.config import IdentityConfig
from hub.store import Store

log = logging.getLogger(__name__)

PIX_OPERATION = "$ihe-pix"
# Persons read from the query core at a time when some parameters are evaluated here.
FILTER_BATCH = 200
# A Patient id is a record id: larger than a 64-bit integer, no record has it (and the
# store's driver cannot even compare it).
MAX_RECORD_ID = 2**63 - 1


def _nobody_upstream(search: DemographicsQuery, requester: str) -> bool:
    return False


@dataclass(frozen=True)
class FhirContext:
    """What the PDQm/PIXm handlers need: the store, the `[identity]` settings, how the
    caller's IUA SAML token is verified (None when `/fhir/Patient` is open), and the
    regional identity servers consulted when a search finds nobody (True when they added
    someone), both given by `actors.fhir.binding`."""

    store: Store
    identity: IdentityConfig
    authenticate: security.Authenticate | None = None
    consult_upstream: Callable[[DemographicsQuery, str], bool] = _nobody_upstream
    # The persons a caller may be told of (the coordination model): None, all of them.
    disclose_for: Callable[[Any], query.Disclose | None] = lambda caller: None


@dataclass
class HttpRequest:
    """What the FHIR endpoint needs of an HTTP request."""

    method: str
    path: list[str]  # segments after /fhir/Patient
    parameters: list[tuple[str, str]]
    accept: str = ""
    content_type: str = ""
    body: bytes = b""
    base_url: str = ""
    peer: str = ""
    authorization: str = ""


@dataclass
class Answer:
    status: int
    content_type: str
    body: bytes
    headers: tuple[tuple[str, str], ...] = ()
    # What the host records of the request (audit and metrics, `hub.endpoints.account`).
    transaction: str = "ITI-78"
    outcome: str = "error"
    who: str | None = None


def _outcome(status: int, code: str, diagnostics: str, media: str, expression: str = "") -> Answer:
    resource = resources.operation_outcome(code, diagnostics, expression=expression)
    return Answer(status, fhir_format.content_type(media), fhir_format.serialise(resource, media))


PIX_TRANSACTION = "ITI-83"


def _format_parameter(parameters: list[tuple[str, str]]) -> str | None:
    return next((value for name, value in parameters if name == "_format"), None)


def handle(ctx: FhirContext, request: HttpRequest) -> Answer:
    """Answer one request to `/fhir/Patient...` (never raises); the answer says which
    transaction it was, its outcome and the caller, for the host to record."""
    transaction = PIX_TRANSACTION if request.path and request.path[0] == PIX_OPERATION else "ITI-78"
    try:
        answer = _answer(ctx, request, transaction)
    except _Refused as refused:
        answer = refused.answer
        answer.outcome = "refused"
    except Exception:
        log.exception("internal error in /fhir/Patient (%s)", transaction)
        answer = _outcome(500, "exception", "internal error; the request was not processed", fhir_format.JSON)
    answer.transaction = transaction
    return answer


class _Refused(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(answer.status)
        self.answer = answer


def _answer(ctx: FhirContext, request: HttpRequest, transaction: str) -> Answer:
    try:
        media = fhir_format.negotiate(_format_parameter(request.parameters), request.accept)
    except fhir_format.NotAcceptable as exc:
        raise _Refused(_outcome(406, "not-supported", f"_format {exc} is not supported", fhir_format.JSON)) from None
    try:
        caller = security.principal(ctx.authenticate, request.authorization, transaction)
    except security.Unauthenticated as exc:
        answer = _outcome(exc.status, exc.code, exc.diagnostics, media)
        if exc.status == 401:
            answer.headers = (("WWW-Authenticate", "SAML"),)
        raise _Refused(answer) from None
    if transaction == PIX_TRANSACTION:
        answer = _pix(ctx, request, media, caller)
    elif request.method != "GET":
        answer = Answer(405, "text/plain", b"GET a search or a Patient; $ihe-pix takes GET or POST\n", (("Allow", "GET"),))
    elif len(request.path) == 1:
        answer = _read(ctx, request, request.path[0], media, caller)
    elif not request.path:
        answer = _search(ctx, request, media, caller)
    else:
        answer = _outcome(404, "not-found", "no such resource", media)
    answer.outcome = "success" if answer.status < 400 else "refused"
    answer.who = getattr(caller, "audit_who", None) if caller is not None else None
    return answer


# -- ITI-78 -----------------------------------------------------------------------------------

def _known(session: Any, rules: core.Policy, hd: Any) -> bool:
    return rules.knows(hd, core.find_domain(session, hd))


def _run_search(ctx: FhirContext, search: pdqm.Search, now: datetime, caller: Any) -> tuple[list[query.PatientView], str | None]:
    """The page of persons a search asks for, and the pointer of the next page, within
    the query core's caps. A first page that finds nobody locally asks the regional
    identity servers, as ITI-21 does."""
    limits = query.Limits.from_config(ctx.identity)
    pdqm.check_breadth(search, limits)
    disclose = ctx.disclose_for(caller)
    results, pointer = _local_search(ctx, search, limits, disclose, now)
    if not results and not search.page and not search.resource_id:
        if ctx.consult_upstream(search.query, "ITI-78"):
            results, pointer = _local_search(ctx, search, limits, disclose, now)
    return results, pointer


def _record_id(resource_id: str) -> int | None:
    """The patient record a Patient id names, None when it can name none."""
    if not (resource_id.isascii() and resource_id.isdigit()) or int(resource_id) > MAX_RECORD_ID:
        return None
    return int(resource_id)


def _local_search(ctx: FhirContext, search: pdqm.Search, limits: query.Limits, disclose: query.Disclose | None,
                  now: datetime) -> tuple[list[query.PatientView], str | None]:
    rules = policy_from_config(ctx.identity)
    with ctx.store.transaction() as session:
        for hd in search.query.domains:
            if not _known(session, rules, hd):
                raise pdqm.SearchError(404, "not-found", f"identifier domain {resources.system_of(hd)} not found",
                                       "identifier")
        if search.resource_id:
            # A Patient id is the id of a patient record: it matches through one of the
            # record's identifiers (an inactive, e.g. merged, record has none to give).
            record = _record_id(search.resource_id)
            owned = core.identifiers_of(session, record) if record is not None else []
            if not owned:
                return [], None
            search.query.identifiers = (*search.query.identifiers, owned[0])
        tag = pdqm.query_tag(search.query)
        after = 0
        if search.page:
            try:
                after = query.take_continuation(session, search.page, tag, search.query, now)
            except query.UnknownContinuation:
                raise pdqm.SearchError(404, "not-found", "unknown, used or expired page (_page)", "_page") from None
        if search.filters:
            results, next_after = _filtered_page(session, search, limits, disclose, after)
        else:
            page = query.search(session, search.query, search.count, after, limits, disclose)
            results, next_after = page.results, page.next_after
        pointer = None
        if next_after is not None:
            pointer = query.save_continuation(session, tag, "", search.query, next_after, now)
    return results, pointer


def _filtered_page(session: Any, search: pdqm.Search, limits: query.Limits, disclose: query.Disclose | None,
                   after: int) -> tuple[list[query.PatientView], int | None]:
    """A page of persons that also meet the parameters the query core does not evaluate:
    the core's persons (within its cap) are read in person order, batch after batch, and
    the page ends after the last person kept, so the next page starts right there."""
    kept: list[query.PatientView] = []
    cursor = after
    while len(kept) <= search.count:
        page = query.search(session, search.query, FILTER_BATCH, cursor, limits, disclose)
        for view in page.results:
            if search.matches(view):
                kept.append(view)
                if len(kept) > search.count:
                    break
        if page.next_after is None:
            break
        cursor = page.next_after
    more = len(kept) > search.count
    kept = kept[: search.count]
    return kept, (kept[-1].person_id if more and kept else None)


def _search(ctx: FhirContext, request: HttpRequest, media: str, caller: Any) -> Answer:
    """ITI-78 search: a Bundle (searchset) of Patient, `_count` at a time, with a next link."""
    now = datetime.now(timezone.utc)
    try:
        search = pdqm.parse(request.parameters)
        results, pointer = _run_search(ctx, search, now, caller)
    except pdqm.SearchError as exc:
        return _outcome(exc.status, exc.code, exc.diagnostics, media, exc.expression)
    results = access.visible(caller, results)
    kept = [(name, value) for name, value in request.parameters if name not in {"_page"}]
    if not any(name == "_count" for name, _ in kept):
        kept.append(("_count", str(search.count)))
    self_url = f"{request.base_url}/Patient?{urlencode(kept)}"
    next_url = f"{request.base_url}/Patient?{urlencode(kept + [('_page', pointer)])}" if pointer else None
    entries = [(f"{request.base_url}/Patient/{v.patient_id}", resources.patient(v, str(v.patient_id))) for v in results]
    bundle = resources.searchset(entries, self_url, next_url, now)
    return Answer(200, fhir_format.content_type(media), fhir_format.serialise(bundle, media))


def _read(ctx: FhirContext, request: HttpRequest, resource_id: str, media: str, caller: Any) -> Answer:
    """ITI-78 retrieve: `GET [base]/Patient/[id]`."""
    try:
        search = pdqm.parse([("_id", resource_id)])
        results, _ = _run_search(ctx, search, datetime.now(timezone.utc), caller)
    except pdqm.SearchError:
        results = []
    results = access.visible(caller, results)
    if not results:
        return _outcome(404, "not-found", f"Patient/{resource_id} is not known", media)
    view = results[0]
    resource = resources.patient(view, str(view.patient_id))
    return Answer(200, fhir_format.content_type(media), fhir_format.serialise(resource, media))


# -- ITI-83 -----------------------------------------------------------------------------------

def _pix(ctx: FhirContext, request: HttpRequest, media: str, caller: Any) -> Answer:
    """ITI-83: the other identifiers of the person a sourceIdentifier designates."""
    try:
        if request.method == "GET":
            pairs: list[tuple[str, Any]] = list(request.parameters)
        elif request.method == "POST":
            try:
                pairs = fhir_format.read_parameters(request.body, request.content_type)
            except fhir_format.InvalidResource as exc:
                raise pixm.PixmError(400, "invalid", str(exc)) from None
            pairs = [(n, v) for n, v in pairs if n != "_format"]
        else:
            return Answer(405, "text/plain", b"$ihe-pix takes GET or POST\n", (("Allow", "GET, POST"),))
        pix_query = pixm.parse(pairs)
        found, everyone = _cross_references(ctx, pix_query, caller)
        decision = access.may_see(caller, [pix_query.source, *everyone])
        if decision is not None and not decision.allowed:
            raise pixm.PixmError(403, "forbidden", decision.reason)
    except pixm.PixmError as exc:
        return _outcome(exc.status, exc.code, exc.diagnostics, media)
    return Answer(200, fhir_format.content_type(media), fhir_format.serialise(pixm.output(found), media))


def _cross_references(ctx: FhirContext, pix_query: pixm.PixQuery, caller: Any) -> tuple[list[tuple[Any, str]], list[Any]]:
    """The identifiers to answer with their record ids, and all the person's identifiers
    (for the access decision)."""
    rules = policy_from_config(ctx.identity)
    source = pix_query.source
    with ctx.store.transaction() as session:
        if not _known(session, rules, source.authority):
            raise pixm.source_domain_not_found()
        if any(not _known(session, rules, hd) for hd in pix_query.targets):
            raise pixm.target_system_not_found()
        try:
            disclose = ctx.disclose_for(caller)
            found = query.cross_references(session, source, pix_query.targets, disclose)
            everyone = query.cross_references(session, source, (), disclose) if pix_query.targets else found
        except query.UnknownIdentifier:
            raise pixm.source_not_found() from None
        answer = []
        for cx in found:
            if cx.value == source.value and resources.system_of(cx.authority) == resources.system_of(source.authority):
                continue
            row = core.find_identifier(session, cx.authority, cx.value)
            answer.append((cx, str(row.patient_id) if row is not None else ""))
    return answer, everyone
