//! The back office over real HTTP against real MariaDB and RabbitMQ: the admin service runs
//! in-process on its own database and queue prefix; each test logs in like a browser (cookies,
//! CSRF tokens read from the forms) with seeded users of every role.

mod agiso;
mod auth;
mod callbacks;
mod cards;
mod config;
mod dashboard;
mod dead_letters;
mod orders;
mod pages;
mod products;
mod retention;
mod upserts;
mod users;

use common::testing::app::TestApp;

pub const PASSWORD: &str = "correct horse battery";

/// A running admin (the shared in-process [`TestApp`]: its own database and queue prefix) with
/// one user per role (`admin`, `operator`, `viewer`, password [`PASSWORD`]).
pub struct App {
    app: TestApp,
}

impl std::ops::Deref for App {
    type Target = TestApp;
    fn deref(&self) -> &TestApp {
        &self.app
    }
}

/// An HTTP answer.
pub struct Answer {
    pub status: u16,
    pub location: Option<String>,
    pub body: String,
    pub headers: reqwest::header::HeaderMap,
}

async fn build(env: common::config::Env) -> anyhow::Result<common::service::Service> {
    admin::build(admin::Config::from_env(&env)?).await
}

impl App {
    pub async fn start() -> App {
        App::start_with(&[]).await
    }

    pub async fn start_with(extra_env: &[(&str, &str)]) -> App {
        App::start_seeded(extra_env, true).await
    }

    /// A running admin on a database without any back-office user.
    pub async fn start_without_users() -> App {
        App::start_seeded(&[], false).await
    }

    async fn start_seeded(extra_env: &[(&str, &str)], seed_users: bool) -> App {
        let app = TestApp::start(extra_env, build).await;
        let hash = admin::password::hash(PASSWORD).unwrap();
        for role in common::domain::Role::ALL.into_iter().filter(|_| seed_users) {
            common::db::users::insert(&app.pool, role.as_str(), &hash, role)
                .await
                .unwrap();
        }
        App { app }
    }

    /// A second admin instance on the same database and settings (stopped with this one);
    /// returns its base URL.
    pub async fn replica(&self) -> String {
        self.app.replica(build).await
    }

    /// A browser without a session, on another instance.
    pub fn browser_at(&self, base: &str) -> Browser {
        Browser {
            base: base.to_owned(),
            ..self.browser()
        }
    }

    /// A browser without a session.
    pub fn browser(&self) -> Browser {
        Browser {
            client: reqwest::Client::builder()
                .cookie_store(true)
                .redirect(reqwest::redirect::Policy::none())
                .build()
                .unwrap(),
            base: self.base.clone(),
            csrf: String::new(),
        }
    }

    /// A browser logged in as `user` (one of the seeded roles).
    pub async fn login(&self, user: &str) -> Browser {
        let mut b = self.browser();
        let a = b.try_login(user, PASSWORD).await;
        assert_eq!(a.status, 303, "login as {user}: {}", a.body);
        let home = b.get("/admin/").await;
        assert_eq!(home.status, 200);
        b.csrf = csrf_of(&home.body).expect("csrf token on the page");
        b
    }

    pub async fn stop(self) {
        self.app.stop().await;
    }
}

pub fn csrf_of(html: &str) -> Option<String> {
    let at = html.find("name=\"_csrf\" value=\"")? + "name=\"_csrf\" value=\"".len();
    Some(html[at..].split('"').next()?.to_owned())
}

pub struct Browser {
    pub client: reqwest::Client,
    pub base: String,
    /// The session's CSRF token (empty before login).
    pub csrf: String,
}

async fn answer(r: reqwest::Response) -> Answer {
    let status = r.status().as_u16();
    let headers = r.headers().clone();
    let location = headers
        .get("location")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    Answer {
        status,
        location,
        body: r.text().await.unwrap_or_default(),
        headers,
    }
}

impl Browser {
    pub async fn get(&self, path: &str) -> Answer {
        answer(
            self.client
                .get(format!("{}{}", self.base, path))
                .send()
                .await
                .expect("GET"),
        )
        .await
    }

    /// POSTs a form with the session's CSRF token added.
    pub async fn post(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        let mut all: Vec<(&str, &str)> = vec![("_csrf", self.csrf.as_str())];
        all.extend_from_slice(fields);
        self.post_raw(path, &all).await
    }

    /// POSTs exactly these fields (no CSRF token added).
    pub async fn post_raw(&self, path: &str, fields: &[(&str, &str)]) -> Answer {
        answer(
            self.client
                .post(format!("{}{}", self.base, path))
                .form(fields)
                .send()
                .await
                .expect("POST"),
        )
        .await
    }

    pub async fn post_multipart(&self, path: &str, form: reqwest::multipart::Form) -> Answer {
        answer(
            self.client
                .post(format!("{}{}", self.base, path))
                .multipart(form)
                .send()
                .await
                .expect("POST multipart"),
        )
        .await
    }

    /// Submits the login form as a browser does (GET the form for its token, then POST).
    pub async fn try_login(&mut self, user: &str, password: &str) -> Answer {
        let form = self.get("/admin/login").await;
        assert_eq!(form.status, 200);
        let token = csrf_of(&form.body).expect("login form token");
        self.post_raw(
            "/admin/login",
            &[
                ("_csrf", &token),
                ("username", user),
                ("password", password),
            ],
        )
        .await
    }
}

/// Asserts the page holds none of the given secrets (keys, unmasked cards).
pub fn assert_no_secret(page: &str, secrets: &[&str]) {
    for s in secrets {
        assert!(!page.contains(s), "page leaks a secret: {s}");
    }
}
