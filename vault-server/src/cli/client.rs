//! `vault client …`: results on stdout (an id, a table, or JSON with --json),
//! diagnostics on stderr.

use std::path::PathBuf;

use clap::{Args, Subcommand};
use reqwest::Method;
use serde_json::{Value, json};

use super::{display, progress};
use crate::api::recordings::RecordingKind;
use crate::client::{ApiClient, DeliveryRequest, ShareRequest, UploadOptions, deliver, share};

#[derive(Debug, Args)]
pub(super) struct ClientArgs {
    /// Server URL.
    #[arg(long, env = "VAULT_SERVER", default_value = "http://127.0.0.1:8080", global = true)]
    server: String,
    /// Bearer token (from your identity provider, or `vault token`).
    #[arg(long, env = "VAULT_TOKEN", hide_env_values = true, global = true)]
    token: Option<String>,
    /// Print JSON instead of text.
    #[arg(long, global = true)]
    json: bool,
    #[command(subcommand)]
    command: ClientCommand,
}

#[derive(Debug, Subcommand)]
enum ClientCommand {
    /// Create the family your token names (you become its owner).
    CreateFamily {
        #[arg(long)]
        name: String,
    },
    /// Show your family and role.
    Family,
    /// Encrypt a file locally and upload it; prints the new recording's id.
    Upload {
        file: PathBuf,
        #[arg(long)]
        title: Option<String>,
        /// audio, video, photo or letter (default: guessed from the file name).
        #[arg(long, value_parser = ["audio", "video", "photo", "letter"])]
        kind: Option<String>,
        #[arg(long)]
        content_type: Option<String>,
        /// Send plaintext and let the server encrypt it.
        #[arg(long)]
        server_side: bool,
    },
    /// List the family's recordings.
    List,
    /// Download and decrypt a recording (`-o -`: to standard output).
    Download {
        id: String,
        #[arg(short, long)]
        output: PathBuf,
        /// Replace the output file if it exists.
        #[arg(long)]
        force: bool,
    },
    /// Move a recording to the trash (restorable until its end date); with --forever,
    /// erase it at once (prints the signed receipt with --json).
    Delete {
        id: String,
        /// Erase at once instead: keys destroyed now, no restoring.
        #[arg(long)]
        forever: bool,
        /// Save the signed receipt (check it with `vault verify-receipt`).
        #[arg(long, requires = "forever")]
        receipt: Option<PathBuf>,
    },
    /// List the trash: what is there and when it will be erased.
    Trash,
    /// Bring a recording back from the trash.
    Restore { id: String },
    /// List members.
    Members,
    /// Invite a member (owner/admin).
    Invite {
        #[arg(long)]
        user: String,
        #[arg(long, default_value = "member", value_parser = ["owner", "admin", "member"])]
        role: String,
    },
    /// Make an invitation link for a relative (owner/admin): it works once, for
    /// --days days; they open it, sign in, and join with this role and name.
    InviteLink {
        /// Who it is for, as the family calls them ("Grandpa Joe").
        #[arg(long)]
        name: String,
        #[arg(long, default_value = "member", value_parser = ["owner", "admin", "member"])]
        role: String,
        #[arg(long, default_value_t = 7)]
        days: u32,
    },
    /// Join the family your token names with an invitation link (or its secret).
    Join { link: String },
    /// Remove a member (owner/admin).
    RemoveMember { user: String },
    /// Change a member's role (owner/admin).
    SetRole {
        user: String,
        #[arg(value_parser = ["owner", "admin", "member"])]
        role: String,
    },
    /// Show the family's audit log (owner/admin).
    Audit,
    /// Make a view-only link to recordings for someone without an account
    /// (owner/admin). The link's secret is made here and never sent: print it, send it.
    Share {
        /// The recordings it shows (ids).
        #[arg(required = true)]
        recordings: Vec<String>,
        /// Who it is for ("Grandpa Joe").
        #[arg(long)]
        name: String,
        #[arg(long, default_value_t = 7)]
        days: u32,
        /// How many times it may be opened (default: no limit).
        #[arg(long)]
        max_views: Option<u32>,
        /// Also ask for a passphrase, read from VAULT_SHARE_PASSPHRASE (not an argument:
        /// arguments are visible to other users of this machine).
        #[arg(long)]
        passphrase: bool,
        /// Let the viewer save decrypted copies.
        #[arg(long)]
        allow_download: bool,
    },
    /// A studio's delivery (studio staff): make a family vault for a customer, upload
    /// the files into it (encrypted here, titles sealed), and print the parents'
    /// invitation link. Whoever accepts it owns the vault; the studio's access ends.
    /// With a family's link for the studio, deliver into that family's own vault.
    Deliver {
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// Who the recordings are for ("Ana and Luis García").
        #[arg(long, required_unless_present = "delivery")]
        customer: Option<String>,
        /// The family vault's name (default: the customer's).
        #[arg(long)]
        family_name: Option<String>,
        /// Add to this open delivery instead of starting one.
        #[arg(long)]
        delivery: Option<String>,
        /// Each file's title (default: its file name without the extension).
        #[arg(long)]
        title: Option<String>,
        /// When they were recorded, YYYY-MM-DD (default: today).
        #[arg(long)]
        recorded_on: Option<String>,
        /// Days the parents' invitation works (1 to 30).
        #[arg(long, default_value_t = 14)]
        days: u32,
        /// Only upload: invite the parents later (from the studio's page, or again here).
        #[arg(long)]
        no_invite: bool,
        /// The hand-off date, YYYY-MM-DD (at most 30 days ahead): the studio may add
        /// until the end of that day (UTC), even after the parents accepted.
        #[arg(long)]
        until: Option<String>,
        /// A family's link for the studio (or its secret): deliver into that family's
        /// own vault; no parents' invitation (the hand-off is --until, or a week).
        #[arg(long, env = "VAULT_FAMILY_INVITE", hide_env_values = true, conflicts_with_all = ["delivery", "family_name"])]
        family_invite: Option<String>,
    },
    /// The studio's deliveries and where each stands (studio staff).
    Deliveries,
    /// List the family's share links, with their views (owner/admin).
    Links,
    /// Withdraw a share link at once (owner/admin).
    Unshare { id: String },
}

