"""Recipes as code: a folder of Modelfiles that the server is made to follow.

``export_all`` writes one Modelfile per tracked derivative; ``read_folder`` reads them back
(refusing unparsable files, two files for one model and cycles before any request);
``plan_folder`` compares the folder with the server and the store, terraform-style, holding
back what is pinned or built on a pinned model; and ``apply_change`` carries out one step,
each rebuild through the Rebuilder (backup, create, verify). ``find_drift`` tells which
models were changed outside this app.

File names: a model name becomes a file name by writing ``:`` as ``@`` and ``/`` as ``+``
(neither can occur in an Ollama name), plus ``.Modelfile``; ``qwq:latest_20K`` is
``qwq@latest_20K.Modelfile`` and ``me/coder:7b`` is ``me+coder@7b.Modelfile``.
"""

from __future__ import annotations

import asyncio
import difflib
import re
from collections.abc import Callable, Collection, Iterable, Mapping
from dataclasses import dataclass, field, replace
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING

from ..core.lineage import Kind, Link, Node, Snapshot
from ..core.modelfile import ModelfileError, Recipe, parse_modelfile
from ..core.names import InvalidModelName, normalize_name
from ..core.states import State
from ..ollama.client import OllamaError, Progress
from .pins import Selection, folder_selection
from .rebuild import STORED_RECIPE_LIMIT, RebuildError, Refused
from .store import Store, StoredRecipe

if TYPE_CHECKING:
    from .session import Session

SUFFIX = ".Modelfile"
_TO_FILE = str.maketrans({":": "@", "/": "+"})
_TO_NAME = str.maketrans({"@": ":", "+": "/"})
_DIFF_WIDTH = 100
ProgressCallback = Callable[[Progress], None]


class RecipeError(Exception):
    """A folder that cannot be planned or applied; every problem is one line of the message."""

    def __init__(self, problems: Iterable[str]) -> None:
        self.problems = list(problems)
        super().__init__("\n".join(self.problems))


# --- file names -------------------------------------------------------------------------------


def file_name(model: str) -> str:
    """``qwq:latest_20K`` → ``qwq@latest_20K.Modelfile``; reversed by ``model_name``."""
    return normalize_name(model).translate(_TO_FILE) + SUFFIX


def model_name(file: str) -> str:
    """``qwq@latest_20K.Modelfile`` → ``qwq:latest_20K`` (a missing tag means ``latest``)."""
    if not file.endswith(SUFFIX):
        raise InvalidModelName(file, f"a recipe file's name ends in {SUFFIX}")
    return normalize_name(file[: -len(SUFFIX)].translate(_TO_NAME))


# --- the folder -------------------------------------------------------------------------------


@dataclass(frozen=True)
class FolderRecipe:
    name: str
    path: Path
    recipe: Recipe


def read_folder(folder: Path) -> dict[str, FolderRecipe]:
    """Every ``*.Modelfile`` in ``folder``, parents before children; all problems at once.

    Pure file work, so a folder that does not parse, names one model twice or has a cycle is
    refused before a single request goes out.
    """
    if not folder.is_dir():
        raise RecipeError([f"{folder} is not a folder of recipes"])
    problems: list[str] = []
    found: dict[str, FolderRecipe] = {}
    for path in sorted(folder.glob("*" + SUFFIX)):
        try:
            name = model_name(path.name)
        except InvalidModelName as exc:
            problems.append(f"{path}: the file name is no model name ({exc.reason})")
            continue
        try:
            # export writes stored recipes whole (a license may be megabytes): read them back
            recipe = parse_modelfile(
                path.read_text(encoding="utf-8"), max_bytes=STORED_RECIPE_LIMIT
            )
        except ModelfileError as exc:
            problems.append(f"{path}: {exc}")
            continue
        except UnicodeDecodeError as exc:
            problems.append(f"{path}: not UTF-8 text (byte {exc.start}: {exc.reason})")
            continue
        except OSError as exc:
            problems.append(f"{path}: cannot read it: {exc.strerror}")
            continue
        twin = next((f for key, f in found.items() if key.lower() == name.lower()), None)
        if twin is not None:
            problems.append(f"{path}: {name} already has a recipe in {twin.path.name}")
            continue
        found[name] = FolderRecipe(name, path, recipe)
    problems += _cycles(found)
    if problems:
        raise RecipeError(problems)
    return {name: found[name] for name in _parents_first(found)}


