-- Ingest, the catalog: songs_text(row_number, track_id, artists, track_genre, duration_ms), the
-- text of songs.csv, becomes the tables tracks and track_artists, their staged files, the rejected
-- rows and the counts. One statement per section; ${min_duration_ms}, ${max_duration_ms},
-- ${max_text_bytes} and ${source_file} (a quoted literal) are substituted.

-- name: songs_checked
-- Every row with its cleaned fields and the first rule it breaks (NULL: none).
CREATE TEMP TABLE songs_checked AS
SELECT row_number, clean_text(track_id) AS track_id, clean_text(track_genre) AS track_genre,
       duration_ms AS duration_text, TRY_CAST(clean_text(duration_ms) AS DOUBLE) AS duration_ms,
       artists,
       CASE WHEN clean_text(track_id) = '' THEN 'empty track_id'
            WHEN clean_text(track_genre) = '' THEN 'empty track_genre'
            WHEN NOT coalesce(TRY_CAST(clean_text(duration_ms) AS DOUBLE)
                              BETWEEN ${min_duration_ms} AND ${max_duration_ms}, false)
                 THEN 'duration_ms is not a positive number of milliseconds'
            WHEN greatest(strlen(track_id), strlen(track_genre), strlen(artists)) > ${max_text_bytes}
                 THEN 'a text field longer than ${max_text_bytes} bytes (the most a warehouse column holds)'
       END AS rule
FROM songs_text

-- name: first_rows
-- A track's first valid row is the track.
CREATE TEMP TABLE first_rows AS
SELECT track_id, track_genre, CAST(duration_ms AS DECIMAL(38, 3)) AS duration_ms, artists FROM songs_checked
WHERE rule IS NULL
QUALIFY row_number() OVER (PARTITION BY track_id ORDER BY row_number) = 1

-- name: tracks
-- track_key numbers the tracks in track_id (byte) order: streams carry it instead of the text id,
-- which makes them a third of the size and every join and count on tracks an integer one.
CREATE TEMP TABLE tracks AS
SELECT CAST(row_number() OVER (ORDER BY track_id) AS INTEGER) AS track_key, *
FROM first_rows

-- name: drop_first_rows
DROP TABLE first_rows

-- name: track_artists
CREATE TEMP TABLE track_artists AS
SELECT DISTINCT track_key, clean_text(artist) AS artist
FROM (SELECT track_key, unnest(string_split(artists, ';')) AS artist FROM tracks)
WHERE clean_text(artist) <> ''

-- name: tracks_file
SELECT * FROM tracks ORDER BY track_key

-- name: track_artists_file
SELECT * FROM track_artists ORDER BY track_key, artist

-- name: rejects
-- The rejected rows, raw as read, and the malformed CSV rows (songs_malformed) of the file, in file
-- order, each with the line it starts on (songs_lines: from an anchor row on, one line per row).
SELECT ${source_file} AS source_file, l.line + r.row_number - l.row_number AS line, track_id, track_genre,
       duration_ms, 'bad_song' AS reason, rule
FROM (SELECT row_number, track_id, track_genre, duration_text AS duration_ms, rule
      FROM songs_checked WHERE rule IS NOT NULL
      UNION ALL
      SELECT row_number, NULL, NULL, NULL, rule FROM songs_malformed) r
ASOF JOIN songs_lines l ON r.row_number >= l.row_number
ORDER BY r.row_number, rule

-- name: counts
-- Rows rejected, rows kept, tracks.
SELECT count(*) FILTER (WHERE rule IS NOT NULL), count(*) FILTER (WHERE rule IS NULL),
       (SELECT count(*) FROM tracks) FROM songs_checked
