package publish_test

import (
	"context"
	"net/http"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"

	. "github.com/onsi/gomega"

	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/rules"
)

// instagramLike are limits that need every image's file: a size, formats
// and a range of aspect ratios.
var instagramLike = rules.MediaLimits{Max: 10, Images: 10, Videos: 10, ImageBytes: 8 * rules.MB, ImageFormats: []string{"jpeg"},
	ImageRatios: rules.Ratios{Tallest: rules.Ratio{W: 4, H: 5}, Widest: rules.Ratio{W: 1.91, H: 1}}}

func TestInspectReadsOnlyTheHeader(t *testing.T) {
	g := NewWithT(t)
	host := platformtest.NewServer(t)
	var sent atomic.Int64
	host.Handle("GET /files/{name}", func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.PathValue("name"), "huge") {
			w = &countingWriter{ResponseWriter: w, n: &sent}
		}
		platformtest.ServeMedia(w, r)
	})
	// A host that ignores Range sends the whole file; Herald reads no more
	// than it would have asked for.
	host.Handle("GET /plain/{name}", func(w http.ResponseWriter, r *http.Request) {
		data := platformtest.MediaFile(r.PathValue("name"))
		w.Header().Set("Content-Length", strconv.Itoa(len(data)))
		w.Header().Set("Content-Type", "image/jpeg")
		_, _ = w.Write(data)
	})
	host.Handle("GET /page", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "image/jpeg") // the host is wrong: it is a page
		_, _ = w.Write([]byte("<!DOCTYPE html><html><body>a gallery</body></html>"))
	})
	media := []publish.Media{
		{URL: host.URL + "/files/huge-1080x1350-9000000bytes.jpg"},
		{URL: host.URL + "/plain/story-1080x1920.jpg"},
		{URL: host.URL + "/files/gone-1080x1080.png?sig=secret"},
		{URL: host.URL + "/page", Type: "image"},
		{URL: host.URL + "/missing.jpg"},
	}
	got := publish.Inspect(context.Background(), nil, instagramLike, media)
	g.Expect(got[0]).To(Equal(rules.Attachment{Type: "image", URL: media[0].URL, Format: "jpeg", Bytes: 9000000, Width: 1080, Height: 1350}))
	g.Expect(sent.Load()).To(BeNumerically("<=", 256<<10), "only the header is sent")
	g.Expect(host.Last(t, "GET /files/huge-1080x1350-9000000bytes.jpg").Header.Get("Range")).To(Equal("bytes=0-262143"))
	g.Expect(got[1]).To(Equal(rules.Attachment{Type: "image", URL: media[1].URL, Format: "jpeg", Bytes: int64(len(platformtest.MediaFile("story-1080x1920.jpg"))), Width: 1080, Height: 1920}))
	g.Expect(got[2]).To(Equal(rules.Attachment{Type: "image", URL: media[2].URL, Format: "png", Bytes: int64(len(platformtest.MediaFile("gone-1080x1080.png"))), Width: 1080, Height: 1080}))
	g.Expect(got[3].Format).To(Equal("html"), "the file's bytes outweigh the host's Content-Type")
	g.Expect(got[4]).To(Equal(rules.Attachment{Type: "image", URL: media[4].URL}), "a file that cannot be read is left as its URL tells it")

	// What these show, the rules refuse; the URL in each message carries no
	// query.
	var codes []string
	for _, p := range (rules.Rules{Name: "Instagram", Media: instagramLike}).CheckFiles(got) {
		codes = append(codes, p.Code)
		g.Expect(p.Message).NotTo(ContainSubstring("secret"))
	}
	g.Expect(codes).To(Equal([]string{"MediaTooLarge", "MediaAspectRatio", "MediaFormat", "MediaFormat"}))
}

func TestInspectReadsOnlyWhatTheRulesNeed(t *testing.T) {
	g := NewWithT(t)
	host := platformtest.NewServer(t)
	host.Handle("GET /files/{name}", platformtest.ServeMedia)
	media := []publish.Media{{URL: host.URL + "/files/a-100x100.jpg"}, {URL: host.URL + "/files/clip.mp4"}}
	got := publish.Inspect(context.Background(), nil, rules.MediaLimits{Max: 4, Images: 4, Videos: 1}, media)
	g.Expect(got).To(Equal(publish.Attachments(media)))
	g.Expect(host.Requests()).To(BeEmpty(), "limits that name no size, format or ratio need no file")

	got = publish.Inspect(context.Background(), nil, rules.MediaLimits{Max: 4, Images: 4, Videos: 1, VideoFormats: []string{"mp4"}}, media)
	g.Expect(host.Routes()).To(Equal([]string{"GET /files/clip.mp4"}), "only the video's type has limits")
	g.Expect(got[0].Width).To(BeZero())
}

func TestScreenRefusesBeforeAnyCall(t *testing.T) {
	g := NewWithT(t)
	host := platformtest.NewServer(t)
	host.Handle("GET /files/{name}", platformtest.ServeMedia)
	info := publish.Info{Platform: "gram", Rules: rules.Rules{Name: "Gram", Media: instagramLike}}
	wide := publish.Post{Text: "A panorama", Media: []publish.Media{{URL: host.URL + "/files/pano-3000x1000.jpg"}}}
	err := info.Screen(context.Background(), nil, wide)
	g.Expect(publish.KindOf(err)).To(Equal(publish.Permanent))
	g.Expect(err).To(MatchError("gram: Attachment 1 (" + host.URL + "/files/pano-3000x1000.jpg): Gram takes images from 4:5 (tallest) to 1.91:1 (widest), and this one is 3000×1000, 3.00:1; crop it to fit."))

	// A try that continues from recorded progress is not looked at again.
	before := len(host.Requests())
	wide.Progress = "container 17"
	g.Expect(info.Screen(context.Background(), nil, wide)).To(Succeed())
	g.Expect(host.Requests()).To(HaveLen(before))

	g.Expect(info.Screen(context.Background(), nil, publish.Post{Text: "Square", Media: []publish.Media{{URL: host.URL + "/files/sq-1080x1080.jpg"}}})).To(Succeed())
	err = info.Screen(context.Background(), nil, publish.Post{Text: "", Media: nil})
	g.Expect(err).To(MatchError(ContainSubstring("neither text nor media")), "what Refuse refuses, Screen refuses")
}

type countingWriter struct {
	http.ResponseWriter
	n *atomic.Int64
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.ResponseWriter.Write(p)
	c.n.Add(int64(n))
	return n, err
}
