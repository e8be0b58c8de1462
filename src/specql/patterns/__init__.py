"""The three-tier pattern library behind PatternLibrary."""
