//! The dashboard at `/` on a tenant host, for a signed-in browser: the period's figures, a
//! chart of skill sessions and active people, the skills with what they saved, compliance, and
//! for admins everyone's use. Server-rendered HTML with an inline SVG chart: no JavaScript, and
//! the same figures as `/api/analytics/*` (each marked `data-figure` for tests and scripts).

use std::collections::HashMap;
use std::fmt::Write as _;

use relay_api::analytics::round_hours;
use relay_core::Role;
use relay_store::WebSession;
use relay_store::analytics::{Bucket, Point, Scope, SkillUsage, Summary, UserUsage};

use super::analytics::{self, Caller};
use super::pages::escape;
use crate::AppState;
use crate::http::ApiError;

struct Figures {
    summary: Summary,
    points: Vec<Point>,
    skills: Vec<SkillUsage>,
    users: Option<Vec<UserUsage>>,
    bucket: Bucket,
    scope: Scope,
}

/// The dashboard's HTML body for this session and query (`from`, `to`, `bucket`, `scope`).
pub(crate) async fn body(
    state: &AppState,
    session: &WebSession,
    params: &HashMap<String, String>,
) -> Result<String, ApiError> {
    let caller = Caller {
        user: session.user.clone(),
        tenant: session.tenant.clone(),
    };
    let period = analytics::period(params)?;
    let scope = analytics::scope(&caller, params)?;
    let bucket = analytics::bucket(params)?;
    let tenant = caller.tenant.id.clone();
    let admin = caller.user.role == Role::Admin;
    let asked = scope.clone();
    let figures = state
        .db(move |store| {
            Ok(Figures {
                summary: store.analytics_summary(&tenant, &asked, period)?,
                points: store.analytics_timeseries(&tenant, &asked, period, bucket)?,
                skills: store.analytics_skills(&tenant, &asked, period)?,
                users: if admin && asked == Scope::Tenant {
                    Some(store.analytics_users(&tenant, period)?)
                } else {
                    None
                },
                bucket,
                scope: asked,
            })
        })
        .await?;
    Ok(render(&caller, &figures))
}

fn render(caller: &Caller, figures: &Figures) -> String {
    let summary = &figures.summary;
    let totals = &summary.totals;
    let whose = match figures.scope {
        Scope::Tenant => format!("Everyone at {}", escape(&caller.tenant.name)),
        Scope::User(_) => "Your use".to_owned(),
    };
    let mut html = String::new();
    let _ = write!(
        html,
        "<header class=\"top\"><h1>{name}</h1><div>Signed in as <strong>{email}</strong> ({role}). \
         <form method=\"post\" action=\"/auth/logout\" class=\"inline\"><button>Sign out</button></form></div></header>",
        name = escape(&caller.tenant.name),
        email = escape(caller.user.email.as_str()),
        role = caller.user.role.as_str(),
    );
    let _ = write!(
        html,
        "<form method=\"get\" action=\"/\" class=\"period\"><label>From <input type=\"date\" name=\"from\" value=\"{from}\"></label> \
         <label>To <input type=\"date\" name=\"to\" value=\"{to}\"></label> \
         <label>By <select name=\"bucket\"><option value=\"day\"{day}>day</option><option value=\"week\"{week}>week</option></select></label> {scope}\
         <button>Show</button></form>",
        from = summary.period.from,
        to = summary.period.to,
        day = if figures.bucket == Bucket::Day {
            " selected"
        } else {
            ""
        },
        week = if figures.bucket == Bucket::Week {
            " selected"
        } else {
            ""
        },
        scope = if caller.user.role == Role::Admin {
            format!(
                "<label>Whose <select name=\"scope\"><option value=\"tenant\"{t}>everyone</option><option value=\"me\"{m}>mine</option></select></label> ",
                t = if figures.scope == Scope::Tenant {
                    " selected"
                } else {
                    ""
                },
                m = if figures.scope == Scope::Tenant {
                    ""
                } else {
                    " selected"
                },
            )
        } else {
            String::new()
        },
    );
    let _ = write!(
        html,
        "<h2>{whose}, {from} to {to}</h2><section class=\"tiles\">",
        from = summary.period.from,
        to = summary.period.to
    );
    let compliance = summary
        .compliance
        .rate()
        .map_or("–".to_owned(), |rate| format!("{:.0}%", rate * 100.0));
    for (figure, label, value, note) in [
        (
            "hours_saved",
            "Hours saved",
            round_hours(totals.hours_saved).to_string(),
            format!(
                "<span data-figure=\"fte_days_saved\">{}</span> FTE days",
                round_hours(totals.fte_days_saved())
            ),
        ),
        (
            "skill_sessions",
            "Skill sessions",
            totals.skill_sessions.to_string(),
            format!(
                "<span data-figure=\"invocations\">{}</span> invocations",
                totals.invocations
            ),
        ),
        (
            "tool_uses",
            "Tool uses",
            totals.tool_uses.to_string(),
            format!(
                "<span data-figure=\"tool_failures\">{}</span> failed",
                totals.tool_failures
            ),
        ),
        (
            "active_users",
            "Active people",
            summary.active_users.to_string(),
            format!(
                "<span data-figure=\"active_skills\">{}</span> {} used",
                summary.active_skills,
                if summary.active_skills == 1 {
                    "skill"
                } else {
                    "skills"
                }
            ),
        ),
        (
            "compliance",
            "Compliance",
            compliance,
            format!(
                "<span data-figure=\"reporting_installs\">{}</span> of <span data-figure=\"deployed_installs\">{}</span> installs reported",
                summary.compliance.reporting_installs, summary.compliance.deployed_installs
            ),
        ),
    ] {
        let _ = write!(
            html,
            "<div class=\"tile\"><div class=\"label\">{label}</div><div class=\"value\" data-figure=\"{figure}\">{value}</div><div class=\"note\">{note}</div></div>"
        );
    }
    html.push_str("</section>");
    html.push_str(&chart(&figures.points, figures.bucket));
    html.push_str(&skills_table(&figures.skills));
    if let Some(users) = &figures.users {
        html.push_str(&users_table(users));
    }
    html.push_str(
        "<p class=\"fine\">A skill session is one skill used in one Claude Code session; hours saved \
         are skill sessions times each skill's hours; an FTE day is 8 hours. The same figures are at \
         <code>/api/analytics/summary</code>.</p>",
    );
    html
}

