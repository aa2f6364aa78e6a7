"""Rebuild, pull, roll back: every change to the server goes through here and is recorded."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from ..core.diff import DiffRow, side_by_side
from ..core.lineage import NEEDS_REBUILD, Kind, Link
from ..core.modelfile import ModelfileError, Recipe, parse_modelfile
from ..core.names import backup_name, parse_model_name
from ..core.overrides import full_spec, predict_after, with_weights
from ..ollama.client import OllamaClient, OllamaError, Progress
from .store import StoredRecipe
from .sync import Syncer

ProgressCallback = Callable[[Progress], None]
# Recipes in the store were written by this app from what the server holds, so a model with a
# multi-megabyte template must still rebuild; the 1 MB default guards files people hand us.
STORED_RECIPE_LIMIT = 64 * 1024 * 1024


class RebuildError(Exception):
    """Why a rebuild, pull or rollback cannot go ahead (or did not work); nothing was lost."""


@dataclass(frozen=True)
class Plan:
    """Everything the confirm dialog shows, and exactly the request that will be sent."""

    child: str
    base: str
    base_digest: str
    recipe: Recipe
    guessed: bool
    backup: str
    current: Recipe
    after: Recipe
    request: dict[str, Any] = field(default_factory=dict)
    stale_base: str | None = None  # the base is itself out of date: rebuild it first
    weights_before: str | None = None
    weights_after: str | None = None

    @property
    def current_text(self) -> str:
        return with_weights(self.current, self.weights_before)

    @property
    def after_text(self) -> str:
        return with_weights(self.after, self.weights_after)

    @property
    def diff(self) -> list[DiffRow]:
        return side_by_side(self.current_text, self.after_text)


class Rebuilder:
    """Plans and runs changes; the Syncer is refreshed after each so the tree follows."""

    def __init__(self, syncer: Syncer, *, keep_backups: int = 1) -> None:
        self.syncer = syncer
        self.keep_backups = max(1, keep_backups)

    @property
    def client(self) -> OllamaClient:
        return self.syncer.client

    @property
    def host(self) -> str:
        return self.syncer.host

    async def recipe(self, name: str) -> StoredRecipe:
        recipes = await self.syncer.store.recipes(self.host)
        if name not in recipes:
            node = self.syncer.snapshot.nodes.get(name)
            why = node.reason if node else "the server does not list it"
            raise RebuildError(f"{name} has no recipe to rebuild from ({why}); track it with t")
        return recipes[name]

    async def plan(self, name: str, *, now: datetime | None = None) -> Plan:
        stored = await self.recipe(name)
        try:
            recipe = parse_modelfile(stored.text, max_bytes=STORED_RECIPE_LIMIT)
        except ModelfileError as exc:
            raise RebuildError(f"the stored recipe of {name} does not parse: {exc}") from exc
        snapshot = self.syncer.snapshot
        base_node = snapshot.nodes.get(recipe.base)
        if base_node is None or base_node.facts is None:
            raise RebuildError(f"{name}'s base {recipe.base} is not on the server; pull it first")
        child_show = await self.syncer.show(name)
        base_show = await self.syncer.show(recipe.base)
        return Plan(
            child=name,
            base=recipe.base,
            base_digest=base_node.facts.digest,
            recipe=recipe,
            guessed=stored.link.guessed,
            backup=backup_name(name, now or datetime.now()),
            current=full_spec(child_show.raw, recipe.base),
            after=predict_after(base_show.raw, recipe),
            request=recipe.create_request(name),
            stale_base=recipe.base if base_node.state in NEEDS_REBUILD else None,
            weights_before=child_show.weights_blob,
            weights_after=base_show.weights_blob,
        )

    async def run(self, plan: Plan, on_progress: ProgressCallback | None = None) -> str:
        """Backup, create, record; on failure the old model and the backup stay as they were."""
        store, host = self.syncer.store, self.host
        for name in (plan.child, plan.base, plan.backup):
            parse_model_name(name)
        before = self._digest(plan.child)
        old = await self.recipe(plan.child)
        event = await store.start_event(
            host,
            plan.child,
            "build",
            base=plan.base,
            base_digest=plan.base_digest,
            digest_before=before,
            backup=plan.backup,
        )
        log: list[str] = []
        self.syncer.building.add(plan.child)
        await self.syncer.refresh()
        try:
            await self.client.copy(plan.child, plan.backup)
            await store.add_backup(host, plan.backup, plan.child)
            await store.save_recipes(
                host, [StoredRecipe(_relink(old.link, plan.backup, old.link.base_digest), old.text)]
            )
            log.append(f"backed up {plan.child} as {plan.backup}")
            async for progress in self.client.create(plan.request):
                log.append(progress.status)
                if on_progress:
                    on_progress(progress)
        except asyncio.CancelledError:
            await store.finish_event(event, "cancelled", log="\n".join(log))
            raise
        except OllamaError as exc:
            await store.finish_event(event, "failed", error=str(exc), log="\n".join(log))
            # The tree must say `failed` now, not `building` until some later refresh.
            self.syncer.building.discard(plan.child)
            await self.syncer.refresh()
            raise RebuildError(f"rebuild of {plan.child} failed, old model kept: {exc}") from exc
        finally:
            self.syncer.building.discard(plan.child)
        recipe_text = plan.recipe.to_modelfile()
        new_link = Link(plan.child, plan.base, plan.base_digest, "recorded", guessed=False)
        await store.save_recipes(host, [StoredRecipe(new_link, recipe_text)])
        await self.syncer.poll()
        after = self._digest(plan.child)
        await store.finish_event(event, "success", digest_after=after, log="\n".join(log))
        await self._prune_backups(plan.child)
        await self.syncer.refresh()
        return after or ""

    async def rollback(self, name: str) -> str:
        """Copy the newest backup back over the model, with the recipe it had then."""
        store, host = self.syncer.store, self.host
        backups = await store.backups_of(host, name)
        if not backups:
            raise RebuildError(f"{name} has no backup to roll back to")
        backup = backups[-1]
        recipes = await store.recipes(host)
        event = await store.start_event(
            host, name, "rollback", digest_before=self._digest(name), backup=backup
        )
        try:
            await self.client.copy(backup, name)
        except OllamaError as exc:
            await store.finish_event(event, "failed", error=str(exc))
            raise RebuildError(f"rollback of {name} failed: {exc}") from exc
        if backup in recipes:
            saved = recipes[backup]
            await store.save_recipes(
                host, [StoredRecipe(_relink(saved.link, name, saved.link.base_digest), saved.text)]
            )
        await self.syncer.poll()
        after = self._digest(name)
        await store.finish_event(event, "success", digest_after=after)
        await self.syncer.refresh()
        return after or ""

    async def delete_backup(self, backup: str) -> None:
        store, host = self.syncer.store, self.host
        backups = await store.backups(host)
        if backup not in backups:
            raise RebuildError(f"{backup} is not a backup this app made; delete it with ollama rm")
        original = backups[backup]
        if original not in self.syncer.snapshot.nodes or self._digest(original) is None:
            raise RebuildError(f"{backup} is the only copy of {original}; roll back instead")
        event = await store.start_event(
            host, original, "delete backup", backup=backup, digest_before=self._digest(backup)
        )
        try:
            await self.client.delete(backup)
        except OllamaError as exc:
            await store.finish_event(event, "failed", error=str(exc))
            raise RebuildError(f"could not delete {backup}: {exc}") from exc
        await store.remove_backup(host, backup)
        await store.finish_event(event, "success")
        await self.syncer.poll()
        await self.syncer.refresh()

    async def pull(self, name: str, on_progress: ProgressCallback | None = None) -> str:
        parse_model_name(name)
        store = self.syncer.store
        event = await store.start_event(self.host, name, "pull", digest_before=self._digest(name))
        log: list[str] = []
        try:
            async for progress in self.client.pull(name):
                if not log or log[-1] != progress.status:
                    log.append(progress.status)
                if on_progress:
                    on_progress(progress)
        except OllamaError as exc:
            await store.finish_event(event, "failed", error=str(exc), log="\n".join(log))
            raise RebuildError(f"pull of {name} failed: {exc}") from exc
        except asyncio.CancelledError:
            await store.finish_event(event, "cancelled", log="\n".join(log))
            raise
        await self.syncer.poll()
        after = self._digest(name)
        await store.finish_event(event, "success", digest_after=after, log="\n".join(log))
        return after or ""

    async def track(self, child: str, base: str, recipe_text: str | None = None) -> StoredRecipe:
        """Adopt ``child`` as built from ``base``: from a Modelfile, or from the difference."""
        from ..core.overrides import derive_recipe

        for name in (child, base):
            parse_model_name(name)
        nodes = self.syncer.snapshot.nodes
        for name in (child, base):
            node = nodes.get(name)
            if node is None or node.facts is None:
                raise RebuildError(f"{name} is not on the server")
        if recipe_text is not None:
            recipe = parse_modelfile(recipe_text)
            if recipe.base != base:
                raise RebuildError(f"the Modelfile says FROM {recipe.base}, not {base}")
        else:
            child_show = await self.syncer.show(child)
            recipe = derive_recipe(child_show.raw, (await self.syncer.show(base)).raw, base)
        existing = (await self.syncer.store.recipes(self.host)).get(child)
        if existing is not None and existing.link.base == base:
            # A new recipe for the same base: what the model was built from has not changed.
            link = _relink(existing.link, child, existing.link.base_digest)
        else:
            child_facts, base_facts = nodes[child].facts, nodes[base].facts
            assert child_facts is not None and base_facts is not None
            same_weights = child_facts.weights_blob == base_facts.weights_blob
            built_from = base_facts.digest if same_weights else None
            link = Link(child, base, built_from, "recorded", guessed=not same_weights)
        stored = StoredRecipe(link, recipe.to_modelfile())
        await self.syncer.store.save_recipes(self.host, [stored])
        await self.syncer.refresh()
        return stored

    async def _prune_backups(self, original: str) -> None:
        """Keep the newest ``keep_backups`` backups of a model; older ones go."""
        backups = await self.syncer.store.backups_of(self.host, original)
        for backup in backups[: -self.keep_backups]:
            await self.delete_backup(backup)

    def _digest(self, name: str) -> str | None:
        node = self.syncer.snapshot.nodes.get(name)
        return node.facts.digest if node and node.facts and node.kind is not Kind.MISSING else None


def _relink(link: Link, child: str, base_digest: str | None) -> Link:
    return Link(child, link.base, base_digest, "recorded", link.guessed)
