package publish

import (
	"strconv"
	"time"

	"github.com/herald-dev/herald/internal/publish/rules"
)

// Info is everything Herald knows about one platform, declared once by its
// adapter. The registry lists them, and whatever varies by platform reads
// it from there: the Secret keys a profile needs, the length and media rules
// of previews and publishing, the default rate limit, whether and for how
// long an attempt may be sent again, the schema enums and the docs.
type Info struct {
	// Platform is the name a SocialProfile's spec.platform uses.
	Platform Platform
	// Rules are the platform's length and media rules as Herald publishes;
	// Rules.Name is how people write the platform's name.
	Rules rules.Rules
	// CredentialKeys are the keys the profile's Secret must hold, in the
	// order docs list them; none means the platform needs no Secret.
	CredentialKeys []string
	// OptionalKeys are further keys the Secret may hold, such as a
	// privacy setting.
	OptionalKeys []string
	// Endpoint says what a profile's spec.endpoint is for this platform
	// (such as "the instance URL"), empty when the platform takes none;
	// EndpointRequired when a profile must set it.
	Endpoint         string
	EndpointRequired bool
	// Resend says whether an attempt whose outcome is unknown may be sent
	// again without risk of a second post.
	Resend Resend
	// PostsPerHour is the platform's documented posting limit for one
	// account, rounded down, that Herald keeps to unless a profile sets
	// its own; 0 means Herald does not limit. PostsPerHourSource says
	// what the platform documents.
	PostsPerHour       int
	PostsPerHourSource string
	// Deletes says whether the adapter can take a published post down
	// again (it implements Deleter).
	Deletes bool
	// MediaByURL says the platform fetches each attachment from its URL
	// itself, so media URLs must be public; otherwise Herald fetches and
	// uploads them.
	MediaByURL bool
	// Checkpoints says the adapter publishes in steps and records each
	// with Post.Checkpoint before the call that publishes. Such attempts
	// are claimed in the post's status, where their progress is written;
	// single-call platforms are claimed in the publishing ledger.
	Checkpoints bool
}

// Name is the platform's name as people write it.
func (i Info) Name() string { return i.Rules.Name }

// Resend is what a platform does with a post sent twice.
type Resend struct {
	// By names what lets the platform recognise a repeat of one attempt,
	// such as "the Idempotency-Key header"; empty when nothing does, and a
	// second send may be a second post.
	By string
	// Window is how long after an attempt was first sent a repeat is still
	// recognised, with a margin kept for clock skew; 0 (with By set) means
	// for as long as the post exists.
	Window time.Duration
}

// Safe reports whether an attempt first sent at firstSent may be sent again
// at now with the same key.
func (r Resend) Safe(firstSent, now time.Time) bool {
	switch {
	case r.By == "":
		return false
	case r.Window == 0:
		return true
	case firstSent.IsZero(): // when it was first sent is not known
		return false
	}
	return now.Sub(firstSent) < r.Window
}

// Describe says in words what a repeated send does, for docs and messages.
func (r Resend) Describe() string {
	switch {
	case r.By == "":
		return "no way to recognise a repeat: an attempt whose outcome is unknown becomes Unknown"
	case r.Window == 0:
		return "a repeat is recognised by " + r.By
	}
	return "a repeat is recognised by " + r.By + " for " + durationWords(r.Window) + " after the first send"
}

// durationWords writes a whole number of hours or minutes as words, such as
// "50 minutes".
func durationWords(d time.Duration) string {
	switch {
	case d%time.Hour == 0 && d >= time.Hour:
		return plural(int(d/time.Hour), "hour")
	case d%time.Minute == 0:
		return plural(int(d/time.Minute), "minute")
	}
	return d.String()
}

func plural(n int, unit string) string {
	if n == 1 {
		return "1 " + unit
	}
	return strconv.Itoa(n) + " " + unit + "s"
}

// Refuse returns a Permanent error with the first reason post cannot be
// published on the platform, or nil when it fits. Adapters whose calls
// depend on what the rules require (an attachment) check it before any
// call.
func (i Info) Refuse(post Post) error {
	if problems := i.Rules.Check(post.Text, Attachments(post.Media)); len(problems) > 0 {
		return Errorf(Permanent, "%s: %s", i.Platform, problems[0].Message)
	}
	return nil
}
