"""MTOM/XOP (`multipart/related`) framing for SOAP 1.2 messages.

Parts are sliced out of the received body as memoryviews: a binary attachment is never
copied or base64-decoded on its way to the handler. Only `Content-Transfer-Encoding`
`binary`/`8bit` (the MTOM norm) and `base64` are accepted.
"""
from __future__ import annotations

import base64
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from email.message import Message
from email.parser import HeaderParser
from urllib.parse import unquote

# Part headers longer than this are refused: the blank line that ends them is looked for in
# this many bytes only, so a part without one cannot make each part's search run to the end
# of the body.
MAX_PART_HEADER_BYTES = 16 * 1024


class MtomError(ValueError):
    """The multipart framing is broken."""


@dataclass
class Part:
    content_id: str
    content_type: str
    data: memoryview


@dataclass
class Multipart:
    root: Part
    attachments: dict[str, memoryview]


def parse_content_type(value: str) -> tuple[str, dict[str, str]]:
    """Split a Content-Type header into its media type and parameters (RFC 2045)."""
    message = Message()
    message["content-type"] = value
    params = {k.lower(): v for k, v in message.get_params(failobj=[], unquote=True)[1:]}
    return message.get_content_type(), params


def normalise_cid(value: str) -> str:
    """`<abc@x>` (Content-ID) and `cid:abc%40x` (xop:Include href) name the same part."""
    value = value.strip()
    if value.lower().startswith("cid:"):
        value = unquote(value[4:])
    return value.strip("<>")


def _headers_end(body: bytes, line_end: int) -> tuple[int, int]:
    """(end of the part headers, start of the content) after the boundary line ending at
    `line_end`: the first empty line, LF or CRLF, within MAX_PART_HEADER_BYTES."""
    limit = line_end + MAX_PART_HEADER_BYTES
    lf = body.find(b"\n\n", line_end, limit)
    # A CRLF blank line is only of interest before the LF one: bound that search by it.
    crlf = body.find(b"\n\r\n", line_end, limit if lf < 0 else lf + 1)
    if crlf >= 0:
        return crlf + 1, crlf + 3
    if lf >= 0:
        return lf + 1, lf + 2
    if len(body) < limit:
        raise MtomError("multipart part without header end")
    raise MtomError(f"multipart part headers longer than {MAX_PART_HEADER_BYTES} bytes")


def split(body: bytes, boundary: str, start: str | None, max_parts: int) -> Multipart:
    """Split a multipart/related body into its root part and attachments by Content-ID.

    One pass over the body: each delimiter is found once, as `LF--boundary` (RFC 2046
    says CRLF; LF-only framing is accepted, and a CR before the LF belongs to the
    delimiter), and part headers are bounded."""
    view = memoryview(body)
    delimiter = b"--" + boundary.encode("latin-1")
    next_delimiter = b"\n" + delimiter
    position = body.find(delimiter)
    if position < 0:
        raise MtomError("multipart boundary not found")
    parts: list[Part] = []
    header_parser = HeaderParser()
    while True:
        position += len(delimiter)
        if body[position : position + 2] == b"--":
            break
        line_end = body.find(b"\n", position, position + MAX_PART_HEADER_BYTES)
        if line_end < 0:
            raise MtomError("multipart boundary line not terminated")
        headers_end, content_start = _headers_end(body, line_end)
        headers = header_parser.parsestr(body[line_end + 1 : headers_end].decode("latin-1"))
        found = body.find(next_delimiter, content_start)
        if found < 0:
            raise MtomError("multipart part not terminated by its boundary")
        content_end = found - 1 if found > content_start and body[found - 1] == 0x0D else found
        data = view[content_start:content_end]
        encoding = (headers.get("content-transfer-encoding") or "binary").strip().lower()
        if encoding == "base64":
            data = memoryview(base64.b64decode(bytes(data)))
        elif encoding not in {"binary", "8bit", "7bit"}:
            raise MtomError(f"unsupported Content-Transfer-Encoding {encoding}")
        parts.append(
            Part(
                content_id=normalise_cid(headers.get("content-id") or ""),
                content_type=headers.get("content-type") or "",
                data=data,
            )
        )
        if len(parts) > max_parts:
            raise MtomError(f"more than {max_parts} MIME parts")
        position = found + 1
    if not parts:
        raise MtomError("multipart body without parts")
    root = parts[0]
    if start:
        wanted = normalise_cid(start)
        matches = [p for p in parts if p.content_id == wanted]
        if not matches:
            raise MtomError("start part not found")
        root = matches[0]
    attachments: dict[str, memoryview] = {}
    for part in parts:
        if part is root:
            continue
        if part.content_id in attachments:
            raise MtomError(f"duplicate Content-ID {part.content_id}")
        attachments[part.content_id] = part.data
    return Multipart(root=root, attachments=attachments)


def build(
    root_xml: bytes, attachments: Iterable[tuple[str, bytes | memoryview]], action: str | None
) -> tuple[str, list[bytes | memoryview]]:
    """Build an MTOM message; returns its Content-Type header and body chunks (not joined)."""
    boundary = f"MIMEBoundary_{uuid.uuid4().hex}"
    root_id = f"root.{uuid.uuid4().hex}@tsnhub"
    start_info = "application/soap+xml"
    root_type = f'application/xop+xml; charset=UTF-8; type="{start_info}"'
    if action:
        root_type += f'; action="{action}"'
    chunks: list[bytes | memoryview] = [
        f"--{boundary}\r\nContent-Type: {root_type}\r\nContent-Transfer-Encoding: binary\r\n"
        f"Content-ID: <{root_id}>\r\n\r\n".encode("ascii"),
        root_xml,
    ]
    for content_id, data in attachments:
        chunks.append(
            f"\r\n--{boundary}\r\nContent-Type: application/octet-stream\r\n"
            f"Content-Transfer-Encoding: binary\r\nContent-ID: <{content_id}>\r\n\r\n".encode("ascii")
        )
        chunks.append(data)
    chunks.append(f"\r\n--{boundary}--\r\n".encode("ascii"))
    content_type = (
        f'multipart/related; type="application/xop+xml"; boundary="{boundary}"; '
        f'start="<{root_id}>"; start-info="{start_info}"'
    )
    if action:
        content_type += f'; action="{action}"'
    return content_type, chunks
