//! `GET /api/openapi.json` (public): an OpenAPI 3.1 document of the platform's REST API
//! (`spec/platform-api.md` §2 and §4.1–§4.6).
//!
//! The document is built with utoipa's builder types from one route table ([`ROUTES`]) rather
//! than from handler annotations, so the handlers stay free of documentation attributes. Each
//! entry gives the method, path, tag, summary, authentication, query and header parameters,
//! request body, success response and error statuses; path parameters come from the `{name}`
//! segments of the path. Every error response carries the `ErrorEnvelope` schema
//! (platform-api.md §1.1), except the health route's 503, whose body is the health object.
//! The Ready plugins are listed in the top-level extension `x-mint-plugins`
//! (`[{name, version, routes_prefix, base_path}]`, `base_path` = `/api{routes_prefix}`); their
//! own routes are documented by the plugins.

use std::sync::{Arc, OnceLock};

use axum::Router;
use axum::extract::State;
use axum::routing::get;
use serde_json::{Value, json};
use utoipa::openapi::path::{HttpMethod, Operation, Parameter, ParameterIn};
use utoipa::openapi::request_body::RequestBody;
use utoipa::openapi::schema::{
    AdditionalProperties, ArrayBuilder, Components, ComponentsBuilder, KnownFormat, Object,
    ObjectBuilder, Ref, Schema, SchemaFormat, SchemaType, Type,
};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityRequirement, SecurityScheme};
use utoipa::openapi::tag::Tag;
use utoipa::openapi::{
    Content, InfoBuilder, OpenApi, OpenApiBuilder, Paths, RefOr, Required, Response, Responses,
};

use crate::state::{PLATFORM_VERSION, Platform};

/// The name of the bearer security scheme in `components.securitySchemes`.
pub const BEARER_SCHEME: &str = "bearerAuth";

/// The route (no auth; credentials are ignored).
pub fn routes() -> Router<Arc<Platform>> {
    Router::new().route("/api/openapi.json", get(openapi_json))
}

async fn openapi_json(State(platform): State<Arc<Platform>>) -> axum::Json<Value> {
    let mut doc = static_document().clone();
    let plugins: Vec<Value> = platform
        .plugins
        .ready()
        .iter()
        .map(|plugin| {
            let meta = plugin.metadata();
            json!({
                "name": meta.name,
                "version": meta.version,
                "routes_prefix": meta.routes_prefix,
                "base_path": format!("/api{}", meta.routes_prefix),
            })
        })
        .collect();
    if let Value::Object(map) = &mut doc {
        map.insert("x-mint-plugins".into(), Value::Array(plugins));
    }
    axum::Json(doc)
}

/// The platform part of the document, built once.
fn static_document() -> &'static Value {
    static DOC: OnceLock<Value> = OnceLock::new();
    DOC.get_or_init(|| serde_json::to_value(document()).unwrap_or_else(|_| json!({})))
}

// ---------------------------------------------------------------------------------------------
// The route table
// ---------------------------------------------------------------------------------------------

/// HTTP method of a route.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// GET.
    Get,
    /// HEAD.
    Head,
    /// POST.
    Post,
    /// PUT.
    Put,
    /// PATCH.
    Patch,
    /// DELETE.
    Delete,
}

/// Authentication a route takes (platform-api.md §2).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Auth {
    /// No token needed; a bad one is ignored.
    Public,
    /// A bearer token is read when present, never required.
    Optional,
    /// A valid bearer token is required (401 otherwise).
    Bearer,
}

/// The type of a parameter.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamType {
    /// A string.
    Str,
    /// An integer.
    Int,
    /// `true` / `false`.
    Bool,
    /// A date (`YYYY-MM-DD`) or an RFC 3339 date-time.
    DateOrTime,
    /// One of these strings.
    OneOf(&'static [&'static str]),
}

/// Where a non-path parameter travels.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ParamIn {
    /// The query string.
    Query,
    /// A request header.
    Header,
}

/// One query or header parameter.
#[derive(Debug, Clone, Copy)]
pub struct Param {
    /// Its name.
    pub name: &'static str,
    /// Its type.
    pub ty: ParamType,
    /// Query or header.
    pub location: ParamIn,
    /// Whether it must be given.
    pub required: bool,
    /// What it means.
    pub doc: &'static str,
}

const fn q(name: &'static str, ty: ParamType, doc: &'static str) -> Param {
    Param {
        name,
        ty,
        location: ParamIn::Query,
        required: false,
        doc,
    }
}

const fn required(param: Param) -> Param {
    Param {
        required: true,
        ..param
    }
}

/// A request body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Body {
    /// None.
    None,
    /// JSON of the named component schema.
    Json(&'static str),
    /// `multipart/form-data` with a `file` part (plugin bundles).
    Upload,
    /// A data object: multipart (`file`, `content_type`, `metadata`) or JSON
    /// (`data_base64`, `content_type`, `metadata`).
    DataObject,
}

