"""Cost of the coordination model's access decision on the XDS paths (issue #12, "Done
when" 5), each figure beside its floor in the same run:

1. ITI-18 FindDocuments for one patient (10 entries) in a registry of `--entries`
   DocumentEntries whose `--patients` patients each have an active enrolment, a care
   circle of 3 and 2 mandates in force: median latency WITH the access decision (the
   `XdsContext.gate` of `[coordination]`) and WITHOUT it (`gate = None`), and their ratio;
   floor: ratio <= 1.25;
2. ITI-41 throughput, one 10 KB CDA per submission, enforced and unenforced; floor:
   enforced >= 0.90 x unenforced;
3. the decision per document entry (`bench.bench_access`, run in this process); floor:
   p99 under 50 µs per entry.

Both XDS figures call the real handlers in-process (`actors.xds.service.iti18` /
`iti41`) with a `SoapRequest` parsed before the clock starts, whose principal is a
verified-like VIHF `Principal` of a circle member of the patient (RPPS, profession 10,
resource-id the patient's INS): no HTTP, no assertion check, CDA gate off, so that the
decision's share is the largest it can be. Enforced and unenforced calls are interleaved
(one query, or one batch of submissions, of each in turn, the order alternating), each
query asks about a patient drawn at random (a different one for each call), and the
run is repeated `--rounds` times to show the noise of the machine. Latencies are wall
clock (`perf_counter`); the CPU time of this thread (`thread_time`) is printed beside
them on SQLite, where the store runs in this thread too.

The registry is seeded in bulk through the store, not through ITI-41: the entries of
`bench.bench_xds.bulk_seed` (10 per patient, a confidentialityCode N each), one
authorPerson per entry, and the coordination tables (Core inserts in large batches).
SQLite in a temporary folder by default; `--postgres URL` uses an empty PostgreSQL
database instead. `make bench` runs the default size (100,000 entries, 10,000
patients, a few minutes); the full size of the issue is

    python -m bench.bench_coordination --entries 1000000 --patients 100000

`--profile` prints where the enforced paths spend their time beyond the unenforced ones
(cProfile); it is printed anyway when a floor is missed.
"""
from __future__ import annotations

import argparse
import cProfile
import dataclasses
import os
import platform
import pstats
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from sqlalchemy import func, insert, select

from actors.coordination.gate import Gate
from actors.xds import constants as c
from actors.xds import service
from actors.xds.service import XdsContext
from bench import bench_access
from bench.bench_xds import DOMAIN, REPOSITORY, bulk_seed, cda, patient
from conformance.xds_client import adhoc_query, quoted, quoted_list
from conformance.xds_metadata import DocumentSpec, provide_and_register, submit_objects_request
from hub.config import Config
from hub.store import Store
from hub.store.models.coordination import CoordinationCircleMember, CoordinationEnrolment, CoordinationMandate
from hub.store.models.xds import XdsAuthor, XdsDocumentEntry, XdsKnownPatient
from hub.wire import mtom, soap
from vihf import names, wsse
from vihf.principal import Code, PatientId, Principal, Software

QUERY_FLOOR = 1.25  # enforced / unenforced median FindDocuments latency, at most
SUBMIT_FLOOR = 0.90  # enforced / unenforced ITI-41 throughput, at least
FIRST_PATIENT = 1000  # bulk_seed's patients are patient(1000 + n // 10)
PROFESSIONALS = 5000
CABINET, HOSPITAL = "1990000018", "1990000026"
SOAP_XML = "application/soap+xml"


def professional(number: int) -> str:
    """An RPPS in the VIHF subject-id form (`8` + 11 digits)."""
    return f"8999{number % PROFESSIONALS:08d}"


def circle_of(index: int) -> list[str]:
    """The care circle of the index-th patient: the treating physician and two members."""
    return [professional(index * 3 + k) for k in range(3)]


def requester_of(index: int) -> str:
    """The circle member who queries and submits for the index-th patient (not the PCP)."""
    return circle_of(index)[1]


