package discord_test

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"time"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/discord"
	"github.com/herald-dev/herald/internal/publish/discord/discordtest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
)

const hookToken = discordtest.Token

func profile(f *discordtest.Fake, token string) publish.Profile {
	return publish.Profile{Platform: discord.Info.Platform, Credentials: publish.Credentials{"webhookURL": []byte(f.URL + "/api/webhooks/111/" + token)}}
}

func TestPublish(t *testing.T) {
	g := NewWithT(t)
	f := discordtest.New(t)
	pub := discord.New(nil)
	g.Expect(pub.Info().Resend.By).To(BeEmpty(), "nothing recognises a repeat")
	res, err := pub.Publish(context.Background(), profile(f, hookToken), publish.Post{Text: "Hello @everyone", Media: []publish.Media{
		{URL: "https://cdn.example/a.png"}, {URL: "https://cdn.example/b.png"},
	}})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res).To(Equal(publish.Result{ExternalID: "444", URL: "https://discord.com/channels/333/222/444", PublishedAt: time.Date(2026, 7, 1, 9, 0, 0, 0, time.UTC)}))

	req := f.Last(t, "POST /api/webhooks/111/"+hookToken)
	g.Expect(req.Query.Get("wait")).To(Equal("true"))
	g.Expect(req.Header.Get("Content-Type")).To(Equal("application/json"))
	g.Expect(req.JSON(t)).To(Equal(map[string]any{
		"content":          "Hello @everyone",
		"allowed_mentions": map[string]any{"parse": []any{}},
		"embeds": []any{
			map[string]any{"url": "https://cdn.example/a.png", "image": map[string]any{"url": "https://cdn.example/a.png"}},
			map[string]any{"url": "https://cdn.example/a.png", "image": map[string]any{"url": "https://cdn.example/b.png"}},
		},
	}))
}

func TestVerify(t *testing.T) {
	g := NewWithT(t)
	f := discordtest.New(t)
	acct, err := discord.New(nil).Verify(context.Background(), profile(f, hookToken))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct).To(Equal(publish.Account{ID: "111", Handle: "Herald", URL: "https://discord.com/channels/333/222", CharacterLimit: 2000}))

	_, err = discord.New(nil).Verify(context.Background(), profile(f, "wrong-token-value"))
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).To(ContainSubstring("Invalid Webhook Token"))
	g.Expect(err.Error()).NotTo(ContainSubstring("wrong-token-value"))
}

// errorCases are the failures every Discord call maps the same way.
func errorCases() []platformtest.ErrorCase {
	cases := platformtest.StandardCases(func(_ int, msg string) string { return fmt.Sprintf(`{"message":%q,"code":0}`, msg) })
	return append(cases,
		platformtest.ErrorCase{Name: "Unknown Webhook means the credential is gone", Status: 404, Body: `{"message":"Unknown Webhook","code":10015}`,
			Kind: publish.CredentialsRejected, Message: "Unknown Webhook"},
		platformtest.ErrorCase{Name: "429 with retry_after only in the body", Status: 429, Body: `{"message":"You are being rate limited.","retry_after":1.5,"global":false}`,
			Kind: publish.Retryable, RetryAfter: 1500 * time.Millisecond, Message: "You are being rate limited."},
	)
}

func TestErrors(t *testing.T) {
	platformtest.CheckErrors(t, errorCases(), []string{hookToken}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := discordtest.New(t)
		f.Override("POST /api/webhooks/111/"+hookToken, answer)
		_, err := discord.New(client).Publish(context.Background(), profile(f, hookToken), publish.Post{Text: "x"})
		return err
	})
}

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	f := discordtest.New(t)
	pub := discord.New(nil)
	res, err := pub.Publish(context.Background(), profile(f, hookToken), publish.Post{Text: "Hello"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Holds(res.ExternalID)).To(BeTrue())

	g.Expect(pub.Delete(context.Background(), profile(f, hookToken), res.ExternalID)).To(Succeed())
	route := "DELETE /api/webhooks/111/" + hookToken + "/messages/" + res.ExternalID
	g.Expect(f.Last(t, route).Body).To(BeEmpty())
	g.Expect(f.Holds(res.ExternalID)).To(BeFalse())

	// Discord answers 404 Unknown Message now; the message is gone either way.
	g.Expect(pub.Delete(context.Background(), profile(f, hookToken), res.ExternalID)).To(Succeed())
	g.Expect(f.Find(route)).To(HaveLen(2))

	err = pub.Delete(context.Background(), profile(f, "wrong-token-value"), res.ExternalID)
	g.Expect(publish.KindOf(err)).To(Equal(publish.CredentialsRejected))
	g.Expect(err.Error()).To(ContainSubstring("Invalid Webhook Token"))
	g.Expect(err.Error()).NotTo(ContainSubstring("wrong-token-value"))
}

func TestDeleteInThread(t *testing.T) {
	g := NewWithT(t)
	f := discordtest.New(t)
	prof := profile(f, hookToken)
	prof.Credentials["webhookURL"] = []byte(f.URL + "/api/webhooks/111/" + hookToken + "?thread_id=555")
	res, err := discord.New(nil).Publish(context.Background(), prof, publish.Post{Text: "Hello"})
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(discord.New(nil).Delete(context.Background(), prof, res.ExternalID)).To(Succeed())
	g.Expect(f.Last(t, "DELETE /api/webhooks/111/"+hookToken+"/messages/"+res.ExternalID).Query.Get("thread_id")).To(Equal("555"))
}

func TestDeleteRefusesMalformedIDs(t *testing.T) {
	f := discordtest.New(t)
	const notANumber = "Discord message ids are decimal numbers"
	platformtest.CheckRefusedIDs(t, f.Server, map[string]string{
		"": "cannot delete a message without its id", "abc": notANumber, "-444": notANumber, "444/../1": notANumber,
		"https://discord.com/channels/333/222/444": notANumber,
	}, func(id string) error { return discord.New(nil).Delete(context.Background(), profile(f, hookToken), id) })
}

func TestDeleteErrors(t *testing.T) {
	// A repeated deletion is harmless, so a lost answer is Retryable.
	cases := platformtest.DeleteCases(errorCases(), false)
	platformtest.CheckErrors(t, cases, []string{hookToken}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := discordtest.New(t)
		f.Override("DELETE /api/webhooks/111/"+hookToken+"/messages/444", answer)
		return discord.New(client).Delete(context.Background(), profile(f, hookToken), "444")
	})
}
