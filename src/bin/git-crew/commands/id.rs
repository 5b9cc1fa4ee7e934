//! `git crew id …`.

use anyhow::Result;
use git_crew::record::Role;
use git_crew::state::Actor;
use serde::Serialize;

use super::{Context, RecordView};
use crate::args::IdCommand;
use crate::render;

#[derive(Serialize)]
struct ActorView {
    name: String,
    role: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    owner: Option<String>,
    key: String,
    fingerprint: String,
    admitted_by: String,
    admitted_at: String,
    records: u64,
    #[serde(skip_serializing_if = "Option::is_none")]
    last_at: Option<String>,
    local_key: bool,
}

impl ActorView {
    fn new(a: &Actor, local_key: bool) -> ActorView {
        ActorView {
            name: a.name.clone(),
            role: a.role.as_str(),
            owner: a.owner.clone(),
            key: a.key.to_string(),
            fingerprint: a.key.fingerprint(),
            admitted_by: a.admitted_by.clone(),
            admitted_at: a.admitted_at.to_string(),
            records: a.records,
            last_at: a.last_at.map(|t| t.to_string()),
            local_key,
        }
    }
}

pub fn run(cx: &Context, cmd: IdCommand) -> Result<i32> {
    let ws = cx.open()?;
    let snap = ws.snapshot_for(&git_crew::index::Need::Core)?;
    let has_key = |name: &str| ws.keys().has(&snap.state.workspace, name);
    match cmd {
        IdCommand::New { name, role, owner } => {
            let role: Role = role.parse().map_err(git_crew::Error::Invalid)?;
            let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
            let (record, key_path) = ws.admit_new(&me, &name, role, owner.as_deref())?;
            if cx.json {
                render::json(&serde_json::json!({
                    "record": RecordView::new(&record),
                    "key_path": key_path.display().to_string(),
                }));
            } else {
                println!("Admitted {name} as {} ({}).", role.as_str(), record.id.short());
                println!("Private key: {}", key_path.display());
            }
        }
        IdCommand::List => {
            let actors: Vec<ActorView> =
                snap.state.actors.values().map(|a| ActorView::new(a, has_key(&a.name))).collect();
            if cx.json {
                render::json(&actors);
            } else {
                for a in &actors {
                    let owner = a.owner.as_deref().map(|o| format!(" owner={o}")).unwrap_or_default();
                    let local = if a.local_key { " (key here)" } else { "" };
                    println!(
                        "{} {:<6} key={} records={}{owner}{local}",
                        render::fit(&a.name, 16),
                        a.role,
                        a.fingerprint,
                        a.records
                    );
                }
            }
        }
        IdCommand::Show { name } => {
            let actor =
                snap.state.actors.get(&name).ok_or_else(|| {
                    git_crew::Error::Invalid(format!("unknown actor {name:?} (see `git crew id list`)"))
                })?;
            let view = ActorView::new(actor, has_key(&name));
            if cx.json {
                render::json(&view);
            } else {
                println!("name:        {}", view.name);
                println!("role:        {}", view.role);
                if let Some(o) = &view.owner {
                    println!("owner:       {o}");
                }
                println!("key:         {} ({})", view.fingerprint, view.key);
                println!("admitted:    by {} at {}", view.admitted_by, view.admitted_at);
                println!("records:     {}", view.records);
                println!("key here:    {}", if view.local_key { "yes" } else { "no" });
            }
        }
    }
    Ok(0)
}
