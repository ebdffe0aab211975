package bluesky_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/bluesky"
	"github.com/herald-dev/herald/internal/publish/bluesky/blueskytest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
)

var now = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

func profile(f *blueskytest.Fake) publish.Profile {
	return publish.Profile{Platform: bluesky.Info.Platform, Handle: "herald.test", Endpoint: f.URL,
		Credentials: publish.Credentials{"identifier": []byte(f.Identifier), "appPassword": []byte(f.Password)}}
}

func newPublisher(client *http.Client) *bluesky.Publisher {
	p := bluesky.New(client)
	p.Now = func() time.Time { return now }
	p.PLC = "http://127.0.0.1:1" // no DID directory unless a test serves one
	return p
}

func TestVerify(t *testing.T) {
	g := NewWithT(t)
	f := blueskytest.New(t)
	acct, err := newPublisher(nil).Verify(context.Background(), profile(f))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct).To(Equal(publish.Account{ID: "did:plc:herald", Handle: "herald.test", URL: "https://bsky.app/profile/herald.test", CharacterLimit: 300}))
	g.Expect(f.Last(t, "POST /xrpc/com.atproto.server.createSession").JSON(t)).To(Equal(map[string]any{"identifier": f.Identifier, "password": f.Password}))
	g.Expect(f.Last(t, "GET /xrpc/com.atproto.server.getSession").Header.Get("Authorization")).To(Equal("Bearer access-jwt-1"))

	bad := profile(f)
	bad.Credentials = publish.Credentials{"identifier": []byte(f.Identifier), "appPassword": []byte("wrong-password-99")}
	_, err = newPublisher(nil).Verify(context.Background(), bad)
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).To(ContainSubstring("Invalid identifier or password"))
	g.Expect(err.Error()).NotTo(ContainSubstring("wrong-password-99"))
}

func TestVerifyResolvesThePDSThroughAnEntryway(t *testing.T) {
	g := NewWithT(t)
	f := blueskytest.New(t)
	f.PDS = "https://morel.us-east.host.bsky.network"
	acct, err := newPublisher(nil).Verify(context.Background(), profile(f))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct.Endpoint).To(Equal(f.PDS), "the PDS the DID document names")

	f.PDS = f.URL + "/" // the server Herald asked is the account's own
	acct, err = newPublisher(nil).Verify(context.Background(), profile(f))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct.Endpoint).To(BeEmpty())

	// A PDS that leaves the document out: the DID's directory has it.
	f.PDS = ""
	plc := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/did:plc:herald" {
			http.NotFound(w, r)
			return
		}
		_, _ = w.Write([]byte(`{"id":"did:plc:herald","service":[{"id":"#atproto_pds","type":"AtprotoPersonalDataServer","serviceEndpoint":"https://pds.example.com"}]}`))
	}))
	defer plc.Close()
	p := newPublisher(nil)
	p.PLC = plc.URL
	acct, err = p.Verify(context.Background(), profile(f))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct.Endpoint).To(Equal("https://pds.example.com"))
	p.PLC = plc.URL + "/nowhere" // a directory that does not know it: the PDS asked stays
	acct, err = p.Verify(context.Background(), profile(f))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct.Endpoint).To(BeEmpty())
}

