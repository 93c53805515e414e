"""PDQm and PIXm (IHE mobile profiles on FHIR R4) at `/fhir/Patient`:

- ITI-78 Mobile Patient Demographics Query: `GET /fhir/Patient?family=...` (searchset
  Bundle, paged by `_count` with next links) and `GET /fhir/Patient/[id]`;
- ITI-83 Mobile Patient Identifier Cross-reference Query: `GET|POST
  /fhir/Patient/$ihe-pix` (Parameters).

JSON by default, FHIR XML with `_format` or `Accept`; refusals as OperationOutcome with
the HTTP status the profiles require. Both use the identity core's query functions, like
PDQ/PIX over HL7 v2 and v3. `binding` mounts them on the host.
"""
