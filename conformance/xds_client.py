"""A small XDS.b Document Source / Document Consumer (ITI-41, 42, 43, 18, 57).

`XdsClient` speaks SOAP 1.2 + WS-Addressing over HTTPS, with MTOM built by hand for
ITI-41 (zeep cannot send MTOM) and a VIHF assertion per request when an assertion source
is given. `zeep_client` returns a zeep client built from the WSDL the hub serves, for
the operations zeep handles by itself (ITI-18, ITI-43).
"""
from __future__ import annotations

import base64
import uuid
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field

import requests
import zeep
from lxml import etree
from zeep.transports import Transport
from zeep.wsa import WsAddressingPlugin

from actors.xds import constants as c
from conformance.xds_metadata import DocumentSpec, provide_and_register
from hub.wire import mtom, xmlsafe
from hub.wire.soap import SOAP12
from vihf import wsse

AssertionSource = Callable[[], etree._Element]
XOP = "http://www.w3.org/2004/08/xop/include"


@dataclass
class Answer:
    """A SOAP answer: HTTP status, the body's first element and MTOM parts by Content-ID."""

    status: int
    body: etree._Element
    parts: dict[str, bytes] = field(default_factory=dict)
    content_type: str = ""

    @property
    def registry_status(self) -> str:
        element = self.body if self.body.get("status") else self.body.find(f"{{{c.RS}}}RegistryResponse")
        return element.get("status", "") if element is not None else ""

    @property
    def errors(self) -> list[tuple[str, str]]:
        """(errorCode, location) of every rs:RegistryError."""
        return [(e.get("errorCode", ""), e.get("location", "")) for e in self.body.iter(f"{{{c.RS}}}RegistryError")]

    @property
    def fault_subcodes(self) -> list[str]:
        return [v.text or "" for v in self.body.iter(f"{{{SOAP12}}}Value")]


def _answer(response: requests.Response) -> Answer:
    media_type, params = mtom.parse_content_type(response.headers.get("Content-Type", ""))
    parts: dict[str, bytes] = {}
    if media_type == "multipart/related":
        multipart = mtom.split(response.content, params["boundary"], params.get("start"), 1000)
        root = xmlsafe.parse(multipart.root.data)
        parts = {k: bytes(v) for k, v in multipart.attachments.items()}
    else:
        root = xmlsafe.parse(response.content)
    body = root.find(f"{{{SOAP12}}}Body")
    assert body is not None and len(body), "SOAP response without body"
    return Answer(response.status_code, body[0], parts, response.headers.get("Content-Type", ""))


class XdsClient:
    """Document Source and Document Consumer talking to one registry/repository."""

    def __init__(
        self,
        session: requests.Session,
        base_url: str,
        assertion: AssertionSource | None = None,
        registry_path: str = "/xds/registry",
        repository_path: str = "/xds/repository",
    ) -> None:
        self.session = session
        self.base_url = base_url.rstrip("/")
        self.assertion = assertion
        self.registry_url = self.base_url + registry_path
        self.repository_url = self.base_url + repository_path

    def envelope(self, action: str, body: etree._Element, to: str) -> bytes:
        return wsse.envelope(action, body, self.assertion() if self.assertion else None, to=to)

    def post(self, url: str, action: str, body: etree._Element, parts: dict[str, bytes] | None = None) -> Answer:
        """POST one SOAP request, as MTOM when `parts` is given (even empty)."""
        xml = self.envelope(action, body, url)
        if parts is None:
            headers = {"Content-Type": f'application/soap+xml; charset=UTF-8; action="{action}"'}
            response = self.session.post(url, data=xml, headers=headers, timeout=120)
        else:
            content_type, chunks = mtom.build(xml, parts.items(), action)
            response = self.session.post(url, data=b"".join(bytes(x) for x in chunks), headers={"Content-Type": content_type}, timeout=120)
        return _answer(response)

    def post_raw(self, url: str, data: bytes, content_type: str) -> Answer:
        """POST bytes as they are (replayed captures)."""
        return _answer(self.session.post(url, data=data, headers={"Content-Type": content_type}, timeout=120))

    # -- Document Source ----------------------------------------------------------------

    def provide_and_register(self, request: etree._Element, documents: Sequence[DocumentSpec], mtom_: bool = True) -> Answer:
        """ITI-41."""
        body, parts = provide_and_register(request, list(documents), mtom_)
        return self.post(self.repository_url, c.ACTION_ITI41, body, parts if mtom_ else None)

    def register(self, request: etree._Element) -> Answer:
        """ITI-42."""
        return self.post(self.registry_url, c.ACTION_ITI42, request)

    def update(self, request: etree._Element) -> Answer:
        """ITI-57."""
        return self.post(self.registry_url, c.ACTION_ITI57, request)

    # -- Document Consumer --------------------------------------------------------------

    def stored_query(
        self, query_id: str, params: dict[str, str | Sequence[str]], return_type: str = "LeafClass", home: str | None = None
    ) -> Answer:
        """ITI-18: `params` maps a parameter name to its encoded value, or to several
        Values (a list), or to several Slots (a tuple of values) for AND parameters."""
        return self.post(self.registry_url, c.ACTION_ITI18, adhoc_query(query_id, params, return_type, home))

    def retrieve(self, documents: Iterable[tuple[str, str]], mtom_: bool = True) -> tuple[Answer, dict[str, bytes]]:
        """ITI-43: (repositoryUniqueId, documentUniqueId) pairs; returns the answer and the
        bytes by document uniqueId (from MTOM parts or inline base64)."""
        body = etree.Element(f"{{{c.XDSB}}}RetrieveDocumentSetRequest", nsmap={"xdsb": c.XDSB})
        for repository, document in documents:
            item = etree.SubElement(body, f"{{{c.XDSB}}}DocumentRequest")
            etree.SubElement(item, f"{{{c.XDSB}}}RepositoryUniqueId").text = repository
            etree.SubElement(item, f"{{{c.XDSB}}}DocumentUniqueId").text = document
        answer = self.post(self.repository_url, c.ACTION_ITI43, body, {} if mtom_ else None)
        contents: dict[str, bytes] = {}
        for item in answer.body.iterfind(f"{{{c.XDSB}}}DocumentResponse"):
            content = item.find(f"{{{c.XDSB}}}Document")
            assert content is not None
            include = content.find("{http://www.w3.org/2004/08/xop/include}Include")
            unique_id = item.findtext(f"{{{c.XDSB}}}DocumentUniqueId") or ""
            if include is not None:
                contents[unique_id] = answer.parts[mtom.normalise_cid(include.get("href", ""))]
            else:
                contents[unique_id] = base64.b64decode(content.text or "")
        return answer, contents


