"""lxml and xmlsec share one libxml2: signing and verifying with xmlsec works on lxml trees."""
from __future__ import annotations

from pathlib import Path

import pytest
import xmlsec
from lxml import etree

from hub import xmllibs


def test_lxml_and_xmlsec_link_the_same_libxml2() -> None:
    xmllibs.check()


def _signed(pki: Path) -> etree._Element:
    root = etree.fromstring(b'<doc xmlns="urn:t" ID="d1"><value>42</value></doc>')
    signature = xmlsec.template.create(root, xmlsec.Transform.EXCL_C14N, xmlsec.Transform.RSA_SHA256)
    root.append(signature)
    reference = xmlsec.template.add_reference(signature, xmlsec.Transform.SHA256, uri="#d1")
    xmlsec.template.add_transform(reference, xmlsec.Transform.ENVELOPED)
    xmlsec.template.add_transform(reference, xmlsec.Transform.EXCL_C14N)
    xmlsec.template.add_x509_data(xmlsec.template.ensure_key_info(signature))
    xmlsec.tree.add_ids(root, ["ID"])
    context = xmlsec.SignatureContext()
    key = xmlsec.Key.from_file(str(pki / "vihf-signer.key"), xmlsec.KeyFormat.PEM)
    key.load_cert_from_file(str(pki / "vihf-signer.pem"), xmlsec.KeyFormat.PEM)
    context.key = key
    context.sign(signature)
    return root


def _verify(root: etree._Element, pki: Path) -> None:
    xmlsec.tree.add_ids(root, ["ID"])
    context = xmlsec.SignatureContext()
    context.key = xmlsec.Key.from_file(str(pki / "vihf-signer.pem"), xmlsec.KeyFormat.CERT_PEM)
    context.verify(root.find("{http://www.w3.org/2000/09/xmldsig#}Signature"))


def test_xmlsec_signs_and_verifies_with_the_development_pki(pki: Path) -> None:
    root = _signed(pki)
    _verify(root, pki)
    root.find("{urn:t}value").text = "43"
    with pytest.raises(xmlsec.Error):
        _verify(root, pki)
