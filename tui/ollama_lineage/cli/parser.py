"""The command line's grammar."""

from __future__ import annotations

import argparse
from pathlib import Path

from .. import __version__


def build_parser() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument(
        "--host",
        action="append",
        default=argparse.SUPPRESS,
        help="Ollama server (OLLAMA_HOST), or a name from the hosts file; again for several",
    )
    common.add_argument(
        "--hosts",
        type=Path,
        default=argparse.SUPPRESS,
        metavar="FILE",
        help="the hosts file: [[host]] name, url, models_dir (default: OLLAMA_LINEAGE_HOSTS,"
        " else hosts.toml in the user's config dir, if there)",
    )
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
    # Every command that changes models holds the server's writer lock (services/lock.py).
    writer = argparse.ArgumentParser(add_help=False, parents=[common])
    writer.add_argument(
        "--wait",
        type=float,
        default=0.0,
        metavar="SECONDS",
        help="wait this long for another writer on the same server (default: exit 2 at once)",
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
    parser.add_argument(
        "--keep-history",
        type=float,
        default=90.0,
        metavar="DAYS",
        help="History forgets events older than this (each model's last change stays)",
    )
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    status = sub.add_parser("status", parents=[common], help="print the tree; exit 1 if stale")
    status.add_argument("--json", action="store_true", help="machine-readable output")
    status.add_argument(
        "--format",
        choices=("text", "json", "prometheus"),
        default="text",
        help="prometheus: gauges per host for node_exporter's textfile collector",
    )
    status.add_argument("--check-upstream", action="store_true", help="ask the registry first")
    status.add_argument(
        "--matrix",
        action="store_true",
        help="each derivative by name × each host: its state there, missing, or differs",
    )

    track = sub.add_parser("track", parents=[writer], help="record what CHILD is built from")
    track.add_argument("child")
    track.add_argument("--from", dest="base", required=True, metavar="BASE")
    track.add_argument("-f", "--file", type=Path, help="the Modelfile (default: the difference)")
    track.add_argument(
        "--force", action="store_true", help="adopt even if CHILD never had BASE's weights"
    )

    rebuild = sub.add_parser("rebuild", parents=[writer], help="rebuild from the current base")
    rebuild.add_argument("names", nargs="*", metavar="NAME")
    rebuild.add_argument("--all-stale", action="store_true", help="every stale derivative")
    rebuild.add_argument("--yes", "-y", action="store_true", help="do not ask")
    rebuild.add_argument(
        "-v", "--verbose", action="store_true", help="print the create request and its progress"
    )

    pull = sub.add_parser("pull", parents=[writer], help="pull a base, then show what went stale")
    pull.add_argument("name")

    copy = sub.add_parser(
        "copy", parents=[writer], help="make a model on another server from its recipe"
    )
    copy.add_argument("name")
    copy.add_argument(
        "--to", required=True, metavar="HOST", help="the other server: a hosts-file name or address"
    )
    copy.add_argument(
        "--with-children", action="store_true", help="and every derivative built on it"
    )
    copy.add_argument("--yes", "-y", action="store_true", help="do not ask")

    rollback = sub.add_parser("rollback", parents=[writer], help="restore the newest backup")
    rollback.add_argument("name")
    rollback.add_argument("--yes", "-y", action="store_true", help="do not ask")

    compare = sub.add_parser("compare", parents=[common], help="same prompt to backup and model")
    compare.add_argument("name")
    compare.add_argument("--prompt", required=True)
    compare.add_argument("--seed", type=int, default=42)
    compare.add_argument(
        "--num-predict",
        type=int,
        default=256,
        metavar="TOKENS",
        help="tokens each side may generate (options.num_predict; default 256)",
    )
    compare.add_argument(
        "--max-seconds",
        type=float,
        default=300.0,
        metavar="SECONDS",
        help="time each side may take, model load included (default 300)",
    )

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

    recipe = sub.add_parser(
        "recipe", parents=[common], help="a model's recipe and the ones it had before"
    )
    recipe.add_argument("name")
    recipe.add_argument(
        "--revert",
        type=int,
        metavar="N",
        help="make earlier recipe N current again (1 = the one before); then rebuild",
    )

    plan = sub.add_parser(
        "plan", parents=[common], help="compare a folder of recipes with the server"
    )
    plan.add_argument("dir", type=Path, metavar="DIR")
    plan.add_argument("--json", action="store_true", help="machine-readable output")
    plan.add_argument("--prune", action="store_true", help="also list models to delete")

    apply = sub.add_parser("apply", parents=[writer], help="make the server follow a folder")
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
        parents=[writer],
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

    disk = sub.add_parser(
        "disk", parents=[common], help="what models, backups and orphans hold on disk"
    )
    disk.add_argument("--json", action="store_true", help="machine-readable output")
    disk.add_argument(
        "--prune-orphans",
        action="store_true",
        help="delete blob files no manifest names (never partial or under an hour old)",
    )
    disk.add_argument("--yes", "-y", action="store_true", help="do not ask")

    fake = sub.add_parser("fake-server", help="run the stand-in Ollama server")
    fake.add_argument("--port", type=int, default=11435)
    fake.add_argument("--scenario", default="demo", help="demo, empty or fleet:N")
    fake.add_argument("--latency", type=float, default=0.0, help="seconds added per request")
    fake.add_argument("--server-version", default="0.33.1")
    return parser
