"""Hub configuration: `hub.toml` sections with defaults; command-line options win.

Each section is a dataclass; unknown sections or keys are refused so that a typo in a
deployment file is reported instead of silently ignored.
"""
from __future__ import annotations

import dataclasses
import tomllib
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any


class ConfigError(ValueError):
    """The configuration file or an option is not valid."""


@dataclass
class ServerConfig:
    host: str = "127.0.0.1"
    https_port: int = 8443
    mllp_port: int = 2575
    require_client_cert: bool = False
    # MLLP over TLS (an IHE ATNA secure node's HL7 v2 link): the HTTPS listener's
    # certificate, TLS 1.2 minimum and client-certificate policy on the MLLP port too.
    mllp_tls: bool = False
    max_request_bytes: int = 64 * 1024 * 1024
    max_mllp_message_bytes: int = 4 * 1024 * 1024
    max_xml_depth: int = 256
    max_mtom_parts: int = 1000
    # An HTTPS connection idle this long, or an MLLP frame left half-sent this long, is
    # closed: slow or stuck clients cannot hold connections forever.
    idle_timeout_seconds: float = 120.0
    # MLLP connections are long-lived: one idle between frames is closed after this (0: never).
    mllp_idle_timeout_seconds: float = 3600.0
    thread_pool_size: int = 16
    # Requests of store-bound endpoints (XDS: SQL and XML work only, no outbound call) run
    # on a pool of their own this small: one CPython process runs Python code on one core
    # at a time, and more of them at once only adds lock contention (bench_xds measured
    # ITI-41 at 140/s with 4 concurrent handlers, 154/s with 2). Outbound calls
    # (regional identity servers, notifications) stay on `thread_pool_size` threads.
    store_threads: int = 2
    # The address partners use (https://host:port): WSDL soap:address and FHIR links are
    # written from it, never from the request's Host header. Empty: https://<host>:<the
    # bound HTTPS port>.
    public_base_url: str = ""
    # A whole request (headers and body, or one MLLP frame) must arrive within this many
    # seconds, however steadily its bytes trickle in (apart from the idle timeout).
    request_deadline_seconds: float = 30.0
    # Budget of XML nodes one request may carry, counted before parsing as its tags
    # (start, end, comments, PIs) plus its attributes ("<" and "="): the parsed tree costs
    # ~120 bytes or more per node whatever the size of the text.
    max_xml_elements: int = 500_000
    # true: any MLLP sender may send any message (development). A hub bound to loopback
    # with no [[server.mllp_senders]] behaves as open; anywhere else an unlisted sender
    # is refused.
    mllp_open: bool = False
    # Who may send what over MLLP, one table each: name; certificate, the SHA-256
    # fingerprint ("sha256:AB:CD:...") or the subject (RFC 4514) of its TLS client
    # certificate; application (MSH-3) and facility (MSH-4); messages, the MSH-9 types
    # it may send ("ADT^A28", "QBP^Q22", or a bare code such as "QCN").
    mllp_senders: list[dict[str, Any]] = field(default_factory=list)
    # Addresses (IP or CIDR) allowed to read /metrics; empty: any. With
    # metrics_require_client_cert, a verified TLS client certificate is needed too.
    metrics_allow: list[str] = field(default_factory=list)
    metrics_require_client_cert: bool = False


@dataclass
class SecurityConfig:
    require_vihf: bool = True
    # Endpoints (paths) opened without VIHF, for local tests only.
    open_endpoints: list[str] = field(default_factory=list)
    trust_store: str = ""
    # Certificate revocation lists of the trust store's CAs (PEM or DER files, read again
    # when they change): a revoked signer, or one whose CA's list is out of date, is refused.
    crl_files: list[str] = field(default_factory=list)
    clock_skew_seconds: int = 120
    allow_sha1: bool = False
    accepted_vihf_versions: list[str] = field(default_factory=lambda: ["3.0", "4.0"])
    # Maximum age of a VIHF assertion that has no Conditions/@NotOnOrAfter.
    max_assertion_age_seconds: int = 300


