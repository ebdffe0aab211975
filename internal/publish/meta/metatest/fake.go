// Package metatest is a fake of Meta's Graph API and Threads API for tests
// of the Facebook, Instagram and Threads adapters, the reconcilers and the
// soak. One server answers both hosts' paths (/v24.0/… and /v1.0/…): a
// Page and its feed, photos and videos; an Instagram professional account
// and a Threads account with media containers that are processed, published
// at most once, listed and counted against a publishing quota; and, on
// demand, the Graph API's rate-limit answers (RateLimit).
package metatest

import (
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/herald-dev/herald/internal/publish/platformtest"
)

// The credentials and ids the fake knows.
const (
	// UserToken is a person's token: it reads the Page (and its token) and
	// publishes to the Instagram account.
	UserToken = "meta-user-token-4b1d"
	// PageToken is the Page's own token, which posts to the Page.
	PageToken = "meta-page-token-77e0"
	// ThreadsToken is the Threads account's token.
	ThreadsToken = "threads-user-token-c3a9"

	PageID        = "1001"
	PageName      = "Herald Coffee"
	IGUserID      = "17841400000000001"
	ThreadsUserID = "2002"
	Username      = "heraldcoffee"
)

// Container is a media container as the fake holds it.
type Container struct {
	ID, User, Type, Text string
	// URL is the image or video the container was made from.
	URL string
	// Children are a carousel's items.
	Children []string
	// Carousel marks an item of a carousel.
	Carousel bool
	// State is IN_PROGRESS, FINISHED, ERROR, EXPIRED or PUBLISHED;
	// MediaID is the post it became.
	State, MediaID string
	polls          int
}

// Media is a published post.
type Media struct {
	ID, User, Text, Permalink string
	// Photos are the photos a Page post carries; Video its video URL.
	Photos []string
	Video  string
	Link   string
	At     time.Time
	// Deleted is set once it was deleted.
	Deleted bool
}

// Fake follows the Graph API and the Threads API as Herald uses them.
// Errors are {"error": {"message", "type", "code", "error_subcode",
// "fbtrace_id"}} with HTTP 400 (a bad token: code 190), as Meta answers.
type Fake struct {
	*platformtest.Server
	// VideoPolls is how many status reads a video container stays
	// IN_PROGRESS before it is FINISHED (default 1).
	VideoPolls int
	// Quota, when set, replaces the publishing quota of 25 posts (Instagram)
	// and 250 (Threads) per 24 hours, for tests that publish more.
	Quota int

	mu         sync.Mutex
	next       int
	containers map[string]*Container
	media      []*Media
	photos     map[string]string // photo id → URL, unpublished
	quotaUsed  map[string]int
}

// New starts a fake; it closes when the test ends.
func New(t testing.TB) *Fake {
	f := &Fake{Server: platformtest.NewServer(t), VideoPolls: 1, next: 9000, containers: map[string]*Container{}, photos: map[string]string{}, quotaUsed: map[string]int{}}
	f.Handle("GET /{v}/{id}", f.read)
	f.Handle("DELETE /{v}/{id}", f.delete)
	f.Handle("POST /{v}/{id}/feed", f.pagePost)
	f.Handle("POST /{v}/{id}/photos", f.pagePhoto)
	f.Handle("POST /{v}/{id}/videos", f.pageVideo)
	f.Handle("POST /{v}/{id}/media", f.createContainer)
	f.Handle("POST /{v}/{id}/threads", f.createContainer)
	f.Handle("POST /{v}/{id}/media_publish", f.publish)
	f.Handle("POST /{v}/{id}/threads_publish", f.publish)
	f.Handle("GET /{v}/{id}/published_posts", f.pagePosts)
	f.Handle("GET /{v}/{id}/media", f.list)
	f.Handle("GET /{v}/{id}/threads", f.list)
	f.Handle("GET /{v}/{id}/content_publishing_limit", f.limit)
	f.Handle("GET /{v}/{id}/threads_publishing_limit", f.limit)
	f.Handle("GET /files/{name}", platformtest.ServeMedia)
	f.handleOAuth()
	return f
}

