"""Transport floor of one hub process: HTTPS SOAP round trips and MLLP round trips that
reach the hub's codec and router but no actor (an unknown Action / message type).

Prints requests per second and latency (median, p99) for one client connection, so the
actors' own figures can be read against what the transport alone costs.
"""
from __future__ import annotations

import statistics
import tempfile
import time
import uuid
from pathlib import Path

from hub import pki as hub_pki
from conformance.hubprocess import launch_hub, mllp_exchange

DURATION_SECONDS = 5.0


def _envelope() -> bytes:
    return (
        '<s:Envelope xmlns:s="http://www.w3.org/2003/05/soap-envelope" '
        'xmlns:wsa="http://www.w3.org/2005/08/addressing"><s:Header>'
        "<wsa:Action>urn:tsnhub:bench:NoSuchAction</wsa:Action>"
        f"<wsa:MessageID>urn:uuid:{uuid.uuid4()}</wsa:MessageID></s:Header>"
        "<s:Body><ping xmlns='urn:bench'/></s:Body></s:Envelope>"
    ).encode()


def _report(name: str, samples: list[float], elapsed: float) -> None:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    print(
        f"{name:<28} {len(samples) / elapsed:8.0f} req/s   median {statistics.median(ordered) * 1000:6.2f} ms"
        f"   p99 {p99 * 1000:6.2f} ms   ({len(samples)} requests)"
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as scratch:
        base = Path(scratch)
        hub_pki.init(base / "pki")
        hub = launch_hub(base / "hub", base / "pki", "[security]\nrequire_vihf = false\n")
        try:
            session = hub.session()
            url = hub.https_url + "/xds/registry"
            headers = {"Content-Type": "application/soap+xml"}
            session.post(url, data=_envelope(), headers=headers)  # warm-up
            samples: list[float] = []
            started = time.perf_counter()
            while time.perf_counter() - started < DURATION_SECONDS:
                t0 = time.perf_counter()
                session.post(url, data=_envelope(), headers=headers)
                samples.append(time.perf_counter() - t0)
            _report("https SOAP fault", samples, time.perf_counter() - started)

            message = b"MSH|^~\\&|BENCH|BENCH|TSNHUB|PFT|20260101120000||ZZZ^Z01|%d|P|2.5\r"
            with hub.mllp_connect() as connection:
                samples = []
                started = time.perf_counter()
                count = 0
                while time.perf_counter() - started < DURATION_SECONDS:
                    count += 1
                    t0 = time.perf_counter()
                    mllp_exchange(connection, message % count)
                    samples.append(time.perf_counter() - t0)
                _report("mllp ACK AR", samples, time.perf_counter() - started)
        finally:
            hub.stop()


if __name__ == "__main__":
    main()
