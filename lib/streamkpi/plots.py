"""Charts of the report pages (seaborn).

Every chart has a title and labelled axes with the reports' number formats (thousands
separators, percentages, m:ss durations, UTC hours), and uses colour-blind-safe colours: the
``colorblind`` palette for categories, ``cividis`` (readable with any colour vision and in
greyscale) for heatmaps. Each function draws one figure and returns its Axes, except
:func:`kpi_trends_chart`, several panels, which returns its Figure.
"""

from __future__ import annotations

import matplotlib.dates as mdates
import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns
from matplotlib.ticker import FuncFormatter, MaxNLocator, MultipleLocator, PercentFormatter, ScalarFormatter

from .breakdowns import AGE_GROUP_LABELS, top_genres_and_other
from .presentation import duration, mean_track_length

PALETTE = "colorblind"
HEATMAP_COLOURS = "cividis"
OTHER_COLOUR = "#9e9e9e"
FLAG_COLOURS = {"warn": "#e6a700", "fail": "#c62828"}  # a data check's warning, failure
HOURS = range(24)
# Dots per inch of the images embedded in the reports: sharp on screen, small in the HTML.
REPORT_DPI = 96

_THOUSANDS = FuncFormatter(lambda value, _: f"{value:,.0f}")
_DURATION = FuncFormatter(lambda value, _: duration(value))


def use_report_style() -> None:
    """One look for every chart of the reports."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")
    plt.rcParams.update(
        {
            "figure.dpi": REPORT_DPI,
            "savefig.dpi": REPORT_DPI,
            "axes.titleweight": "bold",
            "axes.titlesize": 13,
            "axes.titlelocation": "left",
        }
    )


def genre_share_chart(genre_kpis: pd.DataFrame, top: int = 10) -> plt.Axes:
    """Share of the day's listens of the ``top`` genres, and of all the others together."""
    shares = top_genres_and_other(genre_kpis, top)
    colours = [OTHER_COLOUR if other else sns.color_palette(PALETTE)[0] for other in shares["is_other"]]
    labels = [
        f"{g} ({n:,} genres)" if other else g
        for g, n, other in zip(shares["track_genre"], shares["genres"], shares["is_other"])
    ]
    fig, ax = plt.subplots(figsize=(9, 0.38 * len(shares) + 1.6))
    ax.barh(labels, shares["popularity_index"], color=colours)
    ax.invert_yaxis()
    for bar, share, listens in zip(ax.patches, shares["popularity_index"], shares["listen_count"]):
        ax.annotate(
            f"{share:.1%}  ({listens:,.0f})",
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
        )
    ax.xaxis.set_major_formatter(PercentFormatter(1.0, decimals=0))
    ax.set_xlim(0, shares["popularity_index"].max() * 1.25)
    ax.set(
        title=f"Share of the day's listens: top {min(top, len(genre_kpis))} genres and the rest",
        xlabel="Share of valid streams (listens in brackets)",
        ylabel=None,
    )
    ax.grid(axis="y", visible=False)
    fig.tight_layout()
    return ax


def genre_duration_chart(genre_kpis: pd.DataFrame, top: int = 15) -> plt.Axes:
    """Average length of the tracks streamed, for the ``top`` genres by listens, against the
    day's average over every stream."""
    genres = genre_kpis.sort_values(["listen_count", "track_genre"], ascending=[False, True]).head(top)
    day_average = mean_track_length(genre_kpis)
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(genres) + 1.6))
    sns.barplot(
        data=genres, y="track_genre", x="average_duration", color=sns.color_palette(PALETTE)[2], saturation=1, ax=ax
    )
    for bar, seconds in zip(ax.patches, genres["average_duration"]):
        ax.annotate(
            duration(seconds),
            (bar.get_width(), bar.get_y() + bar.get_height() / 2),
            xytext=(4, 0),
            textcoords="offset points",
            va="center",
            fontsize=9,
            bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "edgecolor": "none"},
        )
    ax.axvline(day_average, color="black", linestyle="--", linewidth=1)
    ax.annotate(
        f"all streams: {duration(day_average)}",
        (day_average, 1),
        xycoords=("data", "axes fraction"),
        xytext=(0, 3),
        textcoords="offset points",
        fontsize=9,
        ha="center",
        va="bottom",
    )
    longest = genres["average_duration"].max()
    ax.xaxis.set_major_locator(MultipleLocator(60 * max(1, round(longest / 60 / 6))))  # whole minutes
    ax.xaxis.set_major_formatter(_DURATION)
    ax.set_xlim(0, longest * 1.15)
    ax.set_title(f"Average track length (m:ss) of the top {len(genres)} genres by listens", pad=16)
    ax.set(xlabel="Average length of the tracks streamed (m:ss, stream-weighted)", ylabel="Genre")
    fig.tight_layout()
    return ax


