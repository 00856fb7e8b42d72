"""Running the API in several worker processes (``entgraph serve --workers N``).

A module of its own because uvicorn pickles the config into each worker: the config class must be
importable by name.
"""

from __future__ import annotations

import socket

import uvicorn
from uvicorn.supervisors import Multiprocess


class NoDelayConfig(uvicorn.Config):
    """uvicorn's config, with a listening socket that says it is TCP.

    For ``--workers`` uvicorn binds the socket itself with ``proto`` 0; accepted connections inherit
    it, and asyncio turns on TCP_NODELAY only for sockets whose ``proto`` is TCP. Nagle then holds every
    keep-alive response until the client's delayed ACK: 48 ms for /healthz instead of 4 (uvicorn issue
    #3149). Re-wrapping the bound descriptor with ``proto=IPPROTO_TCP`` fixes it.
    """

    def bind_socket(self) -> socket.socket:
        sock = super().bind_socket()
        if sock.family in (socket.AF_INET, socket.AF_INET6) and sock.proto == 0:
            sock = socket.socket(sock.family, sock.type, socket.IPPROTO_TCP, fileno=sock.detach())
            sock.set_inheritable(True)
        return sock


def serve_workers(host: str, port: int, workers: int) -> None:
    """Serve ``app_from_environment`` in ``workers`` processes sharing one listening socket."""
    config = NoDelayConfig(
        "entgraph.api.app:app_from_environment",
        factory=True,
        workers=workers,
        host=host,
        port=port,
        access_log=False,  # our middleware writes the access log
        log_level="info",
        server_header=False,
    )
    Multiprocess(config, sockets=[config.bind_socket()]).run()
