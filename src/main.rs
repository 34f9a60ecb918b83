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
    long_version = ironbox::boot::dhcp::options::LONG_VERSION,
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
    /// Run the built-in deploy agent (IPA-compatible; normally started by the ramdisk's
    /// /init). Settings come from the kernel command line unless given here.
    Agent {
        /// The appliance's API URL (instead of ipa-api-url=).
        #[arg(long)]
        api_url: Option<String>,
        /// Read the kernel command line from this file instead of /proc/cmdline.
        #[arg(long)]
        cmdline_file: Option<PathBuf>,
        /// Serve the agent API here (default 0.0.0.0:9999; port 0 picks one).
        #[arg(long)]
        listen: Option<std::net::SocketAddr>,
        /// Address to advertise in the callback URL (default: the route's source address).
        #[arg(long)]
        advertise_host: Option<String>,
        /// Look the node up with this MAC instead of the NICs' (repeatable).
        #[arg(long = "mac")]
        macs: Vec<String>,
        /// Treat this file or device as a disk instead of /sys/block (repeatable).
        #[arg(long = "disk")]
        disks: Vec<PathBuf>,
        /// power_off / run_image exit the process instead of powering off or rebooting.
        #[arg(long)]
        no_power: bool,
        /// Register UEFI boot entries in this directory instead of the firmware's efivarfs
        /// (the machine then counts as UEFI-booted if it exists).
        #[arg(long)]
        efivars: Option<PathBuf>,
        /// Write what `rescue.finalize_rescue` sets up (the rescue user's password) under
        /// this directory instead of / (tests).
        #[arg(long)]
        rescue_root: Option<PathBuf>,
    },
    /// Deploy ramdisk tools.
    Ramdisk {
        #[command(subcommand)]
        command: RamdiskCommand,
    },
}

#[derive(Subcommand)]
enum RamdiskCommand {
    /// Build <out>/ironbox-agent.kernel and <out>/ironbox-agent.initramfs (this binary as
    /// the agent, busybox, kernel modules).
    Build {
        #[arg(long)]
        kernel: PathBuf,
        /// Directory of .ko files with a modules.order (in it or its parent) giving load order.
        #[arg(long, conflicts_with = "modules_dir")]
        modules: Option<PathBuf>,
        /// A /lib/modules/<version> tree: common NIC and disk drivers and their dependencies.
        #[arg(long)]
        modules_dir: Option<PathBuf>,
        #[arg(long, default_value = "/bin/busybox")]
        busybox: PathBuf,
        /// The agent binary to include (default: this executable).
        #[arg(long)]
        agent: Option<PathBuf>,
        #[arg(long)]
        out: PathBuf,
    },
}

#[derive(Subcommand)]
enum ConfigCommand {
    /// Validate a configuration file without starting anything: every check `serve` makes
    /// before it touches the network (only the `[dhcp] interface` itself is left to `serve`).
    Check { file: PathBuf },
    /// Create an http_basic user file (bcrypt) holding USER with a generated password, and
    /// print the password. An existing file is never overwritten.
    Htpasswd {
        file: PathBuf,
        #[arg(long, default_value = "admin")]
        user: String,
    },
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
    /// Copy every table of the configured SQLite store into an empty PostgreSQL database
    /// (then set `[database] connection` to that URL). Stop ironbox first.
    MigrateTo {
        /// postgresql://USER:PASS@HOST:PORT/DB
        url: String,
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
        .with_writer(|| Masking(std::io::stderr()))
        .init();
}

/// A log writer behind the secret mask: a line never shows a URL password or a
/// `token=...`-style value, whatever error or field it quotes. The formatter writes each
/// event with one `write_all`, so a line is masked whole.
struct Masking<W>(W);

impl<W: std::io::Write> std::io::Write for Masking<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match std::str::from_utf8(buf) {
            Ok(line) => self
                .0
                .write_all(ironbox::model::secrets::mask_text(line).as_bytes())?,
            Err(_) => self.0.write_all(buf)?,
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
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
            init_logging(cfg.default.debug);
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
        Command::Config {
            command: ConfigCommand::Htpasswd { file, user },
        } => ironbox::config::htpasswd::create(&file, &user).map(|pw| println!("{pw}")),
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
        Command::Db {
            command: DbCommand::MigrateTo { url, config },
        } => load(config.as_ref()).and_then(|cfg| {
            init_logging(false);
            let copied = ironbox::app::migrate_to(&cfg, &url).map_err(|e| e.to_string())?;
            for (table, rows) in copied {
                println!("{table}: {rows} rows");
            }
            println!("copied; every table's row count matches");
            Ok(())
        }),
        Command::Agent {
            api_url,
            cmdline_file,
            listen,
            advertise_host,
            macs,
            disks,
            no_power,
            efivars,
            rescue_root,
        } => ironbox::agent::run(ironbox::agent::Options {
            api_url,
            cmdline_file,
            listen,
            advertise_host,
            macs,
            disks,
            no_power,
            efivars,
            rescue_root,
        })
        .map_err(|e| e.to_string()),
        Command::Ramdisk {
            command:
                RamdiskCommand::Build {
                    kernel,
                    modules,
                    modules_dir,
                    busybox,
                    agent,
                    out,
                },
        } => ironbox::agent::ramdisk::build(&ironbox::agent::ramdisk::BuildOptions {
            kernel,
            modules,
            modules_dir,
            busybox,
            agent,
            out,
        })
        .map(|b| {
            println!(
                "{}\n{} ({} entries, modules: {})",
                b.kernel.display(),
                b.initramfs.display(),
                b.entries,
                b.modules.join(" ")
            )
        })
        .map_err(|e| e.to_string()),
    };
    match result {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("ironbox: {e}");
            ExitCode::FAILURE
        }
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write;

    #[test]
    fn log_lines_are_masked() {
        let mut w = super::Masking(Vec::new());
        w.write_all(b"WARN power failed error=GET http://root:hunter2@bmc/x token=abc\n")
            .unwrap();
        assert_eq!(
            String::from_utf8(w.0).unwrap(),
            "WARN power failed error=GET http://root:******@bmc/x token=******\n"
        );
    }
}
