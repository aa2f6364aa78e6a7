"""Command line: the TUI by default; status, rebuild and friends for scripts and cron."""

from __future__ import annotations

import argparse
import asyncio
import functools
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path

from . import __version__
from .config import DEFAULT_REGISTRY, ConfigError, Settings, default_db_path, parse_host
from .core.lineage import Kind, Node, Snapshot
from .core.modelfile import ModelfileError, parse_modelfile
from .core.names import InvalidModelName, parse_model_name
from .ollama.client import ApiError, OllamaError, Progress
from .ollama.models_dir import find_models_dir
from .services.autopilot import (
    PIN_MARK,
    Autopilot,
    LockBusy,
    Report,
    check_against_backup,
    check_models_exist,
    held,
    model_checks,
    pins_of,
    rebuildable,
    run_checks,
    run_lock,
)
from .services.checks import CheckResult, ChecksError, ChecksFile, load_checks
from .services.rebuild import RebuildError
from .services.recipes import (
    Action,
    Applied,
    FolderPlan,
    RecipeError,
    apply_change,
    export_all,
    plan_folder,
    read_folder,
)
from .services.session import Session, open_session
from .services.store import StoreError

EXIT_OK, EXIT_ATTENTION, EXIT_ERROR = 0, 1, 2
# plan and apply follow terraform's -detailed-exitcode: 0 nothing to do, 2 changes, 1 error.
PLAN_CHANGES, PLAN_ERROR = 2, 1


class UsageError(Exception):
    """The command cannot run as asked (no such model, no recipe): exit 2, nothing sent."""


