//! A git smart-HTTP server on 127.0.0.1 for the tests: `git http-backend`
//! (git's own CGI program) behind a small HTTP/1.1 server, with optional
//! Basic authentication. It serves every repository under one directory,
//! logs each request's user name, and stops when dropped (or, at the
//! latest, after [`LIFETIME`]).

use std::io::{BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicU16, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// A server accepts no connection after this long: a test that forgets to
/// stop it cannot leave it running.
pub const LIFETIME: Duration = Duration::from_secs(600);

/// Reads and writes on one connection give up after this long.
const IO_TIMEOUT: Duration = Duration::from_secs(30);

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Request {
    pub method: String,
    pub path: String,
    /// The Basic user name sent, if any.
    pub user: Option<String>,
    /// The Basic password sent, if any: what a test checks never reached
    /// a server it must not.
    pub password: Option<String>,
    pub status: u16,
}

#[derive(Debug)]
pub struct GitServer {
    pub port: u16,
    static_files: Arc<AtomicBool>,
    fail_with: Arc<AtomicU16>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
    log: Arc<Mutex<Vec<Request>>>,
}

impl GitServer {
    /// Serves the repositories under `root` (`http://127.0.0.1:PORT/<dir>`),
    /// requiring `user`/`password` when `credentials` is given.
    pub fn start(root: &Path, credentials: Option<(&str, &str)>) -> GitServer {
        GitServer::serve(root, credentials, None)
    }

    /// Answers every request (after authentication, when `credentials`
    /// is given) with `302 Found` to the same path and query under `base`
    /// (`http://host:port`), as a moved repository or a hostile server does.
    pub fn redirecting(base: &str, credentials: Option<(&str, &str)>) -> GitServer {
        GitServer::serve(
            Path::new("/nonexistent"),
            credentials,
            Some(base.to_owned()),
        )
    }

    /// Serves the files under `root` as they are (`GET /<path>`; 404 for
    /// anything else): a static cargo registry, sparse index and `.crate`
    /// files alike.
    pub fn files(root: &Path) -> GitServer {
        let server = GitServer::serve(root, None, None);
        server.static_files.store(true, Ordering::SeqCst);
        server
    }

    /// From now on answers every request with `status` and an empty body
    /// (a server in trouble), or serves normally again with `None`.
    pub fn fail_with(&self, status: Option<u16>) {
        self.fail_with.store(status.unwrap_or(0), Ordering::SeqCst);
    }

    /// `http://127.0.0.1:PORT`.
    pub fn base(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    fn serve(
        root: &Path,
        credentials: Option<(&str, &str)>,
        redirect: Option<String>,
    ) -> GitServer {
        let expected =
            credentials.map(|(u, p)| format!("Basic {}", base64(format!("{u}:{p}").as_bytes())));
        GitServer::serve_expecting(root, expected, redirect)
    }

    /// Serves the files under `root` to requests whose `Authorization`
    /// header is exactly `token` (a cargo registry token), 401 otherwise.
    pub fn files_with_token(root: &Path, token: &str) -> GitServer {
        let server = GitServer::serve_expecting(root, Some(token.to_owned()), None);
        server.static_files.store(true, Ordering::SeqCst);
        server
    }

    fn serve_expecting(
        root: &Path,
        expected: Option<String>,
        redirect: Option<String>,
    ) -> GitServer {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
        let port = listener.local_addr().expect("local address").port();
        let stop = Arc::new(AtomicBool::new(false));
        let log = Arc::new(Mutex::new(Vec::new()));
        let static_files = Arc::new(AtomicBool::new(false));
        let fail_with = Arc::new(AtomicU16::new(0));
        let state = Arc::new(State {
            fail_with: Arc::clone(&fail_with),
            root: root.to_owned(),
            expected,
            redirect,
            log: Arc::clone(&log),
            static_files: Arc::clone(&static_files),
        });
        let thread = {
            let stop = Arc::clone(&stop);
            std::thread::spawn(move || {
                let started = Instant::now();
                for stream in listener.incoming() {
                    if stop.load(Ordering::SeqCst) || started.elapsed() > LIFETIME {
                        break;
                    }
                    let Ok(stream) = stream else { continue };
                    let state = Arc::clone(&state);
                    std::thread::spawn(move || {
                        // A failed connection fails the client, which the
                        // test sees; the server goes on.
                        let _ = serve(&state, stream);
                    });
                }
            })
        };
        GitServer {
            port,
            static_files,
            fail_with,
            stop,
            thread: Some(thread),
            log,
        }
    }

    /// `http://127.0.0.1:PORT/<repo>`.
    pub fn url(&self, repo: &str) -> String {
        format!("http://127.0.0.1:{}/{repo}", self.port)
    }

    /// The requests served so far.
    pub fn requests(&self) -> Vec<Request> {
        self.log.lock().expect("log lock").clone()
    }
}

impl Drop for GitServer {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

#[derive(Debug)]
struct State {
    root: PathBuf,
    expected: Option<String>,
    redirect: Option<String>,
    log: Arc<Mutex<Vec<Request>>>,
    /// Serve files as they are instead of running git.
    static_files: Arc<AtomicBool>,
    /// Answer every request with this status (0: serve normally).
    fail_with: Arc<AtomicU16>,
}

fn serve(state: &State, stream: TcpStream) -> std::io::Result<()> {
    stream.set_read_timeout(Some(IO_TIMEOUT))?;
    stream.set_write_timeout(Some(IO_TIMEOUT))?;
    let mut reader = BufReader::new(stream.try_clone()?);
    let mut line = String::new();
    reader.read_line(&mut line)?;
    let mut parts = line.split_whitespace();
    let method = parts.next().unwrap_or("").to_owned();
    let target = parts.next().unwrap_or("").to_owned();
    let mut headers = Vec::new();
    loop {
        let mut header = String::new();
        if reader.read_line(&mut header)? == 0 {
            break;
        }
        let header = header.trim_end();
        if header.is_empty() {
            break;
        }
        if let Some((name, value)) = header.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let header = |name: &str| {
        headers
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, v)| v.clone())
    };
    let body = if header("transfer-encoding").is_some_and(|v| v.eq_ignore_ascii_case("chunked")) {
        read_chunked(&mut reader)?
    } else {
        let length: usize = header("content-length")
            .and_then(|v| v.parse().ok())
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body)?;
        body
    };
    let authorization = header("authorization");
    let basic = authorization
        .as_deref()
        .and_then(|a| a.strip_prefix("Basic "))
        .and_then(unbase64)
        .and_then(|d| String::from_utf8(d).ok());
    let user = basic
        .as_deref()
        .map(|d| d.split_once(':').map_or(d, |(u, _)| u).to_owned());
    let password = basic
        .as_deref()
        .and_then(|d| d.split_once(':'))
        .map(|(_, p)| p.to_owned());
    let (path, query) = target.split_once('?').unwrap_or((&target, ""));
    let mut stream = stream;
    let log = |status: u16| {
        state.log.lock().expect("log lock").push(Request {
            method: method.clone(),
            path: path.to_owned(),
            user: user.clone(),
            password: password.clone(),
            status,
        });
    };
    if let Some(expected) = &state.expected
        && authorization.as_deref() != Some(expected.as_str())
    {
        log(401);
        return stream.write_all(
            b"HTTP/1.1 401 Unauthorized\r\nWWW-Authenticate: Basic realm=\"plugins\"\r\n\
              Content-Length: 0\r\nConnection: close\r\n\r\n",
        );
    }
    if let Some(base) = &state.redirect {
        log(302);
        let location = if query.is_empty() {
            format!("{base}{path}")
        } else {
            format!("{base}{path}?{query}")
        };
        return stream.write_all(
            format!(
                "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\n\
                 Connection: close\r\n\r\n"
            )
            .as_bytes(),
        );
    }
    let failure = state.fail_with.load(Ordering::SeqCst);
    if failure != 0 {
        log(failure);
        return stream.write_all(
            format!("HTTP/1.1 {failure} Failure\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")
                .as_bytes(),
        );
    }
    if state.static_files.load(Ordering::SeqCst) {
        let relative = path.trim_start_matches('/');
        let file = state.root.join(relative);
        let safe = !relative.split('/').any(|p| p == ".." || p.is_empty());
        return match std::fs::read(&file) {
            Ok(bytes) if safe && method == "GET" && file.is_file() => {
                log(200);
                stream.write_all(
                    format!(
                        "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
                        bytes.len()
                    )
                    .as_bytes(),
                )?;
                stream.write_all(&bytes)
            }
            _ => {
                log(404);
                stream.write_all(
                    b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
                )
            }
        };
    }
    let mut cgi = Command::new("git");
    cgi.arg("http-backend")
        .env_clear()
        .env("PATH", std::env::var_os("PATH").unwrap_or_default())
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_CONFIG_GLOBAL", "/dev/null")
        .env("GIT_PROJECT_ROOT", &state.root)
        .env("GIT_HTTP_EXPORT_ALL", "1")
        .env("GATEWAY_INTERFACE", "CGI/1.1")
        .env("SERVER_PROTOCOL", "HTTP/1.1")
        .env("REQUEST_METHOD", &method)
        .env("PATH_INFO", path)
        .env("QUERY_STRING", query)
        .env("REMOTE_ADDR", "127.0.0.1")
        .env("CONTENT_LENGTH", body.len().to_string())
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null());
    if let Some(user) = &user {
        cgi.env("REMOTE_USER", user);
    }
    for (name, var) in [
        ("content-type", "CONTENT_TYPE"),
        ("content-encoding", "HTTP_CONTENT_ENCODING"),
        ("git-protocol", "HTTP_GIT_PROTOCOL"),
    ] {
        if let Some(value) = header(name) {
            cgi.env(var, value);
        }
    }
    let mut child = cgi.spawn()?;
    let mut stdin = child.stdin.take().expect("piped stdin");
    let writer = std::thread::spawn(move || stdin.write_all(&body));
    let output = child.wait_with_output()?;
    let _ = writer.join();
    let out = output.stdout;
    let split = out
        .windows(4)
        .position(|w| w == b"\r\n\r\n")
        .map(|i| (i, 4))
        .or_else(|| out.windows(2).position(|w| w == b"\n\n").map(|i| (i, 2)));
    let Some((end, gap)) = split else {
        log(500);
        return stream.write_all(
            b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
        );
    };
    let head = String::from_utf8_lossy(&out[..end]).into_owned();
    let body = &out[end + gap..];
    let mut status = 200;
    let mut response = Vec::new();
    for line in head.lines() {
        match line.split_once(':') {
            Some((name, value)) if name.eq_ignore_ascii_case("status") => {
                status = value
                    .split_whitespace()
                    .next()
                    .and_then(|s| s.parse().ok())
                    .unwrap_or(500);
            }
            Some(_) => {
                response.extend_from_slice(line.as_bytes());
                response.extend_from_slice(b"\r\n");
            }
            None => {}
        }
    }
    log(status);
    let mut all = format!("HTTP/1.1 {status} {}\r\n", reason(status)).into_bytes();
    all.extend_from_slice(&response);
    all.extend_from_slice(
        format!(
            "Content-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        )
        .as_bytes(),
    );
    all.extend_from_slice(body);
    stream.write_all(&all)?;
    stream.flush()
}

fn reason(status: u16) -> &'static str {
    match status {
        200 => "OK",
        401 => "Unauthorized",
        403 => "Forbidden",
        404 => "Not Found",
        _ => "Status",
    }
}

