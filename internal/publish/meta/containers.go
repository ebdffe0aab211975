package meta

import (
	"context"
	"fmt"
	"net/url"
	"strconv"
	"time"

	"github.com/herald-dev/herald/internal/publish"
)

// The states of a media container, as Instagram's status_code and
// Threads' status report them.
const (
	StatusInProgress = "IN_PROGRESS"
	StatusFinished   = "FINISHED"
	StatusPublished  = "PUBLISHED"
	StatusError      = "ERROR"
	StatusExpired    = "EXPIRED"
)

// ContainerLifetime is how long a container waits to be published before
// it expires: 24 hours, on both platforms.
const ContainerLifetime = 24 * time.Hour

// Containers publishes the way Instagram and Threads do: create a media
// container, wait until the platform has fetched and processed its media
// (FINISHED), then publish it. A container is published at most once, so
// recording its id before publishing (publish.Post.Checkpoint) makes every
// later try safe: it asks the container whether it was published, and
// never makes a second one for an attempt that may have gone out.
type Containers struct {
	// Graph is the host, as the account.
	Graph *Graph
	// User is the account's node: an Instagram user id, or "me" on
	// Threads.
	User string
	// Name names the platform in messages ("Instagram").
	Name string
	// MediaEdge is where containers are made and posts are listed
	// ("media", "threads"); PublishEdge publishes one ("media_publish",
	// "threads_publish"); LimitEdge reports the publishing quota
	// ("content_publishing_limit", "threads_publishing_limit").
	MediaEdge, PublishEdge, LimitEdge string
	// StatusField is the container's state field ("status_code",
	// "status"); DetailField says why it failed ("status",
	// "error_message").
	StatusField, DetailField string
	// TextField is the post's text in a listing ("caption", "text").
	TextField string
	// Poll is the wait between looks at a container still in progress; 0
	// means 3 s.
	Poll time.Duration
	// Now is the clock for PublishedAt when the platform reports none.
	Now func() time.Time
}

// Create makes the container for a post and returns its id; children
// (carousel items) are made by it too. Making a container publishes
// nothing, so it may be repeated safely.
type Create func(ctx context.Context) (string, error)

// Publish publishes post through a container: the one recorded in
// post.Progress when an earlier try of the attempt made it, else a new one
// made with create and recorded before anything is published.
func (c Containers) Publish(ctx context.Context, post publish.Post, create Create) (publish.Result, error) {
	id := post.Progress
	if id != "" {
		st, err := c.status(ctx, id)
		if err != nil {
			return publish.Result{}, err
		}
		switch st.state {
		case StatusPublished:
			return c.published(ctx, post.Text)
		case StatusError:
			return publish.Result{}, c.failed(id, st)
		case StatusExpired:
			id = "" // never published, and it cannot be any more
		}
	}
	if id == "" {
		if err := c.checkQuota(ctx); err != nil {
			return publish.Result{}, err
		}
		made, err := create(ctx)
		if err != nil {
			return publish.Result{}, err
		}
		if err := post.Checkpoint(ctx, made); err != nil {
			return publish.Result{}, err
		}
		id = made
	}
	if err := c.awaitFinished(ctx, id); err != nil {
		return publish.Result{}, err
	}
	var out struct {
		ID string `json:"id"`
	}
	err := c.Graph.Post(ctx, c.User+"/"+c.PublishEdge, url.Values{"creation_id": {id}}, false, &out)
	if publish.KindOf(err) == publish.Unknown {
		// The answer was lost; the container knows whether it went out.
		if st, serr := c.status(ctx, id); serr == nil && st.state == StatusPublished {
			return c.published(ctx, post.Text)
		}
		return publish.Result{}, err
	}
	if err != nil {
		return publish.Result{}, err
	}
	return c.result(ctx, out.ID), nil
}

type containerStatus struct{ state, detail string }

func (c Containers) status(ctx context.Context, id string) (containerStatus, error) {
	var out map[string]any
	if err := c.Graph.Get(ctx, id, url.Values{"fields": {c.StatusField + "," + c.DetailField}}, &out); err != nil {
		return containerStatus{}, err
	}
	st := containerStatus{}
	st.state, _ = out[c.StatusField].(string)
	if c.DetailField != c.StatusField {
		st.detail, _ = out[c.DetailField].(string)
	}
	return st, nil
}

func (c Containers) failed(id string, st containerStatus) error {
	detail := st.detail
	if detail == "" {
		detail = "no reason given"
	}
	return publish.Errorf(publish.Permanent, "%s could not prepare media container %s (%s); nothing was published: check that every media URL is public and meets %s's media rules",
		c.Name, id, detail, c.Name)
}

