//! A fresh database per test: a SQLite file in a temporary folder, or a PostgreSQL database
//! created for the test and dropped after it.

use relance::store::Store;
use sqlx::Connection;

/// Which backend a test runs on.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    Sqlite,
    Postgres,
}

pub struct TestDb {
    pub url: String,
    pub backend: Backend,
    pub dir: tempfile::TempDir,
    pg: Option<(String, String)>,
}

impl TestDb {
    pub async fn sqlite() -> TestDb {
        let dir = tempfile::tempdir().expect("temp dir");
        let url = format!("sqlite://{}", dir.path().join("relance.db").display());
        TestDb {
            url,
            backend: Backend::Sqlite,
            dir,
            pg: None,
        }
    }

    /// `None` when `DATABASE_URL_POSTGRES` is unset (the test is skipped), unless
    /// `RELANCE_REQUIRE_POSTGRES` is set (CI), where a missing URL is a failure.
    pub async fn postgres() -> Option<TestDb> {
        let Ok(admin) = std::env::var("DATABASE_URL_POSTGRES") else {
            if std::env::var("RELANCE_REQUIRE_POSTGRES").is_ok() {
                panic!("RELANCE_REQUIRE_POSTGRES is set but DATABASE_URL_POSTGRES is not");
            }
            eprintln!("DATABASE_URL_POSTGRES unset: PostgreSQL variant skipped");
            return None;
        };
        let name = format!("relance_test_{}_{:08x}", std::process::id(), rand_u32());
        let mut conn = sqlx::PgConnection::connect(&admin)
            .await
            .expect("connect to DATABASE_URL_POSTGRES");
        sqlx::query(&format!("CREATE DATABASE \"{name}\""))
            .execute(&mut conn)
            .await
            .expect("create test database");
        let _ = conn.close().await;
        let mut url = url::Url::parse(&admin).expect("DATABASE_URL_POSTGRES is a URL");
        url.set_path(&format!("/{name}"));
        Some(TestDb {
            url: url.to_string(),
            backend: Backend::Postgres,
            dir: tempfile::tempdir().expect("temp dir"),
            pg: Some((admin, name)),
        })
    }

    pub async fn store(&self) -> Store {
        let store = Store::connect(&self.url).await.expect("connect");
        store.migrate().await.expect("migrate");
        store
    }
}

fn rand_u32() -> u32 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap_or_default()
            .as_nanos(),
    );
    h.finish() as u32
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let Some((admin, name)) = self.pg.take() else {
            return;
        };
        // Drop runs outside any runtime guarantee: use a small one of our own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async move {
                if let Ok(mut conn) = sqlx::PgConnection::connect(&admin).await {
                    let _ =
                        sqlx::query(&format!("DROP DATABASE IF EXISTS \"{name}\" WITH (FORCE)"))
                            .execute(&mut conn)
                            .await;
                }
            });
        })
        .join();
    }
}

/// Runs a test body on SQLite and on PostgreSQL (two `#[tokio::test]`s in a module).
#[macro_export]
macro_rules! both_backends {
    ($name:ident, $body:expr) => {
        mod $name {
            #[allow(unused_imports)]
            use super::*;

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn sqlite() {
                let db = $crate::common::db::TestDb::sqlite().await;
                ($body)(db).await;
            }

            #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
            async fn postgres() {
                let Some(db) = $crate::common::db::TestDb::postgres().await else {
                    return;
                };
                ($body)(db).await;
            }
        }
    };
}
