"""Patient identity manager: PIX Manager (ITI-8, ITI-9), PDQ Supplier (ITI-21), PAM
consumer (ITI-30, ITI-31) over HL7 v2/MLLP, on one sans-IO identity core (`core`) and one
query core (`query`) that the HL7 v3 and FHIR transports share; links to regional
identity servers (`upstream`). Its endpoints, routes and jobs are registered by `binding`.

For other packages: `directory.is_known(session, cx)`, and the `events.PatientsMerged`
event published in the merging transaction (`events.subscribe`).
"""
