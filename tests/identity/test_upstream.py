"""Links to regional identity servers: a second hub process plays the regional identity
server (its own domain, seeded through its own ITI-8 feed); the hub under test consults it
by ITI-21 over MLLP or ITI-47 over SOAP when its PDQ finds nobody or when QPD-8 asks for
the regional domain, cross-references what it returns, and forwards accepted feeds to it
as ITI-8."""
from __future__ import annotations

import socket
import sqlite3
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from actors.identity import upstream
from actors.identity.model import Cx, Hd
from actors.identity.pdq import parse_parameters
from actors.identity.er7 import Er7Message
from actors.identity.query import DemographicsQuery
from actors.pixpdqv3 import consumer
from actors.pixpdqv3 import pdq as pdqv3
from conformance.hubprocess import HubProcess, launch_hub
from hub.wire import hl7v2
from hub.config import ConfigError

REGION = "2.999.20.1"  # assigning authority of the regional identity server
REGION_HD = f"SRI&{REGION}&ISO"
CHVF = "2.999.1.10.1"  # a hospital's patient identifiers
CHVF_HD = f"CHVF-IPP&{CHVF}&ISO"
INS_TEST = "ASIP-SANTE-INS-NIR&1.2.250.1.213.1.4.10&ISO"
LEFEBVRE_INS = "265027512345682"
REGIONAL_CONFIG = '[security]\nrequire_vihf = false\n\n[identity]\naccepted_domains = ["*"]\n'


def feed(ids: str, name: str, birth: str, sex: str, trigger: str = "A01", reliability: str = "VALI") -> str:
    """An ITI-8 feed (PV1 `N`), PID-32 at its place."""
    structure = "ADT_A05" if trigger in ("A08", "A28", "A31") else "ADT_A01"
    return (
        f"MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20250101||ADT^{trigger}^{structure}|F-{uuid.uuid4().hex[:12]}|P|2.5\r"
        f"EVN||20250101\rPID|1||{ids}||{name}||{birth}|{sex}{'|' * 24}{reliability}\rPV1|1|N\r"
    )


def pdq(parameters: str, domains: str = "") -> str:
    tag = uuid.uuid4().hex[:10]
    return (
        f"MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20250402101000||QBP^Q22^QBP_Q21|Q-{tag}|P|2.5|||||FRA|UNICODE UTF-8\r"
        f"QPD|IHE PDQ Query|T-{tag}|{parameters}|||||{domains}\rRCP|I\r"
    )


def pix(identifier: str) -> str:
    tag = uuid.uuid4().hex[:10]
    return f"MSH|^~\\&|LGC|CAB|TSNHUB|PFT|20250402||QBP^Q23^QBP_Q21|P-{tag}|P|2.5\rQPD|IHE PIX Query|X-{tag}|{identifier}\rRCP|I\r"


def segments(response: bytes, name: str) -> list[list[str]]:
    return [s.split("|") for s in response.decode().split("\r") if s.startswith(name + "|")]


def answer(response: bytes) -> tuple[str, str, list[set[str]]]:
    """MSA-1, QAK-2 and the PID-3 identifiers of each PID."""
    pids = [set(p[3].split("~")) for p in segments(response, "PID")]
    return segments(response, "MSA")[0][1], segments(response, "QAK")[0][2], pids


def rows(hub: HubProcess, sql: str, *args: object) -> list[tuple[object, ...]]:
    with sqlite3.connect(hub.db_url.removeprefix("sqlite:///")) as connection:
        return connection.execute(sql, args).fetchall()


def mllp_supplier(hub: HubProcess, **extra: object) -> str:
    values = {"name": "sri", "protocol": "mllp", "address": f"127.0.0.1:{hub.mllp_port}", "domain": REGION, **extra}
    return "[[identity.upstream_pdq]]\n" + "".join(f"{k} = {_toml(v)}\n" for k, v in values.items())


def soap_supplier(hub: HubProcess, pki: Path) -> str:
    return (
        f'[[identity.upstream_pdq]]\nname = "sri-v3"\nprotocol = "soap"\naddress = "{hub.https_url}/pdq"\n'
        f'domain = "{REGION}"\ndevice_id = "1.2.250.1.999.20"\nca_file = "{pki / "ca.pem"}"\n'
    )


