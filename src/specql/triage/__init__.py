"""Small ML models that decide what needs review."""
