"""An ITI-44 feed that creates a cross-reference is notified to the configured PIX
consumers (ITI-10 ADT^A31 over MLLP), as an ITI-8 feed is."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.hubprocess import launch_hub
from conformance.pix_consumer import PixConsumer
from pixpdqv3_support import ACTION, feed, send


@pytest.fixture
def consumer() -> Iterator[PixConsumer]:
    fake = PixConsumer()
    yield fake
    fake.close()


def test_iti44_new_cross_reference_is_notified_by_iti10(tmp_path: Path, pki: Path, consumer: PixConsumer) -> None:
    config = (
        '[security]\nrequire_vihf = false\n\n[identity]\n'
        f'accepted_domains = ["1.2.250.1.999.10.1", "1.2.250.1.999.10.2"]\npix_consumers = ["127.0.0.1:{consumer.port}"]\n'
    )
    hub = launch_hub(tmp_path / "hub", pki, config)
    try:
        session = hub.session()
        message = feed([("1.2.250.1.999.10.1", "N-1"), ("1.2.250.1.999.10.2", "N-2")], "NOTIFIE", "ANNE", "19700101", "F")
        assert send(hub.https_url, session, "/pix", ACTION + "PRPA_IN201301UV02", message).ack_code == "AA"
        received = consumer.wait(1)
    finally:
        hub.stop()
    assert len(received) == 1
    segments = [s.split("|") for s in received[0].split("\r") if s]
    assert segments[0][8] == "ADT^A31^ADT_A05"
    pid = next(s for s in segments if s[0] == "PID")
    assert {rep.split("^")[0] for rep in pid[3].split("~")} == {"N-1", "N-2"}