/// Skill sessions as bars and active people as a line, per bucket, in inline SVG.
fn chart(points: &[Point], bucket: Bucket) -> String {
    const WIDTH: f64 = 880.0;
    const HEIGHT: f64 = 240.0;
    const LEFT: f64 = 44.0;
    const BOTTOM: f64 = 28.0;
    const TOP: f64 = 12.0;
    let plot_w = WIDTH - LEFT - 8.0;
    let plot_h = HEIGHT - BOTTOM - TOP;
    let max = points
        .iter()
        .map(|p| p.skill_sessions.max(p.active_users))
        .max()
        .unwrap_or(0)
        .max(1) as f64;
    let n = points.len().max(1) as f64;
    let slot = plot_w / n;
    let y = |value: i64| TOP + plot_h - (value as f64 / max) * plot_h;
    let mut svg = format!(
        "<figure class=\"chart\"><svg viewBox=\"0 0 {WIDTH} {HEIGHT}\" role=\"img\" aria-labelledby=\"chart-title\">\
         <title id=\"chart-title\">Skill sessions (bars) and active people (line) by {}</title>",
        bucket.as_str()
    );
    // Axis and three gridlines.
    for step in 0..=2 {
        let value = (max * f64::from(step) / 2.0).round() as i64;
        let at = y(value);
        let _ = write!(
            svg,
            "<line x1=\"{LEFT}\" x2=\"{}\" y1=\"{at:.1}\" y2=\"{at:.1}\" class=\"grid\"/><text x=\"{}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"end\">{value}</text>",
            WIDTH - 8.0,
            LEFT - 6.0,
            at + 4.0
        );
    }
    let mut line = Vec::new();
    for (index, point) in points.iter().enumerate() {
        let x = LEFT + slot * index as f64;
        let top = y(point.skill_sessions);
        let _ = write!(
            svg,
            "<rect x=\"{:.1}\" y=\"{top:.1}\" width=\"{:.1}\" height=\"{:.1}\" class=\"bar\"><title>{}: {} skill sessions, {} active people</title></rect>",
            x + slot * 0.15,
            (slot * 0.7).max(1.0),
            TOP + plot_h - top,
            point.start,
            point.skill_sessions,
            point.active_users
        );
        line.push(format!(
            "{:.1},{:.1}",
            x + slot / 2.0,
            y(point.active_users)
        ));
        // Label the first, the last and a few between.
        let every = (points.len() / 6).max(1);
        if index % every == 0 || index + 1 == points.len() {
            let _ = write!(
                svg,
                "<text x=\"{:.1}\" y=\"{:.1}\" class=\"tick\" text-anchor=\"middle\">{}</text>",
                x + slot / 2.0,
                HEIGHT - 8.0,
                &point.start.to_string()[5..]
            );
        }
    }
    let _ = write!(
        svg,
        "<polyline points=\"{}\" class=\"line\"/></svg>\
         <figcaption><span class=\"key bar\"></span> skill sessions <span class=\"key line\"></span> active people, by {}</figcaption>",
        line.join(" "),
        bucket.as_str()
    );
    // The same numbers as a table, for screen readers and anyone without SVG.
    svg.push_str(
        "<details><summary>The numbers</summary><table><thead><tr><th>From</th><th>Skill sessions</th><th>Tool uses</th><th>Active people</th></tr></thead><tbody>",
    );
    for point in points {
        let _ = write!(
            svg,
            "<tr><td>{}</td><td>{}</td><td>{}</td><td>{}</td></tr>",
            point.start, point.skill_sessions, point.tool_uses, point.active_users
        );
    }
    svg.push_str("</tbody></table></details></figure>");
    svg
}

