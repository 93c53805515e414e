"""XDS.b figures of one hub process over HTTPS with a signed VIHF assertion per request
(issue 4, "Done when" 5):

- ITI-41 throughput for a 10 KB CDA document, on SQLite and PostgreSQL, and its floor:
  the CPU cost, in this process, of parsing the same request, verifying its assertion
  and inserting its rows directly;
- ITI-18 FindDocuments latency (median, p99) for one patient with 10 k, 100 k and 1 M
  DocumentEntries in the registry. The other patients' entries are inserted in bulk
  through the store (compact ebRIM, 10 entries per patient, one confidentiality code
  each), not through ITI-41;
- ITI-43 retrieval of a 1 MB document (MTOM).

PostgreSQL: set TSNHUB_BENCH_POSTGRES_URL to an empty database, or run as root on a
machine with the Debian `postgresql` package: a throw-away server is started
(DEPENDENCIES.md). `--sizes 10000,100000` shortens the FindDocuments part.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from lxml import etree
from sqlalchemy import insert

from actors.xds import constants as c
from actors.xds.patients import add_known_patient
from conformance.hubprocess import HubProcess, launch_hub
from conformance.xds_client import XdsClient, quoted, quoted_list
from conformance.xds_metadata import (
    DocumentSpec,
    new_oid,
    provide_and_register,
    submit_objects_request,
)
from hub.wire import mtom, soap
from hub import pki as hub_pki
from hub.store import Store
from hub.store.bulk import insert_rows
from hub.store.models.xds import (
    XdsAssociation,
    XdsCode,
    XdsDocument,
    XdsDocumentEntry,
    XdsSubmissionSet,
)
from vihf import wsse
from vihf.issue import Signer, issue
from hub.store.replay import ReplayCache
from vihf.trust import TrustStore
from vihf.verify import Verifier

DOMAIN = "1.2.250.1.213.1.4.8"
REPOSITORY = "1.2.250.1.213.1.999.1"
# The benchmark's patients are in no pathway: `allow` lets the signed professional read
# their documents, so every query returns what it returned before the coordination model
# (the access decision still runs on every entry; its own cost: bench_coordination).
CONFIG = (f'[identity]\naffinity_domain = "{DOMAIN}"\n[xds]\nrepository_unique_id = "{REPOSITORY}"\nmax_query_results = 1000\n'
          '[coordination]\nunenrolled_patients = "allow"\n')
# The XDS figures are the registry's and repository's; the CDA gate's cost on ITI-41 is
# measured once on its own (`gate_cost`).
GATE_OFF = '[cda]\nsubmission_gate = "off"\n'
ITI41_SECONDS = 10.0
CLIENTS = 4


def patient(number: int) -> str:
    return f"{number:013d}^^^&{DOMAIN}&ISO"


def cda(size: int = 10 * 1024) -> bytes:
    head = b'<?xml version="1.0" encoding="UTF-8"?><ClinicalDocument xmlns="urn:hl7-org:v3"><component><nonXMLBody><text>'
    tail = b"</text></nonXMLBody></component></ClinicalDocument>"
    return head + b"x" * (size - len(head) - len(tail)) + tail


def report(name: str, samples: list[float], elapsed: float | None = None) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    rate = f"{len(samples) / elapsed:8.1f}/s" if elapsed else " " * 10
    print(f"  {name:<44} {rate}   median {statistics.median(ordered) * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms   (n={len(samples)})", flush=True)


def assertions(signer: Signer) -> Callable[[], etree._Element]:
    def fresh() -> etree._Element:
        return issue(
            signer, subject_id="899900012347", subject_name="MARTIN, Paul", roles=["10", "SM26"],
            structure_id="49990001234701", sector="SA07",
        )

    return fresh


def seed_patients(store: Store, numbers: range) -> None:
    with store.transaction() as session:
        for number in numbers:
            add_known_patient(session, patient(number))


# -- ITI-41 -----------------------------------------------------------------------------------

def iti41_throughput(hub: HubProcess, signer: Signer, label: str) -> float:
    """Documents per second with CLIENTS concurrent Document Sources (one document each)."""
    content = cda()
    stop_at = time.perf_counter() + ITI41_SECONDS
    samples: list[float] = []
    failures: list[str] = []
    lock = threading.Lock()

    def source(index: int) -> None:
        client = XdsClient(hub.session(), hub.https_url, assertions(signer))
        while time.perf_counter() < stop_at:
            documents = [DocumentSpec(content=content, mime_type="text/xml")]
            request = submit_objects_request(patient(1 + index), documents=documents)
            t0 = time.perf_counter()
            answer = client.provide_and_register(request, documents, mtom_=True)
            elapsed = time.perf_counter() - t0
            with lock:
                samples.append(elapsed)
                if answer.registry_status != c.RESPONSE_SUCCESS:
                    failures.append(str(answer.errors[:1]))

    started = time.perf_counter()
    threads = [threading.Thread(target=source, args=(i,)) for i in range(CLIENTS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    assert not failures, failures[:3]
    report(f"ITI-41 10 KB CDA, {CLIENTS} clients, {label}", samples, elapsed)
    return len(samples) / elapsed


def iti41_floor(store_url: str, signer: Signer, pki: Path, count: int = 300) -> float:
    """Per request: parse the ITI-41 message (MTOM), verify its assertion (signature,
    trust, content, replay insert) and insert its rows directly (one transaction, the
    store's fastest insert path), no validation, no registry look-up, no audit."""
    store = Store(store_url)
    verifier = Verifier(TrustStore.load(pki / "ca.pem"), ReplayCache(store))
    content = cda()
    source = assertions(signer)
    messages = []
    for _ in range(count):
        documents = [DocumentSpec(content=content, mime_type="text/xml")]
        body, parts = provide_and_register(submit_objects_request(patient(1), documents=documents), documents, True)
        xml = wsse.envelope(c.ACTION_ITI41, body, source())
        content_type, chunks = mtom.build(xml, parts.items(), c.ACTION_ITI41)
        messages.append((content_type, b"".join(bytes(x) for x in chunks), documents[0]))
    entry_xml = etree.tostring(body.find(f".//{{{c.RIM}}}ExtrinsicObject"), encoding="unicode")
    samples: list[float] = []
    started = time.perf_counter()
    for content_type, data, spec in messages:
        t0 = time.perf_counter()
        request = soap.parse_request(content_type, data, soap.Limits())
        verifier.verify_header(request.header)
        document = request.binary(request.body.find(f"{{{c.XDSB}}}Document"))
        entry_uuid, ss_uuid = f"urn:uuid:{uuid.uuid4()}", f"urn:uuid:{uuid.uuid4()}"
        with store.transaction() as session:
            insert_rows(
                session,
                [
                    (XdsSubmissionSet.__table__, [{
                        "uuid": ss_uuid, "unique_id": new_oid(), "patient_id": patient(1), "status": c.STATUS_APPROVED,
                        "source_id": "1.2.3", "submission_time": "20240102103000", "content_type_code": "a^^b", "xml": "<x/>",
                    }]),
                    (XdsDocumentEntry.__table__, [{
                        "uuid": entry_uuid, "lid": entry_uuid, "version": 1, "unique_id": spec.unique_id, "patient_id": patient(1),
                        "status": c.STATUS_APPROVED, "object_type": c.DOCUMENT_ENTRY_STABLE, "class_code": "a^^b",
                        "type_code": "a^^b", "format_code": "a^^b", "healthcare_facility_type_code": "a^^b",
                        "practice_setting_code": "a^^b", "creation_time": "20240102103000", "service_start_time": None,
                        "service_stop_time": None, "repository_unique_id": REPOSITORY, "hash": "0" * 40, "size": len(document),
                        "mime_type": "text/xml", "xml": entry_xml,
                    }]),
                    (XdsAssociation.__table__, [{
                        "uuid": f"urn:uuid:{uuid.uuid4()}", "association_type": c.HAS_MEMBER, "source": ss_uuid,
                        "target": entry_uuid, "status": c.STATUS_APPROVED, "xml": "<x/>",
                    }]),
                    (XdsCode.__table__, [{"object_uuid": entry_uuid, "kind": "confidentialityCode", "code": "N^^2.16.840.1.113883.5.25"}]),
                    (XdsDocument.__table__, [{
                        "unique_id": spec.unique_id, "mime_type": "text/xml", "size": len(document), "hash": "0" * 40,
                        "content": bytes(document),
                    }]),
                ],
            )
        samples.append(time.perf_counter() - t0)
    elapsed = time.perf_counter() - started
    store.close()
    report("floor: parse + verify VIHF + insert rows", samples, elapsed)
    return len(samples) / elapsed


# -- ITI-18 -----------------------------------------------------------------------------------

COMPACT = (
    '<rim:ExtrinsicObject xmlns:rim="urn:oasis:names:tc:ebxml-regrep:xsd:rim:3.0" id="{uuid}" lid="{uuid}" '
    'mimeType="text/xml" objectType="urn:uuid:7edca82f-054d-47f2-a032-9b2a5b5186c1"><rim:Slot name="creationTime">'
    "<rim:ValueList><rim:Value>{time}</rim:Value></rim:ValueList></rim:Slot>"
    '<rim:ExternalIdentifier id="{uuid}-p" registryObject="{uuid}" identificationScheme="urn:uuid:58a6f841-87b3-4a3e-92fd-a8ffeff98427" value="{patient}"/>'
    '<rim:ExternalIdentifier id="{uuid}-u" registryObject="{uuid}" identificationScheme="urn:uuid:2e82c1f6-a085-4c72-9da3-8640a32e42ab" value="{unique}"/>'
    "</rim:ExtrinsicObject>"
)


def bulk_seed(store: Store, start: int, stop: int, batch: int = 20000) -> None:
    """Entries start..stop-1 for patients 1000 + n // 10, straight into the store."""
    classes = ["11488-4^^2.16.840.1.113883.6.1", "34133-9^^2.16.840.1.113883.6.1", "18842-5^^2.16.840.1.113883.6.1"]
    for low in range(start, stop, batch):
        entries, codes = [], []
        for n in range(low, min(stop, low + batch)):
            entry_uuid = f"urn:uuid:{uuid.UUID(int=n + 1)}"
            who = patient(1000 + n // 10)
            when = f"2023{1 + n % 12:02d}{1 + n % 28:02d}120000"
            entries.append(
                {
                    "uuid": entry_uuid, "lid": entry_uuid, "version": 1, "unique_id": f"1.2.250.1.999.8.{n}", "patient_id": who,
                    "status": c.STATUS_APPROVED if n % 7 else c.STATUS_DEPRECATED, "object_type": c.DOCUMENT_ENTRY_STABLE,
                    "class_code": classes[n % 3], "type_code": classes[n % 3], "format_code": "urn:ihe:iti:xds-sd:pdf:2008^^1.3.6.1.4.1.19376.1.2.3",
                    "healthcare_facility_type_code": "SA01^^1.2.250.1.71.4.2.4", "practice_setting_code": "ETABLISSEMENT^^1.2.250.1.213.1.1.4.9",
                    "creation_time": when, "service_start_time": when, "service_stop_time": None, "repository_unique_id": REPOSITORY,
                    "hash": "0" * 40, "size": 1000, "mime_type": "application/pdf",
                    "xml": COMPACT.format(uuid=entry_uuid, time=when, patient=who.replace("&", "&amp;"), unique=f"1.2.250.1.999.8.{n}"),
                }
            )
            codes.append({"object_uuid": entry_uuid, "kind": "confidentialityCode", "code": "N^^2.16.840.1.113883.5.25"})
        with store.transaction() as session:
            session.execute(insert(XdsDocumentEntry), entries)
            session.execute(insert(XdsCode), codes)


QUERIED = 999  # the patient FindDocuments asks about: 10 entries registered through ITI-41


def register_queried_patient(hub: HubProcess, store: Store, signer: Signer) -> None:
    seed_patients(store, range(QUERIED, QUERIED + 1))
    client = XdsClient(hub.session(), hub.https_url, assertions(signer))
    documents = [DocumentSpec(content=cda(2048), mime_type="text/xml", creation_time=f"202401{day:02d}103000") for day in range(1, 11)]
    assert client.provide_and_register(submit_objects_request(patient(QUERIED), documents=documents), documents).errors == []


def find_documents_latency(hub: HubProcess, signer: Signer, size: int, queries: int = 200) -> None:
    client = XdsClient(hub.session(), hub.https_url, assertions(signer))
    params = {
        "$XDSDocumentEntryPatientId": quoted(patient(QUERIED)),
        "$XDSDocumentEntryStatus": quoted_list(c.STATUS_APPROVED),
        "$XDSDocumentEntryClassCode": quoted_list("11488-4^^2.16.840.1.113883.6.1"),
        "$XDSDocumentEntryCreationTimeFrom": "20240103",
    }
    answer = client.stored_query(c.FIND_DOCUMENTS, params)
    found = len(answer.body.findall(f".//{{{c.RIM}}}ExtrinsicObject"))
    samples = []
    for _ in range(queries):
        t0 = time.perf_counter()
        answer = client.stored_query(c.FIND_DOCUMENTS, params)
        samples.append(time.perf_counter() - t0)
        assert answer.registry_status == c.RESPONSE_SUCCESS
    report(f"ITI-18 FindDocuments, {size:>9,} entries ({found} hits)", samples)


# -- ITI-43 -----------------------------------------------------------------------------------

def retrieve_latency(hub: HubProcess, signer: Signer, count: int = 30) -> None:
    client = XdsClient(hub.session(), hub.https_url, assertions(signer))
    documents = [DocumentSpec(content=os.urandom(1024 * 1024), mime_type="application/pdf")]
    assert client.provide_and_register(submit_objects_request(patient(1), documents=documents), documents).errors == []
    samples = []
    for _ in range(count):
        t0 = time.perf_counter()
        _answer, contents = client.retrieve([(REPOSITORY, documents[0].unique_id)])
        samples.append(time.perf_counter() - t0)
        assert contents[documents[0].unique_id] == documents[0].content
    report("ITI-43 retrieve 1 MB (MTOM)", samples)
    print(f"  {'':<44} {1 / statistics.median(samples):8.1f} MB/s at the median", flush=True)


# -- PostgreSQL -------------------------------------------------------------------------------

@contextmanager
def postgres() -> Iterator[str | None]:
    """TSNHUB_BENCH_POSTGRES_URL, or a throw-away local server (root + Debian package)."""
    if os.environ.get("TSNHUB_BENCH_POSTGRES_URL"):
        yield os.environ["TSNHUB_BENCH_POSTGRES_URL"]
        return
    versions = sorted(Path("/usr/lib/postgresql").glob("*/bin")) if Path("/usr/lib/postgresql").is_dir() else []
    if os.geteuid() != 0 or not versions:
        yield None
        return
    bindir = versions[-1]
    data = Path(tempfile.mkdtemp(prefix="tsnhub-bench-pg-"))
    shutil.chown(data, "postgres", "postgres")
    port = "54381"
    run = lambda *cmd: subprocess.run(["runuser", "-u", "postgres", "--", *cmd], check=True, capture_output=True)
    run(str(bindir / "initdb"), "-D", str(data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C.UTF-8", "--no-sync")
    run(str(bindir / "pg_ctl"), "-D", str(data), "-l", str(data / "server.log"), "-w", "-o",
        f"-c listen_addresses=127.0.0.1 -p {port} -k {data} -c fsync=off", "start")
    try:
        run(str(bindir / "createdb"), "-h", "127.0.0.1", "-p", port, "-U", "postgres", "tsnhub_bench")
        yield f"postgresql+psycopg://postgres@127.0.0.1:{port}/tsnhub_bench"
    finally:
        run(str(bindir / "pg_ctl"), "-D", str(data), "-m", "fast", "-w", "stop")
        shutil.rmtree(data, ignore_errors=True)


def run_hub(base: Path, pki: Path, db_url: str | None, gate: str = GATE_OFF) -> tuple[HubProcess, Store]:
    args = ("--db", db_url) if db_url else ()
    hub = launch_hub(base, pki, CONFIG + gate, *args)
    store = Store(db_url or hub.db_url)
    seed_patients(store, range(1, 1 + CLIENTS))
    return hub, store


def gate_cost(base: Path, pki: Path, signer: Signer) -> None:
    """ITI-41 with the default `[cda] submission_gate = "warn"`: every document is also
    validated (Python header rules; no schema directory configured)."""
    hub, store = run_hub(base, pki, None, gate='[cda]\nsubmission_gate = "warn"\n')
    try:
        iti41_throughput(hub, signer, "SQLite, CDA gate warn")
    finally:
        hub.stop()
        store.close()


def measure_backend(base: Path, pki: Path, signer: Signer, label: str, url: str | None, sizes: list[int]) -> None:
    """Every figure on one store: ITI-41 and its floor, ITI-43, then FindDocuments as the
    registry grows to each of `sizes`, and ITI-41 again on the largest registry."""
    print(label, flush=True)
    hub, store = run_hub(base / label.lower(), pki, url)
    try:
        iti41_throughput(hub, signer, label)
        if url is None:
            gate_cost(base / "gate", pki, signer)
        floor_url = url or f"sqlite:///{base / 'floor.sqlite'}"
        if url is None:
            Store(floor_url).upgrade()
        iti41_floor(floor_url, signer, pki)
        retrieve_latency(hub, signer)
        register_queried_patient(hub, store, signer)
        seeded = 0
        for size in sizes:
            t0 = time.perf_counter()
            bulk_seed(store, seeded, size)
            print(f"  (bulk-seeded {size - seeded:,} entries in {time.perf_counter() - t0:.1f} s)", flush=True)
            seeded = size
            find_documents_latency(hub, signer, size)
        if seeded:
            # The same ITI-41 load once the registry holds the largest seed.
            iti41_throughput(hub, signer, f"{label}, {seeded:,} entries registered")
    finally:
        hub.stop()
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000,1000000")
    parser.add_argument("--skip-postgres", action="store_true")
    options = parser.parse_args()
    sizes = [int(s) for s in options.sizes.split(",") if s]
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        hub_pki.init(base / "pki")
        signer = Signer.load(base / "pki" / "vihf-signer.key", base / "pki" / "vihf-signer.pem")
        measure_backend(base, base / "pki", signer, "SQLite", None, sizes)
        if options.skip_postgres:
            return
        with postgres() as url:
            if url is None:
                print("PostgreSQL: not available (set TSNHUB_BENCH_POSTGRES_URL)", flush=True)
                return
            Store(url).upgrade()
            measure_backend(base, base / "pki", signer, "PostgreSQL", url, sizes)


if __name__ == "__main__":
    main()
