"""The hub process: one store, one thread pool, the HTTPS and MLLP listeners, and the
actors installed on them.
"""
from __future__ import annotations

import importlib
import ipaddress
import logging
import ssl as stdlib_ssl
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

from OpenSSL import crypto
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import ExtendedKeyUsageOID
from sqlalchemy import text
from twisted.internet import defer, reactor, ssl, threads
from twisted.internet.interfaces import IListeningPort
from twisted.python.threadpool import ThreadPool

from hub import audit, endpoints, mllp, mllp_access, web, xmllibs
from hub.wire import hl7v2, soap
from hub.config import Config, ConfigError
from hub.metrics import Metrics
from hub.store import Store

log = logging.getLogger(__name__)
T = TypeVar("T")

# Each module exposes `install(hub)`, which registers its endpoints, operations and MLLP
# handlers. Order does not matter.
INSTALLERS: tuple[str, ...] = (
    "hub.authentication",
    "actors.identity.binding",
    "cda.binding",
    "actors.xds.binding",
    "actors.pixpdqv3.binding",
    "actors.xdm.binding",
    "actors.fhir.binding",
    "actors.coordination.binding",
)

# The SOAP endpoints of the contract (INTERFACES.md) exist from the start; the actors add
# their operations. An Action nobody registered is answered wsa:ActionNotSupported.
CONTRACT_SOAP_ENDPOINTS = ("/xds/registry", "/xds/repository", "/pix", "/pdq", "/validation")


def _port(listening: IListeningPort) -> int:
    address: Any = listening.getHost()  # an IPv4Address or IPv6Address
    return int(address.port)


# TLS 1.2 suites of BCP 195 (RFC 9325 4.2), as the IHE ATNA profile requires: ephemeral
# ECDH key exchange (forward secrecy) and authenticated encryption only; no static RSA, no
# finite-field DHE, no CBC. TLS 1.3 suites, all of that kind, are OpenSSL's own.
TLS12_CIPHERS = ":".join(
    (
        "ECDHE-ECDSA-AES128-GCM-SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305",
        "ECDHE-RSA-CHACHA20-POLY1305",
    )
)


def _client_certificate_usable(connection: Any, certificate: crypto.X509, error: int, depth: int, ok: int) -> bool:
    """OpenSSL's verdict on the chain, and for the client's own certificate (depth 0) an
    extended key usage naming clientAuth. OpenSSL lets a certificate without that
    extension through (RFC 5280 reads it as "any use"), which would admit a VIHF signing
    certificate as a TLS client: the hub requires the usage to be stated."""
    if not ok:
        return False
    if depth > 0:
        return True
    leaf = certificate.to_cryptography()
    try:
        usages = leaf.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    except x509.ExtensionNotFound:
        usages = x509.ExtendedKeyUsage([])
    if ExtendedKeyUsageOID.CLIENT_AUTH in usages:
        return True
    log.warning("TLS client certificate refused, no clientAuth extended key usage: %s", leaf.subject.rfc4514_string())
    return False


def _networks(entries: list[str]) -> tuple[ipaddress.IPv4Network | ipaddress.IPv6Network, ...]:
    """`[server] metrics_allow`: addresses or CIDR networks."""
    try:
        return tuple(ipaddress.ip_network(entry.strip(), strict=False) for entry in entries)
    except ValueError as exc:
        raise ConfigError(f"[server] metrics_allow: {exc}") from None


def _check_public_base_url(url: str) -> None:
    if not url.strip():
        return
    parts = urlsplit(url.strip())
    if parts.scheme != "https" or not parts.netloc or parts.query or parts.fragment:
        raise ConfigError(f"[server] public_base_url must be an absolute https URL, not {url!r}")


class StoreNotReady(RuntimeError):
    """The configured database is not at the current schema revision."""