def genre_hour_heatmap(genre_hour: pd.DataFrame, top: int = 12) -> plt.Axes:
    """Listens per hour (UTC) of the ``top`` genres of the day (``breakdowns.genre_hour_listens``)."""
    totals = genre_hour.groupby("track_genre")["listens"].sum().reset_index()
    leaders = totals.sort_values(["listens", "track_genre"], ascending=[False, True])["track_genre"].head(top)
    grid = (
        genre_hour[genre_hour["track_genre"].isin(leaders)]
        .pivot_table(index="track_genre", columns="listen_hour", values="listens", aggfunc="sum", fill_value=0)
        .reindex(index=leaders, columns=HOURS, fill_value=0)
    )
    fig, ax = plt.subplots(figsize=(11, 0.4 * len(grid) + 1.8))
    sns.heatmap(
        grid,
        cmap=HEATMAP_COLOURS,
        linewidths=0.5,
        linecolor="white",
        ax=ax,
        cbar_kws={"label": "Listens", "format": _THOUSANDS},
    )
    ax.set(
        title=f"Listens by genre and hour (UTC): the day's top {len(grid)} genres",
        xlabel="Hour of day (UTC)",
        ylabel="Genre",
    )
    ax.tick_params(axis="x", rotation=0)
    fig.tight_layout()
    return ax


def hourly_listens_chart(hourly_kpis: pd.DataFrame) -> plt.Axes:
    """Listens and unique listeners per hour of the day (UTC); an hour without listens shows 0."""
    hours = (
        hourly_kpis.set_index("listen_hour")[["listen_counts", "unique_listeners"]]
        .reindex(HOURS, fill_value=0)
        .rename_axis("listen_hour")
        .reset_index()
    )
    long = hours.melt(id_vars="listen_hour", var_name="measure", value_name="value").replace(
        {"measure": {"listen_counts": "Listens (valid streams)", "unique_listeners": "Unique listeners"}}
    )
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.lineplot(data=long, x="listen_hour", y="value", hue="measure", style="measure", markers=True, ax=ax)
    ax.set(
        title="Listens and unique listeners by hour (UTC)",
        xlabel="Hour of day (UTC)",
        ylabel="Count",
        xticks=HOURS,
        xlim=(-0.5, 23.5),
    )
    ax.set_ylim(bottom=0)
    ax.yaxis.set_major_formatter(_THOUSANDS)
    ax.legend(title=None, loc="lower right")
    fig.tight_layout()
    return ax


def age_group_hour_chart(age_group_hour: pd.DataFrame, hourly_kpis: pd.DataFrame) -> plt.Axes:
    """Each age group's share of every hour's listens (listeners of known age), the hour's most
    engaged group (the KPI ``most_engaged_age_group``) marked with a dot."""
    listens = age_group_hour.pivot_table(
        index="age_group", columns="listen_hour", values="listens", aggfunc="sum", fill_value=0, observed=False
    ).reindex(index=list(AGE_GROUP_LABELS), columns=HOURS, fill_value=0)
    shares = listens / listens.sum(axis=0).where(lambda total: total > 0)
    fig, ax = plt.subplots(figsize=(11, 4.4))
    sns.heatmap(
        shares,
        cmap=HEATMAP_COLOURS,
        vmin=0,
        linewidths=0.5,
        linecolor="white",
        ax=ax,
        cbar_kws={"label": "Share of the hour's listens", "format": PercentFormatter(1.0, decimals=0)},
    )
    engaged = hourly_kpis.dropna(subset=["most_engaged_age_group"])
    rows = [AGE_GROUP_LABELS.index(group) + 0.5 for group in engaged["most_engaged_age_group"]]
    ax.scatter(
        engaged["listen_hour"] + 0.5,
        rows,
        s=28,
        color="white",
        edgecolor="black",
        linewidth=0.8,
        label="most engaged group of the hour",
        zorder=3,
    )
    ax.set(
        title="Age-group engagement by hour (UTC): share of each hour's listens",
        xlabel="Hour of day (UTC)",
        ylabel="Age group",
    )
    ax.tick_params(axis="x", rotation=0)
    ax.tick_params(axis="y", rotation=0)
    ax.legend(loc="upper left", bbox_to_anchor=(0, -0.14), frameon=False, fontsize=9)
    fig.tight_layout()
    return ax


