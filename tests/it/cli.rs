//! The CLI contract: init, identities, tasks, log, the index cache, and bad
//! input with its exit codes.

use crate::common::World;

#[test]
fn init_in_a_repo_without_commits_then_refuses_a_second_init() {
    let w = World::new();
    let dir = w.repo("r");
    let out = w.crew_json(&dir, &["init", "--admin", "alice"]);
    assert_eq!(out["admin"], "alice");
    assert_eq!(out["branch"], "crew");
    let tip = w.tip(&dir, "crew").expect("branch created");
    // HEAD and the work tree are untouched: still an unborn main.
    assert!(w.git_output(&dir, &["rev-parse", "--verify", "-q", "HEAD"]).status.code() != Some(0));
    assert_eq!(w.git(&dir, &["config", "merge.crew.driver"]).trim(), "git-crew merge-driver %O %A %B %P");
    let again = w.crew(&dir, &["init", "--admin", "bob"]);
    assert_eq!(again.code, 1, "{}", again.stderr);
    assert!(again.stderr.contains("already holds a workspace"), "{}", again.stderr);
    assert_eq!(w.tip(&dir, "crew").unwrap(), tip, "a second init changes nothing");
    assert!(!w.keys().path(&out["workspace"].as_str().unwrap().parse().unwrap(), "bob").exists());
}

#[test]
fn init_in_a_repo_with_commits_leaves_head_alone() {
    let w = World::new();
    let dir = w.repo("r");
    std::fs::write(dir.join("README"), "hi\n").unwrap();
    w.git(&dir, &["add", "README"]);
    w.git(&dir, &["commit", "-q", "-m", "first"]);
    let head = w.git(&dir, &["rev-parse", "HEAD"]);
    w.crew_ok(&dir, &["init", "--admin", "alice"]);
    assert_eq!(w.git(&dir, &["rev-parse", "HEAD"]), head);
    assert_eq!(w.git(&dir, &["status", "--porcelain"]), "");
    let files = w.git(&dir, &["ls-tree", "-r", "--name-only", "crew"]);
    assert_eq!(files, ".gitattributes\nCREW.yaml\n");
    assert_eq!(w.git(&dir, &["show", "crew:.gitattributes"]), "* -text\n*.yaml merge=crew\n");
    let log = w.git(&dir, &["log", "--format=%an <%ae>|%s", "crew"]);
    assert!(log.starts_with("alice <alice@crew>|crew.genesis "), "{log}");
}

#[test]
fn outside_a_git_repository_is_a_clear_error() {
    let w = World::new();
    let dir = w.path("plain");
    std::fs::create_dir_all(&dir).unwrap();
    for args in [&["init"][..], &["task", "list"][..], &["verify"][..]] {
        let run = w.crew(&dir, args);
        assert_eq!(run.code, 1, "{args:?}: {}", run.stderr);
        assert!(run.stderr.contains("not in a git repository"), "{}", run.stderr);
    }
}

