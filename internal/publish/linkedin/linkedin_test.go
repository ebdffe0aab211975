package linkedin_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/linkedin"
	"github.com/herald-dev/herald/internal/publish/linkedin/linkedintest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
)

const token = linkedintest.Token

var now = time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)

// errorBody is LinkedIn's error answer.
func errorBody(status int, msg string) string {
	return fmt.Sprintf(`{"status":%d,"serviceErrorCode":100,"message":%q}`, status, msg)
}

func newPublisher(f *linkedintest.Fake, client *http.Client) *linkedin.Publisher {
	p := linkedin.New(client)
	p.BaseURL = f.URL
	p.Now = func() time.Time { return now }
	return p
}

func profile(author string) publish.Profile {
	return publish.Profile{Platform: linkedin.Info.Platform, Credentials: publish.Credentials{"accessToken": []byte(token), "authorURN": []byte(author)}}
}

func TestPublish(t *testing.T) {
	g := NewWithT(t)
	f := linkedintest.New(t)
	pub := newPublisher(f, nil)
	g.Expect(pub.Info().Resend.By).To(BeEmpty(), "nothing recognises a repeat")
	res, err := pub.Publish(context.Background(), profile("urn:li:person:abc123"), publish.Post{Text: "Launch (finally) #Herald"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal(publish.Result{ExternalID: "urn:li:share:7001", URL: "https://www.linkedin.com/feed/update/urn:li:share:7001/", PublishedAt: now}))

	req := f.Last(t, "POST /rest/posts")
	g.Expect(req.Header.Get("Authorization")).To(Equal("Bearer " + token))
	g.Expect(req.Header.Get("LinkedIn-Version")).To(Equal(linkedin.DefaultVersion))
	g.Expect(req.Header.Get("X-Restli-Protocol-Version")).To(Equal("2.0.0"))
	g.Expect(req.JSON(t)).To(Equal(map[string]any{
		"author":                    "urn:li:person:abc123",
		"commentary":                `Launch \(finally\) {hashtag|\#|Herald}`,
		"visibility":                "PUBLIC",
		"distribution":              map[string]any{"feedDistribution": "MAIN_FEED", "targetEntities": []any{}, "thirdPartyDistributionChannels": []any{}},
		"lifecycleState":            "PUBLISHED",
		"isReshareDisabledByAuthor": false,
	}))
}

func TestPublishImages(t *testing.T) {
	g := NewWithT(t)
	f := linkedintest.New(t)
	media := []publish.Media{{URL: f.URL + "/files/a.png", AltText: "chart"}}
	_, err := newPublisher(f, nil).Publish(context.Background(), profile("urn:li:organization:42"), publish.Post{Text: "one", Media: media})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Last(t, "POST /rest/images").JSON(t)).To(Equal(map[string]any{"initializeUploadRequest": map[string]any{"owner": "urn:li:organization:42"}}))
	put := f.Last(t, "PUT /dms-uploads/1")
	g.Expect(string(put.Body)).To(Equal("png:a.png"))
	g.Expect(put.Header.Get("Authorization")).To(Equal("Bearer " + token))
	g.Expect(f.Last(t, "POST /rest/posts").JSON(t)["content"]).To(Equal(map[string]any{"media": map[string]any{"id": "urn:li:image:IMG1", "altText": "chart"}}))

	media = append(media, publish.Media{URL: f.URL + "/files/b.png"})
	_, err = newPublisher(f, nil).Publish(context.Background(), profile("urn:li:organization:42"), publish.Post{Text: "two", Media: media})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Last(t, "POST /rest/posts").JSON(t)["content"]).To(Equal(map[string]any{"multiImage": map[string]any{"images": []any{
		map[string]any{"id": "urn:li:image:IMG2", "altText": "chart"}, map[string]any{"id": "urn:li:image:IMG3", "altText": ""},
	}}}))
}

func TestVerify(t *testing.T) {
	g := NewWithT(t)
	f := linkedintest.New(t)
	acct, err := newPublisher(f, nil).Verify(context.Background(), profile("urn:li:person:abc123"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct).To(Equal(publish.Account{ID: "urn:li:person:abc123", Handle: "Ada Lovelace", CharacterLimit: 3000}))
	acct, err = newPublisher(f, nil).Verify(context.Background(), profile("urn:li:organization:42"))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct.URL).To(Equal("https://www.linkedin.com/company/42/"))

	_, err = newPublisher(f, nil).Verify(context.Background(), profile("urn:li:person:someoneelse"))
	g.Expect(err).To(MatchError(ContainSubstring("authorURN urn:li:person:someoneelse is not the member")))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
}