USER_ERRORS = (
    UsageError,
    OllamaError,
    RebuildError,
    ModelfileError,
    InvalidModelName,
    StoreError,
    ConfigError,
    RecipeError,
    ChecksError,
    LockBusy,
)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--host", default=argparse.SUPPRESS, help="Ollama server (OLLAMA_HOST)")
    common.add_argument("--db", type=Path, default=argparse.SUPPRESS, help="database file")
    common.add_argument("--registry", default=argparse.SUPPRESS, help="registry to check")
    common.add_argument(
        "--models-dir",
        default=argparse.SUPPRESS,
        metavar="PATH",
        help="Ollama's models folder, read instead of asking /api/show (default: found"
        " from OLLAMA_MODELS, ~/.ollama/models, /usr/share/ollama/.ollama/models; 'none': off)",
    )
    common.add_argument(
        "--demo",
        action="store_true",
        default=argparse.SUPPRESS,
        help="run against the embedded stand-in server with demo models",
    )
    parser = argparse.ArgumentParser(
        prog="ollama-lineage",
        parents=[common],
        description="Keep Ollama derivative models in step with their bases.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    parser.add_argument("--poll", type=float, default=2.0, help="seconds between polls (TUI)")
    parser.add_argument(
        "--upstream-every", type=float, default=3600.0, help="seconds between registry checks"
    )
    parser.add_argument("--keep-backups", type=int, default=1, help="backups kept per model")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = sub.add_parser("status", parents=[common], help="print the tree; exit 1 if stale")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument("--check-upstream", action="store_true", help="ask the registry first")

    track = sub.add_parser("track", parents=[common], help="record what CHILD is built from")
    track.add_argument("child")
    track.add_argument("--from", dest="base", required=True, metavar="BASE")
    track.add_argument("-f", "--file", type=Path, help="the Modelfile (default: the difference)")
    track.add_argument(
        "--force", action="store_true", help="adopt even if CHILD never had BASE's weights"
    )

    rebuild = sub.add_parser("rebuild", parents=[common], help="rebuild from the current base")
    rebuild.add_argument("names", nargs="*", metavar="NAME")
    rebuild.add_argument("--all-stale", action="store_true", help="every stale derivative")
    rebuild.add_argument("--yes", "-y", action="store_true", help="do not ask")
    rebuild.add_argument(
        "-v", "--verbose", action="store_true", help="print the create request and its progress"
    )

    pull = sub.add_parser("pull", parents=[common], help="pull a base, then show what went stale")
    pull.add_argument("name")

    rollback = sub.add_parser("rollback", parents=[common], help="restore the newest backup")
    rollback.add_argument("name")

    compare = sub.add_parser("compare", parents=[common], help="same prompt to backup and model")
    compare.add_argument("name")
    compare.add_argument("--prompt", required=True)
    compare.add_argument("--seed", type=int, default=42)

    history = sub.add_parser(
        "history", parents=[common], help="builds, pulls and rollbacks (all models: --since)"
    )
    history.add_argument("name", nargs="?", help="one model (default: every model)")
    history.add_argument(
        "--since",
        metavar="WHEN",
        help="30m, 24h, 7d or an ISO date/time (default without a name: 24h)",
    )
    history.add_argument("--json", action="store_true")

    export = sub.add_parser("export", parents=[common], help="print or write recipes")
    export.add_argument("name", nargs="?")
    export.add_argument("-o", "--output", type=Path)
    export.add_argument(
        "--all",
        dest="all_dir",
        type=Path,
        metavar="DIR",
        help="one NAME.Modelfile per tracked derivative (':' written '@', '/' written '+')",
    )

    plan = sub.add_parser(
        "plan", parents=[common], help="compare a folder of recipes with the server"
    )
    plan.add_argument("dir", type=Path, metavar="DIR")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--prune", action="store_true", help="also list models to delete")

    apply = sub.add_parser("apply", parents=[common], help="make the server follow a folder")
    apply.add_argument("dir", type=Path, metavar="DIR")
    apply.add_argument("--yes", "-y", action="store_true", help="do not ask")
    apply.add_argument(
        "--prune", action="store_true", help="delete models this app created whose file is gone"
    )
    apply.add_argument(
        "-v", "--verbose", action="store_true", help="print each create request and its progress"
    )

    autopilot = sub.add_parser(
        "autopilot",
        parents=[common],
        help="pull updates, rebuild what went stale, keep only what passes its checks",
    )
    autopilot.add_argument(
        "--checks",
        type=Path,
        metavar="FILE",
        help="the checks file (default: OLLAMA_LINEAGE_CHECKS, else checks.toml in the user"
        " config dir; none: every model gets the smoke check)",
    )
    autopilot.add_argument("--yes", "-y", action="store_true", help="do not ask")
    autopilot.add_argument(
        "--json", action="store_true", help="the report as JSON on stdout (lines on stderr)"
    )
    autopilot.add_argument(
        "--notify", metavar="CMD", help="run CMD (a shell command) with the JSON report on stdin"
    )
    autopilot.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another run on the same database (default: exit 2 at once)",
    )

    checks = sub.add_parser(
        "checks", parents=[common], help="list models' checks and last results; --run runs them"
    )
    checks.add_argument("names", nargs="*", metavar="NAME", help="default: every model named")
    checks.add_argument("--checks", type=Path, metavar="FILE", help="the checks file")
    checks.add_argument("--run", action="store_true", help="run them now (exit 1 if one fails)")
    checks.add_argument(
        "--against-backup",
        action="store_true",
        help="with --run: the newest backup first, then the model, each loaded alone",
    )
    checks.add_argument("--json", action="store_true", help="machine-readable output")

    pin = sub.add_parser(
        "pin", parents=[common], help="keep a model (and what is built on it) out of bulk work"
    )
    pin.add_argument("name")
    unpin = sub.add_parser("unpin", parents=[common], help="let autopilot handle it again")
    unpin.add_argument("name")

    fake = sub.add_parser("fake-server", help="run the stand-in Ollama server")
    fake.add_argument("--port", type=int, default=11435)
    fake.add_argument("--scenario", default="demo", help="demo, empty or fleet:N")
    fake.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    fake.add_argument("--server-version", default="0.33.1")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if args.command == "fake-server":
        from .fake_ollama import run_server

        run_server(
            port=args.port,
            scenario=args.scenario,
            latency=args.latency,
            version=args.server_version,
        )
        return EXIT_OK
    try:
        with _settings(args) as settings:
            if args.command is None:
                from .ui.app import LineageApp

                app = LineageApp(settings)
                app.run()
                return app.return_code or EXIT_OK
            return asyncio.run(_run_command(args, settings))
    except USER_ERRORS as exc:
        # A failed operation (old model kept) is 1, like "something to do"; a server or
        # input that cannot be used at all is 2, so cron can tell them apart. plan and apply
        # use terraform's codes instead, where 2 means "changes".
        for line in str(exc).splitlines() or [type(exc).__name__]:
            print(f"error: {line}", file=sys.stderr)
        if args.command in ("plan", "apply"):
            return PLAN_ERROR
        if args.command == "autopilot" and args.notify:
            # The server being down at 3 a.m. is news too.
            _notify(args.notify, {"exit_code": EXIT_ERROR, "error": str(exc), "models": []})
        return EXIT_ATTENTION if isinstance(exc, RebuildError) else EXIT_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `status | head` closed the pipe: not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK


