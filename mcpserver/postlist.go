package mcpserver

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/post"
)

type listPostsArgs struct {
	workspaceArg
	Status    string `json:"status,omitempty" jsonschema:"only posts in this phase (AwaitingApproval: those an approver has yet to approve)" enum:"Draft,AwaitingApproval,Scheduled,Publishing,Published,PartiallyPublished,Failed,Missed,Canceled,Unknown"`
	ProfileID string `json:"profileId,omitempty" jsonschema:"only posts to this profile"`
	From      string `json:"from,omitempty" jsonschema:"only posts scheduled at or after this RFC 3339 time"`
	To        string `json:"to,omitempty" jsonschema:"only posts scheduled before this RFC 3339 time"`
	Limit     int    `json:"limit,omitempty" jsonschema:"posts per page, 1 to 100; default 20" minimum:"1" maximum:"100"`
	Cursor    string `json:"cursor,omitempty" jsonschema:"nextCursor from the previous page"`
}

// PostSummary is one post on a page of list_posts: enough to choose a post;
// ocoya_get_post has its deliveries and what to do next.
type PostSummary struct {
	ID          string   `json:"id" jsonschema:"the post id other post tools take as postId"`
	Phase       string   `json:"phase" jsonschema:"Draft, AwaitingApproval, Scheduled, Publishing, Published, PartiallyPublished, Failed, Missed, Canceled or Unknown"`
	ScheduledAt string   `json:"scheduledAt,omitempty" jsonschema:"when it publishes, RFC 3339 with offset"`
	ProfileIDs  []string `json:"profileIds" jsonschema:"the profiles it publishes to"`
	Text        string   `json:"text" jsonschema:"the text, cut after 100 characters (then ending in …); ocoya_get_post has all of it"`
}

// PostList is the output of list_posts.
type PostList struct {
	Posts      []*PostSummary `json:"posts" jsonschema:"newest first"`
	NextCursor string         `json:"nextCursor,omitempty" jsonschema:"pass as cursor for the next page; absent on the last page"`
	Upcoming   []*Occurrence  `json:"upcoming,omitempty" jsonschema:"on the first page, the next occurrences of recurring posts whose posts are not made yet (they are made a minute before they are due), soonest first, within from and to (default the next 30 days), at most limit"`

	// entries hold each post's encodings, made once per version of the
	// post: a page is read far more often than its posts change, so a page
	// is written from them (selfEncoding).
	entries []*listedPost
}

// appendJSON appends the page's structured content.
func (l *PostList) appendJSON(dst []byte) []byte {
	size := 32 + 2*len(l.NextCursor)
	for _, e := range l.entries {
		size += len(e.json) + 1
	}
	dst = slices.Grow(dst, size)
	dst = append(dst, `{"posts":[`...)
	for i, e := range l.entries {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = append(dst, e.json...)
	}
	dst = append(dst, ']')
	if l.NextCursor != "" {
		dst = append(dst, `,"nextCursor":`...)
		dst = strconv.AppendQuote(dst, l.NextCursor) // base64url: nothing JSON would escape
	}
	if len(l.Upcoming) > 0 {
		raw, _ := json.Marshal(l.Upcoming) // strings and lists of strings: cannot fail
		dst = append(append(dst, `,"upcoming":`...), raw...)
	}
	return append(dst, '}')
}

// appendText appends the page as text: a count, how to get the next page,
// and a line per post.
func (l *PostList) appendText(dst []byte) []byte { return l.appendLines(dst, false) }

// appendTextJSON appends the text already escaped as the contents of a JSON
// string, from each entry's escaped line: a page's text is a few kilobytes
// that would otherwise be escaped byte by byte on every call.
func (l *PostList) appendTextJSON(dst []byte) []byte { return l.appendLines(dst, true) }

