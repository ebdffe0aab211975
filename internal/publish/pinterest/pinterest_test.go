package pinterest_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/pinterest"
	"github.com/herald-dev/herald/internal/publish/pinterest/pinteresttest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
)

var profile = publish.Profile{Platform: "pinterest", Credentials: publish.Credentials{
	"accessToken": []byte(pinteresttest.Token), "boardId": []byte(pinteresttest.BoardID)}}

func newPublisher(f *pinteresttest.Fake, client *http.Client) *pinterest.Publisher {
	p := pinterest.New(client)
	p.BaseURL = f.URL
	return p
}

// post is a Pin of an image the fake's media host serves.
func post(f *pinteresttest.Fake, key, text string, record func(string) error) publish.Post {
	return publish.Post{Text: text, IdempotencyKey: key, Media: []publish.Media{{URL: f.URL + "/files/roast-1000x1500.jpg", AltText: "a bag of beans"}},
		Record: func(_ context.Context, p string) error { return record(p) }}
}

func TestVerifyAndPublish(t *testing.T) {
	g := NewWithT(t)
	f := pinteresttest.New(t)
	pub := newPublisher(f, nil)
	acct, err := pub.Verify(context.Background(), profile)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(acct.Handle).To(Equal("@heraldcoffee · Autumn roasts"))
	g.Expect(acct.URL).To(Equal("https://www.pinterest.com/heraldcoffee/"))

	var recorded []string
	var pinsAtRecord int
	res, err := pub.Publish(context.Background(), profile, post(f, "k1", "Autumn roast\nNutty, with notes of fig. https://herald.example/autumn", func(p string) error {
		recorded, pinsAtRecord = append(recorded, p), len(f.Pins())
		return nil
	}))
	g.Expect(err).NotTo(HaveOccurred())
	pins := f.Pins()
	g.Expect(pins).To(HaveLen(1))
	g.Expect(res.ExternalID).To(Equal(pins[0].ID))
	g.Expect(res.URL).To(Equal("https://www.pinterest.com/pin/" + pins[0].ID + "/"))
	g.Expect(pins[0].Title).To(Equal("Autumn roast"))
	g.Expect(pins[0].Link).To(Equal("https://herald.example/autumn"))
	g.Expect(pins[0].AltText).To(Equal("a bag of beans"))
	g.Expect(pins[0].Note).To(Equal(pinterest.Marker("k1")))
	g.Expect(recorded).To(Equal([]string{pinterest.Marker("k1")}))
	g.Expect(pinsAtRecord).To(BeZero(), "the marker is recorded before the Pin is made")
}

func TestAnImageIsRequired(t *testing.T) {
	g := NewWithT(t)
	f := pinteresttest.New(t)
	_, err := newPublisher(f, nil).Publish(context.Background(), profile, publish.Post{Text: "no image"})
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("Pinterest posts need an image"))
	g.Expect(f.Routes()).To(BeEmpty())
}

// TestLostAnswer is a Pin made while its answer was lost: the marker on
// the board decides, now and on a later try of the attempt.
func TestLostAnswer(t *testing.T) {
	g := NewWithT(t)
	f := pinteresttest.New(t)
	f.FailNext("POST /v5/pins", 1, platformtest.Fault{Status: 504, Body: "Gateway Timeout", After: true})
	record := func(string) error { return nil }
	res, err := newPublisher(f, nil).Publish(context.Background(), profile, post(f, "k2", "Found again", record))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Pins()).To(HaveLen(1))
	g.Expect(res.ExternalID).To(Equal(f.Pins()[0].ID))

	// A later try of the same attempt (the process died after the Pin was made).
	again := post(f, "k2", "Found again", record)
	again.Progress = pinterest.Marker("k2")
	res2, err := newPublisher(f, nil).Publish(context.Background(), profile, again)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(res2.ExternalID).To(Equal(res.ExternalID))
	g.Expect(f.Find("POST /v5/pins")).To(HaveLen(1), "never a second Pin")

	// A try whose earlier send never arrived sends it now.
	fresh := post(f, "k3", "Never arrived", record)
	fresh.Progress = pinterest.Marker("k3")
	_, err = newPublisher(f, nil).Publish(context.Background(), profile, fresh)
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(f.Pins()).To(HaveLen(2))
}

