// Package endpoint turns a request (method, host, raw path) into an
// endpoint template such as "/v1/users/{id}/orders/{id}" and the parameter
// values it replaced, for the API inventory and per-endpoint baselines.
//
// # Templates
//
// A path is split into segments; empty segments are skipped (so "/users/",
// "//users" and "/users" are one template) and the empty path is "/". Each
// segment is percent-decoded for classification and written back in a
// canonical form (unreserved characters and sub-delimiters as they are,
// everything else — '/', '%', '{', '}', spaces, non-ASCII — as %XX), so
// "/a%7Eb" and "/a~b" are one template and a literal never looks like a
// placeholder. Segments past Config.MaxSegments, or from a segment longer
// than Config.MaxSegmentLen on, collapse into "/{rest}".
//
// Placeholders: every inferred identifier renders {id} whatever its shape
// (integer, UUID, hex, hash, ULID, opaque token), so an endpoint does not
// split into several when one position holds ids of different shapes or a
// number that happens to look like something else; Param.Type keeps the
// shape for detectors. Emails render {email} and dates {date}: they are
// told apart by syntax alone and an analyst reads them differently. Learned
// positions render {name}; a static asset's file name renders {file}.ext;
// OpenAPI parameters render as the spec writes them ("{userId}").
//
//	/v1/users/42/orders/7/items        → /v1/users/{id}/orders/{id}/items
//	/invoices/12345.pdf                → /invoices/{id}.pdf
//	/users/alice%40example.com         → /users/{email}
//	/reports/2024-01-31                → /reports/{date}
//	/static/js/app.3f9a1c.js           → /static/js/{file}.js
//	/v2beta/en-US/getUserProfile       → /v2beta/en-US/getUserProfile
//	/customers/cus_NffrFeUfNV2Hib      → /customers/{id}
//	/products/my-awesome-product-name  → literal until learned, then /products/{name}
//
// # Identifiers (ClassifySegment)
//
//   - Int: 1–19 decimal digits. A bare integer is always an id (a compact
//     date such as 20240131 is an Int too: it cannot be told from a
//     numeric id, and detectors want numbers kept as numbers).
//   - UUID: canonical dashed form, any version. 32 hex digits without
//     dashes are a Hash.
//   - Hex: 16+ hex digits; Hash when 32, 40, 64 or 128 long (md5, sha1,
//     sha256, sha512). 20+ digit numbers fall here too.
//   - ULID: 26 Crockford base32 characters starting with 0–7.
//   - Date: YYYY-MM-DD (1900–2200, plausible month and day), optionally
//     followed by "T" and a time.
//   - Email: local@domain.tld.
//   - Token: 16+ base64/base64url characters with letters and digits that
//     are not word-like: a capital-free segment with '-' or '_' is a slug,
//     and a segment whose letters mostly form pronounceable runs once split
//     at case changes and digits is a word ("getUserProfileV2Beta"). A
//     prefixed id whose last '_'/'-' part is 12+ hex, a ULID or a token
//     ("txn_8f7d6c5b4a3e2d1c") is a Token too.
//   - "<id>.<ext>" with a 1–5 character alphanumeric extension is
//     classified by its stem: "12345.pdf" is an Int whose value is "12345".
//
// Never identifiers: versions ("v1", "v2beta", "v2.1", "2.0"), locales,
// short words, everything else. Random ids that fail these rules (short
// ones, or unlucky ones that read like words) are caught by learning.
//
// # Learning
//
// A position is identified by the host and the template rendered so far
// (not the method: GET and DELETE of /users/alice share the decision).
// For each position the Templater counts distinct non-identifier values as
// 64-bit hashes, exactly, up to Config.LearnThreshold; one more makes the
// position a learned {name} parameter from then on. Before that the literal
// value stays in the template, so the first LearnThreshold users of
// /users/<name> produce literal templates: a deliberate tradeoff against
// turning every small set of resource names into a parameter. The first
// segment is never learned (a site's top-level directories and locales
// would otherwise become "/{name}"), and reserved words (me, self,
// current, search, latest, ...), versions and locales are never counted
// nor replaced, so /users/me stays /users/me next to /users/{name}.
// Memory is bounded by MaxTrackedPositions (two generations, an LRU
// approximation) and MaxLearnedPositions (then learning stops; counted).
//
// # OpenAPI
//
// With a Spec, matching operations win over inference: the template is the
// server's base path followed by the spec path ("/v1/users/{userId}"),
// literal segments beat parameter segments, and a server with a host only
// matches requests to that host. A path the spec has but not for this
// method gets the spec template and shadow=true; a path the spec lacks is
// inferred and shadow=true (a shadow API).
package endpoint
