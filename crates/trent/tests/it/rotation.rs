//! Key rotation: EnableKeyRotation/DisableKeyRotation, GetKeyRotationStatus,
//! RotateKeyOnDemand, ListKeyRotations, and scheduled rotation driven by the
//! test clock. Old ciphertexts must outlive every rotation.

use std::time::Duration;

use aws_sdk_kms::Client;
use aws_sdk_kms::types::{RotationType, RotationsListEntry};

use crate::harness::{Blob, Trent, err_code, expect_err, key_arn, now_secs, secs};
use crate::keys::{create_key, encrypt};

const DAY: i64 = 24 * 60 * 60;

async fn rotations(client: &Client, key_id: &str) -> Vec<RotationsListEntry> {
    client
        .list_key_rotations()
        .key_id(key_id)
        .send()
        .await
        .expect("ListKeyRotations")
        .rotations
        .unwrap_or_default()
}

/// Polls ListKeyRotations until it lists `count` rotations: AWS finishes an
/// on-demand rotation asynchronously.
async fn await_rotations(client: &Client, key_id: &str, count: usize) -> Vec<RotationsListEntry> {
    for _ in 0..50 {
        let listed = rotations(client, key_id).await;
        if listed.len() >= count {
            return listed;
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let listed = rotations(client, key_id).await;
    panic!("expected {count} completed rotations, ListKeyRotations shows {listed:?}");
}

async fn decrypts_to(client: &Client, ciphertext: &Blob, expected: &[u8], key_id: &str) {
    let out = client
        .decrypt()
        .ciphertext_blob(ciphertext.clone())
        .send()
        .await
        .unwrap_or_else(|e| panic!("Decrypt of {expected:?} failed: {e:?}"));
    assert_eq!(out.plaintext().map(|p| p.as_ref()), Some(expected));
    assert_eq!(out.key_id(), Some(key_arn(key_id).as_str()));
}

#[tokio::test]
async fn enable_key_rotation_defaults_to_365_days() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let status = client
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(
        !status.key_rotation_enabled(),
        "rotation enabled on a new key"
    );
    assert!(status.next_rotation_date().is_none());

    client
        .enable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .expect("EnableKeyRotation");
    let status = client
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(status.key_rotation_enabled());
    assert_eq!(status.rotation_period_in_days(), Some(365));
    let next = secs(status.next_rotation_date());
    assert!(
        (next - (now_secs() + 365 * DAY)).abs() <= DAY,
        "NextRotationDate {next} is not 365 days from now"
    );
    assert!(
        status.key_id().is_some_and(|id| id.ends_with(&key)),
        "GetKeyRotationStatus KeyId {:?}",
        status.key_id()
    );
}

#[tokio::test]
async fn rotation_period_must_be_90_to_2560_days() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    for days in [89, 2561, 0] {
        let out = client
            .enable_key_rotation()
            .key_id(&key)
            .rotation_period_in_days(days)
            .send()
            .await;
        assert_eq!(
            err_code(out),
            "ValidationException",
            "RotationPeriodInDays {days}"
        );
    }
    for days in [90, 2560] {
        client
            .enable_key_rotation()
            .key_id(&key)
            .rotation_period_in_days(days)
            .send()
            .await
            .unwrap_or_else(|e| panic!("EnableKeyRotation {days}: {e:?}"));
        let status = client
            .get_key_rotation_status()
            .key_id(&key)
            .send()
            .await
            .expect("GetKeyRotationStatus");
        assert_eq!(status.rotation_period_in_days(), Some(days));
    }
}

#[tokio::test]
async fn disable_key_rotation_turns_it_off() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    client
        .enable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .expect("EnableKeyRotation");
    client
        .disable_key_rotation()
        .key_id(&key)
        .send()
        .await
        .expect("DisableKeyRotation");
    let status = client
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(!status.key_rotation_enabled());
    assert!(
        status.next_rotation_date().is_none(),
        "NextRotationDate while disabled"
    );

    let unknown = client
        .get_key_rotation_status()
        .key_id("0f3b7a52-64c7-4d2a-9d0e-5c1b2a3d4e5f")
        .send()
        .await;
    expect_err(unknown, "NotFoundException");
}