fn guess(file: &std::path::Path) -> (RecordingKind, &'static str) {
    use RecordingKind::{Audio, Letter, Photo, Video};
    let ext = file.extension().and_then(|e| e.to_str()).unwrap_or("").to_ascii_lowercase();
    match ext.as_str() {
        "mp4" | "m4v" => (Video, "video/mp4"),
        "webm" => (Video, "video/webm"),
        "mov" => (Video, "video/quicktime"),
        "mp3" => (Audio, "audio/mpeg"),
        "m4a" => (Audio, "audio/mp4"),
        "wav" => (Audio, "audio/wav"),
        "ogg" | "opus" => (Audio, "audio/ogg"),
        "jpg" | "jpeg" => (Photo, "image/jpeg"),
        "png" => (Photo, "image/png"),
        "gif" => (Photo, "image/gif"),
        "webp" => (Photo, "image/webp"),
        "heic" => (Photo, "image/heic"),
        "avif" => (Photo, "image/avif"),
        "pdf" => (Letter, "application/pdf"),
        "txt" | "md" => (Letter, "text/plain"),
        _ => (Letter, "application/octet-stream"),
    }
}

/// A refusal of `GET /v1/family` says only "forbidden": say what to do about it.
fn not_a_member_hint(err: anyhow::Error) -> anyhow::Error {
    match err.downcast_ref::<crate::client::ClientError>() {
        Some(e) if e.code == "forbidden" => err.context(
            "you are not a member of the family your token names: create it with \
             `vault client create-family --name NAME`, or ask one of its owners to invite you",
        ),
        _ => err,
    }
}

pub(super) fn run(args: ClientArgs) -> anyhow::Result<()> {
    let token = args.token.clone().ok_or_else(|| anyhow::anyhow!("no token: pass --token or set VAULT_TOKEN"))?;
    let client = ApiClient::new(&args.server, &token)?;
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    runtime.block_on(run_command(&client, args))
}

fn print(json_mode: bool, value: &Value, text: impl FnOnce(&Value) -> String) {
    if json_mode {
        println!("{}", serde_json::to_string_pretty(value).unwrap_or_default());
    } else {
        println!("{}", text(value));
    }
}