// GraphError answers with Meta's error body.
func GraphError(w http.ResponseWriter, status, code, subcode int, msg string) {
	e := map[string]any{"message": msg, "type": "OAuthException", "code": code, "fbtrace_id": "AbCdEf123"}
	if subcode != 0 {
		e["error_subcode"] = subcode
	}
	platformtest.WriteJSON(w, status, map[string]any{"error": e})
}

// The Graph API's rate-limit codes: the app's calls, one person's, and one
// Page's.
const (
	AppRateLimit  = 4
	UserRateLimit = 17
	PageRateLimit = 32
)

// rateLimitMessages are Meta's words for each.
var rateLimitMessages = map[int]string{
	AppRateLimit:  "(#4) Application request limit reached",
	UserRateLimit: "(#17) User request limit reached",
	PageRateLimit: "(#32) Page request limit reached",
}

// RateLimit makes the next n calls to route ("POST /v24.0/1001/feed")
// answer as the Graph API does when the rate limit code names (AppRateLimit,
// UserRateLimit, PageRateLimit) is reached: HTTP 400 with the code, and the
// usage header that says which, before the call is acted on. Later calls
// are answered as usual.
func (f *Fake) RateLimit(route string, n, code int) {
	usage := "X-App-Usage"
	if code == PageRateLimit {
		usage = "X-Page-Usage"
	}
	var left atomic.Int32
	left.Store(int32(n))
	f.Override(route, func(w http.ResponseWriter, r *http.Request) {
		if left.Add(-1) < 0 {
			f.Mux.ServeHTTP(w, r)
			return
		}
		w.Header().Set(usage, `{"call_count":100,"total_cputime":12,"total_time":30}`)
		GraphError(w, 400, code, 0, rateLimitMessages[code])
	})
}

// user returns whose token the request carries: "user", "page",
// "threads", or "" after answering 400 code 190.
func user(w http.ResponseWriter, r *http.Request) string {
	switch r.Header.Get("Authorization") {
	case "Bearer " + UserToken:
		return "user"
	case "Bearer " + PageToken:
		return "page"
	case "Bearer " + ThreadsToken:
		return "threads"
	}
	GraphError(w, 400, 190, 463, "Error validating access token: Session has expired.")
	return ""
}

// caller is whose token a request carries and the account it acts for,
// or "" after answering the error.
func caller(w http.ResponseWriter, r *http.Request) (who, acct string) {
	if who = user(w, r); who == "" {
		return "", ""
	}
	return who, account(w, r, who)
}

// account resolves the {id} of a request to an account the token may act
// for, or answers the error.
func account(w http.ResponseWriter, r *http.Request, who string) string {
	id := r.PathValue("id")
	switch {
	case id == "me" && who == "threads", id == ThreadsUserID && who == "threads":
		return ThreadsUserID
	case id == IGUserID && who == "user":
		return IGUserID
	case id == PageID && (who == "page" || who == "user"):
		return PageID
	}
	GraphError(w, 400, 100, 33, fmt.Sprintf("Unsupported request - Object with ID '%s' does not exist, cannot be loaded due to missing permissions, or does not support this operation.", id))
	return ""
}

func (f *Fake) id() string {
	f.next++
	return strconv.Itoa(f.next)
}

func form(r *http.Request) url.Values {
	_ = r.ParseForm()
	return r.Form
}

func (f *Fake) read(w http.ResponseWriter, r *http.Request) {
	who := user(w, r)
	if who == "" {
		return
	}
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	switch {
	case id == PageID:
		out := map[string]any{"id": PageID, "name": PageName, "link": "https://www.facebook.com/" + Username}
		out["access_token"] = PageToken
		platformtest.WriteJSON(w, 200, out)
		return
	case id == IGUserID && who == "user", id == "me" && who == "threads":
		platformtest.WriteJSON(w, 200, map[string]any{"id": map[bool]string{true: IGUserID, false: ThreadsUserID}[who == "user"], "username": Username})
		return
	}
	if c := f.containers[id]; c != nil {
		f.advance(c)
		platformtest.WriteJSON(w, 200, map[string]any{"id": c.ID, "status_code": c.State, "status": statusText(c), "error_message": errorMessage(c)})
		return
	}
	for _, m := range f.media {
		if m.ID == id && !m.Deleted {
			platformtest.WriteJSON(w, 200, map[string]any{"id": m.ID, "permalink": m.Permalink, "timestamp": m.At.Format("2006-01-02T15:04:05-0700")})
			return
		}
	}
	GraphError(w, 400, 100, 33, "Unsupported get request. Object with ID '"+id+"' does not exist")
}