def _toml(value: object) -> str:
    return repr(value) if isinstance(value, float) else f'"{value}"'


LEFEBVRE = f"RGN-1001^^^{REGION_HD}^PI~{LEFEBVRE_INS}^^^{INS_TEST}^INS"


def seed(regional: HubProcess) -> None:
    """The regional server knows LEFEBVRE (qualified, with her INS) and MOREAU."""
    assert b"MSA|AA" in regional.mllp(feed(LEFEBVRE, "LEFEBVRE^CAMILLE^CAMILLE ANNE^^^^L", "19650212", "F"))
    assert b"MSA|AA" in regional.mllp(feed(f"RGN-2002^^^{REGION_HD}^PI", "MOREAU^LUC^^^^^L", "19790304", "M", reliability="PROV"))


@pytest.fixture(scope="module")
def regional(tmp_path_factory: pytest.TempPathFactory, pki: Path) -> Iterator[HubProcess]:
    hub = launch_hub(tmp_path_factory.mktemp("regional"), pki, REGIONAL_CONFIG)
    seed(hub)
    yield hub
    hub.stop()


LEFEBVRE_QUERY = pdq("@PID.5.1.1^LEFEBVRE~@PID.7.1^19650212")


# -- PDQ v2 upstream -------------------------------------------------------------------------------

def test_a_local_miss_is_answered_from_the_regional_server_and_kept_cross_referenced(
        start_hub: Callable[..., HubProcess]) -> None:
    regional = start_hub(REGIONAL_CONFIG)
    seed(regional)
    local = start_hub(f'[identity]\naccepted_domains = ["{CHVF}"]\n' + mllp_supplier(regional))
    code, status, pids = answer(local.mllp(LEFEBVRE_QUERY))
    assert (code, status) == ("AA", "OK")
    assert pids == [{f"RGN-1001^^^{REGION_HD}^PI", f"{LEFEBVRE_INS}^^^{INS_TEST}^INS"}]
    # Stored as a record of the regional domain, qualified (PID-32 VALI upstream).
    assert rows(local, "SELECT p.source, p.status FROM identity_patient p JOIN identity_identifier i ON i.patient_id = p.id "
                       "WHERE i.value = 'RGN-1001'") == [("upstream|sri", "QUAL")]
    regional.stop()
    code, status, pids = answer(local.mllp(LEFEBVRE_QUERY))
    assert (code, status) == ("AA", "OK")
    assert pids == [{f"RGN-1001^^^{REGION_HD}^PI", f"{LEFEBVRE_INS}^^^{INS_TEST}^INS"}]


def test_nobody_here_nor_upstream_is_not_found(start_hub: Callable[..., HubProcess], regional: HubProcess) -> None:
    local = start_hub(mllp_supplier(regional))
    assert answer(local.mllp(pdq("@PID.5.1.1^NOBODY~@PID.7.1^20000101"))) == ("AA", "NF", [])
    assert rows(local, "SELECT count(*) FROM identity_patient") == [(0,)]


def test_qpd8_naming_the_regional_domain_fetches_the_regional_identifier_of_a_local_patient(
        start_hub: Callable[..., HubProcess], regional: HubProcess) -> None:
    local = start_hub(f'[identity]\naccepted_domains = ["{CHVF}"]\n' + mllp_supplier(regional))
    local_ids = f"100871^^^{CHVF_HD}^PI~{LEFEBVRE_INS}^^^{INS_TEST}^INS"
    assert b"MSA|AA" in local.mllp(feed(local_ids, "LEFEBVRE^CAMILLE^CAMILLE ANNE^^^^L", "19650212", "F"))
    response = local.mllp(pdq("@PID.5.1.1^LEFEBVRE~@PID.7.1^19650212", f"^^^{CHVF_HD}~^^^{REGION_HD}"))
    assert answer(response) == ("AA", "OK", [{f"100871^^^{CHVF_HD}^PI", f"RGN-1001^^^{REGION_HD}^PI"}])
    # The INS designated the local patient: the regional identifier joined that record.
    assert b"RGN-1001" in local.mllp(pix(f"100871^^^{CHVF_HD}^PI"))


