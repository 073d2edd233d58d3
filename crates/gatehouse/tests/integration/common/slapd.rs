//! A throwaway OpenLDAP directory for tests: Debian's `slapd` started on 127.0.0.1 at a free
//! port, on an `mdb` database in a temporary directory loaded with `slapadd` from a generated
//! LDIF (people, nested groups, a service account, a password policy with a locked account).
//! Tests that need it run when `GATEHOUSE_TEST_SLAPD` names the `slapd` binary (`.ci/run`
//! installs Debian's `slapd` and sets it); without it they say so and return.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

pub const SUFFIX: &str = "dc=corp,dc=example";
pub const READER_DN: &str = "cn=reader,ou=service,dc=corp,dc=example";
pub const READER_PASSWORD: &str = "r3ader-Sëcret";

/// A person in the directory.
pub struct Person {
    pub uid: &'static str,
    pub given: &'static str,
    pub family: &'static str,
    pub mail: &'static str,
    pub password: &'static str,
    pub locked: bool,
}

/// A group and its members (people by uid, groups by name).
pub struct Group {
    pub name: &'static str,
    pub people: &'static [&'static str],
    pub groups: &'static [&'static str],
}

pub struct Slapd {
    child: Option<Child>,
    dir: PathBuf,
    pub url: String,
    pub port: u16,
}

/// The `slapd` binary tests may start, when the environment names one.
pub fn binary() -> Option<PathBuf> {
    match std::env::var("GATEHOUSE_TEST_SLAPD") {
        Ok(p) if !p.is_empty() => Some(PathBuf::from(p)),
        _ => {
            eprintln!(
                "skipped: GATEHOUSE_TEST_SLAPD is not set (it names Debian's slapd; .ci/run sets it)"
            );
            None
        }
    }
}

/// An LDIF line, base64 (`attr:: …`) when the value is not safe as it is (non-ASCII).
fn line(attr: &str, value: &str) -> String {
    use base64::Engine;
    if value.is_ascii() && !value.starts_with([' ', ':', '<']) {
        format!("{attr}: {value}\n")
    } else {
        format!(
            "{attr}:: {}\n",
            base64::engine::general_purpose::STANDARD.encode(value.as_bytes())
        )
    }
}

pub fn person_dn(uid: &str) -> String {
    format!("uid={uid},ou=people,{SUFFIX}")
}

pub fn group_dn(name: &str) -> String {
    format!("cn={name},ou=groups,{SUFFIX}")
}

fn seed(people: &[Person], groups: &[Group], filler: usize) -> String {
    let mut l = String::new();
    l += &format!(
        "dn: {SUFFIX}\nobjectClass: dcObject\nobjectClass: organization\ndc: corp\no: Corp Example\n\n"
    );
    for ou in ["people", "groups", "service", "policies"] {
        l += &format!("dn: ou={ou},{SUFFIX}\nobjectClass: organizationalUnit\nou: {ou}\n\n");
    }
    l += &format!(
        "dn: {READER_DN}\nobjectClass: organizationalRole\nobjectClass: simpleSecurityObject\ncn: reader\n"
    );
    l += &line("userPassword", READER_PASSWORD);
    l += "\n";
    l += &format!(
        "dn: cn=default,ou=policies,{SUFFIX}\nobjectClass: device\nobjectClass: pwdPolicy\ncn: default\npwdAttribute: userPassword\npwdLockout: TRUE\npwdMaxFailure: 0\n\n"
    );
    for p in people {
        l += &format!("dn: {}\n", person_dn(p.uid));
        l += "objectClass: inetOrgPerson\n";
        l += &line("uid", p.uid);
        l += &line("cn", &format!("{} {}", p.given, p.family));
        l += &line("displayName", &format!("{} {}", p.given, p.family));
        l += &line("givenName", p.given);
        l += &line("sn", p.family);
        l += &line("mail", p.mail);
        l += &line("userPassword", p.password);
        if p.locked {
            l += "pwdAccountLockedTime: 000001010000Z\n";
        }
        l += "\n";
    }
    // Others in the directory, with ids that do not sort in creation order.
    for i in 0..filler {
        let uid = format!("u{:08x}", (i as u32).wrapping_mul(2_654_435_761));
        l += &format!(
            "dn: {}\nobjectClass: inetOrgPerson\nuid: {uid}\ncn: Filler {i}\nsn: Filler\nmail: {uid}@corp.example\n\n",
            person_dn(&uid)
        );
    }
    for g in groups {
        l += &format!(
            "dn: {}\nobjectClass: groupOfNames\ncn: {}\n",
            group_dn(g.name),
            g.name
        );
        for uid in g.people {
            l += &format!("member: {}\n", person_dn(uid));
        }
        for inner in g.groups {
            l += &format!("member: {}\n", group_dn(inner));
        }
        l += "\n";
    }
    l
}

