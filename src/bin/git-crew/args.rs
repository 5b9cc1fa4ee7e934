//! Command-line arguments (clap definitions only).

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

/// git-crew: a coordination layer for teams of AI agents and humans, on a git branch.
#[derive(Parser, Debug)]
#[command(name = "git-crew", bin_name = "git crew", version, about, long_about = None)]
pub struct Cli {
    /// Run as if started in PATH.
    #[arg(short = 'C', global = true, value_name = "PATH")]
    pub dir: Option<PathBuf>,
    /// Act as this actor (default: CREW_AS, then git config crew.as, then the only local key).
    #[arg(long = "as", global = true, env = "CREW_AS", value_name = "NAME")]
    pub actor: Option<String>,
    /// Machine-readable JSON output on stdout (errors as JSON on stderr).
    #[arg(long, global = true)]
    pub json: bool,
    /// The workspace branch (default: CREW_BRANCH, then git config crew.branch, then `crew`).
    #[arg(long, global = true, env = "CREW_BRANCH", value_name = "NAME")]
    pub branch: Option<String>,
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
}

/// Top-level commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a workspace on the branch, with you as its first admin.
    Init(InitArgs),
    /// Identities: admit, list and show actors.
    #[command(subcommand)]
    Id(IdCommand),
    /// Tasks: add, list and show.
    #[command(subcommand)]
    Task(TaskCommand),
    /// Records on the branch, newest first.
    Log(LogArgs),
    /// Verify the whole history of the branch: signatures, authority, append-only.
    Verify(VerifyArgs),
    /// Run a scripted demo in a throwaway workspace and show the result.
    Demo(DemoArgs),
    /// Configure this clone: the merge driver and the client hooks (or, with
    /// --server, the pre-receive hook of a server repository).
    Install(InstallArgs),
    /// Fetch, verify, merge and push the workspace branch through a remote.
    Sync(SyncArgs),
    /// The git merge driver for log files: `git-crew merge-driver %O %A %B %P`.
    #[command(name = "merge-driver")]
    MergeDriver(MergeDriverArgs),
    /// Run a git hook (the shims in hooks/ call this).
    Hook(HookArgs),
}

/// `install`.
#[derive(Args, Debug)]
pub struct InstallArgs {
    /// Install the server-side hook (pre-receive) instead of the client hooks.
    #[arg(long)]
    pub server: bool,
}

/// `sync`.
#[derive(Args, Debug)]
pub struct SyncArgs {
    /// A remote name or URL (default: origin).
    pub remote: Option<String>,
}

/// `merge-driver`.
#[derive(Args, Debug)]
pub struct MergeDriverArgs {
    /// %O: the common ancestor's version.
    pub base: PathBuf,
    /// %A: our version; the merged result is written here.
    pub ours: PathBuf,
    /// %B: their version.
    pub theirs: PathBuf,
    /// %P: the path being merged.
    pub path: String,
}

/// `hook`.
#[derive(Args, Debug)]
pub struct HookArgs {
    /// commit-msg, post-commit, pre-push or pre-receive.
    pub name: String,
    /// The arguments git passed to the hook.
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<String>,
}

/// `init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Name of the first admin (default: --as, then $USER).
    #[arg(long, value_name = "NAME")]
    pub admin: Option<String>,
    /// Human-readable workspace name (default: the repository's directory name).
    #[arg(long, value_name = "TEXT")]
    pub name: Option<String>,
}

/// `id …`.
#[derive(Subcommand, Debug)]
pub enum IdCommand {
    /// Admit a new actor whose key is generated on this machine (admin only).
    New {
        /// The new actor's name.
        name: String,
        /// admin, human or agent.
        #[arg(long, default_value = "agent")]
        role: String,
        /// For an agent: the human who answers for it (default: you).
        #[arg(long, value_name = "NAME")]
        owner: Option<String>,
    },
    /// List actors.
    List,
    /// Show one actor.
    Show {
        /// The actor.
        name: String,
    },
}

/// `task …`.
#[derive(Subcommand, Debug)]
pub enum TaskCommand {
    /// Add a task.
    Add {
        /// One-line title.
        title: String,
        /// Longer description.
        #[arg(long)]
        body: Option<String>,
        /// A label (repeatable).
        #[arg(long = "label", value_name = "LABEL")]
        labels: Vec<String>,
        /// 0 (most urgent) to 4.
        #[arg(long, value_parser = clap::value_parser!(u8).range(0..=4))]
        priority: Option<u8>,
    },
    /// List tasks, most urgent first.
    List {
        /// Only tasks with this label.
        #[arg(long)]
        label: Option<String>,
    },
    /// Show a task and its history.
    Show {
        /// Task id or unique prefix.
        id: String,
    },
}

/// `log`.
#[derive(Args, Debug)]
pub struct LogArgs {
    /// Show at most N records.
    #[arg(short = 'n', long = "max-count", value_name = "N")]
    pub max: Option<usize>,
    /// Only records by this actor.
    #[arg(long)]
    pub author: Option<String>,
    /// Only records of this kind (e.g. task.create), or kind prefix ending in `.` (task.).
    #[arg(long)]
    pub kind: Option<String>,
}

/// `verify`.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Report every failure instead of stopping at the first.
    #[arg(long)]
    pub all: bool,
}

/// `demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Keep the demo workspace in DIR (must not exist or be empty) instead of deleting it.
    #[arg(long, value_name = "DIR")]
    pub keep: Option<PathBuf>,
}
