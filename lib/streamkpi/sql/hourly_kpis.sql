-- Hourly KPIs of one day (KPI spec section 5).
-- Portable SQL over valid_streams(user_id, track_key, listen_time), tracks(track_key, track_genre, ...),
-- track_artists(track_key, artist) and users(user_id, user_age). ${run_date} and
-- ${session_gap_seconds} are substituted.
WITH hour_streams AS (
    SELECT user_id, listen_time, CAST(EXTRACT(HOUR FROM listen_time) AS INTEGER) AS listen_hour,
           EXTRACT(MINUTE FROM listen_time) < 30 AS in_first_half_hour
    FROM valid_streams
),
per_user_hour AS (
    -- Each user's streams and the sessions touching each hour. A session touches hour h iff it has a
    -- stream in h, and its streams in h are consecutive in the user's time order, so the sessions
    -- touching h are the user's first stream in h plus each gap of more than the session gap between
    -- two of the user's consecutive streams in h. Streams at the same instant have the same hour and
    -- only the first of them can open a session, so how the engine orders tied rows changes no count.
    -- A gap of 30 minutes or more fits at most once in an hour, and only from the last stream before
    -- minute 30 to the first from minute 30 on: an aggregate, no sort, counts it. A shorter gap can fit
    -- several times: the window, over each user's hour (the first stream of an hour has no previous),
    -- counts them. The constant condition leaves one of the two to run (half the time of the window's
    -- sort at 100M streams).
    SELECT listen_hour, user_id, COUNT(*) AS streams,
           CASE WHEN MIN(CASE WHEN NOT in_first_half_hour THEN listen_time END)
                     > MAX(CASE WHEN in_first_half_hour THEN listen_time END)
                       + INTERVAL '${session_gap_seconds} seconds'
                THEN 2 ELSE 1 END AS session_hours
    FROM hour_streams
    WHERE ${session_gap_seconds} >= 1800
    GROUP BY listen_hour, user_id
    UNION ALL
    SELECT listen_hour, user_id, COUNT(*) AS streams,
           SUM(CASE WHEN previous_time IS NULL
                      OR listen_time > previous_time + INTERVAL '${session_gap_seconds} seconds'
                    THEN 1 ELSE 0 END) AS session_hours
    FROM (SELECT user_id, listen_hour, listen_time,
                 LAG(listen_time) OVER (PARTITION BY user_id, listen_hour ORDER BY listen_time) AS previous_time
          FROM hour_streams
          WHERE ${session_gap_seconds} < 1800) ordered_streams
    GROUP BY listen_hour, user_id
),
per_hour AS (
    SELECT listen_hour, COUNT(*) AS unique_listeners, SUM(streams) AS listen_counts,
           SUM(session_hours) AS sessions
    FROM per_user_hour
    GROUP BY listen_hour
),
per_track_hour AS (
    -- Streams per (hour, track), aggregated on the integer key before the catalog joins.
    SELECT p.listen_hour, p.track_key, t.track_genre, p.streams
    FROM (SELECT CAST(EXTRACT(HOUR FROM listen_time) AS INTEGER) AS listen_hour, track_key, COUNT(*) AS streams
          FROM valid_streams
          GROUP BY CAST(EXTRACT(HOUR FROM listen_time) AS INTEGER), track_key) p
    JOIN tracks t ON t.track_key = p.track_key
),
genre_concentration AS (
    SELECT listen_hour, SUM(genre_streams * genre_streams) AS sum_squares
    FROM (SELECT listen_hour, track_genre, SUM(streams) AS genre_streams
          FROM per_track_hour
          GROUP BY listen_hour, track_genre) per_genre
    GROUP BY listen_hour
),
ranked_artists AS (
    SELECT p.listen_hour, a.artist,
           ROW_NUMBER() OVER (PARTITION BY p.listen_hour ORDER BY SUM(p.streams) DESC, a.artist) AS artist_rank
    FROM per_track_hour p
    JOIN track_artists a ON a.track_key = p.track_key
    GROUP BY p.listen_hour, a.artist
),
age_groups AS (
    SELECT h.listen_hour, h.streams,
           CASE WHEN u.user_age < 18 THEN 0 WHEN u.user_age < 25 THEN 1 WHEN u.user_age < 35 THEN 2
                WHEN u.user_age < 45 THEN 3 WHEN u.user_age < 55 THEN 4 WHEN u.user_age < 65 THEN 5
                ELSE 6 END AS age_group_order
    FROM per_user_hour h
    JOIN users u ON u.user_id = h.user_id
    WHERE u.user_age IS NOT NULL
),
ranked_age_groups AS (
    SELECT listen_hour, age_group_order,
           ROW_NUMBER() OVER (PARTITION BY listen_hour ORDER BY SUM(streams) DESC, age_group_order) AS age_rank
    FROM age_groups
    GROUP BY listen_hour, age_group_order
)
SELECT CAST('${run_date}' AS DATE) AS listen_date,
       p.listen_hour,
       CAST(p.unique_listeners AS INTEGER) AS unique_listeners,
       CAST(p.listen_counts AS INTEGER) AS listen_counts,
       a.artist AS top_artist,
       CAST(p.sessions AS DOUBLE PRECISION) / p.unique_listeners AS avg_sessions_per_user,
       1 - CAST(c.sum_squares AS DOUBLE PRECISION) / (CAST(p.listen_counts AS DOUBLE PRECISION) * p.listen_counts)
           AS diversity_index,
       CASE g.age_group_order WHEN 0 THEN '<18' WHEN 1 THEN '18-24' WHEN 2 THEN '25-34' WHEN 3 THEN '35-44'
                              WHEN 4 THEN '45-54' WHEN 5 THEN '55-64' WHEN 6 THEN '65+' END
           AS most_engaged_age_group
FROM per_hour p
JOIN genre_concentration c ON c.listen_hour = p.listen_hour
LEFT JOIN ranked_artists a ON a.listen_hour = p.listen_hour AND a.artist_rank = 1
LEFT JOIN ranked_age_groups g ON g.listen_hour = p.listen_hour AND g.age_rank = 1
ORDER BY p.listen_hour
