-- Genre-level KPIs of one day (KPI spec section 4).
-- Portable SQL: plain SELECTs, window functions, binary-collation tie-breaks; it runs over the
-- relations valid_streams(user_id, track_key, listen_time) and tracks(track_key, track_id,
-- track_genre, duration_ms, artists) in DuckDB, PostgreSQL and Redshift alike. ${run_date} is
-- substituted.
WITH per_track AS (
    -- Streams counted per track on the integer key first; the catalog joins the few counts.
    SELECT t.track_id, t.track_genre, t.duration_ms, c.streams
    FROM (SELECT track_key, COUNT(*) AS streams FROM valid_streams GROUP BY track_key) c
    JOIN tracks t ON t.track_key = c.track_key
),
day_total AS (
    SELECT SUM(streams) AS streams FROM per_track
),
per_genre AS (
    -- Summing exact decimals keeps the average identical whatever the summation order.
    SELECT track_genre, SUM(streams) AS listen_count,
           SUM(CAST(duration_ms AS DECIMAL(38, 3)) * streams) AS total_duration_ms
    FROM per_track
    GROUP BY track_genre
),
ranked_tracks AS (
    SELECT track_genre, track_id,
           ROW_NUMBER() OVER (PARTITION BY track_genre ORDER BY streams DESC, track_id) AS track_rank
    FROM per_track
)
SELECT CAST('${run_date}' AS DATE) AS listen_date,
       g.track_genre,
       CAST(g.listen_count AS INTEGER) AS listen_count,
       CAST(g.listen_count AS DOUBLE PRECISION) / d.streams AS popularity_index,
       CAST(g.total_duration_ms AS DOUBLE PRECISION) / g.listen_count / 1000 AS average_duration,
       r.track_id AS most_popular_track_id
FROM per_genre g
CROSS JOIN day_total d
JOIN ranked_tracks r ON r.track_genre = g.track_genre AND r.track_rank = 1
ORDER BY g.track_genre
