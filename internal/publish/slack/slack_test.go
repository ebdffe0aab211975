package slack_test

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/slack"
	"github.com/herald-dev/herald/internal/publish/slack/slacktest"
)

const hookPath = slacktest.HookPath

func newFakeSlack(t *testing.T) *slacktest.Fake { return slacktest.New(t) }

func profile(url string) publish.Profile {
	return publish.Profile{Platform: slack.Info.Platform, Handle: "#launches", Credentials: publish.Credentials{"webhookURL": []byte(url)}}
}

func TestPublish(t *testing.T) {
	g := NewWithT(t)
	f := newFakeSlack(t)
	now := time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)
	pub := slack.New(nil)
	pub.Now = func() time.Time { return now }
	g.Expect(pub.Info().Resend.By).To(BeEmpty(), "nothing recognises a repeat")

	res, err := pub.Publish(context.Background(), profile(f.URL+hookPath), publish.Post{Text: "Shipped *v2*"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal(publish.Result{PublishedAt: now}))
	g.Expect(f.Last(t, "POST "+hookPath).JSON(t)).To(Equal(map[string]any{"text": "Shipped *v2*"}))

	_, err = pub.Publish(context.Background(), profile(f.URL+hookPath), publish.Post{Text: "With a picture",
		Media: []publish.Media{{URL: "https://cdn.example/a.png", AltText: "diagram"}, {URL: "https://cdn.example/b.png"}}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Last(t, "POST "+hookPath).JSON(t)).To(Equal(map[string]any{"text": "With a picture", "blocks": []any{
		map[string]any{"type": "section", "text": map[string]any{"type": "mrkdwn", "text": "With a picture"}},
		map[string]any{"type": "image", "image_url": "https://cdn.example/a.png", "alt_text": "diagram"},
		map[string]any{"type": "image", "image_url": "https://cdn.example/b.png", "alt_text": "image"},
	}}))
}

func TestLongTextIsSplitIntoSections(t *testing.T) {
	g := NewWithT(t)
	f := newFakeSlack(t)
	text := strings.Repeat("word ", 1300) // 6500 characters
	_, err := slack.New(nil).Publish(context.Background(), profile(f.URL+hookPath), publish.Post{Text: text, Media: []publish.Media{{URL: "https://cdn.example/a.png"}}})
	g.Expect(err).NotTo(HaveOccurred())
	var body struct {
		Blocks []struct {
			Type string
			Text struct{ Text string }
		}
	}
	g.Expect(json.Unmarshal(f.Last(t, "POST "+hookPath).Body, &body)).To(Succeed())
	var joined string
	sections := 0
	for _, b := range body.Blocks {
		if b.Type == "section" {
			sections++
			g.Expect(len(b.Text.Text)).To(BeNumerically("<=", 3000))
			joined += b.Text.Text
		}
	}
	g.Expect(sections).To(Equal(3))
	g.Expect(joined).To(Equal(text))
}

func TestVerify(t *testing.T) {
	g := NewWithT(t)
	f := newFakeSlack(t)
	acct, err := slack.New(nil).Verify(context.Background(), profile(f.URL+hookPath))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct.Handle).To(Equal("#launches"))
	g.Expect(f.Last(t, "POST "+hookPath).Body).To(MatchJSON(`{}`), "the check posts nothing")

	_, err = slack.New(nil).Verify(context.Background(), profile(f.URL+"/services/T000/B000/revoked-secret"))
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).To(ContainSubstring("no_service"))
	g.Expect(err.Error()).NotTo(ContainSubstring("revoked-secret"))
}

func TestErrors(t *testing.T) {
	cases := platformtest.StandardCases(func(_ int, msg string) string { return msg })
	for _, c := range []struct {
		status int
		code   string
		kind   publish.ErrorKind
	}{
		{400, "invalid_payload", publish.Permanent},
		{400, "no_text", publish.Permanent},
		{404, "channel_not_found", publish.Permanent},
		{410, "channel_is_archived", publish.Permanent},
		{403, "action_prohibited", publish.Permanent},
		{403, "invalid_token", publish.CredentialsRejected},
		{404, "no_service", publish.CredentialsRejected},
		{500, "rollup_error", publish.Unknown}, // "something strange happened": the message may have been posted
	} {
		cases = append(cases, platformtest.ErrorCase{Name: c.code, Status: c.status, Body: c.code + "\n", Kind: c.kind, Message: c.code})
	}
	platformtest.CheckErrors(t, cases, []string{"slack-secret-part"}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := newFakeSlack(t)
		f.Override("POST "+hookPath, answer)
		_, err := slack.New(client).Publish(context.Background(), profile(f.URL+hookPath), publish.Post{Text: "x"})
		return err
	})
}
