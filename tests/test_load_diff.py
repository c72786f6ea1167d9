"""What a load changed: the day's rows before and after, compared by key (hand-worked), and the
DuckDB warehouse's loads recording it: a first load adds, a rerun on the same input changes
nothing, a rerun on changed input names the changed cells. (PostgreSQL: test_warehouse_postgres.)
"""

from __future__ import annotations

import datetime as dt
import math

import pandas as pd
from streamkpi import warehouse
from streamkpi.rowdiff import diff_rows

DATE = "2024-06-25"


def test_diff_counts_added_removed_changed_and_unchanged_rows_by_key():
    old = pd.DataFrame({"k": ["a", "b", "c", "d"], "x": [1, 2, 3, math.nan], "y": ["p", "q", "r", None]})
    new = pd.DataFrame({"k": ["b", "c", "d", "e"], "x": [2, 30, math.nan, 5], "y": ["q", "r", None, "s"]})
    # By hand: a removed; e added; b equal; c's x 3 -> 30; d equal (both null in both columns).
    assert diff_rows(old, new, ["k"]) == {
        "added": 1,
        "removed": 1,
        "changed": 1,
        "unchanged": 2,
        "examples": [{"key": {"k": "c"}, "column": "x", "old": 3.0, "new": 30.0}],
    }


def test_diff_shows_the_first_changed_cells_in_key_order():
    old = pd.DataFrame({"h": [2, 0, 1], "n": [20, 0, 10], "t": ["B", "X", "A"]})
    new = pd.DataFrame({"h": [0, 1, 2], "n": [0, 11, 21], "t": ["Y", "A", "C"]})
    diff = diff_rows(old, new, ["h"], examples=3)
    assert (diff["changed"], diff["unchanged"]) == (3, 0)
    # Row 0: t; row 1: n; row 2: n then t. The first three:
    assert [(c["key"]["h"], c["column"], c["old"], c["new"]) for c in diff["examples"]] == [
        (0, "t", "X", "Y"),
        (1, "n", 10, 11),
        (2, "n", 20, 21),
    ]


def genre_file(tmp_path, name: str, listens: dict[str, int]):
    frame = pd.DataFrame(
        {
            "listen_date": [dt.date(2024, 6, 25)] * len(listens),
            "track_genre": list(listens),
            "listen_count": list(listens.values()),
            "popularity_index": [1.0] * len(listens),
            "average_duration": [200.0] * len(listens),
            "most_popular_track_id": ["T1"] * len(listens),
        }
    )
    path = tmp_path / f"{name}.parquet"
    frame.to_parquet(path)
    return {"genre_level_kpis": path}


def test_duckdb_loads_record_what_each_changed(tmp_path):
    url = f"duckdb:///{tmp_path / 'warehouse.duckdb'}"
    first = warehouse.load_day(url, DATE, genre_file(tmp_path, "first", {"pop": 5, "rock": 7}))
    assert first.rows == {"genre_level_kpis": 2}
    assert first.diff["genre_level_kpis"] == {"added": 2, "removed": 0, "changed": 0, "unchanged": 0, "examples": []}
    again = warehouse.load_day(url, DATE, genre_file(tmp_path, "again", {"pop": 5, "rock": 7}))
    assert again.diff["genre_level_kpis"] == {"added": 0, "removed": 0, "changed": 0, "unchanged": 2, "examples": []}
    changed = warehouse.load_day(url, DATE, genre_file(tmp_path, "changed", {"jazz": 1, "rock": 8}))
    assert changed.diff["genre_level_kpis"] == {
        "added": 1,  # jazz
        "removed": 1,  # pop
        "changed": 1,  # rock 7 -> 8
        "unchanged": 0,
        "examples": [
            {
                "key": {"listen_date": "2024-06-25", "track_genre": "rock"},
                "column": "listen_count",
                "old": 7,
                "new": 8,
            }
        ],
    }
