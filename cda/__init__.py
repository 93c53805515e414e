"""CDA R2 document validation: well-formedness, HL7 CDA schema, CI-SIS header rules,
IHE XD-LAB and CI-SIS content rules (CR-BIO, VAC, XDS-SD), ISO schematron; one report
model rendered as text, JSON, JUnit XML or a Gazelle-like XML report.

Entry points: `cda.engine.Validator` (library), `cda.gate.check` (ITI-41 submissions),
`cda.cli` (`tsnhub validate`), `cda.service` (SOAP `/validation`).
"""