/// A success response body.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Out {
    /// No body (204, or HEAD).
    Empty,
    /// One value of the named component schema.
    One(&'static str),
    /// A bare array of the named component schema.
    Many(&'static str),
    /// Any JSON value.
    Any,
    /// Raw bytes (`format=raw`) or JSON.
    BytesOrJson,
}

/// One route of the platform API.
#[derive(Debug, Clone, Copy)]
pub struct Route {
    /// The method.
    pub method: Method,
    /// The path in OpenAPI form (`/api/experiments/{id}`; wildcard tails are plain `{key}`).
    pub path: &'static str,
    /// The tag (group).
    pub tag: &'static str,
    /// One-line summary.
    pub summary: &'static str,
    /// Authentication.
    pub auth: Auth,
    /// Query and header parameters.
    pub params: &'static [Param],
    /// The request body.
    pub body: Body,
    /// The success status.
    pub ok: u16,
    /// The success body.
    pub out: Out,
    /// Error statuses besides the automatic ones (401 for bearer routes, 422 for routes with
    /// parameters or a body, 500 everywhere).
    pub errors: &'static [u16],
}

const fn r(method: Method, path: &'static str, tag: &'static str, summary: &'static str) -> Route {
    Route {
        method,
        path,
        tag,
        summary,
        auth: Auth::Bearer,
        params: &[],
        body: Body::None,
        ok: 200,
        out: Out::Any,
        errors: &[],
    }
}

impl Route {
    const fn auth(self, auth: Auth) -> Self {
        Route { auth, ..self }
    }
    const fn params(self, params: &'static [Param]) -> Self {
        Route { params, ..self }
    }
    const fn body(self, body: Body) -> Self {
        Route { body, ..self }
    }
    const fn ok(self, ok: u16, out: Out) -> Self {
        Route { ok, out, ..self }
    }
    const fn errors(self, errors: &'static [u16]) -> Self {
        Route { errors, ..self }
    }
    /// A lower-priority route that answers 501 `feature.not_implemented` until built (§4.6).
    const fn later(self) -> Self {
        Route {
            errors: &[403, 501],
            ..self
        }
    }
}

use Method::{Delete, Get, Head, Patch, Post, Put};
use ParamType::{Bool, DateOrTime, Int, OneOf, Str};

const PAGING: [Param; 2] = [
    q("skip", Int, "Offset (default 0)."),
    q("limit", Int, "Page size (default 100, at most 1000)."),
];
const EXPERIMENT_LIST: &[Param] = &[
    q(
        "status",
        OneOf(&["planned", "ongoing", "completed"]),
        "Only this status.",
    ),
    q("experiment_type", Str, "Only this type."),
    q("project_id", Int, "Only this project."),
    q("search", Str, "Substring of name, code or notes."),
    q("mine", Bool, "`true`: only experiments I created."),
    q("created_after", DateOrTime, "Created at or after."),
    q("created_before", DateOrTime, "Created before."),
    PAGING[0],
    PAGING[1],
    q(
        "sort_by",
        OneOf(&[
            "created_at",
            "updated_at",
            "name",
            "status",
            "experiment_type",
            "id",
        ]),
        "Sort key (default created_at).",
    ),
    q(
        "sort_order",
        OneOf(&["asc", "desc"]),
        "Sort order (default desc).",
    ),
];
const PROJECT_LIST: &[Param] = &[
    q(
        "status",
        OneOf(&["active", "archived", "completed"]),
        "Only this status; archived projects are hidden unless asked for.",
    ),
    q("search", Str, "Substring of the name or description."),
    q(
        "my_projects",
        Bool,
        "`true`: only projects I am a member of.",
    ),
    PAGING[0],
    PAGING[1],
];
const PLUGIN_ID: Param = required(q("plugin_id", Str, "The plugin that owns the objects."));
const FORCE: Param = q(
    "force",
    Bool,
    "`true`: replace an installed package of the same name (any version).",
);

/// Every route of platform-api.md §2 and §4.1–§4.6 the platform serves, plus this document.
pub const ROUTES: &[Route] = &[
    // §4.1 health and this document
    r(
        Get,
        "/api/health",
        "health",
        "Platform health, database and plugin states",
    )
    .auth(Auth::Public)
    .ok(200, Out::One("Health"))
    .errors(&[503]),
    r(Get, "/health", "health", "Alias of /api/health")
        .auth(Auth::Public)
        .ok(200, Out::One("Health"))
        .errors(&[503]),
    r(
        Get,
        "/api/openapi.json",
        "meta",
        "This OpenAPI 3.1 document",
    )
    .auth(Auth::Public)
    .ok(200, Out::Any),
    // §2 authentication
    r(
        Post,
        "/api/auth/login",
        "auth",
        "Log in with a username (or email) and password",
    )
    .auth(Auth::Public)
    .body(Body::Json("LoginRequest"))
    .ok(200, Out::One("LoginResponse"))
    .errors(&[401, 403, 429]),
    r(
        Post,
        "/api/auth/refresh",
        "auth",
        "New token for a valid or recently expired one",
    )
    .ok(200, Out::One("TokenResponse")),
    r(
        Get,
        "/api/auth/verify",
        "auth",
        "Check a token (200 with valid:false when bad)",
    )
    .auth(Auth::Optional)
    .ok(200, Out::One("VerifyResponse")),
    r(
        Post,
        "/api/auth/logout",
        "auth",
        "Revoke the token and clear the cookie",
    )
    .auth(Auth::Optional)
    .ok(204, Out::Empty),
    r(
        Get,
        "/api/auth/config",
        "auth",
        "Which login methods are enabled",
    )
    .auth(Auth::Public)
    .ok(200, Out::One("AuthConfig")),
    // §4.2 experiments
    r(
        Get,
        "/api/experiments",
        "experiments",
        "List visible experiments",
    )
    .params(EXPERIMENT_LIST)
    .ok(200, Out::One("ExperimentList")),
    r(
        Post,
        "/api/experiments",
        "experiments",
        "Create an experiment (status planned)",
    )
    .body(Body::Json("ExperimentCreate"))
    .ok(201, Out::One("Experiment"))
    .errors(&[403, 404, 409]),
    r(
        Get,
        "/api/experiments/experiment-types",
        "experiments",
        "Experiment types",
    )
    .ok(200, Out::Many("ExperimentType")),
    r(
        Get,
        "/api/experiments/naming/next-seq",
        "experiments",
        "The next experiment code",
    )
    .params(&[q("experiment_type", Str, "The type the code is for.")])
    .ok(200, Out::One("NextSeq")),
    r(
        Get,
        "/api/experiments/{id}",
        "experiments",
        "One experiment",
    )
    .ok(200, Out::One("Experiment"))
    .errors(&[404]),
    r(
        Patch,
        "/api/experiments/{id}",
        "experiments",
        "Change an experiment",
    )
    .body(Body::Json("ExperimentUpdate"))
    .ok(200, Out::One("Experiment"))
    .errors(&[403, 404, 409]),
    r(
        Delete,
        "/api/experiments/{id}",
        "experiments",
        "Delete an experiment",
    )
    .ok(204, Out::Empty)
    .errors(&[403, 404]),
    r(
        Get,
        "/api/experiments/{id}/collaborators",
        "experiments",
        "Collaborators",
    )
    .ok(200, Out::Many("Collaborator"))
    .errors(&[404]),
    r(
        Put,
        "/api/experiments/{id}/collaborators/{user_id}",
        "experiments",
        "Add or re-role a collaborator",
    )
    .body(Body::Json("RoleBody"))
    .ok(200, Out::One("Collaborator"))
    .errors(&[403, 404]),
    r(
        Delete,
        "/api/experiments/{id}/collaborators/{user_id}",
        "experiments",
        "Remove a collaborator",
    )
    .ok(204, Out::Empty)
    .errors(&[403, 404]),
    // §4.3 design data, results, artifacts, objects
    r(
        Get,
        "/api/experiments/{id}/data",
        "experiment data",
        "The experiment's design data",
    )
    .ok(200, Out::One("DesignData"))
    .errors(&[404]),
    r(
        Put,
        "/api/experiments/{id}/data",
        "experiment data",
        "Save design data",
    )
    .body(Body::Json("DesignDataWrite"))
    .ok(200, Out::One("DesignData"))
    .errors(&[403, 404, 409]),
    r(
        Delete,
        "/api/experiments/{id}/data",
        "experiment data",
        "Delete design data",
    )
    .ok(204, Out::Empty)
    .errors(&[403, 404]),
    r(
        Get,
        "/api/experiments/{id}/data/tree",
        "experiment data",
        "Design data as a tree",
    )
    .ok(200, Out::One("DataTree"))
    .errors(&[404]),
    r(
        Get,
        "/api/experiments/{id}/data/summary",
        "experiment data",
        "Design data summary",
    )
    .ok(200, Out::One("DataSummary"))
    .errors(&[404]),
    r(
        Get,
        "/api/experiments/{id}/data/export",
        "experiment data",
        "Export design data (CSV as a JSON string)",
    )
    .params(&[q(
        "format",
        OneOf(&["json", "csv"]),
        "Export format (default json).",
    )])
    .ok(200, Out::Any)
    .errors(&[404]),
    r(
        Get,
        "/api/experiments/{id}/results",
        "experiment data",
        "Analysis results of all plugins",
    )
    .ok(200, Out::One("ResultList"))
    .errors(&[404]),
    r(
        Get,
        "/api/experiments/{id}/results/{plugin_id}",
        "experiment data",
        "One plugin's result",
    )
    .ok(200, Out::One("AnalysisResult"))
    .errors(&[404]),
    r(
        Put,
        "/api/experiments/{id}/results/{plugin_id}",
        "experiment data",
        "Save a plugin's result",
    )
    .body(Body::Json("ResultWrite"))
    .ok(200, Out::One("AnalysisResult"))
    .errors(&[403, 404]),
    r(
        Delete,
        "/api/experiments/{id}/results/{plugin_id}",
        "experiment data",
        "Delete a plugin's result",
    )
    .ok(204, Out::Empty)
    .errors(&[403, 404]),
    r(
        Get,
        "/api/experiments/{id}/analysis-artifacts",
        "experiment data",
        "Analysis artifacts, newest first",
    )
    .params(&[q("include_archived", Bool, "Include archived artifacts.")])
    .ok(200, Out::One("ArtifactList"))
    .errors(&[404]),
    r(
        Get,
        "/api/experiments/{id}/analysis-artifacts/{artifact_id}",
        "experiment data",
        "One artifact",
    )
    .ok(200, Out::One("ArtifactDetail"))
    .errors(&[404]),
    r(
        Get,
        "/api/experiments/{id}/objects",
        "experiment data",
        "A plugin's data objects",
    )
    .params(&[PLUGIN_ID, q("prefix", Str, "Only keys starting with this.")])
    .ok(200, Out::One("ObjectList"))
    .errors(&[404]),
    r(
        Get,
        "/api/experiments/{id}/objects/{key}",
        "experiment data",
        "A data object: its bytes (format=raw) or its ref",
    )
    .params(&[
        PLUGIN_ID,
        q(
            "format",
            OneOf(&["raw", "json"]),
            "`raw`: the stored bytes.",
        ),
    ])
    .ok(200, Out::BytesOrJson)
    .errors(&[404]),
    r(
        Head,
        "/api/experiments/{id}/objects/{key}",
        "experiment data",
        "Whether a data object exists",
    )
    .params(&[PLUGIN_ID])
    .ok(200, Out::Empty)
    .errors(&[404]),
    r(
        Put,
        "/api/experiments/{id}/objects/{key}",
        "experiment data",
        "Store a data object",
    )
    .params(&[PLUGIN_ID])
    .body(Body::DataObject)
    .ok(200, Out::One("DataObjectRef"))
    .errors(&[403, 404, 413]),
    r(
        Delete,
        "/api/experiments/{id}/objects/{key}",
        "experiment data",
        "Delete a data object",
    )
    .params(&[PLUGIN_ID])
    .ok(204, Out::Empty)
    .errors(&[403, 404]),
    // §4.4 projects
    r(Get, "/api/projects", "projects", "List projects")
        .params(PROJECT_LIST)
        .ok(200, Out::One("ProjectList")),
    r(
        Post,
        "/api/projects",
        "projects",
        "Create a project (the creator becomes its owner)",
    )
    .body(Body::Json("ProjectCreate"))
    .ok(201, Out::One("Project"))
    .errors(&[403, 409]),
    r(Get, "/api/projects/{id}", "projects", "One project")
        .ok(200, Out::One("Project"))
        .errors(&[404]),
    r(
        Patch,
        "/api/projects/{id}",
        "projects",
        "Change a project (status archived archives it)",
    )
    .body(Body::Json("ProjectUpdate"))
    .ok(200, Out::One("Project"))
    .errors(&[403, 404, 409]),
    r(
        Delete,
        "/api/projects/{id}",
        "projects",
        "Delete a project and its experiments",
    )
    .ok(204, Out::Empty)
    .errors(&[403, 404]),
    r(
        Get,
        "/api/projects/{id}/experiments",
        "projects",
        "The project's experiments",
    )
    .params(&PAGING)
    .ok(200, Out::Many("Experiment"))
    .errors(&[404]),
    r(
        Get,
        "/api/projects/{id}/members",
        "projects",
        "The project's members",
    )
    .ok(200, Out::Many("Member"))
    .errors(&[404]),
    r(
        Post,
        "/api/projects/{id}/members",
        "projects",
        "Add a member",
    )
    .body(Body::Json("MemberCreate"))
    .ok(201, Out::One("Member"))
    .errors(&[403, 404, 409]),
    r(
        Patch,
        "/api/projects/{id}/members/{user_id}",
        "projects",
        "Change a member's role",
    )
    .body(Body::Json("RoleBody"))
    .ok(200, Out::One("Member"))
    .errors(&[403, 404]),
    r(
        Delete,
        "/api/projects/{id}/members/{user_id}",
        "projects",
        "Remove a member",
    )
    .ok(204, Out::Empty)
    .errors(&[403, 404]),
    // §4.5 plugins
    r(
        Get,
        "/api/plugins",
        "plugins",
        "Loaded plugins and installed packages",
    )
    .ok(200, Out::One("PluginList"))
    .errors(&[403]),
    r(
        Post,
        "/api/plugins/install",
        "plugins",
        "Install a .mint bundle from a path the server can read (URLs and registry names: 501)",
    )
    .body(Body::Json("InstallRequest"))
    .ok(200, Out::One("InstallResult"))
    .errors(&[403, 409, 501]),
    r(
        Post,
        "/api/plugins/upload",
        "plugins",
        "Upload and install a .mint bundle (multipart part `file`)",
    )
    .params(&[FORCE])
    .body(Body::Upload)
    .ok(200, Out::One("InstallResult"))
    .errors(&[403, 409, 413]),
    r(
        Delete,
        "/api/plugins/{package_name}",
        "plugins",
        "Uninstall an installed bundle (compiled-in plugins: 409)",
    )
    .params(&[q(
        "mode",
        OneOf(&["keep", "archive", "purge"]),
        "What happens to the plugin's data (default keep): keep its tables, rename them to \
         `archived_<unix-ts>_<table>`, or drop them and its data directory.",
    )])
    .ok(200, Out::One("InstallResult"))
    .errors(&[403, 404, 409]),
    r(
        Post,
        "/api/plugins/{package_name}/upgrade",
        "plugins",
        "Upgrade a plugin package from a registry (not in this build: 501; upload with force)",
    )
    .params(&[FORCE])
    .ok(200, Out::One("InstallResult"))
    .errors(&[403, 501]),
    r(
        Get,
        "/api/plugins/{name}/config",
        "plugins",
        "A plugin's configuration and revision",
    )
    .ok(200, Out::One("PluginConfig"))
    .errors(&[403, 404]),
    r(
        Put,
        "/api/plugins/{name}/config",
        "plugins",
        "Replace a plugin's configuration",
    )
    .params(&[Param {
        name: "If-Match",
        ty: Str,
        location: ParamIn::Header,
        required: true,
        doc: "The revision read before, quoted: `\"<revision>\"`.",
    }])
    .body(Body::Json("PluginConfigWrite"))
    .ok(200, Out::One("PluginConfig"))
    .errors(&[403, 404, 412, 428]),
    r(
        Patch,
        "/api/plugins/{name}/config",
        "plugins",
        "Merge into a plugin's configuration",
    )
    .body(Body::Json("PluginConfigWrite"))
    .ok(200, Out::One("PluginConfig"))
    .errors(&[403, 404]),
    r(
        Get,
        "/api/plugins/config/extra-index-urls",
        "plugins",
        "Extra package index URLs",
    )
    .ok(200, Out::One("IndexUrls"))
    .errors(&[403]),
    r(
        Put,
        "/api/plugins/config/extra-index-urls",
        "plugins",
        "Set the extra package index URLs",
    )
    .body(Body::Json("IndexUrls"))
    .ok(200, Out::One("IndexUrls"))
    .errors(&[403]),
    r(Get, "/api/plugins/snapshots", "plugins", "Plugin snapshots")
        .ok(200, Out::Many("Object"))
        .errors(&[403]),
    r(
        Get,
        "/api/plugins/snapshots/{id}",
        "plugins",
        "One plugin snapshot",
    )
    .ok(200, Out::Any)
    .errors(&[403, 404]),
    r(
        Post,
        "/api/plugins/runtime/external",
        "plugins",
        "Register an external plugin behind the proxy",
    )
    .body(Body::Json("ExternalRuntime"))
    .ok(200, Out::One("InstallResult"))
    .errors(&[403, 409]),
    r(
        Post,
        "/api/plugins/runtime/docker",
        "plugins",
        "Run a plugin container (not implemented)",
    )
    .body(Body::Json("Object"))
    .ok(200, Out::One("InstallResult"))
    .errors(&[403, 501]),
    // §4.6 admin: users, roles, plugin roles
    r(Get, "/api/admin/users", "admin", "Users")
        .ok(200, Out::Many("User"))
        .errors(&[403]),
    r(Post, "/api/admin/users", "admin", "Create a user")
        .body(Body::Json("UserCreate"))
        .ok(201, Out::One("User"))
        .errors(&[403, 409]),
    r(
        Patch,
        "/api/admin/users/{id}",
        "admin",
        "Change a user's role, activity or password",
    )
    .body(Body::Json("UserUpdate"))
    .ok(200, Out::One("User"))
    .errors(&[403, 404]),
    r(
        Get,
        "/api/admin/users/{id}/plugin-roles",
        "admin",
        "One user's plugin roles",
    )
    .ok(200, Out::Many("UserPluginRole"))
    .errors(&[403, 404]),
    r(
        Get,
        "/api/admin/roles",
        "admin",
        "Roles (system roles included)",
    )
    .ok(200, Out::Many("Role"))
    .errors(&[403]),
    r(Post, "/api/admin/roles", "admin", "Create a custom role")
        .body(Body::Json("RoleCreate"))
        .ok(201, Out::One("Role"))
        .errors(&[403, 409]),
    r(
        Get,
        "/api/admin/roles/permissions",
        "admin",
        "The permission names",
    )
    .ok(200, Out::Many("String"))
    .errors(&[403]),
    r(
        Put,
        "/api/admin/roles/{id}",
        "admin",
        "Change a custom role",
    )
    .body(Body::Json("RoleUpdate"))
    .ok(200, Out::One("Role"))
    .errors(&[403, 404, 409]),
    r(
        Delete,
        "/api/admin/roles/{id}",
        "admin",
        "Delete a custom role",
    )
    .ok(204, Out::Empty)
    .errors(&[403, 404, 409]),
    r(
        Get,
        "/api/admin/plugins/{plugin}/roles",
        "admin",
        "A plugin's user roles",
    )
    .ok(200, Out::Many("UserPluginRole"))
    .errors(&[403]),
    r(
        Put,
        "/api/admin/plugins/{plugin}/roles/{user_id}",
        "admin",
        "Give a user a plugin role",
    )
    .body(Body::Json("RoleBody"))
    .ok(200, Out::One("UserPluginRole"))
    .errors(&[403, 404]),
    r(
        Delete,
        "/api/admin/plugins/{plugin}/roles/{user_id}",
        "admin",
        "Remove a user's plugin role",
    )
    .ok(204, Out::Empty)
    .errors(&[403, 404]),
    r(
        Get,
        "/api/admin/plugin-roles/{plugin}",
        "admin",
        "Alias of GET /api/admin/plugins/{plugin}/roles",
    )
    .ok(200, Out::Many("UserPluginRole"))
    .errors(&[403]),
    r(
        Put,
        "/api/admin/plugin-roles/{plugin}/{user_id}",
        "admin",
        "Alias of PUT /api/admin/plugins/{plugin}/roles/{user_id}",
    )
    .body(Body::Json("RoleBody"))
    .ok(200, Out::One("UserPluginRole"))
    .errors(&[403, 404]),
    r(
        Delete,
        "/api/admin/plugin-roles/{plugin}/{user_id}",
        "admin",
        "Alias of DELETE /api/admin/plugins/{plugin}/roles/{user_id}",
    )
    .ok(204, Out::Empty)
    .errors(&[403, 404]),
    // §4.6 lower priority: 501 until built
    r(
        Get,
        "/api/admin/status",
        "admin",
        "User count and whether auth is on",
    )
    .later(),
    r(
        Get,
        "/api/admin/system",
        "admin",
        "Platform version, resources and recent errors",
    )
    .later(),
    r(
        Get,
        "/api/admin/config",
        "admin",
        "The effective configuration without secrets",
    )
    .later(),
    r(Post, "/api/admin/restart", "admin", "Restart the platform").later(),
    r(Get, "/api/admin/logs/config", "admin", "Log file settings").later(),
    r(Get, "/api/admin/logs", "admin", "Recent log entries")
        .params(&[
            q("limit", Int, "Entries per page."),
            q("offset", Int, "Entries to skip."),
            q("level", Str, "Minimum level."),
            q("search", Str, "Substring of the message."),
            q("plugin", Str, "Only this plugin's entries."),
        ])
        .later(),
    r(Get, "/api/admin/users/{id}", "admin", "One user")
        .ok(200, Out::One("User"))
        .later(),
    r(Delete, "/api/admin/users/{id}", "admin", "Delete a user")
        .ok(204, Out::Empty)
        .later(),
    r(
        Post,
        "/api/admin/users/{id}/activate",
        "admin",
        "Activate a user",
    )
    .later(),
    r(
        Post,
        "/api/admin/users/{id}/deactivate",
        "admin",
        "Deactivate a user",
    )
    .later(),
    r(Get, "/api/updates/check", "updates", "Available updates").later(),
    r(Get, "/api/updates/config", "updates", "Update settings").later(),
    r(Get, "/api/updates/sources", "updates", "Update sources").later(),
    r(
        Post,
        "/api/updates/plugins/{package_name}",
        "updates",
        "Update a plugin package",
    )
    .params(&[FORCE])
    .later(),
    r(
        Post,
        "/api/updates/platform",
        "updates",
        "Update the platform",
    )
    .later(),
    r(
        Get,
        "/api/updates/releases",
        "updates",
        "Releases of a GitHub repository",
    )
    .params(&[
        q("github_url", Str, "The repository URL."),
        q(
            "asset_pattern",
            Str,
            "Glob of the bundle asset (default *.mint).",
        ),
    ])
    .later(),
    r(
        Post,
        "/api/updates/install-github",
        "updates",
        "Install a bundle from a GitHub release",
    )
    .body(Body::Json("Object"))
    .later(),
];

const TAGS: &[(&str, &str)] = &[
    (
        "health",
        "Liveness and plugin states (platform-api.md §4.1).",
    ),
    ("meta", "This document."),
    (
        "auth",
        "Tokens: login, refresh, verify, logout (platform-api.md §2).",
    ),
    (
        "experiments",
        "Experiments and their collaborators (platform-api.md §4.2).",
    ),
    (
        "experiment data",
        "Design data, analysis results, artifacts and data objects (platform-api.md §4.3).",
    ),
    ("projects", "Projects and members (platform-api.md §4.4)."),
    (
        "plugins",
        "Plugin packages and configuration (platform-api.md §4.5).",
    ),
    (
        "admin",
        "Users, roles, plugin roles and administration (platform-api.md §4.6).",
    ),
    (
        "updates",
        "Plugin and platform updates (platform-api.md §4.6; not implemented yet).",
    ),
];

// ---------------------------------------------------------------------------------------------
// Component schemas
// ---------------------------------------------------------------------------------------------

/// The type of one property.
#[derive(Debug, Clone, Copy)]
enum F {
    S,
    I,
    N,
    B,
    DateTime,
    Date,
    Obj,
    Any,
    Strs,
    Ints,
    Objs,
    E(&'static [&'static str]),
    R(&'static str),
    Rs(&'static str),
}

/// Component name, properties, required properties.
type Component = (
    &'static str,
    &'static [(&'static str, F)],
    &'static [&'static str],
);

