"""Legacy PostgreSQL to SpecQL specs."""
