"""What the coordination tests against a running hub share: PAM-FR identity feeds of the
test patients, a hub with a coordinator structure, VIHF assertions per caller and the
zeep client of `/coordination` the hub describes."""
from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path

from lxml import etree
from zeep import Client, Settings
from zeep.transports import Transport
from zeep.wsa import WsAddressingPlugin

from conformance.hubprocess import HubProcess, launch_hub
from vihf import wsse
from vihf.issue import Signer, issue

# (subject id = IdNat_PS, structure id = IdNat_Struct, role codes)
Caller = tuple[str, str, list[str]]
MSH = ("MSH|^~\\&|GAM|CH|TSNHUB|PFT|20250318161000||ADT^{trigger}^ADT_A05|{id}|P|2.5^FRA^2.11|||||FRA|UNICODE UTF-8|FR"
       "||2.11^IHE_FRANCE-2.11-PAM\r")


def pam(affinity: str, ipp: str, name: str, control: str, trigger: str = "A28", zfa9: str = "", zfa11: str = "") -> str:
    """A PAM-FR identity feed (A28 creates, A31 updates) of patient `ipp` in the affinity
    domain, with ZFA-9 / ZFA-11 when given."""
    zfa = f"ZFA|||||||||{zfa9}||{zfa11}\r" if zfa9 or zfa11 else ""
    return MSH.format(trigger=trigger, id=control) + "EVN||20250318160000\r" + (
        f"PID|1||{ipp}^^^CH-IPP&{affinity}&ISO^PI||{name}^^^MME^^L||19600101|F{'|' * 24}PROV\rPV1|1|N\r"
    ) + zfa


def coordination_hub(base: Path, pki: Path, affinity: str, coordinators: str, patients: Mapping[str, str],
                     extra: str = "") -> HubProcess:
    """A hub whose affinity domain is a hospital's identifiers, with one coordinator
    structure, and `patients` (id -> FAMILY^GIVEN) fed over MLLP."""
    hub = launch_hub(
        base, pki,
        f'[identity]\naffinity_domain = "{affinity}"\naccepted_domains = ["{affinity}"]\n'
        f'[coordination]\ncoordinator_structures = ["{coordinators}"]\n{extra}',
    )
    for ipp, name in patients.items():
        assert b"MSA|AA" in hub.mllp(pam(affinity, ipp, name, f"FEED-{ipp}"))
    return hub


def assertions(signer: Signer, caller: Caller, purpose: str = "normal",
               patient: str | None = None) -> Callable[[], etree._Element]:
    """Fresh signed VIHF assertions of `caller` (a server refuses a replayed one)."""
    subject, structure, roles = caller

    def fresh() -> etree._Element:
        return issue(signer, subject_id=subject, subject_name="DOE, Jo", roles=roles, structure_id=structure,
                     sector="SA07", purpose=purpose, patient=patient)

    return fresh


def coordination_service(hub: HubProcess, signer: Signer, caller: Caller, purpose: str = "normal") -> object:
    """The zeep service of `/coordination`, built from the WSDL the hub serves, for a caller."""
    client = Client(f"{hub.https_url}/coordination?wsdl", transport=Transport(session=hub.session()),
                    wsse=wsse.VihfSecurity(assertions(signer, caller, purpose)), plugins=[WsAddressingPlugin()],
                    settings=Settings(strict=True))
    return client.service
