-- A migration that fails halfway: the statements before the bad one must leave no trace.
CREATE TABLE half_done (x INTEGER);
INSERT INTO half_done VALUES (1);
ALTER TABLE patterns ADD COLUMN half INTEGER;
DELETE FROM meta;
INSERT INTO no_such_table VALUES (1);