const EXPERIMENT_STATUS: &[&str] = &["planned", "ongoing", "completed"];
const MEMBER_ROLES: &[&str] = &["owner", "editor", "viewer"];

const COMPONENTS: &[Component] = &[
    (
        "ErrorEnvelope",
        &[
            ("code", F::S),
            ("message", F::S),
            ("status", F::I),
            ("detail", F::Any),
            ("request_id", F::S),
            ("details", F::Any),
        ],
        &["code", "message", "status"],
    ),
    (
        "Health",
        &[
            ("status", F::E(&["healthy", "degraded", "unhealthy"])),
            ("version", F::S),
            ("api_version", F::S),
            ("boot_id", F::S),
            ("uptime_seconds", F::N),
            ("database", F::Obj),
            ("plugins", F::Objs),
        ],
        &[
            "status",
            "version",
            "api_version",
            "boot_id",
            "database",
            "plugins",
        ],
    ),
    (
        "UserInfo",
        &[
            ("id", F::I),
            ("username", F::S),
            ("role", F::S),
            ("email", F::S),
            ("shortname", F::S),
            ("first_name", F::S),
            ("last_name", F::S),
            ("is_active", F::B),
        ],
        &["id", "username", "role", "is_active"],
    ),
    (
        "LoginRequest",
        &[("username", F::S), ("password", F::S)],
        &["username", "password"],
    ),
    (
        "TokenResponse",
        &[
            ("access_token", F::S),
            ("token_type", F::E(&["bearer"])),
            ("expires_in", F::I),
        ],
        &["access_token", "token_type", "expires_in"],
    ),
    (
        "LoginResponse",
        &[
            ("access_token", F::S),
            ("token_type", F::E(&["bearer"])),
            ("expires_in", F::I),
            ("user", F::R("UserInfo")),
        ],
        &["access_token", "token_type", "expires_in", "user"],
    ),
    (
        "VerifyResponse",
        &[
            ("valid", F::B),
            ("user", F::R("UserInfo")),
            ("username", F::S),
            ("expires_at", F::DateTime),
            ("token_type", F::S),
        ],
        &["valid"],
    ),
    (
        "AuthConfig",
        &[
            ("auth_required", F::B),
            ("local_login_enabled", F::B),
            ("passkey_enabled", F::B),
            ("registration_enabled", F::B),
            ("sso_enabled", F::B),
            ("token_ttl_seconds", F::I),
        ],
        &[],
    ),
    (
        "Experiment",
        &[
            ("id", F::I),
            ("name", F::S),
            ("experiment_code", F::S),
            ("experiment_type", F::S),
            ("status", F::E(EXPERIMENT_STATUS)),
            ("project_id", F::I),
            ("project", F::S),
            ("parent_experiment_id", F::I),
            ("notes", F::S),
            ("tags", F::Obj),
            ("custom_metadata", F::Obj),
            ("start_date", F::Date),
            ("end_date", F::Date),
            ("created_by", F::I),
            ("created_at", F::DateTime),
            ("updated_at", F::DateTime),
            ("has_design_data", F::B),
            ("design_owner_plugin_id", F::S),
        ],
        &[
            "id",
            "name",
            "experiment_code",
            "experiment_type",
            "status",
            "created_at",
            "updated_at",
        ],
    ),
    (
        "ExperimentList",
        &[("experiments", F::Rs("Experiment")), ("total", F::I)],
        &["experiments", "total"],
    ),
    (
        "ExperimentCreate",
        &[
            ("name", F::S),
            ("experiment_type", F::S),
            ("project_id", F::I),
            ("notes", F::S),
            ("tags", F::Obj),
        ],
        &["name"],
    ),
    (
        "ExperimentUpdate",
        &[
            ("name", F::S),
            ("status", F::E(EXPERIMENT_STATUS)),
            ("experiment_type", F::S),
            ("project_id", F::I),
            ("notes", F::S),
            ("tags", F::Obj),
            ("parent_experiment_id", F::I),
            ("start_date", F::Date),
            ("end_date", F::Date),
            ("custom_metadata", F::Obj),
        ],
        &[],
    ),
    (
        "ExperimentType",
        &[
            ("key", F::S),
            ("label", F::S),
            ("description", F::S),
            ("plugin_id", F::S),
        ],
        &["key", "label"],
    ),
    (
        "NextSeq",
        &[
            ("experiment_type", F::S),
            ("next_seq", F::I),
            ("code", F::S),
        ],
        &["next_seq", "code"],
    ),
    (
        "Collaborator",
        &[
            ("user_id", F::I),
            ("username", F::S),
            ("role", F::E(MEMBER_ROLES)),
        ],
        &["user_id", "role"],
    ),
    ("RoleBody", &[("role", F::S)], &["role"]),
    (
        "DesignData",
        &[
            ("id", F::I),
            ("experiment_id", F::I),
            ("plugin_id", F::S),
            ("data", F::Obj),
            ("schema_version", F::S),
            ("created_at", F::DateTime),
            ("updated_at", F::DateTime),
        ],
        &["experiment_id", "plugin_id", "data"],
    ),
    (
        "DesignDataWrite",
        &[
            ("plugin_id", F::S),
            ("data", F::Obj),
            ("schema_version", F::S),
        ],
        &["plugin_id", "data"],
    ),
    (
        "DataTree",
        &[
            ("experiment_id", F::I),
            ("plugin_id", F::S),
            ("tree", F::Objs),
        ],
        &["tree"],
    ),
    (
        "DataSummary",
        &[("metadata", F::Obj), ("sections", F::Objs)],
        &["sections"],
    ),
    (
        "AnalysisResult",
        &[
            ("id", F::I),
            ("experiment_id", F::I),
            ("plugin_id", F::S),
            ("result", F::Obj),
            ("created_at", F::DateTime),
            ("updated_at", F::DateTime),
            ("artifact_id", F::I),
            ("artifact_key", F::S),
            ("display_name", F::S),
            ("status", F::S),
            ("result_keys", F::Strs),
        ],
        &["experiment_id", "plugin_id", "result"],
    ),
    ("ResultWrite", &[("result", F::Obj)], &["result"]),
    (
        "ResultList",
        &[("results", F::Rs("AnalysisResult"))],
        &["results"],
    ),
    (
        "ArtifactSummary",
        &[
            ("id", F::I),
            ("experiment_id", F::I),
            ("plugin_id", F::S),
            ("artifact_key", F::S),
            ("display_name", F::S),
            ("note", F::S),
            ("status", F::E(&["active", "archived"])),
            ("result_keys", F::Strs),
            ("created_at", F::DateTime),
            ("updated_at", F::DateTime),
            ("archived_at", F::DateTime),
            ("archived_by", F::I),
        ],
        &["id", "experiment_id", "plugin_id", "artifact_key", "status"],
    ),
    (
        "ArtifactDetail",
        &[
            ("id", F::I),
            ("experiment_id", F::I),
            ("plugin_id", F::S),
            ("artifact_key", F::S),
            ("display_name", F::S),
            ("note", F::S),
            ("status", F::E(&["active", "archived"])),
            ("result_keys", F::Strs),
            ("created_at", F::DateTime),
            ("updated_at", F::DateTime),
            ("archived_at", F::DateTime),
            ("archived_by", F::I),
            ("result", F::Obj),
            ("tree", F::Objs),
            ("summary", F::Obj),
        ],
        &["id", "experiment_id", "plugin_id", "artifact_key", "status"],
    ),
    (
        "ArtifactList",
        &[("artifacts", F::Rs("ArtifactSummary"))],
        &["artifacts"],
    ),
    (
        "DataObjectRef",
        &[
            ("uri", F::S),
            ("experiment_id", F::I),
            ("plugin_id", F::S),
            ("key", F::S),
            ("filename", F::S),
            ("content_type", F::S),
            ("size", F::I),
            ("metadata", F::Obj),
        ],
        &["uri", "experiment_id", "plugin_id", "key"],
    ),
    (
        "ObjectList",
        &[("objects", F::Rs("DataObjectRef"))],
        &["objects"],
    ),
    (
        "Project",
        &[
            ("id", F::I),
            ("name", F::S),
            ("description", F::S),
            ("status", F::E(&["active", "archived", "completed"])),
            ("lead_id", F::I),
            ("tags", F::Obj),
            ("start_date", F::Date),
            ("end_date", F::Date),
            ("created_at", F::DateTime),
            ("updated_at", F::DateTime),
            ("member_count", F::I),
            ("experiment_count", F::I),
        ],
        &[
            "id",
            "name",
            "status",
            "created_at",
            "updated_at",
            "member_count",
            "experiment_count",
        ],
    ),
    (
        "ProjectList",
        &[("projects", F::Rs("Project")), ("total", F::I)],
        &["projects", "total"],
    ),
    (
        "ProjectCreate",
        &[("name", F::S), ("description", F::S), ("tags", F::Obj)],
        &["name"],
    ),
    (
        "ProjectUpdate",
        &[
            ("name", F::S),
            ("description", F::S),
            ("status", F::E(&["active", "archived", "completed"])),
            ("tags", F::Obj),
            ("lead_id", F::I),
            ("start_date", F::Date),
            ("end_date", F::Date),
        ],
        &[],
    ),
    (
        "Member",
        &[
            ("user_id", F::I),
            ("user", F::Obj),
            ("role", F::E(MEMBER_ROLES)),
            ("status", F::S),
        ],
        &["user_id", "role"],
    ),
    (
        "MemberCreate",
        &[("user_id", F::I), ("role", F::E(MEMBER_ROLES))],
        &["user_id", "role"],
    ),
    (
        "LoadedPlugin",
        &[
            ("name", F::S),
            ("version", F::S),
            ("description", F::S),
            ("plugin_type", F::E(&["analysis", "experiment_design"])),
            ("analysis_type", F::S),
            ("routes_prefix", F::S),
            ("enabled", F::B),
            ("status", F::E(&["loading", "ready", "error", "disabled"])),
            ("error", F::S),
            (
                "lifecycle",
                F::E(&["Registered", "Migrating", "Initializing", "Ready", "Failed"]),
            ),
            ("health", F::Obj),
            ("mode", F::E(&["in_process", "isolated"])),
            ("capabilities", F::Obj),
            ("schema_version", F::S),
            ("pending_migrations", F::Ints),
            ("migration_error", F::S),
        ],
        &[
            "name",
            "version",
            "routes_prefix",
            "status",
            "lifecycle",
            "mode",
        ],
    ),
    (
        "PluginList",
        &[
            ("loaded", F::Rs("LoadedPlugin")),
            ("installed", F::Rs("InstalledPackage")),
        ],
        &["loaded", "installed"],
    ),
    (
        "InstalledPackage",
        &[
            ("package_name", F::S),
            ("version", F::S),
            ("entry_point", F::S),
        ],
        &["package_name", "version", "entry_point"],
    ),
    (
        "InstallRequest",
        &[("source", F::S), ("force", F::B)],
        &["source"],
    ),
    (
        "InstallResult",
        &[
            ("success", F::B),
            ("message", F::S),
            ("name", F::S),
            ("version", F::S),
            ("restart_required", F::B),
            ("conflict_detected", F::B),
        ],
        &["success", "message", "restart_required"],
    ),
    (
        "PluginConfig",
        &[("plugin", F::S), ("config", F::Obj), ("revision", F::S)],
        &["plugin", "config", "revision"],
    ),
    ("PluginConfigWrite", &[("config", F::Obj)], &["config"]),
    ("IndexUrls", &[("urls", F::Strs)], &["urls"]),
    (
        "ExternalRuntime",
        &[
            ("name", F::S),
            ("target", F::S),
            ("routes_prefix", F::S),
            ("version", F::S),
            ("frontend_dir", F::S),
            ("base_path", F::S),
            ("rewrite", F::B),
            ("metadata", F::Obj),
        ],
        &["name", "target"],
    ),
    (
        "User",
        &[
            ("id", F::I),
            ("username", F::S),
            ("role", F::S),
            ("is_active", F::B),
            ("created_at", F::DateTime),
            ("updated_at", F::DateTime),
            ("email", F::S),
            ("shortname", F::S),
            ("first_name", F::S),
            ("last_name", F::S),
        ],
        &["id", "username", "role", "is_active"],
    ),
    (
        "UserCreate",
        &[
            ("username", F::S),
            ("password", F::S),
            ("email", F::S),
            ("role", F::S),
            ("first_name", F::S),
            ("last_name", F::S),
            ("shortname", F::S),
        ],
        &["username", "password", "role"],
    ),
    (
        "UserUpdate",
        &[("role", F::S), ("is_active", F::B), ("password", F::S)],
        &[],
    ),
    (
        "Role",
        &[
            ("id", F::I),
            ("name", F::S),
            ("slug", F::S),
            ("permissions", F::Strs),
            ("is_system", F::B),
        ],
        &["id", "name", "slug", "permissions", "is_system"],
    ),
    (
        "RoleCreate",
        &[("name", F::S), ("permissions", F::Strs), ("slug", F::S)],
        &["name", "permissions"],
    ),
    (
        "RoleUpdate",
        &[("name", F::S), ("permissions", F::Strs)],
        &[],
    ),
    (
        "UserPluginRole",
        &[
            ("id", F::I),
            ("user_id", F::I),
            ("plugin_id", F::S),
            ("role", F::S),
            ("created_at", F::DateTime),
            ("updated_at", F::DateTime),
        ],
        &["user_id", "plugin_id", "role"],
    ),
];

