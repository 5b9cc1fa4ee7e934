//! `git crew verify`.

use crate::exit;
use anyhow::Result;
use git_crew::verify::VerifyError;

use super::Context;
use crate::args::VerifyArgs;
use crate::render;

pub fn run(cx: &Context, args: VerifyArgs) -> Result<i32> {
    let ws = cx.open()?;
    match git_crew::verify::verify(ws.store(), args.all) {
        Ok(report) if args.artifacts => {
            let (_, records) = ws.records()?;
            let checks = git_crew::receipts::check_artifacts(&ws, &records)?;
            let changed: Vec<&str> = checks
                .iter()
                .filter(|c| matches!(c.status, "mismatch" | "unreadable"))
                .map(|c| c.path.as_str())
                .collect();
            let bad = changed.len();
            if cx.json && bad > 0 {
                // A failure like any other: one error object on stderr, with every check.
                let message = format!("verification failed: {bad} artifact(s) changed on disk: {}", changed.join(", "));
                let mut extra = serde_json::Map::new();
                extra.insert("artifacts".into(), serde_json::to_value(&checks)?);
                render::json_error(&message, exit::VERIFY, None, extra);
            } else if cx.json {
                render::json(&serde_json::json!({ "ok": true, "report": report, "artifacts": checks }));
            } else {
                let rows = checks.iter().map(|c| {
                    format!("{:<8} {} (receipt {}, task {})", c.status, c.path, &c.receipt[..8], &c.task[..8])
                });
                let total = format!(
                    "{} artifact(s): {bad} changed on disk; history of {} records verified.",
                    checks.len(),
                    report.records
                );
                render::lines(rows.chain(std::iter::once(total)));
            }
            Ok(if bad == 0 { 0 } else { exit::VERIFY })
        }
        Ok(report) => {
            if cx.json {
                render::json(&serde_json::json!({ "ok": true, "report": report }));
            } else {
                println!(
                    "OK: {} records in {} commits verified (tip {}).",
                    report.records,
                    report.commits,
                    &report.tip[..12]
                );
            }
            Ok(0)
        }
        Err(v @ VerifyError::Failed { .. }) => {
            let failures = v.failures();
            if cx.json {
                // Exactly one error object on stderr, with every failure found.
                let hint = (!args.all).then_some("git crew verify --all");
                let mut extra = serde_json::Map::new();
                extra.insert("failures".into(), serde_json::to_value(failures)?);
                render::json_error(&v.to_string(), exit::VERIFY, hint, extra);
                return Ok(exit::VERIFY);
            }
            for f in failures {
                eprintln!("FAIL: {}", render::escape(&f.to_string()));
            }
            eprintln!("verification failed: {} problem(s)", failures.len());
            Ok(exit::VERIFY)
        }
        Err(e) => Err(git_crew::Error::from(e).into()),
    }
}
