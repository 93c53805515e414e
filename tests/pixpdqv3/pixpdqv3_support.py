"""A PIX/PDQ v3 consumer and source for the tests: HL7 v3 messages built by the project
(`conformance.hl7v3_samples`) or read from the corpus, sent in a SOAP 1.2 envelope over
HTTPS to a running hub.

The project's own tests send built messages only. The corpus (`interop.CORPUS`) holds the
third-party samples and the HL7 v3 NE2008 schemas: `load_message`, `corpus_message` and
`assert_valid` belong to the interoperability layer, used by tests marked `corpus`;
`cases` parametrises a test over built messages (always run) and corpus samples (marked)."""
from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

import pytest
import requests
from lxml import etree

import interop
from conformance.hl7v3_samples import Address, continuation, feed, pdq_query, pix_query
from vihf import wsse

__all__ = ["Address", "continuation", "feed", "pdq_query", "pix_query"]

HL7 = "urn:hl7-org:v3"
SOAP12 = "http://www.w3.org/2003/05/soap-envelope"
WSA = "http://www.w3.org/2005/08/addressing"
NS = {"hl7": HL7, "soap": SOAP12, "wsa": WSA}
ACTION = "urn:hl7-org:v3:"
TABLE_0357 = "2.16.840.1.113883.12.357"
CORPUS = interop.CORPUS
SCHEMA_DIR = CORPUS / "hl7v3" / "schemas" / "ipf-HL7V3" / "NE2008" / "multicacheschemas"

AssertionSource = Callable[[], etree._Element] | None
MessageSource = Callable[[], etree._Element]


def load_message(path: Path) -> etree._Element:
    """A corpus sample: the HL7 v3 message itself, or the body of the SOAP envelope it is in."""
    root = etree.parse(str(path), etree.XMLParser(remove_comments=True)).getroot()
    if etree.QName(root).localname == "Envelope":
        body = root.find(f"{{{SOAP12}}}Body")
        assert body is not None
        return next(child for child in body if isinstance(child.tag, str))
    return root


def corpus_message(name: str) -> MessageSource:
    """The corpus sample hl7v3/`name`, read when called (not at collection)."""
    return lambda: load_message(CORPUS / "hl7v3" / name)


def cases(project: Mapping[str, MessageSource], samples: Sequence[str] = (), *,
          interop_only: bool = False) -> list[object]:
    """Parameters of a test over messages: each built one (id `project-<name>`, marked
    `corpus` only when `interop_only`, for a check that needs the corpus, such as schema
    validity), then each corpus sample hl7v3/<name> (marked `corpus`)."""
    marks = [pytest.mark.corpus] if interop_only else []
    built = [pytest.param(make, id=f"project-{name}", marks=marks) for name, make in project.items()]
    return built + [pytest.param(corpus_message(name), id=name, marks=pytest.mark.corpus) for name in samples]


def interaction(message: etree._Element) -> str:
    return etree.QName(message).localname


class Reply:
    """The hub's answer: HTTP status, WS-Addressing Action, and the HL7 v3 message."""

    def __init__(self, response: requests.Response) -> None:
        self.status = response.status_code
        self.envelope = etree.fromstring(response.content)
        self.action = self.envelope.findtext("soap:Header/wsa:Action", namespaces=NS)
        body = self.envelope.find("soap:Body", NS)
        self.message = body[0] if body is not None and len(body) else None

    @property
    def ack_code(self) -> str:
        return self.message.find("hl7:acknowledgement/hl7:typeCode", NS).get("code")

    @property
    def details(self) -> list[tuple[str, str]]:
        """(code, location) of each acknowledgement detail."""
        found = []
        for detail in self.message.findall("hl7:acknowledgement/hl7:acknowledgementDetail", NS):
            code = detail.find("hl7:code", NS)
            assert code.get("codeSystem") == TABLE_0357
            found.append((code.get("code"), detail.findtext("hl7:location", default="", namespaces=NS)))
        return found

    @property
    def query_response_code(self) -> str:
        return self.message.find("hl7:controlActProcess/hl7:queryAck/hl7:queryResponseCode", NS).get("code")

    def quantity(self, name: str) -> int:
        return int(self.message.find(f"hl7:controlActProcess/hl7:queryAck/hl7:{name}", NS).get("value"))

    def patients(self) -> list[etree._Element]:
        return self.message.findall("hl7:controlActProcess/hl7:subject/hl7:registrationEvent/hl7:subject1/hl7:patient", NS)

    def identifiers(self, patient: etree._Element | None = None) -> set[tuple[str, str]]:
        """(root, extension) of Patient.id of one patient (the first by default)."""
        patient = patient if patient is not None else self.patients()[0]
        return {(i.get("root"), i.get("extension")) for i in patient.findall("hl7:id", NS) if i.get("root")}


def send(base_url: str, session: requests.Session, path: str, action: str, message: etree._Element,
         assertion: AssertionSource = None) -> Reply:
    """POST `message` in a SOAP 1.2 envelope (WS-Addressing, VIHF header when given)."""
    envelope = wsse.envelope(action, message, assertion() if assertion else None, to=f"{base_url}{path}")
    response = session.post(
        f"{base_url}{path}", data=envelope,
        headers={"Content-Type": f'application/soap+xml; charset=UTF-8; action="{action}"'}, timeout=30,
    )
    return Reply(response)


@lru_cache(maxsize=None)
def schema(name: str) -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(SCHEMA_DIR / f"{name}.xsd")))


def assert_valid(message: etree._Element) -> None:
    """The message is valid against the HL7 v3 NE2008 schema of its interaction (the
    schemas are in the corpus: for tests marked `corpus` only)."""
    checker = schema(interaction(message))
    document = etree.fromstring(etree.tostring(message))
    assert checker.validate(document), str(checker.error_log)