// ---------------------------------------------------------------------------------------------
// Building the document
// ---------------------------------------------------------------------------------------------

fn typed(ty: Type) -> ObjectBuilder {
    ObjectBuilder::new().schema_type(SchemaType::Type(ty))
}

fn schema_ref(name: &str) -> RefOr<Schema> {
    match name {
        "Object" => RefOr::T(Schema::Object(free_object())),
        "String" => RefOr::T(Schema::Object(typed(Type::String).build())),
        _ => RefOr::Ref(Ref::from_schema_name(name)),
    }
}

fn free_object() -> Object {
    typed(Type::Object)
        .additional_properties(Some(AdditionalProperties::FreeForm(true)))
        .build()
}

fn array_of(item: RefOr<Schema>) -> RefOr<Schema> {
    RefOr::T(Schema::Array(ArrayBuilder::new().items(item).build()))
}

fn field_schema(field: F) -> RefOr<Schema> {
    let object = |b: ObjectBuilder| RefOr::T(Schema::Object(b.build()));
    match field {
        F::S => object(typed(Type::String)),
        F::I => {
            object(typed(Type::Integer).format(Some(SchemaFormat::KnownFormat(KnownFormat::Int64))))
        }
        F::N => object(typed(Type::Number)),
        F::B => object(typed(Type::Boolean)),
        F::DateTime => object(
            typed(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::DateTime))),
        ),
        F::Date => {
            object(typed(Type::String).format(Some(SchemaFormat::KnownFormat(KnownFormat::Date))))
        }
        F::Obj => RefOr::T(Schema::Object(free_object())),
        F::Any => object(ObjectBuilder::new().schema_type(SchemaType::AnyValue)),
        F::Strs => array_of(field_schema(F::S)),
        F::Ints => array_of(field_schema(F::I)),
        F::Objs => array_of(field_schema(F::Obj)),
        F::E(values) => object(typed(Type::String).enum_values(Some(values.iter().copied()))),
        F::R(name) => schema_ref(name),
        F::Rs(name) => array_of(schema_ref(name)),
    }
}

