//! One path of the API with its handlers, answering any other method with
//! 405 and the `Allow` header (RFC 9110 15.5.6), as its OpenAPI document
//! promises, rather than 404 as if the path did not exist.

use actix_web::dev::HttpServiceFactory;
use actix_web::http::Method;
use actix_web::http::header::ALLOW;
use actix_web::{FromRequest, Handler, HttpResponse, Resource, Responder, web};
use serde_json::json;

/// A path being mounted: the methods it serves so far.
pub struct Endpoint {
    resource: Resource,
    allowed: Vec<String>,
}

impl Endpoint {
    /// A path with no methods yet.
    pub fn new(path: &str) -> Self {
        Self {
            resource: web::resource(path),
            allowed: Vec::new(),
        }
    }

    /// Serves `method` with `handler`.
    pub fn on<F, Args>(mut self, method: Method, handler: F) -> Self
    where
        F: Handler<Args>,
        Args: FromRequest + 'static,
        F::Output: Responder + 'static,
    {
        self.allowed.push(method.to_string());
        self.resource = self.resource.route(web::method(method).to(handler));
        self
    }

    /// Applies `change` to the underlying resource (its own body limit, say).
    pub fn with(mut self, change: impl FnOnce(Resource) -> Resource) -> Self {
        self.resource = change(self.resource);
        self
    }

    /// The resource to mount, with 405 for every other method.
    pub fn mount(self) -> impl HttpServiceFactory {
        let allow = self.allowed.join(", ");
        self.resource.default_service(web::to(move || {
            let allow = allow.clone();
            async move {
                HttpResponse::MethodNotAllowed()
                    .insert_header((ALLOW, allow.clone()))
                    .json(
                        json!({ "error": format!("method not allowed; this path takes {allow}") }),
                    )
            }
        }))
    }
}