def adhoc_query(
    query_id: str, params: dict[str, str | Sequence[str]], return_type: str = "LeafClass", home: str | None = None
) -> etree._Element:
    """query:AdhocQueryRequest for a stored query."""
    request = etree.Element(f"{{{c.QUERY}}}AdhocQueryRequest", nsmap={"query": c.QUERY, "rim": c.RIM})
    etree.SubElement(request, f"{{{c.QUERY}}}ResponseOption", returnType=return_type, returnComposedObjects="true")
    query = etree.SubElement(request, f"{{{c.RIM}}}AdhocQuery", id=query_id)
    if home:
        query.set("home", home)
    for name, value in params.items():
        slots: Sequence[Sequence[str]]
        if isinstance(value, tuple):
            slots = [[v] if isinstance(v, str) else list(v) for v in value]
        elif isinstance(value, str):
            slots = [[value]]
        else:
            slots = [list(value)]
        for values in slots:
            slot = etree.SubElement(query, f"{{{c.RIM}}}Slot", name=name)
            value_list = etree.SubElement(slot, f"{{{c.RIM}}}ValueList")
            for item in values:
                etree.SubElement(value_list, f"{{{c.RIM}}}Value").text = item
    return request


def quoted(*values: str) -> str:
    """ITI TF-2a 3.18.4.1.2.3.3 encoding: 'a' or ('a','b')."""
    inner = ",".join("'" + v.replace("'", "''") + "'" for v in values)
    return inner if len(values) == 1 else f"({inner})"


def quoted_list(*values: str) -> str:
    """Always a parenthesised list, as multi-valued parameters are usually sent."""
    return "(" + ",".join("'" + v.replace("'", "''") + "'" for v in values) + ")"


class MtomTransport(Transport):
    """zeep transport sending xdsb:Document contents as MTOM parts: zeep serialises
    base64Binary inline, this moves each Document's bytes into a MIME part named by an
    xop:Include (the MTOM zeep cannot send by itself)."""

    def post_xml(self, address: str, envelope: etree._Element, headers: dict[str, str]) -> requests.Response:
        parts: dict[str, bytes] = {}
        for document in envelope.iter(f"{{{c.XDSB}}}Document"):
            if document.text and document.text.strip():
                content_id = f"{uuid.uuid4().hex}@tsnhub-source"
                parts[content_id] = base64.b64decode(document.text)
                document.text = None
                include = etree.SubElement(document, f"{{{XOP}}}Include", nsmap={"xop": XOP})
                include.set("href", f"cid:{content_id}")
        if not parts:
            response: requests.Response = super().post_xml(address, envelope, headers)
            return response
        _, params = mtom.parse_content_type(headers.get("Content-Type", ""))
        content_type, chunks = mtom.build(etree.tostring(envelope, encoding="UTF-8", xml_declaration=True), parts.items(), params.get("action"))
        headers = dict(headers, **{"Content-Type": content_type})
        answer: requests.Response = self.post(address, b"".join(bytes(x) for x in chunks), headers)
        return answer


def zeep_client(session: requests.Session, wsdl_url: str, assertion: AssertionSource | None = None) -> zeep.Client:
    """A zeep client on the WSDL the hub serves, adding WS-Addressing, the VIHF header
    and MTOM for ITI-41 documents."""
    return zeep.Client(
        wsdl_url,
        transport=MtomTransport(session=session),
        plugins=[WsAddressingPlugin()],
        wsse=wsse.VihfSecurity(assertion) if assertion else None,
    )


def zeep_provide_and_register(
    client: zeep.Client, request: etree._Element, documents: Sequence[DocumentSpec]
) -> object:
    """ITI-41 through zeep: the metadata (an lcm:SubmitObjectsRequest built by
    `conformance.xds_metadata`) as the any-content of rim:RegistryObjectList, the
    documents as bytes (sent as MTOM parts by `MtomTransport`)."""
    object_list = request.find(f"{{{c.RIM}}}RegistryObjectList")
    assert object_list is not None
    objects = list(object_list)
    operation = getattr(client.service, "DocumentRepository_ProvideAndRegisterDocumentSet-b")
    return operation(
        SubmitObjectsRequest={"RegistryObjectList": {"_value_1": objects}},
        Document=[{"_value_1": spec.content, "id": spec.entry_uuid or spec.symbolic_id} for spec in documents],
    )