// statusText is the status field of an Instagram container, and the
// status of a Threads one.
func statusText(c *Container) string {
	if c.State == "ERROR" {
		if c.User == ThreadsUserID {
			return "ERROR"
		}
		return "Error: 2207026 unsupported media format"
	}
	if c.User == ThreadsUserID {
		return c.State
	}
	return strings.ToLower(strings.ReplaceAll(c.State, "_", " "))
}

func errorMessage(c *Container) string {
	if c.State == "ERROR" {
		return "FAILED_DOWNLOADING_VIDEO"
	}
	return ""
}

// advance moves a container on as the platform's processing would: a
// video after VideoPolls reads, a carousel when all its items are ready.
func (f *Fake) advance(c *Container) {
	if c.State != "IN_PROGRESS" {
		return
	}
	if len(c.Children) > 0 {
		for _, ch := range c.Children {
			if k := f.containers[ch]; k != nil {
				f.advance(k)
				if k.State == "ERROR" {
					c.State = "ERROR"
					return
				}
				if k.State != "FINISHED" {
					return
				}
			}
		}
		c.State = "FINISHED"
		return
	}
	c.polls++
	if c.polls > f.VideoPolls {
		c.State = "FINISHED"
	}
}

func (f *Fake) createContainer(w http.ResponseWriter, r *http.Request) {
	_, acct := caller(w, r)
	if acct == "" || acct == PageID {
		if acct == PageID {
			GraphError(w, 400, 100, 0, "Tried accessing nonexisting field (media) on node type (Page)")
		}
		return
	}
	v := form(r)
	c := &Container{User: acct, Type: v.Get("media_type"), Carousel: v.Get("is_carousel_item") == "true", State: "FINISHED"}
	c.Text = v.Get("caption")
	if acct == ThreadsUserID {
		c.Text = v.Get("text")
	}
	c.URL = v.Get("image_url") + v.Get("video_url")
	switch {
	case c.Type == "CAROUSEL":
		c.Children = strings.Split(v.Get("children"), ",")
		if len(c.Children) < 2 {
			GraphError(w, 400, 100, 2207028, "A carousel needs at least 2 items")
			return
		}
		c.State = "IN_PROGRESS"
	case c.Type == "TEXT" && acct == ThreadsUserID:
	case v.Get("video_url") != "":
		c.State = "IN_PROGRESS"
	case v.Get("image_url") == "":
		GraphError(w, 400, 100, 0, "The parameter image_url is required")
		return
	}
	if strings.Contains(c.URL, "broken") {
		c.State = "ERROR"
	}
	f.mu.Lock()
	c.ID = f.id()
	f.containers[c.ID] = c
	f.mu.Unlock()
	platformtest.WriteJSON(w, 200, map[string]any{"id": c.ID})
}

