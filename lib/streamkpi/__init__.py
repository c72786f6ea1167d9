"""Helper library shared by the streaming-KPI notebooks.

One module per concern: ``inputs`` (input root I/O), ``storage`` (S3 and the staging mirror),
``ingest`` (validation, cleaning, staging), ``kpis`` (the KPI SQL and its engines), ``tables``
(the tables' definitions and DDL), ``warehouse`` (loading and reading the KPI tables, whatever the
warehouse), with its backends ``duckdb_file`` (an embedded DuckDB file) and ``redshift`` (Redshift
and its PostgreSQL stand-in: COPY, load, pushdown), ``archive`` (moving processed inputs away),
``presentation`` (number formats, formatted tables, summaries, data-quality tables), ``breakdowns``
(the counts behind the charts, the warehouse's history), ``plots`` (charts), ``scraps`` (what a
notebook hands the runner). Below them:
``sqltext`` (quoting and the SQL files of ``sql/``), ``localdb`` (this machine's DuckDB
connections and their memory), ``dates`` (the run date), ``errors``.
"""

__version__ = "0.1.0"