#[test]
fn a_branch_without_workspace_says_so() {
    let w = World::new();
    let dir = w.repo("r");
    let run = w.crew(&dir, &["task", "list"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("git crew init"), "{}", run.stderr);
    let run = w.crew(&dir, &["--json", "task", "list"]);
    let err: serde_json::Value = serde_json::from_str(run.stderr.trim()).expect("JSON error on stderr");
    assert_eq!(err["error"]["exit"], 1);
    assert!(run.stdout.is_empty());
}

#[test]
fn identities_are_admitted_by_admins_only() {
    let w = World::new();
    let (dir, ws) = w.workspace("r");
    let out = w.crew_json(&dir, &["id", "new", "bob", "--role", "agent"]);
    assert_eq!(out["record"]["kind"], "actor.admit");
    assert_eq!(out["record"]["fields"]["owner"], "alice", "an agent's owner defaults to the admitting human");
    assert!(w.keys().has(&ws, "bob"));
    w.crew_ok(&dir, &["id", "new", "carol", "--role", "human"]);

    let list = w.crew_json(&dir, &["id", "list"]);
    let names: Vec<&str> = list.as_array().unwrap().iter().map(|a| a["name"].as_str().unwrap()).collect();
    assert_eq!(names, ["alice", "bob", "carol"]);
    let bob = w.crew_json(&dir, &["id", "show", "bob"]);
    assert_eq!(bob["role"], "agent");
    assert_eq!(bob["local_key"], true);

    let before = w.tip(&dir, "crew");
    let run = w.crew(&dir, &["--as", "bob", "id", "new", "eve", "--role", "agent"]);
    assert_eq!(run.code, 1, "{}", run.stderr);
    assert!(run.stderr.contains("admin only"), "{}", run.stderr);
    assert!(!w.keys().has(&ws, "eve"), "the refused actor's key is not left behind");
    let run = w.crew(&dir, &["id", "new", "bob", "--role", "agent"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("already exists"), "{}", run.stderr);
    let run = w.crew(&dir, &["id", "new", "Bad Name"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("invalid actor name"), "{}", run.stderr);
    let run = w.crew(&dir, &["id", "new", "dave", "--role", "boss"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("unknown role"), "{}", run.stderr);
    assert_eq!(w.tip(&dir, "crew"), before, "refusals write nothing");
}

#[test]
fn tasks_are_added_listed_and_shown() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    w.agent(&dir, "bob");
    let a = w.crew_json(
        &dir,
        &["task", "add", "Fix login", "--body", "It loops.\nTwice.", "--label", "auth", "--priority", "1"],
    )["record"]
        .clone();
    let b = w.crew_json(&dir, &["--as", "bob", "task", "add", "Write docs"])["record"].clone();
    assert_eq!(a["kind"], "task.create");
    assert_eq!(a["fields"]["body"], "It loops.\nTwice.");
    assert_eq!(b["author"], "bob");

    let list = w.crew_json(&dir, &["task", "list"]);
    let titles: Vec<&str> = list.as_array().unwrap().iter().map(|t| t["title"].as_str().unwrap()).collect();
    assert_eq!(titles, ["Fix login", "Write docs"], "most urgent first");
    assert_eq!(w.crew_json(&dir, &["task", "list", "--label", "auth"]).as_array().unwrap().len(), 1);

    let id = a["id"].as_str().unwrap();
    let show = w.crew_json(&dir, &["task", "show", &id[..6]]);
    assert_eq!(show["task"]["id"], id);
    assert_eq!(show["history"].as_array().unwrap().len(), 1);
    let human = w.crew_ok(&dir, &["task", "show", &id[..8]]);
    assert!(human.contains("Fix login") && human.contains("It loops."), "{human}");

    let msg = w.git(&dir, &["log", "-1", "--format=%an <%ae>|%s", "crew"]);
    assert_eq!(msg.trim(), format!("bob <bob@crew>|task.create {} \"Write docs\"", &b["id"].as_str().unwrap()[..8]));
    let file = w.git(&dir, &["show", &format!("crew:tasks/{}/{}.yaml", &id[..2], id)]);
    assert!(file.contains("title: \"Fix login\"\n") && file.contains("body: \"It loops.\\nTwice.\"\n"), "{file}");
}

#[test]
fn bad_task_input_is_refused_and_writes_nothing() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    let before = w.tip(&dir, "crew");
    let run = w.crew(&dir, &["task", "add", "x", "--priority", "9"]);
    assert_eq!(run.code, 2, "usage error: {}", run.stderr);
    let run = w.crew(&dir, &["task", "add", "   "]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("title"), "{}", run.stderr);
    let run = w.crew(&dir, &["task", "add", "ok", "--label", "two words"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("labels"), "{}", run.stderr);
    let run = w.crew(&dir, &["task", "add", &"x".repeat(70_000)]);
    assert_eq!(run.code, 1);
    let run = w.crew(&dir, &["task", "frobnicate"]);
    assert_eq!(run.code, 2);
    assert_eq!(w.tip(&dir, "crew"), before);
}

#[test]
fn unknown_actor_and_actor_without_local_key_are_refused() {
    let w = World::new();
    let (dir, ws) = w.workspace("r");
    w.agent(&dir, "bob");
    let before = w.tip(&dir, "crew");
    let run = w.crew(&dir, &["--as", "nobody", "task", "add", "x"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("unknown actor \"nobody\""), "{}", run.stderr);
    std::fs::remove_file(w.keys().path(&ws, "bob")).unwrap();
    let run = w.crew(&dir, &["--as", "bob", "task", "add", "x"]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no private key for \"bob\""), "{}", run.stderr);
    // CREW_AS works like --as.
    let mut cmd = w.crew_cmd(&dir, &["task", "add", "x"]);
    let out = cmd.env("CREW_AS", "nobody").output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(w.tip(&dir, "crew"), before);
}

#[test]
fn ids_are_accepted_as_unique_prefixes_and_ambiguity_lists_candidates() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    // 17 tasks guarantee two share a first hex digit.
    let ids: Vec<String> = (0..17)
        .map(|i| w.crew_json(&dir, &["task", "add", &format!("t{i}")])["record"]["id"].as_str().unwrap().to_owned())
        .collect();
    let digit = (0..16)
        .map(|d| format!("{d:x}"))
        .find(|d| ids.iter().filter(|id| id.starts_with(d.as_str())).count() > 1)
        .unwrap();
    let run = w.crew(&dir, &["task", "show", &digit]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("ambiguous"), "{}", run.stderr);
    for id in ids.iter().filter(|id| id.starts_with(digit.as_str())) {
        assert!(run.stderr.contains(&id[..8]), "candidate {id} listed: {}", run.stderr);
    }
    let run = w.crew(&dir, &["task", "show", "zz"]);
    assert_eq!(run.code, 1);
    let run = w.crew(&dir, &["task", "show", &"0".repeat(64)]);
    assert_eq!(run.code, 1);
    assert!(run.stderr.contains("no task matches"), "{}", run.stderr);
}

#[test]
fn log_filters_by_author_and_kind() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    w.agent(&dir, "bob");
    w.crew_ok(&dir, &["--as", "bob", "task", "add", "one"]);
    w.crew_ok(&dir, &["task", "add", "two"]);
    let all = w.crew_json(&dir, &["log"]);
    let kinds: Vec<&str> = all.as_array().unwrap().iter().map(|r| r["kind"].as_str().unwrap()).collect();
    assert_eq!(kinds, ["task.create", "task.create", "actor.admit", "crew.genesis"], "newest first");
    let bobs = w.crew_json(&dir, &["log", "--author", "bob"]);
    assert_eq!(bobs.as_array().unwrap().len(), 1);
    assert_eq!(w.crew_json(&dir, &["log", "--kind", "task."]).as_array().unwrap().len(), 2);
    assert_eq!(w.crew_json(&dir, &["log", "-n", "1"]).as_array().unwrap().len(), 1);
}

#[test]
fn the_index_cache_is_only_an_optimisation() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    for i in 0..5 {
        w.crew_ok(&dir, &["task", "add", &format!("task {i}")]);
    }
    let warm = w.crew_ok(&dir, &["--json", "task", "list"]);
    let cache = dir.join(".git/crew/cache");
    assert!(cache.is_dir(), "the index lives under .git/crew");
    std::fs::remove_dir_all(&cache).unwrap();
    assert_eq!(w.crew_ok(&dir, &["--json", "task", "list"]), warm, "deleting the cache changes no output");
    // Corrupt every cache file: it is rebuilt, not trusted.
    for entry in walk(&cache) {
        let mut bytes = std::fs::read(&entry).unwrap();
        if let Some(b) = bytes.get_mut(60) {
            *b ^= 0xff;
        }
        std::fs::write(&entry, bytes).unwrap();
    }
    assert_eq!(w.crew_ok(&dir, &["--json", "task", "list"]), warm, "a corrupt cache is rebuilt");
    // A write made behind the cache's back (another process) is picked up incrementally.
    w.crew_ok(&dir, &["task", "add", "later"]);
    let list = w.crew_json(&dir, &["task", "list"]);
    assert_eq!(list.as_array().unwrap().len(), 6);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    walkdir::WalkDir::new(dir)
        .into_iter()
        .flatten()
        .filter(|e| e.file_type().is_file())
        .map(|e| e.into_path())
        .collect()
}