func (l *PostList) appendLines(dst []byte, escaped bool) []byte {
	var head [256]byte
	h := strconv.AppendInt(head[:0], int64(len(l.entries)), 10)
	h = append(h, " posts"...)
	if l.NextCursor != "" {
		h = append(h, " (more: pass cursor "...)
		h = append(h, l.NextCursor...)
		h = append(h, ')')
	}
	h = append(h, "\nid\tphase\tscheduledAt\tprofiles\ttext\n"...)
	size := 2 * len(h)
	for _, e := range l.entries {
		size += len(e.lineJSON)
	}
	dst = slices.Grow(dst, size)
	if escaped {
		dst = appendJSONStringBody(dst, string(h))
	} else {
		dst = append(dst, h...)
	}
	for _, e := range l.entries {
		if escaped {
			dst = append(dst, e.lineJSON...)
		} else {
			dst = append(dst, e.line...)
		}
	}
	if len(l.Upcoming) > 0 {
		var b strings.Builder
		fmt.Fprintf(&b, "\n%d upcoming occurrences of recurring posts\nrecurringPostId\tat\tprofiles\ttext\n", len(l.Upcoming))
		for _, o := range l.Upcoming {
			fmt.Fprintf(&b, "%s\t%s\t%s\t%q\n", o.RecurringPostID, o.At, strings.Join(o.ProfileIDs, ","), o.Text)
		}
		if escaped {
			dst = appendJSONStringBody(dst, b.String())
		} else {
			dst = append(dst, b.String()...)
		}
	}
	return dst
}

// summaryTextLimit is how many characters of a post's text a page shows.
const summaryTextLimit = 100

// listedPost is a post as pages show it and filter it, encoded once per
// version of the post (the index replaces an entry when its post changes).
type listedPost struct {
	created  int64 // creation time, for the cursor
	summary  PostSummary
	json     []byte // summary as JSON
	line     string // summary as a line of the text content
	lineJSON []byte // line escaped for a JSON string, without the quotes
}

// truncateText cuts text after summaryTextLimit characters.
func truncateText(text string) string {
	if r := []rune(text); len(r) > summaryTextLimit {
		return string(r[:summaryTextLimit]) + "…"
	}
	return text
}

func newListedPost(p *socialv1alpha1.ScheduledPost, phase string) *listedPost {
	text := truncateText(p.Spec.Text)
	sum := PostSummary{ID: p.Name, Phase: phase, ScheduledAt: p.Spec.ScheduledAt, ProfileIDs: p.Spec.Profiles, Text: text}
	if sum.ProfileIDs == nil {
		sum.ProfileIDs = []string{}
	}
	raw, _ := json.Marshal(sum) // strings and a slice of strings: cannot fail
	at := sum.ScheduledAt
	if at == "" {
		at = "-"
	}
	line := sum.ID + "\t" + sum.Phase + "\t" + at + "\t" + strings.Join(sum.ProfileIDs, ",") + "\t" + strconv.Quote(text) + "\n"
	return &listedPost{created: p.CreationTimestamp.UnixNano(), summary: sum, json: raw, line: line, lineJSON: appendJSONStringBody(nil, line)}
}

// newPostList assembles a page from its entries.
func newPostList(entries []*listedPost, next string) *PostList {
	l := &PostList{Posts: make([]*PostSummary, 0, len(entries)), NextCursor: next, entries: entries}
	for _, e := range entries {
		l.Posts = append(l.Posts, &e.summary)
	}
	return l
}

// cursor marks the last post of a page: posts are ordered newest first by
// creation time, then by name, which no edit changes, so pages never skip or
// repeat a post while others are scheduled or published.
type cursor struct {
	created int64
	name    string
}

func (c cursor) String() string {
	return base64.RawURLEncoding.EncodeToString([]byte(strconv.FormatInt(c.created, 10) + "/" + c.name))
}

func parseCursor(s string) (cursor, error) {
	raw, err := base64.RawURLEncoding.DecodeString(s)
	if err != nil {
		return cursor{}, invalidArgument("cursor %q is not one this tool returned; pass nextCursor unchanged or omit it for the first page", s)
	}
	created, name, ok := strings.Cut(string(raw), "/")
	n, err := strconv.ParseInt(created, 10, 64)
	if !ok || err != nil {
		return cursor{}, invalidArgument("cursor %q is not one this tool returned; pass nextCursor unchanged or omit it for the first page", s)
	}
	return cursor{n, name}, nil
}

