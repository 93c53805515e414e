"""XML-DSig verification of a VIHF assertion with xmlsec, and the signature-wrapping
defence (spec §5, §6 step 3).

The signature must be enveloped in the assertion it signs: one `ds:Signature`, the child
right after `Issuer`, one `Reference` whose URI is `#` + the assertion's own `@ID`, that ID
unique in the whole message, transforms limited to enveloped-signature + exclusive c14n,
RSA-SHA256 / SHA-256 (SHA-1 only when allowed). xmlsec resolves the reference through the
one ID registered, the assertion's own, so the element verified is the element the caller
holds. What the caller then reads is `Verified.assertion`: a fresh tree parsed from the
exclusive canonical form (without comments) of that element, which is exactly the content
the digest covered: a comment inserted into a value can neither shorten nor split it.
"""
from __future__ import annotations

import base64
import binascii
import hashlib
import threading
from dataclasses import dataclass

import xmlsec
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from lxml import etree

from hub.wire import xmlsafe
from vihf import faults, names

if etree.LIBXML_VERSION[:2] != xmlsec.get_libxml_version()[:2]:  # DEPENDENCIES.md pitfall
    raise ImportError(
        f"lxml and xmlsec link different libxml2 versions ({etree.LIBXML_VERSION} vs "
        f"{xmlsec.get_libxml_version()}): install matching wheels"
    )

_SIGNATURE = f"{{{names.DS}}}Signature"
_SIGNED_INFO = f"{{{names.DS}}}SignedInfo"
_C14N_METHOD = f"{{{names.DS}}}CanonicalizationMethod"
_SIGNATURE_METHOD = f"{{{names.DS}}}SignatureMethod"
_REFERENCE = f"{{{names.DS}}}Reference"
_TRANSFORMS = f"{{{names.DS}}}Transforms"
_TRANSFORM = f"{{{names.DS}}}Transform"
_DIGEST_METHOD = f"{{{names.DS}}}DigestMethod"
_X509_CERTIFICATE = f"{{{names.DS}}}X509Certificate"
_ISSUER = f"{{{names.SAML}}}Issuer"
_ASSERTION = f"{{{names.SAML}}}Assertion"

# Attribute names that declare IDs in the vocabularies a SOAP message may carry
# (SAML ID, wsu:Id, xml:id, ds Id, SAML 1 AssertionID).
_ID_ATTRIBUTES = frozenset({"ID", "Id", "id", "AssertionID", f"{{{names.WSU}}}Id", f"{{{names.XML}}}id"})
MAX_ID_LENGTH = 256


@dataclass(frozen=True)
class Verified:
    """The signed content (canonical re-parse of the verified element) and its signer."""

    assertion: etree._Element
    certificate: x509.Certificate
    certificate_der: bytes


def _algorithm(element: etree._Element | None, what: str) -> str:
    if element is None:
        raise faults.invalid_token(f"ds:{what} is missing")
    return (element.get("Algorithm") or "").strip()


def _single(parent: etree._Element, tag: str, what: str) -> etree._Element:
    found = parent.findall(tag)
    if len(found) != 1:
        raise faults.invalid_token(f"the signature must carry exactly one {what}")
    return found[0]


# Attributes (any namespace) whose local name is an ID attribute's and whose value
# contains the assertion ID: the candidates are few, and XPath finds them in C.
_ID_CANDIDATES = etree.XPath(
    "//@*[contains(., $id)][" + " or ".join(f"local-name() = '{name}'" for name in sorted({etree.QName(a).localname for a in _ID_ATTRIBUTES})) + "]"
)


def _check_unique_id(assertion: etree._Element, assertion_id: str) -> None:
    """The assertion's ID names no other element of the message (duplicate IDs are how a
    moved signed element is smuggled next to a forged one)."""
    root = assertion.getroottree().getroot()
    count = 0
    for value in _ID_CANDIDATES(root, id=assertion_id):
        attribute = value.attrname
        if value.strip() == assertion_id and (attribute in _ID_ATTRIBUTES or etree.QName(attribute).localname in _ID_ATTRIBUTES):
            count += 1
    if count != 1:
        raise faults.invalid_token("the assertion ID is not unique in the message")


def locate_signature(assertion: etree._Element) -> etree._Element:
    """The one enveloped `ds:Signature` of the assertion, right after `Issuer` (SAML 2.0
    schema order), or a fault."""
    signatures = list(assertion.iter(_SIGNATURE))
    if not signatures:
        raise faults.failed_authentication("the assertion is not signed")
    if len(signatures) > 1:
        raise faults.invalid_token("the assertion carries more than one ds:Signature")
    signature = signatures[0]
    if signature.getparent() is not assertion:
        raise faults.invalid_token("ds:Signature must be a child of the assertion it signs")
    children = [child for child in assertion if isinstance(child.tag, str)]
    if len(children) < 2 or children[0].tag != _ISSUER or children[1] is not signature:
        raise faults.invalid_token("ds:Signature must follow saml2:Issuer (SAML 2.0 schema order)")
    return signature


