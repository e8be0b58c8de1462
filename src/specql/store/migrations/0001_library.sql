-- Schema version 1: the pattern library (docs/pattern-library.md).
-- JSON columns hold JSON text; timestamps are UTC ISO-8601 with milliseconds.

CREATE TABLE meta (
    key   TEXT PRIMARY KEY,
    value TEXT NOT NULL
);

CREATE TABLE languages (
    name           TEXT PRIMARY KEY,
    display_name   TEXT NOT NULL,
    kind           TEXT NOT NULL CHECK (kind IN ('sql', 'python')),
    file_extension TEXT NOT NULL
);

-- Tier 1: universal primitives, one template per language.

CREATE TABLE patterns (
    id          INTEGER PRIMARY KEY,
    name        TEXT NOT NULL UNIQUE,
    category    TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT '',
    parameters  TEXT NOT NULL DEFAULT '{}',  -- JSON Schema
    examples    TEXT NOT NULL DEFAULT '[]',  -- JSON
    source      TEXT NOT NULL DEFAULT 'manual'
                CHECK (source IN ('manual', 'llm_generated', 'discovered', 'migrated')),
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX patterns_category ON patterns (category);

CREATE TABLE pattern_implementations (
    pattern_id INTEGER NOT NULL REFERENCES patterns (id) ON DELETE CASCADE,
    language   TEXT NOT NULL REFERENCES languages (name),
    fragment   TEXT NOT NULL,
    template   TEXT NOT NULL,
    PRIMARY KEY (pattern_id, language)
);
-- The foreign key to languages is checked on every language delete/update.
CREATE INDEX pattern_implementations_language ON pattern_implementations (language);

CREATE TABLE universal_types (
    name        TEXT PRIMARY KEY,
    kind        TEXT NOT NULL,
    description TEXT NOT NULL DEFAULT ''
);

CREATE TABLE type_mappings (
    universal_type TEXT NOT NULL REFERENCES universal_types (name) ON DELETE CASCADE,
    language       TEXT NOT NULL REFERENCES languages (name),
    native         TEXT NOT NULL,
    PRIMARY KEY (universal_type, language)
);

CREATE TABLE expression_patterns (
    name     TEXT NOT NULL,
    language TEXT NOT NULL REFERENCES languages (name),
    template TEXT NOT NULL,
    PRIMARY KEY (name, language)
);

CREATE TABLE language_capabilities (
    language   TEXT NOT NULL REFERENCES languages (name),
    capability TEXT NOT NULL,
    supported  INTEGER NOT NULL,
    note       TEXT NOT NULL DEFAULT '',
    PRIMARY KEY (language, capability)
);

-- Tier 2: domain patterns in the SpecQL step dialect.

CREATE TABLE domain_patterns (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,
    category           TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    parameters         TEXT NOT NULL DEFAULT '{}',  -- JSON Schema
    implementation     TEXT NOT NULL,               -- JSON
    requires           TEXT NOT NULL DEFAULT '[]',  -- JSON list of pattern names
    conflicts          TEXT NOT NULL DEFAULT '[]',  -- JSON list of pattern names
    tests              TEXT NOT NULL DEFAULT '{}',  -- JSON
    times_instantiated INTEGER NOT NULL DEFAULT 0,
    popularity         REAL NOT NULL DEFAULT 0,
    source             TEXT NOT NULL DEFAULT 'manual'
                       CHECK (source IN ('manual', 'llm_generated', 'discovered', 'migrated')),
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX domain_patterns_category ON domain_patterns (category);

-- Tier 3: entity templates.

CREATE TABLE entity_templates (
    id                 INTEGER PRIMARY KEY,
    name               TEXT NOT NULL UNIQUE,  -- '<namespace>.<name>'
    namespace          TEXT NOT NULL,
    template_name      TEXT NOT NULL,
    description        TEXT NOT NULL DEFAULT '',
    entity             TEXT NOT NULL,               -- default entity name
    config             TEXT NOT NULL DEFAULT '{}',  -- JSON Schema
    body               TEXT NOT NULL,               -- JSON
    times_instantiated INTEGER NOT NULL DEFAULT 0,
    source             TEXT NOT NULL DEFAULT 'manual'
                       CHECK (source IN ('manual', 'llm_generated', 'discovered', 'migrated')),
    created_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    updated_at         TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX entity_templates_namespace ON entity_templates (namespace);

CREATE TABLE entity_template_dependencies (
    template_id INTEGER NOT NULL REFERENCES entity_templates (id) ON DELETE CASCADE,
    depends_on  TEXT NOT NULL,  -- '<namespace>.<name>' of another template
    PRIMARY KEY (template_id, depends_on)
);

-- Every instantiation of a pattern of any tier, for usage statistics.
CREATE TABLE pattern_instantiations (
    id          INTEGER PRIMARY KEY,
    tier        INTEGER NOT NULL CHECK (tier IN (1, 2, 3)),
    pattern     TEXT NOT NULL,
    entity      TEXT NOT NULL,
    schema_name TEXT,
    params      TEXT NOT NULL DEFAULT '{}',  -- JSON
    created_at  TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now'))
);
CREATE INDEX pattern_instantiations_pattern ON pattern_instantiations (pattern);
