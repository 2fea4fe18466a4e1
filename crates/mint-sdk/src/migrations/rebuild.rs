//! The SQLite table rebuild behind `drop_column` and `alter_column` (`spec/migrations.md` §3,
//! "SQLite rebuild" and its Rust decisions).
//!
//! SQLite cannot drop an indexed/constrained column or change a column's type in place, so the
//! table is copied: `CREATE TABLE "_mint_tmp_<t>"` from `PRAGMA table_xinfo` (declared type, or
//! the new one; `PRIMARY KEY` with `AUTOINCREMENT` when the table had it; `NOT NULL`;
//! `DEFAULT`), plus the table's UNIQUE constraints (index origin `u`); rows copied; the original
//! dropped; the copy renamed; the table's own indexes recreated from their stored SQL. Indexes
//! and UNIQUE constraints that used a dropped column are dropped (PostgreSQL does the same).
//! Lost, as in Python: CHECK constraints, COLLATE clauses, triggers. Refused (`Unsupported`,
//! table unchanged): foreign keys declared by the table or pointing at it, a composite primary
//! key, generated/hidden columns, `WITHOUT ROWID` tables. Runs inside the run's transaction.

use sea_orm::{
    ConnectionTrait, DatabaseTransaction, DbBackend, DbErr, QueryResult, Statement, Value,
};

use super::error::MigrationError;
use super::schema::quote_ident;

/// What the rebuild changes.
pub(crate) enum Change<'a> {
    /// Leave this column out.
    Drop(&'a str),
    /// Give this column a new declared type.
    Retype(&'a str, String),
}

impl Change<'_> {
    fn column(&self) -> &str {
        match self {
            Change::Drop(c) | Change::Retype(c, _) => c,
        }
    }
}

struct ColumnInfo {
    name: String,
    declared_type: String,
    not_null: bool,
    default: Option<String>,
    pk: i64,
}

async fn rows(
    txn: &DatabaseTransaction,
    sql: &str,
    values: Vec<Value>,
) -> Result<Vec<QueryResult>, MigrationError> {
    Ok(txn
        .query_all_raw(Statement::from_sql_and_values(
            DbBackend::Sqlite,
            sql,
            values,
        ))
        .await?)
}

async fn exec(txn: &DatabaseTransaction, sql: &str) -> Result<(), MigrationError> {
    tracing::debug!(target: "mint.sdk", sql, "SQLite rebuild statement");
    txn.execute_raw(Statement::from_string(DbBackend::Sqlite, sql))
        .await?;
    Ok(())
}

fn unsupported(table: &str, why: &str) -> MigrationError {
    MigrationError::Unsupported(format!(
        "SQLite cannot rebuild table '{table}' safely: {why}; write this change with \
         ops.execute() instead"
    ))
}

/// True when `word` occurs in `text` as a whole identifier (ASCII case-insensitive).
fn mentions_word(text: &str, word: &str) -> bool {
    let lower = text.to_ascii_lowercase();
    let word = word.to_ascii_lowercase();
    let is_ident = |c: char| c.is_alphanumeric() || c == '_';
    lower.match_indices(&word).any(|(at, _)| {
        let before = lower[..at].chars().next_back();
        let after = lower[at + word.len()..].chars().next();
        !before.is_some_and(is_ident) && !after.is_some_and(is_ident)
    })
}

