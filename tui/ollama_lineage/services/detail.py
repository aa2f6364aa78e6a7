"""What the detail pane shows for one model, gathered in one go by an app worker.

The pane only paints this; the shows it needs come from the store's digest-keyed cache, so
moving the cursor costs SQLite reads, not server requests, once a model has been seen.
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from ..core.diff import ParamRow, parameter_table
from ..core.lineage import Kind, Node
from ..core.overrides import full_spec, with_weights
from .autopilot import CheckStatus
from .rebuild import Plan, RebuildError
from .session import Session
from .store import Event

HISTORY_PAGE = 50  # the History tab's newest events; `ollama-lineage history NAME` has them all


@dataclass(frozen=True)
class Detail:
    node: Node
    current: str = ""
    after: str | None = None
    base_text: str | None = None
    plan: Plan | None = None
    problem: str | None = None
    recipe: str | None = None
    guessed: bool = False
    built_from: str | None = None
    params: list[ParamRow] = field(default_factory=list)
    events: list[Event] = field(default_factory=list)
    # Filled by the app (they depend on the checks file and the pins, not on the server):
    checks: list[CheckStatus] = field(default_factory=list)  # with their last results
    checks_file: Path | None = None  # the file they came from; None: there is none
    checks_problem: str | None = None  # why the checks file cannot be used
    held: str | None = None  # why bulk work leaves it alone: "pinned", "built on X, …"


async def load_detail(session: Session, node: Node, now: datetime) -> Detail:
    """Everything for the four tabs; a plan only where a rebuild is possible."""
    host = session.settings.host_key
    events = await session.store.history(host, node.name, limit=HISTORY_PAGE)
    if node.facts is None:
        return Detail(node, problem=node.reason, events=events)
    show = await session.syncer.show(node.name)
    stored = (await session.store.recipes_of(host, [node.name])).get(node.name)
    base_name = stored.link.base if stored else (node.base or node.name)
    current = full_spec(show, base_name)
    detail = Detail(
        node,
        current=with_weights(current, show.weights),
        recipe=stored.text if stored else None,
        guessed=bool(stored and stored.link.guessed),
        built_from=stored.link.base_digest if stored else None,
        params=parameter_table(current.parameters, current.parameters, current.parameters),
        events=events,
    )
    if node.kind is not Kind.DERIVATIVE:
        return detail
    try:
        plan = await session.rebuilder.plan(node.name, now=now)
    except RebuildError as exc:
        return replace(detail, problem=str(exc))
    base_show = await session.syncer.show(plan.base)
    base = full_spec(base_show, plan.base)
    return replace(
        detail,
        current=plan.current_text,
        after=plan.after_text,
        base_text=with_weights(base, base_show.weights),
        plan=plan,
        params=parameter_table(base.parameters, plan.current.parameters, plan.after.parameters),
    )
