"""The wire: pure codecs of the hub, with no Twisted, no store and no socket. Hardened XML
(`xmlsafe`), SOAP 1.2 with WS-Addressing and MTOM/XOP (`soap`, `mtom`), HL7 v2 ER7 and
acknowledgements with the table 0357 vocabulary (`hl7v2`), MLLP framing (`mllp`).
Everything above it (actors, vihf, cda, the host) may import it."""
