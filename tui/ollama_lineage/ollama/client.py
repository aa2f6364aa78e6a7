"""Async client for Ollama's JSON API: typed results, streamed progress, actionable errors."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

from ..core.spec import ModelSpec
from .listing import NotAListing, listed_models
from .plain_http import USER_AGENT, EarlyGet, PlainHttp, transport_problem

if TYPE_CHECKING:
    import httpx

T = TypeVar("T")
BLOB_PIECE = 1 << 20  # an upload is read and sent a MiB at a time


class OllamaError(Exception):
    """Anything the user should read: the message says what happened and what to do."""


class Unreachable(OllamaError):
    """No HTTP answer at all: refused, timed out, DNS, TLS; ``why`` is that cause alone."""

    def __init__(self, message: str, why: str = "") -> None:
        super().__init__(message)
        self.why = why


class ApiError(OllamaError):
    """Ollama answered with an error status or an ``{"error": …}`` line."""

    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


class NotFound(ApiError):
    """The model (or route) does not exist on the server."""


class ProtocolError(OllamaError):
    """The answer was not the JSON Ollama sends: a proxy, a truncated body, a wrong port."""


@dataclass(frozen=True, slots=True)
class TagEntry:
    """One row of ``/api/tags``: enough to notice that anything changed."""

    name: str
    digest: str
    size: int
    modified_at: str
    parent_model: str = ""
    family: str = ""
    parameter_size: str = ""
    quantization_level: str = ""
    remote_host: str = ""  # a cloud model: Ollama forwards it, there is nothing local to show

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> TagEntry:
        details = data.get("details") or {}
        return cls(
            name=str(data.get("name") or data.get("model") or ""),
            digest=str(data.get("digest") or "").removeprefix("sha256:"),
            size=int(data.get("size") or 0),
            modified_at=str(data.get("modified_at") or ""),
            parent_model=str(details.get("parent_model") or ""),
            family=str(details.get("family") or ""),
            parameter_size=str(details.get("parameter_size") or ""),
            quantization_level=str(details.get("quantization_level") or ""),
            remote_host=str(data.get("remote_host") or ""),
        )


@dataclass(frozen=True)
class Progress:
    """One streamed line of create or pull."""

    status: str
    digest: str = ""
    total: int | None = None
    completed: int | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Progress:
        total = data.get("total")
        return cls(
            status=str(data.get("status") or ""),
            digest=str(data.get("digest") or ""),
            total=int(total) if total is not None else None,
            completed=int(data.get("completed") or 0) if total is not None else None,
        )


@dataclass(frozen=True)
class GenerateChunk:
    """A streamed piece of ``/api/generate``; the last one carries Ollama's timings (ns)."""

    response: str
    done: bool
    eval_count: int = 0
    eval_duration: int = 0
    total_duration: int = 0
    load_duration: int = 0
    done_reason: str = ""  # "length": stopped at options.num_predict, not at its own end

    @property
    def tokens_per_second(self) -> float:
        return self.eval_count / self.eval_duration * 1e9 if self.eval_duration else 0.0

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> GenerateChunk:
        return cls(
            response=str(data.get("response") or ""),
            done=bool(data.get("done")),
            eval_count=int(data.get("eval_count") or 0),
            eval_duration=int(data.get("eval_duration") or 0),
            total_duration=int(data.get("total_duration") or 0),
            load_duration=int(data.get("load_duration") or 0),
            done_reason=str(data.get("done_reason") or ""),
        )


