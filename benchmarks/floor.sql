-- The floor: both KPI tables of one day straight from the CSVs, in one DuckDB script.
--
-- A second, independent implementation of KPI_SPEC.md and of the decisions in docs/KPIS.md,
-- written for the benchmark (it shares no SQL with lib/streamkpi). No rejects file, no
-- counts, no notebooks, no reports: the least work that yields the two tables. Run it with
-- `python benchmarks/floor.py --input ROOT --date D --db OUT.duckdb`, which substitutes
-- ${input_root}, ${run_date}, ${next_date} and ${gap_seconds} and leaves the tables
-- main.genre_level_kpis and main.hourly_kpis in OUT.duckdb.
--
-- Shortcuts that are exact: only the set of valid streams matters for the KPIs, so a
-- stream's rejection reason is never computed (a row is valid when every rule passes) and
-- which copy of a duplicated stream is kept does not matter (copies are equal after parsing);
-- the genre and artist figures are sums over per-(hour, track) counts instead of over single
-- streams.

SET TimeZone = 'UTC';

-- Whitespace around any field is ignored: spaces, tabs, line breaks (\t \n \v \f \r and space).
-- trim() with a character list is slow in DuckDB, so fields that neither start nor end with a
-- character <= ' ' (nearly all of them) skip it.
CREATE TEMP MACRO ws_trim(s) AS
    CASE WHEN ascii(s) > 32 AND ascii(s[-1:]) > 32 THEN s
         ELSE trim(coalesce(s, ''), chr(32) || chr(9) || chr(10) || chr(13) || chr(11) || chr(12)) END;

-- Catalog. Insertion order is file order (DuckDB preserves it), so rowid numbers the rows.
CREATE TEMP TABLE song_rows AS
SELECT ws_trim(track_id) AS track_id, ws_trim(track_genre) AS genre,
       try_cast(ws_trim(duration_ms) AS DOUBLE) AS duration_ms, coalesce(artists, '') AS artists
FROM read_csv('${input_root}/songs.csv', header = true, all_varchar = true, delim = ',',
              quote = '"', escape = '"', ignore_errors = true);

-- Good rows only (track id, genre, a duration of 0.001 ms .. 1e20 ms); the first one of a
-- track is the track.
CREATE TEMP TABLE tracks AS
SELECT track_id, CAST(row_number() OVER (ORDER BY track_id) AS INTEGER) AS track_no,
       min_by(genre, rowid) AS genre,
       min_by(duration_ms, rowid) AS duration_ms,
       min_by(artists, rowid) AS artists
FROM song_rows
WHERE track_id <> '' AND genre <> '' AND duration_ms >= 0.001 AND duration_ms <= 1e20
GROUP BY track_id;

-- Each credited artist once per track: split on ';', trimmed, empty names dropped.
CREATE TEMP TABLE credits AS
SELECT DISTINCT track_no, ws_trim(name) AS artist
FROM (SELECT track_no, unnest(string_split(artists, ';')) AS name FROM tracks)
WHERE ws_trim(name) <> '';

-- Users: whole-number ids; the first row of an id decides the age; an age is known when it is
-- a whole number (30 or 30.0) within 13..120.
CREATE TEMP TABLE user_rows AS
SELECT ws_trim(user_id) AS user_id, ws_trim(user_age) AS user_age
FROM read_csv('${input_root}/users.csv', header = true, all_varchar = true, delim = ',',
              quote = '"', escape = '"', ignore_errors = true);

CREATE TEMP TABLE ages AS
SELECT user_id, CASE WHEN regexp_full_match(age, '[0-9]+(\.0+)?')
                      AND try_cast(age AS DOUBLE) BETWEEN 13 AND 120
                     THEN CAST(try_cast(age AS DOUBLE) AS INTEGER) END AS age
FROM (SELECT try_cast(user_id AS BIGINT) AS user_id, min_by(user_age, rowid) AS age
      FROM user_rows
      WHERE regexp_full_match(user_id, '[+-]?[0-9]+') AND try_cast(user_id AS BIGINT) IS NOT NULL
      GROUP BY 1);