#[test]
fn a_malformed_record_on_the_branch_is_reported_not_trusted() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    let id = w.crew_json(&dir, &["task", "add", "victim"])["record"]["id"].as_str().unwrap().to_owned();
    let wt = w.worktree(&dir);
    let path = wt.join(format!("tasks/{}/{id}.yaml", &id[..2]));
    let text = std::fs::read_to_string(&path).unwrap().replace("victim", "victin");
    std::fs::write(&path, text).unwrap();
    w.commit_all(&wt, "edit a record by hand");
    std::fs::remove_dir_all(dir.join(".git/crew/cache")).unwrap();
    let run = w.crew(&dir, &["task", "list"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("signature does not verify"), "{}", run.stderr);
    assert!(run.stderr.contains(&format!("tasks/{}/{id}.yaml", &id[..2])), "{}", run.stderr);
}

#[test]
fn another_branch_name_holds_another_workspace() {
    let w = World::new();
    let dir = w.repo("r");
    w.crew_ok(&dir, &["--branch", "team-a", "init", "--admin", "alice"]);
    w.crew_ok(&dir, &["--branch", "team-a", "task", "add", "on a"]);
    assert!(w.tip(&dir, "crew").is_none());
    let run = w.crew(&dir, &["task", "list"]);
    assert_eq!(run.code, 1, "the default branch has no workspace");
    w.git(&dir, &["config", "crew.branch", "team-a"]);
    assert_eq!(w.crew_json(&dir, &["task", "list"]).as_array().unwrap().len(), 1);
}

