"""PIX Manager and PDQ Supplier in HL7 v3 over SOAP 1.2 (IHE PIXV3 / PDQV3):

- `/pix`: ITI-44 Patient Identity Feed (PRPA_IN201301UV02 add, PRPA_IN201302UV02 revise,
  PRPA_IN201304UV02 merge -> MCCI_IN000002UV01) and ITI-45 PIXV3 Query
  (PRPA_IN201309UV02 -> PRPA_IN201310UV02);
- `/pdq`: ITI-47 Patient Demographics Query (PRPA_IN201305UV02 -> PRPA_IN201306UV02) with
  its continuation and cancel (QUQI_IN000003UV01).

Messages are read into the identity core's values (`actors.identity`) and answered by
the shared query core; the WSDLs served are `wsdl/PIXManager.wsdl` and
`wsdl/PDQSupplier.wsdl`; `binding` registers them with the host.
"""
