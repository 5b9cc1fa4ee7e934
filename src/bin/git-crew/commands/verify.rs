//! `git crew verify`.

use anyhow::Result;
use git_crew::error::EXIT_VERIFY;

use super::Context;
use crate::args::VerifyArgs;
use crate::render;

pub fn run(cx: &Context, args: VerifyArgs) -> Result<i32> {
    let ws = cx.open()?;
    match git_crew::verify::verify(ws.store(), args.all) {
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
