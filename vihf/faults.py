"""SOAP 1.2 faults for refused assertions (WS-Security 1.0 §12 fault codes).

Mapping chosen by the hub (no French text fixes it, spec §6):

| problem | subcode |
|---|---|
| no `wsse:Security` header, or no assertion in it | `wsse:SecurityTokenUnavailable` |
| unsigned; signature or digest does not verify; certificate not trusted, expired or not allowed to sign; `Issuer` is not the certificate subject; outside its validity window; replayed; patient differs from the request | `wsse:FailedAuthentication` |
| malformed token: several assertions, signature misplaced or referencing another element, duplicate IDs, algorithm not allowed, mandatory attribute missing, bad code or code system, unknown VIHF version | `wsse:InvalidSecurityToken` |

Reasons say what is wrong and never echo the token or its values.
"""
from __future__ import annotations

from hub.wire.soap import WSSE, SoapFault

INVALID_SECURITY_TOKEN = "InvalidSecurityToken"
FAILED_AUTHENTICATION = "FailedAuthentication"
SECURITY_TOKEN_UNAVAILABLE = "SecurityTokenUnavailable"


class VihfFault(SoapFault):
    """A refused assertion: SOAP 1.2 `Sender` fault with one `wsse:` subcode."""

    def __init__(self, subcode: str, reason: str) -> None:
        super().__init__("Sender", reason, ((WSSE, subcode),))

    @property
    def subcode(self) -> str:
        return self.subcodes[0][1]


def invalid_token(reason: str) -> VihfFault:
    return VihfFault(INVALID_SECURITY_TOKEN, reason)


def failed_authentication(reason: str) -> VihfFault:
    return VihfFault(FAILED_AUTHENTICATION, reason)


def token_unavailable(reason: str) -> VihfFault:
    return VihfFault(SECURITY_TOKEN_UNAVAILABLE, reason)