#[test]
fn the_demo_runs_and_verifies() {
    let w = World::new();
    let keep = w.path("demo");
    let out = w.crew_json(&w.root, &["demo", "--keep", keep.to_str().unwrap()]);
    // Alice's epic, two tasks from each of three agents written concurrently,
    // then the migration and the deploy that depends on it.
    let column = |name: &str| out["board"][name].as_array().unwrap().clone();
    let titles =
        |name: &str| -> Vec<String> { column(name).iter().map(|t| t["title"].as_str().unwrap().to_owned()).collect() };
    // The supervisor's scene: the killed builder's task, finished by the reviewer.
    assert_eq!(titles("done"), ["Write the session-table migration", "Rotate the session keys"], "{}", out["board"]);
    // The three login tasks went to three different agents through `next --claim`,
    // and the builder handed its one to the reviewer.
    let holders: Vec<String> = column("in_progress").iter().map(|t| t["holder"].as_str().unwrap().to_owned()).collect();
    assert_eq!(holders.len(), 3, "{}", out["board"]);
    assert!(column("in_progress").iter().all(|t| t["labels"][0] == "login"), "{}", out["board"]);
    // The reviewer got the builder's by handoff and the suspended planner's by a claim.
    assert_eq!(holders.iter().filter(|h| *h == "reviewer").count(), 3, "{holders:?}");
    assert!(!holders.contains(&"builder".to_owned()), "{holders:?}");
    assert!(titles("ready").contains(&"Deploy the login rework".to_owned()), "its dependency is done");
    assert_eq!(titles("ready").len() + titles("blocked").len(), 5, "{}", out["board"]);
    // 1 genesis + 3 admissions + 9 tasks + the won claim, a receipt, its done,
    // three `next --claim` claims and a handoff.
    // Then the conversation: four joins, three messages and an ack.
    // Then the kill switch: the suspension and the reviewer's claim.
    // Then the supervisor: its admission, the policy, the task, the builder's
    // claim, the election task and its claim, the requeue (a step, a release,
    // messages to the builder, its owner and #general), the supervisor giving
    // the election up, and the reviewer's claim and done.
    assert_eq!(out["verify"]["records"], 1 + 3 + 9 + 3 + 3 + 1 + 4 + 3 + 1 + 2 + (2 + 2 + 2 + 5 + 1 + 2));
    let reasons: Vec<&str> = out["inbox"].as_array().unwrap().iter().map(|i| i["reason"].as_str().unwrap()).collect();
    // And the supervisor's requeue: a direct message to the builder's owner,
    // and the message in #general, which alice joined.
    assert_eq!(
        reasons,
        ["mention", "direct", "direct", "channel"],
        "alice's inbox: the reply to her in #general, the reviewer's DM, the supervisor's"
    );
    assert_eq!(out["clones"], 4, "every clone converged on the remote's tip");
    assert!(keep.join("remote.git").is_dir());
    let run = w.crew(&w.root, &["demo", "--keep", keep.to_str().unwrap()]);
    assert_eq!(run.code, 1, "refuses a non-empty --keep dir");
}

