//! `relay-admin tenant …`

use relay_core::Tenant;
use serde::Serialize;

use super::Ctx;
use crate::cli::TenantCommand;
use crate::{UsageError, output};

/// `{"id","slug","name","domains":[…]}`, the shape of `tenant create|show|list --json`.
#[derive(Serialize)]
struct TenantView {
    id: String,
    slug: String,
    name: String,
    domains: Vec<String>,
    /// Sign-in requires Google Workspace's `hd` claim to be one of the domains.
    require_hd: bool,
    created_at: relay_core::Timestamp,
}

fn view(ctx: &Ctx, tenant: &Tenant) -> anyhow::Result<TenantView> {
    let domains = ctx.store.list_domains(&tenant.id)?;
    Ok(TenantView {
        id: tenant.id.to_string(),
        slug: tenant.slug.to_string(),
        name: tenant.name.clone(),
        domains: domains.into_iter().map(|d| d.domain.to_string()).collect(),
        require_hd: ctx.store.tenant_requires_hd(&tenant.id)?,
        created_at: tenant.created_at,
    })
}

fn domains_text(view: &TenantView) -> String {
    if view.domains.is_empty() {
        "-".to_owned()
    } else {
        view.domains.join(", ")
    }
}

fn show(ctx: &Ctx, view: &TenantView) -> anyhow::Result<()> {
    if ctx.json {
        return output::json(view);
    }
    println!("slug:     {}", view.slug);
    println!("name:     {}", view.name);
    println!("id:       {}", view.id);
    println!("domains:  {}", domains_text(view));
    if view.require_hd {
        println!("sign-in:  only accounts of its Google Workspace (hd)");
    }
    println!("created:  {}", output::time(view.created_at));
    Ok(())
}

pub fn run(ctx: &Ctx, command: &TenantCommand) -> anyhow::Result<()> {
    match command {
        TenantCommand::Create {
            slug,
            name,
            domains,
        } => {
            let tenant = ctx.store.create_tenant(slug, name, domains)?;
            let view = view(ctx, &tenant)?;
            if ctx.json {
                return output::json(&view);
            }
            println!("Created tenant {} ({}).", view.slug, view.name);
            show(ctx, &view)
        }
        TenantCommand::List => {
            let views = ctx
                .store
                .list_tenants()?
                .iter()
                .map(|tenant| view(ctx, tenant))
                .collect::<anyhow::Result<Vec<_>>>()?;
            if ctx.json {
                return output::json(&views);
            }
            if views.is_empty() {
                println!(
                    "No tenants yet: create one with `relay-admin tenant create SLUG --name NAME`."
                );
                return Ok(());
            }
            let mut table = output::Table::new(&["SLUG", "NAME", "DOMAINS", "CREATED"]);
            for view in &views {
                table.row(vec![
                    view.slug.clone(),
                    view.name.clone(),
                    domains_text(view),
                    output::time(view.created_at),
                ]);
            }
            table.print();
            Ok(())
        }
        TenantCommand::Show { slug } => {
            let tenant = ctx.tenant(slug)?;
            show(ctx, &view(ctx, &tenant)?)
        }
        TenantCommand::Rename { slug, name } => {
            let tenant = ctx.tenant(slug)?;
            let renamed = ctx.store.rename_tenant(&tenant.id, name)?;
            if ctx.json {
                return output::json(&view(ctx, &renamed)?);
            }
            println!("Renamed tenant {slug} to {:?}.", renamed.name);
            Ok(())
        }
        TenantCommand::Delete { slug, yes } => {
            let tenant = ctx.tenant(slug)?;
            if !yes {
                return Err(UsageError(format!(
                    "deleting tenant {slug} removes all its users, keys, skills and usage: \
                     run again with --yes to confirm"
                ))
                .into());
            }
            ctx.store.delete_tenant(&tenant.id)?;
            if ctx.json {
                return output::json(&serde_json::json!({ "deleted": slug }));
            }
            println!("Deleted tenant {slug} and all its data.");
            Ok(())
        }
        TenantCommand::AddDomain { slug, domain } => {
            let tenant = ctx.tenant(slug)?;
            ctx.store.add_domain(&tenant.id, domain)?;
            if ctx.json {
                return output::json(&view(ctx, &tenant)?);
            }
            println!("People with {domain} addresses now sign in to {slug}.");
            Ok(())
        }
        TenantCommand::RemoveDomain { slug, domain } => {
            let tenant = ctx.tenant(slug)?;
            ctx.store.remove_domain(&tenant.id, domain)?;
            if ctx.json {
                return output::json(&view(ctx, &tenant)?);
            }
            println!("Removed {domain} from {slug}.");
            Ok(())
        }
        TenantCommand::RequireHd { slug, setting } => {
            let tenant = ctx.tenant(slug)?;
            ctx.store.set_tenant_requires_hd(&tenant.id, *setting)?;
            if ctx.json {
                return output::json(&view(ctx, &tenant)?);
            }
            if *setting {
                println!(
                    "{slug} now accepts only accounts managed by its Google Workspace (hd claim)."
                );
            } else {
                println!("{slug} accepts any verified address of its domains again.");
            }
            Ok(())
        }
    }
}