@contextmanager
def _settings(args: argparse.Namespace) -> Iterator[Settings]:
    """Resolve flags and environment; ``--demo`` brings its own server and a throwaway db."""
    registry = getattr(args, "registry", None) or DEFAULT_REGISTRY
    db = getattr(args, "db", None)
    common = {
        "poll_seconds": args.poll,
        "upstream_every": args.upstream_every,
        "keep_backups": args.keep_backups,
    }
    if getattr(args, "demo", False):
        from .fake_ollama import FakeOllama

        with FakeOllama(scenario="demo") as fake, tempfile.TemporaryDirectory() as tmp:
            fake.set_token_delay(0.03)
            yield Settings(
                host=fake.url,
                db_path=db or Path(tmp) / "demo.sqlite3",
                registry=getattr(args, "registry", None) or fake.registry_url,
                **common,
            )
        return
    host = parse_host(getattr(args, "host", None) or os.environ.get("OLLAMA_HOST"))
    given = getattr(args, "models_dir", None)
    models_dir = find_models_dir() if given is None else None if given == "none" else Path(given)
    yield Settings(
        host=host,
        db_path=db or default_db_path(),
        registry=registry,
        models_dir=models_dir,
        **common,
    )


def _validate(args: argparse.Namespace) -> None:
    """Refuse bad names and Modelfiles before a single request goes out."""
    for attr in ("child", "base", "name"):
        if getattr(args, attr, None):
            parse_model_name(getattr(args, attr))
    for name in getattr(args, "names", None) or ():
        parse_model_name(name)
    if getattr(args, "file", None):
        try:
            text = args.file.read_text(encoding="utf-8")
        except OSError as exc:
            raise ModelfileError(f"cannot read {args.file}: {exc.strerror}") from exc
        except UnicodeDecodeError as exc:
            raise ModelfileError(
                f"{args.file}: not a UTF-8 text Modelfile (byte {exc.start}: {exc.reason})"
            ) from None
        try:
            parse_modelfile(text)
        except ModelfileError as exc:
            raise ModelfileError(f"{args.file}: {exc}") from exc


async def _run_command(args: argparse.Namespace, settings: Settings) -> int:
    _validate(args)
    if args.command in ("plan", "apply"):
        # A folder that does not parse, names a model twice or loops is refused before any
        # request: nothing is sent, nothing applied.
        args.folder = read_folder(args.dir)
    if args.command in ("autopilot", "checks"):
        # A checks file that is not TOML, has an unknown key, a wrong type or a bad regex is
        # refused here, before any request.
        args.checks_file = load_checks(args.checks, required=args.checks is not None)
    commands: dict[str, Callable[[Session, argparse.Namespace], Awaitable[int]]] = {
        "status": _status,
        "track": _track,
        "rebuild": _rebuild,
        "pull": _pull,
        "rollback": _rollback,
        "compare": _compare,
        "history": _history,
        "export": _export,
        "plan": _plan,
        "apply": _apply,
        "autopilot": _autopilot,
        "checks": _checks,
        "pin": _pin,
        "unpin": _unpin,
    }
    async with open_session(settings) as session:
        await _first_poll(session)
        _resolve_names(args, session)
        _require_models(args, session)
        return await commands[args.command](session, args)


