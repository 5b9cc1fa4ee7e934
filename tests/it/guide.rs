//! `git crew guide` shows only what works: every step it prints is run here,
//! in its order, by a new agent and an admin, through a hooked bare remote.

use serde_json::Value;

use crate::common::*;

/// The words of a guide step with its placeholders filled.
fn words(run: &str, fill: &dyn Fn(&str) -> String) -> Vec<String> {
    run.split_whitespace()
        .map(|w| match w.trim_matches('"') {
            p if p.starts_with('<') && p.ends_with('>') => fill(p),
            p if p.starts_with("#<") => format!("#{}", fill(&p[1..])),
            _ => w.to_owned(),
        })
        .collect()
}

#[test]
fn every_command_the_guide_shows_works_in_order() {
    let w = World::new();
    let remote = served_bare(&w, "remote.git");
    let (a, _) = w.workspace("a");
    w.agent(&a, "bob");
    w.git(&a, &["remote", "add", "origin", remote.to_str().unwrap()]);
    for title in ["First", "Second", "Third", "Fourth"] {
        w.crew_json(&a, &["--as", "alice", "task", "add", title]);
    }
    let posted = w.crew_json(&a, &["--as", "alice", "msg", "send", "--to", "#general", "welcome"]);
    let message = posted["record"]["id"].as_str().unwrap().to_owned();
    assert_eq!(posted["published"], true, "{posted}");

    let agent_dir = w.path("agent");
    let request = w.path("dave.request");
    let guide = w.crew_json(&a, &["guide"]);
    let text = w.crew_ok(&a, &["guide"]);
    let mut task = String::new();
    let mut receipt = String::new();
    let mut ran = 0;
    for section in guide["sections"].as_array().unwrap() {
        assert!(text.contains(section["title"].as_str().unwrap()), "{section}");
        for step in section["steps"].as_array().unwrap() {
            let run = step["run"].as_str().unwrap();
            assert!(text.contains(run), "the text guide lacks {run}");
            // Steps that act on a held task get a fresh one when the agent holds none.
            if run.starts_with("git crew task block") || run.starts_with("git crew task release") {
                let claimed = w.crew_json(&agent_dir, &["next", "--claim"]);
                task = claimed["task"]["id"].as_str().unwrap().to_owned();
            }
            let fill = |p: &str| -> String {
                match p {
                    "<remote>" => remote.to_str().unwrap().to_owned(),
                    "<dir>" => agent_dir.to_str().unwrap().to_owned(),
                    "<me>" => "dave".into(),
                    "<request>" => request.to_str().unwrap().to_owned(),
                    "<task>" => task.clone(),
                    "<receipt>" => receipt.clone(),
                    "<message>" => message[..10].to_owned(),
                    "<actor>" => "bob".into(),
                    "<channel>" => "general".into(),
                    "<text>" => "a few words".into(),
                    other => panic!("the guide uses a placeholder the test does not know: {other}"),
                }
            };
            let argv = words(run, &fill);
            ran += 1;
            if argv[..2] != ["git", "crew"] {
                let args: Vec<&str> = argv[1..].iter().map(String::as_str).collect();
                w.git(&w.root, &args);
                continue;
            }
            let (dir, mut args) = match step["who"].as_str() {
                Some("admin") => (a.clone(), vec!["--json", "--as", "alice"]),
                _ => (agent_dir.clone(), vec!["--json"]),
            };
            args.extend(argv[2..].iter().map(String::as_str));
            let out = w.crew(&dir, &args);
            assert_eq!(out.code, 0, "guide step `{run}` as {args:?}: {out:?}");
            let out: Value = out.stdout.lines().last().map(|l| serde_json::from_str(l).unwrap()).unwrap_or_default();
            if run.starts_with("git crew next --claim") {
                task = out["task"]["id"].as_str().unwrap().to_owned();
            }
            if run.starts_with("git crew receipt add") {
                receipt = out["record"]["id"].as_str().unwrap().to_owned();
            }
            if out.get("published").is_some() {
                assert_eq!(out["published"], true, "guide step `{run}` did not publish: {out}");
            }
            // The kill switch reaches the agent with no sync in its clone.
            if run.starts_with("git crew suspend") {
                assert_eq!(w.crew(&agent_dir, &["alive"]).code, 5, "alive after `{run}`");
            }
        }
    }
    assert!(ran >= 25, "only {ran} steps");
    assert_eq!(w.crew(&agent_dir, &["alive"]).code, 0, "resumed at the end");
    assert_eq!(w.crew_json(&remote, &["verify"])["ok"], true);
    assert_eq!(guide["exit_codes"].as_array().map(Vec::len), Some(7), "{}", guide["exit_codes"]);
}
