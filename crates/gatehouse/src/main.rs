//! `gatehouse`: the command-line entry point.

use clap::{Parser, Subcommand};
use gatehouse::config::ServeConfig;
use std::process::ExitCode;
use tracing_subscriber::EnvFilter;

#[derive(Parser)]
#[command(
    name = "gatehouse",
    version,
    about = "Identity and user management that speaks Auth0's APIs"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the server (migrates the database and bootstraps the tenant first).
    Serve(ServeConfig),
    /// Import users from a file in Auth0's import format (or NDJSON) into a connection.
    Import(gatehouse::bulk::ImportArgs),
    /// Export users (all, a connection's, or a search's results) to stdout.
    Export(gatehouse::bulk::ExportArgs),
    /// Convert another provider's user export to Auth0's import format (stdout).
    Convert(gatehouse::bulk::ConvertArgs),
    /// Developer tools.
    Dev {
        #[command(subcommand)]
        command: DevCommand,
    },
}

#[derive(Subcommand)]
enum DevCommand {
    /// Write a synthetic population of users (for tests and benchmarks).
    Seed {
        /// How many users to write.
        #[arg(long, default_value_t = 10_000)]
        users: u64,
        /// Number of the first user (to add to an existing population).
        #[arg(long, default_value_t = 0)]
        start: u64,
        /// Users per transaction.
        #[arg(long, default_value_t = 2_000)]
        batch: usize,
        /// Seed of the generator: the same seed writes the same users.
        #[arg(long, default_value_t = 42)]
        seed: u64,
        #[command(flatten)]
        server: ServeConfig,
    },
    /// Print the database's plan for a user search query (e.g. `--q 'email:jane@example.com'`).
    Explain {
        #[arg(long)]
        q: String,
        #[command(flatten)]
        server: ServeConfig,
    },
}

fn init_logging() {
    let filter =
        EnvFilter::try_from_env("GATEHOUSE_LOG").unwrap_or_else(|_| EnvFilter::new("info"));
    let json = std::env::var("GATEHOUSE_LOG_FORMAT").is_ok_and(|f| f.eq_ignore_ascii_case("json"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_target(false)
        .with_writer(std::io::stderr);
    if json {
        builder.json().flatten_event(true).init();
    } else {
        builder.init();
    }
}

async fn shutdown_signal() {
    let ctrl_c = async {
        let _ = tokio::signal::ctrl_c().await;
    };
    #[cfg(unix)]
    let term = async {
        match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
            Ok(mut s) => {
                s.recv().await;
            }
            Err(_) => std::future::pending::<()>().await,
        }
    };
    #[cfg(not(unix))]
    let term = std::future::pending::<()>();
    tokio::select! { _ = ctrl_c => {}, _ = term => {} }
}

#[tokio::main]
async fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging();
    match cli.command {
        Command::Import(args) => match gatehouse::bulk::import(args).await {
            Ok(job) if job["status"] == "completed" => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("gatehouse: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Export(args) => match gatehouse::bulk::export(args).await {
            Ok(job) if job["status"] == "completed" => ExitCode::SUCCESS,
            Ok(_) => ExitCode::FAILURE,
            Err(e) => {
                eprintln!("gatehouse: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Convert(args) => match gatehouse::bulk::convert(args) {
            Ok(_) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gatehouse: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Dev {
            command:
                DevCommand::Seed {
                    users,
                    start,
                    batch,
                    seed,
                    server,
                },
        } => match gatehouse::seed::seed(&server, users, start, batch.max(1), seed).await {
            Ok(()) => ExitCode::SUCCESS,
            Err(e) => {
                eprintln!("gatehouse: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Dev {
            command: DevCommand::Explain { q, server },
        } => match gatehouse::explain::explain(&server, &q).await {
            Ok(lines) => {
                for l in lines {
                    println!("{l}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("gatehouse: {e}");
                ExitCode::FAILURE
            }
        },
        Command::Serve(cfg) => {
            let running = match gatehouse::start(&cfg, shutdown_signal()).await {
                Ok(r) => r,
                Err(e) => {
                    eprintln!("gatehouse: {e}");
                    return ExitCode::FAILURE;
                }
            };
            print_banner(&running, cfg.bootstrap_admin_email.as_deref());
            match running.wait().await {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("gatehouse: {e}");
                    ExitCode::FAILURE
                }
            }
        }
    }
}

/// What an operator needs to start using the server, on standard output (not the log).
fn print_banner(r: &gatehouse::Running, admin_email: Option<&str>) {
    let url = &r.public_url;
    println!("\nGatehouse is running at {url}/");
    println!(
        "  Management API: {url}/api/v2/   OpenID configuration: {url}/.well-known/openid-configuration"
    );
    match admin_email {
        Some(email) => println!("  Admin dashboard: {url}/admin   (sign in as {email})"),
        None => println!(
            "  Admin dashboard: {url}/admin   (to sign in, start with GATEHOUSE_BOOTSTRAP_ADMIN_EMAIL and GATEHOUSE_BOOTSTRAP_ADMIN_PASSWORD set)"
        ),
    }
    match &r.generated_client {
        Some(c) => {
            println!("\nA Management API client was created. Its secret is shown only this once:");
            println!("  client_id:     {}", c.client_id);
            println!("  client_secret: {}", c.client_secret);
            println!("\nGet a Management API token:");
            println!(
                "  curl -s {url}/oauth/token -H 'content-type: application/json' -d '{{\"grant_type\":\"client_credentials\",\"client_id\":\"{}\",\"client_secret\":\"{}\",\"audience\":\"{url}/api/v2/\"}}'",
                c.client_id, c.client_secret
            );
        }
        None => {
            println!(
                "\nGet a Management API token with the client credentials printed at first start"
            );
            println!(
                "(or set GATEHOUSE_BOOTSTRAP_CLIENT_ID and GATEHOUSE_BOOTSTRAP_CLIENT_SECRET):"
            );
            println!(
                "  curl -s {url}/oauth/token -H 'content-type: application/json' -d '{{\"grant_type\":\"client_credentials\",\"client_id\":\"<id>\",\"client_secret\":\"<secret>\",\"audience\":\"{url}/api/v2/\"}}'"
            );
        }
    }
    println!();
}
