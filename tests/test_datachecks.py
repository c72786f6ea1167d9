"""The data checks' arithmetic on hand-worked fixtures: every expected value is worked out here, by hand."""

import datetime as dt

import pandas as pd
import pytest
from streamkpi import datachecks
from streamkpi.datachecks import DayFigures, History

DAY = dt.date(2024, 6, 25)  # a Tuesday
FLAT = pd.Series([100.0] * 24, index=range(24))  # 2,400 listens a day, 100 an hour


def history(days: int, per_hour=100.0, recorded=None, genres=None) -> History:
    """``days`` loaded dates just before DAY, ``per_hour`` listens in every hour."""
    dates = pd.date_range(end=pd.Timestamp(DAY) - pd.Timedelta(days=1), periods=days)
    hourly = pd.DataFrame(per_hour, index=dates, columns=range(24))
    genre_frame = genres if genres is not None else pd.DataFrame({"pop": 1800.0, "rock": 600.0}, index=dates)
    return History(hourly, genre_frame, recorded or {})


def day(hourly=FLAT, genres=None, rejects=None, day_rows=2400, unknown_users=0, listeners=500) -> DayFigures:
    return DayFigures(
        listen_date=DAY,
        hourly_listens=hourly,
        genre_listens=genres if genres is not None else pd.Series({"pop": 1800.0, "rock": 600.0}),
        latest_listen=pd.Timestamp("2024-06-25 23:58:00"),
        day_rows=day_rows,
        rejects=rejects or {"bad_stream": 0, "duplicate_stream": 0, "unknown_track": 0},
        unknown_user_streams=unknown_users,
        unique_listeners=listeners,
    )


def by_name(results):
    return {r.check_name: r for r in results}


def test_robust_band_median_and_scaled_mad():
    # median 100; |deviations| 0 2 2 1 1 -> median 1; MAD x 1.4826 = 1.4826; x 4 = 5.9304 > min_spread 5
    low, median, high = datachecks.robust_band([100, 102, 98, 101, 99], threshold=4, min_spread=5)
    assert median == 100
    assert low == pytest.approx(100 - 5.9304) and high == pytest.approx(100 + 5.9304)
    # one wild value moves neither the median nor the MAD much: 100 100 100 100 1000 -> MAD 0, spread = min 10
    assert datachecks.robust_band([100, 100, 100, 100, 1000], threshold=4, min_spread=10) == (90, 100, 110)


def test_distance_is_half_the_absolute_differences():
    # 0.5/0.5 against 0.7/0.2/0.1: |0.2| + |0.3| + |0.1| = 0.6 -> 0.3 of the listens would have to move
    assert datachecks.distance(pd.Series({"a": 0.5, "b": 0.5}), pd.Series({"a": 0.7, "b": 0.2, "c": 0.1})) == (
        pytest.approx(0.3)
    )


def test_volume_weekday_compares_with_the_same_weekday_only():
    # 5 weeks of history: the Tuesdays had 2,400 listens, every other day 4,800 (the band would be far off)
    h = history(35)
    h.hourly.loc[h.hourly.index.day_of_week != 1] = 200.0
    result = by_name(datachecks.run_checks(day(), h))["volume_weekday"]
    # 5 Tuesdays of 2,400: MAD 0, so the band is 2,400 ± 15 % (min_spread 0.15) = 2,040..2,760
    assert (result.status, result.observed) == ("pass", 2400)
    assert (result.expected_low, result.expected_high) == pytest.approx((2040, 2760))
    assert "5 earlier Tuesdays" in result.message
    low = by_name(datachecks.run_checks(day(hourly=FLAT * 0.8), h))["volume_weekday"]  # 1,920 < 2,040
    assert low.status == "warn" and "lower than usual" in low.message


def test_weekday_checks_skip_with_fewer_than_four_same_weekdays():
    results = by_name(datachecks.run_checks(day(), history(27)))  # 3 Tuesdays in 27 days
    for name in ("volume_weekday", "completeness", "hourly_listens", "unique_listeners"):
        assert results[name].status == "skipped", name
    assert results["volume_weekday"].message == "not enough history to judge: 3 earlier Tuesdays, 4 needed"
    assert results["volume_weekday"].observed == 2400  # recorded all the same: tomorrow's history


def test_volume_recent_uses_the_last_fourteen_days():
    h = history(20)
    h.hourly.iloc[:6] = 1000.0  # more than 14 days back: not looked at
    result = by_name(datachecks.run_checks(day(hourly=FLAT * 0.6), h))["volume_recent"]
    # 14 days of 2,400, MAD 0: band 2,400 ± 35 % = 1,560..3,240; 1,440 is below
    assert (result.expected_low, result.expected_high) == pytest.approx((1560, 3240))
    assert result.status == "warn" and "14 recent days" in result.message