def check_signed_info(signature: etree._Element, assertion_id: str, allow_sha1: bool) -> None:
    """SignedInfo allowlist (spec §5.1): exc-c14n, RSA-SHA256 (RSA-SHA1 when allowed), one
    Reference to `#ID`, transforms enveloped-signature + exc-c14n, SHA-256 digest."""
    signed_info = _single(signature, _SIGNED_INFO, "ds:SignedInfo")
    if _algorithm(signed_info.find(_C14N_METHOD), "CanonicalizationMethod") != names.EXC_C14N:
        raise faults.invalid_token("ds:CanonicalizationMethod must be exclusive c14n without comments")
    signature_methods = {names.RSA_SHA256} | ({names.RSA_SHA1} if allow_sha1 else set())
    if _algorithm(signed_info.find(_SIGNATURE_METHOD), "SignatureMethod") not in signature_methods:
        raise faults.invalid_token("ds:SignatureMethod not allowed (RSA-SHA256 required)")
    reference = _single(signed_info, _REFERENCE, "ds:Reference")
    if reference.get("URI") != f"#{assertion_id}":
        raise faults.invalid_token("ds:Reference must point at the assertion's own ID")
    transforms_element = reference.find(_TRANSFORMS)
    transforms = [] if transforms_element is None else [
        (t.get("Algorithm") or "").strip() for t in transforms_element.iterchildren(_TRANSFORM)
    ]
    if names.ENVELOPED_SIGNATURE not in transforms or not set(transforms) <= {names.ENVELOPED_SIGNATURE, names.EXC_C14N}:
        raise faults.invalid_token("ds:Transforms must be enveloped-signature and exclusive c14n")
    digest_methods = {names.SHA256} | ({names.SHA1} if allow_sha1 else set())
    if _algorithm(reference.find(_DIGEST_METHOD), "DigestMethod") not in digest_methods:
        raise faults.invalid_token("ds:DigestMethod not allowed (SHA-256 required)")


def signer_certificate(signature: etree._Element) -> tuple[x509.Certificate, bytes]:
    """The certificate of `KeyInfo/X509Data/X509Certificate` (exactly one)."""
    elements = list(signature.iter(_X509_CERTIFICATE))
    if len(elements) != 1:
        raise faults.invalid_token("ds:KeyInfo must carry exactly one X509Certificate")
    try:
        der = base64.b64decode("".join((elements[0].text or "").split()), validate=True)
        return x509.load_der_x509_certificate(der), der
    except (ValueError, binascii.Error):
        raise faults.invalid_token("ds:X509Certificate is not a DER certificate") from None


_keys: dict[bytes, xmlsec.Key] = {}
_keys_lock = threading.Lock()
KEY_CACHE_SIZE = 256


def _key(certificate: x509.Certificate, der: bytes) -> xmlsec.Key:
    """The xmlsec key of a certificate, loaded once. Only the public key is loaded: a
    context takes a duplicate of the key, and duplicating the certificate data with it
    would cost ~40 µs per request."""
    fingerprint = hashlib.sha256(der).digest()
    with _keys_lock:
        key = _keys.get(fingerprint)
    if key is None:
        try:
            public = certificate.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            )
            key = xmlsec.Key.from_memory(public, xmlsec.KeyFormat.PEM, None)
        except (xmlsec.Error, ValueError):
            raise faults.invalid_token("the signing certificate's key cannot be used") from None
        with _keys_lock:
            if len(_keys) >= KEY_CACHE_SIZE:
                _keys.clear()
            _keys[fingerprint] = key
    return key


def _context(certificate: x509.Certificate, der: bytes, allow_sha1: bool) -> xmlsec.SignatureContext:
    context = xmlsec.SignatureContext()
    context.key = _key(certificate, der)
    digests = [xmlsec.Transform.SHA256] + ([xmlsec.Transform.SHA1] if allow_sha1 else [])
    methods = [xmlsec.Transform.RSA_SHA256] + ([xmlsec.Transform.RSA_SHA1] if allow_sha1 else [])
    for transform in (xmlsec.Transform.ENVELOPED, xmlsec.Transform.EXCL_C14N, *digests):
        context.enable_reference_transform(transform)
    for transform in (xmlsec.Transform.EXCL_C14N, *methods):
        context.enable_signature_transform(transform)
    return context


def verify(assertion: etree._Element, allow_sha1: bool = False) -> Verified:
    """Verify the enveloped signature of `assertion` in place (its own document) and
    return the signed content, or raise a `VihfRefusal`."""
    if assertion.tag != _ASSERTION:
        raise faults.invalid_token("the security token is not a saml2:Assertion")
    assertion_id = (assertion.get("ID") or "").strip()
    if not assertion_id or len(assertion_id) > MAX_ID_LENGTH:
        raise faults.invalid_token("Assertion/@ID is missing or too long")
    if next(assertion.iterdescendants(_ASSERTION), None) is not None:
        raise faults.invalid_token("an assertion nested in the assertion is not accepted")
    signature = locate_signature(assertion)
    check_signed_info(signature, assertion_id, allow_sha1)
    certificate, der = signer_certificate(signature)
    _check_unique_id(assertion, assertion_id)
    context = _context(certificate, der, allow_sha1)
    try:
        context.register_id(assertion, "ID")
        context.verify(signature)
    except xmlsec.VerificationError:
        raise faults.failed_authentication("the assertion signature does not verify") from None
    except xmlsec.Error:
        raise faults.invalid_token("the assertion signature cannot be processed") from None
    canonical = etree.tostring(assertion, method="c14n", exclusive=True, with_comments=False)
    try:
        signed = xmlsafe.parse_own(canonical)
    except xmlsafe.UnsafeXmlError:
        raise faults.invalid_token("the signed assertion cannot be read back") from None
    return Verified(signed, certificate, der)
