"""ITI-47 query continuation state (ITI TF-2b 3.47.4.3): a pending query is named by the
consumer's queryId (and its sender device); the page position itself is the identity
core's continuation pointer (`actors.identity.query.save_continuation`), so the v2, v3 and
FHIR transports page the same way.
"""
from __future__ import annotations

import dataclasses
import json
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from lxml import etree
from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from actors.identity import query as core_query
from actors.identity.model import Cx, Hd
from actors.identity.query import DemographicsQuery
from actors.pixpdqv3 import hl7v3
from actors.pixpdqv3.pdq import PdqRequest
from hub.wire import xmlsafe
from hub.store.models.pixpdqv3 import Pdqv3PendingQuery

# Most persons read ahead to report resultRemainingQuantity.
COUNT_LIMIT = 1_000


def tag(query_id: hl7v3.II) -> str:
    """The continuation tag of a queryId: `root^extension`."""
    return f"v3:{query_id.root}^{query_id.extension}"[:199]


def _dump(query: DemographicsQuery) -> str:
    return json.dumps(dataclasses.asdict(query), sort_keys=True)


def _load(text: str) -> DemographicsQuery:
    raw: dict[str, Any] = json.loads(text)
    identifiers = raw.pop("identifiers")
    domains = raw.pop("domains")
    query = DemographicsQuery(**raw)
    query.identifiers = tuple(Cx(i["value"], Hd(**i["authority"]), i["type_code"]) for i in identifiers)
    query.domains = tuple(Hd(**d) for d in domains)
    return query


@dataclass
class PendingQuery:
    row: Pdqv3PendingQuery
    query: DemographicsQuery
    after: int
    query_by_parameter: etree._Element
    page_size: int
    delivered: int


def following(session: Session, query: DemographicsQuery, limits: core_query.Limits,
              after: int) -> list[core_query.PatientView]:
    """The persons that follow `after` within the query's cap, for
    resultRemainingQuantity (read up to COUNT_LIMIT: beyond it the quantity reported is
    that limit)."""
    return core_query.search(session, query, COUNT_LIMIT, after, limits).results


def save(session: Session, request: PdqRequest, requester: str, after: int, delivered: int, now: datetime) -> None:
    """Keep a query that has more results than its first page (replaces an earlier
    pending query with the same queryId from the same sender)."""
    query_tag = tag(request.query_id or hl7v3.II())
    core_query.cancel(session, query_tag, requester)
    session.execute(delete(Pdqv3PendingQuery).where(
        Pdqv3PendingQuery.query_tag == query_tag, Pdqv3PendingQuery.requester == requester))
    pointer = core_query.save_continuation(session, query_tag, requester, request.query, after, now)
    session.add(Pdqv3PendingQuery(
        query_tag=query_tag, requester=requester, pointer=pointer, query=_dump(request.query),
        query_by_parameter=etree.tostring(request.query_by_parameter, encoding="unicode"),
        page_size=request.initial_quantity or 0, delivered=delivered, created_at=now,
    ))


def resume(session: Session, query_id: hl7v3.II, requester: str, now: datetime) -> PendingQuery | None:
    """The pending query of this queryId, its pointer consumed; None when there is none
    (never sent, finished, cancelled or expired)."""
    query_tag = tag(query_id)
    row = session.scalars(select(Pdqv3PendingQuery).where(
        Pdqv3PendingQuery.query_tag == query_tag, Pdqv3PendingQuery.requester == requester)).first()
    if row is None:
        return None
    query = _load(row.query)
    try:
        after = core_query.take_continuation(session, row.pointer, query_tag, query, now)
    except core_query.UnknownContinuation:
        session.delete(row)
        return None
    echo = xmlsafe.parse_own(row.query_by_parameter.encode("utf-8"))
    return PendingQuery(row, query, after, echo, row.page_size or 100, row.delivered)


def advance(session: Session, state: PendingQuery, after: int, sent: int, now: datetime) -> None:
    """Record the next page position after `sent` more results were delivered."""
    state.row.pointer = core_query.save_continuation(
        session, state.row.query_tag, state.row.requester, state.query, after, now)
    state.row.delivered = state.delivered + sent


def finish(session: Session, state: PendingQuery) -> None:
    session.delete(state.row)


def cancel(session: Session, query_id: hl7v3.II, requester: str) -> bool:
    """Drop a pending query (QUQI_IN000003UV01 cancel); False when there was none."""
    query_tag = tag(query_id)
    core_query.cancel(session, query_tag, requester)
    result = session.execute(delete(Pdqv3PendingQuery).where(
        Pdqv3PendingQuery.query_tag == query_tag, Pdqv3PendingQuery.requester == requester))
    return bool(result.rowcount)  # type: ignore[attr-defined]
