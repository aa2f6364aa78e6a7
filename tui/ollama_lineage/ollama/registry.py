"""Asking a registry for a manifest's digest, the way Ollama's own clients do; never a pull."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time

import httpx

from ..core.lineage import Upstream
from ..core.names import DEFAULT_HOST, InvalidModelName, parse_model_name

MANIFEST_ACCEPT = "application/vnd.docker.distribution.manifest.v2+json"
# A manifest is a few KB; a body far bigger is not one, and is not read to the end.
MAX_MANIFEST = 4 * 1024 * 1024
# A registry that could not be reached is not tried again for this long: on a server with no
# way out, each of a fleet's checks would wait on its own failure (seen: 15 s of a cold
# `status` at 1,000 models, for an answer the first check had already given).
DOWN_FOR_S = 60.0
IN_FLIGHT = 8  # requests to one registry at once: it is a public service, and rate-limits


class RegistryClient:
    """HEAD first (Ollama's desktop app does), GET and hash the body when HEAD says nothing."""

    def __init__(self, registry: str, *, timeout: float = 10.0) -> None:
        self.registry = registry.rstrip("/")
        self._timeout = timeout
        self._client: httpx.AsyncClient | None = None
        self.at_once = IN_FLIGHT
        self._limit = asyncio.Semaphore(IN_FLIGHT)
        self._answered: set[str] = set()  # registries that have answered once
        self._down: dict[str, tuple[str, float]] = {}  # registry → why, since (monotonic)
        self._probes: dict[str, asyncio.Lock] = {}

    @property
    def _http(self) -> httpx.AsyncClient:
        """Made on first use: most runs never ask the registry, and TLS set-up is not free."""
        if self._client is None:
            self._client = httpx.AsyncClient(
                timeout=self._timeout, headers={"Accept": MANIFEST_ACCEPT}, follow_redirects=True
            )
        return self._client

    async def aclose(self) -> None:
        if self._client is not None:
            await self._client.aclose()

    def url_for(self, name: str) -> str:
        """Default-registry names go to the configured registry; others to their own host."""
        parsed = parse_model_name(name)
        root = self.registry if parsed.host == DEFAULT_HOST else f"https://{parsed.host}"
        return f"{root}/{parsed.manifest_path()}"

    async def check(self, name: str) -> Upstream:
        """Until a registry has answered once, one check at a time goes to it: when it cannot
        be reached, the first failure answers the rest."""
        try:
            url = self.url_for(name)
        except InvalidModelName as exc:
            return Upstream(error=str(exc))
        root = url.partition("/v2/")[0]
        if root not in self._answered:
            async with self._probes.setdefault(root, asyncio.Lock()):
                if root not in self._answered and self._down_now(root) is None:
                    return await self._ask(root, url)
        if why := self._down_now(root):
            return Upstream(error=why)
        return await self._ask(root, url)

    async def _ask(self, root: str, url: str) -> Upstream:
        try:
            async with self._limit:
                answer = await self._digest(url)
        except httpx.HTTPError as exc:
            why = f"registry unreachable ({type(exc).__name__})"
            self._down[root] = (why, time.monotonic())
            self._answered.discard(root)  # probed again, one check first, once it is due
            return Upstream(error=why)
        self._answered.add(root)
        self._down.pop(root, None)
        return answer

    def _down_now(self, root: str) -> str | None:
        why, since = self._down.get(root, ("", 0.0))
        if why and time.monotonic() - since < DOWN_FOR_S:
            return why
        return None

    async def layers(self, name: str) -> dict[str, int] | None:
        """The blobs (digest -> size) a pull of ``name`` would fetch; None when the registry
        cannot say (then the pull itself will tell)."""
        try:
            async with self._limit:
                response = await self._http.get(self.url_for(name))
            if response.status_code >= 400 or len(response.content) > MAX_MANIFEST:
                return None
            manifest = json.loads(response.content)
            return {
                str(layer["digest"]): int(layer["size"])
                for layer in [manifest["config"], *manifest["layers"]]
            }
        except (httpx.HTTPError, InvalidModelName, ValueError, KeyError, TypeError):
            return None

    async def _digest(self, url: str) -> Upstream:
        head = await self._http.head(url)
        if head.status_code == 404:
            return _not_there()
        if head.status_code < 400 and (digest := _header_digest(head)):
            return Upstream(digest=digest)
        # HEAD refused (405), failed, or silent about the digest: the body's hash is the digest.
        async with self._http.stream("GET", url) as response:
            if response.status_code == 404:
                return _not_there()
            if response.status_code >= 400:
                return Upstream(error=f"registry answered {response.status_code}")
            if digest := _header_digest(response):
                return Upstream(digest=digest)
            body = bytearray()
            async for chunk in response.aiter_bytes():
                body += chunk
                if len(body) > MAX_MANIFEST:
                    return Upstream(error="registry sent something too big to be a manifest")
        if not body:
            return Upstream(error="registry sent an empty manifest")
        return Upstream(digest=hashlib.sha256(body).hexdigest())


def _header_digest(response: httpx.Response) -> str | None:
    value = response.headers.get("ollama-content-digest") or response.headers.get(
        "docker-content-digest", ""
    )
    return value.removeprefix("sha256:") or None


def _not_there() -> Upstream:
    return Upstream(error="not in the registry (a local or private model)", local=True)
