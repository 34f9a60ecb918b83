-- SQLite's functions that the store's SQL calls, as PostgreSQL functions of the same name
-- and meaning (src/db/sql/dialect.rs lists every dialect difference). JSON columns are
-- TEXT, as on SQLite; paths are SQLite's '$.a.b' form. Re-created at every start.

CREATE OR REPLACE FUNCTION ifnull(anyelement, anyelement) RETURNS anyelement
    LANGUAGE sql IMMUTABLE AS 'SELECT COALESCE($1, $2)';

CREATE OR REPLACE FUNCTION instr(text, text) RETURNS bigint
    LANGUAGE sql IMMUTABLE AS 'SELECT strpos($1, $2)::bigint';

-- Only strftime('%s', 'now') (Unix seconds) is used; anything else is NULL.
CREATE OR REPLACE FUNCTION strftime(text, text) RETURNS text
    LANGUAGE sql STABLE AS
    $$ SELECT CASE WHEN $1 = '%s' AND $2 = 'now'
                   THEN floor(extract(epoch FROM statement_timestamp()))::bigint::text END $$;

CREATE OR REPLACE FUNCTION json_path_(text) RETURNS text[]
    LANGUAGE sql IMMUTABLE AS
    $$ SELECT CASE WHEN $1 = '$' THEN '{}'::text[] ELSE string_to_array(substr($1, 3), '.') END $$;

CREATE OR REPLACE FUNCTION json_extract(text, text) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT ($1::jsonb) #>> json_path_($2) $$;

-- SQLite's names: null, true, false, integer, real, text, array, object.
CREATE OR REPLACE FUNCTION json_type(text, text) RETURNS text
    LANGUAGE sql IMMUTABLE AS
    $$ SELECT CASE jsonb_typeof(v)
                WHEN 'boolean' THEN v #>> '{}'
                WHEN 'number' THEN CASE WHEN (v #>> '{}') ~ '^-?[0-9]+$' THEN 'integer' ELSE 'real' END
                WHEN 'string' THEN 'text'
                ELSE jsonb_typeof(v) END
       FROM (SELECT ($1::jsonb) #> json_path_($2) AS v) AS j $$;

-- The elements of a JSON array, as `SELECT value FROM json_each(?)` reads them.
CREATE OR REPLACE FUNCTION json_each(text) RETURNS TABLE (value text)
    LANGUAGE sql IMMUTABLE AS $$ SELECT jsonb_array_elements_text($1::jsonb) $$;

CREATE OR REPLACE FUNCTION json_group_array_final_(text[]) RETURNS text
    LANGUAGE sql IMMUTABLE AS $$ SELECT array_to_json($1)::text $$;

CREATE OR REPLACE AGGREGATE json_group_array(text) (
    SFUNC = array_append, STYPE = text[], INITCOND = '{}', FINALFUNC = json_group_array_final_
);

CREATE OR REPLACE FUNCTION group_concat_step_(text, text, text) RETURNS text
    LANGUAGE sql IMMUTABLE AS
    $$ SELECT CASE WHEN $2 IS NULL THEN $1 WHEN $1 IS NULL THEN $2 ELSE $1 || $3 || $2 END $$;

CREATE OR REPLACE AGGREGATE group_concat(text, text) (
    SFUNC = group_concat_step_, STYPE = text
);
