"""A model put on another server from what makes it here.

A derivative is a few KB of recipe on top of a base, so with its base in place there, copying
it is one create (whole-model copiers move gigabytes). Bases go first: already there with the
same digest, else pulled there from their registry, else (made here from a file) their blobs
sent through Ollama's blob API from this server's models folder and the base created there
from the same layers, which gives the same digest. A base there under another digest is never
overwritten. Each model ends compared with this server's: the same digest, or why not.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from ..core.disk import human_bytes
from ..core.lineage import Kind, Upstream
from ..core.modelfile import parse_modelfile
from ..ollama.client import OllamaError
from ..ollama.models_dir import MEDIA, ModelsDir
from .rebuild import RebuildError, Refused
from .recipes import as_listed, create_model
from .session import Session
from .store import StoredRecipe

THERE, PULL, BLOBS, CREATE, REPLACE = "there", "pull", "blobs", "create", "replace"
# Layers Ollama's create makes again from the weights' files; the rest from request fields.
_FILES = ("model", "projector")
OnSent = Callable[[str, int, int], None]  # digest, bytes sent so far, its size


@dataclass(frozen=True)
class Step:
    name: str
    how: str
    digest: str  # on the source server
    why: str = ""

    def line(self, target: str) -> str:
        said = {
            THERE: f"already on {target} ({self.digest[:12]})",
            PULL: f"pull on {target} from its registry",
            BLOBS: f"send its blobs to {target}, then create it there from them",
            CREATE: f"create on {target} from its recipe",
            REPLACE: f"create on {target} from its recipe, backing up what is there",
        }[self.how]
        return f"{self.name}: {said}" + (f" ({self.why})" if self.why else "")


@dataclass(frozen=True)
class CopyPlan:
    name: str
    steps: tuple[Step, ...]


@dataclass(frozen=True)
class Done:
    line: str
    same: bool  # the model on the target has the source's digest


class Copier:
    def __init__(self, source: Session, target: Session) -> None:
        self.source, self.target = source, target
        self.here, self.there = source.settings.label, target.settings.label
        self._models: ModelsDir | None = None
        self._models_known = False  # whether ``_models`` was worked out yet (None is an answer)

    async def plan(self, name: str, *, with_children: bool = False) -> CopyPlan:
        """Bases before derivatives; refused (nothing sent) when a step cannot be done."""
        snapshot = self.source.syncer.snapshot
        name = self.source.syncer.resolve(name)
        node = snapshot.nodes.get(name)
        if node is None or node.facts is None:
            raise Refused(f"no model {name} on {self.here}")
        if node.kind is Kind.BACKUP:
            raise Refused(f"{name} is a backup; copy the model it backs up")
        chain = [name]
        while snapshot.nodes[chain[0]].kind is Kind.DERIVATIVE:
            base = snapshot.nodes[chain[0]].base
            if base is None or base in chain:
                break
            chain.insert(0, base)
        if with_children:
            chain += [n.name for n in snapshot.descendants(name) if n.kind is Kind.DERIVATIVE]
        recipes = await self.source.store.recipes(self.source.settings.host_key)
        folder = await self._folder()
        bases = [  # what a pull might bring: a derivative without a recipe is refused below
            n
            for n in chain
            if snapshot.nodes[n].kind is not Kind.DERIVATIVE and self._digest_there(n) is None
        ]
        upstream = await self.source.upstream.check(bases) if bases else {}
        steps = [self._step(n, recipes, upstream.get(n), folder is not None) for n in chain]
        if any(s.how == BLOBS for s in steps) and folder is None:
            base = next(s.name for s in steps if s.how == BLOBS)
            raise Refused(
                f"{base} was made on {self.here} from a file, so its weights can only be sent"
                f" from {self.here}'s models folder: give its models_dir (hosts file) or"
                " --models-dir"
            )
        return CopyPlan(name, tuple(steps))

    def _step(
        self,
        name: str,
        recipes: Mapping[str, StoredRecipe],
        registry: Upstream | None,
        folder: bool,
    ) -> Step:
        """``registry``: what the registry said of a base the target lacks; ``folder``: this
        server's models folder can be read, so blobs can be sent from it."""
        node = self.source.syncer.snapshot.nodes[name]
        if node.facts is None:
            raise Refused(f"{name} is not on {self.here}, so nothing built on it can be copied")
        digest = node.facts.digest
        there = self._digest_there(name)
        if there == digest:
            return Step(name, THERE, digest)
        if node.kind is Kind.DERIVATIVE:
            if name not in recipes:
                raise Refused(
                    f"{name} has no recipe on {self.here}: adopt it there first"
                    f" (ollama-lineage track {name} --from {node.base})"
                )
            if there is not None:
                why = f"{self.there} has it as {there[:12]}, from another recipe"
                return Step(name, REPLACE, digest, why)
            return Step(name, CREATE, digest)
        if there is not None:
            raise Refused(
                f"{self.there} has {name} as {there[:12]}, not {digest[:12]} as {self.here} has"
                f" it: a base is never overwritten; update it there yourself (pull it there, or"
                f" `ollama rm {name}` there and copy again), then rebuild there what is built"
                " on it"
            )
        if registry is not None and registry.local:
            return Step(name, BLOBS, digest, f"made on {self.here}; no registry has it")
        if registry is not None and registry.digest not in (None, digest):
            moved = f"its registry has moved on to {str(registry.digest)[:12]}"
            if folder:
                return Step(name, BLOBS, digest, f"{moved}; this version goes by its blobs")
            return Step(name, PULL, digest, f"{moved}: what is built on it there will differ")
        return Step(name, PULL, digest)

    def _digest_there(self, name: str) -> str | None:
        node = self.target.syncer.snapshot.nodes.get(self.target.syncer.resolve(name))
        return node.facts.digest if node is not None and node.facts is not None else None

    async def _folder(self) -> ModelsDir | None:
        """This server's models folder, if provably its own: proving it reads every listed
        manifest, so it is done once a run, not at each step that may send blobs."""
        if not self._models_known:
            space = self.source.rebuilder.space
            folder = await space.local() if space is not None else None
            self._models = ModelsDir(folder) if folder is not None else None
            self._models_known = True
        return self._models

    async def do(self, step: Step, on_sent: OnSent | None = None) -> Done:
        """One step; a failure raises RebuildError with what is left as it was."""
        if step.how == THERE:
            return Done(f"{step.name}: already on {self.there} ({step.digest[:12]})", True)
        if step.how == PULL:
            return await self._pull(step, on_sent)
        if step.how == BLOBS:
            return await self._by_blobs(step, on_sent)
        return await self._derivative(step, on_sent)

    async def _pull(self, step: Step, on_sent: OnSent | None) -> Done:
        try:
            got = await self.target.rebuilder.pull(step.name)
        except RebuildError as exc:
            if await self._folder() is None:
                raise
            done = await self._by_blobs(step, on_sent)
            return Done(f"{done.line} (the pull there failed: {exc})", done.same)
        if got == step.digest:
            return Done(
                f"{step.name}: pulled on {self.there} ({got[:12]}), as on {self.here}", True
            )
        return Done(
            f"{step.name}: pulled on {self.there} as {got[:12]}; {self.here} has {step.digest[:12]}"
            " (the registry has moved on): what is built on it there is built on that one",
            False,
        )

    async def _by_blobs(self, step: Step, on_sent: OnSent | None) -> Done:
        folder = await self._folder()
        manifest = folder.manifest(step.name, step.digest) if folder else None
        if folder is None or manifest is None:
            raise RebuildError(
                f"{step.name}'s manifest is not in {self.here}'s models folder as the server"
                " lists it; nothing was sent"
            )
        request, blobs = base_request(folder, manifest, self.target.syncer.resolve(step.name))
        await self._send(folder, blobs, on_sent)
        digest = await self._create(step.name, request)
        return self._compared(step, digest, "created from the blobs sent")

    async def _derivative(self, step: Step, on_sent: OnSent | None) -> Done:
        host = self.source.settings.host_key
        stored = (await self.source.store.recipes_of(host, [step.name]))[step.name]
        recipe = as_listed(self.target, parse_modelfile(stored.text))
        lacking = [a for a in recipe.adapters if not await self.target.client.has_blob(a)]
        if lacking:
            folder = await self._folder()
            if folder is None:
                raise Refused(
                    f"{step.name} has an adapter {self.there} lacks, and its blob can only be"
                    f" sent from {self.here}'s models folder: give its models_dir"
                )
            sizes = {a: os.path.getsize(folder.blob_path(a)) for a in lacking}
            await self._send(folder, sizes, on_sent)
        if step.how == CREATE:
            digest = await create_model(self.target, step.name, recipe)
            return self._compared(step, digest, "created")
        rebuilder = self.target.rebuilder
        await rebuilder.track(step.name, recipe.base, recipe.to_modelfile(), force=True)
        plan = await rebuilder.plan(step.name)
        digest = await rebuilder.run(plan)
        return self._compared(step, digest, f"created; what was there is {plan.backup}")

    async def _send(
        self, folder: ModelsDir, blobs: Mapping[str, int], on_sent: OnSent | None
    ) -> None:
        """Only the blobs the target lacks (``HEAD`` first); each checked by Ollama on arrival."""
        client = self.target.client
        lacking = {d: size for d, size in blobs.items() if not await client.has_blob(d)}
        space = self.target.rebuilder.space
        if space is not None:  # the other server's folder, when it is here too
            await space.ensure(
                sum(lacking.values()), f"sending {len(lacking)} blob(s) to {self.there}"
            )
        for digest, size in lacking.items():
            sent = 0

            def progress(count: int, digest: str = digest, size: int = size) -> None:
                nonlocal sent
                sent = count
                if on_sent:
                    on_sent(digest, count, size)

            try:
                await client.push_blob(digest, folder.blob_path(digest), size, progress)
            except (OllamaError, OSError) as exc:
                raise RebuildError(
                    f"sending {digest[:19]} ({human_bytes(size)}) to {self.there} stopped at"
                    f" {human_bytes(sent)}: {exc}; nothing was created there (Ollama may keep"
                    " what it received as a temporary file in its blobs folder: `disk` on that"
                    " server lists it)"
                ) from exc

    async def _create(self, name: str, request: Mapping[str, Any]) -> str:
        """A base's create on the target, recorded in its History."""
        target, host = self.target, self.target.settings.host_key
        event = await target.store.start_event(host, name, "create")
        log: list[str] = []
        try:
            async for progress in target.client.create(request):
                log.append(progress.status)
        except OllamaError as exc:
            await target.store.finish_event(event, "failed", error=str(exc), log="\n".join(log))
            raise RebuildError(f"create of {name} on {self.there} failed: {exc}") from exc
        except BaseException:
            await target.store.finish_event(event, "cancelled", log="\n".join(log))
            raise
        await target.syncer.poll()
        digest = self._digest_there(name) or ""
        await target.store.finish_event(event, "success", digest_after=digest, log="\n".join(log))
        return digest

    def _compared(self, step: Step, digest: str, what: str) -> Done:
        if digest == step.digest:
            return Done(
                f"{step.name}: {what} on {self.there} ({digest[:12]}), as on {self.here}", True
            )
        return Done(
            f"{step.name}: {what} on {self.there} as {digest[:12]}; {self.here} has"
            f" {step.digest[:12]}: not the same model (a base that differs there, or a recipe"
            " that does not make it exactly)",
            False,
        )


