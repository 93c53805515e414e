"""Finding 2 of issue 18: MLLP senders are authorised.

A listener is open only where the operator says so (`mllp_open = true`) or on a
development hub bound to loopback with no `[[server.mllp_senders]]`; anywhere else a frame
is accepted only from a listed sender, known by its TLS client certificate, for the MSH-9
types of its entry. Anything else is answered AR with an ERR (HL7 v2.5 2.9.2: the
receiving application rejects the message), nothing is stored, and the refusal is audited.
"""
from __future__ import annotations

import socket
import sqlite3
import ssl
from collections.abc import Callable
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import load_pem_private_key
from cryptography.x509.oid import ExtendedKeyUsageOID

from actors.identity.er7 import unescape
from conformance.hubprocess import HubProcess, mllp_exchange
from hub import pki as hub_pki
from hub.config import ConfigError, ServerConfig
from hub.mllp_access import Frame, Policy, fingerprint

DOMAIN = "1.2.250.1.999.61.1"


def _certificate(pki: Path, name: str = "client.pem") -> x509.Certificate:
    return x509.load_pem_x509_certificate((pki / name).read_bytes())


def _server(**values: object) -> ServerConfig:
    server = ServerConfig()
    for key, value in values.items():
        setattr(server, key, value)
    return server


def _frame(certificate: x509.Certificate | None, message_type: str = "ADT^A31", application: str = "GAM", facility: str = "CHVF") -> Frame:
    return Frame(certificate, application, facility, message_type)


# -- the decision, unit by unit ----------------------------------------------------------------

def test_a_loopback_hub_with_no_sender_listed_is_open() -> None:
    for host in ("127.0.0.1", "127.0.0.2", "::1", "localhost"):
        decision = Policy.from_config(_server(), host).decide(_frame(None))
        assert decision.allowed, host


def test_any_other_address_refuses_an_unlisted_sender() -> None:
    for host in ("0.0.0.0", "::", "192.0.2.10", "hub.example.org"):
        decision = Policy.from_config(_server(), host).decide(_frame(None))
        assert not decision.allowed, host
        assert decision.reason == "sender not authorised for ADT^A31"


def test_mllp_open_lets_any_sender_send_anything() -> None:
    assert Policy.from_config(_server(mllp_open=True), "0.0.0.0").decide(_frame(None, "QBP^Q22")).allowed


def test_an_open_listener_still_names_a_listed_sender() -> None:
    server = _server(mllp_open=True, mllp_senders=[{"name": "gam", "application": "GAM", "facility": "CHVF", "messages": ["ADT"]}])
    policy = Policy.from_config(server, "0.0.0.0")
    assert policy.decide(_frame(None, "QBP^Q22")).sender == "gam"
    assert policy.decide(_frame(None, "QBP^Q22", application="OTHER")).sender is None


def test_listing_a_sender_closes_a_loopback_listener(pki: Path) -> None:
    client = _certificate(pki)
    server = _server(mllp_tls=True, require_client_cert=True, mllp_senders=[
        {"name": "gam", "certificate": fingerprint(client), "messages": ["ADT^A28"]},
    ])
    policy = Policy.from_config(server, "127.0.0.1")
    assert not policy.open
    assert not policy.decide(_frame(None, "ADT^A28")).allowed  # plain TCP: no certificate
    assert not policy.decide(_frame(_certificate(pki, "server.pem"), "ADT^A28")).allowed
    assert policy.decide(_frame(client, "ADT^A28")).allowed


def test_a_sender_is_known_by_fingerprint_or_subject(pki: Path) -> None:
    client = _certificate(pki)
    lower_case_without_colons = "sha256:" + fingerprint(client).removeprefix("sha256:").replace(":", "").lower()
    for certificate in (fingerprint(client), lower_case_without_colons, client.subject.rfc4514_string()):
        server = _server(mllp_tls=True, require_client_cert=True, mllp_senders=[
            {"name": "gam", "certificate": certificate, "messages": ["ADT^A28"]},
        ])
        decision = Policy.from_config(server, "0.0.0.0").decide(_frame(client, "ADT^A28"))
        assert (decision.allowed, decision.sender) == (True, "gam"), certificate


