"""TLS in front of the embedded PostgreSQL, whose build (pgserver's) has no SSL support: a
loopback port that speaks PostgreSQL's direct TLS (libpq's sslnegotiation=direct, TLS from
the first byte with ALPN "postgresql"), with a certificate the test's CA issued, and forwards
the decrypted protocol to the server's Unix socket. libpq verifies this certificate exactly as
it verifies Aurora's; a client that refuses it ends the handshake."""

from __future__ import annotations

import contextlib
import select
import socket
import ssl
import threading
from pathlib import Path

import trustme

_CHUNK = 65536


class TlsFront:
    def __init__(self, unix_socket: Path, certificate: trustme.LeafCert) -> None:
        self._target = unix_socket
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        certificate.configure_cert(self._context)
        self._context.set_alpn_protocols(["postgresql"])
        self._listener = socket.create_server(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._closing = threading.Event()
        self._threads = [threading.Thread(target=self._accept, daemon=True)]
        self._threads[0].start()

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            thread = threading.Thread(target=self._serve, args=(client,), daemon=True)
            self._threads.append(thread)
            thread.start()

    def _serve(self, client: socket.socket) -> None:
        try:
            secure = self._context.wrap_socket(client, server_side=True)
        except (ssl.SSLError, OSError):
            client.close()  # the client did not accept this certificate
            return
        server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        server.connect(str(self._target))
        with secure, server, contextlib.suppress(OSError):
            self._relay(secure, server)

    @staticmethod
    def _relay(secure: ssl.SSLSocket, server: socket.socket) -> None:
        # One thread for both directions: an SSL socket is not safe to read and write from
        # two threads at once. Decrypted bytes TLS has buffered are not visible to select.
        while True:
            readable = [secure] if secure.pending() else select.select([secure, server], [], [])[0]
            if secure in readable:
                data = secure.recv(_CHUNK)
                if not data:
                    return
                server.sendall(data)
            if server in readable:
                data = server.recv(_CHUNK)
                if not data:
                    return
                secure.sendall(data)
