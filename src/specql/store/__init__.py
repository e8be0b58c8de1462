"""SQLite store under SPECQL_HOME: library, suggestions, decisions, LLM call log."""