func TestRecordFailsNothingSent(t *testing.T) {
	g := NewWithT(t)
	f := pinteresttest.New(t)
	_, err := newPublisher(f, nil).Publish(context.Background(), profile, post(f, "k4", "x", func(string) error { return errors.New("etcd unavailable") }))
	g.Expect(publish.KindOf(err)).To(Equal(publish.Retryable))
	g.Expect(f.Find("POST /v5/pins")).To(BeEmpty())
}

func TestTitle(t *testing.T) {
	g := NewWithT(t)
	g.Expect(pinterest.Title("  One line  ")).To(Equal("One line"))
	long := strings.Repeat("word ", 40)
	title := pinterest.Title(long)
	g.Expect(len([]rune(title))).To(BeNumerically("<=", pinterest.TitleLimit))
	g.Expect(title).To(HaveSuffix("word…"))
}

func errorBody(status int, msg string) string {
	return fmt.Sprintf(`{"code":%d,"message":%q}`, status, msg)
}

func TestPublishErrors(t *testing.T) {
	platformtest.CheckErrors(t, platformtest.StandardCases(errorBody), []string{pinteresttest.Token}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := pinteresttest.New(t)
		f.Override("POST /v5/pins", answer)
		_, err := newPublisher(f, client).Publish(context.Background(), profile, post(f, "k", "x", func(string) error { return nil }))
		return err
	})
}

func TestUnknownBoard(t *testing.T) {
	g := NewWithT(t)
	f := pinteresttest.New(t)
	other := publish.Profile{Credentials: publish.Credentials{"accessToken": []byte(pinteresttest.Token), "boardId": []byte("42")}}
	_, err := newPublisher(f, nil).Verify(context.Background(), other)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err.Error()).To(ContainSubstring("Board not found"))
}

func TestDelete(t *testing.T) {
	g := NewWithT(t)
	f := pinteresttest.New(t)
	pub := newPublisher(f, nil)
	res, err := pub.Publish(context.Background(), profile, post(f, "kd", "Brief", func(string) error { return nil }))
	g.Expect(err).NotTo(HaveOccurred())
	g.Expect(pub.Delete(context.Background(), profile, res.ExternalID)).To(Succeed())
	g.Expect(f.Pins()).To(BeEmpty())
	g.Expect(pub.Delete(context.Background(), profile, res.ExternalID)).To(Succeed(), "already gone is deleted")
	fresh := pinteresttest.New(t)
	platformtest.CheckRefusedIDs(t, fresh.Server, map[string]string{"": "numeric id", "1/../2": "numeric id"}, func(id string) error {
		return newPublisher(fresh, nil).Delete(context.Background(), profile, id)
	})
	platformtest.CheckErrors(t, platformtest.DeleteCases(platformtest.StandardCases(errorBody), true), []string{pinteresttest.Token}, func(t *testing.T, client *http.Client, answer http.HandlerFunc) error {
		f := pinteresttest.New(t)
		f.Override("DELETE /v5/pins/77", answer)
		return newPublisher(f, client).Delete(context.Background(), profile, "77")
	})
}

func TestImageFileIsCheckedFirst(t *testing.T) {
	g := NewWithT(t)
	f := pinteresttest.New(t)
	var recorded []string
	big := post(f, "kb", "A heavy pin", func(p string) error { recorded = append(recorded, p); return nil })
	big.Media[0].URL = f.URL + "/files/poster-2000x3000-21000000bytes.jpg"
	_, err := newPublisher(f, nil).Publish(context.Background(), profile, big)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err).To(MatchError("pinterest: Attachment 1 (" + big.Media[0].URL + "): Pinterest takes images of up to 20 MB, and this file has 21.0 MB; use a smaller one."))
	g.Expect(recorded).To(BeEmpty(), "no marker: nothing is sent")
	g.Expect(f.Routes()).To(Equal([]string{"GET /files/poster-2000x3000-21000000bytes.jpg"}))
	g.Expect(f.Pins()).To(BeEmpty())
}
