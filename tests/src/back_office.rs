//! The back office over HTTP, as a browser uses it: a session on a running `admin` binary
//! (cookies kept, redirects not followed, the CSRF token read from the pages), and operators
//! created with the `admin` CLI.

use crate::Stage;

/// The back office's session on a running admin: cookies kept, redirects not followed, the
/// CSRF token read from the pages.
pub struct BackOffice {
    pub client: reqwest::Client,
    pub base: String,
    /// The session's CSRF token.
    pub csrf: String,
}

/// The value of the first form field `name` on a page (`name="…" value="…"`).
pub fn field_of(html: &str, name: &str) -> Option<String> {
    let marker = format!("name=\"{name}\" value=\"");
    let at = html.find(&marker)? + marker.len();
    html[at..].split('"').next().map(str::to_owned)
}

fn csrf_of(html: &str) -> String {
    field_of(html, "_csrf").expect("a CSRF token on the page")
}

impl BackOffice {
    /// Logs in through the login form (its CSRF token first) and reads the session's token.
    pub async fn login(base: String, user: &str, password: &str) -> BackOffice {
        let client = reqwest::Client::builder()
            .cookie_store(true)
            .redirect(reqwest::redirect::Policy::none())
            .build()
            .unwrap();
        let mut b = BackOffice {
            client,
            base,
            csrf: String::new(),
        };
        let form = b.get("/admin/login").await;
        let token = csrf_of(&form.1);
        let (status, body) = b
            .send(
                "/admin/login",
                &[
                    ("_csrf", &token),
                    ("username", user),
                    ("password", password),
                ],
            )
            .await;
        assert_eq!(status, 303, "login: {body}");
        let (status, home) = b.get("/admin/").await;
        assert_eq!(status, 200);
        b.csrf = csrf_of(&home);
        b
    }

    /// GET `path`: (status, body).
    pub async fn get(&self, path: &str) -> (u16, String) {
        let r = self
            .client
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// POSTs exactly `fields` as a form: (status, body).
    pub async fn send(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let r = self
            .client
            .post(format!("{}{path}", self.base))
            .form(fields)
            .send()
            .await
            .unwrap();
        (r.status().as_u16(), r.text().await.unwrap())
    }

    /// POSTs a button's form (with the CSRF token).
    pub async fn press(&self, path: &str) -> (u16, String) {
        self.submit(path, &[]).await
    }

    /// POSTs a form's `fields` with the session's CSRF token.
    pub async fn submit(&self, path: &str, fields: &[(&str, &str)]) -> (u16, String) {
        let mut all = vec![("_csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.send(path, &all).await
    }
}

/// `admin create-user` of `role` (password from stdin).
pub fn create_user(stage: &Stage, name: &str, role: &str, password: &str) {
    use std::io::Write;
    let mut child = std::process::Command::new(crate::binary("admin"))
        .args(["create-user", "--username", name, "--role", role])
        .env_clear()
        .envs(stage.env())
        .current_dir(std::env::temp_dir())
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run admin");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(format!("{password}\n").as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
}
