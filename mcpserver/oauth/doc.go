// Package oauth is Herald's OAuth 2.1 authorization server and the
// resource-server middleware that guards /mcp.
//
// fosite runs the protocol (authorization code + PKCE S256, refresh rotation,
// RFC 7009 revocation); Herald adds what fosite lacks: RFC 8414 and RFC 9728
// metadata, RFC 7591 dynamic registration (MCPClient objects), RFC 8707
// resource binding, the login and consent pages, and storage in the
// Kubernetes API so that any replica can finish a flow another one started.
//
// Storage layout: every code, PKCE session and refresh token is one Secret in
// Config.Namespace labelled app.kubernetes.io/managed-by=herald-oauth. The
// Secret's name is derived from a SHA-256 of fosite's HMAC signature of the
// token, so neither the token nor its signature is ever stored or logged.
// Access tokens are self-contained ES256 JWTs and are not stored; the
// middleware checks their MCPGrant on every request instead.
//
// Refresh token reuse: each refresh rotates the token. Presenting a rotated
// token again revokes the whole grant (MCPGrant spec.revoked=true), except
// within RefreshGracePeriod (10 s) of its rotation, so a client that retried a
// refresh whose response it lost is not punished; such a retry gets a fresh
// pair and the pair from the lost response stops working.
package oauth
