-- Schema version 4: the LLM layer's answer cache and call log (specql.store.llm_log), in the
-- library file so that `specql logs` and every run see the same history.

-- A model's raw answer by cache key (a hash of model, prompt, schema and token limit, made by
-- the caller); used_at lets the least recently used be pruned. A rowid table: answers run to
-- 64 KB, too big for WITHOUT ROWID's B-tree pages.
CREATE TABLE llm_cache (
    key        TEXT PRIMARY KEY,
    model      TEXT NOT NULL,  -- backend:model that gave the answer
    answer     TEXT NOT NULL,
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    used_at    TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX llm_cache_used ON llm_cache (used_at);

-- One row per attempt of a task on a model, cached or not.
CREATE TABLE llm_calls (
    id          INTEGER PRIMARY KEY,
    at          TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    run_id      TEXT NOT NULL DEFAULT '',
    task        TEXT NOT NULL,
    backend     TEXT NOT NULL,
    model       TEXT NOT NULL,
    prompt_hash TEXT NOT NULL,
    tokens_in   INTEGER NOT NULL DEFAULT 0,
    tokens_out  INTEGER NOT NULL DEFAULT 0,
    latency_ms  REAL,  -- the model's time; NULL when no model was called (cache hit, refused)
    cache_hit   INTEGER NOT NULL DEFAULT 0 CHECK (cache_hit IN (0, 1)),
    outcome     TEXT NOT NULL CHECK (outcome IN ('valid', 'invalid', 'error', 'skipped')),
    attempt     INTEGER NOT NULL DEFAULT 1,
    escalated   INTEGER NOT NULL DEFAULT 0 CHECK (escalated IN (0, 1)),
    cost_usd    REAL NOT NULL DEFAULT 0,
    error       TEXT  -- one line, why the answer was refused or the call failed
);
-- Listings run newest first, over everything or one task or run: each index also orders by
-- time (and by rowid after it, as every SQLite index does).
CREATE INDEX llm_calls_at ON llm_calls (at);
CREATE INDEX llm_calls_task ON llm_calls (task, at);
CREATE INDEX llm_calls_run ON llm_calls (run_id, at);