def _in_folder(name: str, found: Mapping[str, FolderRecipe]) -> str | None:
    """The folder's spelling of ``name`` (Ollama matches names case-insensitively)."""
    if name in found:
        return name
    return next((key for key in found if key.lower() == name.lower()), None)


def _cycles(found: Mapping[str, FolderRecipe]) -> list[str]:
    problems: list[str] = []
    reported: set[str] = set()
    for start in found:
        trail: list[str] = []
        current: str | None = start
        while current is not None and current not in trail and current not in reported:
            trail.append(current)
            current = _in_folder(found[current].recipe.base, found)
        if current is not None and current in trail:
            loop = trail[trail.index(current) :]
            reported.update(loop)
            chain = " → ".join(f"{found[n].path.name}" for n in [*loop, loop[0]])
            problems.append(f"cycle: {chain} (each FROM names the next)")
    return problems


def _parents_first(found: Mapping[str, FolderRecipe]) -> list[str]:
    order: list[str] = []
    placed: set[str] = set()

    def place(name: str) -> None:
        if name in placed:
            return
        parent = _in_folder(found[name].recipe.base, found)
        if parent is not None:
            place(parent)
        placed.add(name)
        order.append(name)

    for name in sorted(found):
        place(name)
    return order


# --- export -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class Exported:
    written: list[Path] = field(default_factory=list)
    skipped: dict[str, str] = field(default_factory=dict)  # model → why


_ADAPTER_LINE = re.compile(r'ADAPTER "?sha256:([0-9a-f]{64})"?')


def for_ollama_create(text: str, models_dir: Path | None) -> str:
    """A stored recipe as ``ollama create -f`` takes it.

    Ollama's parser (parser/parser.go) stats each ADAPTER value as a file on the machine that
    runs ``ollama create`` and uploads it by digest, so a bare ``sha256:<hex>`` fails there.
    Ollama's models folder holds the LoRA as ``blobs/sha256-<hex>``: when that file is here,
    ADAPTER names it; when not, a comment says what to put in its place (the line stays, so
    the file still says which LoRA, and a create without its LoRA cannot happen silently).
    """
    lines = []
    for line in text.splitlines(keepends=True):
        match = _ADAPTER_LINE.fullmatch(line.rstrip("\n"))
        if match is None:
            lines.append(line)
            continue
        blob = Path(models_dir, "blobs", f"sha256-{match[1]}") if models_dir else None
        if blob is not None and blob.is_file():
            lines.append(f"ADAPTER {blob}\n")
            continue
        lines.append(
            f"# ollama create -f needs the LoRA's file here: on the server it is"
            f" <models folder>/blobs/sha256-{match[1]}\n"
        )
        lines.append(line)
    return "".join(lines)


async def export_all(session: Session, folder: Path) -> Exported:
    """One Modelfile per tracked derivative: FROM the base's name and only the overrides."""
    recipes = await session.store.recipes(session.settings.host_key)
    result = Exported()
    folder.mkdir(parents=True, exist_ok=True)
    for node in session.syncer.snapshot.walk():
        if node.kind is not Kind.DERIVATIVE or node.facts is None:
            continue
        stored = recipes.get(node.name)
        if stored is None:
            result.skipped[node.name] = "no recipe recorded"
        elif node.state is State.ORPHANED:
            result.skipped[node.name] = f"its base {stored.link.base} is gone from the server"
        else:
            path = folder / file_name(node.name)
            text = for_ollama_create(stored.text, session.settings.models_dir)
            path.write_text(text, encoding="utf-8")
            result.written.append(path)
    return result


# --- drift ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Recorded:
    """The digest this app last knew a model by, and how it came to know it."""

    digest: str
    how: str  # "first seen", "built", "created", "rolled back", "adopted", "pulled"


@dataclass(frozen=True)
class Drift:
    name: str
    recorded: Recorded
    current: str

    @property
    def reason(self) -> str:
        return (
            f"changed outside ollama-lineage: {self.recorded.how} as "
            f"{self.recorded.digest[:12]}, now {self.current[:12]}"
        )