async def _first_poll(session: Session) -> None:
    """Ollama always answers /api/tags; a 404 there means some other server on that port."""
    try:
        await session.syncer.poll()
    except ApiError as exc:
        if exc.status in (404, 405) and session.syncer.requests["show"] == 0:
            raise OllamaError(
                f"{session.settings.host} does not look like an Ollama server "
                f"(HTTP {exc.status}); check --host or OLLAMA_HOST"
            ) from None
        raise


# The commands that act on a model the server must already have, and the arguments naming it.
_NEEDS_MODEL = {
    "track": ("child", "base"),
    "rebuild": ("names",),
    "rollback": ("name",),
    "compare": ("name",),
    "export": ("name",),
    "pin": ("name",),
    "checks": ("names",),
}


def _require_models(args: argparse.Namespace, session: Session) -> None:
    nodes = session.syncer.snapshot.nodes
    for attr in _NEEDS_MODEL.get(args.command, ()):
        value = getattr(args, attr, None)
        for name in value if isinstance(value, list) else [value] if value else []:
            node = nodes.get(name)
            if node is None or node.facts is None or node.kind is Kind.MISSING:
                raise UsageError(f"no model {name} on {session.settings.host}")


def _resolve_names(args: argparse.Namespace, session: Session) -> None:
    """`QWQ` means `qwq:latest`, as it does to the ollama CLI."""
    resolve = session.syncer.resolve
    for attr in ("child", "base", "name"):
        if getattr(args, attr, None):
            setattr(args, attr, resolve(getattr(args, attr)))
    if getattr(args, "names", None):
        args.names = [resolve(n) for n in args.names]


async def _status(session: Session, args: argparse.Namespace) -> int:
    if args.check_upstream:
        await session.upstream.check_all()
    snapshot = session.syncer.snapshot
    pins = await pins_of(session)
    if args.json:
        models = _as_json(snapshot, pins)
        print(json.dumps({"host": session.settings.host, "models": models}, indent=2))
    else:
        print(render_tree(snapshot, pins))
    attention = any(n.state.needs_attention for n in snapshot.walk())
    return EXIT_ATTENTION if attention else EXIT_OK


def _as_json(
    snapshot: Snapshot, pins: frozenset[str] | set[str] = frozenset()
) -> list[dict[str, object]]:
    return [
        {
            "name": n.name,
            "kind": n.kind.value,
            "state": n.state.word,
            "base": n.base,
            "reason": cli_reason(n),
            "digest": n.facts.digest if n.facts else None,
            "depth": n.depth,
            "pinned": n.name in pins,
        }
        for n in snapshot.walk()
    ]


def render_tree(snapshot: Snapshot, pins: frozenset[str] | set[str] = frozenset()) -> str:
    """Plain text with symbol and word, readable without colour (cron mail, NO_COLOR).

    A pinned model carries the pin mark after its name and "pinned" before its reason.
    """
    width = (
        max(
            (len(n.name) + 2 * n.depth + (2 if n.name in pins else 0) for n in snapshot.walk()),
            default=10,
        )
        + 2
    )
    lines = []
    for node in snapshot.walk():
        label = "  " * node.depth + node.name
        reason = cli_reason(node)
        if node.name in pins:
            label += f" {PIN_MARK}"
            reason = f"pinned ({PIN_MARK}); {reason}"
        lines.append(f"{node.state.symbol} {label:<{width}} {node.state.word:<16} {reason}")
    return "\n".join(lines) if lines else "(no models on the server)"


# The tree's reasons name TUI keys ("press p to pull", "(t, track)"); the CLI names commands.
_KEY_HINTS = (
    (re.compile(r"press \w to (\w+)"), r"run: ollama-lineage \1 {name}"),
    (re.compile(r"\((?:\w|ctrl\+\w), (\w+)\)"), r"(ollama-lineage \1)"),
    (re.compile(r"(\w+) it with \w\b"), r"\1 it: ollama-lineage \1 {name}"),
)


def cli_reason(node: Node) -> str:
    return _cli_text(node.reason, node.name)


@functools.lru_cache(maxsize=4096)
def _cli_text(reason: str, name: str) -> str:
    """Cached: at 1,000 models the substitutions cost a quarter of a second per status."""
    text = reason
    for pattern, replacement in _KEY_HINTS:
        if pattern.search(text):
            text = pattern.sub(replacement.replace("{name}", name), text)
    if "(ollama-lineage track)" in text:
        text = text.replace("ollama-lineage track", f"ollama-lineage track {name} --from BASE")
    return text


