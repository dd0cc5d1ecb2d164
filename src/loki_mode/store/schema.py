"""Versioned schema migrations for the SQLite store; each entry runs once, in order."""

from __future__ import annotations

MIGRATIONS: tuple[str, ...] = (
    # 1: the initial schema.
    """
    CREATE TABLE sessions (
        id TEXT PRIMARY KEY,
        provider TEXT NOT NULL,
        status TEXT NOT NULL,
        prd_path TEXT,
        project_dir TEXT NOT NULL,
        options TEXT NOT NULL DEFAULT '{}',
        started_at TEXT NOT NULL,
        updated_at TEXT NOT NULL,
        finished_at TEXT,
        pid INTEGER,
        pgid INTEGER,
        proc_started REAL,
        current_phase TEXT,
        iteration INTEGER NOT NULL DEFAULT 0,
        input_tokens INTEGER NOT NULL DEFAULT 0,
        output_tokens INTEGER NOT NULL DEFAULT 0,
        cache_read_tokens INTEGER NOT NULL DEFAULT 0,
        cache_creation_tokens INTEGER NOT NULL DEFAULT 0,
        cost_usd REAL NOT NULL DEFAULT 0,
        reason TEXT,
        runner_id TEXT
    );
    CREATE INDEX sessions_project_status ON sessions(project_dir, status);
    CREATE INDEX sessions_status ON sessions(status);

    CREATE TABLE tasks (
        rowid INTEGER PRIMARY KEY,
        id TEXT NOT NULL UNIQUE,
        session_id TEXT NOT NULL,
        key TEXT NOT NULL,
        title TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        priority INTEGER NOT NULL DEFAULT 0,
        created_at TEXT NOT NULL,
        started_at TEXT,
        completed_at TEXT,
        agent TEXT,
        output TEXT,
        error TEXT,
        UNIQUE (session_id, key)
    );
    CREATE INDEX tasks_status ON tasks(status, rowid);
    CREATE INDEX tasks_session_status ON tasks(session_id, status, rowid);

    -- Counts kept by triggers so summaries and page totals never scan the tasks.
    CREATE TABLE task_counts (
        session_id TEXT NOT NULL,
        status TEXT NOT NULL,
        n INTEGER NOT NULL,
        PRIMARY KEY (session_id, status)
    ) WITHOUT ROWID;
    CREATE TRIGGER tasks_ins AFTER INSERT ON tasks BEGIN
        INSERT INTO task_counts VALUES (NEW.session_id, NEW.status, 1), ('*', NEW.status, 1)
            ON CONFLICT DO UPDATE SET n = n + 1;
    END;
    CREATE TRIGGER tasks_del AFTER DELETE ON tasks BEGIN
        UPDATE task_counts SET n = n - 1
            WHERE status = OLD.status AND session_id IN (OLD.session_id, '*');
    END;
    CREATE TRIGGER tasks_upd AFTER UPDATE OF status ON tasks WHEN OLD.status != NEW.status BEGIN
        UPDATE task_counts SET n = n - 1
            WHERE status = OLD.status AND session_id IN (OLD.session_id, '*');
        INSERT INTO task_counts VALUES (NEW.session_id, NEW.status, 1), ('*', NEW.status, 1)
            ON CONFLICT DO UPDATE SET n = n + 1;
    END;

    CREATE TABLE agents (
        session_id TEXT NOT NULL,
        id TEXT NOT NULL,
        type TEXT NOT NULL,
        description TEXT NOT NULL DEFAULT '',
        status TEXT NOT NULL,
        parent TEXT,
        iteration INTEGER NOT NULL DEFAULT 0,
        spawned_at TEXT NOT NULL,
        finished_at TEXT,
        PRIMARY KEY (session_id, id)
    );
    CREATE INDEX agents_status ON agents(status);

    CREATE TABLE events (
        seq INTEGER PRIMARY KEY,
        type TEXT NOT NULL,
        session_id TEXT,
        level INTEGER,
        payload BLOB NOT NULL
    );
    CREATE INDEX events_session ON events(session_id, seq);
    CREATE INDEX events_type ON events(type, seq);

    -- Kept by the writer, a batch at a time: a per-row trigger would double the cost
    -- of every append.
    CREATE TABLE event_counts (
        type TEXT PRIMARY KEY,
        n INTEGER NOT NULL
    ) WITHOUT ROWID;

    CREATE TABLE controls (
        id TEXT PRIMARY KEY,
        session_id TEXT NOT NULL,
        kind TEXT NOT NULL,
        payload TEXT NOT NULL DEFAULT '{}',
        state TEXT NOT NULL,
        created_at TEXT NOT NULL,
        consumed_at TEXT
    );
    CREATE INDEX controls_pending ON controls(session_id, state, created_at);
    """,
)
