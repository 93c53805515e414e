"""Issue 18, findings 1 and 3: the hardened XML entry (`hub.wire.xmlsafe`).

Finding 1: a DOCTYPE placed after 4 KB of padding, or in UTF-16, reached libxml2, which
(through `collect_ids=False`) opened the file it named, told the caller what the path
was in its error text, and froze a worker thread on a FIFO. Finding 3: an envelope of
15 M empty elements built a 2 GB tree. SOAP 1.2 Part 1 §5 forbids a DTD in a SOAP
message; the HTTP binding answers a malformed message with env:Sender and HTTP 400.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from lxml import etree

from conformance.hubprocess import ROOT, HubProcess
from hub.wire import soap, xmlsafe

SOAP12 = soap.SOAP12
WSA = soap.WSA
PADDING = 5000


def envelope(prolog: str = "", action: str = "urn:ihe:iti:2007:RegistryStoredQuery") -> str:
    """A SOAP 1.2 envelope with `prolog` (comments, DOCTYPE) between the XML declaration
    and the root element."""
    return (
        '<?xml version="1.0" encoding="UTF-8"?>' + prolog
        + f'<s:Envelope xmlns:s="{SOAP12}" xmlns:a="{WSA}"><s:Header><a:Action>{action}</a:Action></s:Header>'
        "<s:Body><x/></s:Body></s:Envelope>"
    )


def late_doctype(url: str) -> bytes:
    """A DOCTYPE after a comment of 5,000 bytes: past the 4 KB the old scan looked at."""
    return envelope("<!--" + "p" * PADDING + f'--><!DOCTYPE s:Envelope SYSTEM "{url}">').encode()


def utf16_doctype(url: str, codec: str = "utf-16") -> bytes:
    label = "UTF-32" if codec.startswith("utf-32") else "UTF-16"
    text = envelope(f'<!DOCTYPE s:Envelope SYSTEM "{url}">').replace('encoding="UTF-8"', f'encoding="{label}"')
    return text.encode(codec)


@pytest.fixture
def fifo(tmp_path: Path) -> Iterator[Path]:
    """A FIFO with no writer: opening it for reading blocks until someone writes."""
    path = tmp_path / "no-writer.fifo"
    os.mkfifo(path)
    yield path
    # Should a reader be blocked on it (the bug), give it end-of-file so it returns.
    try:
        os.close(os.open(path, os.O_WRONLY | os.O_NONBLOCK))
    except OSError:
        pass


# -- the pre-scan ---------------------------------------------------------------------

def test_late_doctype_after_padding_is_refused_before_parsing() -> None:
    with pytest.raises(xmlsafe.UnsafeXmlError) as refused:
        xmlsafe.parse(late_doctype("file:///etc/passwd"))
    assert str(refused.value) == "document type declarations are not allowed"


@pytest.mark.parametrize("codec", ["utf-16", "utf-16-le", "utf-16-be", "utf-32", "utf-32-le", "utf-32-be"])
def test_doctype_in_a_utf16_or_utf32_envelope_is_refused(codec: str) -> None:
    document = utf16_doctype("file:///etc/passwd", codec)
    assert b"<!DOCTYPE" not in document  # invisible to a byte scan
    with pytest.raises(xmlsafe.UnsafeXmlError) as refused:
        xmlsafe.parse(document)
    assert str(refused.value) == "document type declarations are not allowed"


def test_a_plain_utf16_envelope_is_still_accepted() -> None:
    text = envelope().replace('encoding="UTF-8"', 'encoding="UTF-16"').replace("<x/>", "<x>é</x>")
    root = xmlsafe.parse(text.encode("utf-16"))
    assert root.findtext(f"{{{SOAP12}}}Body/x") == "é"


@pytest.mark.parametrize(
    "document",
    [
        # UTF-7: libxml2 reads "+ADw-" as "<", so markup hides from any byte scan.
        b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE s SYSTEM +ACI-file:///etc/passwd+ACI-+AD4-<s/>',
        '<?xml version="1.0" encoding="cp500"?><s/>'.encode("cp500"),  # EBCDIC
        b'<?xml version="1.0" encoding="ISO-2022-JP"?><s/>',
        b'<?xml version="1.0" encoding="UTF-16"?><s/>',  # ASCII bytes labelled UTF-16
        b'<?xml version="1.0" encoding="x-unknown"?><s/>',
    ],
    ids=["utf-7", "ebcdic", "iso-2022-jp", "ascii-labelled-utf-16", "unknown"],
)
def test_encodings_that_could_hide_markup_are_refused(document: bytes) -> None:
    with pytest.raises(xmlsafe.UnsafeXmlError) as refused:
        xmlsafe.parse(document)
    assert str(refused.value) == "document encoding not supported (use UTF-8, UTF-16 or UTF-32)"


def test_fifo_doctype_returns_promptly_and_never_blocks(fifo: Path) -> None:
    # In a subprocess: a parse that blocked on the FIFO would hang this test run forever.
    script = f"""