def test_msh3_and_msh4_must_match_when_the_entry_names_them(pki: Path) -> None:
    client = _certificate(pki)
    server = _server(mllp_tls=True, require_client_cert=True, mllp_senders=[
        {"name": "gam", "certificate": fingerprint(client), "application": "GAM", "facility": "CHVF", "messages": ["ADT^A28"]},
    ])
    policy = Policy.from_config(server, "0.0.0.0")
    assert policy.decide(_frame(client, "ADT^A28")).allowed
    assert policy.decide(Frame(client, "GAM^1.2.3^ISO", "CHVF", "ADT^A28")).allowed  # HD namespace
    assert not policy.decide(_frame(client, "ADT^A28", application="LAB")).allowed
    assert not policy.decide(_frame(client, "ADT^A28", facility="ELSEWHERE")).allowed


def test_a_listed_sender_may_send_only_its_message_types(pki: Path) -> None:
    client = _certificate(pki)
    server = _server(mllp_tls=True, require_client_cert=True, mllp_senders=[
        {"name": "gam", "certificate": fingerprint(client), "messages": ["ADT^A28", "QCN"]},
    ])
    policy = Policy.from_config(server, "0.0.0.0")
    assert policy.decide(_frame(client, "QCN^J01")).allowed  # a bare code allows its events
    refused = policy.decide(_frame(client, "ADT^A31"))
    assert (refused.allowed, refused.sender, refused.reason) == (False, "gam", "sender not authorised for ADT^A31")


@pytest.mark.parametrize(
    ("entry", "complaint"),
    [
        ({"certificate": "sha256:AB", "messages": ["ADT^A28"]}, "name is required"),
        ({"name": "gam", "certificate": "sha256:AB:CD", "messages": ["ADT^A28"]}, "32 hexadecimal byte pairs"),
        ({"name": "gam", "certificate": "CN", "messages": ["ADT^A28"]}, "RFC 4514"),
        ({"name": "gam", "certificate": "CN=gam", "messages": []}, "messages must be a non-empty list"),
        ({"name": "gam", "certificate": "CN=gam", "messages": ["ADT^A28"], "msh3": "GAM"}, "unknown key(s): msh3"),
        ({"name": "gam", "application": "GAM", "messages": ["ADT^A28"]}, "certificate is required"),
    ],
)
def test_a_bad_sender_entry_is_a_configuration_error(entry: dict[str, object], complaint: str) -> None:
    server = _server(mllp_tls=True, require_client_cert=True, mllp_senders=[entry])
    with pytest.raises(ConfigError, match="mllp_senders") as raised:
        Policy.from_config(server, "0.0.0.0")
    assert complaint in str(raised.value)


def test_a_certificate_entry_needs_mllp_over_mutual_tls() -> None:
    server = _server(mllp_senders=[{"name": "gam", "certificate": "CN=gam", "messages": ["ADT^A28"]}])
    with pytest.raises(ConfigError, match="mllp_tls = true and require_client_cert = true"):
        Policy.from_config(server, "127.0.0.1")


def test_a_sender_name_is_used_once() -> None:
    entry = {"name": "gam", "certificate": "CN=gam", "messages": ["ADT^A28"]}
    server = _server(mllp_tls=True, require_client_cert=True, mllp_senders=[entry, dict(entry)])
    with pytest.raises(ConfigError, match="used twice"):
        Policy.from_config(server, "127.0.0.1")


# -- a running hub -----------------------------------------------------------------------------

def _feed(control_id: str, family: str, trigger: str = "A28") -> str:
    structure = "ADT_A05"
    return (
        f"MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20260101120000||ADT^{trigger}^{structure}|{control_id}|P|2.5\r"
        f"EVN|{trigger}|20260101120000\r"
        f"PID|1||SND-1^^^&{DOMAIN}&ISO^PI||{family}^LUC^^^^^L||19700101|M\r"
        "PV1|1|N\r"
    )