fn components() -> Components {
    let mut builder = ComponentsBuilder::new().security_scheme(
        BEARER_SCHEME,
        SecurityScheme::Http(
            HttpBuilder::new()
                .scheme(HttpAuthScheme::Bearer)
                .bearer_format("JWT")
                .description(Some(
                    "`Authorization: Bearer <token>` from POST /api/auth/login (HS256 JWT).",
                ))
                .build(),
        ),
    );
    for (name, fields, required) in COMPONENTS {
        let mut object = typed(Type::Object);
        for (field, ty) in *fields {
            object = object.property(*field, field_schema(*ty));
        }
        for field in *required {
            object = object.required(*field);
        }
        builder = builder.schema(*name, Schema::Object(object.build()));
    }
    builder.build()
}

fn param_schema(ty: ParamType) -> RefOr<Schema> {
    match ty {
        ParamType::Str => field_schema(F::S),
        ParamType::Int => field_schema(F::I),
        ParamType::Bool => field_schema(F::B),
        ParamType::DateOrTime => RefOr::T(Schema::Object(
            typed(Type::String)
                .description(Some("A date (YYYY-MM-DD) or an RFC 3339 date-time."))
                .build(),
        )),
        ParamType::OneOf(values) => field_schema(F::E(values)),
    }
}

