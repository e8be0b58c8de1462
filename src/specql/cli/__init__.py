"""The specql command: a thin shell over the library API."""