from hub.wire import xmlsafe
for document in ({late_doctype(fifo.as_uri())!r}, {utf16_doctype(str(fifo))!r}):
    try:
        xmlsafe.parse(document)
    except xmlsafe.UnsafeXmlError as exc:
        print(exc)
"""
    started = time.monotonic()
    try:
        result = subprocess.run([sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("parsing a DOCTYPE that names a FIFO blocked")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == ["document type declarations are not allowed"] * 2
    assert time.monotonic() - started < 20


# -- the parser itself, without the pre-scan -------------------------------------------

def _targets(tmp_path: Path, fifo: Path) -> dict[str, Path]:
    # A folder of their own: the probe script's folder is opened by Python itself.
    folder = tmp_path / "targets"
    folder.mkdir()
    dtd = folder / "target.dtd"
    dtd.write_text('<!ENTITY leak "secret">')
    entity = folder / "entity.txt"
    entity.write_text("secret")
    included = folder / "included.xml"
    included.write_text("<secret/>")
    return {"dtd": dtd, "entity": entity, "included": included, "directory": folder, "fifo": fifo}


def _bypassing_documents(targets: dict[str, Path]) -> list[bytes]:
    """Documents that make a badly configured libxml2 open a file, for the parser alone."""
    return [
        f'<!DOCTYPE s SYSTEM "{targets["dtd"].as_uri()}"><s/>'.encode(),
        f'<!DOCTYPE s SYSTEM "{targets["directory"]}"><s/>'.encode(),
        f'<!DOCTYPE s SYSTEM "{targets["fifo"].as_uri()}"><s/>'.encode(),
        b'<!DOCTYPE s SYSTEM "/proc/self/fd/0"><s/>',
        f'<!DOCTYPE s [<!ENTITY % p SYSTEM "{targets["dtd"]}"> %p;]><s>&leak;</s>'.encode(),
        f'<!DOCTYPE s [<!ENTITY e SYSTEM "{targets["entity"]}">]><s>&e;</s>'.encode(),
    ]


def test_the_hub_parser_given_a_doctype_directly_opens_nothing(
    tmp_path: Path, fifo: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The recording resolver: every external resolution libxml2 asks of the hub parser.
    asked: list[str | None] = []
    refuse = xmlsafe._RefuseExternal.resolve

    def record(self: xmlsafe._RefuseExternal, url: str | None, public_id: str | None, context: Any) -> Any:
        asked.append(url)
        return refuse(self, url, public_id, context)

    monkeypatch.setattr(xmlsafe._RefuseExternal, "resolve", record)
    targets = _targets(tmp_path, fifo)
    for document in _bypassing_documents(targets):
        parser = xmlsafe.new_parser()
        try:
            root = etree.fromstring(document, parser)
        except etree.XMLSyntaxError:
            continue  # refused by libxml2 itself (undeclared entity): nothing loaded
        assert "secret" not in etree.tostring(root, encoding="unicode")
    # libxml2 never even asks: with collect_ids=False it would load the external subset.
    assert asked == []
    # XInclude does ask: the resolver answers with a refusal, not a file.
    root = etree.fromstring(
        f'<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{targets["included"]}"/></r>'.encode(),
        xmlsafe.new_parser(),
    )
    with pytest.raises(etree.XIncludeError):
        root.getroottree().xinclude()
    assert asked == [str(targets["included"])]
    assert b"secret" not in etree.tostring(root)


def test_strace_sees_no_file_opened_by_the_parser_or_the_entry(tmp_path: Path, fifo: Path) -> None:
    strace = shutil.which("strace")
    if strace is None:
        pytest.skip("strace is not installed (apt-get install strace)")
    targets = _targets(tmp_path, fifo)
    documents = _bypassing_documents(targets) + [
        f'<r xmlns:xi="http://www.w3.org/2001/XInclude"><xi:include href="{targets["included"]}"/></r>'.encode()
    ]
    hostile = [late_doctype(targets["dtd"].as_uri()), late_doctype(fifo.as_uri()), utf16_doctype(str(targets["dtd"]))]
    script = tmp_path / "probe.py"
    script.write_text(textwrap.dedent(f"""
        from lxml import etree
        from hub.wire import xmlsafe
        for document in {documents!r}:
            try:
                etree.fromstring(document, xmlsafe.new_parser()).getroottree().xinclude()
            except (etree.XMLSyntaxError, etree.XIncludeError):
                pass
        for document in {hostile!r}:
            try:
                xmlsafe.parse(document)
            except xmlsafe.UnsafeXmlError:
                pass
        print("done")
    """))
    trace = tmp_path / "trace.txt"
    try:
        result = subprocess.run(
            [strace, "-f", "-qq", "-e", "trace=open,openat,openat2", "-o", str(trace), sys.executable, str(script)],
            cwd=ROOT, capture_output=True, text=True, timeout=60, stdin=subprocess.DEVNULL,
        )
    except subprocess.TimeoutExpired:
        pytest.fail("the probe blocked: something opened the FIFO")
    if "ptrace" in result.stderr and result.returncode != 0:
        pytest.skip(f"strace cannot trace here: {result.stderr.strip()}")
    assert result.returncode == 0 and result.stdout.strip() == "done", result.stderr
    opened = trace.read_text()
    assert "open" in opened  # the trace did record the interpreter's own opens
    for name, target in targets.items():
        assert f'"{target}"' not in opened and f'"{target}/' not in opened, f"the {name} target was opened"
    assert "/proc/self/fd/0" not in opened


# -- error texts ------------------------------------------------------------------------

def test_refusals_carry_no_path_and_no_parser_message(tmp_path: Path, fifo: Path) -> None:
    regular = tmp_path / "exists.dtd"
    regular.write_text("")
    names = [str(regular), str(tmp_path), str(tmp_path / "missing.dtd"), str(fifo), "/etc/passwd", "/proc/self/fd/0"]
    messages: set[str] = set()
    for name in names:
        for document in (late_doctype(Path(name).as_uri()), utf16_doctype(name)):
            with pytest.raises(xmlsafe.UnsafeXmlError) as refused:
                xmlsafe.parse(document)
            messages.add(str(refused.value))
    # One fixed phrase whatever the path: whether it exists or what it is cannot leak.
    assert messages == {"document type declarations are not allowed"}
    with pytest.raises(xmlsafe.UnsafeXmlError) as refused:
        xmlsafe.parse(b"<a><b></a>")
    assert str(refused.value) == "not well-formed XML (line 1, column 11)"


# -- the element budget -----------------------------------------------------------------

def test_element_budget_refuses_before_any_tree_is_built(monkeypatch: pytest.MonkeyPatch) -> None:
    built: list[int] = []
    real = etree.fromstring
    monkeypatch.setattr(etree, "fromstring", lambda *args, **kwargs: built.append(1) or real(*args, **kwargs))
    limits = xmlsafe.XmlLimits(max_elements=1000)
    for document in (
        b"<r>" + b"<a/>" * 1000 + b"</r>",  # elements
        b"<r " + b" ".join(b'a%d=""' % i for i in range(1000)) + b"/>",  # attributes
        ("<r>" + "<a/>" * 1000 + "</r>").encode("utf-16"),
    ):
        with pytest.raises(xmlsafe.UnsafeXmlError) as refused:
            xmlsafe.parse(document, limits)
        assert str(refused.value) == "document has more than 1000 tags and attributes"
    assert built == []
    assert len(xmlsafe.parse(b"<r>" + b"<a/>" * 998 + b"</r>", limits)) == 998


# -- against a running hub ----------------------------------------------------------------

def post(hub: HubProcess, data: bytes, content_type: str = "application/soap+xml; charset=UTF-8", timeout: float = 30) -> requests.Response:
    return hub.session().post(hub.https_url + "/xds/registry", data=data, headers={"Content-Type": content_type}, timeout=timeout)


def sender_fault(response: requests.Response) -> str:
    """The Reason text of the SOAP 1.2 env:Sender fault the response carries."""
    assert response.status_code == 400, response.text[:500]
    assert response.headers["Content-Type"].startswith("application/soap+xml")
    fault = xmlsafe.parse(response.content).find(f"{{{SOAP12}}}Body/{{{SOAP12}}}Fault")
    assert fault is not None
    assert fault.findtext(f"{{{SOAP12}}}Code/{{{SOAP12}}}Value") == "soap:Sender"
    return fault.findtext(f"{{{SOAP12}}}Reason/{{{SOAP12}}}Text") or ""


def test_hub_answers_hostile_envelopes_with_a_sender_fault(open_hub: HubProcess, fifo: Path, tmp_path: Path) -> None:
    cases: list[tuple[bytes, str, str]] = [
        (late_doctype("file:///etc/passwd"), "application/soap+xml; charset=UTF-8", "document type declarations are not allowed"),
        (late_doctype(tmp_path.as_uri()), "application/soap+xml; charset=UTF-8", "document type declarations are not allowed"),
        (late_doctype(fifo.as_uri()), "application/soap+xml; charset=UTF-8", "document type declarations are not allowed"),
        (utf16_doctype("file:///etc/passwd"), "application/soap+xml; charset=UTF-16", "document type declarations are not allowed"),
        (
            b'<?xml version="1.0" encoding="UTF-7"?>+ADw-!DOCTYPE s SYSTEM +ACI-file:///etc/passwd+ACI-+AD4-<s/>',
            "application/soap+xml; charset=UTF-7",
            "document encoding not supported (use UTF-8, UTF-16 or UTF-32)",
        ),
    ]
    for document, content_type, reason in cases:
        answer = sender_fault(post(open_hub, document, content_type))
        assert answer == reason
        assert not re.search(r"/etc|/tmp|passwd|subset|directory|errno|No such", answer)


def test_fifo_requests_do_not_freeze_the_registry(open_hub: HubProcess, fifo: Path) -> None:
    # The XDS endpoints run on `store_threads` (2) threads: two stuck requests held both.
    answers: list[str] = []

    def hostile() -> None:
        answers.append(sender_fault(post(open_hub, late_doctype(fifo.as_uri()), timeout=15)))

    threads = [threading.Thread(target=hostile) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert answers == ["document type declarations are not allowed"] * 2
    # A normal request is still served by the registry: a well-formed envelope whose
    # action this endpoint does not support gets its WS-Addressing fault at once.
    reason = sender_fault(post(open_hub, envelope(action="urn:example:unknown").encode(), timeout=10))
    assert "does not support the action" in reason


def _status(pid: int, field: str) -> int:
    """A memory figure of /proc/PID/status, in bytes."""
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    raise AssertionError(f"no {field} in /proc/{pid}/status")


def test_60mb_envelope_of_15m_elements_stays_within_the_memory_budget(start_hub: Callable[..., HubProcess]) -> None:
    hub = start_hub("[security]\nrequire_vihf = false\n")
    # Resting: after one ordinary request, so that lazy imports are counted as rest.
    sender_fault(post(hub, envelope(action="urn:example:unknown").encode()))
    resting = _status(hub.process.pid, "VmRSS")
    head, tail = envelope().split("<x/>")
    document = head.encode() + b"<a/>" * 15_000_000 + tail.encode()
    assert 60_000_000 <= len(document) < 64 * 1024 * 1024
    response = post(hub, document, timeout=120)
    peak = _status(hub.process.pid, "VmHWM")
    budget = 2 * resting + 4 * len(document)
    print(json.dumps({"resting_mb": resting >> 20, "peak_mb": peak >> 20, "budget_mb": budget >> 20}))
    assert peak < budget, f"peak {peak >> 20} MB over {budget >> 20} MB (resting {resting >> 20} MB)"
    assert sender_fault(response) == "document has more than 500000 tags and attributes"
