"""ITI-10 PIX Update Notification: a running hub sends ADT^A31 over MLLP to the
configured PIX consumer when cross-references change, and retries a consumer that
refused a notification."""
from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from conformance.hubprocess import launch_hub
from conformance.pix_consumer import PixConsumer


@pytest.fixture
def consumer() -> Iterator[PixConsumer]:
    fake = PixConsumer()
    yield fake
    fake.close()


def feed(ipp: str, authority: str, extra: str = "") -> str:
    return (
        f"MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20250101||ADT^A01^ADT_A01|F-{ipp}|P|2.5\rEVN||20250101\r"
        f"PID|1||{ipp}^^^{authority}^PI{extra}||BREMOND^HUGO^HUGO PAUL^^^^L||19791103|M{'|' * 24}VALI\r"
        "PV1|1|O\r"
    )


INS = "~179114410905287^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS"


def _cross_reference_notified(tmp_path: Path, pki: Path, consumer: PixConsumer, address: str) -> list[str]:
    """Feed one patient from two domains (same INS) to a hub notifying `address`; the
    notifications the consumer acknowledged."""
    config = f'[identity]\naccepted_domains = ["2.999.1.10.1", "2.999.1.11.1"]\npix_consumers = ["{address}"]\n'
    hub = launch_hub(tmp_path / "hub", pki, config)
    try:
        assert b"MSA|AA" in hub.mllp(feed("100871", "CHVF-IPP&2.999.1.10.1&ISO", INS))
        assert b"MSA|AA" in hub.mllp(feed("CLA-55120", "CLA-IPP&2.999.1.11.1&ISO", INS))
        return consumer.wait(2)
    finally:
        hub.stop()


def test_a_new_cross_reference_is_notified_with_every_identifier(tmp_path: Path, pki: Path, consumer: PixConsumer) -> None:
    received = _cross_reference_notified(tmp_path, pki, consumer, f"127.0.0.1:{consumer.port}")
    assert len(received) == 2
    segments = [s.split("|") for s in received[-1].split("\r") if s]
    assert segments[0][8] == "ADT^A31^ADT_A05"
    pid = next(s for s in segments if s[0] == "PID")
    assert set(pid[3].split("~")) == {
        "100871^^^CHVF-IPP&2.999.1.10.1&ISO^PI",
        "179114410905287^^^ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO^INS",
        "CLA-55120^^^CLA-IPP&2.999.1.11.1&ISO^PI",
    }


def test_a_refused_notification_is_kept_for_a_retry(tmp_path: Path, pki: Path, consumer: PixConsumer) -> None:
    import sqlite3

    config = f'[identity]\naccepted_domains = ["2.999.1.10.1"]\npix_consumers = ["127.0.0.1:{consumer.port}"]\n'
    hub = launch_hub(tmp_path / "hub", pki, config)
    consumer.answer = "AE"
    try:
        assert b"MSA|AA" in hub.mllp(feed("100871", "CHVF-IPP&2.999.1.10.1&ISO", INS))
        deadline = time.monotonic() + 15
        row = None
        while time.monotonic() < deadline:
            with sqlite3.connect(hub.db_url.removeprefix("sqlite:///")) as connection:
                row = connection.execute("SELECT sent_at, attempts, last_error FROM identity_notification").fetchone()
            if row and row[1] >= 1 and row[2]:
                break
            time.sleep(0.1)
    finally:
        hub.stop()
    assert row is not None
    sent_at, attempts, error = row
    assert sent_at is None and attempts == 1 and "AE" in error
    assert consumer.received == []


def test_a_consumer_named_mllps_is_notified_over_tls(tmp_path: Path, pki: Path) -> None:
    """`mllps://host:port`: MLLP over TLS, the consumer's certificate checked against the
    hub's CA and the hub's client certificate presented."""
    import ssl

    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH, cafile=str(pki / "ca.pem"))
    context.load_cert_chain(str(pki / "server.pem"), str(pki / "server.key"))
    context.verify_mode = ssl.CERT_REQUIRED
    secure = PixConsumer(tls=context)
    try:
        received = _cross_reference_notified(tmp_path, pki, secure, f"mllps://127.0.0.1:{secure.port}")
    finally:
        secure.close()
    assert len(received) == 2
    assert set(secure.tls_versions) <= {"TLSv1.2", "TLSv1.3"} and secure.tls_versions
