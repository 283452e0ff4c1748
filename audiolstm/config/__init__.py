"""Settings: the defaults (one source for every field's help), the dissertation's presets,
resolve and validate."""