def test_a_person_without_identifier_in_the_regional_domain_is_not_kept(
        start_hub: Callable[..., HubProcess], regional: HubProcess) -> None:
    # The regional server also knows a hospital record fed to it: not one of its own.
    assert b"MSA|AA" in regional.mllp(feed(f"H-77^^^{CHVF_HD}^PI", "GARNIER^PAUL^^^^^L", "19510607", "M", reliability="PROV"))
    local = start_hub(f'[identity]\naccepted_domains = ["{CHVF}"]\n' + mllp_supplier(regional))
    assert answer(local.mllp(pdq("@PID.5.1.1^GARNIER~@PID.7.1^19510607"))) == ("AA", "NF", [])
    assert rows(local, "SELECT count(*) FROM identity_identifier") == [(0,)]


# -- PDQ v3 upstream -------------------------------------------------------------------------------

def test_a_local_miss_is_answered_by_a_pdq_v3_supplier_over_soap(
        start_hub: Callable[..., HubProcess], regional: HubProcess, pki: Path) -> None:
    local = start_hub(soap_supplier(regional, pki))
    code, status, pids = answer(local.mllp(LEFEBVRE_QUERY))
    # HL7 v3 carries no identity reliability code: the INS is not kept, the record stays
    # provisional (PID-32 PROV) and holds the regional identifier.
    assert (code, status, pids) == ("AA", "OK", [{f"RGN-1001^^^{REGION_HD}"}])
    assert segments(local.mllp(LEFEBVRE_QUERY), "PID")[0][32] == "PROV"
    assert rows(local, "SELECT source, status, family_name, given_name, birth_date, sex FROM identity_patient") == [
        ("upstream|sri-v3", "PROV", "LEFEBVRE", "CAMILLE", "19650212", "F")]


def vihf_keys(pki: Path) -> str:
    """The hub's VIHF assertion towards the supplier: the organisation certificate of the
    development PKI, a platform account as user."""
    return (
        f'vihf_key = "{pki / "vihf-signer.key"}"\nvihf_cert = "{pki / "vihf-signer.pem"}"\n'
        'vihf_subject_id = "PFT-IDENTITE"\nvihf_subject_name = "Plateforme, rapprochement d\'identités"\n'
        'vihf_roles = "AUTOMATE"\nvihf_structure_id = "49990001234701"\nvihf_sector = "SA07"\n'
    )


def test_a_supplier_requiring_vihf_is_queried_with_the_hubs_assertion(
        start_hub: Callable[..., HubProcess], pki: Path) -> None:
    secure = start_hub('[identity]\naccepted_domains = ["*"]\n')  # VIHF required (the default)
    seed(secure)
    without = start_hub(soap_supplier(secure, pki))
    # The supplier refuses a query without assertion (SOAP fault): the local answer stands.
    assert answer(without.mllp(LEFEBVRE_QUERY)) == ("AA", "NF", [])
    local = start_hub(soap_supplier(secure, pki) + vihf_keys(pki))
    assert answer(local.mllp(LEFEBVRE_QUERY)) == ("AA", "OK", [{f"RGN-1001^^^{REGION_HD}"}])


# -- unreachable upstream -------------------------------------------------------------------------

class Silent:
    """A server that accepts connections and never answers."""

    def __init__(self) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.accepted: list[socket.socket] = []
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            self.accepted.append(connection)

    def close(self) -> None:
        for connection in self.accepted:
            connection.close()
        self.server.close()


def _closed_port() -> int:
    with socket.create_server(("127.0.0.1", 0)) as probe:
        return int(probe.getsockname()[1])