def test_volume_band_is_at_least_the_counting_noise_of_the_day():
    h = history(28)
    weekdays = [pd.Timestamp(DAY) - pd.Timedelta(weeks=w) for w in (1, 2, 3, 4)]
    for i, date in enumerate(weekdays):  # every hour 120 or 80 by turns: each day still 2,400, MAD 0
        h.hourly.loc[date] = [120.0 if (hour + i) % 2 else 80.0 for hour in range(24)]
    # each hour's median 100, deviations / sqrt(100) all 2: c = 2.9652; noise c x sqrt(2,400) = 145.27;
    # band 2,400 ± max(15 % = 360, 4 x 145.27 = 581.06)
    result = by_name(datachecks.run_checks(day(hourly=FLAT * 1.2), h))["volume_weekday"]
    assert (result.expected_low, result.expected_high) == pytest.approx((1818.94, 2981.06), abs=0.01)
    assert result.status == "pass"  # 2,880: out of 15 %, within the noise of a day this size


def test_unique_listeners_band_is_at_least_their_poisson_noise():
    dates = pd.date_range(end=pd.Timestamp(DAY) - pd.Timedelta(days=1), periods=28)
    weekdays = [d for d in dates if d.weekday() == DAY.weekday()]
    h = history(28, recorded={"unique_listeners": pd.Series(300.0, index=weekdays)})
    # band 300 ± max(15 % = 45, 4 x sqrt(300) = 69.28)
    result = by_name(datachecks.run_checks(day(listeners=369), h))["unique_listeners"]
    assert (result.expected_low, result.expected_high) == pytest.approx((230.72, 369.28), abs=0.01)
    assert result.status == "pass"
    assert by_name(datachecks.run_checks(day(listeners=370), h))["unique_listeners"].status == "warn"


def test_completeness_counts_hours_under_a_quarter_of_their_usual_listens():
    cut = FLAT.copy()
    cut[18:] = 0  # an export cut off at 18:00
    cut[3] = 24  # under a quarter of 100 as well
    cut[4] = 25  # exactly a quarter: not short
    result = by_name(datachecks.run_checks(day(hourly=cut), history(28)))["completeness"]
    assert result.observed == 7 and result.status == "fail"  # 03:00 and 18:00..23:00
    assert "03:00, 18:00, 19:00, 20:00, 21:00, 22:00, 23:00" in result.message
    assert list(result.history["low"]) == [25.0] * 24


def test_completeness_ignores_hours_that_are_usually_quiet():
    h = history(28)
    h.hourly[4] = 40.0  # under min_usual (50): too few listens to tell an empty hour from a quiet one
    quiet = FLAT.copy()
    quiet[4] = 0
    assert by_name(datachecks.run_checks(day(hourly=quiet), h))["completeness"].status == "pass"


def test_freshness_is_how_far_the_listens_reach():
    cut = FLAT.copy()
    cut[18:] = 0
    result = by_name(datachecks.run_checks(day(hourly=cut), history(10)))["freshness"]
    # the last hour with listens is 17:00, so they reach 18:00; the history reaches 24:00, less 1 h tolerance
    assert (result.observed, result.expected_low, result.status) == (18.0, 23.0, "warn")
    late = FLAT.copy()
    late[23] = 0  # reaches 23:00: within the hour's tolerance
    assert by_name(datachecks.run_checks(day(hourly=late), history(10)))["freshness"].status == "pass"


def test_hourly_listens_allows_two_hours_out_of_range():
    h = history(28)
    two = FLAT.copy()
    two[12], two[13] = 200, 79  # each hour's band: 100 ± 20 (no spread in the history: min_spread 20 %)
    assert by_name(datachecks.run_checks(day(hourly=two), h))["hourly_listens"].status == "pass"
    three = two.copy()
    three[14] = 121
    result = by_name(datachecks.run_checks(day(hourly=three), h))["hourly_listens"]
    assert (result.observed, result.expected_high, result.status) == (3, 2, "warn")
    assert "12:00, 13:00, 14:00" in result.message


def test_hourly_listens_spread_is_pooled_over_the_hours():
    h = history(28)
    weekdays = [pd.Timestamp(DAY) - pd.Timedelta(weeks=w) for w in (1, 2, 3, 4)]
    for date, value in zip(weekdays, (90.0, 95.0, 105.0, 110.0)):
        h.hourly.loc[date] = value
    # median 100; deviations / sqrt(100): -1, -0.5, 0.5, 1 in every hour; their median 0.75, x 1.4826 = 1.11195
    assert datachecks.count_spread(h.hourly.loc[weekdays]) == pytest.approx(0.75 * 1.4826)
    # each hour's band: 100 ± 5 x 1.11195 x sqrt(100) = 100 ± 55.5975 (wider than 20 %)
    result = by_name(datachecks.run_checks(day(hourly=FLAT), h))["hourly_listens"]
    assert list(result.history["high"]) == pytest.approx([155.5975] * 24)
    assert list(result.history["low"]) == pytest.approx([44.4025] * 24)
    odd = FLAT.copy()
    odd[[3, 9, 15]] = (155.0, 44.5, 156.0)  # only 15:00 is out
    assert by_name(datachecks.run_checks(day(hourly=odd), h))["hourly_listens"].observed == 1