func TestPublishRecordWithFacets(t *testing.T) {
	g := NewWithT(t)
	f := blueskytest.New(t)
	// The emoji before the entities makes byte offsets differ from
	// character offsets: 🚀 is 4 bytes.
	text := "🚀 Hi @alice.test and @nobody.test, see https://herald.dev/docs. #Launch #2026 #go!"
	res, err := newPublisher(nil).Publish(context.Background(), profile(f), publish.Post{Text: text, IdempotencyKey: "uid-1/bsky/1"})
	g.Expect(err).NotTo(HaveOccurred())

	rkey := bluesky.RecordKey("uid-1/bsky/1")
	g.Expect(res).To(Equal(publish.Result{ExternalID: "at://did:plc:herald/app.bsky.feed.post/" + rkey,
		URL: "https://bsky.app/profile/herald.test/post/" + rkey, PublishedAt: now}))

	req := f.Last(t, "POST /xrpc/com.atproto.repo.createRecord")
	g.Expect(req.Header.Get("Authorization")).To(Equal("Bearer access-jwt-1"))
	var body struct {
		Repo, Collection, Rkey string
		Record                 struct {
			Type      string `json:"$type"`
			Text      string
			CreatedAt string
			Facets    []struct {
				Index    struct{ ByteStart, ByteEnd int }
				Features []map[string]string
			}
		}
	}
	g.Expect(json.Unmarshal(req.Body, &body)).To(Succeed())
	g.Expect(body.Repo).To(Equal("did:plc:herald"))
	g.Expect(body.Collection).To(Equal("app.bsky.feed.post"))
	g.Expect(body.Rkey).To(Equal(rkey))
	g.Expect(body.Record.Type).To(Equal("app.bsky.feed.post"))
	g.Expect(body.Record.Text).To(Equal(text))
	g.Expect(body.Record.CreatedAt).To(Equal("2026-07-01T09:00:00.000Z"))

	type got struct {
		Slice   string
		Feature map[string]string
	}
	var facets []got
	for _, fc := range body.Record.Facets {
		g.Expect(fc.Features).To(HaveLen(1))
		facets = append(facets, got{text[fc.Index.ByteStart:fc.Index.ByteEnd], fc.Features[0]})
	}
	g.Expect(facets).To(Equal([]got{
		{"@alice.test", map[string]string{"$type": "app.bsky.richtext.facet#mention", "did": "did:plc:alice"}},
		{"https://herald.dev/docs", map[string]string{"$type": "app.bsky.richtext.facet#link", "uri": "https://herald.dev/docs"}},
		{"#Launch", map[string]string{"$type": "app.bsky.richtext.facet#tag", "tag": "Launch"}},
		{"#go", map[string]string{"$type": "app.bsky.richtext.facet#tag", "tag": "go"}},
	}), "unresolvable @nobody.test and all-digit #2026 get no facet")
	g.Expect(f.Find("GET /xrpc/com.atproto.identity.resolveHandle")).To(HaveLen(2))
}

func TestPublishImages(t *testing.T) {
	g := NewWithT(t)
	f := blueskytest.New(t)
	_, err := newPublisher(nil).Publish(context.Background(), profile(f), publish.Post{Text: "pics", IdempotencyKey: "k",
		Media: []publish.Media{{URL: f.URL + "/img/a.jpg", AltText: "first"}, {URL: f.URL + "/img/bb.jpg"}}})
	g.Expect(err).NotTo(HaveOccurred())
	uploads := f.Find("POST /xrpc/com.atproto.repo.uploadBlob")
	g.Expect(uploads).To(HaveLen(2))
	g.Expect(string(uploads[0].Body)).To(Equal("jpeg:a.jpg"))
	g.Expect(uploads[0].Header.Get("Content-Type")).To(Equal("image/jpeg"))
	record := f.Last(t, "POST /xrpc/com.atproto.repo.createRecord").JSON(t)["record"].(map[string]any)
	g.Expect(record["embed"]).To(Equal(map[string]any{"$type": "app.bsky.embed.images", "images": []any{
		map[string]any{"alt": "first", "image": map[string]any{"$type": "blob", "ref": map[string]any{"$link": "bafkrei10"}, "mimeType": "image/jpeg", "size": 10.0}},
		map[string]any{"alt": "", "image": map[string]any{"$type": "blob", "ref": map[string]any{"$link": "bafkrei11"}, "mimeType": "image/jpeg", "size": 11.0}},
	}}))
}

func TestRetryAfterSuccessFindsTheRecord(t *testing.T) {
	g := NewWithT(t)
	f := blueskytest.New(t)
	pub := newPublisher(nil)
	post := publish.Post{Text: "once", IdempotencyKey: "uid-2/bsky/1"}
	first, err := pub.Publish(context.Background(), profile(f), post)
	g.Expect(err).NotTo(HaveOccurred())

	// The PDS answers the repeated rkey with 500; getRecord shows it exists.
	pub.Now = func() time.Time { return now.Add(time.Hour) }
	second, err := pub.Publish(context.Background(), profile(f), post)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(second).To(Equal(first))
	g.Expect(f.Routes()[len(f.Routes())-2:]).To(Equal([]string{"POST /xrpc/com.atproto.repo.createRecord", "GET /xrpc/com.atproto.repo.getRecord"}))
	_, records := f.Count()
	g.Expect(records).To(Equal(1))
	g.Expect(pub.Info().Resend.By).NotTo(BeEmpty(), "a repeat is recognised")
}

