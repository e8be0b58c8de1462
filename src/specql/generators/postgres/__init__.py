"""PostgreSQL DDL and PL/pgSQL generation (DESIGN §4 conventions)."""
