"""Local review web page (specql serve)."""
