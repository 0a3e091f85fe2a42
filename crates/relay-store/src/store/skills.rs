//! Skills, their immutable versions and files, and ratings.

use relay_core::{
    Category, HoursSaved, Rating, RatingSummary, Skill, SkillFile, SkillFilePath, SkillId,
    SkillSlug, SkillVersion, SkillVersionInfo, Stars, TenantId, Timestamp, UserId, content_sha256,
};

use crate::sql::{Conn, Row, params};
use crate::store::{tenants, users};
use crate::{
    NewSkillVersion, PublishOutcome, Published, Result, SkillPage, SkillQuery, StoreError,
};

/// The skill columns and its rating summary, read by [`skill_from_row`].
macro_rules! select_skill {
    () => {
        "SELECT s.id, s.tenant_id, s.slug, s.name, s.description, s.category, s.hours_saved, \
                s.author_id, s.latest_version, s.created_at, s.updated_at, \
                (SELECT AVG(CAST(r.stars AS DOUBLE PRECISION)) FROM ratings r \
                  WHERE r.tenant_id = s.tenant_id AND r.skill_id = s.id), \
                (SELECT count(*) FROM ratings r \
                  WHERE r.tenant_id = s.tenant_id AND r.skill_id = s.id) \
         FROM skills s "
    };
}

const DEFAULT_PAGE: usize = 50;
const MAX_PAGE: usize = 200;

fn skill_from_row(row: &Row) -> Result<Skill> {
    Ok(Skill {
        id: SkillId::from_stored(row.text(0)?),
        tenant_id: TenantId::from_stored(row.text(1)?),
        slug: SkillSlug::from_stored(row.text(2)?),
        name: row.text(3)?,
        description: row.text(4)?,
        category: row.opt_text(5)?.map(Category::from_stored),
        hours_saved: HoursSaved::from_stored(row.float(6)?),
        author_id: row.opt_text(7)?.map(UserId::from_stored),
        latest_version: row.int(8)?,
        created_at: Timestamp::from_millis(row.int(9)?),
        updated_at: Timestamp::from_millis(row.int(10)?),
        rating: RatingSummary {
            average: row.opt_float(11)?,
            count: row.int(12)?,
        },
    })
}

pub(super) fn by_slug(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    slug: &SkillSlug,
) -> Result<Option<Skill>> {
    const SQL: &str = concat!(select_skill!(), "WHERE s.tenant_id = ?1 AND s.slug = ?2");
    conn.query_opt(SQL, params![tenant.as_str(), slug.as_str()])?
        .as_ref()
        .map(skill_from_row)
        .transpose()
}

pub(super) fn by_id(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    skill: &SkillId,
) -> Result<Option<Skill>> {
    const SQL: &str = concat!(select_skill!(), "WHERE s.tenant_id = ?1 AND s.id = ?2");
    conn.query_opt(SQL, params![tenant.as_str(), skill.as_str()])?
        .as_ref()
        .map(skill_from_row)
        .transpose()
}

fn require(conn: &mut dyn Conn, tenant: &TenantId, skill: &SkillId) -> Result<Skill> {
    by_id(conn, tenant, skill)?.ok_or_else(|| StoreError::not_found(format!("skill {skill}")))
}

/// `%text%` for LIKE, lower-cased, with LIKE's own wildcards escaped.
fn like_pattern(text: &str) -> String {
    let mut pattern = String::from("%");
    for c in text.to_lowercase().chars() {
        if matches!(c, '%' | '_' | '\\') {
            pattern.push('\\');
        }
        pattern.push(c);
    }
    pattern.push('%');
    pattern
}

pub(super) fn list(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    query: &SkillQuery,
) -> Result<SkillPage> {
    // '' stands for "no filter" so that every parameter has a type PostgreSQL can infer.
    let bytewise = conn.dialect().bytewise();
    let sql = format!(
        "{} WHERE s.tenant_id = ?1 \
           AND (?2 = '' OR lower(s.slug) LIKE ?2 ESCAPE '\\' OR lower(s.name) LIKE ?2 ESCAPE '\\' \
                OR lower(s.description) LIKE ?2 ESCAPE '\\') \
           AND (?3 = '' OR s.category = ?3) \
           AND s.slug{bytewise} > ?4 \
         ORDER BY s.slug{bytewise} LIMIT ?5",
        select_skill!()
    );
    let limit = match query.limit {
        0 => DEFAULT_PAGE,
        n => n.min(MAX_PAGE),
    };
    let pattern = query
        .text
        .as_deref()
        .map(str::trim)
        .filter(|text| !text.is_empty())
        // Control characters (NUL among them) match nothing and PostgreSQL refuses NUL.
        .map(|text| like_pattern(&text.replace(|c: char| c.is_control(), "")))
        .unwrap_or_default();
    let category = query.category.as_ref().map_or("", Category::as_str);
    let after = query.after.as_ref().map_or("", SkillSlug::as_str);
    // One more than asked tells whether there is a next page.
    let rows = conn.query(
        &sql,
        params![
            tenant.as_str(),
            pattern.as_str(),
            category,
            after,
            (limit + 1) as i64
        ],
    )?;
    let mut skills = rows
        .iter()
        .map(skill_from_row)
        .collect::<Result<Vec<_>>>()?;
    let next = if skills.len() > limit {
        skills.truncate(limit);
        skills.last().map(|skill| skill.slug.clone())
    } else {
        None
    };
    Ok(SkillPage { skills, next })
}

