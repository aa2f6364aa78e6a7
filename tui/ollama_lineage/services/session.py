"""One place that wires client, store and services, for the CLI and the TUI alike."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from functools import cached_property
from typing import TYPE_CHECKING

from ..config import Settings
from ..ollama.client import OllamaClient
from ..ollama.models_dir import ModelsDir
from ..ollama.plain_http import EarlyGet
from .store import Store
from .sync import Syncer

if TYPE_CHECKING:
    from .rebuild import Rebuilder
    from .upstream import UpstreamChecker


class Session:
    """The rebuilder and the registry checker are made on first use: `status` needs neither."""

    def __init__(self, settings: Settings, client: OllamaClient, store: Store, syncer: Syncer):
        self.settings = settings
        self.client = client
        self.store = store
        self.syncer = syncer

    @cached_property
    def rebuilder(self) -> Rebuilder:
        from .rebuild import Rebuilder
        from .space import Space, listed_digests

        space = Space(self.settings.models_dir, lambda: listed_digests(self.syncer.snapshot))
        return Rebuilder(
            self.syncer,
            keep_backups=self.settings.keep_backups,
            space=space,
            layers=lambda name: self.upstream.registry.layers(name),
        )

    @cached_property
    def upstream(self) -> UpstreamChecker:
        from .upstream import UpstreamChecker

        return UpstreamChecker(
            self.syncer, self.settings.registry, timeout=min(self.settings.timeout, 10.0)
        )

    async def prune_history(self) -> None:
        """Keep History bounded (``--keep-history``); done by runs that write anyway."""
        before = time.time() - self.settings.keep_history_days * 86400
        await self.store.prune_history(self.settings.host_key, before)

    async def aclose(self, *, close_store: bool = True) -> None:
        if "upstream" in self.__dict__:  # made, so it may hold connections
            await self.upstream.aclose()
        await self.client.aclose()
        if close_store:
            await self.store.close()


@asynccontextmanager
async def open_session(
    settings: Settings, *, early: EarlyGet | None = None, store: Store | None = None
) -> AsyncIterator[Session]:
    """``early``: a request already sent for this server, taken by the first that asks.
    ``store``: one already open, shared by the sessions of a run over several servers (one
    connection, so their writes never wait on each other's locks); its opener closes it."""
    own_store = store is None
    store = store or await Store.open(settings.db_path)
    client = OllamaClient(settings.host, timeout=settings.timeout, early=early)
    local = ModelsDir(settings.models_dir) if settings.models_dir else None
    syncer = Syncer(client, store, settings.host_key, local_spec=local.specs if local else None)
    session = Session(settings, client, store, syncer)
    try:
        yield session
    finally:
        await session.aclose(close_store=own_store)
