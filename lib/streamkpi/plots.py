"""Charts of the KPI tables (seaborn, colour-blind-safe palette)."""

from __future__ import annotations

import matplotlib.pyplot as plt
import pandas as pd
import seaborn as sns

PALETTE = "colorblind"


def use_report_style() -> None:
    """One look for every chart of the reports."""
    sns.set_theme(style="whitegrid", palette=PALETTE, context="notebook")


def genre_listens_chart(genre_kpis: pd.DataFrame, top: int = 15) -> plt.Axes:
    """Horizontal bars of the ``top`` genres by listens, with their share of the day."""
    top_genres = genre_kpis.nlargest(top, "listen_count").sort_values("listen_count", ascending=False)
    fig, ax = plt.subplots(figsize=(9, 0.35 * len(top_genres) + 1.5))
    sns.barplot(data=top_genres, y="track_genre", x="listen_count", color=sns.color_palette(PALETTE)[0], ax=ax)
    for bar, share in zip(ax.patches, top_genres["popularity_index"]):
        ax.annotate(f"{share:.1%}", (bar.get_width(), bar.get_y() + bar.get_height() / 2),
                    xytext=(3, 0), textcoords="offset points", va="center", fontsize=9)
    ax.set(title=f"Top {len(top_genres)} genres by listens", xlabel="Valid streams", ylabel="Genre")
    fig.tight_layout()
    return ax


def hourly_listens_chart(hourly_kpis: pd.DataFrame) -> plt.Axes:
    """Listens and unique listeners per hour of the day (UTC)."""
    long = hourly_kpis.melt(
        id_vars="listen_hour", value_vars=["listen_counts", "unique_listeners"], var_name="measure", value_name="value"
    ).replace({"measure": {"listen_counts": "Streams", "unique_listeners": "Unique listeners"}})
    fig, ax = plt.subplots(figsize=(9, 4))
    sns.lineplot(data=long, x="listen_hour", y="value", hue="measure", style="measure", markers=True, ax=ax)
    ax.set(title="Streams and unique listeners by hour (UTC)", xlabel="Hour of day (UTC)", ylabel="Count",
           xticks=range(0, 24))
    ax.legend(title=None)
    fig.tight_layout()
    return ax