/// The `{name}` segments of an OpenAPI path.
fn path_params(path: &str) -> impl Iterator<Item = &str> {
    path.split('/')
        .filter_map(|seg| seg.strip_prefix('{').and_then(|s| s.strip_suffix('}')))
}

fn path_param(name: &str) -> Parameter {
    let (ty, doc) = match name {
        "id" => (ParamType::Int, "The numeric id."),
        "user_id" => (ParamType::Int, "The user's id."),
        "artifact_id" => (ParamType::Int, "The artifact's id."),
        "key" => (
            ParamType::Str,
            "The object key: a relative POSIX path that may contain `/`.",
        ),
        "plugin_id" | "plugin" | "name" => (ParamType::Str, "The plugin name (its id)."),
        "package_name" => (ParamType::Str, "The plugin package name."),
        _ => (ParamType::Str, ""),
    };
    Parameter::builder()
        .name(name)
        .parameter_in(ParameterIn::Path)
        .required(Required::True)
        .description(Some(doc).filter(|d| !d.is_empty()))
        .schema(Some(param_schema(ty)))
        .build()
}

fn operation_id(route: &Route) -> String {
    let method = match route.method {
        Method::Get => "get",
        Method::Head => "head",
        Method::Post => "post",
        Method::Put => "put",
        Method::Patch => "patch",
        Method::Delete => "delete",
    };
    let mut id = String::from(method);
    for c in route.path.chars() {
        if c.is_ascii_alphanumeric() {
            id.push(c.to_ascii_lowercase());
        } else if !id.ends_with('_') {
            id.push('_');
        }
    }
    id.trim_end_matches('_').to_string()
}