def diversity_chart(hourly_kpis: pd.DataFrame) -> plt.Axes:
    """Simpson genre diversity of each hour (UTC), against the day's stream-weighted mean."""
    hours = hourly_kpis.sort_values("listen_hour")
    mean = (hours["diversity_index"] * hours["listen_counts"]).sum() / hours["listen_counts"].sum()
    fig, ax = plt.subplots(figsize=(9, 3.8))
    sns.lineplot(
        data=hours, x="listen_hour", y="diversity_index", marker="o", color=sns.color_palette(PALETTE)[4], ax=ax
    )
    ax.axhline(mean, color="black", linestyle="--", linewidth=1)
    ax.annotate(f"day: {mean:.3f}", (23.4, mean), xytext=(0, 4), textcoords="offset points", ha="right", fontsize=9)
    ax.set(
        title="Genre diversity by hour (UTC): Simpson index, 0 = one genre, 1 = evenly spread",
        xlabel="Hour of day (UTC)",
        ylabel="Diversity index",
        xticks=HOURS,
        xlim=(-0.5, 23.5),
    )
    low, high = hours["diversity_index"].min(), hours["diversity_index"].max()
    margin = max((high - low) * 0.3, 0.005)
    ax.set_ylim(max(0.0, low - margin), min(1.0, high + margin))
    fig.tight_layout()
    return ax


def kpi_trends_chart(headlines: pd.DataFrame, flagged: pd.DataFrame | None = None) -> plt.Figure:
    """The headline KPIs of every loaded date (``breakdowns.daily_headlines``), one panel each:
    listens, most unique listeners in an hour, average track length, genre diversity. The dates a
    data check flagged (``flagged``: ``listen_date``, ``status``, as ``datachecks.flagged_dates``)
    are shaded, red for a failed check, amber for a warning."""
    # (column, title, axis label, tick format, ticks on whole units: counts and seconds); the
    # diversity of days differs in the 4th or 5th decimal, which the default format shows.
    panels = [
        ("streams", "Listens per day", "Valid streams", _THOUSANDS, True),
        ("max_hourly_listeners", "Unique listeners in the busiest hour", "Listeners", _THOUSANDS, True),
        ("average_duration", "Average track length streamed", "m:ss", _DURATION, True),
        ("diversity", "Genre diversity (Simpson, stream-weighted)", "Index", ScalarFormatter(useOffset=False), False),
    ]
    days = headlines.sort_values("listen_date")
    colours = sns.color_palette(PALETTE)
    fig, axes = plt.subplots(2, 2, figsize=(11, 6.4), sharex=True)
    for ax, (column, title, ylabel, formatter, whole), colour in zip(axes.flat, panels, colours):
        ax.plot(days["listen_date"], days[column], marker="o", color=colour)
        for when, status in [] if flagged is None else zip(flagged["listen_date"], flagged["status"]):
            half_day = pd.Timedelta(hours=10)
            ax.axvspan(when - half_day, when + half_day, color=FLAG_COLOURS[status], alpha=0.35, lw=0)
        ax.set_title(title, fontsize=11)
        ax.set_ylabel(ylabel)
        ax.yaxis.set_major_formatter(formatter)
        ax.yaxis.set_major_locator(MaxNLocator(5, integer=whole))
        low, high = ax.get_ylim()
        if whole and high - low < 4:  # too few whole units to tick: fractional ticks would repeat ("3:42 3:42")
            ax.set_ylim((low + high) / 2 - 2, (low + high) / 2 + 2)
        _date_axis(ax, days["listen_date"])
    axes.flat[3].set_ylim(top=min(1.0, axes.flat[3].get_ylim()[1]))  # a diversity index never exceeds 1
    first, last = days["listen_date"].min(), days["listen_date"].max()
    span = f"{first:%d %b %Y}" if first == last else f"{first:%d %b %Y} to {last:%d %b %Y}"
    count = f"{len(days)} day{'s' if len(days) > 1 else ''}"
    fig.suptitle(
        f"Headline KPIs of every loaded day: {span} ({count})", x=0.01, ha="left", fontweight="bold", fontsize=13
    )
    fig.tight_layout()
    return fig


