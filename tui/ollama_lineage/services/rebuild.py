"""Rebuild, pull, roll back: every change to the server goes through here and is recorded."""

from __future__ import annotations

import asyncio
import contextlib
import difflib
from collections.abc import Awaitable, Callable, Mapping
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.diff import DiffRow, side_by_side
from ..core.lineage import NEEDS_REBUILD, Kind, Link
from ..core.modelfile import ModelfileError, Recipe, parse_modelfile
from ..core.names import backup_name, parse_model_name
from ..core.overrides import derive_recipe, full_spec, predict, verify, with_weights
from ..core.spec import ModelSpec
from ..ollama.client import OllamaClient, OllamaError, Progress
from .lock import Holder, acquire
from .store import StoredRecipe
from .sync import Syncer

if TYPE_CHECKING:
    from .space import Space

ProgressCallback = Callable[[Progress], None]
# The blobs (digest -> size) a pull of a name would fetch, as its registry says (None: unknown).
Layers = Callable[[str], Awaitable[Mapping[str, int] | None]]
# Recipes in the store were written by this app from what the server holds, so a model with a
# multi-megabyte template must still rebuild; the 1 MB default guards files people hand us.
STORED_RECIPE_LIMIT = 64 * 1024 * 1024


class RebuildError(Exception):
    """Why a rebuild, pull or rollback cannot go ahead (or did not work); nothing was lost."""


class Refused(RebuildError):
    """Asked for something that cannot be done as asked (no recipe, no backup, a base that is
    not there): refused before anything was sent, so the command line exits 2, not 1."""