#[tokio::test]
async fn on_demand_rotations_keep_every_ciphertext_decryptable() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    assert!(rotations(&client, &key).await.is_empty());

    let mut ciphertexts = vec![(
        encrypt(&client, &key, b"generation 0").await,
        b"generation 0",
    )];
    let generations: [&[u8; 12]; 3] = [b"generation 1", b"generation 2", b"generation 3"];
    for (round, plaintext) in generations.into_iter().enumerate() {
        let started = now_secs();
        let out = client
            .rotate_key_on_demand()
            .key_id(&key)
            .send()
            .await
            .expect("RotateKeyOnDemand");
        assert!(out.key_id().is_some_and(|id| id.ends_with(&key)), "{out:?}");
        let listed = await_rotations(&client, &key, round + 1).await;
        assert_eq!(listed.len(), round + 1, "{listed:?}");
        let newest = listed
            .iter()
            .max_by_key(|r| r.rotation_date().map(|d| d.secs()))
            .expect("a rotation");
        assert_eq!(newest.rotation_type(), Some(&RotationType::OnDemand));
        let date = secs(newest.rotation_date());
        assert!(
            (started - 5..=now_secs() + 5).contains(&date),
            "RotationDate {date}"
        );
        ciphertexts.push((encrypt(&client, &key, plaintext).await, plaintext));
    }
    for (ciphertext, plaintext) in &ciphertexts {
        decrypts_to(&client, ciphertext, &plaintext[..], &key).await;
    }

    // On-demand rotation leaves the automatic schedule alone.
    let status = client
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    assert!(!status.key_rotation_enabled());
}

#[tokio::test]
async fn scheduled_rotation_happens_after_the_period() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let idle = create_key(&client).await.key_id;
    let old = encrypt(&client, &key, b"before rotation").await;
    client
        .enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    let first_due = secs(
        client
            .get_key_rotation_status()
            .key_id(&key)
            .send()
            .await
            .expect("GetKeyRotationStatus")
            .next_rotation_date(),
    );

    trent.advance_clock(89 * DAY);
    assert!(
        rotations(&client, &key).await.is_empty(),
        "rotated before the period ended"
    );

    let now = trent.advance_clock(DAY + 3600);
    let listed = await_rotations(&client, &key, 1).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].rotation_type(), Some(&RotationType::Automatic));
    let date = secs(listed[0].rotation_date());
    assert!(
        (first_due..=now + 5).contains(&date),
        "RotationDate {date} outside [{first_due}, {now}]"
    );
    assert!(
        rotations(&client, &idle).await.is_empty(),
        "a key without rotation rotated"
    );

    let status = client
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    let next_due = secs(status.next_rotation_date());
    assert!(
        (next_due - (first_due + 90 * DAY)).abs() <= DAY,
        "NextRotationDate {next_due} should be one period after {first_due}"
    );

    decrypts_to(&client, &old, b"before rotation", &key).await;
    let new = encrypt(&client, &key, b"after rotation").await;
    decrypts_to(&client, &new, b"after rotation", &key).await;
}

#[tokio::test]
async fn pending_deletion_suspends_rotation_and_cancel_restores_it() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    client
        .enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    client
        .schedule_key_deletion()
        .key_id(&key)
        .pending_window_in_days(30)
        .send()
        .await
        .expect("ScheduleKeyDeletion");
    let status = client
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    // AWS: while a key is pending deletion its rotation status is false.
    assert!(
        !status.key_rotation_enabled(),
        "rotation on while pending deletion"
    );

    client
        .cancel_key_deletion()
        .key_id(&key)
        .send()
        .await
        .expect("CancelKeyDeletion");
    let status = client
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    // AWS: cancelling the deletion restores the original rotation status.
    assert!(
        status.key_rotation_enabled(),
        "cancel did not restore rotation"
    );
    assert_eq!(status.rotation_period_in_days(), Some(90));
}

#[tokio::test]
async fn disabled_key_does_not_rotate_until_enabled_again() {
    let trent = Trent::start();
    let client = trent.client();
    let key = create_key(&client).await.key_id;
    let old = encrypt(&client, &key, b"before the pause").await;
    client
        .enable_key_rotation()
        .key_id(&key)
        .rotation_period_in_days(90)
        .send()
        .await
        .expect("EnableKeyRotation");
    client
        .disable_key()
        .key_id(&key)
        .send()
        .await
        .expect("DisableKey");

    trent.advance_clock(91 * DAY);
    assert!(
        rotations(&client, &key).await.is_empty(),
        "a disabled key rotated"
    );
    let status = client
        .get_key_rotation_status()
        .key_id(&key)
        .send()
        .await
        .expect("GetKeyRotationStatus");
    // AWS: disabling a key leaves its rotation status unchanged.
    assert!(
        status.key_rotation_enabled(),
        "DisableKey turned rotation off"
    );

    // AWS: a re-enabled key that is overdue rotates right away.
    client
        .enable_key()
        .key_id(&key)
        .send()
        .await
        .expect("EnableKey");
    trent.advance_clock(60);
    let listed = await_rotations(&client, &key, 1).await;
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0].rotation_type(), Some(&RotationType::Automatic));
    decrypts_to(&client, &old, b"before the pause", &key).await;
}