_HOW = {
    "build": "built",
    "create": "created",
    "rollback": "rolled back",
    "adopt": "adopted",
    "recipe edit": "adopted with a new recipe",
}


async def recorded_digests(store: Store, host: str, names: Iterable[str]) -> dict[str, Recorded]:
    """Per model: the digest after this app's last change to it, else the one first seen."""
    known = await store.known_digests(host)
    return {
        name: Recorded(known[name][0], _HOW.get(known[name][1], known[name][1]))
        for name in names
        if name in known
    }


def find_drift(snapshot: Snapshot, recorded: Mapping[str, Recorded]) -> dict[str, Drift]:
    """Derivatives whose digest is no longer the one this app recorded: changed outside it."""
    drift: dict[str, Drift] = {}
    for name, known in recorded.items():
        node = snapshot.nodes.get(name)
        if node is None or node.facts is None or node.kind is not Kind.DERIVATIVE:
            continue
        if node.state is State.BUILDING:
            continue
        if node.facts.digest != known.digest:
            drift[name] = Drift(name, known, node.facts.digest)
    return drift


# --- plan -------------------------------------------------------------------------------------


class Action(Enum):
    CREATE = ("+", "create")
    REBUILD = ("~", "rebuild")
    DRIFT = ("!", "drift")
    DELETE = ("-", "delete")

    def __init__(self, symbol: str, word: str) -> None:
        self.symbol = symbol
        self.word = word


@dataclass(frozen=True)
class Change:
    name: str
    action: Action
    reason: str
    base: str | None = None
    file: Path | None = None
    diff: tuple[str, ...] = ()
    notes: tuple[str, ...] = ()

    def as_json(self) -> dict[str, object]:
        return {
            "name": self.name,
            "action": self.action.word,
            "symbol": self.action.symbol,
            "reason": self.reason,
            "base": self.base,
            "file": str(self.file) if self.file else None,
            "diff": list(self.diff),
            "notes": list(self.notes),
        }


@dataclass(frozen=True)
class FolderPlan:
    changes: tuple[Change, ...]  # in the order apply makes them: parents first
    unchanged: tuple[str, ...]
    warnings: tuple[str, ...] = ()
    selection: Selection | None = None  # what apply holds back (pins), shared with bulk rebuilds

    def count(self, action: Action) -> int:
        return sum(1 for c in self.changes if c.action is action)

    @property
    def held(self) -> dict[str, str]:
        """The changes apply leaves alone, with why."""
        held = self.selection.held if self.selection else {}
        return {c.name: held[c.name] for c in self.changes if c.name in held}

    @property
    def summary(self) -> str:
        if not self.changes:
            return f"No changes: the server matches the folder ({len(self.unchanged)} models)."
        return (
            f"Plan: {self.count(Action.CREATE)} to create, {self.count(Action.REBUILD)} to "
            f"rebuild, {self.count(Action.DRIFT)} drifted (rebuilt from the file), "
            f"{self.count(Action.DELETE)} to delete; {len(self.unchanged)} unchanged"
            + (f"; {len(self.held)} held back." if self.held else ".")
        )

    def as_json(self) -> dict[str, object]:
        return {
            "changes": [c.as_json() for c in self.changes],
            "unchanged": list(self.unchanged),
            "warnings": list(self.warnings),
            "held": self.held,
            "summary": {
                "create": self.count(Action.CREATE),
                "rebuild": self.count(Action.REBUILD),
                "drift": self.count(Action.DRIFT),
                "delete": self.count(Action.DELETE),
                "unchanged": len(self.unchanged),
            },
        }


def _present(node: Node | None) -> bool:
    return node is not None and node.facts is not None and node.kind is not Kind.MISSING


def recipe_diff(old: Recipe, new: Recipe) -> tuple[str, ...]:
    """The changed lines of two recipes, ``- old`` / ``+ new``, each cut to one screen line."""
    lines = difflib.ndiff(old.to_modelfile().splitlines(), new.to_modelfile().splitlines())
    changed = [line for line in lines if line[:2] in ("- ", "+ ")]
    return tuple(c if len(c) <= _DIFF_WIDTH else c[: _DIFF_WIDTH - 1] + "…" for c in changed)