// postPage reads a page from the index, or, until the index has synced (or
// where the server runs without one), from a sorted copy of the cache.
func (s *Server) postPage(ctx context.Context, ns string, after *cursor, limit int, match func(*indexedPost) bool) ([]*listedPost, bool, error) {
	if s.index != nil && s.index.synced() {
		page, more := s.index.page(ns, after, limit, match)
		return page, more, nil
	}
	list := &socialv1alpha1.ScheduledPostList{}
	if err := s.client.List(ctx, list, client.InNamespace(ns), client.UnsafeDisableDeepCopy); err != nil {
		return nil, false, err
	}
	idx := newIndex(s.clock)
	for i := range list.Items {
		idx.put(&list.Items[i])
	}
	page, more := idx.page(ns, after, limit, match)
	return page, more, nil
}

func listPostsTool() Tool {
	return declare(Tool{
		Name: "list_posts", Title: "List posts", Scope: socialv1alpha1.ScopePostsRead, ReadOnly: true, Idempotent: true,
		Description: "Lists a workspace's posts, newest first, filtered by phase, profile or scheduled time, a page at a time, and on the first page the upcoming occurrences of recurring posts. Pass nextCursor back as cursor for the next page. Use ocoya_get_post for one post's deliveries.",
	}, func(ctx context.Context, s *toolCall, in listPostsArgs) (*PostList, error) {
		var err error
		limit := in.Limit
		if limit == 0 {
			limit = 20
		}
		var from, to time.Time
		if in.From != "" {
			if from, err = parseTime("from", in.From); err != nil {
				return nil, err
			}
		}
		if in.To != "" {
			if to, err = parseTime("to", in.To); err != nil {
				return nil, err
			}
		}
		var after *cursor
		if in.Cursor != "" {
			c, err := parseCursor(in.Cursor)
			if err != nil {
				return nil, err
			}
			after = &c
		}

		match := func(e *indexedPost) bool {
			if in.Status != "" && e.phase != in.Status {
				return false
			}
			if in.ProfileID != "" && !slices.Contains(e.post.Spec.Profiles, in.ProfileID) {
				return false
			}
			if !from.IsZero() || !to.IsZero() {
				if e.due.IsZero() || (!from.IsZero() && e.due.Before(from)) || (!to.IsZero() && !e.due.Before(to)) {
					return false
				}
			}
			return true
		}
		page, more, err := s.postPage(ctx, s.ws.NamespaceName(), after, limit, match)
		if err != nil {
			return nil, err
		}
		next := ""
		if more {
			last := page[len(page)-1]
			next = cursor{last.created, last.summary.ID}.String()
		}
		l := newPostList(page, next)
		if after == nil && (in.Status == "" || in.Status == string(socialv1alpha1.PostScheduled)) {
			if l.Upcoming, err = s.upcoming(ctx, from, to, in.ProfileID, limit); err != nil {
				return nil, err
			}
		}
		return l, nil
	})
}

type previewPostArgs struct {
	workspaceArg
	PostID     string         `json:"postId,omitempty" jsonschema:"preview an existing post; or give text and profileIds"`
	Text       string         `json:"text,omitempty" jsonschema:"text to preview" maxLength:"40000"`
	ProfileIDs []string       `json:"profileIds,omitempty" jsonschema:"profiles to render for" maxItems:"50" maxLength:"253"`
	Variants   []VariantInput `json:"variants,omitempty" maxItems:"50"`
	Media      []MediaInput   `json:"media,omitempty" maxItems:"10"`
	BrandKitID string         `json:"brandKitId,omitempty" jsonschema:"brand kit whose signature, hashtags and banned words apply"`
}

// Preview is one profile's rendering.
type Preview struct {
	ProfileID    string   `json:"profileId"`
	Platform     string   `json:"platform"`
	Text         string   `json:"text" jsonschema:"exactly what would be sent"`
	Length       int      `json:"length" jsonschema:"length in the platform's own counting"`
	Limit        int      `json:"limit" jsonschema:"the platform's limit; 0 means none"`
	Unit         string   `json:"unit" jsonschema:"what length counts"`
	Media        string   `json:"media" jsonschema:"the attachments the platform takes, and whether one is required"`
	PostingLimit string   `json:"postingLimit" jsonschema:"how many posts Herald sends to this account per hour, and why; posts beyond it wait their turn"`
	OK           bool     `json:"ok" jsonschema:"true when nothing stops it from publishing"`
	Problems     []string `json:"problems,omitempty"`
}