def base_request(
    folder: ModelsDir, manifest: Mapping[str, Any], name: str
) -> tuple[dict[str, Any], dict[str, int]]:
    """The create request that makes a file-made base again from its manifest's layers, and
    the blobs it needs there (digest → size). Weights go as files; template, system, licenses,
    parameters and messages as the fields Ollama writes those layers from."""
    request: dict[str, Any] = {"model": name}
    files: dict[str, str] = {}
    adapters: dict[str, str] = {}
    blobs: dict[str, int] = {}
    for layer in manifest["layers"]:
        kind, digest = str(layer["mediaType"]).removeprefix(MEDIA), str(layer["digest"])
        if kind in _FILES or kind == "adapter":
            (files if kind in _FILES else adapters)[f"{digest.replace(':', '-')}.gguf"] = digest
            blobs[digest] = int(layer["size"])
        elif kind in ("template", "system"):
            request[kind] = folder.text(layer)
        elif kind == "license":
            request.setdefault("license", []).append(folder.text(layer))
        elif kind in ("params", "messages"):
            request["parameters" if kind == "params" else kind] = json.loads(folder.text(layer))
        else:
            raise Refused(
                f"{name} has a {layer['mediaType']} layer, which Ollama's create cannot make"
                " from a request; nothing was sent"
            )
    config = folder.config(manifest)
    for key in ("renderer", "parser", "requires"):
        if config.get(key):
            request[key] = config[key]
    request["files"] = files
    if adapters:
        request["adapters"] = adapters
    return request, blobs
