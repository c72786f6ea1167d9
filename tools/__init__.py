"""Developer tools of the repository, kept out of the runtime library (``lib/streamkpi``).

``sample_data`` generates the deterministic sample input (``make sample-data``), which the tests and
the benchmarks generate too; its helper modules are the other ``sample_*.py`` files here.
"""