async fn run_command(client: &ApiClient, args: ClientArgs) -> anyhow::Result<()> {
    let j = args.json;
    match args.command {
        ClientCommand::CreateFamily { name } => {
            let family: Value = client.post("/v1/families", &json!({ "name": name })).await?;
            print(j, &family, |f| f["id"].as_str().unwrap_or_default().to_owned());
        }
        ClientCommand::Family => {
            let family: Value = client.get("/v1/family").await.map_err(not_a_member_hint)?;
            print(j, &family, |f| format!("{}\t{}\t{}", f["id"], f["name"], f["role"]).replace('"', ""));
        }
        ClientCommand::Upload { file, title, kind, content_type, server_side } => {
            let (guessed_kind, guessed_type) = guess(&file);
            let options = UploadOptions {
                title: title
                    .unwrap_or_else(|| file.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()),
                kind: kind.as_deref().and_then(RecordingKind::parse).unwrap_or(guessed_kind),
                content_type: content_type.unwrap_or_else(|| guessed_type.to_owned()),
                server_side,
            };
            let size = std::fs::metadata(&file).ok().map(|m| m.len());
            let bar = progress::bytes(size, "uploading");
            let id = crate::client::upload(client, &file, &options, &bar).await?;
            bar.finish_and_clear();
            print(j, &json!({ "id": id }), |v| v["id"].as_str().unwrap_or_default().to_owned());
        }
        ClientCommand::List => {
            let mut items = Vec::new();
            let mut cursor: Option<String> = None;
            loop {
                let path = match &cursor {
                    Some(c) => format!("/v1/recordings?limit=200&cursor={c}"),
                    None => "/v1/recordings?limit=200".to_owned(),
                };
                let page: Value = client.get(&path).await?;
                items.extend(page["items"].as_array().cloned().unwrap_or_default());
                match page["next_cursor"].as_str() {
                    Some(c) => cursor = Some(c.to_owned()),
                    None => break,
                }
            }
            let all = Value::Array(items);
            print(j, &all, |v| {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .map(|r| {
                                let size = r["plaintext_size"].as_u64().map(display::size).unwrap_or_default();
                                let when = r["created_at"].as_i64().map(display::when).unwrap_or_default();
                                let title = match r["title"].as_str() {
                                    Some("") | None => "(title encrypted: see the web page)",
                                    Some(t) => t,
                                };
                                format!("{}\t{}\t{size}\t{when}\t{title}", r["id"], r["kind"]).replace('"', "")
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default()
            });
        }
        ClientCommand::Download { id, output, force } => {
            let to_stdout = output.as_os_str() == "-";
            if !to_stdout && !force && output.exists() {
                anyhow::bail!("{} exists; pass --force to replace it", output.display());
            }
            let meta: Value = client.get(&format!("/v1/recordings/{id}")).await?;
            let bar = progress::bytes(meta["ciphertext_size"].as_u64(), "downloading");
            crate::client::download(client, &id, &output, &bar).await?;
            bar.finish_and_clear();
            if !to_stdout {
                print(j, &json!({ "id": id, "output": output }), |_| output.display().to_string());
            }
        }
        ClientCommand::Delete { id, forever: false, .. } => {
            let trashed: Value = client.post(&format!("/v1/recordings/{id}/trash"), &json!({})).await?;
            let until = trashed["trash"]["erase_after"].as_i64().map(display::when).unwrap_or_default();
            print(j, &trashed, |_| {
                format!("moved to the trash; erased after {until} unless restored (vault client restore {id})")
            });
        }
        ClientCommand::Trash => {
            let trash: Value = client.get("/v1/trash").await?;
            print(j, &trash, |v| {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .map(|r| {
                                let until = r["trash"]["erase_after"].as_i64().map(display::when).unwrap_or_default();
                                format!("{}\t{}\terased after {until}", r["id"], r["title"]).replace('"', "")
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default()
            });
        }
        ClientCommand::Restore { id } => {
            let restored: Value = client.post(&format!("/v1/recordings/{id}/restore"), &json!({})).await?;
            print(j, &restored, |_| format!("restored {id}"));
        }
        ClientCommand::Delete { id, receipt, .. } => {
            let signed: Value = client.json(client.request(Method::DELETE, &format!("/v1/recordings/{id}"))).await?;
            if let Some(path) = &receipt {
                std::fs::write(path, serde_json::to_vec_pretty(&signed)?)
                    .map_err(|e| anyhow::anyhow!("cannot write the receipt to {}: {e}", path.display()))?;
            }
            print(j, &signed, |_| id.clone());
        }
        ClientCommand::Members => {
            let members: Value = client.get("/v1/family/members").await?;
            print(j, &members, |v| {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .map(|m| format!("{}\t{}", m["user_id"], m["role"]).replace('"', ""))
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default()
            });
        }
        ClientCommand::Invite { user, role } => {
            let member: Value = client.post("/v1/family/members", &json!({ "user_id": user, "role": role })).await?;
            print(j, &member, |m| format!("{}\t{}", m["user_id"], m["role"]).replace('"', ""));
        }
        ClientCommand::InviteLink { name, role, days } => {
            let body = json!({ "name": name, "role": role, "expires_in_days": days });
            let made: Value = client.post("/v1/family/invitations", &body).await?;
            let link = format!(
                "{}/#invite={}&family={}",
                args.server.trim_end_matches('/'),
                made["secret"].as_str().unwrap_or_default(),
                made["family_id"].as_str().unwrap_or_default()
            );
            let until = made["invitation"]["expires_at"].as_i64().map(display::when).unwrap_or_default();
            print(j, &json!({ "link": link, "invitation": made["invitation"] }), |_| {
                eprintln!("works once, until {until}");
                link.clone()
            });
        }
        ClientCommand::Share { recordings, name, days, max_views, passphrase, allow_download } => {
            let passphrase = if passphrase {
                let p = std::env::var("VAULT_SHARE_PASSPHRASE").map_err(|_| {
                    anyhow::anyhow!("--passphrase reads the passphrase from VAULT_SHARE_PASSPHRASE: set it")
                })?;
                Some(zeroize::Zeroizing::new(p))
            } else {
                None
            };
            let request =
                ShareRequest { recordings: &recordings, name: &name, days, max_views, passphrase, allow_download };
            let (link, made) = share(client, &request).await?;
            let until = made["expires_at"].as_i64().map(display::when).unwrap_or_default();
            print(j, &json!({ "link": link, "share_link": made }), |_| {
                eprintln!("anyone with this link can watch until {until}");
                link.clone()
            });
        }
        ClientCommand::Deliver {
            files,
            customer,
            family_name,
            delivery,
            title,
            recorded_on,
            days,
            no_invite,
            until,
            family_invite,
        } => {
            let today = time::OffsetDateTime::now_utc();
            let today = format!("{:04}-{:02}-{:02}", today.year(), u8::from(today.month()), today.day());
            let recorded_on = recorded_on.unwrap_or(today);
            if time::Date::parse(&recorded_on, time::macros::format_description!("[year]-[month]-[day]")).is_err() {
                anyhow::bail!("--recorded-on takes a date such as 2026-11-27");
            }
            let contribute_until = match until {
                Some(day) => {
                    let day = time::Date::parse(&day, time::macros::format_description!("[year]-[month]-[day]"))
                        .map_err(|_| anyhow::anyhow!("--until takes a date such as 2026-12-24"))?;
                    let end = day.with_hms(23, 59, 59).expect("a valid time").assume_utc();
                    Some(i64::try_from(end.unix_timestamp_nanos() / 1_000_000)?)
                }
                None => None,
            };
            let family_invitation =
                family_invite.map(|l| l.rsplit("family-invite=").next().unwrap_or_default().to_owned());
            let mut planned = Vec::new();
            for file in files {
                let (kind, content_type) = guess(&file);
                let stem = file.file_stem().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
                let options = UploadOptions {
                    title: title.clone().unwrap_or(stem),
                    kind,
                    content_type: content_type.to_owned(),
                    server_side: false,
                };
                planned.push((file, options));
            }
            let total = planned.iter().filter_map(|(f, _)| std::fs::metadata(f).ok()).map(|m| m.len()).sum();
            let bar = progress::bytes(Some(total), "delivering");
            let request = DeliveryRequest {
                customer: customer.as_deref().unwrap_or_default(),
                family_name: family_name.as_deref(),
                delivery: delivery.as_deref(),
                files: planned,
                recorded_on: &recorded_on,
                invite_days: (!no_invite && family_invitation.is_none()).then_some(days),
                contribute_until,
                family_invitation: family_invitation.as_deref(),
            };
            let done = deliver(client, request, &bar).await?;
            bar.finish_and_clear();
            let out = json!({ "delivery": done.delivery, "recordings": done.recordings, "link": done.link });
            print(j, &out, |v| {
                let d = &v["delivery"];
                eprintln!(
                    "delivery {} for {}: {} recording(s), {}",
                    d["id"].as_str().unwrap_or_default(),
                    d["customer"].as_str().unwrap_or_default(),
                    d["recordings"],
                    d["state"].as_str().unwrap_or_default()
                );
                match &done.link {
                    Some(link) => {
                        let until = d["invited_until"].as_i64().map(display::when).unwrap_or_default();
                        eprintln!("send this link to the parents; it works once, until {until}");
                        link.clone()
                    }
                    None => {
                        if d["into_family_vault"] == true {
                            let until = d["contribute_until"].as_i64().map(display::when).unwrap_or_default();
                            eprintln!("delivered into the family's own vault; the studio may add until {until}");
                        }
                        d["id"].as_str().unwrap_or_default().to_owned()
                    }
                }
            });
        }
        ClientCommand::Deliveries => {
            let list: Value = client.get("/v1/studio/deliveries").await?;
            print(j, &list, |v| {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .map(|d| {
                                let when = d["created_at"].as_i64().map(display::when).unwrap_or_default();
                                format!(
                                    "{}\t{}\t{}\t{} recordings\t{when}",
                                    d["id"], d["customer"], d["state"], d["recordings"]
                                )
                                .replace('"', "")
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default()
            });
        }
        ClientCommand::Links => {
            let links: Value = client.get("/v1/family/links").await?;
            print(j, &links, |v| {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .map(|l| {
                                let until = l["expires_at"].as_i64().map(display::when).unwrap_or_default();
                                format!(
                                    "{}\t{}\t{}\t{} views\tuntil {until}",
                                    l["id"], l["name"], l["state"], l["views"]
                                )
                                .replace('"', "")
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default()
            });
        }
        ClientCommand::Unshare { id } => {
            client.send_empty(client.request(Method::DELETE, &format!("/v1/family/links/{id}"))).await?;
            print(j, &json!({ "withdrawn": id }), |_| id.clone());
        }
        ClientCommand::Join { link } => {
            // The whole link, or the secret alone.
            let secret =
                link.split(['#', '&']).find_map(|part| part.strip_prefix("invite=")).unwrap_or(&link).to_owned();
            let family: Value = client.post("/v1/invitations/accept", &json!({ "secret": secret })).await?;
            print(j, &family, |f| format!("{}\t{}", f["id"], f["role"]).replace('"', ""));
        }
        ClientCommand::RemoveMember { user } => {
            client.send_empty(client.request(Method::DELETE, &format!("/v1/family/members/{user}"))).await?;
            print(j, &json!({ "removed": user }), |_| user.clone());
        }
        ClientCommand::SetRole { user, role } => {
            let member: Value = client
                .json(
                    client.request(Method::PATCH, &format!("/v1/family/members/{user}")).json(&json!({ "role": role })),
                )
                .await?;
            print(j, &member, |m| format!("{}\t{}", m["user_id"], m["role"]).replace('"', ""));
        }
        ClientCommand::Audit => {
            let page: Value = client.get("/v1/family/audit?limit=500").await?;
            print(j, &page["items"], |v| {
                v.as_array()
                    .map(|a| {
                        a.iter()
                            .map(|r| {
                                let when = r["at"].as_i64().map(display::when).unwrap_or_default();
                                format!(
                                    "{}\t{when}\t{}\t{}\t{}\t{}",
                                    r["seq"], r["actor"], r["action"], r["target"], r["outcome"]
                                )
                                .replace('"', "")
                            })
                            .collect::<Vec<_>>()
                            .join("\n")
                    })
                    .unwrap_or_default()
            });
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::{RecordingKind, guess};

    #[test]
    fn kinds_and_types_are_guessed_from_the_file_name() {
        for (name, kind, content_type) in [
            ("scan.JPG", RecordingKind::Photo, "image/jpeg"),
            ("print.heic", RecordingKind::Photo, "image/heic"),
            ("kicks.mov", RecordingKind::Video, "video/quicktime"),
            ("story.m4a", RecordingKind::Audio, "audio/mp4"),
            ("letter.pdf", RecordingKind::Letter, "application/pdf"),
            ("drawing.svg", RecordingKind::Letter, "application/octet-stream"),
        ] {
            assert_eq!(guess(std::path::Path::new(name)), (kind, content_type), "{name}");
        }
    }
}
