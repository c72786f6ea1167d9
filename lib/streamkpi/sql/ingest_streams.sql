-- Ingest, the streams: streams_reader(file_no, row_number, user_id, track_id, listen_time), the
-- text of the stream files, becomes the parsed rows (the view parsed), the staged valid streams,
-- the rejected rows and the counts. A row's place in file order is id = file_no * ${row_id_factor}
-- + row_number (row_number counts a file's data rows, malformed ones included).
-- One statement per section; ${day_start}, ${day_end} (the run date and the next), the rules'
-- ${listen_time_pattern} and ${integer_pattern}, ${row_id_factor}, ${buckets}, ${bucket} and
-- ${parsed_rows} (the relation that holds parsed_rows' rows) are substituted.

-- name: parsed_rows
-- One pass over the CSV rows parses and classifies them into narrow rows. Most fields take a
-- fast path that is exact by construction: the value cast back to text must give the raw text
-- back (a canonical integer; a plain "YYYY-MM-DD HH:MM:SS" of the run date; a track_id without
-- edge whitespace), so such a field's raw text need not be kept. Any other field goes through
-- the full rules and keeps its raw text (NULL otherwise) for the rejects file; other-date rows
-- keep none. bucket splits the rows by user for duplicate detection. The text fields, NULL on
-- all but a few rows, travel as one JSON object, NULL on the others: each NULL column costs
-- the Parquet writer about as much as a filled one (a 100M-stream day spills these rows).
WITH raw AS (
    SELECT file_no, row_number, user_id AS raw_user_id, track_id AS raw_track_id,
           listen_time AS raw_listen_time,
           TRY_CAST(listen_time AS TIMESTAMP) AS fast_listen_time,
           TRY_CAST(user_id AS BIGINT) AS fast_user_id
    FROM streams_reader
),
checked AS (
    SELECT *,
           coalesce(length(raw_listen_time) = 19
                    AND fast_listen_time >= TIMESTAMP '${day_start}' AND fast_listen_time < TIMESTAMP '${day_end}'
                    AND CAST(fast_listen_time AS VARCHAR) = raw_listen_time, false) AS listen_time_ok,
           coalesce(CAST(fast_user_id AS VARCHAR) = raw_user_id, false) AS user_id_ok,
           raw_track_id <> '' AND ascii(raw_track_id) > 32 AND ascii(raw_track_id[-1]) > 32 AS track_id_ok
    FROM raw
),
typed AS (
    SELECT file_no, row_number, listen_time_ok, user_id_ok, track_id_ok,
           raw_user_id, raw_track_id, raw_listen_time,
           CASE WHEN listen_time_ok THEN fast_listen_time
                WHEN regexp_full_match(clean_text(raw_listen_time), '${listen_time_pattern}')
                THEN timezone('UTC', TRY_CAST(clean_text(raw_listen_time) AS TIMESTAMPTZ)) END AS listen_time,
           CASE WHEN user_id_ok THEN fast_user_id
                WHEN regexp_full_match(clean_text(raw_user_id), '${integer_pattern}')
                THEN TRY_CAST(clean_text(raw_user_id) AS BIGINT) END AS user_id,
           CASE WHEN track_id_ok THEN raw_track_id ELSE nullif(clean_text(raw_track_id), '') END AS track_id
    FROM checked
),
classified AS (
    SELECT *,
           CASE WHEN listen_time IS NULL THEN 'bad_stream'
                WHEN listen_time < TIMESTAMP '${day_start}' OR listen_time >= TIMESTAMP '${day_end}'
                     THEN 'other_date'
                WHEN user_id IS NULL OR track_id IS NULL THEN 'bad_stream'
           END AS reason
    FROM typed
)
SELECT CAST(file_no AS BIGINT) * ${row_id_factor} + row_number AS id, user_id, listen_time, t.track_key,
       CAST(hash(user_id) % ${buckets} AS INTEGER) AS bucket,
       CASE WHEN reason IS NOT NULL OR t.track_key IS NULL OR NOT (user_id_ok AND track_id_ok AND listen_time_ok) THEN
           to_json({
               reason: reason,
               rule: CASE WHEN reason = 'bad_stream' THEN
                         CASE WHEN listen_time IS NULL THEN 'unparseable listen_time'
                              WHEN user_id IS NULL THEN 'empty or non-integer user_id'
                              WHEN c.track_id IS NULL THEN 'empty track_id' END END,
               -- the cleaned text id only where no track has it (an unknown track, a bad row's)
               track_id: CASE WHEN t.track_key IS NULL AND reason IS DISTINCT FROM 'other_date' THEN c.track_id END,
               raw_user_id: CASE WHEN NOT user_id_ok AND reason IS DISTINCT FROM 'other_date' THEN raw_user_id END,
               raw_track_id: CASE WHEN NOT track_id_ok AND reason IS DISTINCT FROM 'other_date' THEN raw_track_id END,
               raw_listen_time:
                   CASE WHEN NOT listen_time_ok AND reason IS DISTINCT FROM 'other_date' THEN raw_listen_time END
           })
       END AS text_fields
FROM classified c LEFT JOIN tracks t ON t.track_id = c.track_id

-- name: parsed
-- The parsed rows with their text fields as columns (NULL where the row has no such field).
SELECT id, text_fields->>'reason' AS reason, text_fields->>'rule' AS rule, user_id, listen_time, track_key,
       text_fields->>'track_id' AS track_id, text_fields->>'raw_user_id' AS raw_user_id,
       text_fields->>'raw_track_id' AS raw_track_id, text_fields->>'raw_listen_time' AS raw_listen_time, bucket
FROM ${parsed_rows}

-- name: duplicate_ids
CREATE TEMP TABLE duplicate_ids (id BIGINT)

-- name: duplicates_of_bucket
-- Exact duplicates without sorting every row: the 64-bit hashes of the keys (user, instant, track),
-- sorted, show the few hashes seen more than once next to each other (a sort of one integer
-- column: 40 % faster than a hash aggregate over as many distinct hashes); only the rows of those
-- are then numbered in file order on their exact keys, and every copy after the first is rejected.
-- A candidate row's track is its key, or its text id when it has no key (an unknown track).
-- Copies share their user, hence their bucket: one bucket at a time keeps the sort in memory.
INSERT INTO duplicate_ids
SELECT id
FROM (SELECT id, row_number() OVER (PARTITION BY user_id, listen_time, track_key, track_id ORDER BY id)
                 AS copy_no
      FROM parsed
      WHERE bucket = ${bucket} AND reason IS NULL
        AND hash(user_id, listen_time, track_key, track_id) IN (
            SELECT key_hash
            FROM (SELECT key_hash, lead(key_hash) OVER (ORDER BY key_hash) AS next_hash
                  FROM (SELECT hash(user_id, listen_time, track_key, track_id) AS key_hash FROM parsed
                        WHERE bucket = ${bucket} AND reason IS NULL) key_hashes) sorted_hashes
            WHERE key_hash = next_hash)) copies
WHERE copy_no > 1

-- name: valid_streams_file
SELECT user_id, track_key, listen_time FROM parsed
WHERE reason IS NULL AND track_key IS NOT NULL AND id NOT IN (SELECT id FROM duplicate_ids)

-- name: rejects
-- The raw text of a rejected row: as kept in parsed, else the parsed value's text (equal to it);
-- a track known by its key gets its id back from the catalog. The malformed CSV rows
-- (streams_malformed) come with their file and row; stream_files(file_no, source_file) names the
-- files, and stream_lines(file_no, row_number, line) gives the line each row starts on: from an
-- anchor row on, one line per row.
WITH rejected AS (
    SELECT id, reason, rule, user_id, track_key, track_id, listen_time, raw_user_id, raw_track_id,
           raw_listen_time
    FROM parsed WHERE reason = 'bad_stream'
    UNION ALL
    SELECT id, 'duplicate_stream', 'exact duplicate of an earlier row',
           user_id, track_key, track_id, listen_time, raw_user_id, raw_track_id, raw_listen_time
    FROM parsed WHERE reason IS NULL AND id IN (SELECT id FROM duplicate_ids)
    UNION ALL
    SELECT id, 'unknown_track', 'track_id not in the cleaned catalog',
           user_id, track_key, track_id, listen_time, raw_user_id, raw_track_id, raw_listen_time
    FROM parsed WHERE reason IS NULL AND track_key IS NULL AND id NOT IN (SELECT id FROM duplicate_ids)
)
SELECT f.source_file, l.line + r.row_number - l.row_number AS line, r.user_id, r.track_id, r.listen_time,
       r.reason, r.rule
FROM (
    SELECT id // ${row_id_factor} AS file_no, id % ${row_id_factor} AS row_number,
           coalesce(raw_user_id, CAST(user_id AS VARCHAR)) AS user_id,
           coalesce(raw_track_id, rejected.track_id, t.track_id) AS track_id,
           coalesce(raw_listen_time, CAST(listen_time AS VARCHAR)) AS listen_time,
           reason, rule
    FROM rejected LEFT JOIN tracks t ON t.track_key = rejected.track_key
    UNION ALL
    SELECT file_no, row_number, NULL, NULL, NULL, 'bad_stream', rule FROM streams_malformed
) r
ASOF JOIN stream_lines l ON l.file_no = r.file_no AND r.row_number >= l.row_number
JOIN stream_files f ON f.file_no = r.file_no
ORDER BY r.reason, r.file_no, r.row_number, r.rule

-- name: counts
-- Rows read, of other dates, bad, duplicates, of unknown tracks, valid, valid of unknown users,
-- and the valid streams' distinct users: per reason, then the kept streams (candidates less later
-- copies) and their unknown users. A later copy's user is its kept first copy's, so the distinct
-- users of the candidates of known tracks are the valid streams' (counted here, in a pass ingest
-- makes anyway, for the checks' unique_listeners).
WITH duplicates AS (
    SELECT p.track_key IS NOT NULL AS known_track, p.user_id NOT IN (SELECT user_id FROM users) AS unknown_user
    FROM parsed p WHERE p.id IN (SELECT id FROM duplicate_ids)
)
SELECT count(*),
       count(*) FILTER (WHERE reason = 'other_date'),
       count(*) FILTER (WHERE reason = 'bad_stream'),
       (SELECT count(*) FROM duplicates),
       count(*) FILTER (WHERE reason IS NULL AND track_key IS NULL)
           - (SELECT count(*) FROM duplicates WHERE NOT known_track),
       count(*) FILTER (WHERE reason IS NULL AND track_key IS NOT NULL)
           - (SELECT count(*) FROM duplicates WHERE known_track),
       count(*) FILTER (WHERE reason IS NULL AND track_key IS NOT NULL
                        AND user_id NOT IN (SELECT user_id FROM users))
           - (SELECT count(*) FROM duplicates WHERE known_track AND unknown_user),
       count(DISTINCT user_id) FILTER (WHERE reason IS NULL AND track_key IS NOT NULL)
FROM parsed
