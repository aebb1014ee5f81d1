"""A loopback TCP port that refuses connections until the test opens it, then forwards each
connection to the embedded PostgreSQL (which listens on a Unix socket only): a database
server that is unreachable for a while and then answers, as a resuming Aurora cluster is."""

from __future__ import annotations

import contextlib
import socket
import threading
from pathlib import Path

_CHUNK = 65536


class LatePort:
    def __init__(self, unix_socket: Path) -> None:
        self._target = unix_socket
        # Bound but not listening: the kernel refuses connections to it (ECONNREFUSED), and
        # the port cannot be taken by anything else before it opens.
        self._listener = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._listener.bind(("127.0.0.1", 0))
        self.port: int = self._listener.getsockname()[1]
        self._threads: list[threading.Thread] = []
        self.opened = threading.Event()
        self._closing = threading.Event()

    def open(self) -> None:
        """From now on, connections are accepted and forwarded."""
        if self.opened.is_set():
            return
        self._listener.listen()
        self.opened.set()
        self._start(self._accept)

    def close(self) -> None:
        self._closing.set()
        self._listener.close()
        for thread in self._threads:
            thread.join(timeout=5)

    def _start(self, target: object, *args: object) -> None:
        thread = threading.Thread(target=target, args=args, daemon=True)  # type: ignore[arg-type]
        self._threads.append(thread)
        thread.start()

    def _accept(self) -> None:
        while not self._closing.is_set():
            try:
                client, _ = self._listener.accept()
            except OSError:
                return  # closed
            server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
            server.connect(str(self._target))
            self._start(self._pump, client, server)
            self._start(self._pump, server, client)

    @staticmethod
    def _pump(source: socket.socket, sink: socket.socket) -> None:
        # Each direction has its own pump; the one that sees the end shuts both sockets down,
        # which ends the other.
        with contextlib.suppress(OSError):
            while data := source.recv(_CHUNK):
                sink.sendall(data)
        for end in (source, sink):
            with contextlib.suppress(OSError):
                end.shutdown(socket.SHUT_RDWR)
