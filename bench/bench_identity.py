"""Identity manager figures on one hub process:

- ITI-8 Patient Identity Feed throughput over MLLP (ADT^A01, new patients), several
  client connections pipelining their messages;
- ITI-21 PDQ latency (median, p99) by family name + birth date with 10 k, 100 k and 1 M
  patients seeded in bulk through the store.

    python -m bench.bench_identity [--feed N] [--sizes 10000,100000,1000000] [--queries N]
"""
from __future__ import annotations

import argparse
import random
import statistics
import tempfile
import threading
import time
from datetime import datetime, timezone
from pathlib import Path

from hub import pki as hub_pki
from hub.store import Store
from hub.store.models.identity import IdentityDomain, IdentityIdentifier, IdentityPatient, IdentityPerson
from conformance.hubprocess import HubProcess, launch_hub

from actors.identity.model import normalise

IPP_OID = "2.999.1.10.1"
CONFIG = '[identity]\naccepted_domains = ["*"]\n'
SYLLABLES = ["BER", "NAR", "DU", "MON", "TAL", "LE", "GRA", "VI", "CHA", "RO", "PEL", "FON", "TA", "NIER", "GI",
             "RAU", "DEAU", "MAR", "TIN", "COL", "LIN", "BRE", "MOND", "CA", "SA", "NEL", "LI", "VAL", "LAN", "DOT"]
GIVEN = ["CAMILLE", "HUGO", "LOUISE", "JULES", "EMMA", "LUCAS", "ALICE", "NOE", "JEANNE", "PAUL", "LEA", "ARTHUR"]


def family_name(rng: random.Random) -> str:
    return "".join(rng.choice(SYLLABLES) for _ in range(3))


def birth_date(rng: random.Random) -> str:
    return f"{rng.randint(1930, 2020)}{rng.randint(1, 12):02d}{rng.randint(1, 28):02d}"


def a01(n: int, rng: random.Random) -> bytes:
    return (
        f"MSH|^~\\&|BENCH|CHVF|TSNHUB|PFT|20250101120000||ADT^A01^ADT_A01|B{n}|P|2.5|||||FRA|UNICODE UTF-8\r"
        f"EVN||20250101120000\r"
        f"PID|1||B{n}^^^CHVF-IPP&{IPP_OID}&ISO^PI||{family_name(rng)}^{rng.choice(GIVEN)}^^^^^L||{birth_date(rng)}|M|||"
        f"1 rue des Tilleuls^^Val-Fleuri^^99100^FRA^H|||||||||||||||||||N||PROV\r"
        "PV1|1|O\r"
    ).encode()


def report(name: str, samples: list[float]) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(f"{name:<34} median {statistics.median(ordered) * 1000:7.2f} ms   p99 {p99 * 1000:7.2f} ms   ({len(samples)} queries)", flush=True)


def bench_feed(base: Path, pki: Path, total: int, connections: int = 4, window: int = 16) -> None:
    hub = launch_hub(base / "feed", pki, CONFIG)
    try:
        rng = random.Random(8)
        messages = [a01(n, rng) for n in range(total + 200)]
        with hub.mllp_connection() as warm:
            for message in messages[total:]:
                assert b"MSA|AA" in warm.exchange(message)
        per_connection = total // connections
        failures: list[bytes] = []

        def client(index: int) -> None:
            mine = messages[index * per_connection:(index + 1) * per_connection]
            with hub.mllp_connection(timeout=60) as connection:
                for start in range(0, len(mine), window):
                    chunk = mine[start:start + window]
                    for message in chunk:
                        connection.send(message)
                    for _ in chunk:
                        answer = connection.read()
                        if b"MSA|AA" not in answer:
                            failures.append(answer)

        threads = [threading.Thread(target=client, args=(i,)) for i in range(connections)]
        started = time.perf_counter()
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join()
        elapsed = time.perf_counter() - started
        sent = per_connection * connections
        print(f"ITI-8 feed over MLLP ({connections} connections, window {window})"
              f"   {sent / elapsed:7.0f} messages/s   ({sent} ADT^A01 in {elapsed:.1f} s, {len(failures)} not AA)", flush=True)
    finally:
        hub.stop()


