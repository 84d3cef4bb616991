"""Versioned schema migrations; PRAGMA user_version records the version applied."""

from __future__ import annotations

import sqlite3

ACTIVE = "('queued','submitting','resolving','downloading','finalizing','deleting')"

# Each entry brings the schema from version N-1 to N. Never edit a released entry: add one.
MIGRATIONS: tuple[tuple[str, ...], ...] = (
    (
        "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
        """CREATE TABLE torrents (
            id INTEGER PRIMARY KEY,
            hash TEXT NOT NULL,
            name TEXT NOT NULL,
            state TEXT NOT NULL,
            category TEXT NOT NULL DEFAULT '',
            save_path TEXT NOT NULL,
            folder TEXT NOT NULL DEFAULT '',
            magnet TEXT NOT NULL DEFAULT '',
            torrent_file BLOB,
            trackers TEXT NOT NULL DEFAULT '',
            provider TEXT NOT NULL,
            provider_torrent_id TEXT NOT NULL DEFAULT '',
            paused INTEGER NOT NULL DEFAULT 0,
            progress REAL NOT NULL DEFAULT 0,
            size INTEGER NOT NULL DEFAULT 0,
            total_size INTEGER NOT NULL DEFAULT -1,
            speed INTEGER NOT NULL DEFAULT 0,
            seeders INTEGER NOT NULL DEFAULT 0,
            reason TEXT NOT NULL DEFAULT '',
            message TEXT NOT NULL DEFAULT '',
            ratio_limit REAL NOT NULL DEFAULT -2,
            seeding_time_limit INTEGER NOT NULL DEFAULT -2,
            added_on INTEGER NOT NULL,
            completion_on INTEGER NOT NULL DEFAULT 0,
            last_activity INTEGER NOT NULL DEFAULT 0,
            state_since REAL NOT NULL,
            next_check_at REAL NOT NULL DEFAULT 0,
            attempts INTEGER NOT NULL DEFAULT 0,
            delete_files INTEGER NOT NULL DEFAULT 0,
            delete_remote INTEGER NOT NULL DEFAULT 0
        )""",
        # One live entry per info-hash and per content folder; rows being deleted step aside.
        "CREATE UNIQUE INDEX torrents_hash ON torrents(hash) WHERE state != 'deleting'",
        "CREATE UNIQUE INDEX torrents_folder ON torrents(folder) "
        "WHERE folder != '' AND state != 'deleting'",
        f"CREATE INDEX torrents_due ON torrents(next_check_at) WHERE state IN {ACTIVE}",
        "CREATE INDEX torrents_category ON torrents(category)",
        "CREATE INDEX torrents_provider_id ON torrents(provider, provider_torrent_id)",
        """CREATE TABLE files (
            torrent_id INTEGER NOT NULL REFERENCES torrents(id) ON DELETE CASCADE,
            idx INTEGER NOT NULL,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            selected INTEGER NOT NULL DEFAULT 0,
            provider_file_id TEXT NOT NULL DEFAULT '',
            link TEXT NOT NULL DEFAULT '',
            done INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (torrent_id, idx)
        ) WITHOUT ROWID""",
        "CREATE TABLE categories (name TEXT PRIMARY KEY, save_path TEXT NOT NULL DEFAULT '')",
        "CREATE TABLE tags (name TEXT PRIMARY KEY)",
        """CREATE TABLE torrent_tags (
            torrent_id INTEGER NOT NULL REFERENCES torrents(id) ON DELETE CASCADE,
            tag TEXT NOT NULL,
            PRIMARY KEY (torrent_id, tag)
        ) WITHOUT ROWID""",
        """CREATE TABLE sessions (
            sid_hash TEXT PRIMARY KEY,
            username TEXT NOT NULL,
            created_at REAL NOT NULL,
            last_seen REAL NOT NULL
        )""",
        """CREATE TABLE login_failures (
            ip TEXT PRIMARY KEY,
            failures INTEGER NOT NULL,
            banned_until REAL NOT NULL DEFAULT 0,
            last_failure REAL NOT NULL
        )""",
        "CREATE TABLE leases (name TEXT PRIMARY KEY, owner TEXT NOT NULL, "
        "expires_at REAL NOT NULL)",
        """CREATE TABLE links (
            provider TEXT NOT NULL,
            source TEXT NOT NULL,
            url TEXT NOT NULL,
            filename TEXT NOT NULL,
            size INTEGER NOT NULL,
            expires_at REAL,
            PRIMARY KEY (provider, source)
        ) WITHOUT ROWID""",
    ),
    (
        # A revision counter bumped by every change a client can see; torrents remember the
        # revision of their last change, so sync/maindata re-reads only what changed.
        "CREATE TABLE counters (name TEXT PRIMARY KEY, value INTEGER NOT NULL)",
        "INSERT INTO counters (name, value) VALUES ('revision', 1)",
        "ALTER TABLE torrents ADD COLUMN rev INTEGER NOT NULL DEFAULT 1",
        "CREATE INDEX torrents_rev ON torrents(rev)",
        # qBittorrent's per-torrent knobs, kept and echoed.
        "ALTER TABLE torrents ADD COLUMN queue_position INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE torrents ADD COLUMN force_start INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE torrents ADD COLUMN seq_dl INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE torrents ADD COLUMN first_last_piece_prio INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE torrents ADD COLUMN super_seeding INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE torrents ADD COLUMN auto_tmm INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE torrents ADD COLUMN dl_limit INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE torrents ADD COLUMN up_limit INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE torrents ADD COLUMN inactive_seeding_time_limit INTEGER NOT NULL DEFAULT -2",
        # Local layout: content_folder (renamable; '' = folder) under save_path; layout_dirty
        # asks the engine to move what is on disk to the layout the store describes.
        "ALTER TABLE torrents ADD COLUMN content_folder TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE torrents ADD COLUMN layout_dirty INTEGER NOT NULL DEFAULT 0",
        # every placed file of a torrent lives under placed_root (moved together)
        "ALTER TABLE torrents ADD COLUMN placed_root TEXT NOT NULL DEFAULT ''",
        # the piece length of an uploaded .torrent (0: unknown, magnets)
        "ALTER TABLE torrents ADD COLUMN piece_size INTEGER NOT NULL DEFAULT 0",
        # qBittorrent's content layout: the torrent's own name (folders are named after it,
        # not after a client's rename), the layout asked for, and whether files sit in a
        # root folder (decided once the files are known)
        "ALTER TABLE torrents ADD COLUMN origin_name TEXT NOT NULL DEFAULT ''",
        "UPDATE torrents SET origin_name = name",
        "ALTER TABLE torrents ADD COLUMN content_layout TEXT NOT NULL DEFAULT 'Subfolder'",
        "ALTER TABLE torrents ADD COLUMN has_root INTEGER NOT NULL DEFAULT 1",
        # a category's download path option: NULL never set, else enabled 0/1 and the path
        "ALTER TABLE categories ADD COLUMN download_path_enabled INTEGER",
        "ALTER TABLE categories ADD COLUMN download_path TEXT NOT NULL DEFAULT ''",
        # files: where each file was placed (relative to placed_root), its path at the
        # provider (the mount's layout), and a client's priority (-1: Debridge chooses).
        "ALTER TABLE files ADD COLUMN placed TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE files ADD COLUMN remote_path TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE files ADD COLUMN priority INTEGER NOT NULL DEFAULT -1",
        "UPDATE files SET remote_path = path",
        "UPDATE files SET placed = path WHERE done = 1",
        "UPDATE torrents SET placed_root = save_path || '/' || folder WHERE folder != '' AND "
        "id IN (SELECT torrent_id FROM files WHERE done = 1)",
        """CREATE TABLE log_entries (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            time INTEGER NOT NULL,
            type INTEGER NOT NULL,
            message TEXT NOT NULL
        )""",
    ),
    (
        # The request budget of each provider account (a token bucket every process shares)
        # and the callers waiting on it, so background work yields to interactive work.
        """CREATE TABLE budgets (
            account TEXT PRIMARY KEY,
            tokens REAL NOT NULL,
            updated REAL NOT NULL,
            blocked_until REAL NOT NULL DEFAULT 0,
            strikes INTEGER NOT NULL DEFAULT 0,
            rate_limited TEXT NOT NULL DEFAULT ''
        )""",
        """CREATE TABLE budget_waiters (
            account TEXT NOT NULL,
            waiter TEXT NOT NULL,
            priority INTEGER NOT NULL,
            until REAL NOT NULL,
            PRIMARY KEY (account, waiter)
        ) WITHOUT ROWID""",
        # Torrents of the provider account that Debridge did not add (library sync), with
        # their files once fetched.
        """CREATE TABLE imported_torrents (
            provider TEXT NOT NULL,
            remote_id TEXT NOT NULL,
            hash TEXT NOT NULL,
            name TEXT NOT NULL,
            size INTEGER NOT NULL,
            status TEXT NOT NULL,
            progress REAL NOT NULL,
            added REAL NOT NULL,
            ended REAL,
            links INTEGER NOT NULL,
            files_known INTEGER NOT NULL DEFAULT 0,
            seen_gen INTEGER NOT NULL,
            missing INTEGER NOT NULL DEFAULT 0,
            PRIMARY KEY (provider, remote_id)
        ) WITHOUT ROWID""",
        "CREATE INDEX imported_hash ON imported_torrents(provider, hash)",
        "CREATE INDEX imported_details ON imported_torrents(provider, files_known, added)",
        """CREATE TABLE imported_files (
            provider TEXT NOT NULL,
            remote_id TEXT NOT NULL,
            file_id TEXT NOT NULL,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            selected INTEGER NOT NULL,
            link TEXT NOT NULL,
            PRIMARY KEY (provider, remote_id, file_id)
        ) WITHOUT ROWID""",
    ),
    (
        # Waiters are served first come within a priority: they carry when they came. Waiter
        # rows live seconds, so the table is simply made again.
        "DROP TABLE budget_waiters",
        """CREATE TABLE budget_waiters (
            account TEXT NOT NULL,
            waiter TEXT NOT NULL,
            priority INTEGER NOT NULL,
            since REAL NOT NULL,
            until REAL NOT NULL,
            PRIMARY KEY (account, waiter)
        ) WITHOUT ROWID""",
    ),
    (
        # The browse tree names an imported torrent by its folder (its name made safe for
        # every OS), looked up by index; rows stored before this get theirs at start-up.
        "ALTER TABLE imported_torrents ADD COLUMN folder TEXT NOT NULL DEFAULT ''",
        "CREATE INDEX imported_folder ON imported_torrents(folder)",
        "CREATE INDEX torrents_tree ON torrents(state, category)",
        # Bumped by every change to imported torrents: with the revision, it tells the tree
        # whether a cached listing is still current.
        "INSERT INTO counters (name, value) VALUES ('library', 1)",
    ),
    (
        # Since when a local copy has had no byte from the CDN (0: bytes flow), so a copy the
        # CDN never serves fails after downloads.copy_timeout_minutes instead of looping.
        "ALTER TABLE torrents ADD COLUMN stalled_since REAL NOT NULL DEFAULT 0",
    ),
    (
        # Failed logins and bans are counted per surface (qbit, webdav, api) and address, so
        # one stale client of one surface does not lock every surface of that address out.
        # Earlier counts were the qBittorrent API's logins, mostly.
        """CREATE TABLE login_failures_by_surface (
            surface TEXT NOT NULL,
            ip TEXT NOT NULL,
            failures INTEGER NOT NULL,
            banned_until REAL NOT NULL DEFAULT 0,
            last_failure REAL NOT NULL,
            PRIMARY KEY (surface, ip)
        ) WITHOUT ROWID""",
        "INSERT INTO login_failures_by_surface (surface, ip, failures, banned_until, "
        "last_failure) SELECT 'qbit', ip, failures, banned_until, last_failure FROM "
        "login_failures",
        "DROP TABLE login_failures",
        "ALTER TABLE login_failures_by_surface RENAME TO login_failures",
    ),
    (
        # Info-hashes flagged in the registry (/t): every add refuses them until unflagged.
        """CREATE TABLE blocked_hashes (
            hash TEXT PRIMARY KEY,
            blocked_at REAL NOT NULL
        ) WITHOUT ROWID""",
    ),
    (
        # An add may allow or refuse uncached downloads for its torrent (/api/add's
        # downloadUncached): -1 = the provider's and category's policy, 0 = refuse, 1 = allow.
        "ALTER TABLE torrents ADD COLUMN uncached INTEGER NOT NULL DEFAULT -1",
    ),
    (
        # The completion hooks' outbox: one row per configured hook per completed torrent,
        # written in the transaction that completes it, with the placeholder values of that
        # moment (no foreign key: a torrent deleted at once still gets its calls). A row is
        # claimed before it is sent and marked done after, so a crash loses none and never
        # repeats a done one.
        """CREATE TABLE hook_outbox (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            torrent_id INTEGER NOT NULL,
            hash TEXT NOT NULL,
            hook TEXT NOT NULL,
            context TEXT NOT NULL,
            created REAL NOT NULL,
            state TEXT NOT NULL DEFAULT 'pending',
            attempts INTEGER NOT NULL DEFAULT 0,
            next_at REAL NOT NULL DEFAULT 0,
            owner TEXT NOT NULL DEFAULT '',
            claimed_until REAL NOT NULL DEFAULT 0,
            finished REAL NOT NULL DEFAULT 0,
            error TEXT NOT NULL DEFAULT ''
        )""",
        "CREATE INDEX hook_outbox_open ON hook_outbox(next_at) "
        "WHERE state IN ('pending', 'sending')",
        "CREATE INDEX hook_outbox_hash ON hook_outbox(hash)",
    ),
    (
        # cross-seed's /api/announce: which info-hash a release's guid named, and what became
        # of each announced hash, so autobrr's retries never fetch the .torrent or add again.
        """CREATE TABLE announce_guids (
            guid TEXT PRIMARY KEY,
            hash TEXT NOT NULL,
            seen_at REAL NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX announce_guids_seen ON announce_guids(seen_at)",
        """CREATE TABLE announce_outcomes (
            hash TEXT PRIMARY KEY,
            outcome TEXT NOT NULL,
            message TEXT NOT NULL,
            at REAL NOT NULL
        ) WITHOUT ROWID""",
        "CREATE INDEX announce_outcomes_at ON announce_outcomes(at)",
    ),
    (
        # Repair's health model, per torrent and per file; when a file was last streamed
        # (repair leaves alone what is being watched).
        "ALTER TABLE torrents ADD COLUMN health TEXT NOT NULL DEFAULT 'unknown'",
        "ALTER TABLE torrents ADD COLUMN health_reason TEXT NOT NULL DEFAULT ''",
        "ALTER TABLE torrents ADD COLUMN health_checked REAL NOT NULL DEFAULT 0",
        "ALTER TABLE torrents ADD COLUMN streamed_at REAL NOT NULL DEFAULT 0",
        "ALTER TABLE files ADD COLUMN health TEXT NOT NULL DEFAULT 'unknown'",
        "ALTER TABLE files ADD COLUMN health_reason TEXT NOT NULL DEFAULT ''",
        # Arrs registered by a qBit login (URL as user name, API key as password), besides
        # the configured `arrs`; the key stays here, never in a cookie.
        """CREATE TABLE arr_registrations (
            url TEXT PRIMARY KEY,
            type TEXT NOT NULL,
            api_key TEXT NOT NULL,
            categories TEXT NOT NULL DEFAULT '[]',
            version TEXT NOT NULL DEFAULT '',
            registered REAL NOT NULL
        ) WITHOUT ROWID""",
        # Repair jobs: a scan, its plan, and what carrying it out did. At most one job scans
        # or processes at a time, in every process (the partial unique index).
        """CREATE TABLE repair_jobs (
            id INTEGER PRIMARY KEY AUTOINCREMENT,
            created REAL NOT NULL,
            state TEXT NOT NULL,
            trigger TEXT NOT NULL DEFAULT 'api',
            dry_run INTEGER NOT NULL DEFAULT 0,
            auto_process INTEGER NOT NULL DEFAULT 0,
            arrs TEXT NOT NULL DEFAULT '[]',
            media_ids TEXT NOT NULL DEFAULT '[]',
            plan TEXT NOT NULL DEFAULT '[]',
            summary TEXT NOT NULL DEFAULT '{}',
            error TEXT NOT NULL DEFAULT '',
            started REAL NOT NULL DEFAULT 0,
            finished REAL NOT NULL DEFAULT 0,
            owner TEXT NOT NULL DEFAULT '',
            stop_requested INTEGER NOT NULL DEFAULT 0
        )""",
        "CREATE UNIQUE INDEX repair_jobs_one_run ON repair_jobs((1)) "
        "WHERE state IN ('scanning', 'processing')",
        # Repairs tried per info-hash: the cap and the back-off that keep repair from looping.
        """CREATE TABLE repair_attempts (
            hash TEXT PRIMARY KEY,
            attempts INTEGER NOT NULL,
            last_at REAL NOT NULL,
            next_at REAL NOT NULL,
            last_error TEXT NOT NULL DEFAULT ''
        ) WITHOUT ROWID""",
        # What the Arrs are told goes through the hooks' outbox, queued by the store itself in
        # the transaction that fails or first completes a torrent, whatever path got it there:
        # a torrent that failed (its grab is marked failed), one that completed (the Arr
        # polls its download clients now). Delivered a few seconds later, so that an add
        # refused while the client waited (which answered `Fails.`) is withdrawn first. Only
        # while some Arr may listen (meta 'arr-notices', set at start-up).
        """CREATE TRIGGER arr_torrent_failed AFTER UPDATE OF state ON torrents
        WHEN NEW.state = 'failed' AND OLD.state != 'failed' AND NEW.category != ''
            AND EXISTS (SELECT 1 FROM meta WHERE key = 'arr-notices' AND value = '1')
        BEGIN
            INSERT INTO hook_outbox (torrent_id, hash, hook, context, created, next_at)
            VALUES (NEW.id, NEW.hash, 'arr:failed', json_object(
                'hash', NEW.hash, 'category', NEW.category, 'name', NEW.name,
                'reason', NEW.reason,
                'message', NEW.message), NEW.state_since, NEW.state_since + 5);
        END""",
        # An add refused while its client waited is removed at once (the client heard
        # `Fails.` and tries another release): its notice is withdrawn before it is due.
        """CREATE TRIGGER arr_refusal_withdrawn AFTER UPDATE OF state ON torrents
        WHEN OLD.state = 'failed' AND NEW.state = 'deleting'
            AND NEW.state_since - OLD.state_since < 5
        BEGIN
            DELETE FROM hook_outbox WHERE torrent_id = NEW.id AND hook = 'arr:failed'
                AND state = 'pending';
        END""",
        """CREATE TRIGGER arr_torrent_completed AFTER UPDATE OF completion_on ON torrents
        WHEN OLD.completion_on = 0 AND NEW.completion_on > 0 AND NEW.category != ''
            AND EXISTS (SELECT 1 FROM meta WHERE key = 'arr-notices' AND value = '1')
        BEGIN
            INSERT INTO hook_outbox (torrent_id, hash, hook, context, created, next_at)
            VALUES (NEW.id, NEW.hash, 'arr:completed', json_object(
                'hash', NEW.hash, 'category', NEW.category, 'name', NEW.name), NEW.state_since,
                NEW.state_since);
        END""",
    ),
)

SCHEMA_VERSION = len(MIGRATIONS)


def migrate(conn: sqlite3.Connection) -> int:
    """Apply pending migrations atomically; safe when several processes start at once."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise RuntimeError(f"database schema version {version} is newer than this "
                               f"Debridge ({SCHEMA_VERSION}); upgrade Debridge")
        for number in range(version, SCHEMA_VERSION):
            for statement in MIGRATIONS[number]:
                conn.execute(statement)
        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
        conn.execute("COMMIT")
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    return SCHEMA_VERSION
