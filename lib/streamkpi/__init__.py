"""Helper library shared by the streaming-KPI notebooks.

One module per concern: ``inputs`` (input root I/O), ``storage`` (S3 and the staging mirror),
``ingest`` (validation, cleaning, staging), ``kpis`` (the KPI SQL), ``warehouse`` (DDL and
loading), ``redshift`` (Redshift and its PostgreSQL stand-in: COPY, load, pushdown),
``presentation`` (number formats, formatted tables, summaries, data-quality tables), ``breakdowns``
(the counts behind the charts, the warehouse's history), ``plots`` (charts), ``sample_data`` (the
deterministic sample generator).
"""

__version__ = "0.1.0"