def test_an_unreachable_upstream_leaves_the_local_answer_as_it_is(start_hub: Callable[..., HubProcess]) -> None:
    silent = Silent()
    try:
        config = (
            f'[identity]\naccepted_domains = ["{CHVF}"]\n'
            f'[[identity.upstream_pdq]]\nname = "silent"\nprotocol = "mllp"\naddress = "127.0.0.1:{silent.port}"\n'
            f'domain = "{REGION}"\ntimeout_seconds = 1.0\n'
            f'[[identity.upstream_pdq]]\nname = "down"\nprotocol = "soap"\naddress = "https://127.0.0.1:{_closed_port()}/pdq"\n'
            f'domain = "2.999.20.2"\ntimeout_seconds = 1.0\n'
        )
        local = start_hub(config)
        assert b"MSA|AA" in local.mllp(feed(f"100871^^^{CHVF_HD}^PI", "LEFEBVRE^CAMILLE^^^^^L", "19650212", "F", reliability="PROV"))
        # The client gives up after 10 s: a hub waiting on the silent server would fail here.
        assert answer(local.mllp(pdq("@PID.5.1.1^NOBODY"), timeout=10)) == ("AA", "NF", [])
        assert silent.accepted, "the silent upstream was asked"
        extended = pdq("@PID.5.1.1^LEFEBVRE", f"^^^{CHVF_HD}~^^^{REGION_HD}")
        assert answer(local.mllp(extended, timeout=10)) == ("AA", "OK", [{f"100871^^^{CHVF_HD}^PI"}])
        assert rows(local, "SELECT count(*) FROM identity_patient") == [(1,)]
    finally:
        silent.close()


# -- ITI-8 forwarded upstream -----------------------------------------------------------------------

def _wait_known(regional: HubProcess, identifier: str, timeout: float = 20.0) -> bytes:
    """ITI-9 on the regional server until it knows `identifier` (AA) or time runs out."""
    deadline = time.monotonic() + timeout
    response = regional.mllp(pix(identifier))
    while b"MSA|AA" not in response and time.monotonic() < deadline:
        time.sleep(0.2)
        response = regional.mllp(pix(identifier))
    return response


def test_accepted_feeds_are_forwarded_to_the_upstream_pix_manager(
        start_hub: Callable[..., HubProcess], regional: HubProcess) -> None:
    local = start_hub(f'[identity]\naccepted_domains = ["{CHVF}"]\nupstream_pix = ["127.0.0.1:{regional.mllp_port}"]\n')
    ids = f"FWD-1^^^{CHVF_HD}^PI~{'179034412378963'}^^^{INS_TEST}^INS"
    assert b"MSA|AA" in local.mllp(feed(ids, "FAURE^ODILE^^^^^L", "19790302", "F"))
    # ITI-30 A28 (create) goes up as ITI-8 A04.
    assert b"MSA|AA" in local.mllp(feed(f"FWD-2^^^{CHVF_HD}^PI", "ROUX^ALAIN^^^^^L", "19600101", "M", "A28", "PROV"))
    # A feed the hub refuses is not forwarded.
    assert b"MSA|AE" in local.mllp(feed("FWD-3^^^ELSEWHERE&2.999.404&ISO^PI", "ROUX^ALAIN^^^^^L", "19600101", "M"))
    first = _wait_known(regional, f"FWD-1^^^{CHVF_HD}^PI")
    assert b"MSA|AA" in first
    assert "179034412378963" in first.decode()  # the INS, qualified upstream as here (PID-32 VALI forwarded)
    assert b"MSA|AA" in _wait_known(regional, f"FWD-2^^^{CHVF_HD}^PI")
    query = "SELECT consumer, message, sent_at IS NOT NULL FROM identity_notification ORDER BY id"
    deadline = time.monotonic() + 15
    forwarded = rows(local, query)
    while not all(sent for _consumer, _message, sent in forwarded) and time.monotonic() < deadline:
        time.sleep(0.1)
        forwarded = rows(local, query)
    assert [(consumer, sent) for consumer, _message, sent in forwarded] == [(f"127.0.0.1:{regional.mllp_port}", 1)] * 2
    assert [str(message).split("\r")[0].split("|")[8] for _consumer, message, _sent in forwarded] == [
        "ADT^A01^ADT_A01", "ADT^A04^ADT_A01"]


