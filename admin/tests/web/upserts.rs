//! The update half of every upsert (`ON DUPLICATE KEY UPDATE` with the values bound again, the
//! form MariaDB and MySQL 8 both accept), against the real database.

use common::db::{cards, suppliers};
use common::mq::consumer::{Disposition, RawDelivery};
use common::testing::fixtures::{Product, Supplier};
use lapin::types::{AMQPValue, FieldArray, FieldTable};

use crate::App;

fn dead_letter(count: i64) -> RawDelivery {
    let mut death = FieldTable::default();
    death.insert("queue".into(), AMQPValue::LongString("q.orders".into()));
    death.insert("count".into(), AMQPValue::LongLongInt(count));
    let mut headers = FieldTable::default();
    headers.insert(
        "x-death".into(),
        AMQPValue::FieldArray(FieldArray::from(vec![AMQPValue::FieldTable(death)])),
    );
    RawDelivery {
        data: b"{}".to_vec(),
        routing_key: "order.created".into(),
        message_id: Some("upsert-dl-1".into()),
        headers: Some(headers),
        redelivered: false,
    }
}

#[tokio::test]
async fn upserts_update_existing_rows() {
    let app = App::start().await;
    let pool = app.pool.clone();

    // A dead letter collected again: the new death count, and a replayed one is pending again.
    assert!(matches!(
        admin::dead_letters::collect(&pool, dead_letter(1)).await,
        Disposition::Ack
    ));
    sqlx::query("UPDATE dead_letters SET status = 'replayed'")
        .execute(&pool)
        .await
        .unwrap();
    assert!(matches!(
        admin::dead_letters::collect(&pool, dead_letter(3)).await,
        Disposition::Ack
    ));
    let row: (i32, String) = sqlx::query_as("SELECT death_count, status FROM dead_letters")
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(row, (3, "pending".to_owned()));

    // A card batch recorded twice adds up.
    let product = Product::direct_supplier("upsert-p").insert(&pool).await;
    for (total, inserted, duplicates, invalid) in [(5, 3, 1, 1), (2, 2, 0, 0)] {
        cards::record_batch(
            &pool,
            &cards::BatchRecord {
                batch_id: "B-upsert",
                product_id: product,
                source: "f.csv",
                imported_by: "cli",
                total_lines: total,
                inserted,
                duplicates,
                invalid,
            },
        )
        .await
        .unwrap();
    }
    let batch: (i32, i32, i32, i32) = sqlx::query_as(
        "SELECT total_lines, inserted, duplicates, invalid FROM card_batches WHERE id = 'B-upsert'",
    )
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(batch, (7, 5, 1, 1));

    // A supplier link made again takes the new priority and SKU.
    let supplier = Supplier::new("upsert-s", "http://s.example", "m", "upsert-secret")
        .insert(&pool)
        .await;
    suppliers::link_product(&pool, product, supplier, 100, "OLD")
        .await
        .unwrap();
    suppliers::link_product(&pool, product, supplier, 7, "NEW")
        .await
        .unwrap();
    let link: (i32, String) =
        sqlx::query_as("SELECT priority, supplier_sku FROM product_suppliers")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(link, (7, "NEW".to_owned()));

    // The public base URL changed on the page replaces the stored one.
    let admin = app.login("admin").await;
    for url in ["https://a.example", "https://b.example"] {
        let a = admin.post("/admin/urls/base", &[("base_url", url)]).await;
        assert_eq!(a.status, 303);
    }
    let value: String =
        sqlx::query_scalar("SELECT value FROM settings WHERE name = 'public_base_url'")
            .fetch_one(&pool)
            .await
            .unwrap();
    assert_eq!(value, "https://b.example");
    app.stop().await;
}