fn config(dir: &Path) -> String {
    let d = dir.display();
    format!(
        "include /etc/ldap/schema/core.schema
include /etc/ldap/schema/cosine.schema
include /etc/ldap/schema/inetorgperson.schema
include /etc/ldap/schema/nis.schema
pidfile {d}/slapd.pid
argsfile {d}/slapd.args
modulepath /usr/lib/ldap
moduleload back_mdb
moduleload ppolicy
database mdb
maxsize 67108864
suffix \"{SUFFIX}\"
rootdn \"cn=admin,{SUFFIX}\"
rootpw admin-{port_free_secret}
directory {d}/db
overlay ppolicy
ppolicy_default \"cn=default,ou=policies,{SUFFIX}\"
ppolicy_use_lockout
access to attrs=userPassword by anonymous auth by * none
access to * by dn.exact=\"{READER_DN}\" read by anonymous auth by * none
",
        port_free_secret = std::process::id()
    )
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

impl Slapd {
    /// A directory with these people and groups (and `filler` others), listening.
    pub async fn start(bin: &Path, people: &[Person], groups: &[Group], filler: usize) -> Self {
        let dir = std::env::temp_dir().join(format!(
            "gatehouse-slapd-{}-{}",
            std::process::id(),
            gatehouse_crypto::random::hex(6).expect("randomness")
        ));
        std::fs::create_dir_all(dir.join("db")).expect("slapd dir");
        std::fs::write(dir.join("slapd.conf"), config(&dir)).expect("slapd.conf");
        std::fs::File::create(dir.join("seed.ldif"))
            .and_then(|mut f| f.write_all(seed(people, groups, filler).as_bytes()))
            .expect("seed.ldif");
        let slapadd = bin.with_file_name("slapadd");
        let out = Command::new(&slapadd)
            .arg("-q")
            .arg("-f")
            .arg(dir.join("slapd.conf"))
            .arg("-l")
            .arg(dir.join("seed.ldif"))
            .output()
            .expect("slapadd runs");
        assert!(
            out.status.success(),
            "slapadd: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let port = free_port();
        let mut s = Slapd {
            child: None,
            dir,
            url: format!("ldap://127.0.0.1:{port}"),
            port,
        };
        s.run(bin).await;
        s
    }

    async fn run(&mut self, bin: &Path) {
        let log = std::fs::File::create(self.dir.join("slapd.log")).expect("slapd log");
        let child = Command::new(bin)
            .arg("-f")
            .arg(self.dir.join("slapd.conf"))
            .arg("-h")
            .arg(format!("ldap://127.0.0.1:{}/", self.port))
            .arg("-d")
            .arg("0")
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("slapd starts");
        self.child = Some(child);
        for _ in 0..100 {
            if tokio::net::TcpStream::connect(("127.0.0.1", self.port))
                .await
                .is_ok()
            {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        panic!(
            "slapd did not listen: {}",
            std::fs::read_to_string(self.dir.join("slapd.log")).unwrap_or_default()
        );
    }

    fn signal(&self, sig: &str) {
        if let Some(c) = &self.child {
            let _ = Command::new("kill")
                .arg(format!("-{sig}"))
                .arg(c.id().to_string())
                .status();
        }
    }

    /// Freezes the server (SIGSTOP): connections hang, as with a directory that stopped
    /// answering mid-conversation.
    pub fn freeze(&self) {
        self.signal("STOP");
    }

    pub fn thaw(&self) {
        self.signal("CONT");
    }

    /// Kills the server at once (SIGKILL).
    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// Starts it again on the same port and data.
    pub async fn restart(&mut self, bin: &Path) {
        self.kill();
        self.run(bin).await;
    }
}

impl Drop for Slapd {
    fn drop(&mut self) {
        self.thaw();
        self.kill();
        let _ = std::fs::remove_dir_all(&self.dir);
    }
}
