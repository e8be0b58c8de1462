"""Code generators, registered by target name."""
