"""The lineage graph: who was built from whom, and how far behind each derivative is.

Pure: it takes facts (what the server lists, what the store recorded) and returns a snapshot.
Lineage the app recorded (track, rebuild) wins over Ollama's ``parent_model``. A shared weights
blob alone never makes a derivative (two tags of one upstream model share weights), and a
model whose digest equals its registry's is pulled, whatever ``parent_model`` says.
"""

from __future__ import annotations

import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum

from .names import InvalidModelName, normalize_name
from .states import State

NEEDS_REBUILD = frozenset(
    {State.STALE, State.STALE_UPSTREAM, State.FAILED, State.EDITED, State.ROLLED_BACK}
)


class Kind(Enum):
    BASE = "base"
    DERIVATIVE = "derivative"
    BACKUP = "backup"
    MISSING = "missing"
    HOST = "host"  # a server's row over its models, when the TUI shows several


@dataclass(frozen=True, slots=True)
class ModelFacts:
    """What the server says about one model (tags, plus the weights blob from a show)."""

    name: str
    digest: str
    size: int = 0
    modified_at: str = ""
    parent_model: str = ""
    weights_blob: str | None = None
    quantization: str = ""
    shape: str = ""
    remote_host: str = ""  # a cloud model: nothing local to rebuild or compare
    problem: str | None = None  # its show failed; the rest of the tree carries on


@dataclass(frozen=True, slots=True)
class Link:
    """A recorded parent: the base's name and the base digest the child was built from."""

    child: str
    base: str
    base_digest: str | None = None
    source: str = "parent_model"
    guessed: bool = False
    edited: bool = False  # the recipe changed since the model was last built from it


@dataclass(frozen=True, slots=True)
class Upstream:
    """The registry's answer for a base: its digest, or why it was not checked."""

    digest: str | None = None
    error: str | None = None
    local: bool = False  # the registry has no such model: it was made on this server


@dataclass(frozen=True, slots=True)
class Node:
    name: str
    kind: Kind
    state: State
    reason: str
    facts: ModelFacts | None = None
    base: str | None = None
    children: tuple[str, ...] = ()
    depth: int = 0
    # Lineage taken on trust: never rebuilt in bulk, since that could replace weights with ones
    # the model never had. ``guessed``: its recipe was read after its base had moved on;
    # ``unproven``: that, or its base is known only from Ollama's ``parent_model`` (a pull
    # keeps its publisher's) and the registry has not said the model is not a pulled one.
    guessed: bool = False
    unproven: bool = False


@dataclass(frozen=True)
class Snapshot:
    """An immutable view of the whole tree; equal snapshots mean nothing on screen changes."""

    nodes: Mapping[str, Node] = field(default_factory=dict)
    roots: tuple[str, ...] = ()

    def walk(self) -> Iterator[Node]:
        """Depth first, parents before children: the order of the tree and of bulk rebuilds."""
        stack = list(reversed(self.roots))
        while stack:
            node = self.nodes[stack.pop()]
            yield node
            stack.extend(reversed(node.children))

    def stale_in_order(self) -> list[str]:
        """Derivatives a bulk rebuild may redo, each after its parent (guessed ones never)."""
        return [
            n.name
            for n in self.walk()
            if n.kind is Kind.DERIVATIVE and n.state in NEEDS_REBUILD and not n.unproven
        ]

    def descendants(self, name: str) -> list[Node]:
        """Everything built on ``name``, directly or not, parents first."""
        found: list[Node] = []
        stack = list(reversed(self.nodes[name].children)) if name in self.nodes else []
        while stack:
            node = self.nodes[stack.pop()]
            found.append(node)
            stack.extend(reversed(node.children))
        return found


def shared(text: str) -> str:
    """One copy of a text thousands of models repeat (a base's name, its weights blob, a
    quantization), which the tree keeps: each row read or answer parsed brings its own."""
    return sys.intern(text) if text else text


def model_reference(parent_model: str) -> str | None:
    """Ollama writes a base as ``name:tag``; a bare file key (``m.gguf``) is not a model."""
    if not parent_model or ":" not in parent_model.rsplit("/", 1)[-1]:
        return None
    try:
        return normalize_name(parent_model)
    except InvalidModelName:
        return None


