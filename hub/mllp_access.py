"""Who may send what over MLLP: `[server] mllp_open` and `[[server.mllp_senders]]`.

A listener is open (any sender, any message) when the operator says so (`mllp_open =
true`) or when it is a development hub: bound to a loopback address with no sender
listed. Anywhere else a frame is accepted only from a listed sender, known by the TLS
client certificate it presented (SHA-256 fingerprint or subject), then by MSH-3/MSH-4
when its entry names them, and only for the MSH-9 types of its entry. MSH-3/MSH-4 alone
identify nobody (any client can write them), so a closed listener needs a certificate in
every entry, which needs MLLP over TLS with client certificates.

Pure: the hub reads the peer's certificate and the MSH, this module decides.
"""
from __future__ import annotations

import hashlib
import ipaddress
from dataclasses import dataclass
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from hub.config import ConfigError, ServerConfig

_KEYS = frozenset({"name", "certificate", "application", "facility", "messages"})
_FINGERPRINT_PREFIX = "sha256:"


def fingerprint(certificate: x509.Certificate) -> str:
    """`sha256:AB:CD:...`: the SHA-256 of the DER certificate, as the configuration writes it."""
    digest = hashlib.sha256(certificate.public_bytes(Encoding.DER)).hexdigest().upper()
    return _FINGERPRINT_PREFIX + ":".join(digest[i : i + 2] for i in range(0, len(digest), 2))


def is_loopback(host: str) -> bool:
    """127.0.0.0/8, ::1 or `localhost`: reachable from this machine only."""
    if host.strip().lower() == "localhost":
        return True
    try:
        return ipaddress.ip_address(host.strip().strip("[]")).is_loopback
    except ValueError:
        return False


@dataclass(frozen=True)
class Sender:
    """One `[[server.mllp_senders]]` entry. `fingerprint` is normalised (`sha256:` and
    upper-case hexadecimal pairs), `subject` parsed; at most one of them is set."""

    name: str
    messages: frozenset[str]
    fingerprint: str = ""
    subject: x509.Name | None = None
    application: str = ""
    facility: str = ""

    @property
    def names_certificate(self) -> bool:
        return bool(self.fingerprint) or self.subject is not None

    def presented_by(self, certificate: x509.Certificate | None) -> bool:
        if certificate is None:
            return False
        if self.fingerprint:
            return fingerprint(certificate) == self.fingerprint
        return self.subject is not None and certificate.subject == self.subject

    def writes(self, application: str, facility: str, component: str) -> bool:
        """MSH-3 and MSH-4 match the entry (where it names them): the whole HD field or
        its namespace (first component)."""
        return all(
            not wanted or wanted in (value, value.split(component)[0])
            for wanted, value in ((self.application, application), (self.facility, facility))
        )

    def may_send(self, message_type: str) -> bool:
        """`ADT^A31` is allowed by `ADT^A31` or by the bare code `ADT`."""
        return message_type in self.messages or message_type.split("^")[0] in self.messages


@dataclass(frozen=True)
class Frame:
    """What the decision reads of one frame: the peer's verified certificate (None over
    plain TCP or without a client certificate), MSH-3, MSH-4, MSH-9 (`ADT^A31`) and the
    message's component separator."""

    certificate: x509.Certificate | None
    application: str
    facility: str
    message_type: str
    component: str = "^"


@dataclass(frozen=True)
class Decision:
    """`allowed`; `sender` the name of the listed sender the frame came from (None when
    none matched); `reason` why a frame is refused, for the ERR segment."""

    allowed: bool
    sender: str | None = None
    reason: str = ""


