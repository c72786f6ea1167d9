-- Hourly KPIs of one day (KPI spec section 5).
-- Portable SQL over valid_streams(user_id, track_id, listen_time), tracks(track_id, track_genre, ...),
-- track_artists(track_id, artist) and users(user_id, user_age). ${run_date} and
-- ${session_gap_seconds} are substituted.
WITH hour_streams AS (
    SELECT s.user_id, s.track_id, s.listen_time,
           CAST(EXTRACT(HOUR FROM s.listen_time) AS INTEGER) AS listen_hour,
           t.track_genre, u.user_age
    FROM valid_streams s
    JOIN tracks t ON t.track_id = s.track_id
    LEFT JOIN users u ON u.user_id = s.user_id
),
session_starts AS (
    -- A stream opens a session when it is the user's first of the day or comes more than the gap after
    -- the previous one. Both windows order by (listen_time, track_id), a total order per user, so
    -- streams at the same instant are numbered the same way in both.
    SELECT user_id, listen_time, track_id, listen_hour,
           CASE WHEN LAG(listen_time) OVER (PARTITION BY user_id ORDER BY listen_time, track_id) IS NULL
                  OR listen_time > LAG(listen_time) OVER (PARTITION BY user_id ORDER BY listen_time, track_id)
                                   + INTERVAL '${session_gap_seconds} seconds'
                THEN 1 ELSE 0 END AS opens_session
    FROM hour_streams
),
sessions AS (
    SELECT user_id, listen_hour,
           SUM(opens_session) OVER (PARTITION BY user_id ORDER BY listen_time, track_id
                                    ROWS UNBOUNDED PRECEDING) AS session_no
    FROM session_starts
),
sessions_per_hour AS (
    SELECT listen_hour, COUNT(*) AS sessions
    FROM (SELECT DISTINCT listen_hour, user_id, session_no FROM sessions) touching
    GROUP BY listen_hour
),
per_hour AS (
    SELECT listen_hour, COUNT(DISTINCT user_id) AS unique_listeners, COUNT(*) AS listen_counts
    FROM hour_streams
    GROUP BY listen_hour
),
genre_concentration AS (
    SELECT listen_hour, SUM(genre_streams * genre_streams) AS sum_squares
    FROM (SELECT listen_hour, track_genre, COUNT(*) AS genre_streams
          FROM hour_streams GROUP BY listen_hour, track_genre) per_genre
    GROUP BY listen_hour
),
ranked_artists AS (
    SELECT h.listen_hour, a.artist,
           ROW_NUMBER() OVER (PARTITION BY h.listen_hour ORDER BY COUNT(*) DESC, a.artist) AS artist_rank
    FROM hour_streams h
    JOIN track_artists a ON a.track_id = h.track_id
    GROUP BY h.listen_hour, a.artist
),
age_groups AS (
    SELECT listen_hour,
           CASE WHEN user_age < 18 THEN 0 WHEN user_age < 25 THEN 1 WHEN user_age < 35 THEN 2
                WHEN user_age < 45 THEN 3 WHEN user_age < 55 THEN 4 WHEN user_age < 65 THEN 5
                ELSE 6 END AS age_group_order
    FROM hour_streams
    WHERE user_age IS NOT NULL
),
ranked_age_groups AS (
    SELECT listen_hour, age_group_order,
           ROW_NUMBER() OVER (PARTITION BY listen_hour ORDER BY COUNT(*) DESC, age_group_order) AS age_rank
    FROM age_groups
    GROUP BY listen_hour, age_group_order
)
SELECT CAST('${run_date}' AS DATE) AS listen_date,
       p.listen_hour,
       CAST(p.unique_listeners AS INTEGER) AS unique_listeners,
       CAST(p.listen_counts AS INTEGER) AS listen_counts,
       a.artist AS top_artist,
       CAST(s.sessions AS DOUBLE PRECISION) / p.unique_listeners AS avg_sessions_per_user,
       1 - CAST(c.sum_squares AS DOUBLE PRECISION) / (CAST(p.listen_counts AS DOUBLE PRECISION) * p.listen_counts)
           AS diversity_index,
       CASE g.age_group_order WHEN 0 THEN '<18' WHEN 1 THEN '18-24' WHEN 2 THEN '25-34' WHEN 3 THEN '35-44'
                              WHEN 4 THEN '45-54' WHEN 5 THEN '55-64' WHEN 6 THEN '65+' END
           AS most_engaged_age_group
FROM per_hour p
JOIN sessions_per_hour s ON s.listen_hour = p.listen_hour
JOIN genre_concentration c ON c.listen_hour = p.listen_hour
LEFT JOIN ranked_artists a ON a.listen_hour = p.listen_hour AND a.artist_rank = 1
LEFT JOIN ranked_age_groups g ON g.listen_hour = p.listen_hour AND g.age_rank = 1
ORDER BY p.listen_hour