class Hub:
    """Everything one hub process shares: configuration, store, thread pool, routers."""

    def __init__(self, config: Config, store: Store | None = None, clock: Any = None) -> None:
        self.config = config
        self.store = store or Store(config.db_url)
        self.clock: Any = clock or reactor
        self.metrics = Metrics()
        self.soap_limits = soap.Limits(
            max_bytes=config.server.max_request_bytes,
            max_depth=config.server.max_xml_depth,
            max_parts=config.server.max_mtom_parts,
            max_elements=config.server.max_xml_elements,
        )
        self.soap_endpoints: dict[str, endpoints.SoapEndpoint] = {}
        self.resources: dict[str, Any] = {}
        self.mllp = hl7v2.Router()
        # Who may send what over MLLP: the sender tables are checked here, at start-up
        # (ConfigError); `listen` binds the policy to the address actually listened on.
        self.mllp_policy = mllp_access.Policy.from_config(config.server, config.server.host)
        self.authenticator: endpoints.Authenticator | None = None
        self.threadpool = ThreadPool(minthreads=2, maxthreads=config.server.thread_pool_size, name="tsnhub")
        self.store_pool = ThreadPool(minthreads=1, maxthreads=max(1, config.server.store_threads), name="tsnhub-store")
        self.inflight: set[defer.Deferred[Any]] = set()
        self.ports: list[IListeningPort] = []
        self._mllp_factory: mllp.MLLPFactory | None = None
        self._client_tls: stdlib_ssl.SSLContext | None = None
        self._https: IListeningPort | None = None
        self._shared: dict[type, object] = {}
        for path in CONTRACT_SOAP_ENDPOINTS:
            self.soap_endpoint(path)

    # -- registration -----------------------------------------------------------------

    def soap_endpoint(self, path: str, wsdl: Path | bytes | None = None, store_bound: bool | None = None) -> endpoints.SoapEndpoint:
        """The SOAP endpoint at `path`, created on first use. A store-bound endpoint (its
        operations do SQL and XML work only) is served by the small store pool."""
        endpoint = self.soap_endpoints.get(path)
        if endpoint is None:
            endpoint = self.soap_endpoints[path] = endpoints.SoapEndpoint(path, wsdl)
        elif wsdl is not None:
            endpoint.wsdl = wsdl
        if store_bound is not None:
            endpoint.store_bound = store_bound
        return endpoint

    def shared(self, kind: type[T], make: Callable[[], T]) -> T:
        """The one `kind` of this hub, made by `make` the first time a binding asks: how
        bindings share a service (the identity service behind the v2, v3 and FHIR
        transports) whatever the order they are installed in. Called at installation,
        on the reactor thread."""
        found = self._shared.get(kind)
        if found is None:
            found = self._shared[kind] = make()
        if not isinstance(found, kind):
            raise TypeError(f"the shared {kind.__name__} is a {type(found).__name__}")
        return found

    def mount(self, path: str, resource: Any) -> None:
        """An HTTP resource of its own (FHIR, pages) at `path`."""
        self.resources[path] = resource

    def install(self, installers: tuple[str, ...] = INSTALLERS) -> None:
        for name in installers:
            module = importlib.import_module(name)
            module.install(self)

    def requires_vihf(self, path: str) -> bool:
        security = self.config.security
        return security.require_vihf and path not in security.open_endpoints

    # -- work off the reactor ---------------------------------------------------------

    def in_thread(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> defer.Deferred[T]:
        """Run blocking work in the hub's thread pool; tracked for a clean shutdown."""
        return self._track(threads.deferToThreadPool(self.clock, self.threadpool, function, *args, **kwargs))

    def in_store_thread(self, function: Callable[..., T], *args: Any, **kwargs: Any) -> defer.Deferred[T]:
        """Run store-bound work (no outbound call) in the store pool (`[server]
        store_threads`); tracked for a clean shutdown."""
        return self._track(threads.deferToThreadPool(self.clock, self.store_pool, function, *args, **kwargs))

    def _track(self, d: defer.Deferred[T]) -> defer.Deferred[T]:
        self.inflight.add(d)

        def done(result: Any) -> Any:
            self.inflight.discard(d)
            return result

        return d.addBoth(done)

    def audit(self, event: audit.AuditEvent) -> None:
        """Record `event` in its own transaction; a failing audit store is logged, not raised."""
        try:
            audit.record(self.store, event)
        except Exception:
            log.exception("audit record could not be written for %s", event.transaction)

    def check_store(self) -> bool:
        try:
            with self.store.session() as session:
                session.execute(text("SELECT 1"))
            return True
        except Exception:
            return False

    # -- MLLP -------------------------------------------------------------------------

    def process_hl7(self, raw: bytes, oversized: bool, peer: mllp.Peer = mllp.Peer("")) -> bytes:
        """Answer one MLLP frame (runs in the thread pool; never raises). Every message
        leaves an audit record whose outcome is read from the acknowledgement (MSA-1), by
        the listed sender it came from (MSH-3@MSH-4 when none is listed)."""
        started = time.perf_counter()
        transaction = "unknown"
        msh: hl7v2.Msh | None = None
        message = ""
        codec = "utf-8"
        try:
            message, codec = hl7v2.decode(raw)
            msh, transaction, answer = self._answer_hl7(message, oversized, peer)
        except Exception:
            log.exception("internal error answering an HL7 v2 message (%s)", transaction)
            error = hl7v2.Hl7Error(hl7v2.ERR_APPLICATION_INTERNAL, message="internal error")
            try:
                msh = hl7v2.parse_msh(raw.decode("latin-1"))
            except hl7v2.Hl7ParseError:
                msh = None
            answer = hl7v2.ack(msh, "AE", [error], self.mllp.identity)
        code = hl7v2.acknowledgement_code(answer)
        outcome = {"AA": "success", "CA": "success", "AE": "error", "CE": "error"}.get(code or "", "refused")
        self.audit(
            audit.AuditEvent(
                transaction,
                outcome,
                who=(msh.caller or hl7v2.sender(msh)) if msh is not None else None,
                patient=hl7v2.first_patient_id(message) if message else None,
                peer=peer.address,
                detail=None if outcome == "success" else hl7v2.error_summary(answer),
            )
        )
        self.metrics.observe("mllp", "mllp", transaction, outcome, time.perf_counter() - started)
        return answer.encode(codec, "replace")

    def _answer_hl7(self, message: str, oversized: bool, peer: mllp.Peer) -> tuple[hl7v2.Msh | None, str, str]:
        """(MSH, transaction, ER7 answer) of one decoded message. A sender the MLLP policy
        does not allow this message type is answered AR before anything is read further."""
        try:
            msh = hl7v2.parse_msh(message)
        except hl7v2.Hl7ParseError as exc:
            error = hl7v2.Hl7Error(hl7v2.ERR_SEGMENT_SEQUENCE, "MSH^1", message=str(exc))
            return None, "unknown", hl7v2.ack(None, "AR", [error], self.mllp.identity)
        decision = self.mllp_policy.decide(
            mllp_access.Frame(peer.certificate, msh.get(3), msh.get(4), msh.message_type, msh.component_separator)
        )
        msh.caller = decision.sender  # handlers (per-caller limits) and the audit read it
        if not decision.allowed:
            route = self.mllp.lookup(msh)
            # 200 (unsupported message type) at MSH-9 for a listed sender sending a type
            # outside its list; 207 for a sender nobody listed.
            error = (
                hl7v2.Hl7Error(hl7v2.ERR_UNSUPPORTED_MESSAGE_TYPE, "MSH^1^9", message=decision.reason)
                if decision.sender is not None
                else hl7v2.Hl7Error(hl7v2.ERR_APPLICATION_INTERNAL, message=decision.reason)
            )
            transaction = route[0] if route is not None else msh.message_type or "unknown"
            return msh, transaction, hl7v2.ack(msh, "AR", [error], self.mllp.identity)
        if oversized:
            error = hl7v2.Hl7Error(
                hl7v2.ERR_APPLICATION_INTERNAL,
                message=f"message larger than {self.config.server.max_mllp_message_bytes} bytes",
            )
            return msh, msh.message_type or "unknown", hl7v2.ack(msh, "AR", [error], self.mllp.identity)
        route = self.mllp.lookup(msh)
        if route is None:
            return msh, msh.message_type or "unknown", self.mllp.reject_unknown(msh)
        transaction, handler = route
        return msh, transaction, handler(message, msh)

    # -- listeners --------------------------------------------------------------------

    def site(self) -> web.HubSite:
        server = self.config.server
        _check_public_base_url(server.public_base_url)
        root = web.Root()
        root.mount("health", web.HealthResource(self))
        root.mount("metrics", web.MetricsResource(self, _networks(server.metrics_allow), server.metrics_require_client_cert))
        for path, endpoint in self.soap_endpoints.items():
            root.mount(path, web.SoapResource(self, endpoint))
        for path, resource in self.resources.items():
            root.mount(path, resource)
        self.metrics.declare(
            transactions={op.transaction for e in self.soap_endpoints.values() for op in e.operations.values()}
            | self.mllp.transactions(),
            endpoints=[*self.soap_endpoints, *self.resources],
        )
        return web.HubSite(root, server.max_request_bytes, server.idle_timeout_seconds, server.request_deadline_seconds)

    @property
    def public_base_url(self) -> str:
        """The address partners reach this hub at (`https://host:port`, no trailing slash):
        WSDL addresses and FHIR links are written from it, never from a request's Host
        header. `[server] public_base_url`, else the HTTPS listener's address (the
        configured host and port before `listen`)."""
        configured = self.config.server.public_base_url.strip().rstrip("/")
        if configured:
            return configured
        host, port = self.config.server.host, self.config.server.https_port
        if self._https is not None:
            address: Any = self._https.getHost()
            host, port = str(address.host), int(address.port)
        return f"https://[{host}]:{port}" if ":" in host else f"https://{host}:{port}"

    def tls_options(self) -> ssl.CertificateOptions:
        """TLS 1.2 minimum with the suites of BCP 195; client certificates (required by
        `require_client_cert`, asked for by `metrics_require_client_cert`) are verified
        against the PKI folder's CA and must carry the clientAuth extended key usage."""
        server = self.config.server
        pki = self.config.pki_dir
        certificate = x509.load_pem_x509_certificate((pki / "server.pem").read_bytes())
        key = serialization.load_pem_private_key((pki / "server.key").read_bytes(), password=None)
        verify = server.require_client_cert or server.metrics_require_client_cert
        kwargs: dict[str, Any] = {}
        if verify:
            authorities = [
                crypto.X509.from_cryptography(c)
                for c in x509.load_pem_x509_certificates((pki / "ca.pem").read_bytes())
            ]
            kwargs = {"verify": True, "caCerts": authorities, "requireCertificate": server.require_client_cert}
        options = ssl.CertificateOptions(
            privateKey=crypto.PKey.from_cryptography_key(key),  # type: ignore[arg-type]
            certificate=crypto.X509.from_cryptography(certificate),
            raiseMinimumTo=ssl.TLSVersion.TLSv1_2,
            acceptableCiphers=ssl.AcceptableCiphers.fromOpenSSLCipherString(TLS12_CIPHERS),
            **kwargs,
        )
        if verify:
            # The options build one context, shared by every connection they serve.
            context = options.getContext()
            context.set_verify(context.get_verify_mode(), _client_certificate_usable)
        return options

    def client_tls_context(self) -> stdlib_ssl.SSLContext:
        """TLS client context of outbound MLLP (`mllps://` peers): peers verified against
        the PKI folder's CA, the hub's client certificate presented when there is one."""
        if self._client_tls is None:
            pki = self.config.pki_dir
            client = (pki / "client.pem", pki / "client.key")
            self._client_tls = mllp.client_context(
                pki / "ca.pem" if (pki / "ca.pem").exists() else None,
                *(client if all(p.exists() for p in client) else (None, None)),
            )
        return self._client_tls

    def listen(self, host: str, https_port: int, mllp_port: int) -> tuple[int, int]:
        """Start both listeners; returns the ports actually bound."""
        self.threadpool.start()
        self.store_pool.start()
        https = reactor.listenSSL(https_port, self.site(), self.tls_options(), interface=host)  # type: ignore[attr-defined]
        self._https = https
        self.mllp_policy = mllp_access.Policy.from_config(self.config.server, host)
        self._mllp_factory = mllp.MLLPFactory(
            lambda raw, oversized, peer: self.in_thread(self.process_hl7, raw, oversized, peer),
            self.config.server.max_mllp_message_bytes,
            mllp.Timeouts(
                self.config.server.idle_timeout_seconds,
                self.config.server.mllp_idle_timeout_seconds or None,
                self.config.server.request_deadline_seconds or None,
            ),
        )
        if self.config.server.mllp_tls:
            tcp = reactor.listenSSL(mllp_port, self._mllp_factory, self.tls_options(), interface=host)  # type: ignore[attr-defined]
        else:
            tcp = reactor.listenTCP(mllp_port, self._mllp_factory, interface=host)
        self.ports = [https, tcp]
        return _port(https), _port(tcp)

    @defer.inlineCallbacks
    def shutdown(self) -> Any:
        """Stop accepting, let in-flight requests finish (30 s at most), close the store."""
        yield defer.DeferredList([defer.maybeDeferred(p.stopListening) for p in self.ports], consumeErrors=True)
        yield web.wait_all(set(self.inflight), 30.0, self.clock)
        self.threadpool.stop()
        self.store_pool.stop()
        self.store.close()


def prepare_store(store: Store) -> None:
    """An embedded or empty store is brought to the current schema; a populated external
    database must be upgraded on purpose (`tsnhub db upgrade`)."""
    if store.is_current():
        return
    if store.url.startswith("sqlite"):
        store.upgrade()
        return
    from sqlalchemy import inspect

    if not inspect(store.engine).get_table_names():
        store.upgrade()
        return
    raise StoreNotReady("the database schema is not current: run `tsnhub db upgrade`")


def serve(config: Config) -> int:
    """`tsnhub serve`: run until SIGINT/SIGTERM."""
    xmllibs.check()
    hub = Hub(config)
    prepare_store(hub.store)
    hub.install()
    https_port, mllp_port = hub.listen(config.server.host, config.server.https_port, config.server.mllp_port)
    print(f"listening https {config.server.host}:{https_port}", flush=True)
    print(f"listening mllp {config.server.host}:{mllp_port}", flush=True)
    reactor.addSystemEventTrigger("before", "shutdown", hub.shutdown)
    reactor.run()
    print("stopped", file=sys.stderr, flush=True)
    return 0