func (f *Fake) publish(w http.ResponseWriter, r *http.Request) {
	_, acct := caller(w, r)
	if acct == "" {
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	c := f.containers[form(r).Get("creation_id")]
	switch {
	case c == nil || c.User != acct || c.Carousel:
		GraphError(w, 400, 100, 0, "Invalid parameter: creation_id does not name a container of this account")
	case c.State == "PUBLISHED":
		GraphError(w, 400, 100, 2207008, "This media container has already been published")
	case c.State == "EXPIRED":
		GraphError(w, 400, 100, 2207006, "The media container has expired")
	case c.State != "FINISHED":
		GraphError(w, 400, 9007, 2207027, "Media ID is not available: the media is not ready for publishing, please wait for a moment")
	case f.quotaUsed[acct] >= f.quota(acct):
		GraphError(w, 400, 9, 2207042, "You have reached the maximum number of posts that is allowed within 24 hours")
	default:
		m := &Media{ID: f.id(), User: acct, Text: c.Text, At: time.Now().UTC().Truncate(time.Second)}
		if acct == ThreadsUserID {
			m.Permalink = "https://www.threads.com/@" + Username + "/post/T" + m.ID
		} else {
			m.Permalink = "https://www.instagram.com/p/P" + m.ID + "/"
		}
		c.State, c.MediaID = "PUBLISHED", m.ID
		f.media = append(f.media, m)
		f.quotaUsed[acct]++
		platformtest.WriteJSON(w, 200, map[string]any{"id": m.ID})
	}
}

func (f *Fake) quota(acct string) int {
	switch {
	case f.Quota > 0:
		return f.Quota
	case acct == ThreadsUserID:
		return 250
	}
	return 25
}

func (f *Fake) list(w http.ResponseWriter, r *http.Request) {
	_, acct := caller(w, r)
	if acct == "" {
		return
	}
	field := "caption"
	if acct == ThreadsUserID {
		field = "text"
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	var data []map[string]any
	for _, m := range slices.Backward(f.media) {
		if m.User == acct && !m.Deleted {
			data = append(data, map[string]any{"id": m.ID, "permalink": m.Permalink, "timestamp": m.At.Format("2006-01-02T15:04:05-0700"), field: m.Text})
		}
	}
	platformtest.WriteJSON(w, 200, map[string]any{"data": data})
}

func (f *Fake) limit(w http.ResponseWriter, r *http.Request) {
	_, acct := caller(w, r)
	if acct == "" {
		return
	}
	f.mu.Lock()
	used, total := f.quotaUsed[acct], f.quota(acct)
	f.mu.Unlock()
	platformtest.WriteJSON(w, 200, map[string]any{"data": []any{map[string]any{"quota_usage": used, "config": map[string]any{"quota_total": total, "quota_duration": 86400}}}})
}

// pageOnly checks a Page call carries the Page's own token.
func pageOnly(w http.ResponseWriter, r *http.Request) bool {
	who, acct := caller(w, r)
	if acct != PageID {
		if acct != "" {
			GraphError(w, 400, 100, 0, "Tried accessing a Page edge on a node that is not a Page")
		}
		return false
	}
	if who != "page" {
		GraphError(w, 403, 200, 0, "(#200) Publishing to a Page requires a Page access token with pages_manage_posts")
		return false
	}
	return true
}

func (f *Fake) pagePhoto(w http.ResponseWriter, r *http.Request) {
	if !pageOnly(w, r) {
		return
	}
	v := form(r)
	if v.Get("url") == "" {
		GraphError(w, 400, 324, 0, "(#324) Requires upload file")
		return
	}
	if v.Get("published") != "false" {
		GraphError(w, 400, 100, 0, "Herald's fake takes unpublished photos only")
		return
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	id := f.id()
	f.photos[id] = v.Get("url")
	platformtest.WriteJSON(w, 200, map[string]any{"id": id})
}

func (f *Fake) pageVideo(w http.ResponseWriter, r *http.Request) {
	if !pageOnly(w, r) {
		return
	}
	v := form(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &Media{ID: f.id(), User: PageID, Text: v.Get("description"), Video: v.Get("file_url"), At: time.Now().UTC()}
	f.media = append(f.media, m)
	platformtest.WriteJSON(w, 200, map[string]any{"id": m.ID})
}

func (f *Fake) pagePost(w http.ResponseWriter, r *http.Request) {
	if !pageOnly(w, r) {
		return
	}
	v := form(r)
	f.mu.Lock()
	defer f.mu.Unlock()
	m := &Media{User: PageID, Text: v.Get("message"), Link: v.Get("link"), At: time.Now().UTC()}
	for i := 0; ; i++ {
		ref := v.Get("attached_media[" + strconv.Itoa(i) + "]")
		if ref == "" {
			break
		}
		id := strings.TrimSuffix(strings.TrimPrefix(ref, `{"media_fbid":"`), `"}`)
		photo, ok := f.photos[id]
		if !ok {
			GraphError(w, 400, 100, 0, "Invalid parameter: attached_media names an unknown photo "+id)
			return
		}
		delete(f.photos, id)
		m.Photos = append(m.Photos, photo)
	}
	if m.Text == "" && len(m.Photos) == 0 && m.Link == "" {
		GraphError(w, 400, 100, 0, "(#100) Missing message or attachment")
		return
	}
	m.ID = PageID + "_" + f.id()
	m.Permalink = "https://www.facebook.com/" + Username + "/posts/" + strings.TrimPrefix(m.ID, PageID+"_")
	f.media = append(f.media, m)
	platformtest.WriteJSON(w, 200, map[string]any{"id": m.ID})
}

// pagePosts lists the Page's posts newest first, as
// /{page-id}/published_posts does: since (Unix seconds) and limit (at most
// 100) bound the list, and paging.next says there are more. A video is
// listed once Facebook has processed it, which the fake never does.
func (f *Fake) pagePosts(w http.ResponseWriter, r *http.Request) {
	if !pageOnly(w, r) {
		return
	}
	q := r.URL.Query()
	since, _ := strconv.ParseInt(q.Get("since"), 10, 64)
	limit, err := strconv.Atoi(q.Get("limit"))
	if err != nil || limit <= 0 || limit > 100 {
		limit = 25
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	data := []map[string]any{}
	more := false
	for _, m := range slices.Backward(f.media) {
		if m.User != PageID || m.Deleted || m.Video != "" || m.At.Unix() < since {
			continue
		}
		if len(data) == limit {
			more = true
			break
		}
		data = append(data, map[string]any{"id": m.ID, "message": m.Text, "created_time": m.At.Format("2006-01-02T15:04:05-0700"), "permalink_url": m.Permalink})
	}
	out := map[string]any{"data": data}
	if more {
		out["paging"] = map[string]any{"next": "https://graph.facebook.com/v24.0/" + PageID + "/published_posts?after=" + data[len(data)-1]["id"].(string)}
	}
	platformtest.WriteJSON(w, 200, out)
}

func (f *Fake) delete(w http.ResponseWriter, r *http.Request) {
	who := user(w, r)
	if who == "" {
		return
	}
	id := r.PathValue("id")
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, m := range f.media {
		if m.ID == id && !m.Deleted && (who == "page") == (m.User == PageID) {
			m.Deleted = true
			platformtest.WriteJSON(w, 200, map[string]any{"success": true})
			return
		}
	}
	GraphError(w, 400, 100, 33, "Unsupported delete request. Object with ID '"+id+"' does not exist")
}

// Posts returns the posts online for an account (PageID, IGUserID or
// ThreadsUserID), oldest first.
func (f *Fake) Posts(acct string) []Media {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Media
	for _, m := range f.media {
		if m.User == acct && !m.Deleted {
			out = append(out, *m)
		}
	}
	return out
}

// Containers returns every container made for an account, in order.
func (f *Fake) Containers(acct string) []Container {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []Container
	for _, c := range f.containers {
		if c.User == acct {
			out = append(out, *c)
		}
	}
	slices.SortFunc(out, func(a, b Container) int {
		x, _ := strconv.Atoi(a.ID)
		y, _ := strconv.Atoi(b.ID)
		return x - y
	})
	return out
}

// Expire makes a container EXPIRED, as 24 hours without publishing do.
func (f *Fake) Expire(id string) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil && c.State != "PUBLISHED" {
		c.State = "EXPIRED"
	}
}

// UseQuota counts n posts against an account's publishing quota.
func (f *Fake) UseQuota(acct string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.quotaUsed[acct] += n
}

// PostsWithText returns the posts online for acct whose text is text.
func (f *Fake) PostsWithText(acct, text string) []Media {
	var out []Media
	for _, m := range f.Posts(acct) {
		if m.Text == text {
			out = append(out, m)
		}
	}
	return out
}

// ContainersWithText returns the containers made for acct with text.
func (f *Fake) ContainersWithText(acct, text string) []Container {
	var out []Container
	for _, c := range f.Containers(acct) {
		if c.Text == text {
			out = append(out, c)
		}
	}
	return out
}

// ContainerText returns the text of the container id, "" for none.
func (f *Fake) ContainerText(id string) string {
	f.mu.Lock()
	defer f.mu.Unlock()
	if c := f.containers[id]; c != nil {
		return c.Text
	}
	return ""
}
