"""What the identity transactions share at run time: the store, the policy, the hub's
v2 identity and a clock; and the one way a v2 transaction runs (one database
transaction, refusals answered as ACK/ERR with nothing written)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any, TypeVar

from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from hub.wire import hl7v2
from hub.store import Store

from actors.identity import core, notify, query, upstream
from actors.identity.core import Context, IdentityError, Policy
from actors.identity.v2 import Refusal, from_identity_error, refusal_ack



T = TypeVar("T")


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


@dataclass
class IdentityService:
    store: Store
    policy: Policy = field(default_factory=Policy)
    identity: hl7v2.Identity = field(default_factory=hl7v2.Identity)
    clock: Callable[[], datetime] = utc_now
    on_commit: list[Callable[[Context], None]] = field(default_factory=list)
    pix_consumers: tuple[str, ...] = ()
    # Regional identity servers the PDQ Supplier consults (actors.identity.upstream).
    upstream_pdq: upstream.UpstreamPdq | None = None
    # Breadth caps of ITI-21 ([identity] pdq_min_name_chars, pdq_max_results).
    pdq_limits: query.Limits = field(default_factory=query.Limits)
    # Who may be told of which patient (the coordination model's decision); None: anyone.
    disclosure: query.Disclosure | None = None

    def use_disclosure(self, disclosure: query.Disclosure) -> None:
        """Withhold from PDQ and PIX answers the patients `disclosure` says to."""
        self.disclosure = disclosure

    def disclose_to_principal(self, principal: Any) -> query.Disclose | None:
        return self.disclosure.for_principal(principal) if self.disclosure is not None else None

    def disclose_to_sender(self, sender: str) -> query.Disclose | None:
        return self.disclosure.for_sender(sender) if self.disclosure is not None else None

    def run(self, msh: hl7v2.Msh, work: Callable[[Session, Context], str]) -> str:
        """Run `work` in one database transaction; a `Refusal` or `IdentityError` rolls
        it back and is answered with the ACK it describes."""
        try:
            return self.transact(msh.get(10), work)
        except IdentityError as error:
            return refusal_ack(msh, from_identity_error(error), self.identity)
        except Refusal as refused:
            return refusal_ack(msh, refused, self.identity)

    def transact(self, message_id: str, work: Callable[[Session, Context], T]) -> T:
        """The one way an identity message is written, whatever its transport (ITI-8/30/31
        over v2, ITI-44 over v3): `work` in one database transaction, run again when a
        concurrent feed created the same key meanwhile, with the ITI-10 update
        notifications written in the same transaction; after the commit, the domains
        created are remembered and the after-commit hooks run (they send the
        notifications). Refusals (`IdentityError`, `Refusal`) roll back and propagate."""
        for attempt in range(3):
            ctx = Context(self.policy, self.clock(), message_id)
            try:
                with self.store.transaction() as session:
                    result = work(session, ctx)
                    if self.pix_consumers and (ctx.xref_changed or ctx.xref_forced):
                        ctx.notifications = notify.enqueue(
                            session, self.pix_consumers, ctx.xref_changed, ctx.xref_forced, self.identity, ctx.now
                        )
                break
            except IntegrityError:
                # Another transaction created the same identifier, stay or movement
                # meanwhile: run again, it now finds that row.
                if attempt == 2:
                    raise
        for ref in ctx.created_domains:
            core.domain_cache.remember(ref.hd, ref)
        for callback in self.on_commit:
            callback(ctx)
        return result

    def accept(self, msh: hl7v2.Msh) -> str:
        return hl7v2.ack(msh, "AA", identity=self.identity)


def policy_from_config(identity_config: Any) -> Policy:
    """[identity] of hub.toml -> Policy. The domains of the upstream PDQ suppliers are
    accepted: the hub keeps the identifiers they give."""
    return Policy(
        affinity_domain=identity_config.affinity_domain,
        accepted_domains=tuple(identity_config.accepted_domains) + upstream.accepted_domains(identity_config),
        auto_link_threshold=float(identity_config.match_auto_link_threshold),
        review_threshold=float(identity_config.match_review_threshold),
    )
