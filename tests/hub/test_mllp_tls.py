"""MLLP over TLS (`[server] mllp_tls`, an IHE ATNA secure node's HL7 v2 link): the MLLP
port speaks TLS 1.2+ with the hub's certificate, and the client-certificate policy of
`require_client_cert` applies to it as to HTTPS."""
from __future__ import annotations

import socket
import ssl

import pytest

from conformance.hubprocess import HubProcess, mllp_exchange


def _feed(control_id: str) -> bytes:
    return (
        f"MSH|^~\\&|SENDER|FACILITY|TSNHUB|PFT|20260101120000||ADT^A04^ADT_A01|{control_id}|P|2.5\r"
        "EVN|A04|20260101120000\r"
        "PID|1||TLS-1^^^&1.2.250.1.999.61.1&ISO^PI||DUPONT^LUC^^^^^L||19700101|M\r"
        "PV1|1|O\r"
    ).encode()


def _msa(response: bytes) -> list[str]:
    return next(s.split("|") for s in response.decode().split("\r") if s.startswith("MSA|"))


def test_mllp_over_tls_answers_and_plain_tcp_gets_no_ack(start_hub) -> None:  # type: ignore[no-untyped-def]
    hub: HubProcess = start_hub('[server]\nmllp_tls = true\n[identity]\naccepted_domains = ["*"]\n')
    with hub.mllp_connect() as connection:
        assert isinstance(connection, ssl.SSLSocket)
        assert connection.version() in ("TLSv1.2", "TLSv1.3")
        assert _msa(mllp_exchange(connection, _feed("TLS-C1")))[1:3] == ["AA", "TLS-C1"]
    with socket.create_connection(("127.0.0.1", hub.mllp_port), timeout=5) as plain:
        plain.sendall(b"\x0b" + _feed("TLS-C2") + b"\x1c\x0d")
        received = b""
        try:
            while chunk := plain.recv(4096):
                received += chunk
        except (ConnectionError, TimeoutError):
            pass
    assert b"MSA" not in received


def test_mllp_over_tls_with_mutual_tls_refuses_a_client_without_certificate(start_hub) -> None:  # type: ignore[no-untyped-def]
    hub: HubProcess = start_hub('[server]\nmllp_tls = true\nrequire_client_cert = true\n[identity]\naccepted_domains = ["*"]\n')
    assert _msa(hub.mllp(_feed("TLS-C3")))[1:3] == ["AA", "TLS-C3"]  # with the client certificate
    context = ssl.create_default_context(cafile=str(hub.pki / "ca.pem"))
    with pytest.raises((ssl.SSLError, ConnectionError, TimeoutError)):
        with context.wrap_socket(socket.create_connection(("127.0.0.1", hub.mllp_port), timeout=5), server_hostname="127.0.0.1") as bare:
            # TLS 1.3 reports the missing certificate at the first read.
            mllp_exchange(bare, _feed("TLS-C4"))