class ForeignWeights(Refused):
    """``track`` refused: the child never had the base's weights; ``force`` adopts anyway."""


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
    expected: ModelSpec = field(default_factory=ModelSpec)  # what the server must hold after
    base_weights: str | None = None
    base_moved: bool = False  # the base is not the version the child was built from

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

    def __init__(
        self,
        syncer: Syncer,
        *,
        keep_backups: int = 1,
        space: Space | None = None,
        layers: Layers | None = None,
    ) -> None:
        self.syncer = syncer
        self.keep_backups = max(1, keep_backups)
        self.space = space
        self.layers = layers

    @property
    def client(self) -> OllamaClient:
        return self.syncer.client

    @property
    def host(self) -> str:
        return self.syncer.host

    def writing(self, command: str) -> AbstractAsyncContextManager[Holder]:
        """The server's writer lock; a CLI writer holds it already for its whole run."""
        return acquire(Path(self.syncer.store.path), self.host, command)

    async def recipe(self, name: str) -> StoredRecipe:
        stored = (await self.syncer.store.recipes_of(self.host, [name])).get(name)
        if stored is None:
            raise Refused(self._no_recipe(name))
        return stored

    def _no_recipe(self, name: str) -> str:
        node = self.syncer.snapshot.nodes.get(name)
        why = node.reason if node else "the server does not list it"
        return f"{name} has no recipe to rebuild from ({why})"

    async def plan(self, name: str, *, now: datetime | None = None) -> Plan:
        found = (await self.plans([name], now=now))[name]
        if isinstance(found, Exception):
            raise found
        return found

    async def plans(
        self, names: list[str], *, now: datetime | None = None
    ) -> dict[str, Plan | Exception]:
        """Each model's plan, or why it has none: the recipes in one query and the shows from
        the cache in one more, so ``R`` over a whole fleet costs two reads, not two a model."""
        stored = await self.syncer.store.recipes_of(self.host, names)
        snapshot = self.syncer.snapshot
        found: dict[str, Plan | Exception] = {}
        ready: dict[str, tuple[StoredRecipe, Recipe]] = {}
        for name in names:
            try:
                recipe = self._parse(name, stored.get(name))  # no recipe: RebuildError
                ready[name] = (stored[name], recipe)
            except RebuildError as exc:
                found[name] = exc
        wanted = [n for name, (_, recipe) in ready.items() for n in (name, recipe.base)]
        specs, failed = await self._shows(wanted)
        when = now or datetime.now()
        for name, (link, recipe) in ready.items():
            if (problem := failed.get(name) or failed.get(recipe.base)) is not None:
                found[name] = problem
                continue
            base_node = snapshot.nodes[recipe.base]
            assert base_node.facts is not None  # _parse checked it
            child_spec, base_spec = specs[name], specs[recipe.base]
            expected = predict(base_spec, recipe)
            found[name] = Plan(
                child=name,
                base=recipe.base,
                base_digest=base_node.facts.digest,
                recipe=recipe,
                guessed=link.link.guessed,
                backup=self._free_backup_name(name, when),
                current=full_spec(child_spec, recipe.base),
                after=full_spec(expected, recipe.base),
                request=recipe.create_request(name),
                stale_base=recipe.base if base_node.state in NEEDS_REBUILD else None,
                weights_before=child_spec.weights,
                weights_after=expected.weights,
                expected=expected,
                base_weights=base_spec.weights,
                base_moved=link.link.base_digest != base_node.facts.digest,
            )
        return {name: found[name] for name in names}

    async def _shows(self, names: list[str]) -> tuple[dict[str, ModelSpec], dict[str, OllamaError]]:
        """All in one go; if the server fails one, each alone, so only its plans lack it."""
        try:
            return await self.syncer.shows(names), {}
        except OllamaError:
            specs, failed = {}, {}
            for name in dict.fromkeys(names):
                try:
                    specs[name] = await self.syncer.show(name)
                except OllamaError as exc:
                    failed[name] = exc
            return specs, failed

    def _parse(self, name: str, stored: StoredRecipe | None) -> Recipe:
        if stored is None:
            raise Refused(self._no_recipe(name))
        try:
            recipe = parse_modelfile(stored.text, max_bytes=STORED_RECIPE_LIMIT)
        except ModelfileError as exc:
            raise Refused(f"the stored recipe of {name} does not parse: {exc}") from exc
        base_node = self.syncer.snapshot.nodes.get(recipe.base)
        if base_node is None or base_node.facts is None:
            raise Refused(f"{name}'s base {recipe.base} is not on the server; pull it first")
        return recipe

    async def run(self, plan: Plan, on_progress: ProgressCallback | None = None) -> str:
        async with self.writing(f"rebuild {plan.child}"):
            return await self._run(plan, on_progress)

    async def _run(self, plan: Plan, on_progress: ProgressCallback | None) -> str:
        """Backup, create, record; on failure the old model and the backup stay as they were."""
        store, host = self.syncer.store, self.host
        for name in (plan.child, plan.base, plan.backup):
            parse_model_name(name)
        before = self._digest(plan.child)
        old = await self.recipe(plan.child)
        if self.space is not None:
            node = self.syncer.snapshot.nodes[plan.child]
            size = node.facts.size if node.facts else 0
            await self.space.before_rebuild(plan.child, plan.request.get("quantize"), size)
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
        # How far it got: "backup" (nothing changed yet), "create" (the model may be
        # replaced: an end here puts the backup back), "verified", then "recorded".
        step = "backup"
        await self.syncer.set_building(plan.child, True)
        try:
            try:
                await self.client.copy(plan.child, plan.backup)
                await store.add_backup(host, plan.backup, plan.child)
                await store.save_recipes(
                    host,
                    [StoredRecipe(_relink(old.link, plan.backup, old.link.base_digest), old.text)],
                )
                log.append(f"backed up {plan.child} as {plan.backup}")
                step = "create"
                async for progress in self.client.create(plan.request):
                    log.append(progress.status)
                    if on_progress:
                        on_progress(progress)
            except OllamaError as exc:
                kept = await self._keep_old(plan, before, log)
                said = f"rebuild of {plan.child} failed, {kept}: {exc}"
                left = None
                if step == "backup" and self.space is not None:  # the copy ran out of room?
                    left = await self.space.empty_manifest_left(plan.backup)
                if left:
                    log.append(left)
                    said += f"; {left}"
                step = "recorded"
                await store.finish_event(event, "failed", error=str(exc), log="\n".join(log))
                raise RebuildError(said) from exc
            try:
                got = await self.client.show(plan.child)
            except OllamaError as exc:
                step = "recorded"
                why = f"could not be verified: the new model's show failed ({exc})"
                return await self._restore(plan, event, log, why)
            mismatches = verify(
                plan.expected,
                got,
                base_weights=plan.base_weights,
                replaced_weights=plan.weights_before if plan.base_moved else None,
            )
            if mismatches:
                step = "recorded"
                differs = "; ".join(map(str, mismatches))
                why = f"did not produce what the plan said ({differs})"
                return await self._restore(plan, event, log, why)
            step = "verified"
            recipe_text = plan.recipe.to_modelfile()
            new_link = Link(plan.child, plan.base, plan.base_digest, "recorded", guessed=False)
            await store.save_recipes(host, [StoredRecipe(new_link, recipe_text)])
            # Still `building` until the new digest is recorded, or a poll in between would
            # see a digest this app does not know yet and call the model drifted.
            await self.syncer.poll()
            after = self._digest(plan.child)
            unchanged = after is not None and after == before
            if unchanged:
                # The backup is the live model itself: keeping it, or pruning older backups
                # to make room for it, would throw away the one copy of an older version.
                log.append("unchanged: the create gave the digest the model already had")
                await self._discard_backup(plan.backup, log)
            step = "recorded"
            await store.finish_event(event, "success", digest_after=after, log="\n".join(log))
        except BaseException as exc:
            if step != "recorded":  # ended by something else than a server's answer
                await self._end_early(plan, event, log, step, exc)
            raise
        finally:
            # The tree must say `failed` (or `fresh`) now, not `building` until a refresh.
            await self.syncer.set_building(plan.child, False)
        if not unchanged:
            await self._prune_backups(plan.child)
        await self.syncer.refresh()
        return after or ""

    async def _discard_backup(self, backup: str, log: list[str]) -> None:
        try:
            await self.client.delete(backup)
        except OllamaError as exc:
            log.append(f"could not delete the backup {backup}: {exc}")
            return
        await self.syncer.store.remove_backup(self.host, backup)
        log.append(f"deleted {backup}, the same as the model")
        await self.syncer.poll()

    async def _keep_old(self, plan: Plan, before: str | None, log: list[str]) -> str:
        """A failed create can still have hit the model: Ollama truncates a manifest before
        writing it, so a full disk there leaves the model unlisted. Put the backup back then."""
        try:
            await self.syncer.poll()
        except OllamaError:
            return "old model kept"  # as far as can be told: the server cannot be asked now
        if self._digest(plan.child) == before:
            return "old model kept"
        try:
            await self.client.copy(plan.backup, plan.child)
            await self.syncer.poll()
        except OllamaError as exc:
            log.append(f"restoring {plan.child} from {plan.backup} failed: {exc}")
            return f"and restoring it failed ({exc}): roll back from {plan.backup}"
        log.append(f"restored {plan.child} from {plan.backup}")
        return f"old model restored from {plan.backup}"

    async def _end_early(
        self, plan: Plan, event: int, log: list[str], step: str, exc: BaseException
    ) -> None:
        """Interrupted (Ctrl-C, SIGTERM, a cancelled worker) or a bug: a model the create may
        have replaced, unverified, gets its backup back; the event says what happened."""
        interrupted = isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt))
        if step == "create":
            try:
                await self.client.copy(plan.backup, plan.child)
                log.append(f"restored {plan.child} from {plan.backup}")
            except OllamaError as failed:
                log.append(f"restoring it failed ({failed}); roll back from {plan.backup}")
        with contextlib.suppress(OllamaError):
            await self.syncer.poll()
        await self.syncer.store.finish_event(
            event,
            "interrupted" if interrupted else "failed",
            error=None if interrupted else f"{type(exc).__name__}: {exc}",
            log="\n".join(log),
            digest_after=self._digest(plan.child),
        )

    async def _restore(self, plan: Plan, event: int, log: list[str], why: str) -> str:
        """The create made something else than planned, or something nobody could check: put
        the backup back, say why."""
        store = self.syncer.store
        log.append(f"verification failed: {why}")
        try:
            await self.client.copy(plan.backup, plan.child)
            log.append(f"restored {plan.child} from {plan.backup}")
            restored = "the old model is back"
        except OllamaError as exc:
            restored = f"restoring it failed ({exc}); roll back from {plan.backup}"
        await self.syncer.poll()
        await store.finish_event(
            event,
            "failed",
            error=f"verification: {why}",
            log="\n".join(log),
            digest_after=self._digest(plan.child),
        )
        raise RebuildError(f"rebuild of {plan.child} {why}; {restored}")

    async def rollback(self, name: str) -> str:
        async with self.writing(f"rollback {name}"):
            return await self._rollback(name)

    async def _rollback(self, name: str) -> str:
        """Copy the newest backup back over the model; its recipe stays the one to go forward
        with, the link records what the old version was built from, and the tree reads
        ``rolled back`` until it is rebuilt or adopted."""
        store, host = self.syncer.store, self.host
        backups = await store.backups_of(host, name)
        if not backups:
            raise Refused(f"{name} has no backup to roll back to")
        backup = backups[-1]
        recipes = await store.recipes(host)
        event = await store.start_event(
            host, name, "rollback", digest_before=self._digest(name), backup=backup
        )
        finished = False
        await self.syncer.set_building(name, True)
        try:
            try:
                await self.client.copy(backup, name)
            except OllamaError as exc:
                finished = True
                await store.finish_event(event, "failed", error=str(exc))
                raise RebuildError(f"rollback of {name} failed: {exc}") from exc
            # The recipe stays the one to go forward to; its base version is the backup's.
            current, saved = recipes.get(name), recipes.get(backup)
            if current is not None and saved is not None and saved.link.base == current.link.base:
                link = replace(current.link, base_digest=saved.link.base_digest, source="recorded")
                await store.save_recipes(host, [StoredRecipe(link, current.text)])
            await self.syncer.poll()
            after = self._digest(name)
            finished = True
            await store.finish_event(event, "success", digest_after=after)
        except BaseException as exc:
            if not finished:  # interrupted, or a bug: History must not say `running`
                interrupted = isinstance(exc, (asyncio.CancelledError, KeyboardInterrupt))
                await store.finish_event(
                    event,
                    "interrupted" if interrupted else "failed",
                    error=None if interrupted else f"{type(exc).__name__}: {exc}",
                )
            raise
        finally:
            await self.syncer.set_building(name, False)
        return after or ""

    async def delete_backup(self, backup: str) -> None:
        async with self.writing(f"delete backup {backup}"):
            await self._delete_backup(backup)

    async def _delete_backup(self, backup: str) -> None:
        store, host = self.syncer.store, self.host
        backups = await store.backups(host)
        if backup not in backups:
            raise Refused(f"{backup} is not a backup this app made; delete it with ollama rm")
        original = backups[backup]
        if original not in self.syncer.snapshot.nodes or self._digest(original) is None:
            raise Refused(f"{backup} is the only copy of {original}; roll back instead")
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
        async with self.writing(f"pull {name}"):
            return await self._pull(name, on_progress)

    async def _pull(self, name: str, on_progress: ProgressCallback | None) -> str:
        parse_model_name(name)
        if self.space is not None and self.layers is not None:
            await self.space.before_pull(name, self.layers)
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
        except Exception as exc:  # a bug, not the server: History must not say `running`
            error = f"{type(exc).__name__}: {exc}"
            await store.finish_event(event, "failed", error=error, log="\n".join(log))
            raise
        await self.syncer.poll()
        after = self._digest(name)
        await store.finish_event(event, "success", digest_after=after, log="\n".join(log))
        return after or ""

    async def track(
        self, child: str, base: str, recipe_text: str | None = None, *, force: bool = False
    ) -> StoredRecipe:
        """Adopt ``child`` as built from ``base``: from a Modelfile, or from the difference.

        Refused when ``child`` never had weights of any version of ``base`` seen here (nor a
        quantization of them): a later rebuild would replace its weights with foreign ones.
        """
        async with self.writing(f"track {child} --from {base}"):
            return await self._track(child, base, recipe_text, force=force)

    async def _track(
        self, child: str, base: str, recipe_text: str | None, *, force: bool
    ) -> StoredRecipe:
        for name in (child, base):
            parse_model_name(name)
        nodes = self.syncer.snapshot.nodes
        for name in (child, base):
            node = nodes.get(name)
            if node is None or node.facts is None:
                raise Refused(f"{name} is not on the server")
        if recipe_text is not None:
            recipe = parse_modelfile(recipe_text)
            if recipe.base != base:
                raise Refused(f"the Modelfile says FROM {recipe.base}, not {base}")
        child_spec = await self.syncer.show(child)
        origin = await self._origin(child, child_spec.weights, base)
        if origin is None and not force:
            raise ForeignWeights(
                f"{child} never had the weights of any version of {base} seen here, so a rebuild"
                f" would replace its weights with {base}'s; pass --force if you are sure"
            )
        if recipe_text is None:
            base_spec = await self.syncer.show(base)
            if origin is not None:  # diff against the version it was made from, if still known
                cached = await self.syncer.store.cached_specs([origin[0]])
                base_spec = cached.get(origin[0], base_spec)
            recipe = derive_recipe(child_spec, base_spec, base)
        existing = (await self.syncer.store.recipes(self.host)).get(child)
        if existing is not None and existing.link.base == base:
            # A new recipe for the same base: what the model was built from has not changed,
            # but a recipe the user wrote no longer matches the model until it is rebuilt (one
            # derived from the server's model, as adopting does, matches it by definition).
            changed = recipe.to_modelfile() != existing.text
            edited = recipe_text is not None and (existing.link.edited or changed)
            link = replace(
                _relink(existing.link, child, existing.link.base_digest),
                edited=edited,
                guessed=existing.link.guessed and _guessed(recipe_text, origin),
            )
        else:
            built_from = origin[0] if origin else None
            link = Link(child, base, built_from, "recorded", guessed=_guessed(recipe_text, origin))
        stored = StoredRecipe(link, recipe.to_modelfile())
        await self.syncer.store.save_recipes(self.host, [stored])
        # What the server holds now is what the user adopted: a later change to it is drift.
        # A recipe replaced by another says how, for History (its old text is kept).
        replaced = existing is not None and existing.text != stored.text
        kind = "recipe edit" if replaced else "adopt"
        event = await self.syncer.store.start_event(self.host, child, kind, base=base)
        log = _recipe_change(existing.text, stored.text) if existing and replaced else ""
        await self.syncer.store.finish_event(
            event, "success", digest_after=self._digest(child), log=log
        )
        await self.syncer.refresh()
        return stored

    async def _origin(self, child: str, weights: str | None, base: str) -> tuple[str, bool] | None:
        """The version of ``base`` the child was made from, and whether that is a guess.

        Same weights blob as a version seen here: that version, for sure. The same tensor
        names and shapes as today's base in another quantization: a quantized child of some
        version, taken to be the current one (two fine-tunes of one architecture share shapes
        too, but not a quantization step).
        """
        built_from = await self.syncer.version_with_weights(base, weights)
        if built_from is not None:
            return built_from, False
        node = self.syncer.snapshot.nodes.get(base)
        if node is None or node.facts is None:
            return None
        outlined = await self.client.show(child, with_shape=True)
        base_outline = await self.client.show(base, with_shape=True)
        same = outlined.shape and outlined.shape == base_outline.shape
        if same and outlined.quantization != base_outline.quantization:
            return node.facts.digest, True
        return None

    async def _prune_backups(self, original: str) -> None:
        """Keep the newest ``keep_backups`` backups that hold a version no live model has.

        A backup identical to a live model, or to a newer backup kept, holds nothing else:
        it goes first and never counts towards the number kept, so it cannot push out the
        only copy of an older version.
        """
        backups = await self.syncer.store.backups_of(self.host, original)
        nodes = self.syncer.snapshot.nodes.values()
        held = {n.facts.digest for n in nodes if n.facts and n.kind is not Kind.BACKUP}
        kept = 0
        for backup in reversed(backups):  # newest first
            digest = self._digest(backup)
            if digest not in held and kept < self.keep_backups:
                kept += 1
                if digest is not None:
                    held.add(digest)
                continue
            await self.delete_backup(backup)

    def _free_backup_name(self, name: str, when: datetime) -> str:
        """A backup name no model has: two rebuilds in one second must not share one."""
        taken = self.syncer.snapshot.nodes
        backup = backup_name(name, when)
        while backup in taken:
            when += timedelta(seconds=1)
            backup = backup_name(name, when)
        return backup

    def _digest(self, name: str) -> str | None:
        node = self.syncer.snapshot.nodes.get(name)
        return node.facts.digest if node and node.facts and node.kind is not Kind.MISSING else None


def _guessed(recipe_text: str | None, origin: tuple[str, bool] | None) -> bool:
    """Whether a tracked recipe is still a guess: not when the user wrote it (their FROM is
    the lineage, adopted by force or not), nor when it was derived from the very base
    version the child was made from."""
    return recipe_text is None and (origin is None or origin[1])


def _recipe_change(old: str, new: str) -> str:
    lines = difflib.unified_diff(old.splitlines(), new.splitlines(), "before", "after", lineterm="")
    return "\n".join(lines)


def _relink(link: Link, child: str, base_digest: str | None) -> Link:
    return Link(child, link.base, base_digest, "recorded", link.guessed)
