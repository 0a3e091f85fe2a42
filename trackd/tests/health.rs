//! `GET /api/health`, unknown routes, and shutdown.

use crate::support::{Server, on_every_backend};

on_every_backend!(
    health_reports_the_database,
    unknown_routes_get_json_errors,
    shutdown_finishes_open_requests
);

fn health_reports_the_database(server: Server) {
    let answer = server
        .client()
        .send("GET", "/api/health", "localhost", None, None);
    assert_eq!(answer.status, 200);
    assert_eq!(answer.json["status"], "ok");
    assert_eq!(answer.json["database"], "ok");
    assert_eq!(answer.json["version"], env!("CARGO_PKG_VERSION"));
}

fn unknown_routes_get_json_errors(server: Server) {
    let client = server.client();
    let answer = client.send("GET", "/api/nothing-here", "localhost", None, None);
    assert_eq!((answer.status, answer.code()), (404, "not_found"));
    let answer = client.send("DELETE", "/api/health", "localhost", None, None);
    assert_eq!((answer.status, answer.code()), (405, "method_not_allowed"));
    assert_eq!(answer.header("allow").as_deref(), Some("GET"));
    assert_eq!(
        answer.header("content-type").as_deref(),
        Some("application/json")
    );
}

fn shutdown_finishes_open_requests(server: Server) {
    // A request still arriving when shutdown starts is answered, not cut.
    use std::io::{Read, Write};
    let mut stream = std::net::TcpStream::connect(server.addr).unwrap();
    stream
        .write_all(b"GET /api/health HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n")
        .unwrap();
    std::thread::sleep(std::time::Duration::from_millis(100));
    let stopper = std::thread::spawn(move || server.stop());
    std::thread::sleep(std::time::Duration::from_millis(100));
    stream.write_all(b"\r\n").unwrap();
    let mut answer = String::new();
    stream.read_to_string(&mut answer).unwrap();
    assert!(answer.starts_with("HTTP/1.1 200"), "{answer}");
    stopper.join().unwrap();
}
