use super::*;
use axum::http::{Request, StatusCode};

fn credentials() -> Arc<Credentials> {
    let operator = |name: &str, role| OperatorSpec {
        name: name.into(),
        role,
        on_call: false,
    };
    Arc::new(Credentials::new(
        42,
        &[
            operator("alice", Role::Admin),
            operator("bob", Role::Operator),
            operator("victor", Role::Viewer),
        ],
    ))
}

async fn extract<R: MinRole>(authorization: Option<&str>) -> Result<WhoAmI, ApiError> {
    let mut request = Request::builder().uri("/v1/anything");
    if let Some(value) = authorization {
        request = request.header(header::AUTHORIZATION, value);
    }
    let (mut parts, ()) = request.body(()).unwrap().into_parts();
    Caller::<R>::from_request_parts(&mut parts, &credentials())
        .await
        .map(|caller| caller.identity)
}

#[test]
fn tokens_are_deterministic_per_seed_and_distinct() {
    let token = lab_token(42, "alice");
    assert_eq!(token, lab_token(42, "alice"));
    assert_ne!(token, lab_token(43, "alice"));
    assert_ne!(token, lab_token(42, "alicf"));
    let hex = token.strip_prefix("sb_lab_alice_").unwrap();
    assert_eq!(hex.len(), 16);
    assert!(hex.chars().all(|c| c.is_ascii_hexdigit()));
}

#[tokio::test]
async fn roles_are_ordered_viewer_operator_admin() {
    let token = |name: &str| format!("Bearer {}", lab_token(42, name));
    assert_eq!(
        extract::<min_role::Viewer>(Some(&token("victor")))
            .await
            .unwrap()
            .name,
        "victor"
    );
    let denied = extract::<min_role::Operator>(Some(&token("victor")))
        .await
        .unwrap_err();
    assert_eq!(denied.status, StatusCode::FORBIDDEN);
    assert!(
        denied.detail.contains("victor is a viewer"),
        "{}",
        denied.detail
    );
    assert_eq!(
        extract::<min_role::Operator>(Some(&token("bob")))
            .await
            .unwrap()
            .role,
        Role::Operator
    );
    assert_eq!(
        extract::<min_role::Admin>(Some(&token("bob")))
            .await
            .unwrap_err()
            .status,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        extract::<min_role::Admin>(Some(&token("alice")))
            .await
            .unwrap()
            .name,
        "alice"
    );
    // The scheme is case-insensitive.
    let lower = format!("bearer {}", lab_token(42, "alice"));
    assert!(extract::<min_role::Admin>(Some(&lower)).await.is_ok());
}

#[tokio::test]
async fn missing_or_invalid_tokens_are_unauthorized_with_a_challenge() {
    let missing = extract::<min_role::Viewer>(None).await.unwrap_err();
    assert_eq!(
        (missing.status, missing.challenge),
        (StatusCode::UNAUTHORIZED, Some(CHALLENGE_MISSING))
    );
    let basic = extract::<min_role::Viewer>(Some("Basic YWxpY2U6eA=="))
        .await
        .unwrap_err();
    assert_eq!(basic.status, StatusCode::UNAUTHORIZED);
    let other_seed = format!("Bearer {}", lab_token(7, "alice"));
    let invalid = extract::<min_role::Viewer>(Some(&other_seed))
        .await
        .unwrap_err();
    assert_eq!(
        (invalid.status, invalid.challenge),
        (StatusCode::UNAUTHORIZED, Some(CHALLENGE_INVALID))
    );
}
