"""One place that wires client, store and services, for the CLI and the TUI alike."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass

from ..config import Settings
from ..ollama.client import OllamaClient
from ..ollama.models_dir import ModelsDir
from .rebuild import Rebuilder
from .store import Store
from .sync import Syncer
from .upstream import UpstreamChecker


@dataclass
class Session:
    settings: Settings
    client: OllamaClient
    store: Store
    syncer: Syncer
    rebuilder: Rebuilder
    upstream: UpstreamChecker


@asynccontextmanager
async def open_session(settings: Settings) -> AsyncIterator[Session]:
    store = await Store.open(settings.db_path)
    client = OllamaClient(settings.host, timeout=settings.timeout)
    local = ModelsDir(settings.models_dir) if settings.models_dir else None
    syncer = Syncer(client, store, settings.host_key, local_spec=local.specs if local else None)
    upstream = UpstreamChecker(syncer, settings.registry, timeout=min(settings.timeout, 10.0))
    try:
        yield Session(
            settings,
            client,
            store,
            syncer,
            Rebuilder(syncer, keep_backups=settings.keep_backups),
            upstream,
        )
    finally:
        await upstream.aclose()
        await client.aclose()
        await store.close()
