"""Model backends behind one interface (local llama.cpp first)."""
