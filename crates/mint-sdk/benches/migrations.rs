//! Benchmark of the migration runner (issue: migrations): time to apply 100 migrations to a
//! fresh database in one run — 50 that create a table and 50 that add a column to it — on
//! SQLite (a LocalDatabase file) and, when `MINT_TEST_DATABASE_URL` is set, on PostgreSQL (a
//! fresh plugin schema per iteration). Each iteration includes the lock, the tracking-table
//! checks, 100 upgrades with their existence probes and tracking rows, and the commit.
//!
//! Run: `cargo bench -p mint-sdk --bench migrations`.

use std::time::{Duration, Instant};

use async_trait::async_trait;
use criterion::{Criterion, criterion_group, criterion_main};
use mint_sdk::migrations::{
    Column, MigrationError, MigrationOps, MigrationRunner, PluginMigration, checksum_of,
};
use mint_sdk::sea_orm::{ConnectOptions, ConnectionTrait, Database, DatabaseConnection};
use mint_sdk::{LocalDatabase, LocalDatabaseConfig};

/// Odd versions create `t_<k>`, even versions add a column to it.
struct Step {
    version: u32,
}

#[async_trait]
impl PluginMigration for Step {
    fn version(&self) -> u32 {
        self.version
    }
    fn name(&self) -> &'static str {
        if self.version % 2 == 1 {
            "create_table"
        } else {
            "add_column"
        }
    }
    fn checksum(&self) -> String {
        checksum_of(&format!("bench step {}", self.version))
    }
    async fn upgrade(&self, ops: &mut MigrationOps<'_>) -> Result<(), MigrationError> {
        let table = format!("t_{}", self.version.div_ceil(2));
        if self.version % 2 == 1 {
            ops.create_table(
                &table,
                &[
                    Column::integer("id").primary_key(),
                    Column::text("label").not_null().default_value(""),
                    Column::integer("experiment_id").index(),
                ],
            )
            .await
        } else {
            ops.add_column(&table, Column::double("intensity")).await
        }
    }
}

fn hundred() -> Vec<Box<dyn PluginMigration>> {
    (1..=100)
        .map(|version| Box::new(Step { version }) as Box<dyn PluginMigration>)
        .collect()
}

async fn apply_sqlite() -> Duration {
    let dir = tempfile::tempdir().expect("tempdir");
    let db = LocalDatabase::new(
        "bench",
        Some(LocalDatabaseConfig {
            storage_dir: Some(dir.path().to_path_buf()),
            ..Default::default()
        }),
    );
    db.initialize().await.expect("open");
    let runner =
        MigrationRunner::new(db.connection().expect("connection"), "bench").expect("runner");
    let list = hundred();
    let started = Instant::now();
    let result = runner.run(&list, false).await.expect("run");
    let elapsed = started.elapsed();
    assert_eq!(result.applied.len(), 100);
    db.close().await.expect("close");
    elapsed
}

async fn apply_postgres(conn: &DatabaseConnection, n: u64) -> Duration {
    let plugin = format!("bench_{}_{n}", std::process::id());
    let schema = format!("bench_{}_{n}", std::process::id());
    let runner = MigrationRunner::new(conn.clone(), plugin.clone())
        .expect("runner")
        .with_schema(schema.clone());
    let list = hundred();
    let started = Instant::now();
    let result = runner.run(&list, false).await.expect("run");
    let elapsed = started.elapsed();
    assert_eq!(result.applied.len(), 100);
    conn.execute_unprepared(&format!("DROP SCHEMA \"{schema}\" CASCADE"))
        .await
        .expect("drop schema");
    conn.execute_unprepared(&format!(
        "DELETE FROM public.plugin_schema_migrations WHERE plugin_name = '{plugin}'"
    ))
    .await
    .expect("delete rows");
    elapsed
}

fn apply_100(c: &mut Criterion) {
    let rt = tokio::runtime::Runtime::new().expect("runtime");
    let mut group = c.benchmark_group("apply_100_migrations");
    group.sample_size(10);
    group.measurement_time(Duration::from_secs(30));
    group.bench_function("sqlite", |b| {
        b.iter_custom(|iters| {
            rt.block_on(async {
                let mut total = Duration::ZERO;
                for _ in 0..iters {
                    total += apply_sqlite().await;
                }
                total
            })
        })
    });
    match std::env::var("MINT_TEST_DATABASE_URL") {
        Ok(url) if !url.is_empty() => {
            let conn = rt.block_on(async {
                let mut options = ConnectOptions::new(url);
                options.max_connections(2).sqlx_logging(false);
                Database::connect(options).await.expect("connect")
            });
            let mut n = 0u64;
            group.bench_function("postgres", |b| {
                b.iter_custom(|iters| {
                    rt.block_on(async {
                        let mut total = Duration::ZERO;
                        for _ in 0..iters {
                            n += 1;
                            total += apply_postgres(&conn, n).await;
                        }
                        total
                    })
                })
            });
        }
        _ => eprintln!("postgres: skipped (MINT_TEST_DATABASE_URL is not set)"),
    }
    group.finish();
}

criterion_group!(benches, apply_100);
criterion_main!(benches);
