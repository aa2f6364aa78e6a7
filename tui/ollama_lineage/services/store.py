"""SQLite memory of everything seen and done: digests over time, show cache, recipes, builds.

The digest history lets the app notice updates that happened while it was not running, and
recover the base version a derivative was built from.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiosqlite

from ..core.lineage import Link, ModelFacts, Upstream, shared
from ..core.spec import ModelSpec

BUSY_SECONDS = 15.0  # how long one instance waits for another's write

MIGRATIONS: tuple[str, ...] = (
    """
    CREATE TABLE models (
        host TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, size INTEGER NOT NULL,
        modified_at TEXT NOT NULL, parent_model TEXT NOT NULL, weights_blob TEXT,
        last_seen REAL NOT NULL, PRIMARY KEY (host, name));
    CREATE TABLE digest_history (
        host TEXT NOT NULL, name TEXT NOT NULL, digest TEXT NOT NULL, weights_blob TEXT,
        first_seen REAL NOT NULL, PRIMARY KEY (host, name, digest));
    CREATE TABLE shows (digest TEXT PRIMARY KEY, json TEXT NOT NULL);
    CREATE TABLE links (
        host TEXT NOT NULL, child TEXT NOT NULL, base TEXT NOT NULL, base_digest TEXT,
        source TEXT NOT NULL, recipe TEXT NOT NULL, guessed INTEGER NOT NULL,
        updated_at REAL NOT NULL, PRIMARY KEY (host, child));
    CREATE TABLE backups (
        host TEXT NOT NULL, backup TEXT NOT NULL, original TEXT NOT NULL,
        created_at REAL NOT NULL, PRIMARY KEY (host, backup));
    CREATE TABLE events (
        id INTEGER PRIMARY KEY AUTOINCREMENT, host TEXT NOT NULL, name TEXT NOT NULL,
        kind TEXT NOT NULL, status TEXT NOT NULL, base TEXT, base_digest TEXT,
        digest_before TEXT, digest_after TEXT, backup TEXT, error TEXT,
        log TEXT NOT NULL DEFAULT '', started_at REAL NOT NULL, finished_at REAL);
    CREATE INDEX events_by_name ON events (host, name, id);
    CREATE TABLE upstream (
        host TEXT NOT NULL, name TEXT NOT NULL, digest TEXT, error TEXT,
        checked_at REAL NOT NULL, PRIMARY KEY (host, name));
    CREATE TABLE prompts (
        host TEXT NOT NULL, name TEXT NOT NULL, prompt TEXT NOT NULL, used_at REAL NOT NULL,
        PRIMARY KEY (host, name, prompt));
    """,
    # Shows are kept as the typed spec the app uses, not the raw answer (tens of KB each).
    """
    ALTER TABLE models ADD COLUMN quantization TEXT NOT NULL DEFAULT '';
    ALTER TABLE models ADD COLUMN shape TEXT NOT NULL DEFAULT '';
    ALTER TABLE models ADD COLUMN remote_host TEXT NOT NULL DEFAULT '';
    ALTER TABLE models ADD COLUMN problem TEXT;
    ALTER TABLE upstream ADD COLUMN local INTEGER NOT NULL DEFAULT 0;
    DROP TABLE shows;
    CREATE TABLE specs (digest TEXT PRIMARY KEY, json TEXT NOT NULL);
    """,
    # Autopilot: models kept out of bulk rebuilds, the last results of each check, and the
    # lock that keeps two runs on one database from rebuilding the same model.
    """
    CREATE TABLE pins (
        host TEXT NOT NULL, name TEXT NOT NULL, pinned_at REAL NOT NULL,
        PRIMARY KEY (host, name));
    CREATE TABLE check_results (
        id INTEGER PRIMARY KEY AUTOINCREMENT, host TEXT NOT NULL, model TEXT NOT NULL,
        check_key TEXT NOT NULL, label TEXT NOT NULL, digest TEXT, passed INTEGER NOT NULL,
        failures TEXT NOT NULL, reply TEXT NOT NULL, seconds REAL NOT NULL,
        load_seconds REAL NOT NULL, tokens_per_second REAL NOT NULL, ran_at REAL NOT NULL);
    CREATE INDEX check_results_by_model ON check_results (host, model, check_key, id);
    CREATE TABLE locks (
        name TEXT PRIMARY KEY, token TEXT NOT NULL, purpose TEXT NOT NULL,
        pid INTEGER NOT NULL, hostname TEXT NOT NULL, acquired_at REAL NOT NULL,
        heartbeat REAL NOT NULL);
    """,
    # A recipe edited since the model was last built: the tree says so and R offers it.
    """
    ALTER TABLE links ADD COLUMN edited INTEGER NOT NULL DEFAULT 0;
    """,
    # Licenses and templates kept once however many models carry them: a fleet's specs are
    # mostly the same few licenses, read and written on every cold start.
    """
    CREATE TABLE texts (digest TEXT PRIMARY KEY, text TEXT NOT NULL);
    """,
    # The run lock is a locked file beside the database now (services/lock.py): one per
    # server, for every writer, and gone with its process.
    """
    DROP TABLE locks;
    """,
    # Every recipe a model had before its current one, so an edit can be undone.
    """
    CREATE TABLE recipe_versions (
        id INTEGER PRIMARY KEY AUTOINCREMENT, host TEXT NOT NULL, child TEXT NOT NULL,
        base TEXT NOT NULL, recipe TEXT NOT NULL, saved_at REAL NOT NULL,
        replaced_at REAL NOT NULL);
    CREATE INDEX recipe_versions_by_child ON recipe_versions (host, child, id);
    """,
)
# Spec texts at least this long are kept in `texts`, the spec naming them by digest.
SHARED_TEXT_FROM = 256


_FACT_FIELDS = (
    "name",
    "digest",
    "size",
    "modified_at",
    "parent_model",
    "weights_blob",
    "quantization",
    "shape",
    "remote_host",
    "problem",
)
_FACT_COLUMNS = ", ".join(_FACT_FIELDS)
_RECIPE_COLUMNS = "child, base, base_digest, source, guessed, recipe, edited"


def _recipe(r: Any) -> StoredRecipe:
    return StoredRecipe(_link(r), r[5])


def _link(r: Any) -> Link:
    return Link(r[0], shared(r[1]), r[2], shared(r[3]), bool(r[4]), bool(r[6]))


def _facts(r: Any) -> ModelFacts:
    name, digest, size, modified_at, parent, weights, quantization, shape, *rest = r
    return ModelFacts(
        name,
        digest,
        size,
        modified_at,
        shared(parent),
        shared(weights),
        shared(quantization),
        shared(shape),
        *rest,
    )


class StoreError(Exception):
    """The database cannot be used: the message names the file and what to do."""


@dataclass(frozen=True)
class Event:
    """One pull, build, rollback or backup deletion, as the History tab shows it."""

    id: int
    name: str
    kind: str
    status: str
    base: str | None
    base_digest: str | None
    digest_before: str | None
    digest_after: str | None
    backup: str | None
    error: str | None
    log: str
    started_at: float
    finished_at: float | None


@dataclass(frozen=True)
class StoredCheckResult:
    """The last result of one check on one model, as the Overview and History show it."""

    model: str
    check_key: str
    label: str
    digest: str | None
    passed: bool
    failures: list[str]
    reply: str
    seconds: float
    load_seconds: float
    tokens_per_second: float
    ran_at: float


@dataclass(frozen=True, slots=True)
class StoredRecipe:
    link: Link
    text: str


class Store:
    """One aiosqlite connection; WAL and a busy timeout let two instances share the file."""

    def __init__(self, db: aiosqlite.Connection, path: Path) -> None:
        self._db = db
        self.path = path
        # One connection, many coroutines (poll loop, rebuild, upstream check): interleaving
        # a write with another's half-read cursor makes SQLite answer "database is locked"
        # (or "API misuse") at once, whatever the busy timeout. One operation at a time.
        self._lock = asyncio.Lock()
        self._stored_texts: set[str] = set()  # digests this connection has written to `texts`
        # A fleet's few licenses, hashed once each, not once a model.
        self._digest_of: dict[str, str] = {}

    @classmethod
    async def open(cls, path: Path | str) -> Store:
        path = Path(path)
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            # Opened first as SQLite will (read and write; made private if new): a file it
            # cannot open is said here, since aiosqlite's failed connect leaves its thread a
            # reply to send after the event loop has closed, a traceback under the error.
            os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
            db = await aiosqlite.connect(path, timeout=BUSY_SECONDS)
        except IsADirectoryError:
            raise StoreError(
                f"cannot open the database {path}: it is a folder; try --db PATH"
            ) from None
        except (OSError, aiosqlite.Error) as exc:
            raise StoreError(f"cannot open the database {path}: {exc}; try --db PATH") from exc
        store = cls(db, path)
        try:
            await store._prepare()
        except aiosqlite.Error as exc:
            await db.close()
            raise StoreError(f"cannot use the database {path}: {exc}; try --db PATH") from exc
        except StoreError:
            await db.close()
            raise
        return store

    async def _prepare(self) -> None:
        await self._db.execute(f"PRAGMA busy_timeout = {int(BUSY_SECONDS * 1000)}")
        await self._wal()
        await self._db.execute("PRAGMA synchronous = NORMAL")
        version = await self._schema_version()
        if version > len(MIGRATIONS):
            raise StoreError(
                f"{self.path} was written by a newer ollama-lineage (schema {version}); upgrade"
            )
        if version == len(MIGRATIONS):
            return
        # One script, one transaction: a crash leaves the old schema, never half of a new one.
        # (Statement by statement, a fresh database would be one trip to its thread each.)
        steps = "".join(f"{script};\n" for script in MIGRATIONS[version:])
        try:
            await self._db.executescript(
                f"BEGIN IMMEDIATE;\n{steps}PRAGMA user_version = {len(MIGRATIONS)};\nCOMMIT;"
            )
        except aiosqlite.Error:
            await self._db.rollback()
            if await self._schema_version() != len(MIGRATIONS):
                raise
            # Another instance, started at the same moment, brought the schema up first.

    async def _wal(self) -> None:
        """Switch to WAL, trying again while another first start holds its write lock: SQLite
        answers "database is locked" to this switch at once, whatever the busy timeout."""
        deadline = time.monotonic() + BUSY_SECONDS
        while True:
            try:
                await self._db.execute("PRAGMA journal_mode = WAL")
                return
            except aiosqlite.OperationalError as exc:
                if "locked" not in str(exc) or time.monotonic() >= deadline:
                    raise
            await asyncio.sleep(0.05)

    async def _schema_version(self) -> int:
        row = await (await self._db.execute("PRAGMA user_version")).fetchone()
        return int(row[0]) if row else 0

    async def close(self) -> None:
        await self._db.close()

    async def generation(self) -> tuple[int, int]:
        """Differs after any write to the database, this connection's (SQLite's changes
        count) or another's (its data_version): a reader that saw the same generation can
        keep what it made from the last reads."""
        (row,) = await self._rows("SELECT total_changes(), data_version FROM pragma_data_version")
        return int(row[0]), int(row[1])

    async def _rows(self, sql: str, params: Iterable[Any] = ()) -> list[aiosqlite.Row]:
        async with self._lock, self._db.execute(sql, tuple(params)) as cursor:
            return list(await cursor.fetchall())

    async def _rows_in(self, sql: str, values: Iterable[str], *before: Any) -> list[aiosqlite.Row]:
        """``sql`` whose ``{marks}`` is an IN list of ``values``, asked 500 at a time (SQLite
        takes at most 999 parameters a statement on older builds); ``before`` binds first."""
        wanted = list(values)
        rows: list[aiosqlite.Row] = []
        for start in range(0, len(wanted), 500):
            chunk = wanted[start : start + 500]
            marks = ", ".join("?" for _ in chunk)
            rows += await self._rows(sql.format(marks=marks), (*before, *chunk))
        return rows

    async def _write(self, sql: str, rows: Iterable[Iterable[Any]]) -> None:
        async with self._lock:
            await self._db.executemany(sql, [tuple(r) for r in rows])
            await self._db.commit()

    # --- models and their digests over time -------------------------------------------------

    async def models(self, host: str) -> dict[str, ModelFacts]:
        rows = await self._rows(
            f"SELECT {_FACT_COLUMNS} FROM models WHERE host = ?",
            (host,),
        )
        return {r[0]: _facts(r) for r in rows}

    async def save_models(
        self, host: str, changed: Iterable[ModelFacts], gone: Iterable[str]
    ) -> None:
        """Record what the server lists now; one transaction, so a crash leaves no half state."""
        now = time.time()
        changed = list(changed)
        rows = [(host, now, *(getattr(m, c) for c in _FACT_FIELDS)) for m in changed]
        marks = ", ".join("?" for _ in range(len(_FACT_FIELDS) + 2))
        async with self._lock:
            await self._db.executemany(
                f"INSERT OR REPLACE INTO models (host, last_seen, {_FACT_COLUMNS})"
                f" VALUES ({marks})",
                rows,
            )
            await self._db.executemany(
                "INSERT OR IGNORE INTO digest_history VALUES (?, ?, ?, ?, ?)",
                [(host, m.name, m.digest, m.weights_blob, now) for m in changed],
            )
            await self._db.executemany(
                "DELETE FROM models WHERE host = ? AND name = ?", [(host, n) for n in gone]
            )
            await self._db.commit()

    async def digest_history(self, host: str, name: str) -> list[tuple[str, str | None]]:
        """(digest, weights blob) of every version of ``name`` ever seen, oldest first."""
        return (await self.digest_histories(host, [name]))[name]

    async def digest_histories(
        self, host: str, names: Iterable[str]
    ) -> dict[str, list[tuple[str, str | None]]]:
        """The histories of several models in one query: first sight asks for dozens."""
        histories: dict[str, list[tuple[str, str | None]]] = {name: [] for name in names}
        for name, digest, weights in await self._rows_in(
            "SELECT name, digest, weights_blob FROM digest_history"
            " WHERE host = ? AND name IN ({marks}) ORDER BY first_seen",
            histories,
            host,
        ):
            histories[name].append((digest, weights))
        return histories

    async def cached_specs(self, digests: Iterable[str]) -> dict[str, ModelSpec]:
        """Specs are keyed by manifest digest: the same digest always shows the same thing."""
        found: dict[str, dict[str, Any]] = {
            digest: json.loads(raw)
            for digest, raw in await self._rows_in(
                "SELECT digest, json FROM specs WHERE digest IN ({marks})", digests
            )
        }
        texts = await self._texts({d for data in found.values() for d in _text_refs(data)})
        decoded = {digest: _decode_spec(data, texts) for digest, data in found.items()}
        return {digest: spec for digest, spec in decoded.items() if spec is not None}

    async def cache_specs(self, specs: Mapping[str, ModelSpec]) -> None:
        texts: dict[str, str] = {}
        rows = [
            (digest, json.dumps(_encode_spec(spec, texts, self._digest_of)))
            for digest, spec in specs.items()
        ]
        new_texts = [(d, t) for d, t in texts.items() if d not in self._stored_texts]
        async with self._lock:
            await self._db.executemany("INSERT OR IGNORE INTO texts VALUES (?, ?)", new_texts)
            await self._db.executemany("INSERT OR REPLACE INTO specs VALUES (?, ?)", rows)
            await self._db.commit()
        self._stored_texts.update(texts)

    async def _texts(self, digests: set[str]) -> dict[str, str]:
        rows = await self._rows_in(
            "SELECT digest, text FROM texts WHERE digest IN ({marks})", sorted(digests)
        )
        return {r[0]: r[1] for r in rows}

    # --- lineage and recipes ------------------------------------------------------------------

    async def recipes(self, host: str) -> dict[str, StoredRecipe]:
        rows = await self._rows(f"SELECT {_RECIPE_COLUMNS} FROM links WHERE host = ?", (host,))
        return {r[0]: _recipe(r) for r in rows}

    async def recipe_texts(self, host: str) -> dict[str, str]:
        """Each model's recipe text alone: what comparing servers' recipes needs."""
        rows = await self._rows("SELECT child, recipe FROM links WHERE host = ?", (host,))
        return {r[0]: r[1] for r in rows}

    async def links(self, host: str) -> dict[str, Link]:
        """Every model's link without its recipe text: what the tree is built from."""
        columns = "child, base, base_digest, source, guessed, '', edited"
        rows = await self._rows(f"SELECT {columns} FROM links WHERE host = ?", (host,))
        return {r[0]: _link(r) for r in rows}

    async def recipes_of(self, host: str, names: Iterable[str]) -> dict[str, StoredRecipe]:
        """Only these models' recipes: what one row, or one dialog, needs."""
        rows = await self._rows_in(
            f"SELECT {_RECIPE_COLUMNS} FROM links WHERE host = ? AND child IN ({{marks}})",
            names,
            host,
        )
        return {r[0]: _recipe(r) for r in rows}

    async def save_recipes(self, host: str, recipes: Iterable[StoredRecipe]) -> None:
        """Store each recipe; one whose text changes keeps its old text in `recipe_versions`."""
        now = time.time()
        recipes = list(recipes)
        async with self._lock:
            await self._db.executemany(
                "INSERT INTO recipe_versions (host, child, base, recipe, saved_at, replaced_at)"
                " SELECT host, child, base, recipe, updated_at, ? FROM links"
                " WHERE host = ? AND child = ? AND recipe != ?",
                [(now, host, r.link.child, r.text) for r in recipes],
            )
            await self._db.executemany(
                "INSERT OR REPLACE INTO links VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        host,
                        r.link.child,
                        r.link.base,
                        r.link.base_digest,
                        r.link.source,
                        r.text,
                        int(r.link.guessed),
                        now,
                        int(r.link.edited),
                    )
                    for r in recipes
                ],
            )
            await self._db.commit()

    async def recipe_versions(self, host: str, child: str) -> list[tuple[float, str, str]]:
        """(when it was replaced, base, text) of each recipe ``child`` had before, newest first."""
        rows = await self._rows(
            "SELECT replaced_at, base, recipe FROM recipe_versions WHERE host = ? AND child = ?"
            " ORDER BY id DESC",
            (host, child),
        )
        return [(r[0], r[1], r[2]) for r in rows]

    # --- backups ------------------------------------------------------------------------------

    async def backups(self, host: str) -> dict[str, str]:
        rows = await self._rows(
            "SELECT backup, original FROM backups WHERE host = ? ORDER BY created_at", (host,)
        )
        return {r[0]: r[1] for r in rows}

    async def backups_of(self, host: str, original: str) -> list[str]:
        """One model's backups, oldest first (the newest is the one to roll back to)."""
        rows = await self._rows(
            "SELECT backup FROM backups WHERE host = ? AND original = ? ORDER BY created_at",
            (host, original),
        )
        return [r[0] for r in rows]

    async def add_backup(self, host: str, backup: str, original: str) -> None:
        await self._write(
            "INSERT OR REPLACE INTO backups VALUES (?, ?, ?, ?)",
            [(host, backup, original, time.time())],
        )

    async def remove_backup(self, host: str, backup: str) -> None:
        await self._write("DELETE FROM backups WHERE host = ? AND backup = ?", [(host, backup)])

    # --- history of actions -------------------------------------------------------------------

    async def start_event(self, host: str, name: str, kind: str, **fields: Any) -> int:
        columns = ["host", "name", "kind", "status", "started_at", *fields]
        values = [host, name, kind, "running", time.time(), *fields.values()]
        marks = ", ".join("?" for _ in columns)
        async with self._lock:
            cursor = await self._db.execute(
                f"INSERT INTO events ({', '.join(columns)}) VALUES ({marks})", values
            )
            await self._db.commit()
        assert cursor.lastrowid is not None
        return cursor.lastrowid

    async def finish_event(self, event_id: int, status: str, **fields: Any) -> None:
        sets = ", ".join(f"{column} = ?" for column in ["status", "finished_at", *fields])
        await self._write(
            f"UPDATE events SET {sets} WHERE id = ?",
            [(status, time.time(), *fields.values(), event_id)],
        )

    async def history(
        self,
        host: str,
        name: str | None = None,
        *,
        since: float | None = None,
        limit: int | None = None,
    ) -> list[Event]:
        """Newest first; ``limit`` of them (a cursor move shows a screenful, not years)."""
        where = "host = ? AND (name = ? OR backup = ?)"
        params: list[object] = [host, name, name]
        if name is None:
            where, params = "host = ?", [host]
        if since is not None:
            where, params = f"{where} AND started_at >= ?", [*params, since]
        rows = await self._rows(
            "SELECT id, name, kind, status, base, base_digest, digest_before, digest_after,"
            f" backup, error, log, started_at, finished_at FROM events WHERE {where}"
            " ORDER BY id DESC" + ("" if limit is None else f" LIMIT {int(limit)}"),
            params,
        )
        return [Event(*r) for r in rows]

    async def prune_history(self, host: str, before: float) -> int:
        """Forget events started before ``before``, but never one the tree still reads: each
        model's last change (the digest it is known by), its last build (``failed``) and
        the creates ``apply --prune`` goes by. Returns how many went."""
        keep = "SELECT MAX(id) FROM events WHERE host = :host AND {} GROUP BY name"
        kept = " UNION ".join(
            keep.format(rule)
            for rule in (
                "status = 'success' AND digest_after IS NOT NULL",
                "kind = 'build'",
                "kind = 'create' AND status = 'success'",
            )
        )
        async with self._lock:
            cursor = await self._db.execute(
                "DELETE FROM events WHERE host = :host AND started_at < :before"
                f" AND id NOT IN ({kept})",
                {"host": host, "before": before},
            )
            await self._db.commit()
        return cursor.rowcount

    async def known_digests(self, host: str) -> dict[str, tuple[str, str]]:
        """Per model, the digest this app last knew it by and how: after its own last change
        (build, rollback, adoption, …), else the first one it saw. One query for the fleet."""
        first = await self._rows(
            "SELECT name, digest, MIN(first_seen) FROM digest_history WHERE host = ? GROUP BY name",
            (host,),
        )
        latest = await self._rows(
            "SELECT name, digest_after, kind, MAX(id) FROM events WHERE host = ?"
            " AND status = 'success' AND digest_after IS NOT NULL GROUP BY name",
            (host,),
        )
        found = {r[0]: (r[1], "first seen") for r in first}
        found.update((r[0], (r[1], r[2])) for r in latest)
        return found

    async def failed_builds(self, host: str) -> dict[str, str]:
        """Models whose latest build failed, with the error: they show as ``failed``, until a
        roll-back puts a backup in the failed build's place."""
        rows = await self._rows(
            "SELECT name, kind, status, error FROM events WHERE host = ? AND id IN"
            " (SELECT MAX(id) FROM events WHERE host = ? AND (kind = 'build'"
            " OR (kind = 'rollback' AND status = 'success')) GROUP BY name)",
            (host, host),
        )
        return {
            name: error or "unknown error"
            for name, kind, status, error in rows
            if kind == "build" and status == "failed"
        }

    # --- registry checks and prompts ----------------------------------------------------------

    async def upstream(self, host: str) -> dict[str, Upstream]:
        rows = await self._rows(
            "SELECT name, digest, error, local FROM upstream WHERE host = ?", (host,)
        )
        return {r[0]: Upstream(r[1], r[2], bool(r[3])) for r in rows}

    async def save_upstream(self, host: str, results: Mapping[str, Upstream]) -> None:
        now = time.time()
        await self._write(
            "INSERT OR REPLACE INTO upstream (host, name, digest, error, checked_at, local)"
            " VALUES (?, ?, ?, ?, ?, ?)",
            [(host, name, u.digest, u.error, now, u.local) for name, u in results.items()],
        )

    async def local_since(self, host: str) -> dict[str, float]:
        """Models the registry said it has no such model of, and when it said so."""
        rows = await self._rows(
            "SELECT name, checked_at FROM upstream WHERE host = ? AND local = 1", (host,)
        )
        return {r[0]: r[1] for r in rows}

    async def prompts(self, host: str, name: str) -> list[str]:
        rows = await self._rows(
            "SELECT prompt FROM prompts WHERE host = ? AND name = ? ORDER BY used_at DESC",
            (host, name),
        )
        return [r[0] for r in rows]

    async def add_prompt(self, host: str, name: str, prompt: str) -> None:
        await self._write(
            "INSERT OR REPLACE INTO prompts VALUES (?, ?, ?, ?)",
            [(host, name, prompt, time.time())],
        )

    # --- pins and check results ---------------------------------------------------

    async def pins(self, host: str) -> set[str]:
        return {r[0] for r in await self._rows("SELECT name FROM pins WHERE host = ?", (host,))}

    async def pin(self, host: str, name: str) -> bool:
        """True when ``name`` was not pinned before."""
        async with self._lock:
            cursor = await self._db.execute(
                "INSERT OR IGNORE INTO pins VALUES (?, ?, ?)", (host, name, time.time())
            )
            await self._db.commit()
        return cursor.rowcount > 0

    async def unpin(self, host: str, name: str) -> bool:
        """True when ``name`` was pinned."""
        async with self._lock:
            cursor = await self._db.execute(
                "DELETE FROM pins WHERE host = ? AND name = ?", (host, name)
            )
            await self._db.commit()
        return cursor.rowcount > 0

    async def save_check_result(self, host: str, result: StoredCheckResult) -> None:
        await self._write(
            "INSERT INTO check_results (host, model, check_key, label, digest, passed, failures,"
            " reply, seconds, load_seconds, tokens_per_second, ran_at)"
            " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    host,
                    result.model,
                    result.check_key,
                    result.label,
                    result.digest,
                    int(result.passed),
                    json.dumps(result.failures),
                    result.reply,
                    result.seconds,
                    result.load_seconds,
                    result.tokens_per_second,
                    result.ran_at,
                )
            ],
        )

    async def last_check_results(self, host: str, model: str) -> dict[str, StoredCheckResult]:
        """The newest result of each check ever run on ``model``, by check key."""
        rows = await self._rows(
            "SELECT model, check_key, label, digest, passed, failures, reply, seconds,"
            " load_seconds, tokens_per_second, ran_at FROM check_results WHERE id IN"
            " (SELECT MAX(id) FROM check_results WHERE host = ? AND model = ?"
            " GROUP BY check_key)",
            (host, model),
        )
        return {
            r[1]: StoredCheckResult(r[0], r[1], r[2], r[3], bool(r[4]), json.loads(r[5]), *r[6:])
            for r in rows
        }