async def plan_folder(
    session: Session,
    folder: Mapping[str, FolderRecipe],
    *,
    prune: bool = False,
    pins: Collection[str] = (),
) -> FolderPlan:
    """What apply would do, model by model, and what ``pins`` hold back; raises RecipeError
    when a FROM names no model."""
    syncer, host = session.syncer, session.settings.host_key
    snapshot = syncer.snapshot
    folder = {syncer.resolve(name): entry for name, entry in folder.items()}
    problems = [
        f"{entry.path}: FROM {entry.recipe.base} names no model on {session.settings.host} "
        f"and no file in {entry.path.parent}"
        for entry in folder.values()
        if _in_folder(entry.recipe.base, folder) is None
        and not _present(snapshot.nodes.get(syncer.resolve(entry.recipe.base)))
    ]
    if problems:
        raise RecipeError(problems)
    stored = await session.store.recipes(host)
    present = [name for name in folder if _present(snapshot.nodes.get(name))]
    drift = find_drift(snapshot, await recorded_digests(session.store, host, present))
    changes: list[Change] = []
    unchanged: list[str] = []
    warnings: list[str] = []
    moving: set[str] = set()
    for name, entry in folder.items():
        change = _change_for(name, entry, snapshot, stored.get(name), drift, moving)
        if change is None:
            unchanged.append(name)
            node = snapshot.nodes[name]
            if node.state is State.STALE_UPSTREAM:
                warnings.append(
                    f"{name}: its base {entry.recipe.base} is out of date and has no file here"
                )
            continue
        moving.add(name.lower())
        changes.append(change)
    if prune:
        changes += await _deletions(session, folder)
    bases = [(c.name, syncer.resolve(c.base) if c.base else None) for c in changes]
    selection = folder_selection(snapshot, bases, pins)
    return FolderPlan(tuple(changes), tuple(unchanged), tuple(warnings), selection)


def _change_for(
    name: str,
    entry: FolderRecipe,
    snapshot: Snapshot,
    stored: StoredRecipe | None,
    drift: Mapping[str, Drift],
    moving: set[str],
) -> Change | None:
    recipe, base = entry.recipe, entry.recipe.base
    node = snapshot.nodes.get(name)
    if node is None or not _present(node):
        return Change(name, Action.CREATE, f"create from {base}", base, entry.path)
    if name in drift:
        reason = f"drift: {drift[name].reason}; apply rebuilds it from {entry.path.name}"
        return Change(name, Action.DRIFT, reason, base, entry.path)
    if stored is None:
        what = "a pulled model" if node.kind is Kind.BASE else node.state.word
        reason = f"rebuild: no recipe recorded ({what}); apply builds it from {entry.path.name}"
        return Change(name, Action.REBUILD, reason, base, entry.path)
    try:
        old = parse_modelfile(stored.text, max_bytes=STORED_RECIPE_LIMIT)
    except ModelfileError:
        old = None
    if old != recipe:
        diff = recipe_diff(old, recipe) if old is not None else ()
        notes = ("the recorded recipe was guessed",) if stored.link.guessed else ()
        reason = "rebuild: recipe changed"
        return Change(name, Action.REBUILD, reason, base, entry.path, diff, notes)
    if node.state in (State.STALE, State.FAILED, State.ROLLED_BACK):
        return Change(name, Action.REBUILD, f"rebuild: {node.reason}", base, entry.path)
    if base.lower() in moving:
        reason = f"rebuild: its base {base} is rebuilt first"
        return Change(name, Action.REBUILD, reason, base, entry.path)
    return None


async def _deletions(session: Session, folder: Mapping[str, FolderRecipe]) -> list[Change]:
    """Models this app created (``apply`` of a new file) whose file is gone."""
    snapshot = session.syncer.snapshot
    created = {
        e.name
        for e in await session.store.history(session.settings.host_key)
        if e.kind == "create" and e.status == "success"
    }
    deletions: list[Change] = []
    for name in sorted(created):
        node = snapshot.nodes.get(name)
        if not _present(node) or _in_folder(name, folder) is not None:
            continue
        assert node is not None
        users = [c for c in node.children if snapshot.nodes[c].kind is not Kind.BACKUP]
        if users:
            continue  # a base others are built on is never deleted from under them
        reason = "delete: created by ollama-lineage, and its file is gone"
        deletions.append(Change(name, Action.DELETE, reason))
    return deletions


