"""Command line: the TUI by default; status, rebuild and friends for scripts and cron.

This module stays light: it reads the arguments, refuses bad input and sends the first
request before the rest of the app is imported, and each command's module is imported only
when it runs (`status` from cron does not pay for autopilot, recipes and checks).
"""

from __future__ import annotations

import argparse
import gc
import os
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from ..config import (
    DEFAULT_REGISTRY,
    ConfigError,
    Settings,
    default_db_path,
    find_models_dir,
)
from ..hosts import choose_hosts, default_hosts_path
from ..ollama.plain_http import EarlyGet
from .common import EXIT_ATTENTION, EXIT_ERROR, EXIT_OK, UsageError
from .parser import build_parser


def user_errors() -> tuple[type[Exception], ...]:
    """What a user reads as one `error:` line, not a traceback (imported on that path only)."""
    from ..core.modelfile import ModelfileError
    from ..core.names import InvalidModelName
    from ..ollama.client import OllamaError
    from ..services.checks import ChecksError
    from ..services.disk import DiskError
    from ..services.lock import LockBusy
    from ..services.rebuild import RebuildError
    from ..services.recipes import RecipeError
    from ..services.store import StoreError

    return (
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
        DiskError,
    )


def entry() -> int:
    """The console script. Once the command is done, the objects it made are frozen: Python's
    last collections would otherwise walk them all only to free memory the process is handing
    back anyway. Output is flushed as usual."""
    code = main()
    gc.freeze()
    return code


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    args.argv = sys.argv[1:] if argv is None else argv
    if args.command == "fake-server":
        from ..fake_ollama import run_server

        run_server(
            port=args.port,
            scenario=args.scenario,
            latency=args.latency,
            version=args.server_version,
        )
        return EXIT_OK
    try:
        with _settings(args) as hosts:
            if args.command is not None:
                prepare(args)
            if len(hosts) > 1:
                return _on_several_hosts(args, hosts)
            (settings,) = hosts
            # The listing is asked for now, so the server works on it while Python imports
            # the rest of the app (tests/benchmarks/README.md has what that saves).
            listing = EarlyGet(settings.host, "/api/tags", settings.timeout)
            if args.command is None:
                from ..ui.app import LineageApp

                app = LineageApp(settings, early=listing)
                app.run()
                return app.return_code or EXIT_OK
            from .run import run_command

            return run_command(args, settings, listing)
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:
        # `status | head` closed the pipe: not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:
        return report_error(exc, args)


def report_error(exc: Exception, args: argparse.Namespace) -> int:
    """A user's error as `error:` lines and its exit code; anything else is a bug, raised."""
    if not isinstance(exc, user_errors()):
        raise exc
    # A failed operation (old model kept) is 1, like "something to do"; a refusal before
    # anything was sent, or a server or input that cannot be used, is 2: cron can tell.
    for line in str(exc).splitlines() or [type(exc).__name__]:
        print(f"error: {line}", file=sys.stderr)
    if args.command == "autopilot" and args.notify:
        from .autopilot import notify

        # The server being down at 3 a.m. is news too.
        notify(args.notify, {"exit_code": EXIT_ERROR, "error": str(exc), "models": []})
    from ..services.rebuild import RebuildError, Refused

    failed = isinstance(exc, RebuildError) and not isinstance(exc, Refused)
    return EXIT_ATTENTION if failed else EXIT_ERROR


def _on_several_hosts(args: argparse.Namespace, hosts: list[Settings]) -> int:
    if args.command is None:  # the TUI: a subtree per host
        from ..ui.app import LineageApp

        app = LineageApp(hosts[0], others=hosts[1:])
        app.run()
        return app.return_code or EXIT_OK
    from .several import run_on_hosts

    return run_on_hosts(args, hosts)


@contextmanager
def _settings(args: argparse.Namespace) -> Iterator[list[Settings]]:
    """Resolve flags and environment, one Settings per server; ``--demo`` brings its own
    server and a throwaway db."""
    registry = getattr(args, "registry", None) or DEFAULT_REGISTRY
    db = getattr(args, "db", None)
    common = {
        "poll_seconds": args.poll,
        "upstream_every": args.upstream_every,
        "keep_backups": args.keep_backups,
        "keep_history_days": args.keep_history,
    }
    if getattr(args, "demo", False):
        import tempfile

        from ..fake_ollama import FakeOllama

        with FakeOllama(scenario="demo") as fake, tempfile.TemporaryDirectory() as tmp:
            fake.set_token_delay(0.03)
            yield [
                Settings(
                    host=fake.url,
                    db_path=db or Path(tmp) / "demo.sqlite3",
                    registry=getattr(args, "registry", None) or fake.registry_url,
                    **common,
                )
            ]
        return
    hosts = choose_hosts(getattr(args, "host", None) or [], hosts_file(args), os.environ)
    given = getattr(args, "models_dir", None)
    if len(hosts) > 1 and given not in (None, "none"):
        raise ConfigError(
            "--models-dir is one server's folder: with several hosts, give each its"
            " models_dir in the hosts file (--models-dir none still turns them all off)"
        )
    yield [
        Settings(
            host=host.url,
            db_path=db or default_db_path(),
            registry=registry,
            models_dir=_models_dir(host.models_dir, given, alone=len(hosts) == 1),
            name=host.name,
            **common,
        )
        for host in hosts
    ]


def hosts_file(args: argparse.Namespace) -> Path | None:
    """``--hosts FILE`` must exist; the default one is read only if it is there."""
    if getattr(args, "hosts", None) is not None:
        return Path(args.hosts)
    default = default_hosts_path()
    return default if default.is_file() else None


def _models_dir(from_file: Path | None, given: str | None, *, alone: bool) -> Path | None:
    """``--models-dir`` wins; then the hosts file's; a lone server may be this machine's, so
    its folder is looked for where Ollama keeps it."""
    if given is not None:
        return None if given == "none" else Path(given)
    if from_file is not None or not alone:
        return from_file
    return find_models_dir()


def prepare(args: argparse.Namespace) -> None:
    """Refuse bad names, Modelfiles, recipe folders and checks files before a single request
    goes out. (Each check imports what it needs: `status` sends its request sooner.)"""
    names = [getattr(args, a) for a in ("child", "base", "name") if getattr(args, a, None)]
    names += getattr(args, "names", None) or ()
    if names:
        from ..core.names import parse_model_name

        for name in names:
            parse_model_name(name)
    if getattr(args, "file", None):
        from ..core.modelfile import ModelfileError, parse_modelfile

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
    if args.command in ("plan", "apply"):
        # A folder that does not parse, names a model twice or loops is refused: nothing is
        # sent, nothing applied.
        from ..services.recipes import read_folder

        args.folder = read_folder(args.dir)
    if args.command in ("autopilot", "checks"):
        # A checks file that is not TOML, has an unknown key, a wrong type or a bad regex.
        from ..services.checks import load_checks

        args.checks_file = load_checks(args.checks, required=args.checks is not None)