async def _track(session: Session, args: argparse.Namespace) -> int:
    text = args.file.read_text(encoding="utf-8") if args.file else None
    stored = await session.rebuilder.track(args.child, args.base, text, force=args.force)
    if args.force and stored.link.base_digest is None:
        print(f"warning: {args.child} never had {args.base}'s weights; a rebuild replaces them")
    node = session.syncer.snapshot.nodes[args.child]
    print(f"{args.child} tracked from {stored.link.base}: {node.state.word}")
    print(stored.text, end="")
    return EXIT_OK


async def _rebuild(session: Session, args: argparse.Namespace) -> int:
    if args.all_stale:
        for name in await session.upstream.settle_guesses():
            print(
                f"{name}: skipped; its lineage is a guess the registry could not settle,"
                f" so read its plan and run `ollama-lineage rebuild {name}` alone"
            )
    snapshot = session.syncer.snapshot
    names = args.names
    if args.all_stale:
        pins = await pins_of(session)
        names = rebuildable(snapshot, pins)
        keep = held(snapshot, pins)
        for name in snapshot.stale_in_order():
            if name in keep:
                print(f"{name}: skipped, {keep[name]} (ollama-lineage unpin to rebuild in bulk)")
    if not names:
        print("nothing to rebuild" if args.all_stale else "name a model or pass --all-stale")
        return EXIT_OK if args.all_stale else EXIT_ERROR
    recipes = await session.store.recipes(session.settings.host_key)
    for name in names:
        if name not in recipes:
            node = session.syncer.snapshot.nodes[name]
            raise UsageError(
                f"{name} has no recipe to rebuild from ({node.state.word}); adopt it first: "
                f"ollama-lineage track {name} --from BASE"
            )
    failures = 0
    for name in names:
        plan = await session.rebuilder.plan(name)
        notes = []
        if plan.guessed:
            notes.append("note: recipe guessed (the base version it was made from is unknown)")
        if plan.stale_base and plan.stale_base not in names:
            notes.append(
                f"note: {plan.stale_base} is itself out of date; --all-stale goes parents first"
            )
        if args.verbose or not args.yes:
            head = f"{name}: create from {plan.base} ({plan.base_digest[:12]})"
            print(f"{head}, backup {plan.backup}")
            if args.verbose:
                print(_indent(json.dumps(plan.request, indent=2)))
            for note in notes:
                print(f"  {note}")
        if not args.yes and not _confirm("  rebuild? [y/N] "):
            print(f"{name}: skipped")
            continue
        before = session.syncer.snapshot.nodes[name].facts
        try:
            digest = await session.rebuilder.run(plan, _print_progress if args.verbose else None)
        except RebuildError as exc:
            failures += 1
            print(f"{name}: {exc}", file=sys.stderr)
            continue
        state = session.syncer.snapshot.nodes[name].state.word
        was = before.digest[:12] if before else "-"
        line = (
            f"{name}: rebuilt from {plan.base} ({was} → {digest[:12]}, {state}), "
            f"backup {plan.backup}"
        )
        print("; ".join([line, *notes]) if args.yes and not args.verbose else line)
    return EXIT_ATTENTION if failures else EXIT_OK


def _indent(text: str, prefix: str = "  ") -> str:
    return "\n".join(prefix + line for line in text.splitlines())


def _confirm(question: str, what: str = "rebuild") -> bool:
    if not sys.stdin.isatty():
        raise RebuildError(f"not asking on a non-interactive input: pass --yes to {what}")
    return input(question).strip().lower() in {"y", "yes"}


def _print_progress(progress: Progress) -> None:
    if progress.total:
        percent = 100 * (progress.completed or 0) // progress.total
        print(f"  {progress.status} {percent}%", flush=True)
    else:
        print(f"  {progress.status}", flush=True)


