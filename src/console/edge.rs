//! One check for every console input (issue 11 §1): a query parameter or a form field holding
//! a control character (a `%00`, an escape) is refused with 400 and a page naming the field,
//! before any handler or query sees it. Form fields may keep line breaks and tabs (a `<textarea>`
//! sends `\r\n`); query parameters may not. Bidi and zero-width characters are left to the
//! field rules (refused in address lines, stripped from reasons: see `domain::text`).

use super::ConsoleError;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{ServiceRequest, ServiceResponse};
use actix_web::middleware::Next;
use actix_web::{Error, HttpMessage, ResponseError, web};
use futures_util::StreamExt;

/// The console's form limit (also `FormConfig`'s).
pub const FORM_LIMIT: usize = 64 * 1024;

/// The first field of urlencoded `text` holding a control character, by its name.
fn bad_field(text: &[u8], form: bool) -> Option<String> {
    let bad = |c: char| {
        if form {
            crate::domain::text::is_bad_control(c)
        } else {
            c.is_control()
        }
    };
    form_urlencoded_pairs(text).find_map(|(k, v)| {
        if k.chars().any(bad) {
            Some("?".to_owned())
        } else if v.chars().any(bad) {
            Some(k)
        } else {
            None
        }
    })
}

fn form_urlencoded_pairs(text: &[u8]) -> impl Iterator<Item = (String, String)> + '_ {
    url::form_urlencoded::parse(text).map(|(k, v)| (k.into_owned(), v.into_owned()))
}

pub async fn refuse_controls<B: MessageBody>(
    mut req: ServiceRequest,
    next: Next<B>,
) -> Result<ServiceResponse<EitherBody<B>>, Error> {
    // Answered here rather than raised, so that the scope's headers (no-store, CSP) apply.
    let refuse = |req: ServiceRequest, e: ConsoleError| {
        Ok(req.into_response(e.error_response()).map_into_right_body())
    };
    if let Some(field) = bad_field(req.query_string().as_bytes(), false) {
        return refuse(req, ConsoleError::ControlCharacter(field));
    }
    if req.content_type() == "application/x-www-form-urlencoded" {
        let mut payload = req.take_payload();
        let mut body = web::BytesMut::new();
        while let Some(chunk) = payload.next().await {
            let chunk = chunk.map_err(|_| ConsoleError::BadRequest)?;
            if body.len() + chunk.len() > FORM_LIMIT {
                return Err(ConsoleError::BadRequest.into());
            }
            body.extend_from_slice(&chunk);
        }
        if let Some(field) = bad_field(&body, true) {
            return refuse(req, ConsoleError::ControlCharacter(field));
        }
        req.set_payload(body.freeze().into());
    }
    Ok(quiet_sign_in(next.call(req).await?).map_into_left_body())
}

/// The redirect to the sign-in page is the normal answer to a missing or expired session, not
/// a failure: the response keeps its status and headers but no longer carries the error, which
/// the request logger would report at ERROR (a 303 is not a client error to it).
fn quiet_sign_in<B>(res: ServiceResponse<B>) -> ServiceResponse<B> {
    let sign_in = res
        .response()
        .error()
        .and_then(|e| e.as_error::<ConsoleError>())
        .is_some_and(|e| matches!(e, ConsoleError::SignIn { .. }));
    if !sign_in {
        return res;
    }
    tracing::debug!("console: no session, redirected to sign-in");
    let (req, resp) = res.into_parts();
    let plain = actix_web::HttpResponse::from(actix_web::dev::Response::from(resp));
    ServiceResponse::new(req, plain)
}

#[cfg(test)]
mod tests {
    use super::bad_field;

    #[test]
    fn fields_with_controls() {
        assert_eq!(bad_field(b"q=ab%00cd&office=", false).as_deref(), Some("q"));
        assert_eq!(
            bad_field(b"q=abc&office=X%1B", false).as_deref(),
            Some("office")
        );
        assert_eq!(bad_field(b"q=nguy%E1%BB%85n", false), None);
        assert_eq!(bad_field(b"reason=a%0D%0Ab", true), None);
        assert_eq!(
            bad_field(b"reason=a%0D%0Ab", false).as_deref(),
            Some("reason")
        );
        assert_eq!(bad_field(b"reason=a%00b", true).as_deref(), Some("reason"));
    }
}
