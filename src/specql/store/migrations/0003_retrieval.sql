-- Schema version 3: what retrieval indexes of each library entry, and a cache of embeddings
-- by content. The library writes a document row with every change of an entry (and bumps
-- the generation, so a search index held in memory knows to refresh); the retrieval layer
-- embeds documents into pattern_embeddings (schema 2). Rows of existing entries are written
-- by the library when it opens the file (document text is made by code, not SQL).

CREATE TABLE pattern_documents (
    tier         INTEGER NOT NULL,
    name         TEXT NOT NULL,
    category     TEXT NOT NULL,   -- a template's namespace
    languages    TEXT NOT NULL,   -- ' '-separated languages it compiles to
    chunks       TEXT NOT NULL,   -- JSON array of texts: a summary, then each legacy example
    content_hash TEXT NOT NULL,   -- sha256 of chunks
    deprecated   INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (tier, name)
);

CREATE TABLE library_generation (
    id         INTEGER PRIMARY KEY CHECK (id = 1),
    generation INTEGER NOT NULL
);
INSERT INTO library_generation (id, generation) VALUES (1, 0);

-- Embeddings of texts that are not library entries (functions being reverse-engineered,
-- repeated queries), by model and content hash; used_at lets the oldest be pruned.
CREATE TABLE embedding_cache (
    model        TEXT NOT NULL,
    content_hash TEXT NOT NULL,
    dims         INTEGER NOT NULL,
    vector       BLOB NOT NULL,  -- float32 little-endian
    used_at      TEXT NOT NULL DEFAULT (strftime('%Y-%m-%dT%H:%M:%fZ', 'now')),
    PRIMARY KEY (model, content_hash)
) WITHOUT ROWID;
CREATE INDEX embedding_cache_used ON embedding_cache (used_at);
