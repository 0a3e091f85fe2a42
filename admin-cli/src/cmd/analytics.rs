//! `relay-admin analytics`: the tenant's summary (the HTTP API's summary object with --json),
//! its most used skills and its most active people.

use relay_api::analytics::{SummaryJson, round_hours};
use relay_core::{Day, TenantSlug, Timestamp};
use relay_store::analytics::{Period, Scope};

use super::Ctx;
use crate::{UsageError, output};

pub fn run(ctx: &Ctx, slug: &TenantSlug, from: Option<Day>, to: Option<Day>) -> anyhow::Result<()> {
    let period = Period::from_parts(from, to, Timestamp::now().day())
        .map_err(|err| anyhow::Error::new(UsageError(err.to_string())))?;
    let tenant = ctx.tenant(slug)?;
    let summary = ctx
        .store
        .analytics_summary(&tenant.id, &Scope::Tenant, period)?;
    let shown = SummaryJson::new(&summary, &Scope::Tenant);
    if ctx.json {
        return output::json(&shown);
    }
    println!(
        "{} ({}), {} to {}",
        tenant.name, tenant.slug, shown.from, shown.to
    );
    println!(
        "skill sessions  {}   invocations {}   tool uses {}   failures {}",
        shown.skill_sessions, shown.invocations, shown.tool_uses, shown.tool_failures
    );
    println!(
        "saved           {} hours = {} FTE days",
        shown.hours_saved, shown.fte_days_saved
    );
    println!(
        "active          {} people, {} skills",
        shown.active_users, shown.active_skills
    );
    let compliance = &shown.compliance;
    match compliance.rate {
        Some(rate) => println!(
            "compliance      {} of {} deployed installs reported ({:.0}%)",
            compliance.reporting_installs,
            compliance.deployed_installs,
            rate * 100.0
        ),
        None => println!("compliance      no deployed installs yet"),
    }

    let skills = ctx
        .store
        .analytics_skills(&tenant.id, &Scope::Tenant, period)?;
    let used: Vec<_> = skills
        .iter()
        .filter(|skill| skill.totals.skill_sessions + skill.totals.tool_uses > 0)
        .take(10)
        .collect();
    if !used.is_empty() {
        println!();
        let mut table =
            output::Table::new(&["SKILL", "SESSIONS", "INVOCATIONS", "PEOPLE", "HOURS SAVED"]);
        for skill in used {
            table.row(vec![
                skill.slug.to_string(),
                skill.totals.skill_sessions.to_string(),
                skill.totals.invocations.to_string(),
                skill.users.to_string(),
                round_hours(skill.totals.hours_saved).to_string(),
            ]);
        }
        table.print();
    }
    let users = ctx.store.analytics_users(&tenant.id, period)?;
    let active: Vec<_> = users
        .iter()
        .filter(|user| user.totals.skill_sessions + user.totals.tool_uses > 0)
        .take(10)
        .collect();
    if !active.is_empty() {
        println!();
        let mut table = output::Table::new(&["PERSON", "SESSIONS", "SKILLS", "HOURS SAVED"]);
        for user in active {
            table.row(vec![
                user.email.clone(),
                user.totals.skill_sessions.to_string(),
                user.skills.to_string(),
                round_hours(user.totals.hours_saved).to_string(),
            ]);
        }
        table.print();
    }
    Ok(())
}