fn read_chunked(reader: &mut impl std::io::BufRead) -> std::io::Result<Vec<u8>> {
    let mut body = Vec::new();
    loop {
        let mut size = String::new();
        reader.read_line(&mut size)?;
        let size = usize::from_str_radix(size.trim().split(';').next().unwrap_or(""), 16)
            .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidData, e))?;
        let mut chunk = vec![0; size + 2];
        reader.read_exact(&mut chunk)?;
        chunk.truncate(size);
        if size == 0 {
            return Ok(body);
        }
        body.extend_from_slice(&chunk);
    }
}

const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

fn base64(bytes: &[u8]) -> String {
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn unbase64(text: &str) -> Option<Vec<u8>> {
    let mut bits = 0u32;
    let mut count = 0;
    let mut out = Vec::new();
    for c in text.bytes().filter(|&c| c != b'=') {
        let value = ALPHABET.iter().position(|&a| a == c)? as u32;
        bits = (bits << 6) | value;
        count += 6;
        if count >= 8 {
            count -= 8;
            out.push((bits >> count) as u8);
        }
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    #[test]
    fn base64_round_trips() {
        for text in ["", "a", "ab", "abc", "user:p@ss w0rd"] {
            let encoded = super::base64(text.as_bytes());
            assert_eq!(super::unbase64(&encoded).as_deref(), Some(text.as_bytes()));
        }
        assert_eq!(super::base64(b"user:pass"), "dXNlcjpwYXNz");
    }
}