func TestTimeoutAfterTheRecordWasWritten(t *testing.T) {
	g := NewWithT(t)
	f := blueskytest.New(t)
	// The PDS stores the record but the answer never arrives.
	f.FailNext("POST /xrpc/com.atproto.repo.createRecord", 1, platformtest.Fault{After: true, Hang: true})
	res, err := newPublisher(platformtest.Client()).Publish(context.Background(), profile(f), publish.Post{Text: "x", IdempotencyKey: "k-timeout"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res.URL).To(Equal("https://bsky.app/profile/herald.test/post/" + bluesky.RecordKey("k-timeout")))
	g.Expect(res.PublishedAt).To(Equal(now))
}

func TestAServerErrorThatGetRecordCannotSettleIsUnknown(t *testing.T) {
	g := NewWithT(t)
	f := blueskytest.New(t)
	// The record is written, the PDS answers 500, and getRecord fails too:
	// nobody can tell yet whether the post is online.
	f.FailNext("POST /xrpc/com.atproto.repo.createRecord", 1, platformtest.Fault{After: true, Status: http.StatusInternalServerError, Body: "InternalServerError"})
	f.FailNext("GET /xrpc/com.atproto.repo.getRecord", 1, platformtest.Fault{Status: http.StatusInternalServerError, Body: "InternalServerError"})
	_, err := newPublisher(nil).Publish(context.Background(), profile(f), publish.Post{Text: "x", IdempotencyKey: "k-500"})
	g.Expect(publish.KindOf(err)).To(Equal(publish.Unknown), "%v", err)
	g.Expect(f.Holds(bluesky.RecordKey("k-500"))).To(BeTrue(), "it is online")
}

func TestSessionIsReusedAndRenewed(t *testing.T) {
	g := NewWithT(t)
	f := blueskytest.New(t)
	pub := newPublisher(nil)
	for i := range 2 {
		_, err := pub.Publish(context.Background(), profile(f), publish.Post{Text: "x", IdempotencyKey: fmt.Sprint("reuse-", i)})
		g.Expect(err).NotTo(HaveOccurred())
	}
	sessions, _ := f.Count()
	g.Expect(sessions).To(Equal(1))

	f.ExpireSessions()
	_, err := pub.Publish(context.Background(), profile(f), publish.Post{Text: "x", IdempotencyKey: "after-expiry"})
	g.Expect(err).NotTo(HaveOccurred())
	sessions, records := f.Count()
	g.Expect(sessions).To(Equal(2))
	g.Expect(records).To(Equal(3))
	g.Expect(f.Last(t, "POST /xrpc/com.atproto.repo.createRecord").Header.Get("Authorization")).To(Equal("Bearer access-jwt-2"))
}

func errorBody(_ int, msg string) string {
	return fmt.Sprintf(`{"error":"SomeError","message":%q}`, msg)
}

// The app password and the session's token are sent with every call; no
// error may show them.
var secrets = []string{"app-pass-word-1234", "access-jwt-1"}

func TestErrors(t *testing.T) {
	cases := platformtest.StandardCases(errorBody)
	cases = append(cases, platformtest.ErrorCase{Name: "429 with RateLimit-Reset", Status: 429,
		Header: http.Header{"Ratelimit-Reset": {fmt.Sprint(time.Now().Add(90 * time.Second).Unix())}},
		Body:   `{"error":"RateLimitExceeded","message":"Rate Limit Exceeded"}`, Kind: publish.Retryable, Message: "RateLimitExceeded: Rate Limit Exceeded"})
	var f *blueskytest.Fake
	run := func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f = blueskytest.New(t)
		f.Override("POST /xrpc/com.atproto.repo.createRecord", answer)
		_, err := newPublisher(client).Publish(context.Background(), profile(f), publish.Post{Text: "x", IdempotencyKey: "k"})
		if len(f.Find("GET /xrpc/com.atproto.repo.getRecord")) != 1 && publish.KindOf(err) != publish.CredentialsRejected {
			t.Errorf("a failed createRecord must be confirmed with getRecord; requests: %v", f.Routes())
		}
		return err
	}
	platformtest.CheckErrors(t, cases[:len(cases)-1], secrets, run)
	t.Run("RateLimit-Reset", func(t *testing.T) {
		g := NewWithT(t)
		err := run(t, nil, cases[len(cases)-1].Handler(t))
		g.Expect(publish.IsRetryable(err)).To(BeTrue())
		g.Expect(publish.RetryAfter(err)).To(BeNumerically("~", 90*time.Second, 2*time.Second))
	})
	t.Run("missing app password", func(t *testing.T) {
		g := NewWithT(t)
		_, err := newPublisher(nil).Publish(context.Background(), publish.Profile{Credentials: publish.Credentials{"identifier": []byte("x")}}, publish.Post{Text: "x"})
		g.Expect(err).To(MatchError("credentials have no key appPassword"))
	})
}

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	f := blueskytest.New(t)
	pub := newPublisher(nil)
	res, err := pub.Publish(context.Background(), profile(f), publish.Post{Text: "bye soon", IdempotencyKey: "uid-3/bsky/1"})
	g.Expect(err).NotTo(HaveOccurred())
	rkey := bluesky.RecordKey("uid-3/bsky/1")
	g.Expect(f.Holds(rkey)).To(BeTrue())

	g.Expect(pub.Delete(context.Background(), profile(f), res.ExternalID)).To(Succeed())
	req := f.Last(t, "POST /xrpc/com.atproto.repo.deleteRecord")
	g.Expect(req.Header.Get("Authorization")).To(Equal("Bearer access-jwt-1"))
	g.Expect(req.JSON(t)).To(Equal(map[string]any{"repo": "did:plc:herald", "collection": "app.bsky.feed.post", "rkey": rkey}))
	g.Expect(f.Holds(rkey)).To(BeFalse())

	g.Expect(pub.Delete(context.Background(), profile(f), res.ExternalID)).To(Succeed())
	g.Expect(f.Find("POST /xrpc/com.atproto.repo.deleteRecord")).To(HaveLen(2))
	sessions, _ := f.Count()
	g.Expect(sessions).To(Equal(1))

	// An expired session is renewed and the deletion made with the new one.
	again, err := pub.Publish(context.Background(), profile(f), publish.Post{Text: "x", IdempotencyKey: "uid-3/bsky/2"})
	g.Expect(err).NotTo(HaveOccurred())
	f.ExpireSessions()
	g.Expect(pub.Delete(context.Background(), profile(f), again.ExternalID)).To(Succeed())
	sessions, records := f.Count()
	g.Expect(sessions).To(Equal(2))
	g.Expect(records).To(Equal(0))
	g.Expect(f.Last(t, "POST /xrpc/com.atproto.repo.deleteRecord").Header.Get("Authorization")).To(Equal("Bearer access-jwt-2"))

	bad := profile(f)
	bad.Credentials = publish.Credentials{"identifier": []byte(f.Identifier), "appPassword": []byte("wrong-password-99")}
	err = newPublisher(nil).Delete(context.Background(), bad, res.ExternalID)
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).NotTo(ContainSubstring("wrong-password-99"))
}

