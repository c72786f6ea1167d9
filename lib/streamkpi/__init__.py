"""Helper library shared by the streaming-KPI notebooks.

One module per concern: ``inputs`` (input root I/O), ``ingest`` (validation, cleaning,
staging), ``kpis`` (the KPI SQL), ``warehouse`` (DDL and loading), ``plots`` (charts),
``sample_data`` (the deterministic sample generator).
"""

__version__ = "0.1.0"