def test_a_merge_is_forwarded_to_the_upstream_pix_manager(start_hub: Callable[..., HubProcess], regional: HubProcess) -> None:
    local = start_hub(f'[identity]\naccepted_domains = ["{CHVF}"]\nupstream_pix = ["127.0.0.1:{regional.mllp_port}"]\n')
    for ipp in ("MRG-1", "MRG-2"):
        assert b"MSA|AA" in local.mllp(feed(f"{ipp}^^^{CHVF_HD}^PI", "DURAND^MARC^^^^^L", "19700707", "M", reliability="PROV"))
        assert b"MSA|AA" in _wait_known(regional, f"{ipp}^^^{CHVF_HD}^PI")
    merge = (
        f"MSH|^~\\&|GAM|CHVF|TSNHUB|PFT|20250101||ADT^A40^ADT_A39|M-{uuid.uuid4().hex[:8]}|P|2.5\rEVN||20250101\r"
        f"PID|1||MRG-1^^^{CHVF_HD}^PI||DURAND^MARC^^^^^L||19700707|M\rMRG|MRG-2^^^{CHVF_HD}^PI\r"
    )
    assert b"MSA|AA" in local.mllp(merge)
    deadline = time.monotonic() + 20
    retired = regional.mllp(pix(f"MRG-2^^^{CHVF_HD}^PI"))
    while b"MSA|AA" in retired and time.monotonic() < deadline:
        time.sleep(0.2)
        retired = regional.mllp(pix(f"MRG-2^^^{CHVF_HD}^PI"))
    # Upstream too, the retired identifier no longer designates anybody (ITI-9 case 3).
    assert b"MSA|AE" in retired and b"204" in retired
    assert b"MSA|AA" in regional.mllp(pix(f"MRG-1^^^{CHVF_HD}^PI"))


def test_a_forwarded_feed_waits_in_the_outbox_while_the_upstream_is_down(start_hub: Callable[..., HubProcess]) -> None:
    port = _closed_port()
    local = start_hub(f'[identity]\naccepted_domains = ["{CHVF}"]\nupstream_pix = ["127.0.0.1:{port}"]\n')
    assert b"MSA|AA" in local.mllp(feed(f"FWD-9^^^{CHVF_HD}^PI", "ROUX^ALAIN^^^^^L", "19600101", "M"))
    deadline = time.monotonic() + 15
    found: list[tuple[object, ...]] = []
    while time.monotonic() < deadline:
        found = rows(local, "SELECT sent_at, attempts, last_error FROM identity_notification")
        if found and found[0][2]:  # the attempt is claimed first, its error written after
            break
        time.sleep(0.1)
    assert len(found) == 1
    sent_at, attempts, error = found[0]
    assert sent_at is None and attempts == 1 and error


# -- messages and configuration (no server) -------------------------------------------------------

def test_the_upstream_iti21_query_states_the_local_parameters() -> None:
    query = DemographicsQuery(family="D'ARC^X", given="JEANNE", birth_date="19650212", sex="F", city="Rouen",
                              identifiers=(Cx("42", Hd("CHVF-IPP", CHVF, "ISO"), "PI"),), domains=(Hd("", REGION, "ISO"),))
    supplier = upstream.suppliers_from_config([{"name": "r", "protocol": "mllp", "address": "h:1", "domain": REGION}])[0]
    message = Er7Message(upstream.iti21_query(query, supplier, hl7v2.Identity(), "TAG"))
    qpd = message.first("QPD")
    assert qpd is not None and qpd.value(2) == "TAG"
    assert parse_parameters(qpd) == DemographicsQuery(
        family="D'ARC^X", given="JEANNE", birth_date="19650212", sex="F", city="Rouen",
        identifiers=(Cx("42", Hd("CHVF-IPP", CHVF, "ISO"), "PI"),))
    assert message.first("RCP").value(2) == "50"  # type: ignore[union-attr]