func TestDeleteRefusesOtherURIs(t *testing.T) {
	g := NewWithT(t)
	f := blueskytest.New(t)
	rkey := bluesky.RecordKey("k")
	const notAPost = "not the at:// URI of a post"
	platformtest.CheckRefusedIDs(t, f.Server, map[string]string{
		"":   "cannot delete a post without its at:// URI",
		rkey: notAPost,
		"https://bsky.app/profile/herald.test/post/" + rkey:     notAPost,
		"at://did:plc:herald/app.bsky.feed.like/" + rkey:        notAPost,
		"at://herald.test/app.bsky.feed.post/" + rkey:           notAPost,
		"at://did:plc:herald/app.bsky.feed.post":                notAPost,
		"at://did:plc:herald/app.bsky.feed.post/":               notAPost,
		"at://did:plc:herald/app.bsky.feed.post/" + rkey + "/x": notAPost,
		"at://did:plc:herald/app.bsky.feed.post/..":             notAPost,
		"at://did:plc:herald/app.bsky.feed.post/a?b":            notAPost,
	}, func(uri string) error { return newPublisher(nil).Delete(context.Background(), profile(f), uri) })

	// Another account's post: only the session, which names the account, is asked for.
	err := newPublisher(nil).Delete(context.Background(), profile(f), "at://did:plc:alice/app.bsky.feed.post/"+rkey)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("did:plc:alice"))
	g.Expect(f.Routes()).To(Equal([]string{"POST /xrpc/com.atproto.server.createSession"}))
}

func TestDeleteErrors(t *testing.T) {
	// A repeated deletion is harmless, so a lost answer is Retryable.
	cases := platformtest.DeleteCases(platformtest.StandardCases(errorBody), false)
	platformtest.CheckErrors(t, cases, secrets, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := blueskytest.New(t)
		f.Override("POST /xrpc/com.atproto.repo.deleteRecord", answer)
		return newPublisher(client).Delete(context.Background(), profile(f), f.URI(bluesky.RecordKey("k")))
	})
}

func TestRecordKey(t *testing.T) {
	g := NewWithT(t)
	a := bluesky.RecordKey("uid/profile/1")
	g.Expect(a).To(MatchRegexp(`^[234567abcdefghij][234567abcdefghijklmnopqrstuvwxyz]{12}$`))
	g.Expect(bluesky.RecordKey("uid/profile/1")).To(Equal(a))
	g.Expect(bluesky.RecordKey("uid/profile/2")).NotTo(Equal(a))
	g.Expect(bluesky.RecordKey("")).To(BeEmpty())
}
