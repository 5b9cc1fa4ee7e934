//! `git crew verify`.

use anyhow::Result;
use git_crew::error::EXIT_VERIFY;

use super::Context;
use crate::args::VerifyArgs;
use crate::render;

pub fn run(cx: &Context, args: VerifyArgs) -> Result<i32> {
    let ws = cx.open()?;
    match git_crew::verify::verify(ws.store(), args.all) {
        Ok(report) if args.artifacts => {
            let (_, records) = ws.records()?;
            let checks = git_crew::board::check_artifacts(&ws, &records)?;
            let bad = checks.iter().filter(|c| matches!(c.status, "mismatch" | "unreadable")).count();
            if cx.json {
                render::json(&serde_json::json!({ "ok": bad == 0, "report": report, "artifacts": checks }));
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
            Ok(if bad == 0 { 0 } else { EXIT_VERIFY })
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
        Err(git_crew::Error::Verify(v)) => {
            if cx.json {
                render::json(&serde_json::json!({ "ok": false, "failures": v.failures }));
            }
            for f in &v.failures {
                eprintln!("FAIL: {}", render::escape(&f.to_string()));
            }
            eprintln!("verification failed: {} problem(s)", v.failures.len());
            Ok(EXIT_VERIFY)
        }
        Err(e) => Err(e.into()),
    }
}