def infer_links(
    models: Sequence[ModelFacts],
    recorded: Mapping[str, Link],
    backups: Mapping[str, str],
    upstream: Mapping[str, Upstream] | None = None,
) -> dict[str, Link]:
    """Every child's parent: recorded by this app, else Ollama's ``parent_model``.

    ``parent_model`` resolves against the listed names case-insensitively (``FROM QwQ`` is
    recorded as typed); a model the registry confirmed as its own is pulled, not derived.
    """
    upstream = upstream or {}
    pulled = {m.name for m in models if _is_pulled(m, upstream.get(m.name))}
    links = {
        child: link
        for child, link in recorded.items()
        if child not in backups and not (link.source == "parent_model" and child in pulled)
    }
    by_key = {m.name.casefold(): m.name for m in models}
    for model in models:
        if model.name in links or model.name in backups or model.name in pulled:
            continue
        if model.remote_host:
            continue
        base = model_reference(model.parent_model)
        if base is not None and base != model.name:
            links[model.name] = Link(model.name, by_key.get(base.casefold(), base))
    return links


def build_snapshot(
    models: Sequence[ModelFacts],
    recorded: Mapping[str, Link] | None = None,
    *,
    backups: Mapping[str, str] | None = None,
    upstream: Mapping[str, Upstream] | None = None,
    building: frozenset[str] = frozenset(),
    failed: Mapping[str, str] | None = None,
    known: Mapping[str, str] | None = None,
    rolled_back: frozenset[str] = frozenset(),
) -> Snapshot:
    """Classify every model.

    ``backups`` maps a backup's name to its original; ``failed`` maps a model to the error of
    its last build, which failed and left the old model in place; ``known`` maps a model to
    the digest this app last knew it by, so a derivative changed behind its back is drifted;
    ``rolled_back`` names models whose last change here was a rollback: they differ from their
    recipe until it is rebuilt or the rolled-back version is adopted.
    """
    backups = backups or {}
    upstream = upstream or {}
    failed = failed or {}
    known = known or {}
    facts = {m.name: m for m in models}
    links = infer_links(models, recorded or {}, backups, upstream)
    children: dict[str, list[str]] = {}
    for child, link in links.items():
        if child in facts:
            children.setdefault(link.base, []).append(child)
    for backup, original in backups.items():
        if backup in facts:
            children.setdefault(original, []).append(backup)

    roots = [n for n in facts if n not in links and n not in backups]
    # A base gone from the server is no one's child (only listed models are), even when this
    # app recorded what it was built from: its row stands at the top, over its orphans.
    roots += [base for base in children if base not in facts]
    roots += [n for n, link in links.items() if n in facts and _in_cycle(n, links)]
    nodes: dict[str, Node] = {}
    # Depth first with a stack, not a nested function calling itself: that makes a cycle
    # which keeps the whole build (facts, links, children) alive until the cyclic collector runs.
    stack: list[tuple[str, int, State | None, frozenset[str]]] = [
        (root, 0, None, frozenset()) for root in sorted(set(roots), reverse=True)
    ]
    while stack:
        name, depth, parent_state, trail = stack.pop()
        kids = tuple(sorted(k for k in children.get(name, ()) if k not in trail))
        state, reason, kind = _classify(
            name, facts, links, backups, upstream, building, failed, known, parent_state
        )
        if kind is Kind.DERIVATIVE and name in rolled_back and state in _BEHIND_ROLLBACK:
            state, reason = State.ROLLED_BACK, _ROLLED_BACK
        nodes[name] = Node(
            name,
            kind,
            state,
            sys.intern(reason),  # siblings share one: "built from the current qwq:latest …"
            facts.get(name),
            _base_of(name, links, backups),
            kids,
            depth,
            guessed=bool(links.get(name) and links[name].guessed),
            unproven=_unproven(name, links, upstream),
        )
        stack.extend((kid, depth + 1, state, trail | {name}) for kid in reversed(kids))
    return Snapshot(nodes, tuple(sorted(set(roots))))


# A rollback explains these; drifted, failed, orphaned and building say more.
_BEHIND_ROLLBACK = frozenset({State.FRESH, State.STALE, State.STALE_UPSTREAM, State.EDITED})
_ROLLED_BACK = (
    "rolled back to a backup, so it is not what its recipe builds: rebuild it with r to go"
    " forward again, or keep this version as its recipe (t, track)"
)


def _unproven(name: str, links: Mapping[str, Link], upstream: Mapping[str, Upstream]) -> bool:
    """A guessed link, or one known only from Ollama's ``parent_model`` (a pull keeps its
    publisher's ``from``), stays unproven until the registry says the model is not its own."""
    link = links.get(name)
    if link is None or not (link.guessed or link.source == "parent_model"):
        return False
    confirmed = upstream.get(name)
    return confirmed is None or not confirmed.local


