//! `relay-admin skill …`

use anyhow::Context;
use relay_core::Skill;
use relay_skillfile::{SkillBundle, SkillMeta};
use relay_store::{NewSkillVersion, PublishOutcome, SkillQuery};
use serde::Serialize;

use super::Ctx;
use crate::cli::SkillCommand;
use crate::output;

#[derive(Serialize)]
struct SkillView<'a> {
    id: &'a str,
    slug: &'a str,
    name: &'a str,
    description: &'a str,
    category: Option<&'a str>,
    hours_saved: f64,
    latest_version: i64,
    rating: relay_core::RatingSummary,
    updated_at: relay_core::Timestamp,
}

fn view(skill: &Skill) -> SkillView<'_> {
    SkillView {
        id: skill.id.as_str(),
        slug: skill.slug.as_str(),
        name: &skill.name,
        description: &skill.description,
        category: skill.category.as_ref().map(relay_core::Category::as_str),
        hours_saved: skill.hours_saved.get(),
        latest_version: skill.latest_version,
        rating: skill.rating,
        updated_at: skill.updated_at,
    }
}

pub fn run(ctx: &Ctx, command: &SkillCommand) -> anyhow::Result<()> {
    match command {
        SkillCommand::Import {
            tenant,
            path,
            category,
            hours_saved,
            author,
        } => {
            let tenant = ctx.tenant(&tenant.slug)?;
            let author = author
                .as_ref()
                .map(|email| ctx.user(&tenant, email))
                .transpose()?;
            let bundle = SkillBundle::load(path)?;
            let meta = SkillMeta::read(&bundle.skill_md)
                .with_context(|| format!("reading {}", path.display()))?;
            let published = ctx.store.publish_skill(
                &tenant.id,
                &NewSkillVersion {
                    slug: meta.slug,
                    name: meta.title,
                    description: meta.description,
                    category: category.clone(),
                    hours_saved: *hours_saved,
                    skill_md: bundle.skill_md,
                    files: bundle.files,
                    author: author.map(|user| user.id),
                },
            )?;
            if ctx.json {
                return output::json(&serde_json::json!({
                    "id": published.skill.id,
                    "slug": published.skill.slug,
                    "version": published.version,
                }));
            }
            let what = match published.outcome {
                PublishOutcome::Created => "new skill",
                PublishOutcome::NewVersion => "new version",
                PublishOutcome::Unchanged => {
                    "unchanged: this content is already the latest version"
                }
            };
            println!(
                "Imported {} version {} into {} ({what}).",
                published.skill.slug, published.version, tenant.slug
            );
            Ok(())
        }
        SkillCommand::List { tenant } => {
            let tenant = ctx.tenant(&tenant.slug)?;
            let mut skills = Vec::new();
            let mut query = SkillQuery {
                limit: 200,
                ..SkillQuery::default()
            };
            loop {
                let page = ctx.store.list_skills(&tenant.id, &query)?;
                skills.extend(page.skills);
                match page.next {
                    Some(next) => query.after = Some(next),
                    None => break,
                }
            }
            if ctx.json {
                return output::json(&skills.iter().map(view).collect::<Vec<_>>());
            }
            if skills.is_empty() {
                println!(
                    "No skills in {slug} yet: import one with `relay-admin skill import --tenant {slug} PATH`.",
                    slug = tenant.slug
                );
                return Ok(());
            }
            let mut table =
                output::Table::new(&["SLUG", "VERSION", "CATEGORY", "HOURS", "RATING", "NAME"]);
            for skill in &skills {
                table.row(vec![
                    skill.slug.to_string(),
                    skill.latest_version.to_string(),
                    skill
                        .category
                        .as_ref()
                        .map_or("-", |c| c.as_str())
                        .to_owned(),
                    format!("{}", skill.hours_saved.get()),
                    match skill.rating.average {
                        Some(average) => format!("{average:.1} ({})", skill.rating.count),
                        None => "-".to_owned(),
                    },
                    skill.name.clone(),
                ]);
            }
            table.print();
            Ok(())
        }
    }
}
