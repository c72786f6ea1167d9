-- Ingest: every text field is compared without surrounding whitespace (spaces, tabs, line breaks:
-- ingest.WHITESPACE, substituted below). Most fields have none: they skip the trim.
CREATE MACRO clean_text(s) AS
    CASE WHEN s = '' OR (ascii(s) > 32 AND ascii(s[-1]) > 32) THEN s
         ELSE trim(s, '${whitespace}') END
