//! `gatehouse dev seed`: a synthetic but realistic population for tests and benchmarks —
//! names, emails on a few hundred domains, nested metadata with arrays, a share of blocked
//! and unverified users, creation dates over three years — written in bulk transactions.

use crate::StartError;
use crate::config::ServeConfig;
use gatehouse_core::connection::DEFAULT_DATABASE_CONNECTION;
use gatehouse_core::user::{DATABASE_PROVIDER, User};
use gatehouse_store::{ConnectionStore, Db, UserStore};
use serde_json::{Map, Value, json};
use std::time::Instant;

/// A small deterministic generator (SplitMix64): the same seed gives the same population.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 = self.0.wrapping_add(0x9E37_79B9_7F4A_7C15);
        let mut z = self.0;
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^ (z >> 31)
    }
    fn below(&mut self, n: u64) -> u64 {
        self.next() % n
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[self.below(items.len() as u64) as usize]
    }
    fn chance(&mut self, percent: u64) -> bool {
        self.below(100) < percent
    }
}

const FIRST: &[&str] = &[
    "James",
    "Mary",
    "Robert",
    "Patricia",
    "John",
    "Jennifer",
    "Michael",
    "Linda",
    "David",
    "Elizabeth",
    "William",
    "Barbara",
    "Richard",
    "Susan",
    "Joseph",
    "Jessica",
    "Thomas",
    "Sarah",
    "Charles",
    "Karen",
    "Lucas",
    "Emma",
    "Noah",
    "Olivia",
    "Liam",
    "Ava",
    "Mateo",
    "Sofia",
    "Hugo",
    "Chloe",
    "Yuki",
    "Hana",
    "Arjun",
    "Priya",
    "Wei",
    "Mei",
    "Omar",
    "Fatima",
    "Ivan",
    "Anna",
    "Lars",
    "Ingrid",
    "Pierre",
    "Camille",
    "Diego",
    "Lucia",
    "Kofi",
    "Amara",
    "Jonas",
    "Lena",
];
const LAST: &[&str] = &[
    "Smith",
    "Johnson",
    "Williams",
    "Brown",
    "Jones",
    "Garcia",
    "Miller",
    "Davis",
    "Rodriguez",
    "Martinez",
    "Hernandez",
    "Lopez",
    "Gonzalez",
    "Wilson",
    "Anderson",
    "Thomas",
    "Taylor",
    "Moore",
    "Jackson",
    "Martin",
    "Lee",
    "Perez",
    "Thompson",
    "White",
    "Harris",
    "Sanchez",
    "Clark",
    "Ramirez",
    "Lewis",
    "Robinson",
    "Walker",
    "Young",
    "Allen",
    "King",
    "Wright",
    "Scott",
    "Torres",
    "Nguyen",
    "Hill",
    "Flores",
    "Müller",
    "Schmidt",
    "Dubois",
    "Rossi",
    "Tanaka",
    "Suzuki",
    "Kowalski",
    "Novak",
    "Okafor",
    "Haddad",
];
const DOMAIN_WORDS: &[&str] = &[
    "acme",
    "globex",
    "initech",
    "umbrella",
    "hooli",
    "stark",
    "wayne",
    "wonka",
    "tyrell",
    "cyberdyne",
    "soylent",
    "vandelay",
    "gringotts",
    "oscorp",
    "aperture",
    "massive",
    "monarch",
    "pied",
    "dunder",
    "prestige",
];
const TLDS: &[&str] = &[
    "com", "org", "net", "io", "co.uk", "de", "fr", "jp", "com.br", "example", "dev", "app", "ca",
    "au", "nl",
];
const CITIES: &[&str] = &[
    "Paris", "Lyon", "Oslo", "Berlin", "Tokyo", "Lagos", "Lima", "Austin", "Toronto", "Sydney",
    "Madrid", "Seoul",
];
const PLANS: &[&str] = &["free", "pro", "gold", "enterprise"];
const ROLES: &[&str] = &["admin", "editor", "viewer", "billing", "support"];