func TestCommentary(t *testing.T) {
	for in, want := range map[string]string{
		"plain text":                     "plain text",
		"a (b) [c] {d} <e>":              `a \(b\) \[c\] \{d\} \<e\>`,
		`back\slash | pipe ~ * _ @ #`:    `back\\slash \| pipe \~ \* \_ \@ \#`,
		"#tag at start and #another one": `{hashtag|\#|tag} at start and {hashtag|\#|another} one`,
		"mail a#b is not a tag":          `mail a\#b is not a tag`,
		"#snake_case":                    `{hashtag|\#|snake\_case}`,
	} {
		NewWithT(t).Expect(linkedin.Commentary(in)).To(Equal(want), in)
	}
}

func TestErrors(t *testing.T) {
	cases := platformtest.StandardCases(errorBody)
	platformtest.CheckErrors(t, cases, []string{token}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := linkedintest.New(t)
		f.Override("POST /rest/posts", answer)
		_, err := newPublisher(f, client).Publish(context.Background(), profile("urn:li:person:abc123"), publish.Post{Text: "x"})
		return err
	})
}

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	f := linkedintest.New(t)
	pub := newPublisher(f, nil)
	author := profile("urn:li:person:abc123")
	res, err := pub.Publish(context.Background(), author, publish.Post{Text: "soon gone"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Online(res.ExternalID)).To(BeTrue())

	g.Expect(pub.Delete(context.Background(), author, res.ExternalID)).To(Succeed())
	route := "DELETE /rest/posts/" + res.ExternalID
	req := f.Last(t, route)
	g.Expect(req.Header.Get("Authorization")).To(Equal("Bearer " + token))
	g.Expect(req.Header.Get("LinkedIn-Version")).To(Equal(linkedin.DefaultVersion))
	g.Expect(req.Header.Get("X-Restli-Protocol-Version")).To(Equal("2.0.0"))
	g.Expect(f.Online(res.ExternalID)).To(BeFalse())

	g.Expect(pub.Delete(context.Background(), author, res.ExternalID)).To(Succeed())
	g.Expect(f.Find(route)).To(HaveLen(2))

	// A post LinkedIn never had, or has purged, answers 404: gone is gone.
	g.Expect(pub.Delete(context.Background(), author, "urn:li:ugcPost:9")).To(Succeed())
	g.Expect(f.Find("DELETE /rest/posts/urn:li:ugcPost:9")).To(HaveLen(1))
}

func TestDeleteWithRejectedToken(t *testing.T) {
	g := NewWithT(t)
	f := linkedintest.New(t)
	res, err := newPublisher(f, nil).Publish(context.Background(), profile("urn:li:person:abc123"), publish.Post{Text: "stays"})
	g.Expect(err).NotTo(HaveOccurred())
	wrong := profile("urn:li:person:abc123")
	wrong.Credentials["accessToken"] = []byte("wrong-token")
	err = newPublisher(f, nil).Delete(context.Background(), wrong, res.ExternalID)
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err).To(MatchError(ContainSubstring("Invalid access token")))
	g.Expect(f.Online(res.ExternalID)).To(BeTrue())
}

func TestDeleteErrors(t *testing.T) {
	// 404 means deleted (TestDelete), and a DELETE that timed out is safe
	// to send again.
	cases := platformtest.DeleteCases(platformtest.StandardCases(errorBody), true)
	platformtest.CheckErrors(t, cases, []string{token}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := linkedintest.New(t)
		f.Override("DELETE /rest/posts/urn:li:share:7001", answer)
		return newPublisher(f, client).Delete(context.Background(), profile("urn:li:person:abc123"), "urn:li:share:7001")
	})
}

func TestDeleteRejectsMalformedURNs(t *testing.T) {
	f := linkedintest.New(t)
	platformtest.CheckRefusedIDs(t, f.Server, map[string]string{
		"":                  "without its URN",
		"7001":              "named by a URN",
		"urn:li:share:":     "named by a URN",
		"urn:li:image:IMG1": "named by a URN",
		"https://www.linkedin.com/feed/update/urn:li:share:7001/": "named by a URN",
	}, func(urn string) error {
		return newPublisher(f, nil).Delete(context.Background(), profile("urn:li:person:abc123"), urn)
	})
}
