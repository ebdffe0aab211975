package mcpserver

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"net/url"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/registry"
)

// isoExample is the hint every time error carries.
const isoExample = "Use an ISO datetime such as 2026-07-01T09:00:00Z"

// parseTime reads an RFC 3339 time with an offset; a time without one is
// refused rather than guessed.
func parseTime(field, v string) (time.Time, error) {
	t, err := time.Parse(time.RFC3339, strings.TrimSpace(v))
	if err != nil {
		if _, local := time.Parse("2006-01-02T15:04:05", strings.TrimSpace(v)); local == nil {
			return time.Time{}, invalidArgument("%s %q has no time-zone offset. %s (UTC) or 2026-07-01T11:00:00+02:00.", field, v, isoExample)
		}
		return time.Time{}, invalidArgument("%s %q is not a valid time. %s.", field, v, isoExample)
	}
	return t, nil
}

// PublishSoon is how soon a scheduled time counts as publishing now: a
// post due sooner needs the posts:publish scope, as publish_post does, so
// posts:write alone (drafting and scheduling) can never put a post online
// before a person has a chance to look.
const PublishSoon = 10 * time.Minute

// scheduleTime validates a time a post should publish at; a time more than
// a minute in the past is refused with the tool that publishes now, and a
// time within PublishSoon needs posts:publish.
func (s *toolCall) scheduleTime(v string) (string, error) {
	t, err := parseTime("scheduledAt", v)
	if err != nil {
		return "", err
	}
	now := s.clock.Now()
	if t.Before(now.Add(-time.Minute)) {
		return "", invalidArgument("scheduledAt %s is in the past (it is now %s). Give a future time, or call %s to publish now.",
			v, now.UTC().Format(time.RFC3339), s.toolName("publish_post"))
	}
	if t.Before(now.Add(PublishSoon)) && !s.caller.HasScope(socialv1alpha1.ScopePostsPublish) {
		return "", invalidArgument("scheduledAt %s is less than %s away, which publishes it all but at once; that needs the %s scope, which this connection was not granted. "+
			"Schedule it at least %s ahead (after %s), or have the user reconnect granting %s.",
			v, PublishSoon, socialv1alpha1.ScopePostsPublish, PublishSoon, now.Add(PublishSoon).UTC().Format(time.RFC3339), socialv1alpha1.ScopePostsPublish)
	}
	return strings.TrimSpace(v), nil
}

// postContent is what create, update, schedule and publish share.
type postContent struct {
	Text       string
	ProfileIDs []string
	Variants   []VariantInput
	Media      []MediaInput
	BrandKitID string
}

// apply checks the content against the workspace and writes it into spec.
func (s *toolCall) apply(ctx context.Context, c postContent, spec *socialv1alpha1.ScheduledPostSpec) error {
	if c.Text != "" {
		spec.Text = c.Text
	}
	if c.ProfileIDs != nil {
		seen := map[string]bool{}
		spec.Profiles = nil
		for _, id := range c.ProfileIDs {
			if seen[id] {
				continue
			}
			seen[id] = true
			if _, err := s.profile(ctx, id); err != nil {
				return err
			}
			spec.Profiles = append(spec.Profiles, id)
		}
	}
	if c.Variants != nil {
		spec.Variants = nil
		for i, v := range c.Variants {
			if (v.ProfileID == "") == (v.Platform == "") {
				return invalidArgument("variants[%d] must name exactly one of profileId or platform", i)
			}
			spec.Variants = append(spec.Variants, socialv1alpha1.PostVariant{Profile: v.ProfileID, Platform: socialv1alpha1.Platform(v.Platform), Text: v.Text})
		}
	}
	if c.Media != nil {
		spec.Media = nil
		for i, m := range c.Media {
			u, err := url.Parse(m.URL)
			if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
				return invalidArgument("media[%d].url %q must be an http or https URL Herald can fetch", i, m.URL)
			}
			spec.Media = append(spec.Media, socialv1alpha1.PostMedia{URL: m.URL, AltText: m.AltText, Type: m.Type})
		}
	}
	if c.BrandKitID != "" {
		if _, err := s.brandKit(ctx, c.BrandKitID); err != nil {
			return err
		}
		spec.BrandKit = c.BrandKitID
	}
	// Checked on the whole spec, not only what this call changed: dropping
	// a profile, or lengthening the text, can make existing variants unfit.
	if problems := post.ContentProblems(spec.Text, spec.Profiles, spec.Variants); len(problems) > 0 {
		return invalidArgument("%s", strings.Join(problems, "; "))
	}
	return nil
}

// problems renders the post for each of its profiles and lists what would
// stop it from publishing: which platform, by how much.
func (s *toolCall) problems(ctx context.Context, spec *socialv1alpha1.ScheduledPostSpec) ([]string, error) {
	r, err := s.previews(ctx, spec)
	if err != nil {
		return nil, err
	}
	return r.Problems(), nil
}

// platform is what the profile's platform declares.
func (s *Server) platform(p *socialv1alpha1.SocialProfile) publish.Info {
	info, _ := registry.Info(publish.Platform(p.Spec.Platform))
	return info
}

// readyToPublish refuses a post that cannot go out: no profiles, or text that
// does not fit a platform.
func (s *toolCall) readyToPublish(ctx context.Context, spec *socialv1alpha1.ScheduledPostSpec) error {
	if len(spec.Profiles) == 0 {
		return invalidArgument("the post has no profiles to publish to. Pass profileIds (from %s for workspace %q).", s.toolName("list_social_profiles"), s.ws.Name)
	}
	problems, err := s.problems(ctx, spec)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return invalidArgument("the post cannot be published as it is: %s Call %s to see each rendering.", strings.Join(problems, " "), s.toolName("preview_post"))
	}
	return nil
}

// idempotentName derives an object name from a client's idempotency key, so
// the same key creates one object however often, and on whichever replica,
// it is sent.
func idempotentName(prefix, workspace, key string) string {
	sum := sha256.Sum256([]byte(workspace + "\x00" + key))
	return prefix + hex.EncodeToString(sum[:8])
}

// createOnce creates obj; with an idempotency key, a second create returns
// the object the first made.
func (s *Server) createOnce(ctx context.Context, obj client.Object, key string) (created bool, err error) {
	if p, isPost := obj.(*socialv1alpha1.ScheduledPost); isPost && s.index != nil && s.index.synced() {
		// A new post goes straight into this replica's list index, and
		// reads by id fall back to the API server while the cache lacks
		// it: the client reads its own write without waiting for the watch.
		err = s.client.Create(ctx, obj)
		if err == nil {
			s.index.record(p, s.clock.Now())
		}
	} else {
		err = s.writeSeen(ctx, obj, false, func() error { return s.client.Create(ctx, obj) })
	}
	if err == nil {
		return true, nil
	}
	if key == "" || !apierrors.IsAlreadyExists(err) {
		return false, err
	}
	if err := s.reader().Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
		return false, err
	}
	return false, nil
}

// post finds a post in the workspace, from the cache.
func (s *toolCall) post(ctx context.Context, id string) (*socialv1alpha1.ScheduledPost, error) {
	return lookup(ctx, s, s.get, id, &socialv1alpha1.ScheduledPost{}, "post %q not found in workspace %q. Call %s to find its id.", "list_posts")
}

// reader reads around the cache where a just-written object must be seen.
func (s *Server) reader() client.Reader {
	if s.opts.APIReader != nil {
		return s.opts.APIReader
	}
	return s.client
}