# --- apply ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    change: Change
    digest: str | None = None
    backup: str | None = None


async def apply_change(
    session: Session,
    change: Change,
    folder: Mapping[str, FolderRecipe],
    on_progress: ProgressCallback | None = None,
) -> Applied:
    """One step of a plan; on failure the model is as it was and its recipe too."""
    if change.action is Action.DELETE:
        await _delete(session, change.name)
        return Applied(change)
    entry = folder[_in_folder(change.name, folder) or change.name]
    if change.action is Action.CREATE:
        digest = await create_model(session, change.name, entry.recipe, on_progress)
        return Applied(change, digest)
    return await _rebuild(session, change, entry, on_progress)


async def _rebuild(
    session: Session,
    change: Change,
    entry: FolderRecipe,
    on_progress: ProgressCallback | None,
) -> Applied:
    """The file becomes the stored recipe, then the Rebuilder's own plan → backup → create."""
    store, host, rebuilder = session.store, session.settings.host_key, session.rebuilder
    old = (await store.recipes(host)).get(change.name)
    recipe = as_listed(session, entry.recipe)
    text = recipe.to_modelfile()
    replaced = old is None or old.text != text
    if replaced:
        await rebuilder.track(change.name, recipe.base, text)
    try:
        plan = await rebuilder.plan(change.name)
        digest = await rebuilder.run(plan, on_progress)
    except BaseException:
        if replaced and old is not None:
            await store.save_recipes(host, [old])  # a failed step leaves the recipe as it was
            await session.syncer.refresh()
        raise
    return Applied(change, digest, plan.backup)


async def create_model(
    session: Session, name: str, recipe: Recipe, on_progress: ProgressCallback | None = None
) -> str:
    """A model that does not exist yet: create it, record recipe and lineage, check it is there."""
    syncer, store, host = session.syncer, session.store, session.settings.host_key
    recipe = as_listed(session, recipe)
    base = recipe.base
    base_node = syncer.snapshot.nodes.get(base)
    if base_node is None or base_node.facts is None:
        raise Refused(f"{name}'s base {base} is not on the server; pull it first")
    base_digest = base_node.facts.digest
    event = await store.start_event(host, name, "create", base=base, base_digest=base_digest)
    log: list[str] = []
    try:
        async for progress in session.client.create(recipe.create_request(name)):
            log.append(progress.status)
            if on_progress:
                on_progress(progress)
    except asyncio.CancelledError:
        await store.finish_event(event, "cancelled", log="\n".join(log))
        raise
    except OllamaError as exc:
        await store.finish_event(event, "failed", error=str(exc), log="\n".join(log))
        raise RebuildError(f"create of {name} failed: {exc}") from exc
    link = Link(name, base, base_digest, "recorded", guessed=False)
    await store.save_recipes(host, [StoredRecipe(link, recipe.to_modelfile())])
    await syncer.poll()
    node = syncer.snapshot.nodes.get(syncer.resolve(name))
    if node is None or node.facts is None:
        error = "the server does not list it after the create"
        await store.finish_event(event, "failed", error=error, log="\n".join(log))
        raise RebuildError(f"create of {name} failed: {error}")
    await store.finish_event(event, "success", digest_after=node.facts.digest, log="\n".join(log))
    await syncer.refresh()
    return node.facts.digest


def as_listed(session: Session, recipe: Recipe) -> Recipe:
    """``recipe`` with FROM spelled as the server lists its base: a file may spell it in any
    case, but Ollama's create reads the base's manifest by the exact name (and would try to
    pull another spelling from the registry)."""
    return replace(recipe, base=session.syncer.resolve(recipe.base))


async def _delete(session: Session, name: str) -> None:
    store, host = session.store, session.settings.host_key
    node = session.syncer.snapshot.nodes.get(name)
    before = node.facts.digest if node and node.facts else None
    event = await store.start_event(host, name, "delete", digest_before=before)
    try:
        await session.client.delete(name)
    except OllamaError as exc:
        await store.finish_event(event, "failed", error=str(exc))
        raise RebuildError(f"delete of {name} failed: {exc}") from exc
    await store.finish_event(event, "success")
    await session.syncer.poll()