def _query(control_id: str) -> str:
    return (
        f"MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20260101120000||QBP^Q22^QBP_Q21|{control_id}|P|2.5\r"
        f"QPD|IHE PDQ Query|{control_id}|@PID.3.1^SND-1~@PID.3.4.2^{DOMAIN}~@PID.3.4.3^ISO\r"
        "RCP|I|10^RD\r"
    )


def _segments(response: bytes, name: str) -> list[list[str]]:
    return [s.split("|") for s in response.decode().split("\r") if s.startswith(name + "|")]


def _connect(hub: HubProcess, certificate: tuple[Path, Path] | None) -> socket.socket:
    """MLLP over TLS trusting the development CA, presenting `certificate` (pem, key)."""
    context = ssl.create_default_context(cafile=str(hub.pki / "ca.pem"))
    if certificate is not None:
        context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    return context.wrap_socket(socket.create_connection(("127.0.0.1", hub.mllp_port), timeout=10), server_hostname="127.0.0.1")


def _exchange(hub: HubProcess, certificate: tuple[Path, Path], message: str) -> bytes:
    with _connect(hub, certificate) as connection:
        return mllp_exchange(connection, message)


@pytest.fixture
def stranger(pki: Path, tmp_path: Path) -> tuple[Path, Path]:
    """A client certificate of the same CA (so TLS accepts it) that no entry lists."""
    ca_key = load_pem_private_key((pki / "ca.key").read_bytes(), None)
    assert isinstance(ca_key, rsa.RSAPrivateKey)
    ca = hub_pki.Issued(_certificate(pki, "ca.pem"), ca_key)
    issued = hub_pki.issue(ca, "unlisted client", ExtendedKeyUsageOID.CLIENT_AUTH)
    pem, key = tmp_path / "stranger.pem", tmp_path / "stranger.key"
    pem.write_bytes(hub_pki.certificate_pem(issued.certificate))
    key.write_bytes(hub_pki.key_pem(issued.key))
    return pem, key


@pytest.fixture
def closed_hub(start_hub: Callable[..., HubProcess], pki: Path) -> HubProcess:
    """Bound to 127.0.0.1, but with a sender listed: not open. `gam` (the test PKI's
    client.pem) may register patients and query them, not update them."""
    return start_hub(
        "[server]\nmllp_tls = true\nrequire_client_cert = true\n"
        "[[server.mllp_senders]]\n"
        f'name = "gam"\ncertificate = "{fingerprint(_certificate(pki))}"\napplication = "GAM"\n'
        'messages = ["ADT^A28", "QBP^Q22"]\n'
        '[identity]\naccepted_domains = ["*"]\n'
    )


def _family_of_the_patient(hub: HubProcess, gam: tuple[Path, Path], control_id: str) -> str:
    response = _exchange(hub, gam, _query(control_id))
    assert _segments(response, "MSA")[0][1] == "AA"
    (pid,) = _segments(response, "PID")
    return pid[5].split("^")[0]


def _refusals(hub: HubProcess) -> list[tuple[str, str, str]]:
    with sqlite3.connect(hub.db_url.removeprefix("sqlite:///")) as connection:
        return connection.execute("SELECT outcome, who, detail FROM audit_record WHERE outcome = 'refused'").fetchall()