def seed(url: str, size: int, rng: random.Random) -> list[tuple[str, str]]:
    """Bulk insert `size` patients (one person, one IPP each); returns sample traits."""
    store = Store(url)
    store.upgrade()
    now = datetime.now(timezone.utc)
    samples: list[tuple[str, str]] = []
    chunk = 50_000
    with store.engine.begin() as connection:
        domain_id = connection.execute(
            IdentityDomain.__table__.insert(), {"namespace": "CHVF-IPP", "universal_id": IPP_OID, "universal_id_type": "ISO"}
        ).inserted_primary_key[0]
    for start in range(0, size, chunk):
        ids = range(start + 1, min(size, start + chunk) + 1)
        persons, patients, identifiers = [], [], []
        for n in ids:
            family, born, given = family_name(rng), birth_date(rng), rng.choice(GIVEN)
            if rng.random() < 1000 / size:
                samples.append((family, born))
            persons.append({"id": n, "created_at": now})
            patients.append({
                "id": n, "person_id": n, "active": True, "merged_into_id": None, "status": "PROV", "reliability_codes": "PROV",
                "family_name": family, "family_norm": normalise(family), "given_name": given, "given_names": given,
                "given_norm": given, "used_family_name": "", "used_family_norm": "", "used_given_name": "", "prefix": "",
                "birth_date": born, "sex": rng.choice("FM"), "birthplace_code": "", "street": "1 rue des Tilleuls",
                "city": "Val-Fleuri", "city_norm": "VAL FLEURI", "postal_code": "99100", "country": "FRA", "phone": "",
                "mother_maiden_name": "", "source": "BENCH|CHVF", "details": "{}", "created_at": now, "updated_at": now,
            })
            identifiers.append({"domain_id": domain_id, "value": f"S{n}", "patient_id": n, "type_code": "PI", "active": True})
        with store.engine.begin() as connection:
            connection.execute(IdentityPerson.__table__.insert(), persons)
            connection.execute(IdentityPatient.__table__.insert(), patients)
            connection.execute(IdentityIdentifier.__table__.insert(), identifiers)
    store.close()
    return samples


def pdq(n: int, family: str, born: str) -> bytes:
    return (
        f"MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20250402101000||QBP^Q22^QBP_Q21|Q{n}|P|2.5|||||FRA|UNICODE UTF-8\r"
        f"QPD|IHE PDQ Query|T{n}|@PID.5.1.1^{family}~@PID.7.1^{born}|||||^^^CHVF-IPP&{IPP_OID}&ISO\rRCP|I|10^RD\r"
    ).encode()


def bench_pdq(base: Path, pki: Path, size: int, queries: int) -> None:
    rng = random.Random(size)
    folder = base / f"pdq{size}"
    data = folder / "data"
    data.mkdir(parents=True)
    started = time.perf_counter()
    samples = seed(f"sqlite:///{(data / 'tsnhub.sqlite').resolve()}", size, rng)
    print(f"seeded {size} patients in {time.perf_counter() - started:.1f} s", flush=True)
    hub: HubProcess = launch_hub(folder, pki, CONFIG)
    try:
        timings: list[float] = []
        found = 0
        with hub.mllp_connection(timeout=60) as connection:
            for n in range(queries):
                family, born = samples[n % len(samples)]
                t0 = time.perf_counter()
                answer = connection.exchange(pdq(n, family, born))
                timings.append(time.perf_counter() - t0)
                found += b"|OK" in answer
        report(f"ITI-21 PDQ family+birth date, {size:>7} patients", timings)
        print(f"  ({found}/{queries} queries found their patient)", flush=True)
    finally:
        hub.stop()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--feed", type=int, default=4000, help="ADT^A01 messages for the ITI-8 throughput run")
    parser.add_argument("--sizes", default="10000,100000,1000000", help="patient counts for the PDQ latency runs")
    parser.add_argument("--queries", type=int, default=500, help="PDQ queries per size")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        hub_pki.init(base / "pki")
        if args.feed:
            bench_feed(base, base / "pki", args.feed)
        for size in (int(s) for s in args.sizes.split(",") if s):
            bench_pdq(base, base / "pki", size, args.queries)


if __name__ == "__main__":
    main()