/// Text Relay stores must not hold NUL: PostgreSQL refuses it, SQLite would keep it.
fn refuse_nul(what: &'static str, name: &str, text: &str) -> Result<()> {
    if text.contains('\0') {
        return Err(relay_core::ValidationError::new(
            what,
            name,
            "it contains a NUL byte; skills carry text files only",
        )
        .into());
    }
    Ok(())
}

pub(super) fn publish(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    new: &NewSkillVersion,
) -> Result<Published> {
    refuse_nul("SKILL.md", new.slug.as_str(), &new.skill_md)?;
    refuse_nul("name", new.slug.as_str(), &new.name)?;
    refuse_nul("description", new.slug.as_str(), &new.description)?;
    let mut paths = std::collections::HashSet::new();
    for file in &new.files {
        refuse_nul("skill file", file.path.as_str(), &file.content)?;
        if !paths.insert(file.path.as_str()) {
            return Err(relay_core::ValidationError::new(
                "skill file path",
                file.path.as_str(),
                "the skill has two files at this path",
            )
            .into());
        }
    }
    tenants::require(conn, tenant)?;
    if let Some(author) = &new.author {
        users::require(conn, tenant, author)?;
    }
    let sha256 = content_sha256(&new.skill_md, &new.files);
    let now = Timestamp::now().as_millis();
    let category = new.category.as_ref().map(Category::as_str);
    let hours = new.hours_saved.map(HoursSaved::get);

    let Some(existing) = by_slug(conn, tenant, &new.slug)? else {
        let id = SkillId::generate();
        conn.execute(
            "INSERT INTO skills (id, tenant_id, slug, name, description, category, hours_saved, \
                                 author_id, latest_version, created_at, updated_at) \
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, 1, ?9, ?9)",
            params![
                id.as_str(),
                tenant.as_str(),
                new.slug.as_str(),
                new.name.as_str(),
                new.description.as_str(),
                category,
                hours.unwrap_or(0.0),
                new.author.as_ref().map(UserId::as_str),
                now
            ],
        )?;
        insert_version(conn, tenant, &id, 1, &sha256, new, now)?;
        let skill = require(conn, tenant, &id)?;
        return Ok(Published {
            skill,
            version: 1,
            sha256,
            outcome: PublishOutcome::Created,
        });
    };

    let latest_sha = conn
        .query_one(
            "SELECT sha256 FROM skill_versions WHERE tenant_id = ?1 AND skill_id = ?2 AND version = ?3",
            params![tenant.as_str(), existing.id.as_str(), existing.latest_version],
        )?
        .text(0)?;
    if latest_sha == sha256 {
        // Same content: no new version. Catalogue fields given with it still apply.
        conn.execute(
            "UPDATE skills SET category = COALESCE(?1, category), \
                               hours_saved = COALESCE(?2, hours_saved) \
             WHERE tenant_id = ?3 AND id = ?4",
            params![category, hours, tenant.as_str(), existing.id.as_str()],
        )?;
        let skill = require(conn, tenant, &existing.id)?;
        let version = skill.latest_version;
        return Ok(Published {
            skill,
            version,
            sha256,
            outcome: PublishOutcome::Unchanged,
        });
    }

    // Incrementing in the UPDATE locks the skill's row on PostgreSQL, so two publishers of the
    // same skill queue here instead of both taking the same number.
    let version = conn
        .query_one(
            "UPDATE skills SET latest_version = latest_version + 1, name = ?1, description = ?2, \
                    category = COALESCE(?3, category), hours_saved = COALESCE(?4, hours_saved), \
                    updated_at = ?5 \
             WHERE tenant_id = ?6 AND id = ?7 RETURNING latest_version",
            params![
                new.name.as_str(),
                new.description.as_str(),
                category,
                hours,
                now,
                tenant.as_str(),
                existing.id.as_str()
            ],
        )?
        .int(0)?;
    insert_version(conn, tenant, &existing.id, version, &sha256, new, now)?;
    let skill = require(conn, tenant, &existing.id)?;
    Ok(Published {
        skill,
        version,
        sha256,
        outcome: PublishOutcome::NewVersion,
    })
}

