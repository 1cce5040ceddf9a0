"""Process plumbing that mail speed depends on."""

from __future__ import annotations

import socket

from thurac.server import _no_delay_on_replies


def test_the_listening_socket_gets_tcp_nodelay_for_every_connection_it_accepts() -> None:
    # libmilter opens its socket in C; thurac finds it among its descriptors by port.
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert not listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        _no_delay_on_replies(port)
        assert listener.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
        with socket.create_connection(("127.0.0.1", port)):
            accepted, _ = listener.accept()
            with accepted:  # Linux hands the option on to accepted connections
                assert accepted.getsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY)
