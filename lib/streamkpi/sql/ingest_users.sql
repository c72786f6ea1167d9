-- Ingest, the users: users_text(row_number, user_id, user_age), the text of users.csv, becomes
-- the table users, its staged file and the counts. One statement per section; ${integer_pattern},
-- ${age_pattern}, ${min_age} and ${max_age} are substituted.

-- name: users_checked
CREATE TEMP TABLE users_checked AS
SELECT row_number,
       CASE WHEN regexp_full_match(clean_text(user_id), '${integer_pattern}')
            THEN TRY_CAST(clean_text(user_id) AS BIGINT) END AS user_id,
       CASE WHEN regexp_full_match(clean_text(user_age), '${age_pattern}')
             AND TRY_CAST(clean_text(user_age) AS DOUBLE) BETWEEN ${min_age} AND ${max_age}
            THEN CAST(TRY_CAST(clean_text(user_age) AS DOUBLE) AS INTEGER) END AS user_age
FROM users_text

-- name: users
-- A user's first row is the user. Not TEMP: users are staged on a cursor of their own, beside the catalog.
CREATE TABLE users AS
SELECT user_id, user_age FROM users_checked WHERE user_id IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY row_number) = 1

-- name: users_file
SELECT * FROM users ORDER BY user_id

-- name: counts
-- Rows without a user id, rows with one, users, users of unknown age.
SELECT count(*) FILTER (WHERE user_id IS NULL), count(*) FILTER (WHERE user_id IS NOT NULL),
       (SELECT count(*) FROM users), (SELECT count(*) FROM users WHERE user_age IS NULL)
FROM users_checked