def test_reject_share_against_its_recorded_history():
    dates = pd.date_range(end=pd.Timestamp(DAY) - pd.Timedelta(days=1), periods=10)
    recorded = {"rejects_unknown_track": pd.Series([0.001] * 5 + [0.002] * 5, index=dates)}
    h = history(10, recorded=recorded)
    # median 0.0015, MAD 0.0005 x 1.4826 x 4 = 0.0029652 < min_spread 0.005: at most 0.0065
    stale = day(rejects={"bad_stream": 0, "duplicate_stream": 0, "unknown_track": 480})  # 480 / 2,400 = 0.2
    result = by_name(datachecks.run_checks(stale, h))["rejects_unknown_track"]
    assert result.observed == pytest.approx(0.2) and result.expected_high == pytest.approx(0.0065)
    assert result.expected_low is None and result.status == "warn"
    usual = day(rejects={"bad_stream": 0, "duplicate_stream": 0, "unknown_track": 12})  # 0.005
    assert by_name(datachecks.run_checks(usual, h))["rejects_unknown_track"].status == "pass"
    # recorded nothing yet for the others: skipped
    assert by_name(datachecks.run_checks(usual, h))["rejects_bad_stream"].status == "skipped"


def test_recorded_history_counts_only_loaded_dates():
    dates = pd.date_range(end=pd.Timestamp(DAY) - pd.Timedelta(days=1), periods=10)
    recorded = {"unknown_users": pd.Series(0.0, index=dates)}
    h = history(6, recorded=recorded)  # 10 days recorded but only the last 6 loaded
    assert by_name(datachecks.run_checks(day(), h))["unknown_users"].message.endswith("6 recent days, 7 needed")


def test_genre_mix_distance_from_the_usual_mix():
    h = history(10)  # every day 75 % pop, 25 % rock
    shifted = day(genres=pd.Series({"pop": 1200.0, "rock": 600.0, "jazz": 600.0}))  # 50 / 25 / 25
    result = by_name(datachecks.run_checks(shifted, h))["genre_mix"]
    # |0.5 - 0.75| + 0 + |0.25 - 0| = 0.5, halved: 0.25; the history's distances are all 0: at most 0.03
    assert result.observed == pytest.approx(0.25) and result.expected_high == pytest.approx(0.03)
    assert result.status == "warn"
    assert by_name(datachecks.run_checks(day(), h))["genre_mix"].observed == pytest.approx(0.0)


def test_settings_override_defaults_and_name_mistakes():
    settings = datachecks.parse_settings({"volume_weekday": {"severity": "fail", "threshold": 6}})
    assert settings["volume_weekday"] == {"severity": "fail", "threshold": 6, "min_spread": 0.15, "min_history": 4}
    assert settings["completeness"] == datachecks.DEFAULTS["completeness"]
    with pytest.raises(ValueError) as raised:
        datachecks.parse_settings({"volume": {}, "freshness": {"severity": "loud", "tolerance": 2, "min_history": -1}})
    text = str(raised.value)
    assert "unknown check 'volume'" in text and "severity must be one of warn, fail, off, got 'loud'" in text
    assert "unknown setting 'tolerance'" in text and "min_history must be a number >= 0, got -1" in text


def test_a_check_turned_off_is_skipped_saying_so():
    results = by_name(
        datachecks.run_checks(day(), history(35), datachecks.parse_settings({"genre_mix": {"severity": "off"}}))
    )
    assert (results["genre_mix"].status, results["genre_mix"].message) == ("skipped", "turned off in the params file")


def test_a_normal_day_with_enough_history_raises_no_alarm():
    results = datachecks.run_checks(day(), history(35, recorded={}))
    assert not [r.check_name for r in results if r.flagged]
    assert [r.check_name for r in results] == list(datachecks.CHECKS)


def test_results_frame_has_the_table_columns():
    frame = datachecks.results_frame(datachecks.run_checks(day(), history(3)), DAY)
    assert list(frame.columns) == datachecks.TABLES["kpi_checks"].column_names
    assert set(frame["listen_date"]) == {DAY} and set(frame["status"]) == {"skipped"}


def test_the_summary_says_not_judged_when_every_check_was_skipped():
    from streamkpi import presentation

    skipped = datachecks.run_checks(day(), history(3))
    assert (
        "**Not judged**: every check was skipped (0 passed, 11 skipped)"
        in presentation.checks_summary(skipped, DAY).data
    )
    judged = datachecks.run_checks(day(), history(35))  # no recorded figures: their 5 checks skip
    assert (
        "**All clear**: no check flagged the day (6 passed, 5 skipped)."
        in presentation.checks_summary(judged, DAY).data
    )
