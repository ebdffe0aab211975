// Package post holds the rules about a ScheduledPost that the publishing
// reconciler and the MCP tools both apply, so they cannot disagree: when a
// post is due and how late it may be, whether publishing has started, what
// the spec alone decides about its deliveries (one per profile, re-armed by
// a new time, stopped by a cancel), its phase, which deliveries a retry
// takes, and what one profile receives (the variant, the brand kit's
// signature and hashtags, and every problem that would stop it).
package post
