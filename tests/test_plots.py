"""Every report chart draws from small hand-made frames, titled and labelled, in the reports'
formats and colour-blind-safe colours."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import pytest  # noqa: E402
import seaborn as sns  # noqa: E402
from streamkpi import breakdowns, plots  # noqa: E402
from streamkpi.datachecks import CheckResult  # noqa: E402

GENRES = pd.DataFrame(
    {
        "track_genre": [f"g{i:02d}" for i in range(14)],
        "listen_count": [140 - 10 * i for i in range(14)],
        "average_duration": [180.0 + 15 * i for i in range(14)],
        "most_popular_track_id": ["T"] * 14,
    }
).assign(popularity_index=lambda f: f["listen_count"] / f["listen_count"].sum())

HOURS = pd.DataFrame(
    {  # hours 3..5 have no listens
        "listen_hour": [h for h in range(24) if h not in (3, 4, 5)],
    }
).assign(
    listen_counts=lambda f: 100 + 10 * f["listen_hour"],
    unique_listeners=lambda f: 50 + f["listen_hour"],
    avg_sessions_per_user=1.1,
    diversity_index=lambda f: 0.9 + f["listen_hour"] / 1000,
    most_engaged_age_group=lambda f: ["25-34" if h % 2 else None for h in f["listen_hour"]],
    top_artist="A",
)

GENRE_HOUR = pd.DataFrame(
    [(g, h, 30 - i + h % 4) for i, g in enumerate(GENRES["track_genre"]) for h in (0, 9, 20)],
    columns=["track_genre", "listen_hour", "listens"],
)
AGE_HOUR = pd.DataFrame(
    [(g, h, 1 + i) for i, g in enumerate(breakdowns.AGE_GROUP_LABELS) for h in (1, 7, 23)],
    columns=["age_group", "listen_hour", "listens"],
).assign(age_group=lambda f: pd.Categorical(f["age_group"], categories=breakdowns.AGE_GROUP_LABELS, ordered=True))
HEADLINES = pd.DataFrame(
    {
        "listen_date": pd.to_datetime(["2024-06-24", "2024-06-25", "2024-06-26"]),
        "streams": [1000, 1200, 900],
        "max_hourly_listeners": [50, 60, 40],
        "average_duration": [200.0, 210.0, 190.0],
        "diversity": [0.9, 0.91, 0.95],
    }
)
SHARES = pd.DataFrame(
    {
        "listen_date": pd.to_datetime(["2024-06-24", "2024-06-24", "2024-06-25", "2024-06-25"]),
        "track_genre": pd.Categorical(["rock", "pop"] * 2, categories=["rock", "pop"]),
        "share": [0.3, 0.2, 0.25, 0.0],
    }
)


@pytest.fixture(autouse=True)
def report_style():
    plots.use_report_style()
    yield
    plt.close("all")


def title(ax: plt.Axes) -> str:
    return ax.get_title(loc="left")  # the report style puts titles on the left


def labels(ax: plt.Axes) -> tuple[str, str, str]:
    return title(ax), ax.get_xlabel(), ax.get_ylabel()


def tick_texts(axis) -> list[str]:
    """The tick labels shown (inside the axis' view)."""
    axis.figure.canvas.draw()
    low, high = sorted(axis.get_view_interval())
    return [
        label.get_text()
        for tick, label in zip(axis.get_ticklocs(), axis.get_ticklabels())
        if label.get_text() and low <= tick <= high
    ]


def test_genre_share_chart_shows_top_genres_and_the_rest_as_percentages():
    ax = plots.genre_share_chart(GENRES, top=5)
    assert title(ax).startswith("Share of the day's listens: top 5 genres")
    assert tick_texts(ax.yaxis) == ["g00", "g01", "g02", "g03", "g04", "other (9 genres)"]
    assert all(text.endswith("%") for text in tick_texts(ax.xaxis))
    other = ax.patches[-1]
    assert other.get_width() == pytest.approx(GENRES["popularity_index"].iloc[5:].sum())
    assert matplotlib.colors.to_hex(other.get_facecolor()) == plots.OTHER_COLOUR
    assert any(t.get_text().startswith("11.4%") for t in ax.texts)


def test_genre_duration_chart_uses_minutes_and_seconds_and_marks_the_day_average():
    ax = plots.genre_duration_chart(GENRES, top=4)
    title, xlabel, ylabel = labels(ax)
    assert "top 4 genres" in title and "m:ss" in xlabel and ylabel == "Genre"
    assert tick_texts(ax.xaxis)[:3] == ["0:00", "1:00", "2:00"]
    assert [t.get_text() for t in ax.texts][:4] == ["3:00", "3:15", "3:30", "3:45"]
    assert any(t.get_text().startswith("all streams: ") for t in ax.texts)


def test_genre_hour_heatmap_has_every_hour_and_the_top_genres():
    ax = plots.genre_hour_heatmap(GENRE_HOUR, top=6)
    assert "top 6 genres" in title(ax) and ax.get_xlabel() == "Hour of day (UTC)"
    assert tick_texts(ax.yaxis) == [f"g{i:02d}" for i in range(6)]
    assert ax.collections[0].get_array().shape == (6, 24)
    assert ax.collections[0].get_cmap().name == plots.HEATMAP_COLOURS


def test_hourly_listens_chart_shows_all_24_hours_with_zeros_for_silent_ones():
    ax = plots.hourly_listens_chart(HOURS)
    assert labels(ax) == ("Listens and unique listeners by hour (UTC)", "Hour of day (UTC)", "Count")
    listens = ax.lines[0].get_ydata()
    assert len(listens) == 24 and list(listens[3:6]) == [0, 0, 0]
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["Listens (valid streams)", "Unique listeners"]


def test_age_group_chart_shares_per_hour_and_marks_the_kpis_most_engaged_group():
    ax = plots.age_group_hour_chart(AGE_HOUR, HOURS)
    assert "Age-group engagement by hour" in title(ax)
    assert tick_texts(ax.yaxis) == list(breakdowns.AGE_GROUP_LABELS)
    cells = ax.collections[0].get_array()
    assert cells.shape == (7, 24)
    assert cells[:, 1].sum() == pytest.approx(1.0)  # each hour's shares add up to 100 %
    marks = ax.collections[1].get_offsets()
    assert len(marks) == HOURS["most_engaged_age_group"].notna().sum()
    assert {y for _, y in marks} == {breakdowns.AGE_GROUP_LABELS.index("25-34") + 0.5}


def test_diversity_chart_stays_within_zero_and_one():
    ax = plots.diversity_chart(HOURS)
    assert "Simpson" in title(ax) and ax.get_ylabel() == "Diversity index"
    low, high = ax.get_ylim()
    assert 0 <= low < HOURS["diversity_index"].min() and HOURS["diversity_index"].max() < high <= 1


def test_kpi_trends_chart_has_one_labelled_panel_per_headline_kpi():
    fig = plots.kpi_trends_chart(HEADLINES)
    titles = [title(ax) for ax in fig.axes]
    assert titles == [
        "Listens per day",
        "Unique listeners in the busiest hour",
        "Average track length streamed",
        "Genre diversity (Simpson, stream-weighted)",
    ]
    assert "3 days" in fig._suptitle.get_text()
    assert tick_texts(fig.axes[2].yaxis)[0].count(":") == 1
    assert tick_texts(fig.axes[2].xaxis) == ["Mon\n24 Jun", "Tue\n25 Jun", "Wed\n26 Jun"]


def test_kpi_trends_chart_of_a_single_day():
    fig = plots.kpi_trends_chart(HEADLINES.iloc[:1])
    assert "(1 day)" in fig._suptitle.get_text()
    assert fig.axes[3].get_ylim()[1] <= 1


def test_kpi_trends_chart_never_repeats_a_tick_label_when_days_differ_by_less_than_a_unit():
    # two days whose average track lengths differ by 0.3 s, listens and listeners by 1: seen as "3:42 3:42 3:42"
    close = HEADLINES.iloc[:2].assign(average_duration=[221.6, 221.9], streams=[30000, 30001])
    close = close.assign(max_hourly_listeners=[611, 612])
    fig = plots.kpi_trends_chart(close)
    for ax in fig.axes[:3]:
        labels = [label for label in tick_texts(ax.yaxis) if label]
        assert len(labels) >= 2 and len(set(labels)) == len(labels), (title(ax), labels)


def test_genre_share_trend_chart_has_a_line_per_genre():
    ax = plots.genre_share_trend_chart(SHARES)
    assert "2 genres most listened" in title(ax)
    assert [t.get_text() for t in ax.get_legend().get_texts()] == ["rock", "pop"]


def test_charts_use_the_colour_blind_palette():
    ax = plots.genre_share_chart(GENRES)
    assert matplotlib.colors.to_hex(ax.patches[0].get_facecolor()) == matplotlib.colors.to_hex(
        sns.color_palette("colorblind")[0]
    )


@pytest.mark.parametrize(
    ("check_name", "observed", "tick"), [("rejects_bad_stream", 0.25, "%"), ("volume_recent", 12000, "12,000")]
)
def test_check_chart_shows_a_share_check_in_percent_and_a_count_in_thousands(check_name, observed, tick):
    history = pd.DataFrame({"listen_date": pd.to_datetime(["2024-06-23", "2024-06-24"]), "value": [observed / 2] * 2})
    result = CheckResult(check_name, "warn", observed, 0.0, observed / 2, "high", history)
    ax = plots.check_chart(result, "2024-06-25")
    assert title(ax) == f"{check_name} (warn)"
    assert tick in ax.yaxis.get_major_formatter()(observed, 0)
    plt.close(ax.figure)
