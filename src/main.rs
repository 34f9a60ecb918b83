//! The `ironbox` command line. The only place that prints usage or exits the process.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ironbox::config::Config;
use tokio_util::sync::CancellationToken;

#[derive(Parser)]
#[command(
    name = "ironbox",
    version,
    about = "A single-binary bare-metal provisioning appliance with OpenStack Ironic's API"
)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Run the appliance (API, conductor). Without --config: API on 127.0.0.1:6385, noauth,
    /// data in ./ironbox-data.
    Serve {
        /// An ironic.toml file (see ironic.toml.example).
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
    /// Configuration tools.
    Config {
        #[command(subcommand)]
        command: ConfigCommand,
    },
    /// Database tools.
    Db {
        #[command(subcommand)]
        command: DbCommand,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file without starting anything.
    Check { file: PathBuf },
}

#[derive(Subcommand)]
enum DbCommand {
    /// Write a consistent copy of the database (safe while ironbox runs).
    Backup {
        /// Destination file (must not exist).
        path: PathBuf,
        #[arg(long, short)]
        config: Option<PathBuf>,
    },
}

fn load(path: Option<&PathBuf>) -> Result<Config, String> {
    match path {
        Some(p) => Config::load(p).map_err(|e| e.to_string()),
        None => Config::defaults().map_err(|e| e.to_string()),
    }
}

fn init_logging(debug: bool) {
    let default = if debug {
        "debug"
    } else {
        "info,actix_server=warn"
    };
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new(default));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn runtime() -> Result<tokio::runtime::Runtime, String> {
    tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .map_err(|e| format!("cannot start the runtime: {e}"))
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let result = match cli.command {
        Command::Serve { config } => load(config.as_ref()).and_then(|cfg| {
            init_logging(cfg.file.default.debug);
            runtime()?
                .block_on(ironbox::app::run(cfg, CancellationToken::new()))
                .map_err(|e| e.to_string())
        }),
        Command::Config {
            command: ConfigCommand::Check { file },
        } => load(Some(&file)).and_then(|cfg| {
            ironbox::app::prepare(&cfg).map_err(|e| e.to_string())?;
            println!("{}: OK", file.display());
            Ok(())
        }),
        Command::Db {
            command: DbCommand::Backup { path, config },
        } => load(config.as_ref()).and_then(|cfg| {
            init_logging(false);
            runtime()?
                .block_on(ironbox::app::backup(&cfg, &path))
                .map_err(|e| e.to_string())?;
            println!("backup written to {}", path.display());
            Ok(())
        }),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ironbox: {e}");
            ExitCode::FAILURE
        }
    }
}