/// With `--json`, every failure is exactly one JSON object on stderr,
/// `{"error": {"code", "exit", "message", "hint"}}`, usage errors included;
/// `code` names the exit status as `git crew help exit-codes` lists it.
#[test]
fn every_failure_is_one_json_error_naming_its_exit_code() {
    let w = World::new();
    let (dir, _) = w.workspace("r");
    w.agent(&dir, "bob");
    let task = w.crew_json(&dir, &["task", "add", "one"])["record"]["id"].as_str().unwrap().to_owned();
    w.crew_ok(&dir, &["--as", "bob", "task", "claim", &task]);
    let table = w.crew_json(&dir, &["help", "exit-codes"]);
    let names: std::collections::HashMap<i64, String> = table
        .as_array()
        .unwrap()
        .iter()
        .map(|e| (e["code"].as_i64().unwrap(), e["name"].as_str().unwrap().to_owned()))
        .collect();
    assert_eq!(names.len(), 7, "{table}");
    let cases: &[(&[&str], i32, Option<&str>)] = &[
        (&["task", "claim"], 2, Some("git crew help")),
        (&["no-such-command"], 2, Some("git crew help")),
        (&["task", "add", "x", "--priority", "high"], 2, Some("git crew help")),
        (&["help", "no-such-command"], 2, Some("git crew help")),
        (&["task", "show", "ffffffff"], 1, Some("git crew task list")),
        (&["task", "claim", &task], 3, Some("git crew next")),
    ];
    for (args, code, hint) in cases {
        let mut full = vec!["--json"];
        full.extend_from_slice(args);
        let run = w.crew(&dir, &full);
        assert_eq!(run.code, *code, "{full:?}: {run:?}");
        assert!(run.stdout.is_empty(), "{full:?}: {run:?}");
        let err: serde_json::Value = serde_json::from_str(run.stderr.trim())
            .unwrap_or_else(|e| panic!("{full:?}: stderr is not one JSON object ({e}): {}", run.stderr));
        let e = &err["error"];
        assert_eq!(e["exit"], *code, "{err}");
        assert_eq!(e["code"].as_str(), Some(names[&(*code as i64)].as_str()), "{err}");
        assert!(e["message"].as_str().is_some_and(|m| !m.is_empty() && !m.contains('\u{1b}')), "{err}");
        assert_eq!(e["hint"].as_str(), *hint, "{err}");
    }
    // The same failure for people: `error:` and a hint line.
    let run = w.crew(&dir, &["task", "claim", &task]);
    assert_eq!(run.code, 3);
    assert!(run.stderr.starts_with("error: ") && run.stderr.contains("hint: try `git crew next`"), "{}", run.stderr);
}