def test_an_unlisted_sender_cannot_update_or_query_a_patient(closed_hub: HubProcess, pki: Path, stranger: tuple[Path, Path]) -> None:
    gam = (pki / "client.pem", pki / "client.key")
    assert _segments(_exchange(closed_hub, gam, _feed("SND-1", "DUPONT")), "MSA")[0][1] == "AA"

    renamed = _exchange(closed_hub, stranger, _feed("SND-2", "MALLORY", "A31"))
    msa, err = _segments(renamed, "MSA")[0], _segments(renamed, "ERR")[0]
    assert msa[1:3] == ["AR", "SND-2"]
    assert err[3].split("^")[0] == "207" and err[4] == "E"
    assert unescape(err[8]) == "sender not authorised for ADT^A31"

    queried = _exchange(closed_hub, stranger, _query("SND-3"))
    assert _segments(queried, "MSA")[0][1] == "AR"
    assert unescape(_segments(queried, "ERR")[0][8]) == "sender not authorised for QBP^Q22"
    assert not _segments(queried, "PID")  # no patient data to a stranger

    assert _family_of_the_patient(closed_hub, gam, "SND-4") == "DUPONT"
    refusals = _refusals(closed_hub)
    assert len(refusals) == 2 and all(detail == "207" for _, _, detail in refusals)


def test_a_listed_sender_gets_ar_for_a_message_type_outside_its_list(closed_hub: HubProcess, pki: Path) -> None:
    gam = (pki / "client.pem", pki / "client.key")
    assert _segments(_exchange(closed_hub, gam, _feed("SND-5", "DUPONT")), "MSA")[0][1] == "AA"
    response = _exchange(closed_hub, gam, _feed("SND-6", "MALLORY", "A31"))
    assert _segments(response, "MSA")[0][1] == "AR"
    err = _segments(response, "ERR")[0]
    assert (err[2], err[3].split("^")[0], unescape(err[8])) == ("MSH^1^9", "200", "sender not authorised for ADT^A31")
    assert _family_of_the_patient(closed_hub, gam, "SND-7") == "DUPONT"
    assert _refusals(closed_hub) == [("refused", "gam", "MSH^1^9:200")]


def test_a_listed_sender_with_the_wrong_msh3_is_refused(closed_hub: HubProcess, pki: Path) -> None:
    gam = (pki / "client.pem", pki / "client.key")
    response = _exchange(closed_hub, gam, _feed("SND-8", "DUPONT").replace("|GAM|CHVF|", "|LAB|CHVF|", 1))
    assert _segments(response, "MSA")[0][1] == "AR"


def test_a_loopback_hub_with_no_sender_listed_stays_open(start_hub: Callable[..., HubProcess]) -> None:
    hub = start_hub('[identity]\naccepted_domains = ["*"]\n')  # `make serve`: plain MLLP on 127.0.0.1
    with socket.create_connection(("127.0.0.1", hub.mllp_port), timeout=10) as plain:
        assert _segments(mllp_exchange(plain, _feed("SND-9", "DUPONT")), "MSA")[0][1] == "AA"
        assert _segments(mllp_exchange(plain, _feed("SND-10", "MARTIN", "A31")), "MSA")[0][1] == "AA"


def test_a_hub_bound_to_every_address_refuses_plain_mllp(start_hub: Callable[..., HubProcess]) -> None:
    hub = start_hub('[identity]\naccepted_domains = ["*"]\n', "--host", "0.0.0.0")
    with socket.create_connection(("127.0.0.1", hub.mllp_port), timeout=10) as plain:
        feed = mllp_exchange(plain, _feed("SND-11", "DUPONT"))
        query = mllp_exchange(plain, _query("SND-12"))
    assert _segments(feed, "MSA")[0][1] == "AR"
    assert _segments(query, "MSA")[0][1] == "AR"
    with sqlite3.connect(hub.db_url.removeprefix("sqlite:///")) as connection:
        assert connection.execute("SELECT count(*) FROM identity_identifier").fetchone() == (0,)


def test_a_bad_sender_table_stops_the_hub_at_start_up(start_hub: Callable[..., HubProcess]) -> None:
    with pytest.raises(RuntimeError, match=r"configuration: \[\[server.mllp_senders\]\] 'gam': certificate is required"):
        start_hub('[server]\nhost = "0.0.0.0"\n[[server.mllp_senders]]\nname = "gam"\napplication = "GAM"\nmessages = ["ADT^A28"]\n')
