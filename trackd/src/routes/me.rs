//! `GET /api/me`: who the key belongs to.

use hyper::{Response, StatusCode};
use relay_api::{Me, MeTenant, MeUser};
use relay_core::{Tenant, User};

use super::json;
use crate::http::Body;

/// The answer for a user of a tenant, however they authenticated.
pub(crate) fn of(user: &User, tenant: &Tenant) -> Response<Body> {
    json(
        StatusCode::OK,
        &Me {
            user: MeUser {
                id: user.id.to_string(),
                email: user.email.to_string(),
                role: user.role.to_string(),
            },
            tenant: MeTenant {
                slug: tenant.slug.to_string(),
                name: tenant.name.clone(),
            },
        },
    )
}
