"""Command line: the TUI by default; status, rebuild and friends for scripts and cron."""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sys
import tempfile
from collections.abc import Awaitable, Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from . import __version__
from .config import DEFAULT_REGISTRY, ConfigError, Settings, default_db_path, parse_host
from .core.lineage import Snapshot
from .core.modelfile import ModelfileError, parse_modelfile
from .core.names import InvalidModelName, parse_model_name
from .ollama.client import OllamaError, Progress
from .services.rebuild import RebuildError
from .services.session import Session, open_session
from .services.store import StoreError

EXIT_OK, EXIT_ATTENTION, EXIT_ERROR = 0, 1, 2
USER_ERRORS = (OllamaError, RebuildError, ModelfileError, InvalidModelName, StoreError, ConfigError)


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--host", default=argparse.SUPPRESS, help="Ollama server (OLLAMA_HOST)")
    common.add_argument("--db", type=Path, default=argparse.SUPPRESS, help="database file")
    common.add_argument("--registry", default=argparse.SUPPRESS, help="registry to check")
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

    rebuild = sub.add_parser("rebuild", parents=[common], help="rebuild from the current base")
    rebuild.add_argument("names", nargs="*", metavar="NAME")
    rebuild.add_argument("--all-stale", action="store_true", help="every stale derivative")
    rebuild.add_argument("--yes", "-y", action="store_true", help="do not ask")

    pull = sub.add_parser("pull", parents=[common], help="pull a base, then show what went stale")
    pull.add_argument("name")

    rollback = sub.add_parser("rollback", parents=[common], help="restore the newest backup")
    rollback.add_argument("name")

    compare = sub.add_parser("compare", parents=[common], help="same prompt to backup and model")
    compare.add_argument("name")
    compare.add_argument("--prompt", required=True)
    compare.add_argument("--seed", type=int, default=42)

    history = sub.add_parser("history", parents=[common], help="builds, pulls and rollbacks")
    history.add_argument("name")
    history.add_argument("--json", action="store_true")

    export = sub.add_parser("export", parents=[common], help="print or write a recipe")
    export.add_argument("name")
    export.add_argument("-o", "--output", type=Path)

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
        # input that cannot be used at all is 2, so cron can tell them apart.
        print(f"error: {exc}", file=sys.stderr)
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
    yield Settings(host=host, db_path=db or default_db_path(), registry=registry, **common)


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
    commands: dict[str, Callable[[Session, argparse.Namespace], Awaitable[int]]] = {
        "status": _status,
        "track": _track,
        "rebuild": _rebuild,
        "pull": _pull,
        "rollback": _rollback,
        "compare": _compare,
        "history": _history,
        "export": _export,
    }
    async with open_session(settings) as session:
        await session.syncer.poll()
        _resolve_names(args, session)
        return await commands[args.command](session, args)


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
    if args.json:
        print(json.dumps({"host": session.settings.host, "models": _as_json(snapshot)}, indent=2))
    else:
        print(render_tree(snapshot))
    attention = any(n.state.needs_attention for n in snapshot.walk())
    return EXIT_ATTENTION if attention else EXIT_OK


def _as_json(snapshot: Snapshot) -> list[dict[str, object]]:
    return [
        {
            "name": n.name,
            "kind": n.kind.value,
            "state": n.state.word,
            "base": n.base,
            "reason": n.reason,
            "digest": n.facts.digest if n.facts else None,
            "depth": n.depth,
        }
        for n in snapshot.walk()
    ]


def render_tree(snapshot: Snapshot) -> str:
    """Plain text with symbol and word, readable without colour (cron mail, NO_COLOR)."""
    width = max((len(n.name) + 2 * n.depth for n in snapshot.walk()), default=10) + 2
    lines = []
    for node in snapshot.walk():
        label = "  " * node.depth + node.name
        lines.append(f"{node.state.symbol} {label:<{width}} {node.state.word:<16} {node.reason}")
    return "\n".join(lines) if lines else "(no models on the server)"


async def _track(session: Session, args: argparse.Namespace) -> int:
    text = args.file.read_text(encoding="utf-8") if args.file else None
    stored = await session.rebuilder.track(args.child, args.base, text)
    node = session.syncer.snapshot.nodes[args.child]
    print(f"{args.child} tracked from {stored.link.base}: {node.state.word}")
    print(stored.text, end="")
    return EXIT_OK


async def _rebuild(session: Session, args: argparse.Namespace) -> int:
    names = session.syncer.snapshot.stale_in_order() if args.all_stale else args.names
    if not names:
        print("nothing to rebuild" if args.all_stale else "name a model or pass --all-stale")
        return EXIT_OK if args.all_stale else EXIT_ERROR
    failures = 0
    for name in names:
        plan = await session.rebuilder.plan(name)
        print(f"{name}: create from {plan.base} ({plan.base_digest[:12]}), backup {plan.backup}")
        print("  request: " + json.dumps(plan.request))
        if plan.guessed:
            print("  note: recipe guessed (base had changed before first sight); check the diff")
        if plan.stale_base and plan.stale_base not in names:
            print(
                f"  note: {plan.stale_base} is itself out of date; --all-stale goes parents first"
            )
        if not args.yes and not _confirm("  rebuild? [y/N] "):
            print("  skipped")
            continue
        try:
            digest = await session.rebuilder.run(plan, _print_progress)
        except RebuildError as exc:
            failures += 1
            print(f"  {exc}", file=sys.stderr)
            continue
        print(
            f"  done: {name} is now {digest[:12]} "
            f"({session.syncer.snapshot.nodes[name].state.word})"
        )
    return EXIT_ATTENTION if failures else EXIT_OK


def _confirm(question: str) -> bool:
    if not sys.stdin.isatty():
        raise RebuildError("not asking on a non-interactive input: pass --yes to rebuild")
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
        print(
            f"== {side.model}  {side.tokens_per_second:.1f} tok/s, "
            f"total {side.total_seconds:.2f}s, load {side.load_seconds:.2f}s"
        )
        print(side.text)
    return EXIT_OK


async def _history(session: Session, args: argparse.Namespace) -> int:
    events = await session.store.history(session.settings.host_key, args.name)
    if args.json:
        print(json.dumps([e.__dict__ for e in events], indent=2))
        return EXIT_OK
    if not events:
        print(f"no history for {args.name}")
    for e in events:
        from datetime import datetime

        when = datetime.fromtimestamp(e.started_at).strftime("%Y-%m-%d %H:%M:%S")
        change = f"{(e.digest_before or '-')[:12]} → {(e.digest_after or '-')[:12]}"
        extra = f" from {e.base}" if e.base else ""
        print(f"{when}  {e.kind:<13} {e.status:<8} {change}{extra}  {e.error or ''}".rstrip())
    return EXIT_OK


async def _export(session: Session, args: argparse.Namespace) -> int:
    stored = await session.rebuilder.recipe(args.name)
    if args.output:
        args.output.write_text(stored.text, encoding="utf-8")
        print(f"wrote {args.output}")
    else:
        print(stored.text, end="")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
