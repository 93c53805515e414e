"""VIHF: the French SAML 2.0 user assertion (ANS CI-SIS "transport synchrone pour client
lourd") carried in `wsse:Security` by every SOAP call. Facts: ../shared/spec/vihf.md.

- `vihf.principal` — `Principal`, the caller as the assertion describes it (`audit_who`);
- `vihf.parse` — assertion element -> Principal (reading only);
- `vihf.verify` — `Verifier`: locate, signature, trust, content, time, replay (spec §6);
  `vihf.signature`, `vihf.trust`, `vihf.content`, `vihf.replay` are its steps and
  `vihf.faults` the SOAP faults it raises;
- `vihf.policy` — `AccessPolicy`, what the assertion allows (actor handlers ask it);
- `vihf.issue` — build and sign assertions; `vihf.cli` — `tsnhub vihf issue`;
- `hub.authentication` (the host) — `install(hub)`: the hub's authenticator and the `/vihf/whoami` service;
- `vihf.wsse` — client side: the `wsse:Security` header, a zeep `wsse=` plugin.
"""