@dataclass(frozen=True)
class Policy:
    senders: tuple[Sender, ...] = ()
    open: bool = True

    @classmethod
    def from_config(cls, server: ServerConfig, host: str) -> Policy:
        """The policy of a listener bound to `host`; ConfigError on a bad sender entry."""
        senders = parse_senders(server.mllp_senders, server.mllp_open, server.mllp_tls and server.require_client_cert)
        return cls(senders, server.mllp_open or (is_loopback(host) and not senders))

    def decide(self, frame: Frame) -> Decision:
        identified = [
            s for s in self.senders
            if (s.presented_by(frame.certificate) or (self.open and not s.names_certificate))
            and s.writes(frame.application, frame.facility, frame.component)
        ]
        if self.open:
            # Any frame passes; a matching entry still names the caller.
            return Decision(True, identified[0].name if identified else None)
        refusal = f"sender not authorised for {frame.message_type or 'this message'}"
        allowed = next((s for s in identified if s.may_send(frame.message_type)), None)
        if allowed is not None:
            return Decision(True, allowed.name)
        return Decision(False, identified[0].name if identified else None, refusal)


def parse_senders(entries: list[Any], open_listener: bool, client_certificates: bool) -> tuple[Sender, ...]:
    """Validate `[[server.mllp_senders]]`: each entry a table with a unique `name` and a
    non-empty `messages` list; `certificate` either `sha256:` and 32 hexadecimal byte
    pairs or an RFC 4514 subject, usable only with `mllp_tls` and `require_client_cert`,
    and required unless `mllp_open` (MSH-3/MSH-4 can be written by anyone)."""
    senders: list[Sender] = []
    for index, entry in enumerate(entries, start=1):
        where = f"[[server.mllp_senders]] entry {index}"
        if not isinstance(entry, dict):
            raise ConfigError(f"{where} must be a table")
        unknown = sorted(set(entry) - _KEYS)
        if unknown:
            raise ConfigError(f"{where}: unknown key(s): {', '.join(unknown)}")
        for key in ("name", "certificate", "application", "facility"):
            if not isinstance(entry.get(key, ""), str):
                raise ConfigError(f"{where}: {key} must be a string")
        name = entry.get("name", "").strip()
        if not name:
            raise ConfigError(f"{where}: name is required")
        where = f"[[server.mllp_senders]] {name!r}"
        if any(s.name == name for s in senders):
            raise ConfigError(f"{where}: the name is used twice")
        messages = entry.get("messages")
        if not isinstance(messages, list) or not messages or not all(isinstance(m, str) and m.strip() for m in messages):
            raise ConfigError(f'{where}: messages must be a non-empty list of MSH-9 types such as "ADT^A28" or "QCN"')
        sender = Sender(
            name=name,
            messages=frozenset(m.strip() for m in messages),
            application=entry.get("application", "").strip(),
            facility=entry.get("facility", "").strip(),
            **_certificate(entry.get("certificate", "").strip(), where),
        )
        if sender.names_certificate and not client_certificates:
            raise ConfigError(f"{where}: a certificate can only be checked with mllp_tls = true and require_client_cert = true")
        if not sender.names_certificate and not open_listener:
            raise ConfigError(
                f"{where}: certificate is required (MSH-3/MSH-4 alone can be written by anyone); "
                "set mllp_open = true to accept senders without one"
            )
        senders.append(sender)
    return tuple(senders)


def _certificate(value: str, where: str) -> dict[str, Any]:
    if not value:
        return {}
    if value.lower().startswith(_FINGERPRINT_PREFIX):
        pairs = value[len(_FINGERPRINT_PREFIX):].replace(":", "").upper()
        if len(pairs) != 64 or any(c not in "0123456789ABCDEF" for c in pairs):
            raise ConfigError(f"{where}: certificate {value!r} is not sha256: followed by 32 hexadecimal byte pairs")
        return {"fingerprint": _FINGERPRINT_PREFIX + ":".join(pairs[i : i + 2] for i in range(0, 64, 2))}
    try:
        subject = x509.Name.from_rfc4514_string(value)
    except ValueError:
        subject = None
    if subject is None or not subject.rdns:
        raise ConfigError(f"{where}: certificate {value!r} is neither a sha256: fingerprint nor an RFC 4514 subject (CN=...,O=...,C=FR)")
    return {"subject": subject}
