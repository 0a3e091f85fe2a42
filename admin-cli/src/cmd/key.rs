//! `relay-admin key …`

use std::collections::HashMap;

use relay_core::{ApiKey, ApiKeySecret, Tenant};
use serde::Serialize;

use super::Ctx;
use crate::cli::KeyCommand;
use crate::output;

#[derive(Serialize)]
struct KeyView<'a> {
    id: &'a str,
    name: &'a str,
    user: &'a str,
    prefix: &'a str,
    created_at: relay_core::Timestamp,
    revoked_at: Option<relay_core::Timestamp>,
}

/// Emails by user id, to show keys by their owners.
fn emails(ctx: &Ctx, tenant: &Tenant) -> anyhow::Result<HashMap<String, String>> {
    Ok(ctx
        .store
        .list_users(&tenant.id)?
        .into_iter()
        .map(|user| (user.id.to_string(), user.email.to_string()))
        .collect())
}

fn view<'a>(key: &'a ApiKey, emails: &'a HashMap<String, String>) -> KeyView<'a> {
    KeyView {
        id: key.id.as_str(),
        name: &key.name,
        user: emails.get(key.user_id.as_str()).map_or("?", String::as_str),
        prefix: &key.prefix,
        created_at: key.created_at,
        revoked_at: key.revoked_at,
    }
}

pub fn run(ctx: &Ctx, command: &KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create { tenant, user, name } => {
            let tenant = ctx.tenant(&tenant.slug)?;
            let user = ctx.user(&tenant, user)?;
            let secret = ApiKeySecret::generate();
            let key = ctx
                .store
                .create_api_key(&tenant.id, &user.id, name, &secret)?;
            if ctx.json {
                return output::json(&serde_json::json!({
                    "id": key.id,
                    "key": secret.expose(),
                    "tenant": tenant.slug,
                    "user": user.email,
                }));
            }
            println!(
                "Created key {} ({}) for {} in {}:",
                key.id, key.name, user.email, tenant.slug
            );
            println!();
            println!("    {}", secret.expose());
            println!();
            println!("Keep it now: Relay stores only its hash and cannot show it again.");
            Ok(())
        }
        KeyCommand::List { tenant } => {
            let tenant = ctx.tenant(&tenant.slug)?;
            let keys = ctx.store.list_api_keys(&tenant.id)?;
            let emails = emails(ctx, &tenant)?;
            if ctx.json {
                return output::json(&keys.iter().map(|k| view(k, &emails)).collect::<Vec<_>>());
            }
            if keys.is_empty() {
                println!("No keys in {}.", tenant.slug);
                return Ok(());
            }
            let mut table =
                output::Table::new(&["ID", "NAME", "USER", "PREFIX", "CREATED", "STATUS"]);
            for key in &keys {
                let view = view(key, &emails);
                table.row(vec![
                    view.id.to_owned(),
                    view.name.to_owned(),
                    view.user.to_owned(),
                    format!("{}…", view.prefix),
                    output::time(view.created_at),
                    match view.revoked_at {
                        Some(at) => format!("revoked {}", output::time(at)),
                        None => "active".to_owned(),
                    },
                ]);
            }
            table.print();
            Ok(())
        }
        KeyCommand::Revoke { tenant, key } => {
            let tenant = ctx.tenant(&tenant.slug)?;
            let revoked = ctx
                .store
                .revoke_api_key(&tenant.id, key)
                .map_err(|err| match err {
                    relay_store::StoreError::NotFound(_) => anyhow::anyhow!(
                        "no key {key} in tenant {slug}: see `relay-admin key list --tenant {slug}`",
                        slug = tenant.slug
                    ),
                    other => other.into(),
                })?;
            let emails = emails(ctx, &tenant)?;
            let view = view(&revoked, &emails);
            if ctx.json {
                return output::json(&view);
            }
            println!("Revoked key {} ({}) of {}.", view.id, view.name, view.user);
            Ok(())
        }
    }
}