// awaitFinished looks at the container until it is ready, while the call
// has time left. A container still in progress when time runs out is kept:
// the next try of the attempt continues with it.
func (c Containers) awaitFinished(ctx context.Context, id string) error {
	poll := c.Poll
	if poll <= 0 {
		poll = 3 * time.Second
	}
	for {
		st, err := c.status(ctx, id)
		if err != nil {
			return err
		}
		switch st.state {
		case StatusFinished:
			return nil
		case StatusError:
			return c.failed(id, st)
		case StatusExpired:
			return publish.Errorf(publish.Retryable, "%s container %s expired before it was published; nothing was published, and the next try makes a new one", c.Name, id)
		case StatusPublished:
			return publish.Errorf(publish.Unknown, "%s container %s is already published", c.Name, id)
		}
		if err := publish.PollAgain(ctx, poll, fmt.Sprintf("%s is still processing the media of container %s; nothing was published yet, and the next try continues with it", c.Name, id)); err != nil {
			return err
		}
	}
}

// checkQuota reads the account's publishing quota and refuses to start a
// post it would exceed.
func (c Containers) checkQuota(ctx context.Context) error {
	if c.LimitEdge == "" {
		return nil
	}
	var out struct {
		Data []struct {
			Usage  int `json:"quota_usage"`
			Config struct {
				Total    int `json:"quota_total"`
				Duration int `json:"quota_duration"`
			} `json:"config"`
		} `json:"data"`
	}
	if err := c.Graph.Get(ctx, c.User+"/"+c.LimitEdge, url.Values{"fields": {"quota_usage,config"}}, &out); err != nil {
		return err
	}
	if len(out.Data) == 0 || out.Data[0].Config.Total == 0 || out.Data[0].Usage < out.Data[0].Config.Total {
		return nil
	}
	q := out.Data[0]
	e := publish.Errorf(publish.Retryable, "%s's publishing limit is used up: %d of %d posts in the last %s; nothing was published, and Herald tries again in an hour",
		c.Name, q.Usage, q.Config.Total, time.Duration(q.Config.Duration)*time.Second)
	e.RetryAfter = time.Hour
	return e
}

// result reads the published post's link; the post is online whatever
// that read answers.
func (c Containers) result(ctx context.Context, id string) publish.Result {
	res := publish.Result{ExternalID: id, PublishedAt: c.now()}
	var out struct {
		Permalink string `json:"permalink"`
		Timestamp string `json:"timestamp"`
	}
	if c.Graph.Get(ctx, id, url.Values{"fields": {"permalink,timestamp"}}, &out) == nil {
		res.URL = out.Permalink
		if t, err := ParseTime(out.Timestamp); err == nil {
			res.PublishedAt = t
		}
	}
	return res
}

// published finds the post a container became when the answer naming it
// was lost: the newest of the account's recent posts with the post's text.
// When none matches (the platform altered the text), the post is still
// published, only its id is not known.
func (c Containers) published(ctx context.Context, text string) (publish.Result, error) {
	var out struct {
		Data []map[string]any `json:"data"`
	}
	if err := c.Graph.Get(ctx, c.User+"/"+c.MediaEdge, url.Values{"fields": {"id,permalink,timestamp," + c.TextField}, "limit": {strconv.Itoa(25)}}, &out); err != nil {
		return publish.Result{PublishedAt: c.now()}, nil
	}
	for _, m := range out.Data {
		if got, _ := m[c.TextField].(string); got == text {
			res := publish.Result{PublishedAt: c.now()}
			res.ExternalID, _ = m["id"].(string)
			res.URL, _ = m["permalink"].(string)
			if ts, _ := m["timestamp"].(string); ts != "" {
				if t, err := ParseTime(ts); err == nil {
					res.PublishedAt = t
				}
			}
			return res, nil
		}
	}
	return publish.Result{PublishedAt: c.now()}, nil
}

func (c Containers) now() time.Time {
	if c.Now != nil {
		return c.Now().UTC()
	}
	return time.Now().UTC()
}

// ParseTime reads Meta's timestamps (2026-07-01T09:00:00+0000).
func ParseTime(s string) (time.Time, error) {
	for _, layout := range []string{"2006-01-02T15:04:05-0700", time.RFC3339} {
		if t, err := time.Parse(layout, s); err == nil {
			return t.UTC(), nil
		}
	}
	return time.Time{}, fmt.Errorf("not a time: %q", s)
}
