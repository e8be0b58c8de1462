"""Pattern discovery and patterns from plain English."""