/// Rebuilds `table` with `change` (see the module docs).
pub(crate) async fn rebuild_table(
    txn: &DatabaseTransaction,
    table: &str,
    change: Change<'_>,
) -> Result<(), MigrationError> {
    let master = rows(
        txn,
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name = ? COLLATE NOCASE",
        vec![table.into()],
    )
    .await?;
    let Some(master) = master.first() else {
        return Err(MigrationError::Database(DbErr::Custom(format!(
            "no such table: {table}"
        ))));
    };
    let table: String = master.try_get("", "name")?;
    let table_sql: String = master
        .try_get::<Option<String>>("", "sql")?
        .unwrap_or_default();
    let upper_sql = table_sql.to_ascii_uppercase();
    if upper_sql.contains("WITHOUT ROWID") {
        return Err(unsupported(&table, "it is a WITHOUT ROWID table"));
    }

    let mut columns = Vec::new();
    for row in rows(
        txn,
        "SELECT name, type, \"notnull\", dflt_value, pk, hidden FROM pragma_table_xinfo(?) ORDER BY cid",
        vec![table.clone().into()],
    )
    .await?
    {
        if row.try_get::<i64>("", "hidden")? != 0 {
            return Err(unsupported(&table, "it has generated or hidden columns"));
        }
        columns.push(ColumnInfo {
            name: row.try_get("", "name")?,
            declared_type: row.try_get::<Option<String>>("", "type")?.unwrap_or_default(),
            not_null: row.try_get::<i64>("", "notnull")? != 0,
            default: row.try_get("", "dflt_value")?,
            pk: row.try_get("", "pk")?,
        });
    }
    let target = change.column();
    if !columns.iter().any(|c| c.name.eq_ignore_ascii_case(target)) {
        return Err(MigrationError::Database(DbErr::Custom(format!(
            "no such column: {table}.{target}"
        ))));
    }
    if columns.iter().filter(|c| c.pk > 0).count() > 1 {
        return Err(unsupported(&table, "it has a composite primary key"));
    }
    let own_fks = rows(
        txn,
        "SELECT 1 FROM pragma_foreign_key_list(?)",
        vec![table.clone().into()],
    )
    .await?;
    if !own_fks.is_empty() {
        return Err(unsupported(&table, "it declares foreign keys"));
    }
    let incoming = rows(
        txn,
        "SELECT m.name AS name FROM sqlite_master m, pragma_foreign_key_list(m.name) f \
         WHERE m.type = 'table' AND lower(m.name) <> lower(?) AND lower(f.\"table\") = lower(?)",
        vec![table.clone().into(), table.clone().into()],
    )
    .await?;
    if let Some(row) = incoming.first() {
        let from: String = row.try_get("", "name")?;
        return Err(unsupported(
            &table,
            &format!("table '{from}' has a foreign key to it"),
        ));
    }

    let dropped = match &change {
        Change::Drop(c) => Some(*c),
        Change::Retype(..) => None,
    };
    let uses_dropped =
        |names: &[String]| dropped.is_some_and(|d| names.iter().any(|n| n.eq_ignore_ascii_case(d)));

    // Indexes: UNIQUE constraints are re-declared, explicit indexes recreated from their SQL.
    let mut unique_constraints = Vec::new();
    let mut index_sql = Vec::new();
    for index in rows(
        txn,
        "SELECT name, origin FROM pragma_index_list(?)",
        vec![table.clone().into()],
    )
    .await?
    {
        let name: String = index.try_get("", "name")?;
        let origin: String = index.try_get("", "origin")?;
        let mut names = Vec::new();
        let mut has_expression = false;
        for col in rows(
            txn,
            "SELECT cid, name FROM pragma_index_info(?) ORDER BY seqno",
            vec![name.clone().into()],
        )
        .await?
        {
            match col.try_get::<Option<String>>("", "name")? {
                Some(n) => names.push(n),
                None => has_expression = true,
            }
        }
        match origin.as_str() {
            "pk" => {}
            "u" => {
                if !uses_dropped(&names) {
                    let cols: Vec<String> = names.iter().map(|n| quote_ident(n)).collect();
                    unique_constraints.push(format!("UNIQUE ({})", cols.join(", ")));
                }
            }
            _ => {
                let sql = rows(
                    txn,
                    "SELECT sql FROM sqlite_master WHERE type = 'index' AND name = ?",
                    vec![name.clone().into()],
                )
                .await?
                .first()
                .map(|r| r.try_get::<Option<String>>("", "sql"))
                .transpose()?
                .flatten();
                let Some(sql) = sql else { continue };
                let expression_uses =
                    has_expression && dropped.is_some_and(|d| mentions_word(&sql, d));
                if !uses_dropped(&names) && !expression_uses {
                    index_sql.push(sql);
                }
            }
        }
    }

    let autoincrement = upper_sql.contains("AUTOINCREMENT");
    let mut parts = Vec::new();
    let mut kept = Vec::new();
    for column in &columns {
        if dropped.is_some_and(|d| column.name.eq_ignore_ascii_case(d)) {
            continue;
        }
        let declared = match &change {
            Change::Retype(c, ty) if column.name.eq_ignore_ascii_case(c) => ty.clone(),
            _ => column.declared_type.clone(),
        };
        let mut sql = quote_ident(&column.name);
        if !declared.is_empty() {
            sql.push(' ');
            sql.push_str(&declared);
        }
        if column.pk > 0 {
            sql.push_str(" PRIMARY KEY");
            if autoincrement {
                sql.push_str(" AUTOINCREMENT");
            }
        }
        if column.not_null {
            sql.push_str(" NOT NULL");
        }
        if let Some(default) = &column.default {
            sql.push_str(&format!(" DEFAULT ({default})"));
        }
        parts.push(sql);
        kept.push(quote_ident(&column.name));
    }
    parts.extend(unique_constraints);

    let tmp = quote_ident(&format!("_mint_tmp_{table}"));
    let original = quote_ident(&table);
    let kept = kept.join(", ");
    exec(txn, &format!("CREATE TABLE {tmp} ({})", parts.join(", "))).await?;
    exec(
        txn,
        &format!("INSERT INTO {tmp} ({kept}) SELECT {kept} FROM {original}"),
    )
    .await?;
    exec(txn, &format!("DROP TABLE {original}")).await?;
    exec(txn, &format!("ALTER TABLE {tmp} RENAME TO {original}")).await?;
    for sql in index_sql {
        exec(txn, &sql).await?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::mentions_word;

    #[test]
    fn whole_words_only() {
        assert!(mentions_word("CREATE INDEX i ON t (lower(Color))", "color"));
        assert!(!mentions_word(
            "CREATE INDEX i ON t (lower(colors))",
            "color"
        ));
        assert!(!mentions_word("CREATE INDEX i ON t (x_color)", "color"));
    }
}