/// The population's user number `i`, reproducible from `seed`.
fn synthetic_user(rng: &mut Rng, i: u64, connection_id: &str, now: i64) -> User {
    let first = rng.pick(FIRST);
    let last = rng.pick(LAST);
    // 20 words x 15 TLDs = 300 domains.
    let domain = format!("{}.{}", rng.pick(DOMAIN_WORDS), rng.pick(TLDS));
    let email = format!(
        "{}.{}.{i}@{domain}",
        first.to_lowercase(),
        last.to_lowercase()
    );
    let created_at = now - (rng.below(3 * 365 * 86_400) as i64) * 1000;
    let logins = rng.below(500) as i64;
    let mut app = Map::new();
    app.insert("customer_id".into(), json!(format!("cus_{i:08}")));
    app.insert("plan".into(), json!(rng.pick(PLANS)));
    app.insert("seats".into(), json!(rng.below(200)));
    let roles: Vec<&str> = (0..rng.below(3)).map(|_| rng.pick(ROLES)).collect();
    if !roles.is_empty() {
        app.insert("roles".into(), json!(roles));
    }
    if rng.chance(40) {
        app.insert(
            "subscription".into(),
            json!({"tier": rng.pick(&["monthly", "yearly"]), "renews": 2026 + rng.below(3)}),
        );
    }
    let mut user_meta = Map::new();
    let addresses: Vec<Value> = (0..1 + rng.below(2))
        .map(|_| json!({"city": rng.pick(CITIES), "zip": format!("{:05}", rng.below(99_999))}))
        .collect();
    user_meta.insert("addresses".into(), Value::Array(addresses));
    user_meta.insert("preferences".into(), json!({"theme": rng.pick(&["light", "dark"]), "language": rng.pick(&["en", "fr", "de", "ja"])}));
    User {
        user_id: format!("{DATABASE_PROVIDER}|seed{i:019}"),
        connection_id: connection_id.to_string(),
        connection: DEFAULT_DATABASE_CONNECTION.into(),
        provider: DATABASE_PROVIDER.into(),
        email: Some(email.clone()),
        email_verified: rng.chance(70),
        username: None,
        phone_number: rng
            .chance(20)
            .then(|| format!("+1{:010}", 2_000_000_000 + rng.below(7_999_999_999))),
        phone_verified: false,
        given_name: Some(first.into()),
        family_name: Some(last.into()),
        name: Some(format!("{first} {last}")),
        nickname: Some(email.split('@').next().unwrap_or_default().to_string()),
        picture: None,
        blocked: rng.chance(5).then_some(true),
        user_metadata: user_meta,
        app_metadata: app,
        created_at,
        updated_at: created_at,
        last_login: (logins > 0).then(|| created_at + (rng.below(86_400) as i64) * 1000),
        last_ip: (logins > 0).then(|| {
            format!(
                "10.{}.{}.{}",
                rng.below(256),
                rng.below(256),
                rng.below(256)
            )
        }),
        logins_count: logins,
        last_password_reset: None,
        password_set_date: Some(created_at),
        idp_attributes: Default::default(),
        linked_identities: vec![],
    }
}

/// Writes `count` users (starting at number `start`) into the database of `cfg`.
pub async fn seed(
    cfg: &ServeConfig,
    count: u64,
    start: u64,
    batch: usize,
    seed: u64,
) -> Result<(), StartError> {
    // Start once so that the tenant, connection and keys exist, then load in bulk.
    let mut once = cfg.clone();
    once.listen = "127.0.0.1:0".into();
    let running = crate::start(&once, std::future::ready(())).await?;
    running.stop().await;
    let db = Db::connect(&cfg.database_url).await?;
    let connection = ConnectionStore::new(db.clone())
        .get_by_name(
            gatehouse_service::DEFAULT_TENANT,
            DEFAULT_DATABASE_CONNECTION,
        )
        .await?
        .ok_or_else(|| {
            StartError::SecretKey(format!(
                "the {DEFAULT_DATABASE_CONNECTION} connection is missing"
            ))
        })?;
    let users = UserStore::new(db.clone());
    let hash = gatehouse_crypto::password::hash("Seeded-passw0rd!")
        .map_err(|e| StartError::SecretKey(e.to_string()))?;
    let now = gatehouse_service::now_millis();
    let began = Instant::now();
    let mut done = 0u64;
    while done < count {
        let n = (count - done).min(batch as u64);
        let page: Vec<User> = (start + done..start + done + n)
            .map(|i| {
                synthetic_user(
                    &mut Rng(seed ^ i.wrapping_mul(0x2545_F491_4F6C_DD1D)),
                    i,
                    &connection.id,
                    now,
                )
            })
            .collect();
        users
            .insert_many(gatehouse_service::DEFAULT_TENANT, &page, Some(&hash))
            .await?;
        done += n;
        if done % 50_000 < batch as u64 || done == count {
            let secs = began.elapsed().as_secs_f64();
            eprintln!(
                "seeded {done}/{count} users in {secs:.0} s ({:.0} users/s)",
                done as f64 / secs.max(0.001)
            );
        }
    }
    db.analyze().await?;
    eprintln!("analyzed in {:.0} s", began.elapsed().as_secs_f64());
    db.close().await;
    Ok(())
}
