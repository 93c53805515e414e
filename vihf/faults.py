"""Refused assertions: `VihfRefusal`, with one WS-Security 1.0 §12 fault code.

vihf raises its own refusal; each transport maps it to its own vocabulary: the SOAP
endpoints to a SOAP 1.2 `Sender` fault with the code as `wsse:` subcode
(`hub.authentication.soap_fault`), FHIR to 401 with an OperationOutcome.

Mapping chosen by the hub (no French text fixes it, spec §6):

| problem | code |
|---|---|
| no `wsse:Security` header, or no assertion in it | `wsse:SecurityTokenUnavailable` |
| unsigned; signature or digest does not verify; certificate not trusted, expired or not allowed to sign; `Issuer` is not the certificate subject; outside its validity window; replayed; patient differs from the request | `wsse:FailedAuthentication` |
| malformed token: several assertions, signature misplaced or referencing another element, duplicate IDs, algorithm not allowed, mandatory attribute missing, bad code or code system, unknown VIHF version | `wsse:InvalidSecurityToken` |

Reasons say what is wrong and never echo the token or its values.
"""
from __future__ import annotations

INVALID_SECURITY_TOKEN = "InvalidSecurityToken"
FAILED_AUTHENTICATION = "FailedAuthentication"
SECURITY_TOKEN_UNAVAILABLE = "SecurityTokenUnavailable"


class VihfRefusal(Exception):
    """A refused assertion: the WS-Security fault code (`subcode`, one of the constants
    above) and a loggable reason."""

    def __init__(self, subcode: str, reason: str) -> None:
        super().__init__(reason)
        self.subcode = subcode
        self.reason = reason


def invalid_token(reason: str) -> VihfRefusal:
    return VihfRefusal(INVALID_SECURITY_TOKEN, reason)


def failed_authentication(reason: str) -> VihfRefusal:
    return VihfRefusal(FAILED_AUTHENTICATION, reason)


def token_unavailable(reason: str) -> VihfRefusal:
    return VihfRefusal(SECURITY_TOKEN_UNAVAILABLE, reason)