@dataclass
class IdentityConfig:
    affinity_domain: str = "1.2.250.1.213.1.4.8"
    # Further assigning authorities (OID or namespace) the PIX manager accepts; "*" = any.
    accepted_domains: list[str] = field(default_factory=list)
    # PIX consumers notified by ITI-10 (ADT^A31) over MLLP, as "host:port".
    pix_consumers: list[str] = field(default_factory=list)
    # EMPI score at or above which a new record is linked automatically; at or above the
    # review threshold (and below the other) it is queued for identity review. Defaults
    # are actors.empi.Thresholds(), measured by `python -m bench.bench_empi`.
    match_auto_link_threshold: float = 0.97
    match_review_threshold: float = 0.5
    # Regional identity servers (actors.identity.upstream), one [[identity.upstream_pdq]]
    # table each, asked by ITI-21 when a local PDQ finds nobody or when QPD-8 names their
    # domain; what they return is cross-referenced locally. Keys: name; protocol "mllp"
    # (ITI-21) or "soap" (ITI-47); address "host:port" or the https URL; domain, the OID
    # (or namespace) of their assigning authority (accepted by the hub); optional
    # timeout_seconds (5.0, connect and answer), max_results (50), receiving_application
    # and receiving_facility (MSH-5/6), device_id (v3 receiver), ca_file, client_cert and
    # client_key (TLS); vihf_key, vihf_cert, vihf_subject_id, vihf_subject_name,
    # vihf_roles ("CODE[^OID],..."), vihf_structure_id, vihf_sector: the hub's VIHF
    # assertion in ITI-47 queries.
    upstream_pdq: list[dict[str, Any]] = field(default_factory=list)
    # Upstream PIX managers, "host:port": accepted ITI-8 / ITI-30 feeds are forwarded to
    # them as ITI-8 over MLLP after the local commit, retried until acknowledged AA.
    upstream_pix: list[str] = field(default_factory=list)
    # Breadth caps against mass extraction (PDQ v2, v3 and FHIR): a query on names alone
    # needs this many significant characters (letters or digits) in a name, unless it
    # also carries the birth date or an identifier; one query returns at most
    # pdq_max_results patients, continuation included.
    pdq_min_name_chars: int = 3
    pdq_max_results: int = 200


@dataclass
class XdsConfig:
    repository_unique_id: str = "1.2.250.1.213.1.999.1"
    home_community_id: str = "urn:oid:1.2.250.1.213.1.999"
    max_query_results: int = 1000
    # TOML file of the affinity domain's value sets (attribute = ["code^^scheme", ...]);
    # empty: codes are checked for form only
    value_sets: str = ""


@dataclass
class CdaConfig:
    schema_dir: str = ""
    schematrons: list[str] = field(default_factory=list)
    submission_gate: str = "warn"


@dataclass
class XdmConfig:
    # The importer's sourceId where a medium's SubmissionSet carries none valid.
    source_id: str = "1.2.250.1.213.1.999.2"
    # Operator values for required metadata a medium lacks ("code|codingScheme|display"
    # for codes, the value for languageCode/creationTime); see actors.xdm.importer.
    completion: dict[str, str] = field(default_factory=dict)
    max_entries: int = 10_000
    max_total_bytes: int = 1024 * 1024 * 1024
    max_entry_bytes: int = 256 * 1024 * 1024
    max_ratio: int = 200


UNENROLLED_PATIENTS = ("allow", "care-team", "deny")
CONFIDENTIALITY_CODES = ("N", "R", "V")
# Mandate kind (coordination_mandate.kind) -> the prefix of its keys in [coordination].
MANDATE_KEYS = {
    "treating-physician": "treating_physician",
    "circle": "circle",
    "care-team": "care_team",
    "break-the-glass": "break_the_glass",
    "patient-code": "patient_code",
}