def principal(subject: str, index: int, now: datetime) -> Principal:
    """What VIHF verification would hand the actors for a circle member in their cabinet,
    with the patient as resource-id (the affinity domain's id is the INS-NIR)."""
    return Principal(
        assertion_id=f"_{uuid.uuid4().hex}", issuer="bench", issue_instant=now, not_before=now,
        not_on_or_after=now + timedelta(hours=1), vihf_version="3.0", subject_id=subject, subject_id_type="RPPS",
        subject_name="MEMBRE, Cercle",
        roles=(Code("10", names.TRE_G15_PROFESSION_SANTE), Code("SM26", names.TRE_R01_ENSEMBLE_SAVOIR_FAIRE)),
        sector=Code("SA07", names.TRE_R02_SECTEUR_ACTIVITE), structure_id=CABINET, structure_name="Cabinet",
        authentication_mode=names.INDIRECTE_RENFORCEE, authn_context=None, authn_instant=now,
        purpose_of_use=Code(names.NORMAL, names.JDV_J38_MODE_ACCES_CISIS), break_the_glass_reason=None,
        patient=PatientId(f"{FIRST_PATIENT + index:013d}", DOMAIN), resource_urn=None,
        software=Software("bench", "1"), signed=True,
    )


# -- seeding ----------------------------------------------------------------------------------

