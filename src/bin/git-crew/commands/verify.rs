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
            let root = ws.store().work_dir().map(|d| d.to_owned()).unwrap_or(std::env::current_dir()?);
            let checks = git_crew::board::check_artifacts(&records, &root);
            let bad = checks.iter().filter(|c| c.status == "mismatch").count();
            if cx.json {
                render::json(&serde_json::json!({ "ok": bad == 0, "report": report, "artifacts": checks }));
            } else {
                for c in &checks {
                    println!("{:<8} {} (receipt {}, task {})", c.status, c.path, &c.receipt[..8], &c.task[..8]);
                }
                println!(
                    "{} artifact(s): {bad} changed on disk; history of {} records verified.",
                    checks.len(),
                    report.records
                );
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
                eprintln!("FAIL: {f}");
            }
            eprintln!("verification failed: {} problem(s)", v.failures.len());
            Ok(EXIT_VERIFY)
        }
        Err(e) => Err(e.into()),
    }
}
