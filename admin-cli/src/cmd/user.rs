//! `relay-admin user …`

use relay_core::{Tenant, User};
use serde::Serialize;

use super::Ctx;
use crate::cli::UserCommand;
use crate::output;

#[derive(Serialize)]
struct UserView<'a> {
    id: &'a str,
    tenant: &'a str,
    email: &'a str,
    role: &'a str,
    disabled: bool,
    created_at: relay_core::Timestamp,
}

fn view<'a>(tenant: &'a Tenant, user: &'a User) -> UserView<'a> {
    UserView {
        id: user.id.as_str(),
        tenant: tenant.slug.as_str(),
        email: user.email.as_str(),
        role: user.role.as_str(),
        disabled: user.disabled,
        created_at: user.created_at,
    }
}

pub fn run(ctx: &Ctx, command: &UserCommand) -> anyhow::Result<()> {
    match command {
        UserCommand::List { tenant } => {
            let tenant = ctx.tenant(&tenant.slug)?;
            let users = ctx.store.list_users(&tenant.id)?;
            if ctx.json {
                return output::json(&users.iter().map(|u| view(&tenant, u)).collect::<Vec<_>>());
            }
            if users.is_empty() {
                println!(
                    "No users in {slug} yet: add one with `relay-admin user add --tenant {slug} EMAIL`.",
                    slug = tenant.slug
                );
                return Ok(());
            }
            let mut table = output::Table::new(&["EMAIL", "ROLE", "STATUS", "ID", "CREATED"]);
            for user in &users {
                let status = match (user.disabled, user.oidc_subject.is_some()) {
                    (true, _) => "disabled",
                    (false, true) => "signed in",
                    (false, false) => "not signed in yet",
                };
                table.row(vec![
                    user.email.to_string(),
                    user.role.to_string(),
                    status.to_owned(),
                    user.id.to_string(),
                    output::time(user.created_at),
                ]);
            }
            table.print();
            Ok(())
        }
        UserCommand::Add {
            tenant,
            email,
            role,
        } => {
            let tenant = ctx.tenant(&tenant.slug)?;
            let user = ctx.store.create_user(&tenant.id, email, *role)?;
            if ctx.json {
                return output::json(&view(&tenant, &user));
            }
            println!("Added {} to {} as {}.", user.email, tenant.slug, user.role);
            Ok(())
        }
        UserCommand::SetRole {
            tenant,
            email,
            role,
        } => {
            let tenant = ctx.tenant(&tenant.slug)?;
            let user = ctx.user(&tenant, email)?;
            let user = ctx.store.set_user_role(&tenant.id, &user.id, *role)?;
            if ctx.json {
                return output::json(&view(&tenant, &user));
            }
            println!("{} is now {} in {}.", user.email, user.role, tenant.slug);
            Ok(())
        }
        UserCommand::Disable { tenant, email } | UserCommand::Enable { tenant, email } => {
            let disable = matches!(command, UserCommand::Disable { .. });
            let tenant = ctx.tenant(&tenant.slug)?;
            let user = ctx.user(&tenant, email)?;
            let user = ctx.store.set_user_disabled(&tenant.id, &user.id, disable)?;
            if ctx.json {
                return output::json(&view(&tenant, &user));
            }
            if disable {
                println!(
                    "{} is disabled in {}: no sign-in, and their keys stop working within a second.",
                    user.email, tenant.slug
                );
            } else {
                println!("{} can sign in to {} again.", user.email, tenant.slug);
            }
            Ok(())
        }
    }
}
