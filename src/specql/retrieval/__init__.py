"""Embeddings and hybrid search over the pattern library."""