async def _pull(session: Session, args: argparse.Namespace) -> int:
    digest = await session.rebuilder.pull(args.name, _print_progress)
    print(f"{args.name} is now {digest[:12]}")
    snapshot = session.syncer.snapshot
    stale = [n.name for n in snapshot.descendants(args.name) if n.state.needs_attention]
    if stale:
        print("now out of date: " + ", ".join(stale))
    return EXIT_OK


async def _rollback(session: Session, args: argparse.Namespace) -> int:
    digest = await session.rebuilder.rollback(args.name)
    print(f"{args.name} rolled back to {digest[:12]}")
    return EXIT_OK


async def _compare(session: Session, args: argparse.Namespace) -> int:
    from .services.compare import compare_models, latest_backup

    backup = await latest_backup(session, args.name)
    results = await compare_models(
        session, backup, args.name, args.prompt, {"seed": args.seed, "temperature": 0}
    )
    for side in results:
        if side.finished:
            print(
                f"== {side.model}  {side.tokens_per_second:.1f} tok/s, "
                f"total {side.total_seconds:.2f}s, load {side.load_seconds:.2f}s"
            )
        else:
            print(f"== {side.model}  ended early: Ollama sent no final line, so no timings")
        print(side.text)
    return EXIT_OK


_DURATION = re.compile(r"(\d+(?:\.\d+)?)\s*([smhdw])")
_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}


def parse_since(text: str, now: float | None = None) -> float:
    """``30m``, ``24h``, ``7d``, ``2w`` ago, or an ISO date/time (local time): a Unix time."""
    now = time.time() if now is None else now
    match = _DURATION.fullmatch(text.strip().lower())
    if match:
        return now - float(match[1]) * _UNIT_SECONDS[match[2]]
    try:
        return datetime.fromisoformat(text.strip()).timestamp()
    except ValueError:
        raise ConfigError(
            f"invalid --since value {text!r}: use e.g. 30m, 24h, 7d or 2026-01-31"
        ) from None


async def _history(session: Session, args: argparse.Namespace) -> int:
    since_text = args.since or (None if args.name else "24h")
    since = parse_since(since_text) if since_text else None
    events = await session.store.history(session.settings.host_key, args.name)
    if since is not None:
        events = [e for e in events if e.started_at >= since]
    if args.json:
        print(json.dumps([e.__dict__ for e in events], indent=2))
        return EXIT_OK
    if not events:
        scope = args.name or f"any model on {session.settings.host}"
        print(f"no history for {scope}" + (f" since {since_text}" if since_text else ""))
    width = max((len(e.name) for e in events), default=0)
    for e in events:
        when = datetime.fromtimestamp(e.started_at).strftime("%Y-%m-%d %H:%M:%S")
        change = f"{(e.digest_before or '-')[:12]} → {(e.digest_after or '-')[:12]}"
        extra = f" from {e.base}" if e.base else ""
        who = "" if args.name else f"{e.name:<{width}}  "
        print(f"{when}  {who}{e.kind:<13} {e.status:<8} {change}{extra}  {e.error or ''}".rstrip())
    return EXIT_OK


