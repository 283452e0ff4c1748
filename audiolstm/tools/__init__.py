"""Tools around the package: benchmarks, the development set, generated docs, notebook helpers."""
