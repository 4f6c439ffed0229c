use super::*;
use axum::Router;
use axum::middleware;
use axum::routing::get;

/// Serves `router` on a loopback port and answers `method path` with (status, content-type,
/// problem, headers).
async fn call(
    router: Router,
    method: reqwest::Method,
    path: &str,
) -> (u16, String, Problem, reqwest::header::HeaderMap) {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move { axum::serve(listener, router).await });
    let client = reqwest::Client::builder().no_proxy().build().unwrap();
    let response = tokio::time::timeout(
        std::time::Duration::from_secs(10),
        client
            .request(method, format!("http://{addr}{path}"))
            .send(),
    )
    .await
    .unwrap()
    .unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let content_type = headers[reqwest::header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .to_string();
    let problem = serde_json::from_slice(&response.bytes().await.unwrap()).unwrap();
    server.abort();
    (status, content_type, problem, headers)
}

fn router() -> Router {
    async fn boom() -> &'static str {
        panic!("handler bug")
    }
    async fn plain_error() -> (StatusCode, &'static str) {
        (
            StatusCode::UNPROCESSABLE_ENTITY,
            "Failed to deserialize the JSON body",
        )
    }
    Router::new()
        .route("/boom", get(boom))
        .route("/plain", get(plain_error))
        .fallback(unknown_route)
        .layer(middleware::from_fn(problem_json_errors))
}

#[tokio::test]
async fn panics_rejections_and_wrong_methods_become_problems() {
    let (status, content_type, problem, _) = call(router(), reqwest::Method::GET, "/boom").await;
    assert_eq!(
        (status, content_type.as_str(), problem.status),
        (500, PROBLEM_JSON, 500)
    );

    let (status, content_type, problem, _) = call(router(), reqwest::Method::GET, "/plain").await;
    assert_eq!((status, content_type.as_str()), (422, PROBLEM_JSON));
    assert_eq!(
        problem.detail.as_deref(),
        Some("Failed to deserialize the JSON body")
    );

    let (status, content_type, problem, headers) =
        call(router(), reqwest::Method::DELETE, "/plain").await;
    assert_eq!(
        (status, content_type.as_str(), problem.title.as_str()),
        (405, PROBLEM_JSON, "Method Not Allowed")
    );
    assert!(
        headers[reqwest::header::ALLOW]
            .to_str()
            .unwrap()
            .contains("GET")
    );

    let (status, content_type, _, _) = call(router(), reqwest::Method::GET, "/nowhere").await;
    assert_eq!((status, content_type.as_str()), (404, PROBLEM_JSON));
}