fn insert_version(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    skill: &SkillId,
    version: i64,
    sha256: &str,
    new: &NewSkillVersion,
    now: i64,
) -> Result<()> {
    conn.execute(
        "INSERT INTO skill_versions (tenant_id, skill_id, version, sha256, skill_md, created_by, created_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![
            tenant.as_str(),
            skill.as_str(),
            version,
            sha256,
            new.skill_md.as_str(),
            new.author.as_ref().map(UserId::as_str),
            now
        ],
    )?;
    for file in &new.files {
        conn.execute(
            "INSERT INTO skill_files (tenant_id, skill_id, version, path, content) \
             VALUES (?1, ?2, ?3, ?4, ?5)",
            params![
                tenant.as_str(),
                skill.as_str(),
                version,
                file.path.as_str(),
                file.content.as_str()
            ],
        )?;
    }
    Ok(())
}

pub(super) fn versions(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    skill: &SkillId,
) -> Result<Vec<SkillVersionInfo>> {
    conn.query(
        "SELECT version, sha256, created_at FROM skill_versions \
         WHERE tenant_id = ?1 AND skill_id = ?2 ORDER BY version",
        params![tenant.as_str(), skill.as_str()],
    )?
    .iter()
    .map(|row| {
        Ok(SkillVersionInfo {
            version: row.int(0)?,
            sha256: row.text(1)?,
            created_at: Timestamp::from_millis(row.int(2)?),
        })
    })
    .collect()
}

pub(super) fn version(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    skill: &SkillId,
    version: Option<i64>,
) -> Result<Option<SkillVersion>> {
    let version = match version {
        Some(version) => version,
        None => match by_id(conn, tenant, skill)? {
            Some(skill) => skill.latest_version,
            None => return Ok(None),
        },
    };
    let Some(row) = conn.query_opt(
        "SELECT sha256, skill_md, created_by, created_at FROM skill_versions \
         WHERE tenant_id = ?1 AND skill_id = ?2 AND version = ?3",
        params![tenant.as_str(), skill.as_str(), version],
    )?
    else {
        return Ok(None);
    };
    let files = conn
        .query(
            "SELECT path, content FROM skill_files \
             WHERE tenant_id = ?1 AND skill_id = ?2 AND version = ?3 ORDER BY path",
            params![tenant.as_str(), skill.as_str(), version],
        )?
        .iter()
        .map(|file| {
            Ok(SkillFile {
                path: SkillFilePath::from_stored(file.text(0)?),
                content: file.text(1)?,
            })
        })
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(SkillVersion {
        skill_id: skill.clone(),
        version,
        sha256: row.text(0)?,
        skill_md: row.text(1)?,
        created_by: row.opt_text(2)?.map(UserId::from_stored),
        created_at: Timestamp::from_millis(row.int(3)?),
        files,
    }))
}

fn rating_from_row(row: &Row) -> Result<Rating> {
    Ok(Rating {
        skill_id: SkillId::from_stored(row.text(0)?),
        user_id: UserId::from_stored(row.text(1)?),
        stars: Stars::from_stored(row.int(2)?),
        comment: row.opt_text(3)?,
        updated_at: Timestamp::from_millis(row.int(4)?),
    })
}

pub(super) fn rate(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    skill: &SkillId,
    user: &UserId,
    stars: Stars,
    comment: Option<&str>,
) -> Result<Rating> {
    require(conn, tenant, skill)?;
    users::require(conn, tenant, user)?;
    let comment = comment.map(str::trim).filter(|c| !c.is_empty());
    if let Some(comment) = comment
        && (comment.chars().count() > 2000
            || comment
                .chars()
                .any(|c| c.is_control() && c != '\n' && c != '\t'))
    {
        return Err(relay_core::ValidationError::new(
            "comment",
            comment,
            "use at most 2000 characters, without control characters",
        )
        .into());
    }
    let row = conn.query_one(
        "INSERT INTO ratings (tenant_id, skill_id, user_id, stars, comment, created_at, updated_at) \
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?6) \
         ON CONFLICT (tenant_id, skill_id, user_id) DO UPDATE \
            SET stars = excluded.stars, comment = excluded.comment, updated_at = excluded.updated_at \
         RETURNING skill_id, user_id, stars, comment, updated_at",
        params![
            tenant.as_str(),
            skill.as_str(),
            user.as_str(),
            stars.get(),
            comment,
            Timestamp::now().as_millis()
        ],
    )?;
    rating_from_row(&row)
}

pub(super) fn ratings(
    conn: &mut dyn Conn,
    tenant: &TenantId,
    skill: &SkillId,
) -> Result<Vec<Rating>> {
    conn.query(
        "SELECT skill_id, user_id, stars, comment, updated_at FROM ratings \
         WHERE tenant_id = ?1 AND skill_id = ?2 ORDER BY updated_at, user_id",
        params![tenant.as_str(), skill.as_str()],
    )?
    .iter()
    .map(rating_from_row)
    .collect()
}
