"""Is a newer version upstream? Ask the registry for the manifest digest, never pull."""

from __future__ import annotations

import asyncio

import httpx

from ..core.lineage import Kind, Upstream
from ..core.names import InvalidModelName, parse_model_name
from .sync import Syncer

DEFAULT_HOST = "registry.ollama.ai"
MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"


class UpstreamChecker:
    """HEADs each pulled base's manifest, as Ollama's own desktop app does."""

    def __init__(self, syncer: Syncer, registry: str, *, timeout: float = 10.0) -> None:
        self.syncer = syncer
        self.registry = registry.rstrip("/")
        self._http = httpx.AsyncClient(timeout=timeout, headers={"Accept": MANIFEST_ACCEPT})
        self._limit = asyncio.Semaphore(8)

    async def aclose(self) -> None:
        await self._http.aclose()

    def url_for(self, name: str) -> str:
        """Default-registry names go to the configured registry; others to their own host."""
        parsed = parse_model_name(name)
        root = self.registry if parsed.host == DEFAULT_HOST else f"https://{parsed.host}"
        return f"{root}/{parsed.manifest_path()}"

    async def check(self, name: str) -> Upstream:
        try:
            url = self.url_for(name)
        except InvalidModelName as exc:
            return Upstream(error=str(exc))
        try:
            async with self._limit:
                response = await self._http.head(url)
        except httpx.HTTPError as exc:
            return Upstream(error=f"registry unreachable ({type(exc).__name__})")
        if response.status_code == 404:
            return Upstream(error="not in the registry (a local or private model)")
        if response.status_code >= 400:
            return Upstream(error=f"registry answered {response.status_code}")
        digest = response.headers.get("ollama-content-digest") or response.headers.get(
            "docker-content-digest", ""
        )
        return Upstream(digest=digest.removeprefix("sha256:") or None)

    async def check_all(self) -> dict[str, Upstream]:
        """Check every base (not derivatives: their digests never match upstream)."""
        bases = [
            n.name
            for n in self.syncer.snapshot.walk()
            if n.kind is Kind.BASE and n.facts is not None and not n.facts.parent_model
        ]
        found = await asyncio.gather(*(self.check(b) for b in bases))
        results = dict(zip(bases, found, strict=True))
        await self.syncer.store.save_upstream(self.syncer.host, results)
        await self.syncer.refresh()
        return results