def seed(store: Store, entries: int, patients: int, batch: int = 20000) -> None:
    """The registry (bulk_seed), an authorPerson per entry, the known patients and the
    coordination state of the first `patients` patients."""
    t0 = time.perf_counter()
    bulk_seed(store, 0, entries, batch)
    t1 = time.perf_counter()
    # One author per entry, read back from the seeded rows: for the k-th patient, the
    # members of its circle in turn (the requester authors 1 entry in 3: R3-author), or
    # a hospital professional out of the circle for patients without coordination state.
    with store.session() as session:
        rows = session.execute(
            select(XdsDocumentEntry.uuid, XdsDocumentEntry.patient_id)
        ).all()
    for low in range(0, len(rows), batch):
        authors = []
        for n, (entry_uuid, who) in enumerate(rows[low:low + batch], low):
            index = int(who.split("^", 1)[0]) - FIRST_PATIENT
            person = circle_of(index)[n % 3] if index < patients else professional(PROFESSIONALS - 1 - n % 97)
            authors.append({"object_uuid": entry_uuid, "person": f"{person}^AUTEUR^Bench^^^^^^&1.2.250.1.71.4.2.1&ISO"})
        with store.transaction() as session:
            session.execute(insert(XdsAuthor), authors)
    del rows
    t2 = time.perf_counter()
    now = datetime.now(timezone.utc)
    day = timedelta(days=1)
    for low in range(0, patients, batch // 6):
        known, enrolments, members, mandates = [], [], [], []
        for index in range(low, min(patients, low + batch // 6)):
            key = patient(FIRST_PATIENT + index)
            known.append({"patient_id": key})
            enrolments.append({
                "patient_id": key, "pathway": "PAERPA", "status": "active", "started_at": now - 200 * day, "ended_at": None,
                "enrolled_by": professional(index * 3), "enrolled_by_structure": None, "consent": True,
                "consent_date": now - 200 * day, "consent_document_unique_id": None, "end_reason": None,
            })
            for k, member in enumerate(circle_of(index)):
                members.append({
                    "patient_id": key, "professional_id": member, "structure_id": None if k == 0 else CABINET,
                    "role": "PCP" if k == 0 else "PROV", "since": now - (200 - k) * day, "until": None,
                    "added_by": professional(index * 3), "removed_by": None,
                })
            mandates.append({
                "patient_id": key, "holder_professional_id": professional(index * 3 + 3), "holder_structure_id": None,
                "kind": "care-team", "granted_by": professional(index * 3 + 3), "reason": None,
                "confidentiality_scope": "N R", "class_scope": "", "starts_at": now - day, "ends_at": now + 29 * day,
            })
            mandates.append({
                "patient_id": key, "holder_professional_id": professional(index * 3 + 4), "holder_structure_id": HOSPITAL,
                "kind": "break-the-glass", "granted_by": professional(index * 3 + 4), "reason": "urgence, patient inconscient",
                "confidentiality_scope": "N R", "class_scope": "", "starts_at": now - timedelta(hours=1),
                "ends_at": now + 30 * day,
            })
        with store.transaction() as session:
            session.execute(insert(XdsKnownPatient), known)
            session.execute(insert(CoordinationEnrolment), enrolments)
            session.execute(insert(CoordinationCircleMember), members)
            session.execute(insert(CoordinationMandate), mandates)
    t3 = time.perf_counter()
    print(f"seeded {entries:,} entries ({t1 - t0:.1f} s), their authors ({t2 - t1:.1f} s), "
          f"{patients:,} patients with an enrolment, a circle of 3 and 2 mandates ({t3 - t2:.1f} s)", flush=True)
    if store.engine.dialect.name == "sqlite":
        with store.engine.begin() as connection:
            connection.exec_driver_sql("ANALYZE")
    elif store.engine.dialect.name == "postgresql":
        with store.autocommit.connect() as connection:
            connection.exec_driver_sql("VACUUM ANALYZE")


# -- helpers ----------------------------------------------------------------------------------

def context(store: Store) -> tuple[XdsContext, XdsContext]:
    """The hub's XDS context (enforced: `gate` from `[coordination]`, defaults) and the
    same with `gate = None`; CDA gate off, as in bench_xds."""
    config = Config()
    config.identity.affinity_domain = DOMAIN
    config.xds.repository_unique_id = REPOSITORY
    config.xds.max_query_results = 1000
    config.cda.submission_gate = "off"
    enforced = XdsContext.from_config(config, store)
    enforced = dataclasses.replace(enforced, gate=Gate.from_config(config.coordination))
    return enforced, dataclasses.replace(enforced, gate=None)


def parsed(action: str, body: Any, parts: dict[str, bytes] | None = None) -> soap.SoapRequest:
    """The SoapRequest the hub's codec would hand the handler (no VIHF header)."""
    xml = wsse.envelope(action, body, None)
    if parts:
        content_type, chunks = mtom.build(xml, parts.items(), action)
        return soap.parse_request(content_type, b"".join(bytes(x) for x in chunks), soap.Limits())
    return soap.parse_request(SOAP_XML, xml, soap.Limits())


def find_documents(index: int, now: datetime) -> soap.SoapRequest:
    params: dict[str, str | Sequence[str]] = {
        "$XDSDocumentEntryPatientId": quoted(patient(FIRST_PATIENT + index)),
        "$XDSDocumentEntryStatus": quoted_list(c.STATUS_APPROVED, c.STATUS_DEPRECATED),
    }
    request = parsed(c.ACTION_ITI18, adhoc_query(c.FIND_DOCUMENTS, params))
    request.principal = principal(requester_of(index), index, now)
    return request


def submission(index: int, now: datetime, content: bytes) -> soap.SoapRequest:
    documents = [DocumentSpec(content=content, mime_type="text/xml",
                              author_person=f"{requester_of(index)}^MEMBRE^Cercle^^^^^^&1.2.250.1.71.4.2.1&ISO")]
    body, parts = provide_and_register(submit_objects_request(patient(FIRST_PATIENT + index), documents=documents),
                                       documents, True)
    request = parsed(c.ACTION_ITI41, body, parts)
    request.principal = principal(requester_of(index), index, now)
    return request


def hits(response: soap.SoapResponse) -> int:
    return len(response.body.findall(f".//{{{c.RIM}}}ExtrinsicObject"))


def spread(values: Sequence[float]) -> str:
    return f"{min(values):.3f}-{max(values):.3f}"


# -- 1. FindDocuments -------------------------------------------------------------------------

@dataclasses.dataclass
class Latencies:
    wall: list[float] = dataclasses.field(default_factory=list)
    cpu: list[float] = dataclasses.field(default_factory=list)


def query_round(ctxs: dict[str, XdsContext], patients: int, queries: int, rng: random.Random) -> dict[str, Latencies]:
    """`queries` FindDocuments in each mode, interleaved, each about a random patient."""
    now = datetime.now(timezone.utc)
    samples = {mode: Latencies() for mode in ctxs}
    modes = list(ctxs)
    for i in range(queries):
        for mode in (modes if i % 2 == 0 else modes[::-1]):
            index = rng.randrange(patients)
            request = find_documents(index, now)
            w0, c0 = time.perf_counter(), time.thread_time()
            response = service.iti18(request, ctxs[mode])
            c1, w1 = time.thread_time(), time.perf_counter()
            samples[mode].wall.append(w1 - w0)
            samples[mode].cpu.append(c1 - c0)
            found = hits(response)
            if found != 10:
                raise AssertionError(f"{mode}: FindDocuments found {found} entries, not 10 "
                                     f"({etree_text(response)[:300]})")
    return samples


def etree_text(response: soap.SoapResponse) -> str:
    from lxml import etree

    return etree.tostring(response.body, encoding="unicode")


def measure_queries(ctxs: dict[str, XdsContext], patients: int, queries: int, rounds: int, cpu: bool) -> float:
    rng = random.Random(18)
    query_round(ctxs, patients, 50, rng)  # warm-up
    total = {mode: Latencies() for mode in ctxs}
    ratios, cpu_ratios = [], []
    for number in range(1, rounds + 1):
        samples = query_round(ctxs, patients, queries, rng)
        on, off = (statistics.median(samples[m].wall) for m in ("enforced", "unenforced"))
        cpu_on, cpu_off = (statistics.median(samples[m].cpu) for m in ("enforced", "unenforced"))
        ratios.append(on / off)
        cpu_ratios.append(cpu_on / cpu_off)
        extra = f"   CPU {cpu_on * 1e3:6.3f} / {cpu_off * 1e3:6.3f} ms = {cpu_on / cpu_off:5.3f}" if cpu else ""
        print(f"  round {number}: median enforced {on * 1e3:6.3f} ms, unenforced {off * 1e3:6.3f} ms, "
              f"ratio {on / off:5.3f}{extra}   (n={queries} each)", flush=True)
        for mode in ctxs:
            total[mode].wall += samples[mode].wall
            total[mode].cpu += samples[mode].cpu
    for mode in ctxs:
        ordered = sorted(total[mode].wall)
        p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
        extra = f"   CPU median {statistics.median(total[mode].cpu) * 1e3:6.3f} ms" if cpu else ""
        print(f"  ITI-18 FindDocuments {mode:<10}  median {statistics.median(ordered) * 1e3:6.3f} ms   "
              f"p99 {p99 * 1e3:6.3f} ms{extra}   (n={len(ordered)})", flush=True)
    ratio = statistics.median(total["enforced"].wall) / statistics.median(total["unenforced"].wall)
    cpu_text = f"; CPU ratio {statistics.median(total['enforced'].cpu) / statistics.median(total['unenforced'].cpu):.3f} " \
               f"(rounds {spread(cpu_ratios)})" if cpu else ""
    added = statistics.median(total["enforced"].wall) - statistics.median(total["unenforced"].wall)
    print(f"  ratio of the medians {ratio:.3f} (rounds {spread(ratios)}){cpu_text}; the decision adds "
          f"{added * 1e3:.3f} ms per query", flush=True)
    return ratio


# -- 2. ITI-41 --------------------------------------------------------------------------------

def measure_submissions(ctxs: dict[str, XdsContext], patients: int, submissions: int, batch: int, cpu: bool) -> float:
    rng = random.Random(41)
    content = cda()
    modes = list(ctxs)
    elapsed = {mode: 0.0 for mode in modes}
    used = {mode: 0.0 for mode in modes}
    done = {mode: 0 for mode in modes}
    pair_ratios: list[float] = []

    def run(mode: str, count: int) -> tuple[float, float]:
        now = datetime.now(timezone.utc)
        requests = [submission(rng.randrange(patients), now, content) for _ in range(count)]
        ctx = ctxs[mode]
        w0, c0 = time.perf_counter(), time.thread_time()
        responses = [service.iti41(request, ctx) for request in requests]
        c1, w1 = time.thread_time(), time.perf_counter()
        for response in responses:
            if response.body.get("status") != c.RESPONSE_SUCCESS:
                raise AssertionError(f"{mode}: ITI-41 failed: {etree_text(response)[:400]}")
        return w1 - w0, c1 - c0

    for mode in modes:  # warm-up
        run(mode, 20)
    batches = max(1, submissions // batch)
    for i in range(batches):
        rates = {}
        for mode in (modes if i % 2 == 0 else modes[::-1]):
            wall, thread = run(mode, batch)
            elapsed[mode] += wall
            used[mode] += thread
            done[mode] += batch
            rates[mode] = batch / wall
        pair_ratios.append(rates["enforced"] / rates["unenforced"])
    for mode in modes:
        extra = f"   CPU {used[mode] / done[mode] * 1e3:6.3f} ms per document" if cpu else ""
        print(f"  ITI-41 10 KB CDA {mode:<10}  {done[mode] / elapsed[mode]:7.1f} documents/s   "
              f"{elapsed[mode] / done[mode] * 1e3:6.3f} ms per document{extra}   (n={done[mode]})", flush=True)
    ratio = (done["enforced"] / elapsed["enforced"]) / (done["unenforced"] / elapsed["unenforced"])
    ordered = sorted(pair_ratios)
    cpu_text = f"; CPU ratio {used['unenforced'] / used['enforced']:.3f}" if cpu else ""
    added = elapsed["enforced"] / done["enforced"] - elapsed["unenforced"] / done["unenforced"]
    print(f"  throughput ratio {ratio:.3f} (per pair of batches of {batch}: median {statistics.median(ordered):.3f}, "
          f"{spread(ordered)}){cpu_text}; the decision adds {added * 1e3:.3f} ms per document", flush=True)
    return ratio


# -- 3. bench_access --------------------------------------------------------------------------

def measure_decision() -> list[tuple[str, float]]:
    """bench_access's run, its lines printed as it prints them; returns each line's p99
    per entry (its verdict is on the p99)."""
    figures: list[tuple[str, float]] = []
    original = bench_access._report

    def recording(name: str, per_entry: list[float], entries: int) -> None:
        ordered = sorted(per_entry)
        figures.append((name, ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]))
        original(name, per_entry, entries)

    bench_access._report = recording
    try:
        bench_access.main()
    finally:
        bench_access._report = original
    return figures


# -- profile ----------------------------------------------------------------------------------

WATCHED = (
    ("actors/xds/access.py", "__init__", "Reader(): gate.check, Requester.from_principal"),
    ("actors/xds/access.py", "patient_visible", "Reader.patient_visible"),
    ("actors/xds/access.py", "entries", "Reader.entries (facts + decisions)"),
    ("actors/xds/access.py", "entry_facts", "  entry_facts: codes + authors, 2 queries"),
    ("actors/coordination/gate.py", "prepare", "  Check.prepare"),
    ("actors/coordination/records.py", "load_states", "    records.load_states, 5 queries"),
    ("actors/coordination/decision.py", "__init__", "Access(): the per-patient work (in prepare / decide)"),
    ("actors/coordination/gate.py", "entries", "  Check.entries (prepare + decisions)"),
    ("actors/xds/service.py", "_break_the_glass", "_break_the_glass"),
    ("actors/xds/access.py", "refused_submission", "refused_submission (ITI-41)"),
    ("actors/coordination/records.py", "submission_state", "  records.submission_state, 1 query"),
    ("sqlalchemy/orm/session.py", "execute", "Session.execute (every ORM query)"),
    ("sqlalchemy/orm/session.py", "scalars", "Session.scalars"),
)


def _watched(stats: pstats.Stats, calls: int) -> dict[str, tuple[int, float]]:
    found: dict[str, tuple[int, float]] = {}
    for (filename, _line, name), (_cc, ncalls, _tt, cumulative, _callers) in stats.stats.items():  # type: ignore[attr-defined]
        for suffix, function, label in WATCHED:
            if filename.endswith(suffix) and name == function:
                count, total = found.get(label, (0, 0.0))
                found[label] = (count + ncalls, total + cumulative)
    return {label: (count // calls, total / calls) for label, (count, total) in found.items()}


def profile(ctxs: dict[str, XdsContext], patients: int, count: int = 300) -> None:
    """cProfile of `count` calls in each mode: per call, the functions of the decision
    and the store queries, and the enforced path's top functions by own time."""
    rng = random.Random(99)
    now = datetime.now(timezone.utc)
    content = cda()
    def queries() -> list[soap.SoapRequest]:
        return [find_documents(rng.randrange(patients), now) for _ in range(count)]

    def submissions() -> list[soap.SoapRequest]:
        return [submission(rng.randrange(patients), now, content) for _ in range(count)]

    cases: list[tuple[str, Callable[[], list[soap.SoapRequest]], Callable[[soap.SoapRequest, XdsContext], object]]] = [
        ("ITI-18", queries, service.iti18),
        ("ITI-41", submissions, service.iti41),
    ]
    for transaction, build, handler in cases:
        results = {}
        for mode in ("unenforced", "enforced"):
            requests, ctx = build(), ctxs[mode]
            profiler = cProfile.Profile()
            profiler.enable()
            for request in requests:
                handler(request, ctx)
            profiler.disable()
            results[mode] = pstats.Stats(profiler)
        per_call = {mode: stats.total_tt / count for mode, stats in results.items()}  # type: ignore[attr-defined]
        print(f"  profile {transaction}: {per_call['enforced'] * 1e3:.3f} ms per call enforced, "
              f"{per_call['unenforced'] * 1e3:.3f} ms unenforced (under cProfile)", flush=True)
        on, off = _watched(results["enforced"], count), _watched(results["unenforced"], count)
        for _suffix, _function, label in WATCHED:
            if label in on:
                calls, seconds = on[label]
                base = off.get(label)
                base_text = f"   unenforced {base[0]:3d} calls {base[1] * 1e3:7.3f} ms" if base else ""
                print(f"    {label:<52} {calls:3d} calls {seconds * 1e3:7.3f} ms{base_text}", flush=True)
        print(f"    enforced {transaction}, top functions by own time:", flush=True)
        stats = results["enforced"]
        rows = sorted(stats.stats.items(), key=lambda item: -item[1][2])[:12]  # type: ignore[attr-defined]
        for (filename, line, name), (_cc, ncalls, own, cumulative, _callers) in rows:
            where = "/".join(Path(filename).parts[-2:])
            print(f"      {own / count * 1e6:8.1f} µs own {cumulative / count * 1e6:8.1f} µs cum "
                  f"{ncalls / count:6.1f}x  {where}:{line} {name}", flush=True)


# -- main -------------------------------------------------------------------------------------

@contextmanager
def store_at(url: str | None) -> Iterator[Store]:
    if url:
        store = Store(url)
        store.upgrade()
        with store.session() as session:
            if session.scalar(select(func.count()).select_from(XdsDocumentEntry)):
                raise SystemExit("--postgres: the database must be empty (the benchmark seeds its own registry)")
        try:
            yield store
        finally:
            store.close()
        return
    with tempfile.TemporaryDirectory(prefix="tsnhub-bench-coordination-") as scratch:
        store = Store(f"sqlite:///{Path(scratch) / 'registry.sqlite'}")
        store.upgrade()
        try:
            yield store
        finally:
            store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description="Cost of the coordination model's access decision on ITI-18 and ITI-41 "
                                                 "(issue #12), beside its floors.")
    parser.add_argument("--entries", type=int, default=100_000, help="DocumentEntries in the registry (100,000; full size 1,000,000)")
    parser.add_argument("--patients", type=int, default=0,
                        help="patients with coordination state (default and at most: entries / 10; full size 100,000)")
    parser.add_argument("--queries", type=int, default=300, help="FindDocuments per mode and round (300)")
    parser.add_argument("--rounds", type=int, default=3, help="rounds of FindDocuments (3)")
    parser.add_argument("--submissions", type=int, default=1000, help="ITI-41 submissions per mode (1,000)")
    parser.add_argument("--batch", type=int, default=50, help="ITI-41 submissions per batch, modes alternating (50)")
    parser.add_argument("--postgres", metavar="URL", help="an empty PostgreSQL database instead of a temporary SQLite one")
    parser.add_argument("--profile", action="store_true", help="print where the enforced paths spend their time (cProfile)")
    parser.add_argument("--skip-decision", action="store_true", help="leave out bench_access's figure")
    options = parser.parse_args()
    seeded_patients = options.entries // 10  # patients with their 10 entries
    patients = options.patients or seeded_patients
    if not 0 < patients <= seeded_patients:
        parser.error(f"--patients: between 1 and entries / 10 ({seeded_patients}): bulk_seed puts 10 entries per patient")

    started = time.perf_counter()
    print(f"machine: {platform.node()}, {os.cpu_count()} CPUs, {platform.processor() or platform.machine()}, "
          f"Python {platform.python_version()}; load average {os.getloadavg()[0]:.2f}", flush=True)
    table: list[tuple[str, str, str, bool]] = []
    with store_at(options.postgres) as store:
        backend = store.engine.dialect.name
        cpu = backend == "sqlite"
        seed(store, options.entries, patients)
        enforced, unenforced = context(store)
        ctxs = {"enforced": enforced, "unenforced": unenforced}

        print(f"ITI-18 FindDocuments, {backend}, {options.entries:,} entries, {patients:,} patients with coordination "
              f"state; one patient, 10 entries, a circle member asking", flush=True)
        t0 = time.perf_counter()
        ratio = measure_queries(ctxs, patients, options.queries, options.rounds, cpu)
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
        table.append(("ITI-18 FindDocuments latency, enforced / unenforced", f"{ratio:.3f}x", f"<= {QUERY_FLOOR:.2f}x",
                      ratio <= QUERY_FLOOR))

        print(f"ITI-41, one 10 KB CDA per submission, {backend}, batches of {options.batch} alternating", flush=True)
        t0 = time.perf_counter()
        throughput = measure_submissions(ctxs, patients, options.submissions, options.batch, cpu)
        print(f"  ({time.perf_counter() - t0:.0f} s)", flush=True)
        table.append(("ITI-41 throughput, enforced / unenforced", f"{throughput:.3f}x", f">= {SUBMIT_FLOOR:.2f}x",
                      throughput >= SUBMIT_FLOOR))

        missed = not all(ok for *_, ok in table)
        if options.profile or missed:
            print("where the time goes (cProfile, per call)", flush=True)
            profile(ctxs, patients)

    if not options.skip_decision:
        print("decision per document entry (bench.bench_access)", flush=True)
        for name, p99 in measure_decision():
            table.append((f"decision p99 per entry: {name}", f"{p99 * 1e6:.2f} µs", f"< {bench_access.FLOOR_US:.0f} µs",
                          p99 * 1e6 < bench_access.FLOOR_US))

    print(f"\n{'figure':<78} {'value':>10}  {'floor':>10}  verdict")
    for name, value, floor, ok in table:
        print(f"{name:<78} {value:>10}  {floor:>10}  {'ok' if ok else 'below floor'}")
    print(f"(total {time.perf_counter() - started:.0f} s; load average {os.getloadavg()[0]:.2f})", flush=True)


if __name__ == "__main__":
    main()