fn reason(status: u16) -> &'static str {
    match status {
        401 => "Not authenticated: no, invalid or expired token.",
        403 => "Forbidden: a permission is missing (the message names it).",
        404 => "Not found, or not visible to this user.",
        409 => "Conflict (taken name, veto by a plugin, ownership, system role).",
        412 => "The If-Match revision is stale.",
        413 => "The body is larger than the limit.",
        422 => "Validation error: `details` lists `{field, message}`.",
        428 => "If-Match is required.",
        429 => "Too many failed logins from this address; retry later.",
        500 => "Internal error.",
        501 => "Not implemented yet (`feature.not_implemented`).",
        503 => "Unavailable.",
        _ => "Error.",
    }
}

fn json_content(schema: RefOr<Schema>) -> Content {
    Content::new(Some(schema))
}

fn success_response(route: &Route) -> Response {
    let description = match route.ok {
        201 => "Created.",
        204 => "No content.",
        _ => "OK.",
    };
    let response = Response::builder().description(description);
    match route.out {
        Out::Empty => response,
        Out::One(name) => response.content("application/json", json_content(schema_ref(name))),
        Out::Many(name) => {
            response.content("application/json", json_content(array_of(schema_ref(name))))
        }
        Out::Any => response.content("application/json", json_content(field_schema(F::Any))),
        Out::BytesOrJson => response
            .content(
                "application/json",
                json_content(RefOr::T(Schema::Object(
                    typed(Type::Object)
                        .property("ref", schema_ref("DataObjectRef"))
                        .required("ref")
                        .build(),
                ))),
            )
            .content(
                "application/octet-stream",
                json_content(RefOr::T(Schema::Object(
                    typed(Type::String)
                        .content_media_type("application/octet-stream")
                        .description(Some("With format=raw: the stored bytes, exact length."))
                        .build(),
                ))),
            ),
    }
    .build()
}