@dataclass
class CoordinationConfig:
    # TOML file of the pathway catalogue (actors.coordination.pathways); empty: the built-in one.
    pathways: str = ""
    # VIHF structure ids whose professionals enrol any patient and manage any circle.
    coordinator_structures: list[str] = field(default_factory=list)
    # Who reads the documents of patients in no pathway: allow (any authenticated
    # professional), care-team (circle members and mandate holders), deny (the author only).
    unenrolled_patients: str = "care-team"
    # How long a mandate lasts, by kind. Those granted by someone else (treating
    # physician, circle) last long; self-declared ones (care-team, break-the-glass) and
    # the one a patient's code opens are short.
    treating_physician_days: int = 365
    circle_days: int = 365
    care_team_days: int = 30
    break_the_glass_hours: int = 4
    patient_code_days: int = 1
    # How long an issued patient access code may be used (once).
    patient_code_minutes: int = 60
    # What a mandate of each kind reaches: confidentiality codes (N, R, V) and XDS
    # classCodes as "code^^codingScheme"; an empty list reaches every code. Self-declared
    # mandates and patient codes leave out V (très restreint) by default.
    treating_physician_confidentiality: list[str] = field(default_factory=lambda: ["N", "R", "V"])
    treating_physician_classes: list[str] = field(default_factory=list)
    circle_confidentiality: list[str] = field(default_factory=lambda: ["N", "R", "V"])
    circle_classes: list[str] = field(default_factory=list)
    care_team_confidentiality: list[str] = field(default_factory=lambda: ["N", "R"])
    care_team_classes: list[str] = field(default_factory=list)
    break_the_glass_confidentiality: list[str] = field(default_factory=lambda: ["N", "R"])
    break_the_glass_classes: list[str] = field(default_factory=list)
    patient_code_confidentiality: list[str] = field(default_factory=lambda: ["N", "R"])
    patient_code_classes: list[str] = field(default_factory=list)

    def validate(self) -> None:
        if self.unenrolled_patients not in UNENROLLED_PATIENTS:
            raise ConfigError(
                f"[coordination] unenrolled_patients must be one of {', '.join(UNENROLLED_PATIENTS)}, "
                f"not {self.unenrolled_patients!r}"
            )
        if not all(isinstance(s, str) and s.strip() for s in self.coordinator_structures):
            raise ConfigError("[coordination] coordinator_structures must be a list of structure ids")
        lifetimes = [f"{prefix}_days" for prefix in MANDATE_KEYS.values() if prefix != "break_the_glass"]
        for key in [*lifetimes, "break_the_glass_hours", "patient_code_minutes"]:
            if getattr(self, key) <= 0:
                raise ConfigError(f"[coordination] {key} must be a positive number")
        for prefix in MANDATE_KEYS.values():
            if not all(code in CONFIDENTIALITY_CODES for code in getattr(self, f"{prefix}_confidentiality")):
                raise ConfigError(f"[coordination] {prefix}_confidentiality takes the codes {', '.join(CONFIDENTIALITY_CODES)}")
            for code in getattr(self, f"{prefix}_classes"):
                # Mandates keep their classes space-separated (coordination_mandate.class_scope).
                if not isinstance(code, str) or code.count("^^") != 1 or code.startswith("^^") or code.endswith("^^") or any(
                    ch.isspace() for ch in code
                ):
                    raise ConfigError(f"[coordination] {prefix}_classes: {code!r} is not a 'code^^codingScheme' classCode")

    def mandate_lifetime(self, kind: str) -> timedelta:
        """How long a new mandate of `kind` lasts."""
        if kind == "break-the-glass":
            return timedelta(hours=self.break_the_glass_hours)
        days: int = getattr(self, f"{MANDATE_KEYS[kind]}_days")
        return timedelta(days=days)

    def mandate_scope(self, kind: str) -> tuple[list[str], list[str]]:
        """The confidentiality codes and classCodes a new mandate of `kind` reaches (empty: all)."""
        prefix = MANDATE_KEYS[kind]
        return list(getattr(self, f"{prefix}_confidentiality")), list(getattr(self, f"{prefix}_classes"))


@dataclass
class StoreConfig:
    url: str = ""


@dataclass
class Config:
    server: ServerConfig = field(default_factory=ServerConfig)
    security: SecurityConfig = field(default_factory=SecurityConfig)
    identity: IdentityConfig = field(default_factory=IdentityConfig)
    xds: XdsConfig = field(default_factory=XdsConfig)
    cda: CdaConfig = field(default_factory=CdaConfig)
    xdm: XdmConfig = field(default_factory=XdmConfig)
    coordination: CoordinationConfig = field(default_factory=CoordinationConfig)
    store: StoreConfig = field(default_factory=StoreConfig)
    data_dir: Path = Path("var")
    pki_dir: Path = Path("var/pki")

    @property
    def trust_store_path(self) -> Path:
        return Path(self.security.trust_store) if self.security.trust_store else self.pki_dir / "ca.pem"

    @property
    def db_url(self) -> str:
        return self.store.url or f"sqlite:///{(self.data_dir / 'tsnhub.sqlite').resolve()}"


def _section(cls: type[Any], name: str, values: Any) -> Any:
    if not isinstance(values, dict):
        raise ConfigError(f"[{name}] must be a table")
    known = {f.name: f for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - set(known))
    if unknown:
        raise ConfigError(f"[{name}] unknown key(s): {', '.join(unknown)}")
    instance = cls()
    for key, value in values.items():
        default = getattr(instance, key)
        if isinstance(default, bool) != isinstance(value, bool) or (
            not isinstance(value, type(default)) and not (isinstance(default, float) and isinstance(value, int))
        ):
            raise ConfigError(f"[{name}] {key} must be of type {type(default).__name__}")
        setattr(instance, key, value)
    # Checks beyond types (allowed values, ranges) are the section's own.
    if hasattr(instance, "validate"):
        instance.validate()
    return instance


_SECTIONS = {f.name: f for f in dataclasses.fields(Config) if f.name not in {"data_dir", "pki_dir"}}
_SECTION_TYPES: dict[str, type[Any]] = {name: type(getattr(Config(), name)) for name in _SECTIONS}


def load(path: Path | None) -> Config:
    """Read `hub.toml` (or return the defaults when no file is given)."""
    config = Config()
    if path is None:
        return config
    try:
        raw = tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except OSError as exc:
        raise ConfigError(f"cannot read {path}: {exc.strerror}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}") from exc
    for name, values in raw.items():
        if name not in _SECTIONS:
            raise ConfigError(f"unknown section [{name}]")
        setattr(config, name, _section(_SECTION_TYPES[name], name, values))
    return config
