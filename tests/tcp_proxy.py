"""A TCP proxy (threads) in front of a server, that a test or bench can cut and restore.

Cutting closes every open connection and refuses new ones (the listening socket
is closed), which is what the app sees when its database goes away; restoring
listens again on the same port.
"""

import socket
import threading
import time

from .live_server import free_port


class TCPProxy:
    def __init__(self, upstream_host, upstream_port, port=None):
        self.upstream = (upstream_host, upstream_port)
        self.port = port or free_port()
        self._lock = threading.Lock()
        self._connections = set()
        self._listener = None
        self._accepting = None
        self.frozen = False
        self.accepted = 0  # connections taken, ever (how many attempts the app made)

    def start(self):
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(128)
        self._listener = listener
        self._accepting = threading.Thread(target=self._accept, args=(listener,), daemon=True)
        self._accepting.start()
        return self

    restore = start

    def freeze(self):
        """Keep every connection open but forward nothing (a hung or blackholed server)."""
        self.frozen = True

    def thaw(self):
        self.frozen = False

    def cut(self):
        """Close the listener and every connection through it."""
        listener, self._listener = self._listener, None
        if listener is not None:
            try:
                listener.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            listener.close()
        if self._accepting is not None:
            self._accepting.join(timeout=5)
        with self._lock:
            connections, self._connections = self._connections, set()
        for sock in connections:
            _close(sock)

    stop = cut

    @property
    def is_up(self):
        return self._listener is not None

    def _accept(self, listener):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return  # cut
            self.accepted += 1
            try:
                server = socket.create_connection(self.upstream, timeout=5)
                server.settimeout(None)
            except OSError:
                _close(client)
                continue
            with self._lock:
                if self._listener is not listener:  # cut meanwhile
                    _close(client)
                    _close(server)
                    return
                self._connections.update((client, server))
            for source, target in ((client, server), (server, client)):
                threading.Thread(target=self._pump, args=(source, target), daemon=True).start()

    def _pump(self, source, target):
        try:
            while True:
                data = source.recv(65536)
                if not data:
                    break
                while self.frozen:
                    time.sleep(0.05)
                target.sendall(data)
        except OSError:
            pass
        finally:
            with self._lock:
                self._connections.discard(source)
                self._connections.discard(target)
            _close(source)
            _close(target)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.cut()


def _close(sock):
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
    sock.close()
