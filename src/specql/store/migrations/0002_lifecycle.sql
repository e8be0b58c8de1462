-- Schema version 2: pattern lifecycle for the LLM features: versions and deprecation,
-- history, quality and co-occurrence statistics, suggestions awaiting review, embeddings,
-- full-text search. Upgrades a version-1 library in place.

ALTER TABLE patterns ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE patterns ADD COLUMN deprecated_at TEXT;
ALTER TABLE patterns ADD COLUMN replaced_by TEXT;
ALTER TABLE patterns ADD COLUMN deprecation_reason TEXT;

ALTER TABLE domain_patterns ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE domain_patterns ADD COLUMN deprecated_at TEXT;
ALTER TABLE domain_patterns ADD COLUMN replaced_by TEXT;
ALTER TABLE domain_patterns ADD COLUMN deprecation_reason TEXT;

ALTER TABLE entity_templates ADD COLUMN version INTEGER NOT NULL DEFAULT 1;
ALTER TABLE entity_templates ADD COLUMN deprecated_at TEXT;
ALTER TABLE entity_templates ADD COLUMN replaced_by TEXT;
ALTER TABLE entity_templates ADD COLUMN deprecation_reason TEXT;

-- Every version of every pattern, as the whole definition in its YAML shape.
CREATE TABLE pattern_versions (
    id         INTEGER PRIMARY KEY,
    tier       INTEGER NOT NULL,
    name       TEXT NOT NULL,
    version    INTEGER NOT NULL,
    body       TEXT NOT NULL,  -- JSON of the whole definition at that version
    source     TEXT NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    UNIQUE (tier, name, version)
);

-- History from the start: the existing rows become version 1.
INSERT INTO pattern_versions (tier, name, version, body, source, note)
SELECT 1, p.name, p.version,
       json_object(
           'name', p.name,
           'category', p.category,
           'description', p.description,
           'parameters', json(p.parameters),
           'implementations', json((
               SELECT json_group_object(
                          i.language, json_object('fragment', i.fragment, 'template', i.template))
               FROM pattern_implementations AS i
               WHERE i.pattern_id = p.id)),
           'examples', json(p.examples)),
       p.source, 'existing definition, recorded by migration 0002'
FROM patterns AS p;

INSERT INTO pattern_versions (tier, name, version, body, source, note)
SELECT 2, d.name, d.version,
       json_object(
           'name', d.name,
           'category', d.category,
           'description', d.description,
           'parameters', json(d.parameters),
           'requires', json(d.requires),
           'conflicts', json(d.conflicts),
           'implementation', json(d.implementation),
           'tests', json(d.tests)),
       d.source, 'existing definition, recorded by migration 0002'
FROM domain_patterns AS d;

INSERT INTO pattern_versions (tier, name, version, body, source, note)
SELECT 3, t.name, t.version,
       json_object(
           'name', t.template_name,
           'namespace', t.namespace,
           'description', t.description,
           'entity', t.entity,
           'depends_on', json((
               SELECT json_group_array(dep.depends_on)
               FROM entity_template_dependencies AS dep
               WHERE dep.template_id = t.id)),
           'config', json(t.config),
           'body', json(t.body)),
       t.source, 'existing definition, recorded by migration 0002'
FROM entity_templates AS t;

CREATE TABLE pattern_quality (
    tier            INTEGER NOT NULL,
    name            TEXT NOT NULL,
    times_used      INTEGER NOT NULL DEFAULT 0,
    successes       INTEGER NOT NULL DEFAULT 0,
    failures        INTEGER NOT NULL DEFAULT 0,
    times_corrected INTEGER NOT NULL DEFAULT 0,
    review_flags    INTEGER NOT NULL DEFAULT 0,
    last_used_at    TEXT,
    PRIMARY KEY (tier, name)
);

-- success_rate is NULL until a pattern has an outcome (not 0: "unknown" is not "bad").
CREATE VIEW pattern_quality_view AS
SELECT q.*,
       CAST(q.successes AS REAL) / NULLIF(q.successes + q.failures, 0) AS success_rate
FROM pattern_quality AS q;

-- Pairs of patterns used on the same entity; each unordered pair is stored once.
CREATE TABLE pattern_cooccurrence (
    pattern_a TEXT NOT NULL,
    pattern_b TEXT NOT NULL,
    count     INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (pattern_a, pattern_b),
    CHECK (pattern_a < pattern_b)
);

CREATE TABLE pattern_suggestions (
    id         INTEGER PRIMARY KEY,
    tier       INTEGER NOT NULL,
    name       TEXT NOT NULL,
    body       TEXT NOT NULL,  -- JSON of the proposed definition
    source     TEXT NOT NULL
               CHECK (source IN ('manual', 'llm_generated', 'discovered', 'migrated')),
    status     TEXT NOT NULL DEFAULT 'pending'
               CHECK (status IN ('pending', 'approved', 'rejected', 'merged')),
    reason     TEXT,
    evidence   TEXT NOT NULL DEFAULT '{}',  -- JSON
    created_at TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    decided_at TEXT,
    decided_by TEXT
);
CREATE INDEX pattern_suggestions_status ON pattern_suggestions (status);

CREATE TABLE pattern_embeddings (
    tier         INTEGER NOT NULL,
    name         TEXT NOT NULL,
    model        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    dims         INTEGER NOT NULL,
    vector       BLOB NOT NULL,  -- float32 little-endian, dims values
    updated_at   TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (tier, name, model)
);

-- Kept in sync by the library code (no triggers): it writes a row per pattern.
CREATE VIRTUAL TABLE patterns_fts USING fts5 (
    tier UNINDEXED,
    name,
    category,
    description,
    body_text,
    tokenize = 'porter unicode61'
);

-- Existing patterns searchable from the start; body_text is the recorded definition.
-- FTS5 columns have no type affinity, so tier is written as the library writes and matches
-- it: as text ('2' never equals 2 here).
INSERT INTO patterns_fts (tier, name, category, description, body_text)
SELECT CAST(tier AS TEXT), name,
       coalesce(json_extract(body, '$.category'), json_extract(body, '$.namespace')),
       json_extract(body, '$.description'),
       body
FROM pattern_versions;