def _base_of(name: str, links: Mapping[str, Link], backups: Mapping[str, str]) -> str | None:
    if name in backups:
        return backups[name]
    link = links.get(name)
    return link.base if link else None


def _in_cycle(name: str, links: Mapping[str, Link]) -> bool:
    seen = {name}
    current = links[name].base
    while current in links:
        if current in seen:
            return current == name
        seen.add(current)
        current = links[current].base
    return False


def _classify(
    name: str,
    facts: Mapping[str, ModelFacts],
    links: Mapping[str, Link],
    backups: Mapping[str, str],
    upstream: Mapping[str, Upstream],
    building: frozenset[str],
    failed: Mapping[str, str],
    known: Mapping[str, str],
    parent_state: State | None,
) -> tuple[State, str, Kind]:
    model = facts.get(name)
    if name in backups:
        return (
            State.BACKUP,
            f"backup of {backups[name]}, kept until you keep or roll back",
            Kind.BACKUP,
        )
    if model is None:
        return State.MISSING, "a recipe names it but the server does not have it", Kind.MISSING
    if model.remote_host:
        return State.REMOTE, f"a cloud model served by {model.remote_host}", Kind.BASE
    if model.problem:
        return State.UNREADABLE, f"Ollama cannot show it ({model.problem}); retrying", Kind.BASE
    link = links.get(name)
    if link is None:
        if model.parent_model and not _is_pulled(model, upstream.get(name)):
            why = f"made from {model.parent_model!r}, not a model; adopt it under a base (t, track)"
            return State.UNTRACKED, why, Kind.BASE
        return (*_base_state(model, upstream.get(name)), Kind.BASE)
    return (
        *_derivative_state(model, link, facts, building, failed, known.get(name), parent_state),
        Kind.DERIVATIVE,
    )


def _is_pulled(model: ModelFacts, upstream: Upstream | None) -> bool:
    return upstream is not None and upstream.digest == model.digest


def _base_state(model: ModelFacts, upstream: Upstream | None) -> tuple[State, str]:
    if upstream is None:
        return State.CURRENT, "a base; upstream not checked yet"
    if upstream.local:
        return (
            State.CURRENT,
            "made on this server (the registry has no such model); if it was built from"
            " a base, adopt it under that base (t, track)",
        )
    if upstream.error:
        return State.CURRENT, f"upstream not checked: {upstream.error}"
    if upstream.digest and upstream.digest != model.digest:
        return (
            State.UPDATE_AVAILABLE,
            f"registry has {upstream.digest[:12]}, you have {model.digest[:12]}; press p to pull",
        )
    return State.CURRENT, "same as the registry"


def _derivative_state(
    model: ModelFacts,
    link: Link,
    facts: Mapping[str, ModelFacts],
    building: frozenset[str],
    failed: Mapping[str, str],
    known: str | None,
    parent_state: State | None,
) -> tuple[State, str]:
    if model.name in building:
        return State.BUILDING, f"rebuilding from {link.base}"
    if model.name in failed:
        return State.FAILED, f"last rebuild failed, old model kept: {failed[model.name]}"
    if known is not None and known != model.digest:
        return (
            State.DRIFTED,
            f"changed outside ollama-lineage (was {known[:12]}, now {model.digest[:12]}):"
            " d shows how; r rebuilds it from the recipe, t adopts the server's version",
        )
    base = facts.get(link.base)
    if base is None:
        return State.ORPHANED, f"its base {link.base} is gone from the server"
    if link.base_digest is not None:
        if link.base_digest != base.digest:
            return (
                State.STALE,
                f"built from {link.base} {link.base_digest[:12]}, which is now {base.digest[:12]}",
            )
    elif model.weights_blob and base.weights_blob and model.weights_blob != base.weights_blob:
        return State.STALE, f"{link.base} has new weights since this was built"
    if link.edited:
        return State.EDITED, "its recipe was edited since it was built: r rebuilds it from it"
    if parent_state in (
        State.STALE,
        State.STALE_UPSTREAM,
        State.BUILDING,
        State.FAILED,
        State.ROLLED_BACK,
    ):
        return State.STALE_UPSTREAM, f"its base {link.base} is itself out of date"
    return State.FRESH, f"built from the current {link.base} {base.digest[:12]}"