class OllamaClient:
    """One Ollama server, shared by the whole app.

    The listing and shows go through plain http.client threads; everything else (streams,
    copy, delete) through httpx, made and imported on first use: `status` never needs it.
    """

    def __init__(
        self, base_url: str, *, timeout: float = 30.0, early: EarlyGet | None = None
    ) -> None:
        self.base_url = base_url
        self._timeout = timeout
        self._plain = PlainHttp(
            base_url,
            timeout=timeout,
            decode=self._decode,
            raise_for=self._raise_status,
            early=early,
        )

    @cached_property
    def _http(self) -> httpx.AsyncClient:
        import httpx

        return httpx.AsyncClient(
            base_url=self.base_url,
            # Loading the CA bundle slows every start; plain http never needs it.
            verify=self.base_url.startswith("https:"),
            timeout=httpx.Timeout(self._timeout, connect=min(self._timeout, 5.0)),
            headers={"User-Agent": USER_AGENT},
            limits=httpx.Limits(max_connections=16, max_keepalive_connections=16),
        )

    async def __aenter__(self) -> OllamaClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        if "_http" in self.__dict__:
            await self._http.aclose()
        await asyncio.to_thread(self._plain.close)

    async def version(self) -> str:
        return str((await self._json("GET", "/api/version")).get("version", ""))

    async def tags(self) -> list[TagEntry]:
        return self.parse_tags(await self.tags_body())

    async def tags_body(self) -> bytes:
        """The raw listing: a quiet poll compares bytes and never parses them."""
        return await self._plainly(self._plain.request("GET", "/api/tags"))

    def parse_tags(self, body: bytes) -> list[TagEntry]:
        return list(self.iter_tags(body))

    def iter_tags(self, body: bytes) -> Iterator[TagEntry]:
        """Each model of a listing as it is decoded; an error may come after some were
        yielded, so a caller acts on none of them before the end."""
        text = body.decode("utf-8", "replace")
        try:
            for model in listed_models(text):
                if isinstance(model, Mapping):
                    yield self._tag(model)
        except NotAListing as exc:
            raise ProtocolError(
                f"Ollama at {self.base_url} sent {exc.what} for /api/tags"
                if exc.what
                else f"Ollama at {self.base_url} sent /api/tags without a model list"
            ) from None
        except ValueError:
            raise ProtocolError(
                f"Ollama at {self.base_url} sent malformed JSON for /api/tags: {text[:60]!r}"
            ) from None

    def _tag(self, model: Mapping[str, Any]) -> TagEntry:
        try:
            return TagEntry.from_json(model)
        except (AttributeError, TypeError, ValueError) as exc:
            raise ProtocolError(
                f"Ollama at {self.base_url} sent /api/tags with a malformed model entry: {exc}"
            ) from None

    async def show(self, name: str, *, with_shape: bool = False) -> ModelSpec:
        """Parsed here, once: the tensors and model_info of a real show never go further."""
        return await self._plainly(self._plain.show(name, with_shape=with_shape))

    async def _plainly(self, request: Awaitable[T]) -> T:
        """A plain-HTTP request whose failures below HTTP read as httpx's do."""
        try:
            return await request
        except OllamaError:
            raise
        except Exception as exc:
            why = transport_problem(exc)
            if why is None:
                raise
            raise self._cannot_reach(why) from exc

    async def copy(self, source: str, destination: str) -> None:
        await self._json("POST", "/api/copy", {"source": source, "destination": destination})

    async def delete(self, name: str) -> None:
        await self._json("DELETE", "/api/delete", {"model": name})

    async def has_blob(self, digest: str) -> bool:
        """``HEAD /api/blobs/:digest``: whether the server holds that blob already."""
        try:
            await self._plainly(self._plain.request("HEAD", f"/api/blobs/{digest}"))
        except NotFound:
            return False
        return True

    async def push_blob(
        self, digest: str, path: str, size: int, on_sent: Callable[[int], None] | None = None
    ) -> None:
        """``POST /api/blobs/:digest`` with the file's bytes, read and sent a piece at a time;
        Ollama keeps the blob only if its sha256 is ``digest``. ``on_sent``: bytes so far."""
        import httpx

        async def pieces() -> AsyncIterator[bytes]:
            sent = 0
            with open(path, "rb") as file:  # each read in a thread: the loop goes on meanwhile
                while piece := await asyncio.to_thread(file.read, BLOB_PIECE):
                    yield piece
                    sent += len(piece)
                    if on_sent:
                        on_sent(sent)

        # Ollama hashes the whole upload before it answers: no read timeout, as for streams.
        timeout = httpx.Timeout(self._timeout, connect=min(self._timeout, 5.0), read=None)
        try:
            response = await self._http.post(
                f"/api/blobs/{digest}",
                content=pieces(),
                headers={"Content-Length": str(size)},
                timeout=timeout,
            )
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc
        if response.status_code >= 400:
            self._raise_for(response)

    def create(self, request: Mapping[str, Any]) -> AsyncIterator[Progress]:
        return self._progress("/api/create", {**request, "stream": True})

    def pull(self, name: str) -> AsyncIterator[Progress]:
        return self._progress("/api/pull", {"model": name, "stream": True})

    async def generate(
        self,
        model: str,
        prompt: str,
        options: Mapping[str, Any] | None = None,
        keep_alive: float | None = None,
    ) -> AsyncIterator[GenerateChunk]:
        body = {"model": model, "prompt": prompt, "stream": True, "options": dict(options or {})}
        if keep_alive is not None:
            body["keep_alive"] = keep_alive
        async for line in self._stream("/api/generate", body):
            yield GenerateChunk.from_json(line)

    async def _progress(self, path: str, body: Mapping[str, Any]) -> AsyncIterator[Progress]:
        async for line in self._stream(path, body):
            try:
                progress = Progress.from_json(line)
            except (TypeError, ValueError) as exc:
                raise ProtocolError(
                    f"Ollama at {self.base_url} sent a malformed progress line for {path}: {exc}"
                ) from None
            yield progress

    async def _stream(self, path: str, body: Mapping[str, Any]) -> AsyncIterator[dict[str, Any]]:
        """Lines of a streamed answer. The answer must start within the timeout; after that
        a line may take as long as it takes (hashing a pull, loading a model)."""
        import httpx

        # Streams go silent for minutes (hashing a pull, loading a model): no read timeout.
        timeout = httpx.Timeout(self._timeout, connect=min(self._timeout, 5.0), read=None)
        request = self._http.build_request("POST", path, json=body, timeout=timeout)
        try:
            try:
                response = await asyncio.wait_for(
                    self._http.send(request, stream=True), self._timeout
                )
            except asyncio.TimeoutError:
                raise httpx.ReadTimeout("no answer", request=request) from None
            try:
                if response.status_code >= 400:
                    await response.aread()
                    self._raise_for(response)
                async for text in response.aiter_lines():
                    if not text.strip():
                        continue
                    line = self._decode(text, path)
                    if "error" in line:
                        raise ApiError(f"Ollama: {line['error']}", response.status_code)
                    yield line
            finally:
                await response.aclose()
        except httpx.TransportError as exc:
            raise self._unreachable(exc) from exc

    async def _json(
        self, method: str, path: str, body: Mapping[str, Any] | None = None
    ) -> dict[str, Any]:
        data = None if body is None else json.dumps(body).encode()
        answer = await self._plainly(self._plain.request(method, path, data))
        if not answer.strip():
            return {}
        return self._decode(answer.decode("utf-8", "replace"), path)

    def _decode(self, text: str, path: str) -> dict[str, Any]:
        try:
            data = json.loads(text)
        except ValueError:
            raise ProtocolError(
                f"Ollama at {self.base_url} sent malformed JSON for {path}: {text[:60]!r}"
            ) from None
        if not isinstance(data, dict):
            raise ProtocolError(f"Ollama at {self.base_url} sent {type(data).__name__} for {path}")
        return data

    def _raise_for(self, response: httpx.Response) -> None:
        self._raise_status(response.status_code, response.text, response.reason_phrase)

    def _raise_status(self, status: int, text: str, reason: str) -> None:
        try:
            message = str(json.loads(text).get("error") or text)
        except (ValueError, AttributeError):
            message = text.strip() or reason
        error = NotFound if status == 404 else ApiError
        raise error(f"Ollama: {message}", status)

    def _unreachable(self, exc: httpx.TransportError) -> Unreachable:
        import httpx

        if isinstance(exc, httpx.TimeoutException):
            why = "timed out"
        elif isinstance(exc, httpx.RemoteProtocolError):
            why = "the connection dropped mid-answer"
        else:
            why = str(exc) or type(exc).__name__
        return self._cannot_reach(why)

    def _cannot_reach(self, why: str) -> Unreachable:
        return Unreachable(
            f"cannot reach Ollama at {self.base_url} ({why}); "
            "is `ollama serve` running? Set --host or OLLAMA_HOST.",
            why,
        )
