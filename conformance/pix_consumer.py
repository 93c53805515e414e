"""A PIX Consumer simulator on loopback (the receiving side of ITI-10 PIX Update
Notification over MLLP): records the messages it acknowledges, answers AA, or once the
acknowledgement code it is told to (AE to test a sender's retries). With a server TLS
context it is an MLLP-over-TLS peer (`mllps://127.0.0.1:PORT`), recording the TLS
version of each connection."""
from __future__ import annotations

import socket
import ssl
import threading
import time


class PixConsumer:
    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.server = socket.create_server(("127.0.0.1", 0))
        self.port = self.server.getsockname()[1]
        self.tls = tls
        self.tls_versions: list[str | None] = []
        self.received: list[str] = []
        self.answer = "AA"  # the code of the next acknowledgement; back to AA after it
        threading.Thread(target=self._serve, daemon=True).start()

    def _serve(self) -> None:
        while True:
            try:
                connection, _ = self.server.accept()
            except OSError:
                return
            if self.tls is not None:
                try:
                    connection = self.tls.wrap_socket(connection, server_side=True)
                except (ssl.SSLError, OSError):
                    connection.close()
                    continue
                self.tls_versions.append(connection.version())
            with connection:
                buffer = b""
                while b"\x1c\x0d" not in buffer:
                    chunk = connection.recv(65536)
                    if not chunk:
                        break
                    buffer += chunk
                message = buffer[buffer.find(b"\x0b") + 1 : buffer.find(b"\x1c\x0d")].decode()
                control = message.split("\r")[0].split("|")[9]
                answer, self.answer = self.answer, "AA"
                if answer == "AA":
                    self.received.append(message)
                connection.sendall(
                    f"\x0bMSH|^~\\&|C|C|TSNHUB|TSNHUB|20250101||ACK^A31^ACK|A{control}|P|2.5\r"
                    f"MSA|{answer}|{control}\r\x1c\x0d".encode()
                )

    def wait(self, count: int, timeout: float = 15.0) -> list[str]:
        """The messages acknowledged AA, once there are `count` of them (or the timeout)."""
        deadline = time.monotonic() + timeout
        while len(self.received) < count and time.monotonic() < deadline:
            time.sleep(0.05)
        return self.received

    def close(self) -> None:
        self.server.close()
