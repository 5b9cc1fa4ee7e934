//! `git crew id …`.

use anyhow::Result;
use git_crew::error::ArgumentError;
use git_crew::record::Role;
use git_crew::request::Request;
use git_crew::state::Actor;
use serde::Serialize;

use super::{Context, StopView};
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
    /// Who suspended it, when, why, and the record; null while it may work.
    suspended: Option<StopView>,
    /// Who revoked its key, when, why, and the record; null otherwise.
    revoked: Option<StopView>,
    retired_keys: Vec<String>,
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
            admitted_at: a.admitted_at.rfc3339(),
            records: a.records,
            last_at: a.last_at.map(|t| t.rfc3339()),
            local_key,
            suspended: a.suspended.as_ref().map(StopView::suspension),
            revoked: a.revoked.as_ref().map(StopView::revocation),
            retired_keys: a.retired.iter().map(|k| k.key.fingerprint()).collect(),
        }
    }
}

pub fn run(cx: &Context, cmd: IdCommand) -> Result<i32> {
    let ws = cx.open()?;
    let snap = ws.snapshot_for(&git_crew::index::Need::Core)?;
    let has_key = |name: &str| ws.keys().has(&snap.state.workspace, name);
    match cmd {
        IdCommand::New { name, role, owner } => {
            let role: Role = role.parse().map_err(ArgumentError::Role).map_err(git_crew::Error::from)?;
            let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
            let (record, key_path) = ws.admit_new(&me, &name, role, owner.as_deref())?;
            let (records, publication) = cx.publish(&ws, vec![record])?;
            let record = &records[0];
            if cx.json {
                let mut extra = serde_json::Map::new();
                extra.insert("key_path".into(), key_path.display().to_string().into());
                cx.print_write(&records, &publication, extra);
            } else {
                println!("Admitted {name} as {} ({}).", role.as_str(), record.id.short());
                println!("Private key: {}", key_path.display());
            }
        }
        IdCommand::Request { name, role, owner, out } => {
            let role: Role = role.parse().map_err(ArgumentError::Role).map_err(git_crew::Error::from)?;
            let made = ws.request_identity(&name, role, owner.as_deref())?;
            let text = made.request.to_text();
            // The file the admin is given: the one written, else the one the
            // requester saves the printed request to.
            let file = out.as_ref().map_or_else(|| "FILE".to_owned(), |p| shell_word(&p.display().to_string()));
            let next = if made.rekey {
                format!("git crew id rotate {name} --request {file}")
            } else {
                format!("git crew id admit {file}")
            };
            if let Some(path) = &out {
                std::fs::write(path, &text).map_err(|source| git_crew::Error::Io {
                    what: format!("cannot write {}", path.display()),
                    source,
                })?;
            }
            if cx.json {
                render::json(&serde_json::json!({
                    "name": name,
                    "request": text,
                    "out": out.as_ref().map(|p| p.display().to_string()),
                    "key_path": made.key_path.display().to_string(),
                    "fingerprint": made.request.key.fingerprint(),
                    "next": next,
                }));
            } else if out.is_none() {
                print!("{text}");
                eprintln!("Key kept at {}. An admin runs: {next}", made.key_path.display());
            } else {
                println!("Request for {name} written; key kept at {}.", made.key_path.display());
                println!("An admin runs: {next}");
            }
        }
        IdCommand::Admit { request, role, owner } => {
            let role = role
                .map(|r| r.parse::<Role>())
                .transpose()
                .map_err(ArgumentError::Role)
                .map_err(git_crew::Error::from)?;
            let req = read_request(&request)?;
            let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
            let record = ws.admit(&me, &req, role, owner.as_deref())?;
            cx.wrote(&ws, vec![record])?;
        }
        IdCommand::Rotate { name, request } => {
            let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
            let name = name.unwrap_or_else(|| me.clone());
            let req = request.as_deref().map(read_request).transpose()?;
            let record = ws.rotate(&me, &name, req.as_ref())?;
            cx.wrote(&ws, vec![record])?;
        }
        IdCommand::Revoke { name, reason } => {
            let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
            let record = ws.revoke(&me, &name, reason)?;
            cx.wrote(&ws, vec![record])?;
        }
        IdCommand::Update { name, role, owner } => {
            if role.is_none() && owner.is_none() {
                return Err(crate::commands::UsageError("id update: give --role, --owner or both".into()).into());
            }
            let role = role
                .map(|r| r.parse::<Role>())
                .transpose()
                .map_err(ArgumentError::Role)
                .map_err(git_crew::Error::from)?;
            let me = ws.whoami(cx.actor.as_deref(), &snap.state)?;
            let record = ws.update_actor(&me, &name, role, owner.as_deref())?;
            cx.wrote(&ws, vec![record])?;
        }
        IdCommand::List => {
            let actors: Vec<ActorView> =
                snap.state.actors.values().map(|a| ActorView::new(a, has_key(&a.name))).collect();
            if cx.json {
                render::json(&actors);
            } else {
                render::lines(actors.iter().map(|a| {
                    let owner = a.owner.as_deref().map(|o| format!(" owner={o}")).unwrap_or_default();
                    let local = if a.local_key { " (key here)" } else { "" };
                    format!(
                        "{} {:<6} key={} records={}{owner}{local}",
                        render::fit(&a.name, 16),
                        a.role,
                        a.fingerprint,
                        a.records
                    )
                }));
            }
        }
        IdCommand::Show { name } => {
            let actor =
                snap.state.actors.get(&name).ok_or_else(|| git_crew::Error::UnknownActor { name: name.clone() })?;
            let view = ActorView::new(actor, has_key(&name));
            if cx.json {
                render::json(&view);
            } else {
                let mut out = vec![format!("name:        {}", view.name), format!("role:        {}", view.role)];
                if let Some(o) = &view.owner {
                    out.push(format!("owner:       {o}"));
                }
                out.push(format!("key:         {} ({})", view.fingerprint, view.key));
                out.push(format!("admitted:    by {} at {}", view.admitted_by, view.admitted_at));
                out.push(format!("records:     {}", view.records));
                out.push(format!("key here:    {}", if view.local_key { "yes" } else { "no" }));
                if !view.retired_keys.is_empty() {
                    out.push(format!("retired:     {}", view.retired_keys.join(", ")));
                }
                match (&actor.suspended, &actor.revoked) {
                    (Some(s), _) => out.push(format!("stopped:     {s}")),
                    (None, Some(v)) => out.push(format!("stopped:     key {v}")),
                    (None, None) => {}
                }
                render::lines(out);
            }
        }
    }
    Ok(0)
}