def test_the_upstream_iti47_query_states_the_local_parameters() -> None:
    from datetime import datetime, timezone

    query = DemographicsQuery(family="LEFEBVRE", given="CAMILLE", birth_date="19650212", sex="F", postal_code="76000",
                              identifiers=(Cx("RGN-1001", Hd("", REGION, "ISO")),))
    supplier = upstream.suppliers_from_config([{"name": "r", "protocol": "soap", "address": "https://h/pdq", "domain": REGION}])[0]
    parsed = pdqv3.parse(consumer.iti47_query(query, supplier, "1.2.3", datetime.now(timezone.utc)))
    assert parsed.query == query
    assert parsed.initial_quantity == 50
    with pytest.raises(upstream.UpstreamError):
        consumer.iti47_query(DemographicsQuery(account_number="7"), supplier, "1.2.3", datetime.now(timezone.utc))


@pytest.mark.parametrize("entry, problem", [
    ({"name": "r", "protocol": "mllp", "address": "h:1"}, "missing domain"),
    ({"name": "r", "protocol": "x400", "address": "h:1", "domain": "1.2"}, "protocol"),
    ({"name": "r", "protocol": "mllp", "address": "h", "domain": "1.2"}, "host:port"),
    ({"name": "r", "protocol": "soap", "address": "h:1", "domain": "1.2"}, "URL"),
    ({"name": "r", "protocol": "mllp", "address": "h:1", "domain": "1.2", "timeout": 3}, "unknown key"),
    ({"name": "r", "protocol": "mllp", "address": "h:1", "domain": "1.2", "timeout_seconds": "3"}, "type float"),
    ({"name": "r", "protocol": "soap", "address": "https://h", "domain": "1.2", "vihf_key": "k.pem"}, "needs vihf_cert"),
])
def test_a_malformed_upstream_supplier_is_a_configuration_error(entry: dict[str, object], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        upstream.suppliers_from_config([entry])


def test_the_hub_does_not_start_with_a_malformed_upstream(tmp_path: Path, pki: Path) -> None:
    with pytest.raises(RuntimeError, match="upstream_pdq #1: protocol"):
        launch_hub(tmp_path, pki, '[[identity.upstream_pdq]]\nname = "r"\nprotocol = "x"\naddress = "h:1"\ndomain = "1.2"\n')


def test_two_suppliers_cannot_share_a_name() -> None:
    entry = {"name": "r", "protocol": "mllp", "address": "h:1", "domain": "1.2"}
    with pytest.raises(ConfigError, match="another supplier is named 'r'"):
        upstream.suppliers_from_config([entry, dict(entry, domain="1.3")])


# -- the other PDQ transports consult the regional server too --------------------------------------

def _transports_hub(start_hub: Callable[..., HubProcess]) -> tuple[HubProcess, HubProcess]:
    regional = start_hub(REGIONAL_CONFIG)
    seed(regional)
    local = start_hub(
        f'[security]\nrequire_vihf = false\n[identity]\naccepted_domains = ["{CHVF}"]\n' + mllp_supplier(regional)
    )
    return regional, local


def test_an_iti47_local_miss_is_answered_from_the_regional_server(start_hub: Callable[..., HubProcess]) -> None:
    import sys

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "pixpdqv3"))
    from pixpdqv3_support import pdq_query, send

    regional, local = _transports_hub(start_hub)
    reply = send(local.https_url, local.session(), "/pdq", "urn:hl7-org:v3:PRPA_IN201305UV02",
                 pdq_query(family="LEFEBVRE", birth="19650212"))
    extensions = {e.get("extension") for e in reply.message.iter("{urn:hl7-org:v3}id") if e.get("root") == REGION}
    assert "RGN-1001" in extensions
    assert rows(local, "SELECT p.source FROM identity_patient p JOIN identity_identifier i ON i.patient_id = p.id "
                       "WHERE i.value = 'RGN-1001'") == [("upstream|sri",)]


def test_an_iti78_local_miss_is_answered_from_the_regional_server(start_hub: Callable[..., HubProcess]) -> None:
    regional, local = _transports_hub(start_hub)
    response = local.session().get(f"{local.https_url}/fhir/Patient", params={"family": "LEFEBVRE", "birthdate": "1965-02-12"},
                                   timeout=30)
    assert response.status_code == 200
    bundle = response.json()
    values = {i["value"] for e in bundle.get("entry", []) for i in e["resource"].get("identifier", [])}
    assert "RGN-1001" in values