fn error_response(route: &Route, status: u16) -> Response {
    let schema = if status == 503 && route.tag == "health" {
        schema_ref("Health")
    } else {
        schema_ref("ErrorEnvelope")
    };
    Response::builder()
        .description(if status == 503 && route.tag == "health" {
            "The database is unreachable (`status: unhealthy`; the body is the health object)."
        } else {
            reason(status)
        })
        .content("application/json", json_content(schema))
        .build()
}

fn request_body(body: Body) -> Option<RequestBody> {
    let file_part = || {
        RefOr::T(Schema::Object(
            typed(Type::String)
                .content_media_type("application/octet-stream")
                .build(),
        ))
    };
    let builder = RequestBody::builder().required(Some(Required::True));
    let body = match body {
        Body::None => return None,
        Body::Json(name) => builder.content("application/json", json_content(schema_ref(name))),
        Body::Upload => builder.content(
            "multipart/form-data",
            json_content(RefOr::T(Schema::Object(
                typed(Type::Object)
                    .property("file", file_part())
                    .required("file")
                    .description(Some("A .mint bundle (legacy .mld accepted)."))
                    .build(),
            ))),
        ),
        Body::DataObject => builder
            .content(
                "multipart/form-data",
                json_content(RefOr::T(Schema::Object(
                    typed(Type::Object)
                        .property("file", file_part())
                        .property("content_type", field_schema(F::S))
                        .property(
                            "metadata",
                            RefOr::T(Schema::Object(
                                typed(Type::String)
                                    .description(Some("A JSON object of strings, as a string."))
                                    .build(),
                            )),
                        )
                        .required("file")
                        .build(),
                ))),
            )
            .content(
                "application/json",
                json_content(RefOr::T(Schema::Object(
                    typed(Type::Object)
                        .property("data_base64", field_schema(F::S))
                        .property("content_type", field_schema(F::S))
                        .property("metadata", field_schema(F::Obj))
                        .required("data_base64")
                        .build(),
                ))),
            ),
    };
    Some(body.build())
}

fn operation(route: &Route) -> Operation {
    let mut op = Operation::builder()
        .tag(route.tag)
        .summary(Some(route.summary))
        .operation_id(Some(operation_id(route)));
    for name in path_params(route.path) {
        op = op.parameter(path_param(name));
    }
    for param in route.params {
        op = op.parameter(
            Parameter::builder()
                .name(param.name)
                .parameter_in(match param.location {
                    ParamIn::Query => ParameterIn::Query,
                    ParamIn::Header => ParameterIn::Header,
                })
                .required(if param.required {
                    Required::True
                } else {
                    Required::False
                })
                .description(Some(param.doc))
                .schema(Some(param_schema(param.ty))),
        );
    }
    op = op.request_body(request_body(route.body));
    op = match route.auth {
        Auth::Public => op.securities(Some(Vec::<SecurityRequirement>::new())),
        Auth::Optional => op.securities(Some([
            SecurityRequirement::default(),
            SecurityRequirement::new(BEARER_SCHEME, Vec::<String>::new()),
        ])),
        Auth::Bearer => op.security(SecurityRequirement::new(
            BEARER_SCHEME,
            Vec::<String>::new(),
        )),
    };
    let mut statuses: Vec<u16> = route.errors.to_vec();
    if route.auth == Auth::Bearer {
        statuses.push(401);
    }
    if !route.params.is_empty()
        || route.body != Body::None
        || path_params(route.path).next().is_some()
    {
        statuses.push(422);
    }
    statuses.push(500);
    statuses.sort_unstable();
    statuses.dedup();
    let mut responses =
        Responses::builder().response(route.ok.to_string(), success_response(route));
    for status in statuses {
        responses = responses.response(status.to_string(), error_response(route, status));
    }
    op.responses(responses.build()).build()
}

/// The platform's OpenAPI document (without the per-request `x-mint-plugins` list).
pub fn document() -> OpenApi {
    let mut paths = Paths::new();
    for route in ROUTES {
        let method = match route.method {
            Method::Get => HttpMethod::Get,
            Method::Head => HttpMethod::Head,
            Method::Post => HttpMethod::Post,
            Method::Put => HttpMethod::Put,
            Method::Patch => HttpMethod::Patch,
            Method::Delete => HttpMethod::Delete,
        };
        paths.add_path_operation(route.path, vec![method], operation(route));
    }
    OpenApiBuilder::new()
        .info(
            InfoBuilder::new()
                .title("MINT platform API")
                .version(PLATFORM_VERSION)
                .description(Some(
                    "The REST API of the MINT platform (mint-rs). Errors use the JSON envelope \
                     `ErrorEnvelope`; lists are paged with `skip`/`limit`. Plugins serve their \
                     own routes under `/api{routes_prefix}` (see `x-mint-plugins`).",
                ))
                .build(),
        )
        .paths(paths)
        .components(Some(components()))
        .tags(Some(TAGS.iter().map(|(name, description)| {
            Tag::builder()
                .name(*name)
                .description(Some(*description))
                .build()
        })))
        .build()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_route_is_unique_and_every_referenced_schema_exists() {
        let doc = serde_json::to_value(document()).expect("serialize");
        let mut seen = std::collections::HashSet::new();
        for route in ROUTES {
            assert!(
                seen.insert((route.path, route.method as u8)),
                "duplicate {:?} {}",
                route.method,
                route.path
            );
        }
        let text = doc.to_string();
        let schemas = doc["components"]["schemas"].as_object().expect("schemas");
        for piece in text.split("#/components/schemas/").skip(1) {
            let name: String = piece
                .chars()
                .take_while(|c| c.is_ascii_alphanumeric())
                .collect();
            assert!(schemas.contains_key(&name), "missing component {name}");
        }
        let ids: Vec<&str> = doc["paths"]
            .as_object()
            .expect("paths")
            .values()
            .flat_map(|item| item.as_object().into_iter().flat_map(|m| m.values()))
            .filter_map(|op| op["operationId"].as_str())
            .collect();
        let unique: std::collections::HashSet<_> = ids.iter().collect();
        assert_eq!(ids.len(), unique.len(), "operation ids are unique");
        assert_eq!(ids.len(), ROUTES.len());
    }

    #[test]
    fn path_parameters_are_declared_and_typed() {
        let doc = serde_json::to_value(document()).expect("serialize");
        let op = &doc["paths"]["/api/experiments/{id}/collaborators/{user_id}"]["put"];
        let params = op["parameters"].as_array().expect("parameters");
        assert_eq!(params[0]["name"], "id");
        assert_eq!(params[0]["in"], "path");
        assert_eq!(params[0]["required"], true);
        assert_eq!(params[0]["schema"]["type"], "integer");
        assert_eq!(params[1]["name"], "user_id");
        assert_eq!(
            op["requestBody"]["content"]["application/json"]["schema"]["$ref"],
            "#/components/schemas/RoleBody"
        );
    }
}
