//! Every difference between the SQLite SQL the store's modules write and what PostgreSQL
//! runs, in one place.
//!
//! Statements (`translate`), outside string literals and quoted names:
//! - `?N` → `$N`; a bare `?` → the next `$N`;
//! - `x IS ?N` / `x IS NOT ?N` → `x IS NOT DISTINCT FROM $N` / `x IS DISTINCT FROM $N`;
//! - `LIKE` → `ILIKE` (SQLite's LIKE ignores ASCII case).
//!
//! SQLite functions the modules call (`json_extract`, `json_type`, `json_each`,
//! `json_group_array`, `group_concat`, `instr`, `strftime('%s', 'now')`, `ifnull`) exist on
//! PostgreSQL as SQL functions of the same name and meaning: `migrations/pg/compat.sql`.
//! `last_insert_rowid()` is `Connection::insert_id` (`RETURNING id`).
//!
//! Migrations (`ddl`): `id INTEGER PRIMARY KEY` → `id BIGSERIAL PRIMARY KEY`, `INTEGER` →
//! `BIGINT`, `REAL` → `DOUBLE PRECISION`, `BLOB` → `BYTEA`, `TEXT` → `TEXT COLLATE "C"`
//! (SQLite compares and sorts text bytewise), a column named `user` is quoted. Write
//! portable SQL: `INSERT … ON CONFLICT … DO NOTHING/UPDATE` (never `INSERT OR …`), an alias
//! on every subquery in FROM, `"user"` quoted, no bare integer column as a condition.

/// A statement in SQLite's dialect as PostgreSQL takes it.
pub fn translate(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 16);
    let mut chars = sql.chars().peekable();
    // A bare `?` is one past the highest number so far, as in SQLite.
    let mut highest = 0u32;
    while let Some(c) = chars.next() {
        match c {
            '\'' | '"' => {
                out.push(c);
                // Copy the literal through its closing quote (a doubled quote is content).
                for d in chars.by_ref() {
                    out.push(d);
                    if d == c {
                        break;
                    }
                }
            }
            '?' => {
                let mut digits = String::new();
                while let Some(d) = chars.peek().copied().filter(char::is_ascii_digit) {
                    digits.push(d);
                    chars.next();
                }
                let n = if digits.is_empty() {
                    highest + 1
                } else {
                    digits.parse().unwrap_or(0)
                };
                highest = highest.max(n);
                distinct_from(&mut out);
                out.push('$');
                out.push_str(&n.to_string());
            }
            c if c.is_ascii_alphabetic() || c == '_' => {
                let mut word = String::from(c);
                while let Some(d) = chars
                    .peek()
                    .copied()
                    .filter(|d| d.is_ascii_alphanumeric() || *d == '_')
                {
                    word.push(d);
                    chars.next();
                }
                let prev_dot = out.ends_with('.');
                if !prev_dot && word.eq_ignore_ascii_case("LIKE") {
                    out.push_str("ILIKE");
                } else {
                    out.push_str(&word);
                }
            }
            c => out.push(c),
        }
    }
    out
}

/// Just before a placeholder: a trailing `IS` / `IS NOT` becomes its NULL-safe PostgreSQL form.
fn distinct_from(out: &mut String) {
    let trimmed = out.trim_end();
    let upper = trimmed.to_ascii_uppercase();
    // The leading space makes each a whole word (`this ?1` is no `IS`).
    if upper.ends_with(" IS NOT") {
        let keep = trimmed.len() - "IS NOT".len();
        out.truncate(keep);
        out.push_str("IS DISTINCT FROM ");
    } else if upper.ends_with(" IS") {
        let keep = trimmed.len() - "IS".len();
        out.truncate(keep);
        out.push_str("IS NOT DISTINCT FROM ");
    }
}

/// A migration written for SQLite as PostgreSQL DDL (rules in the header).
pub fn ddl(sql: &str) -> String {
    let mut out = String::with_capacity(sql.len() + 256);
    for line in sql.lines() {
        // Comments go: they may hold the words rewritten below.
        let code = line.split("--").next().unwrap_or("");
        let mut words: Vec<String> = Vec::new();
        let rest = code.trim_start();
        let indent = code.strip_suffix(rest).unwrap_or("");
        // Split into word and non-word runs, keeping everything.
        let mut cur = String::new();
        let mut in_word = false;
        for ch in rest.chars() {
            let w = ch.is_ascii_alphanumeric() || ch == '_';
            if w != in_word && !cur.is_empty() {
                words.push(std::mem::take(&mut cur));
            }
            in_word = w;
            cur.push(ch);
        }
        if !cur.is_empty() {
            words.push(cur);
        }
        let mut line_out = String::from(indent);
        let mut i = 0;
        while let Some(w) = words.get(i) {
            let upper = w.to_ascii_uppercase();
            let is_col_name = i == 0 && !indent.is_empty();
            let rewritten = match upper.as_str() {
                "USER" if is_col_name => "\"user\"".to_string(),
                "INTEGER" => {
                    let primary = words
                        .get(i + 2)
                        .is_some_and(|n| n.eq_ignore_ascii_case("PRIMARY"));
                    let id = i >= 2 && words.get(i - 2).is_some_and(|n| n == "id");
                    if primary && id {
                        "BIGSERIAL".into()
                    } else {
                        "BIGINT".into()
                    }
                }
                "REAL" => "DOUBLE PRECISION".into(),
                "BLOB" => "BYTEA".into(),
                "TEXT" => "TEXT COLLATE \"C\"".into(),
                _ => w.clone(),
            };
            line_out.push_str(&rewritten);
            i += 1;
        }
        out.push_str(&line_out);
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placeholders_and_null_safe_comparisons() {
        assert_eq!(
            translate("SELECT a FROM t WHERE b = ?1 AND c IS ?2 AND d IS NOT ?2 AND e = '?3' AND f = ?"),
            "SELECT a FROM t WHERE b = $1 AND c IS NOT DISTINCT FROM $2 AND d IS DISTINCT FROM $2 AND e = '?3' AND f = $3"
        );
        assert_eq!(
            translate("WHERE ?1 IS NULL AND n.name LIKE ?2 ESCAPE '\\' AND \"like\" = 1"),
            "WHERE $1 IS NULL AND n.name ILIKE $2 ESCAPE '\\' AND \"like\" = 1"
        );
        // A word that merely ends in IS is no IS.
        assert_eq!(translate("WHERE this ?1"), "WHERE this $1");
    }

    #[test]
    fn migrations_map_types_and_quote_user() {
        let pg = ddl("CREATE TABLE t (\n    id INTEGER PRIMARY KEY, -- the TEXT key\n    user TEXT,\n    node_id INTEGER PRIMARY KEY,\n    d REAL, b BLOB\n);");
        assert_eq!(
            pg,
            "CREATE TABLE t (\n    id BIGSERIAL PRIMARY KEY, \n    \"user\" TEXT COLLATE \"C\",\n    node_id BIGINT PRIMARY KEY,\n    d DOUBLE PRECISION, b BYTEA\n);\n"
        );
    }
}
