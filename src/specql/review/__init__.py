"""Human review queue and decisions."""
