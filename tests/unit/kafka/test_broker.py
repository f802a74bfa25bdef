"""streams/kafka/broker.py: the ports it picks for local servers."""

from __future__ import annotations

import socket

from streams.kafka.broker import free_port


def test_a_free_port_is_bindable_and_below_the_ephemeral_range_outgoing_connections_take() -> None:
    ports = {free_port() for _ in range(20)}
    assert all(20_000 <= port < 32_768 for port in ports)
    assert len(ports) > 1  # chosen at random, so two test processes rarely pick the same one
    for port in ports:
        with socket.socket() as server:
            server.bind(("127.0.0.1", port))


def test_a_port_in_use_is_never_offered() -> None:
    held = []
    try:
        for port in range(20_000, 20_100):
            s = socket.socket()
            try:
                s.bind(("127.0.0.1", port))
                s.listen()
                held.append(s)
            except OSError:
                s.close()
        taken = {s.getsockname()[1] for s in held}
        assert all(free_port() not in taken for _ in range(200))
    finally:
        for s in held:
            s.close()