// PreviewResult is the output of preview_post.
type PreviewResult struct {
	OK       bool      `json:"ok" jsonschema:"true when every profile's rendering can be published"`
	Previews []Preview `json:"previews"`
}

func previewPostTool() Tool {
	return declare(Tool{
		Name: "preview_post", Title: "Preview a post", Scope: socialv1alpha1.ScopePostsRead, ReadOnly: true, Idempotent: true,
		Description: "Renders a post for each target profile exactly as publishing would (variant, brand kit signature and hashtags) and reports its length against each platform's limit and every problem found, media included: it reads the start of each media file, as publishing does, to check the format, file size and aspect ratio the platform documents (Instagram's images must be JPEG, 4:5 to 1.91:1). Call it before scheduling long posts, posts with media, or posts to X or Bluesky.",
	}, func(ctx context.Context, s *toolCall, in previewPostArgs) (*PreviewResult, error) {
		spec := &socialv1alpha1.ScheduledPostSpec{}
		if in.PostID != "" {
			p, err := s.post(ctx, in.PostID)
			if err != nil {
				return nil, err
			}
			spec = p.Spec.DeepCopy()
		} else if strings.TrimSpace(in.Text) == "" {
			return nil, invalidArgument("give postId, or text and profileIds to preview")
		}
		if err := s.apply(ctx, postContent{in.Text, in.ProfileIDs, in.Variants, in.Media, in.BrandKitID}, spec); err != nil {
			return nil, err
		}
		if len(spec.Profiles) == 0 {
			return nil, invalidArgument("give profileIds to preview for (from %s)", s.toolName("list_social_profiles"))
		}
		return s.previews(ctx, spec)
	})
}

// previews renders spec for each of its profiles exactly as publishing
// would (post.Render: the variant the profile gets, the brand kit's
// signature and hashtags, the platform's counting and limits, and the look
// at the media files publishing takes), for every tool that shows a post
// before it goes out.
func (s *toolCall) previews(ctx context.Context, spec *socialv1alpha1.ScheduledPostSpec) (*PreviewResult, error) {
	var kit *socialv1alpha1.BrandKit
	if spec.BrandKit != "" {
		var err error
		if kit, err = s.brandKit(ctx, spec.BrandKit); err != nil {
			return nil, err
		}
	}
	out := &PreviewResult{OK: true, Previews: []Preview{}}
	for _, id := range spec.Profiles {
		p, err := s.profile(ctx, id)
		if err != nil {
			return nil, err
		}
		info := s.platform(p)
		r := post.Render(spec, p, kit, info)
		if s.opts.Outbound != nil {
			r.InspectMedia(ctx, s.opts.Outbound, info)
		}
		pv := Preview{ProfileID: id, Platform: string(p.Spec.Platform), Text: r.Text, Length: r.Length, Limit: r.Limit, Unit: r.Unit,
			Media: info.Rules.Media.Describe(), PostingLimit: post.PostingLimit(p, info), OK: len(r.Problems) == 0}
		for _, pr := range r.Problems {
			pv.Problems = append(pv.Problems, pr.Message)
		}
		out.OK = out.OK && pv.OK
		out.Previews = append(out.Previews, pv)
	}
	return out, nil
}

// Problems lists, a line a profile, what stops a rendering from publishing:
// which platform, by how much.
func (r *PreviewResult) Problems() []string {
	var out []string
	for _, p := range r.Previews {
		if !p.OK {
			out = append(out, fmt.Sprintf("profile %s (%s): %s", p.ProfileID, p.Platform, strings.Join(p.Problems, " ")))
		}
	}
	return out
}

// Text renders the preview for a model reading text content.
func (r *PreviewResult) Text() string {
	var b strings.Builder
	for _, p := range r.Previews {
		fmt.Fprintf(&b, "%s (%s): %d/%d %s", p.ProfileID, p.Platform, p.Length, p.Limit, p.Unit)
		if !p.OK {
			fmt.Fprintf(&b, " — %s", strings.Join(p.Problems, " "))
		}
		fmt.Fprintf(&b, "\nmedia: %s; posting limit: %s\n%s\n\n", p.Media, p.PostingLimit, p.Text)
	}
	return b.String()
}