/// Read and verify an identity request from FILE or `-` (standard input).
fn read_request(source: &str) -> Result<Request> {
    let limit = git_crew::request::MAX_REQUEST_BYTES as u64;
    let text = if source == "-" {
        git_crew::artifact::read_stdin_text(limit)
    } else {
        git_crew::artifact::read_text(std::path::Path::new(source), limit)
    };
    let text = text.map_err(git_crew::Error::from)?;
    Ok(Request::parse(text.as_bytes()).map_err(git_crew::Error::from)?)
}

/// `s` as one word of a shell command line, quoted when it must be.
fn shell_word(s: &str) -> String {
    let plain = !s.is_empty() && s.chars().all(|c| c.is_ascii_alphanumeric() || "/._-+=:@,%".contains(c));
    if plain {
        s.to_owned()
    } else {
        format!("'{}'", s.replace('\'', r"'\''"))
    }
}

#[cfg(test)]
mod tests {
    use super::shell_word;

    #[test]
    fn a_path_is_one_shell_word() {
        assert_eq!(shell_word("/tmp/erin.request"), "/tmp/erin.request");
        assert_eq!(shell_word("my requests/erin"), "'my requests/erin'");
        assert_eq!(shell_word("it's"), r"'it'\''s'");
        assert_eq!(shell_word("$HOME"), "'$HOME'");
        assert_eq!(shell_word(""), "''");
    }
}