-- Streams of the day that pass the row rules: a parseable listen_time (space or T, optional
-- fraction, optional offset Z / +HH / +HHMM / +HH:MM, converted to UTC) on the run date, a
-- whole-number user id, a non-empty track id in the cleaned catalog. The common form
-- `YYYY-MM-DD HH:MM:SS` takes a cheaper path (no time zone arithmetic).
--
-- Then one window pass per user in time order does two things: it drops exact copies (after
-- parsing, a copy sorts right after its original: same user, instant and track) and it marks
-- the streams that start a (session, hour) pair: the user's first stream, one more than the
-- session gap after the previous stream, or the first of a new hour within a session. A copy
-- never starts a pair (no gap, same hour), so dropping copies changes no other row's mark.
CREATE TEMP TABLE valid AS
WITH parsed AS (
    SELECT CASE WHEN regexp_full_match(lt, '[0-9]{4}-[0-9]{2}-[0-9]{2} ([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9]')
                THEN try_cast(lt AS TIMESTAMP)
                WHEN regexp_full_match(ws_trim(lt), '[0-9]{4}-[0-9]{2}-[0-9]{2}[ T]([01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](\.[0-9]+)?(Z|[+-]([01][0-9]|2[0-3])(:?[0-5][0-9])?)?')
                THEN timezone('UTC', try_cast(ws_trim(lt) AS TIMESTAMPTZ)) END AS ts,
           CASE WHEN regexp_full_match(u, '[ \t\n\r\v\f]*[+-]?[0-9]+[ \t\n\r\v\f]*')
                THEN try_cast(ws_trim(u) AS BIGINT) END AS user_id,
           ws_trim(t) AS track_id
    FROM (SELECT listen_time AS lt, user_id AS u, track_id AS t
          FROM read_csv('${input_root}/streams/**/*.csv', header = true, all_varchar = true,
                        union_by_name = true, delim = ',', quote = '"', escape = '"',
                        ignore_errors = true))
), kept AS (
    SELECT p.user_id, t.track_no, p.ts, hour(p.ts) AS listen_hour
    FROM parsed p JOIN tracks t ON t.track_id = p.track_id
    WHERE p.ts >= TIMESTAMP '${run_date}' AND p.ts < TIMESTAMP '${next_date}'
      AND p.user_id IS NOT NULL AND p.track_id <> ''
), ordered AS (
    SELECT user_id, track_no, ts, listen_hour,
           lag(ts) OVER w AS prev_ts, lag(track_no) OVER w AS prev_track
    FROM kept
    WINDOW w AS (PARTITION BY user_id ORDER BY ts, track_no)
)
SELECT user_id, track_no, ts, listen_hour,
       prev_ts IS NULL OR ts - prev_ts > INTERVAL (${gap_seconds}) SECOND
       OR hour(prev_ts) <> listen_hour AS starts_pair
FROM ordered
WHERE prev_ts IS NULL OR prev_ts <> ts OR prev_track <> track_no;

CREATE TEMP TABLE hour_track AS
SELECT listen_hour, track_no, count(*) AS n FROM valid GROUP BY ALL;

-- Genre-level KPIs.
CREATE OR REPLACE TABLE genre_level_kpis AS
WITH per_track AS (
    SELECT t.track_id, t.genre, t.duration_ms, sum(h.n) AS n
    FROM hour_track h JOIN tracks t USING (track_no)
    GROUP BY ALL
), per_genre AS (
    SELECT genre, sum(n) AS n, sum(n * duration_ms) AS total_ms,
           -- most streams first, then the smallest id (binary order)
           arg_min(track_id, (-n, track_id)) AS top_track
    FROM per_track GROUP BY genre
)
SELECT DATE '${run_date}' AS listen_date, genre AS track_genre, CAST(n AS BIGINT) AS listen_count,
       n / (SELECT sum(n) FROM per_genre) AS popularity_index,
       total_ms / n / 1000.0 AS average_duration,
       top_track AS most_popular_track_id
FROM per_genre
ORDER BY track_genre;

-- Hourly KPIs.
CREATE OR REPLACE TABLE hourly_kpis AS
WITH per_hour AS (
    -- sessions touching the hour = (session, hour) pairs starting in it
    SELECT listen_hour, count(*) AS streams, count(DISTINCT user_id) AS listeners,
           count(*) FILTER (WHERE starts_pair) AS sessions
    FROM valid GROUP BY listen_hour
), diversity AS (
    SELECT listen_hour, 1 - sum((n / total) ^ 2) AS simpson
    FROM (SELECT listen_hour, n, sum(n) OVER (PARTITION BY listen_hour) AS total
          FROM (SELECT h.listen_hour, t.genre, sum(h.n) AS n
                FROM hour_track h JOIN tracks t USING (track_no) GROUP BY h.listen_hour, t.genre))
    GROUP BY listen_hour
), artists AS (
    SELECT listen_hour, arg_min(artist, (-n, artist)) AS top_artist
    FROM (SELECT h.listen_hour, c.artist, sum(h.n) AS n
          FROM hour_track h JOIN credits c USING (track_no) GROUP BY ALL)
    GROUP BY listen_hour
), age_groups AS (
    -- youngest group first on a tie
    SELECT listen_hour, arg_min(grp, (-n, grp)) AS grp
    FROM (SELECT v.listen_hour,
                 CASE WHEN a.age <= 17 THEN 1 WHEN a.age <= 24 THEN 2 WHEN a.age <= 34 THEN 3
                      WHEN a.age <= 44 THEN 4 WHEN a.age <= 54 THEN 5 WHEN a.age <= 64 THEN 6
                      ELSE 7 END AS grp,
                 count(*) AS n
          FROM valid v JOIN ages a USING (user_id)
          WHERE a.age IS NOT NULL
          GROUP BY ALL)
    GROUP BY listen_hour
)
SELECT DATE '${run_date}' AS listen_date, p.listen_hour, p.listeners AS unique_listeners,
       p.streams AS listen_counts, a.top_artist,
       p.sessions / p.listeners AS avg_sessions_per_user,
       d.simpson AS diversity_index,
       ['<18', '18-24', '25-34', '35-44', '45-54', '55-64', '65+'][g.grp] AS most_engaged_age_group
FROM per_hour p
JOIN diversity d USING (listen_hour)
LEFT JOIN artists a USING (listen_hour)
LEFT JOIN age_groups g USING (listen_hour)
ORDER BY p.listen_hour;