def _encode_spec(
    spec: ModelSpec, texts: dict[str, str], digest_of: dict[str, str]
) -> dict[str, Any]:
    """The spec as stored: long texts replaced by their digest, collected into ``texts``."""

    def share(text: str) -> str:
        digest = digest_of.get(text)
        if digest is None:
            if len(digest_of) >= 1024:  # a bound, not a policy: a fleet shares a handful
                digest_of.clear()
            digest = digest_of[text] = hashlib.sha256(text.encode()).hexdigest()
        texts[digest] = text
        return digest

    data = spec.to_json()
    refs: dict[str, Any] = {}
    for key in ("template", "system"):
        value = data[key]
        if value is not None and len(value) >= SHARED_TEXT_FROM:
            refs[key], data[key] = share(value), None
    if spec.licenses:
        refs["licenses"], data["licenses"] = [share(t) for t in spec.licenses], []
    if refs:
        data["text_refs"] = refs
    return data


def _text_refs(data: Mapping[str, Any]) -> list[str]:
    refs = data.get("text_refs") or {}
    return [d for d in (refs.get("template"), refs.get("system")) if d] + list(
        refs.get("licenses") or ()
    )


def _decode_spec(data: dict[str, Any], texts: Mapping[str, str]) -> ModelSpec | None:
    """A stored spec with its texts back (rows written before `texts` hold them inline);
    None, so the caller asks the server again, if a text is missing."""
    refs = data.pop("text_refs", None) or {}
    if any(d not in texts for d in _text_refs({"text_refs": refs})):
        return None
    for key in ("template", "system"):
        if key in refs:
            data[key] = texts[refs[key]]
    if "licenses" in refs:
        data["licenses"] = [texts[d] for d in refs["licenses"]]
    return ModelSpec.from_json(data)
