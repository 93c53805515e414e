"""CDA validation throughput: documents/s for a typical ~50 KB CDA with schema + Python
header/content rules + schematron, on one thread.

    .venv/bin/python bench/bench_cda.py [--seconds N]

Documents come from ../shared/corpus: the composed CI-SIS CR-BIO report grown to ~50 KB
(its specialty sections repeated, narrative IDs renumbered), and the real 61 KB IHE
XD-LAB sample. Prints one line per configuration; nothing is asserted.
"""
from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

from lxml import etree

from cda.engine import Validator, ValidatorConfig

ROOT = Path(__file__).resolve().parent.parent
CORPUS = (ROOT / ".." / "shared" / "corpus").resolve()
HL7 = "urn:hl7-org:v3"

# A small XSLT 2.0 schematron (CI-SIS header checks) to measure the Saxon path.
XSLT2_SCHEMATRON = """<schema xmlns="http://purl.oclc.org/dsdl/schematron" queryBinding="xslt2">
  <ns prefix="cda" uri="urn:hl7-org:v3"/>
  <pattern id="header">
    <rule context="/cda:ClinicalDocument">
      <assert id="effective-time" test="matches(cda:effectiveTime/@value, '^\\d{14}[+-]\\d{4}$')">effectiveTime</assert>
      <assert id="ins" test="some $i in cda:recordTarget/cda:patientRole/cda:id satisfies starts-with($i/@root, '1.2.250.1.213.1.4.')">INS</assert>
    </rule>
    <rule context="cda:observation">
      <assert id="loinc" test="cda:code/@codeSystem = '2.16.840.1.113883.6.1'">LOINC</assert>
    </rule>
  </pattern>
</schema>
"""


def grown_cr_bio(target_bytes: int = 50_000) -> bytes:
    """The composed CR-BIO document with its specialty sections repeated up to ~target."""
    root = etree.fromstring((CORPUS / "composed/cda/cr-bio-two-report-items.xml").read_bytes())
    body = root.find(f"{{{HL7}}}component/{{{HL7}}}structuredBody")
    assert body is not None
    originals = [etree.tostring(c) for c in body.findall(f"{{{HL7}}}component")]
    copy = 0
    while len(etree.tostring(root)) < target_bytes:
        copy += 1
        for original in originals:
            text = original.decode()
            for identifier in ("res-hb", "res-leuco", "res-glu"):
                text = text.replace(f'"{identifier}"', f'"{identifier}-{copy}"').replace(f'"#{identifier}"', f'"#{identifier}-{copy}"')
            body.append(etree.fromstring(text))
    return etree.tostring(root, encoding="UTF-8", xml_declaration=True)


def measure(label: str, validator: Validator, document: bytes, profile: str, seconds: float) -> None:
    report = validator.validate(document, profile)
    durations: list[float] = []
    deadline = time.perf_counter() + seconds
    while time.perf_counter() < deadline or len(durations) < 5:
        started = time.perf_counter()
        validator.validate(document, profile)
        durations.append(time.perf_counter() - started)
    rate = len(durations) / sum(durations)
    print(
        f"{label:<72} {len(document) / 1024:5.1f} KB  {rate:7.1f} documents/s  "
        f"median {statistics.median(durations) * 1000:6.2f} ms  "
        f"({'valid' if report.valid else f'{len(report.errors)} errors'}; steps: {', '.join(s.name for s in report.steps)})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--seconds", type=float, default=3.0, help="time per configuration (default 3)")
    args = parser.parse_args(argv)
    if not CORPUS.is_dir():
        print(f"corpus not found at {CORPUS}", file=sys.stderr)
        return 2
    schemas = str(CORPUS / "cda-schema")
    lab_v40 = str(CORPUS / "schematron/ipf-ihe_lab_40/iheLab4_0.sch") + "#errors"
    lab_v20 = str(CORPUS / "schematron/ipf-ihe_lab_v20_20070816/IHE_LAB.sch")
    cr_bio = grown_cr_bio()
    ihe_lab = (CORPUS / "cda/IHE_LabReport_20070816.xml").read_bytes()

    measure("CR-BIO: rules only (no schema, no schematron)", Validator(), cr_bio, "auto", args.seconds)
    measure("CR-BIO: schema + rules", Validator(ValidatorConfig(schema_dir=schemas)), cr_bio, "auto", args.seconds)
    measure("CR-BIO: schema + rules + XD-LAB 4.0 schematron, errors phase (lxml XSLT 1)",
            Validator(ValidatorConfig(schema_dir=schemas, schematrons=[lab_v40])), cr_bio, "auto", args.seconds)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "cisis-header.sch"
        path.write_text(XSLT2_SCHEMATRON, encoding="utf-8")
        measure("CR-BIO: schema + rules + XSLT 2 schematron (Saxon)",
                Validator(ValidatorConfig(schema_dir=schemas, schematrons=[str(path)])), cr_bio, "auto", args.seconds)
    measure("IHE XD-LAB sample: LabCDA.xsd + CDA rules + XD-LAB 2.0 schematron",
            Validator(ValidatorConfig(schema_dir=schemas, schematrons=[lab_v20])), ihe_lab, "cda", args.seconds)
    return 0


if __name__ == "__main__":
    sys.exit(main())
