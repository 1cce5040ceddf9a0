"""Shared fixtures: one real DNS server on loopback, and check contexts that use it."""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from tests.builders import make_settings
from tests.support.dns_server import TestDnsServer
from tests.support.postgres import TemporaryPostgres, postgres_or_skip

from thurac.checks import CheckContext
from thurac.config import Settings
from thurac.dns import Resolver

ContextFactory = Callable[..., CheckContext]
_databases = itertools.count()


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption("--run-long", action="store_true",
                     help="also run the tests marked long (make test-long)")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--run-long"):
        return
    skip = pytest.mark.skip(reason="long: runs in make test-long")
    for item in items:
        if "long" in item.keywords:
            item.add_marker(skip)


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[TemporaryPostgres]:
    """A private PostgreSQL server on 127.0.0.1, shared by the session (skips if none)."""
    yield from postgres_or_skip()


@pytest.fixture
def postgres_database(postgres_server: TemporaryPostgres) -> Iterator[str]:
    """URL of a new, empty database on the shared server, dropped after the test."""
    name = f"t{next(_databases)}"
    url = postgres_server.create_database(name)
    yield url
    postgres_server.drop_database(name)


@pytest.fixture(scope="session")
def dns_server() -> Iterator[TestDnsServer]:
    """A real authoritative DNS server on 127.0.0.1, shared by the session."""
    with TestDnsServer() as server:
        yield server


@pytest.fixture
def zone(dns_server: TestDnsServer) -> Iterator[TestDnsServer]:
    """The shared DNS server, empty and answering normally for this test only."""
    dns_server.clear()
    dns_server.mode = "normal"
    dns_server.reset_queries()
    yield dns_server
    dns_server.clear()
    dns_server.mode = "normal"


@pytest.fixture
def context(zone: TestDnsServer) -> ContextFactory:
    """context(settings=None, timeout=0.5, budget=2.0, **sections) -> CheckContext.

    Each call gets a fresh resolver (so no answer is cached between tests) pointed at `zone`.
    """

    def make(
        settings: Settings | None = None,
        *,
        timeout: float = 0.5,
        budget: float = 2.0,
        **sections: Any,
    ) -> CheckContext:
        chosen = settings if settings is not None else make_settings(**sections)
        resolver = Resolver([zone.address], timeout=timeout)
        return CheckContext(chosen, resolver.session(budget))

    return make
