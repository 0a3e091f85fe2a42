//! `GET /api/me`: who the key belongs to.

use hyper::{Response, StatusCode};
use relay_api::{Me, MeTenant, MeUser};
use relay_store::Principal;

use super::json;
use crate::http::Body;

pub(crate) fn get(principal: &Principal) -> Response<Body> {
    json(
        StatusCode::OK,
        &Me {
            user: MeUser {
                id: principal.user.id.to_string(),
                email: principal.user.email.to_string(),
                role: principal.user.role.to_string(),
            },
            tenant: MeTenant {
                slug: principal.tenant.slug.to_string(),
                name: principal.tenant.name.clone(),
            },
        },
    )
}
