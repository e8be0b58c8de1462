"""SpecQL dialect: typed nodes, loader (positions kept), validation, canonical dump."""
