//! Just enough SQL lexing to find the statements of a raw SQL string that control transactions
//! (`BEGIN`, `COMMIT`, `END`, `ROLLBACK`, `SAVEPOINT`, `RELEASE`, plus PostgreSQL's `START
//! TRANSACTION` and `ABORT`), which `MigrationOps::execute` refuses (`spec/migrations.md` §3).
//!
//! It skips comments (`--`, nested `/* */`), string literals (`'…'`, `E'…'`), quoted
//! identifiers (`"…"`, `` `…` ``, `[…]`) and PostgreSQL dollar-quoted bodies, and knows that a
//! SQLite `CREATE TRIGGER … BEGIN … END` body contains `;` and the words `BEGIN`/`END`. It is
//! not a parser: anything it cannot classify is left to the database.

const CONTROL: [&str; 8] = [
    "BEGIN",
    "COMMIT",
    "END",
    "ROLLBACK",
    "SAVEPOINT",
    "RELEASE",
    "START",
    "ABORT",
];

#[derive(Debug, PartialEq)]
enum Token {
    Word(String),
    Semicolon,
}

fn lex(sql: &str) -> Vec<Token> {
    let chars: Vec<char> = sql.chars().collect();
    let mut tokens = Vec::new();
    let mut i = 0;
    let n = chars.len();
    let at = |j: usize| chars.get(j).copied();
    while i < n {
        let c = chars[i];
        match c {
            '-' if at(i + 1) == Some('-') => {
                while i < n && chars[i] != '\n' {
                    i += 1;
                }
            }
            '/' if at(i + 1) == Some('*') => {
                let mut depth = 0usize;
                while i < n {
                    if chars[i] == '/' && at(i + 1) == Some('*') {
                        depth += 1;
                        i += 2;
                    } else if chars[i] == '*' && at(i + 1) == Some('/') {
                        depth = depth.saturating_sub(1);
                        i += 2;
                        if depth == 0 {
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            '\'' => {
                let backslash = i > 0
                    && matches!(chars[i - 1], 'e' | 'E')
                    && !(i > 1 && (chars[i - 2].is_alphanumeric() || chars[i - 2] == '_'));
                i += 1;
                while i < n {
                    if backslash && chars[i] == '\\' {
                        i += 2;
                    } else if chars[i] == '\'' {
                        if at(i + 1) == Some('\'') {
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            '"' | '`' => {
                i += 1;
                while i < n {
                    if chars[i] == c {
                        if at(i + 1) == Some(c) {
                            i += 2;
                        } else {
                            i += 1;
                            break;
                        }
                    } else {
                        i += 1;
                    }
                }
            }
            '[' => {
                while i < n && chars[i] != ']' {
                    i += 1;
                }
                i += 1;
            }
            '$' if at(i + 1).is_some_and(|d| d == '$' || d.is_alphabetic() || d == '_') => {
                // $tag$ … $tag$ (a parameter like $1 starts with a digit and is not a quote).
                let start = i;
                let mut j = i + 1;
                while j < n && (chars[j].is_alphanumeric() || chars[j] == '_') {
                    j += 1;
                }
                if at(j) == Some('$') {
                    let tag: String = chars[start..=j].iter().collect();
                    let rest: String = chars[j + 1..].iter().collect();
                    match rest.find(&tag) {
                        Some(pos) => i = j + 1 + rest[..pos].chars().count() + tag.chars().count(),
                        None => i = n,
                    }
                } else {
                    i = j;
                }
            }
            ';' => {
                tokens.push(Token::Semicolon);
                i += 1;
            }
            c if c.is_alphabetic() || c == '_' => {
                let start = i;
                while i < n && (chars[i].is_alphanumeric() || chars[i] == '_' || chars[i] == '$') {
                    i += 1;
                }
                let word: String = chars[start..i].iter().collect();
                tokens.push(Token::Word(word.to_ascii_uppercase()));
            }
            _ => i += 1,
        }
    }
    tokens
}

/// The first transaction-control keyword that starts a statement of `sql`, if any.
pub(crate) fn transaction_control(sql: &str) -> Option<String> {
    let tokens = lex(sql);
    let mut i = 0;
    while i < tokens.len() {
        // Start of a statement: skip empty statements.
        while matches!(tokens.get(i), Some(Token::Semicolon)) {
            i += 1;
        }
        let Some(Token::Word(first)) = tokens.get(i) else {
            break;
        };
        if CONTROL.contains(&first.as_str()) {
            return Some(first.clone());
        }
        let is_trigger = first == "CREATE"
            && tokens[i + 1..]
                .iter()
                .take(3)
                .any(|t| *t == Token::Word("TRIGGER".into()));
        if is_trigger {
            // Skip to BEGIN, then to the END closing the body (CASE … END nests inside).
            while i < tokens.len() && tokens[i] != Token::Word("BEGIN".into()) {
                i += 1;
            }
            let mut depth = 0usize;
            i += 1;
            while i < tokens.len() {
                match &tokens[i] {
                    Token::Word(w) if w == "CASE" => depth += 1,
                    Token::Word(w) if w == "END" => {
                        if depth == 0 {
                            break;
                        }
                        depth -= 1;
                    }
                    _ => {}
                }
                i += 1;
            }
        }
        // Skip to the end of the statement.
        while i < tokens.len() && tokens[i] != Token::Semicolon {
            i += 1;
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn transaction_control_statements_are_found_anywhere() {
        let cases: [(&str, Option<&str>); 16] = [
            ("COMMIT", Some("COMMIT")),
            ("  commit;", Some("COMMIT")),
            ("-- note\nBEGIN", Some("BEGIN")),
            ("/* a /* nested */ c */ rollback to x", Some("ROLLBACK")),
            ("UPDATE t SET a = 1; COMMIT; BEGIN", Some("COMMIT")),
            ("savepoint s1", Some("SAVEPOINT")),
            ("RELEASE s1", Some("RELEASE")),
            ("END TRANSACTION", Some("END")),
            ("START TRANSACTION", Some("START")),
            ("CREATE TABLE t (a int)", None),
            ("INSERT INTO t VALUES ('x; COMMIT')", None),
            ("UPDATE t SET \"commit\" = 1", None),
            ("SELECT $$; COMMIT $$", None),
            ("SELECT E'it\\'s; COMMIT'", None),
            (
                "CREATE TRIGGER tr AFTER INSERT ON t BEGIN UPDATE u SET a = CASE WHEN 1 THEN 2 END; END; SELECT 1",
                None,
            ),
            (
                "CREATE TEMP TRIGGER tr AFTER INSERT ON t BEGIN SELECT 1; END; COMMIT",
                Some("COMMIT"),
            ),
        ];
        for (sql, expected) in cases {
            assert_eq!(transaction_control(sql).as_deref(), expected, "{sql}");
        }
    }

    #[test]
    fn parameters_and_unterminated_text_do_not_confuse_the_lexer() {
        assert_eq!(
            transaction_control("SELECT $1; BEGIN"),
            Some("BEGIN".into())
        );
        assert_eq!(transaction_control("SELECT 'unterminated; COMMIT"), None);
        assert_eq!(
            transaction_control("SELECT $tag$ never closed; COMMIT"),
            None
        );
        assert_eq!(transaction_control(""), None);
    }
}