fn last_used(at: Option<relay_core::Timestamp>) -> String {
    at.map_or("–".to_owned(), |at| at.day().to_string())
}

fn skills_table(skills: &[SkillUsage]) -> String {
    let mut html = String::from(
        "<h2>Skills</h2><table class=\"data\" id=\"skills\"><thead><tr><th>Skill</th><th class=\"num\">Skill sessions</th><th class=\"num\">Invocations</th><th class=\"num\">People</th><th class=\"num\">Hours saved</th><th>Last used</th></tr></thead><tbody>",
    );
    for skill in skills {
        let _ = write!(
            html,
            "<tr data-skill=\"{slug}\"><td><strong>{name}</strong> <code>{slug}</code></td><td class=\"num\" data-figure=\"skill_sessions\">{}</td><td class=\"num\">{}</td><td class=\"num\">{}</td><td class=\"num\" data-figure=\"hours_saved\">{}</td><td>{}</td></tr>",
            skill.totals.skill_sessions,
            skill.totals.invocations,
            skill.users,
            round_hours(skill.totals.hours_saved),
            last_used(skill.last_used_at),
            slug = escape(skill.slug.as_str()),
            name = escape(&skill.name),
        );
    }
    if skills.is_empty() {
        html.push_str("<tr><td colspan=\"6\">No skills in the catalogue yet.</td></tr>");
    }
    html.push_str("</tbody></table>");
    html
}

fn users_table(users: &[UserUsage]) -> String {
    let mut html = String::from(
        "<h2>People</h2><table class=\"data\" id=\"users\"><thead><tr><th>Person</th><th>Role</th><th class=\"num\">Skill sessions</th><th class=\"num\">Skills</th><th class=\"num\">Hours saved</th><th>Last used</th></tr></thead><tbody>",
    );
    for user in users {
        let _ = write!(
            html,
            "<tr data-user=\"{email}\"><td>{email}</td><td>{}</td><td class=\"num\" data-figure=\"skill_sessions\">{}</td><td class=\"num\">{}</td><td class=\"num\" data-figure=\"hours_saved\">{}</td><td>{}</td></tr>",
            user.role.as_str(),
            user.totals.skill_sessions,
            user.skills,
            round_hours(user.totals.hours_saved),
            last_used(user.last_used_at),
            email = escape(&user.email),
        );
    }
    html.push_str("</tbody></table>");
    html
}

/// The dashboard's styles: readable on a laptop screen, and in print.
pub(crate) const STYLE: &str = "\
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:72rem;margin:1.5rem auto;padding:0 1rem;color:#1d1d1f;background:#fafafa}\
h1{margin:.2rem 0}h2{margin:1.6rem 0 .6rem;font-size:1.15rem}\
.top{display:flex;justify-content:space-between;align-items:center;gap:1rem;flex-wrap:wrap}\
form.inline{display:inline}form.period{display:flex;gap:.8rem;align-items:end;flex-wrap:wrap;margin:1rem 0}\
a.button,button{background:#2456d3;color:#fff;border:0;border-radius:6px;padding:.45rem .9rem;font-size:.95rem;text-decoration:none;cursor:pointer}\
input,select{font-size:.95rem;padding:.25rem}\
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(11rem,1fr));gap:.8rem}\
.tile{background:#fff;border:1px solid #e3e3e8;border-radius:10px;padding:.8rem 1rem}\
.tile .label{color:#555;font-size:.85rem}.tile .value{font-size:1.9rem;font-weight:650;margin:.15rem 0}.tile .note{color:#666;font-size:.85rem}\
figure.chart{background:#fff;border:1px solid #e3e3e8;border-radius:10px;margin:1rem 0;padding:.8rem}\
figure.chart svg{width:100%;height:auto}.grid{stroke:#e6e6ea}.tick{font-size:11px;fill:#666}\
.bar{fill:#2456d3;opacity:.85}.line{fill:none;stroke:#e07a10;stroke-width:2.5}\
.key{display:inline-block;width:.9rem;height:.6rem;margin:0 .2rem 0 .8rem}.key.bar{background:#2456d3}.key.line{background:#e07a10}\
table.data{border-collapse:collapse;width:100%;background:#fff}\
table.data th,table.data td{text-align:left;padding:.4rem .6rem;border-bottom:1px solid #eee}\
table.data .num{text-align:right;font-variant-numeric:tabular-nums}\
details table td{padding:.1rem .6rem}.fine{color:#666;font-size:.85rem;margin-top:2rem}";