def genre_share_trend_chart(share_by_day: pd.DataFrame) -> plt.Axes:
    """Daily share of listens of the period's top genres (``breakdowns.genre_share_by_day``)."""
    genres = list(share_by_day["track_genre"].cat.categories)
    fig, ax = plt.subplots(figsize=(11, 4.2))
    sns.lineplot(
        data=share_by_day,
        x="listen_date",
        y="share",
        hue="track_genre",
        hue_order=genres,
        style="track_genre",
        style_order=genres,
        markers=True,
        dashes=False,
        ax=ax,
    )
    ax.yaxis.set_major_formatter(PercentFormatter(1.0))
    ax.set_ylim(0, max(share_by_day["share"].max(), 0.001) * 1.15)
    ax.set(
        title=f"Share of each day's listens of the {len(genres)} genres most listened over the period",
        xlabel="Listen date",
        ylabel="Share of valid streams",
    )
    _date_axis(ax, share_by_day["listen_date"])
    ax.legend(title="Genre", loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return ax


def _date_axis(ax: plt.Axes, dates: pd.Series) -> None:
    """A tick per day, labelled ``Mon 24 Jun``, for up to two weeks; concise automatic ticks beyond."""
    unique = pd.Series(dates.unique()).sort_values()
    if len(unique) <= 14:
        ax.set_xticks(unique)
        ax.xaxis.set_major_formatter(mdates.DateFormatter("%a\n%d %b"))
        if len(unique) == 1:
            ax.set_xlim(unique.iloc[0] - pd.Timedelta(days=1), unique.iloc[0] + pd.Timedelta(days=1))
    else:
        locator = mdates.AutoDateLocator()
        ax.xaxis.set_major_locator(locator)
        ax.xaxis.set_major_formatter(mdates.ConciseDateFormatter(locator))


def check_chart(result, run_date) -> plt.Axes:
    """A flagged data check (``datachecks.CheckResult``) against what it expected: the day's listens
    per hour against each hour's range for the hourly checks, else the figure over the history's
    dates with the expected range shaded and the day's value marked."""
    history, colour = result.history, FLAG_COLOURS.get(result.status, sns.color_palette(PALETTE)[0])
    fig, ax = plt.subplots(figsize=(11, 3.6))
    if "hour" in history:
        ax.fill_between(history["hour"], history["low"], history["high"], step="mid", alpha=0.25, label="expected")
        ax.step(history["hour"], history["value"], where="mid", color=colour, label=f"{run_date}")
        ax.set(xlabel="Hour (UTC)", ylabel="Listens", xticks=list(HOURS)[::2])
        ax.yaxis.set_major_formatter(_THOUSANDS)
    else:
        day = pd.Timestamp(run_date)
        dates = pd.concat([pd.to_datetime(history["listen_date"]), pd.Series([day])], ignore_index=True)
        low = 0 if result.expected_low is None else result.expected_low
        ax.axhspan(low, result.expected_high, alpha=0.2, label="expected")
        ax.plot(pd.to_datetime(history["listen_date"]), history["value"], marker="o", label="earlier days")
        ax.plot([day], [result.observed], marker="X", markersize=12, color=colour, ls="", label=f"{run_date}")
        ax.set(xlabel="Listen date", ylabel=result.check_name)
        ax.yaxis.set_major_formatter(PercentFormatter(1.0) if result.is_share else _THOUSANDS)
        _date_axis(ax, dates)
    ax.set_title(f"{result.check_name} ({result.status})", fontsize=12)
    ax.legend(loc="center left", bbox_to_anchor=(1.01, 0.5), frameon=False)
    fig.tight_layout()
    return ax