async def _export(session: Session, args: argparse.Namespace) -> int:
    if args.all_dir is not None:
        if args.name or args.output:
            raise ConfigError("export --all DIR writes every recipe: give no NAME and no -o")
        exported = await export_all(session, args.all_dir)
        for name, why in exported.skipped.items():
            print(f"skipped {name}: {why}", file=sys.stderr)
        print(f"wrote {len(exported.written)} recipes to {args.all_dir}")
        return EXIT_OK
    if not args.name:
        raise ConfigError("name a model to export, or pass --all DIR")
    stored = await session.rebuilder.recipe(args.name)
    if args.output:
        args.output.write_text(stored.text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(stored.text, end="")
    return EXIT_OK


async def _plan(session: Session, args: argparse.Namespace) -> int:
    plan = await plan_folder(session, args.folder, prune=args.prune)
    if args.json:
        print(json.dumps({"host": session.settings.host, **plan.as_json()}, indent=2))
    else:
        print_plan(plan)
    return PLAN_CHANGES if plan.changes else EXIT_OK


def print_plan(plan: FolderPlan) -> None:
    width = max((len(c.name) for c in plan.changes), default=0)
    for change in plan.changes:
        print(f"{change.action.symbol} {change.name:<{width}}  {change.reason}")
        for line in change.diff:
            print(f"    {line}")
        for note in change.notes:
            print(f"    note: {note}")
    for warning in plan.warnings:
        print(f"note: {warning}")
    print(plan.summary)


async def _apply(session: Session, args: argparse.Namespace) -> int:
    plan = await plan_folder(session, args.folder, prune=args.prune)
    if not plan.changes:
        print(plan.summary)
        return EXIT_OK
    if not args.yes:
        print_plan(plan)
        if not _confirm("apply these changes? [y/N] ", "apply"):
            print("nothing applied")
            return EXIT_OK
    done: list[str] = []
    for change in plan.changes:
        if args.verbose and change.action is not Action.DELETE:
            recipe = args.folder[next(k for k in args.folder if k.lower() == change.name.lower())]
            print(f"{change.action.symbol} {change.name}: create request")
            print(_indent(json.dumps(recipe.recipe.create_request(change.name), indent=2)))
        try:
            applied = await apply_change(
                session, change, args.folder, _print_progress if args.verbose else None
            )
        except (RebuildError, OllamaError) as exc:
            left = len(plan.changes) - len(done) - 1
            print(f"{change.action.symbol} {change.name}: {exc}", file=sys.stderr)
            print(
                f"apply stopped: {len(done)} done, {change.name} failed, {left} not started",
                file=sys.stderr,
            )
            return PLAN_ERROR
        done.append(change.name)
        print(f"{change.action.symbol} {change.name}: {_applied_line(applied)}")
    print(
        f"Apply complete: {plan.count(Action.CREATE)} created, "
        f"{plan.count(Action.REBUILD) + plan.count(Action.DRIFT)} rebuilt, "
        f"{plan.count(Action.DELETE)} deleted."
    )
    return EXIT_OK


def _applied_line(applied: Applied) -> str:
    change, digest = applied.change, (applied.digest or "")[:12]
    if change.action is Action.CREATE:
        return f"created from {change.base} ({digest})"
    if change.action is Action.DELETE:
        return "deleted"
    return f"rebuilt from {change.base} ({digest}), backup {applied.backup}"


async def _autopilot(session: Session, args: argparse.Namespace) -> int:
    checks: ChecksFile = args.checks_file.renamed(session.syncer.resolve)
    check_models_exist(checks, session.syncer.snapshot, session.settings.host)
    out = sys.stderr if args.json else sys.stdout

    def say(line: str) -> None:
        print(line, file=out, flush=True)

    async with run_lock(session.store, "autopilot", wait=args.wait, on_note=say):
        pilot = Autopilot(session, checks, await pins_of(session), say)
        plan = await pilot.prepare()
        asked = False
        if not args.yes and not plan.nothing_to_do:
            for line in plan.lines():
                print(line, flush=True)
            if not sys.stdin.isatty():
                print(
                    "error: not asking on a non-interactive input: pass --yes to run autopilot",
                    file=sys.stderr,
                )
                return EXIT_ERROR
            if input("go ahead? [y/N] ").strip().lower() not in {"y", "yes"}:
                print("nothing done")
                return EXIT_OK
            asked = True
        report = await pilot.run(plan, echo_notes=not asked)
    return _finish_autopilot(report, args, say)


def _finish_autopilot(report: Report, args: argparse.Namespace, say: Callable[[str], None]) -> int:
    if report.error:
        say(f"error: {report.error}")
    say(report.summary)
    if args.json:
        print(json.dumps(report.as_json(), indent=2))
    code = report.exit_code
    if args.notify:
        failure = _notify(args.notify, report.as_json())
        if failure:
            print(f"warning: --notify {failure}", file=sys.stderr)
            code = max(code, EXIT_ATTENTION)
    return code


def _notify(command: str, report: dict[str, object]) -> str | None:
    """Run the user's command with the JSON report on stdin; why it failed, or None."""
    env = {**os.environ, "OLLAMA_LINEAGE_EXIT_CODE": str(report.get("exit_code"))}
    try:
        done = subprocess.run(
            command,
            shell=True,
            input=json.dumps(report, indent=2),
            text=True,
            timeout=120,
            env=env,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return f"command did not finish within 120 s: {command}"
    except OSError as exc:
        return f"command could not run ({exc.strerror}): {command}"
    if done.returncode != 0:
        return f"command exited {done.returncode}: {command}"
    return None


async def _checks(session: Session, args: argparse.Namespace) -> int:
    checks: ChecksFile = args.checks_file.renamed(session.syncer.resolve)
    check_models_exist(checks, session.syncer.snapshot, session.settings.host)
    names = args.names or checks.named()
    if not names:
        where = checks.path or "the checks file"
        print(f"no checks in {where}: every model gets the smoke check; name a model to see it")
        return EXIT_OK
    if args.run:
        return await _run_checks(session, checks, names, args)
    listing = {name: await model_checks(session, checks, name) for name in names}
    if args.json:
        print(
            json.dumps(
                {
                    name: [
                        {**s.check.as_json(), "last": s.last.__dict__ if s.last else None}
                        for s in statuses
                    ]
                    for name, statuses in listing.items()
                },
                indent=2,
            )
        )
        return EXIT_OK
    for name, statuses in listing.items():
        print(name)
        for status in statuses:
            last = status.last
            if last is None:
                result = "never run"
            else:
                when = datetime.fromtimestamp(last.ran_at).strftime("%Y-%m-%d %H:%M")
                verdict = "passed" if last.passed else "failed: " + "; ".join(last.failures)
                result = f"{verdict} ({when}, {last.seconds:.1f} s on {(last.digest or '-')[:12]})"
            print(f"  {status.check.label}  {result}")
    return EXIT_OK


async def _run_checks(
    session: Session, checks: ChecksFile, names: list[str], args: argparse.Namespace
) -> int:
    def line(side: str, result: CheckResult) -> None:
        verdict = "passed" if result.passed else f"FAILED: {result.why}"
        if result.skipped:
            verdict = f"skipped: {result.skipped}"
        timing = f"{result.seconds:.1f} s, load {result.load_seconds:.1f} s"
        if result.tokens_per_second:
            timing += f", {result.tokens_per_second:.1f} tok/s"
        if not args.json:
            print(f"{side}{result.check.label}: {verdict} ({timing})", flush=True)

    failed = False
    report: dict[str, object] = {}
    for name in names:
        if not args.json:
            print(name)
        if args.against_backup:
            pairs = await check_against_backup(
                session,
                checks,
                name,
                on_result=lambda side, r: line(("  old " if side == 0 else "  new "), r),
            )
            failed |= any(not p.new.passed for p in pairs)
            report[name] = [{"old": p.old.as_json(), "new": p.new.as_json()} for p in pairs]
        else:
            results = await run_checks(
                session, name, checks.for_model(name), on_result=lambda r: line("  ", r)
            )
            failed |= any(not r.passed for r in results)
            report[name] = [r.as_json() for r in results]
    if args.json:
        print(json.dumps(report, indent=2))
    return EXIT_ATTENTION if failed else EXIT_OK


async def _pin(session: Session, args: argparse.Namespace) -> int:
    snapshot = session.syncer.snapshot
    node = snapshot.nodes[args.name]
    if node.kind is Kind.BACKUP:
        raise UsageError(f"{args.name} is a backup; pin the model it backs up, {node.base}")
    added = await session.store.pin(session.settings.host_key, args.name)
    under = [d.name for d in snapshot.descendants(args.name) if d.kind is not Kind.BACKUP]
    also = f" and what is built on it ({', '.join(under)})" if under else ""
    state = "pinned" if added else "already pinned"
    print(f"{args.name} {state}: autopilot and rebuild --all-stale leave it{also} alone")
    return EXIT_OK


async def _unpin(session: Session, args: argparse.Namespace) -> int:
    host = session.settings.host_key
    pins = await session.store.pins(host)
    name = next((p for p in pins if p.casefold() == args.name.casefold()), args.name)
    if await session.store.unpin(host, name):
        print(f"{name} unpinned: autopilot and rebuild --all-stale handle it again")
    else:
        print(f"{name} was not pinned")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