/// `git crew help` shows any command's help and the exit code table, which the
/// top-level help ends with too.
#[test]
fn help_shows_commands_and_exit_codes() {
    let w = World::new();
    let top = w.crew(&w.root, &["--help"]);
    assert_eq!(top.code, 0, "{top:?}");
    assert!(top.stdout.contains("Exit codes:") && top.stdout.contains("5  suspended"), "{}", top.stdout);
    let claim = w.crew(&w.root, &["help", "task", "claim"]);
    assert_eq!(claim.code, 0, "{claim:?}");
    assert!(claim.stdout.contains("Usage: git crew task claim"), "{}", claim.stdout);
    let codes = w.crew(&w.root, &["help", "exit-codes"]);
    assert_eq!(codes.code, 0);
    for code in 0..=6 {
        assert!(codes.stdout.contains(&format!("\n  {code}  ")), "{}", codes.stdout);
    }
}

/// After `cargo install` and `git crew install --man`, `git crew --help`
/// works through git (which turns it into `man git-crew`) with no
/// configuration: the pages go to `share/man/man1` beside the binary's
/// directory, which man-db searches for every directory on PATH.
#[test]
fn git_crew_help_works_through_git_after_install_man() {
    let w = World::new();
    let bin = w.path("prefix/bin");
    std::fs::create_dir_all(&bin).unwrap();
    // A hard link opens no file for writing, so no concurrently forked test
    // process can inherit a write handle and make the exec fail with
    // ETXTBSY; a copy (other file systems) retries that exec below.
    if std::fs::hard_link(crate::common::exe(), bin.join("git-crew")).is_err() {
        std::fs::copy(crate::common::exe(), bin.join("git-crew")).unwrap();
    }
    let path = std::env::join_paths(
        std::iter::once(bin.clone()).chain(std::env::split_paths(&std::env::var_os("PATH").unwrap_or_default())),
    )
    .unwrap();
    let run = |program: &str, args: &[&str]| {
        let command = || {
            std::process::Command::new(program)
                .args(args)
                .current_dir(&w.root)
                .env("PATH", &path)
                .env_remove("MANPATH")
                .env("MANPAGER", "cat")
                .env("HOME", &w.root)
                .output()
        };
        let mut out = command();
        for _ in 0..50 {
            match &out {
                Err(e) if e.kind() == std::io::ErrorKind::ExecutableFileBusy => {
                    std::thread::sleep(std::time::Duration::from_millis(100));
                    out = command();
                }
                _ => break,
            }
        }
        let out = out.unwrap();
        (
            out.status.code(),
            String::from_utf8_lossy(&out.stdout).into_owned(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let (code, out, err) = run("git-crew", &["--json", "install", "--man"]);
    assert_eq!(code, Some(0), "{out}{err}");
    let pages = w.path("prefix/share/man/man1");
    assert!(pages.join("git-crew.1").is_file() && pages.join("git-crew-task-claim.1").is_file(), "{out}");
    assert!(std::fs::read_to_string(pages.join("git-crew.1")).unwrap().contains("Exit codes"));
    let (code, out, err) = run("git", &["crew", "--help"]);
    assert_eq!(code, Some(0), "git crew --help: {out}{err}");
    assert!(out.contains("git-crew") && out.contains("SYNOPSIS"), "{out}");
    // Without man pages, `git crew help` and `-h` still work.
    let (code, out, _) = run("git", &["crew", "help", "task", "claim"]);
    assert_eq!(code, Some(0));
    assert!(out.contains("Usage: git crew task claim"), "{out}");
}
