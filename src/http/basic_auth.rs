//! HTTP basic authentication against the bcrypt hashes of a web config file's `basic_auth_users`.
//!
//! bcrypt is slow by design (a cost of 10 takes tens of milliseconds, 12 a few hundred), and a
//! scraper sends the same credentials every few seconds, so a check that succeeded is
//! remembered, as the Prometheus exporter-toolkit does: by the SHA-256 of the user, the password
//! and the hash, never the password itself. A failed check is not remembered, so every wrong
//! password costs a full bcrypt. Checks run one at a time on the blocking pool: a burst of wrong
//! passwords keeps one core busy, never the server's own thread.

use std::collections::{BTreeMap, HashSet};
use std::sync::{Arc, Mutex, PoisonError};

use base64::Engine as _;

/// The most remembered successful checks; past it the memory starts again empty.
const MAX_REMEMBERED: usize = 256;

/// Compared against when the user is unknown, so that an unknown user costs a bcrypt as a known
/// one does and timing does not tell which users exist: an empty password hashed at cost 10
/// (made once, at the first unknown user).
fn unknown_user_hash() -> &'static str {
    static HASH: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    HASH.get_or_init(|| bcrypt::hash("", 10).unwrap_or_default())
}

/// The users and their bcrypt hashes, and the checks that succeeded.
pub struct BasicAuth {
    users: BTreeMap<String, String>,
    remembered: Mutex<HashSet<[u8; 32]>>,
    /// One bcrypt at a time.
    bcrypt_turn: tokio::sync::Semaphore,
}

impl std::fmt::Debug for BasicAuth {
    fn fmt(&self, formatter: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        formatter
            .debug_struct("BasicAuth")
            .field("users", &self.users.keys().collect::<Vec<_>>())
            .finish_non_exhaustive()
    }
}

impl BasicAuth {
    /// `users` maps each user name to a bcrypt hash (`$2y$`, `$2b$`, `$2a$`), already checked by
    /// [`check_hash`].
    pub fn new(users: BTreeMap<String, String>) -> BasicAuth {
        BasicAuth {
            users,
            remembered: Mutex::new(HashSet::new()),
            bcrypt_turn: tokio::sync::Semaphore::new(1),
        }
    }

    /// Whether an `Authorization` header value is `Basic <base64 of user:password>` with a user
    /// and password of the file.
    pub async fn allows(self: &Arc<Self>, authorization: Option<&[u8]>) -> bool {
        let Some((user, password)) = authorization.and_then(parse_basic) else {
            return false;
        };
        let known = self.users.get(&user).cloned();
        let key = known
            .as_deref()
            .map(|hash| remember_key(&user, &password, hash));
        if key.is_some_and(|key| self.lock_remembered().contains(&key)) {
            return true;
        }
        let Ok(_turn) = self.bcrypt_turn.acquire().await else {
            return false;
        };
        let verified = tokio::task::spawn_blocking(move || {
            let hash = known.as_deref().unwrap_or_else(|| unknown_user_hash());
            bcrypt::verify(password, hash)
        })
        .await
        .ok()
        .and_then(Result::ok)
        .unwrap_or(false);
        let Some(key) = key.filter(|_| verified) else {
            return false;
        };
        let mut remembered = self.lock_remembered();
        if remembered.len() >= MAX_REMEMBERED {
            remembered.clear();
        }
        remembered.insert(key);
        true
    }

    fn lock_remembered(&self) -> std::sync::MutexGuard<'_, HashSet<[u8; 32]>> {
        // A set of digests stays valid whatever panicked while it was held.
        self.remembered
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

/// Checks that `hash` is a bcrypt hash that [`BasicAuth`] can verify; the error says what is wrong.
pub fn check_hash(hash: &str) -> Result<(), String> {
    hash.parse::<bcrypt::HashParts>().map(|_| ()).map_err(|error| {
        format!(
            "not a bcrypt hash ({error}); write the output of `htpasswd -nBC 10 \"\" | tr -d ':\\n'`"
        )
    })
}

/// The user and password of `Basic <base64>`; the scheme is case-insensitive (RFC 7617).
fn parse_basic(value: &[u8]) -> Option<(String, String)> {
    let (scheme, credentials) = value.split_at_checked(6)?;
    if !scheme.eq_ignore_ascii_case(b"basic ") {
        return None;
    }
    let decoded = base64::engine::general_purpose::STANDARD
        .decode(credentials.trim_ascii())
        .ok()?;
    let decoded = String::from_utf8(decoded).ok()?;
    let (user, password) = decoded.split_once(':')?;
    Some((user.to_owned(), password.to_owned()))
}

fn remember_key(user: &str, password: &str, hash: &str) -> [u8; 32] {
    let mut context = ring::digest::Context::new(&ring::digest::SHA256);
    for part in [user, password, hash] {
        // Lengths first, so that ("ab", "c") and ("a", "bc") differ.
        context.update(&(part.len() as u64).to_le_bytes());
        context.update(part.as_bytes());
    }
    let mut key = [0_u8; 32];
    key.copy_from_slice(context.finish().as_ref());
    key
}

#[cfg(test)]
mod tests {
    use super::*;

    /// dave / dave123 and its hash, from prometheus/exporter-toolkit
    /// web/testdata/web_config_users_noTLS.good.yml (commit 95e8dd58ca4d33a8f6246e4712c25e8aeacece2e)
    /// and web/tls_config_test.go (commit 01a6720935e1ea6af3ccc0eee4ffcbea8d8d317f), where the
    /// toolkit's own test logs in with them.
    const DAVE_HASH: &str = "$2y$10$2UXri9cIDdgeKjBo4Rlpx.U3ZLDV8X1IxKmsfOvhcM5oXQt/mLmXq";

    fn basic(user_password: &str) -> Vec<u8> {
        format!(
            "Basic {}",
            base64::engine::general_purpose::STANDARD.encode(user_password)
        )
        .into_bytes()
    }

    #[tokio::test]
    async fn toolkit_credentials_pass_and_others_fail() {
        let auth = Arc::new(BasicAuth::new(BTreeMap::from([(
            "dave".to_owned(),
            DAVE_HASH.to_owned(),
        )])));
        for (header, allowed) in [
            (Some(basic("dave:dave123")), true),
            (Some(basic("dave:dave123")), true),
            (Some(b"basic ZGF2ZTpkYXZlMTIz".to_vec()), true),
            (Some(basic("dave:dave124")), false),
            (Some(basic("dave:")), false),
            (Some(basic("eve:dave123")), false),
            (Some(basic("davedave123")), false),
            (Some(b"Bearer dave123".to_vec()), false),
            (Some(b"Basic !!!".to_vec()), false),
            (None, false),
        ] {
            assert_eq!(
                auth.allows(header.as_deref()).await,
                allowed,
                "{:?}",
                header.map(String::from_utf8)
            );
        }
        assert_eq!(auth.lock_remembered().len(), 1, "one success remembered");
    }

    #[test]
    fn hashes_are_checked() {
        assert!(check_hash(DAVE_HASH).is_ok());
        assert!(check_hash(unknown_user_hash()).is_ok());
        let error = check_hash("dave123").unwrap_err();
        assert!(error.contains("htpasswd"), "{error}");
    }
}
