//! `GET /api/health` and the server's behaviour around it.

use crate::support::{Server, on_every_backend};

on_every_backend!(
    health_reports_the_database,
    unknown_routes_get_json_errors,
    shutdown_finishes_open_requests
);

fn health_reports_the_database(server: Server) {
    let (status, body) = server.request("GET", "/api/health", "localhost", None);
    assert_eq!(status, 200);
    assert_eq!(body["status"], "ok");
    assert_eq!(body["database"], "ok");
    assert_eq!(body["version"], env!("CARGO_PKG_VERSION"));
}

fn unknown_routes_get_json_errors(server: Server) {
    let (status, body) = server.request("GET", "/api/nothing-here", "localhost", None);
    assert_eq!(status, 404);
    assert_eq!(body["error"]["code"], "not_found");
    let (status, body) = server.request("DELETE", "/api/health", "localhost", None);
    assert_eq!(status, 405);
    assert_eq!(body["error"]["code"], "method_not_allowed");
}

fn shutdown_finishes_open_requests(server: Server) {
    // A request whose body is still arriving when shutdown starts is answered, not cut.
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
