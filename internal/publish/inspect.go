package publish

import (
	"bytes"
	"context"
	"fmt"
	"image"
	_ "image/gif"  // DecodeConfig reads the size of GIFs,
	_ "image/jpeg" // JPEGs
	_ "image/png"  // and PNGs
	"io"
	"mime"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/herald-dev/herald/internal/publish/rules"
)

// The bounds of a look at a media file. An image's size sits in its header,
// within the first 256 KiB even behind the metadata cameras write; of any
// other file the first bytes tell the format.
const (
	inspectImageBytes = 256 << 10
	inspectOtherBytes = 4 << 10
	inspectTimeout    = 10 * time.Second
)

// Inspect reads what it cheaply can of each attachment whose checks need
// the file (rules.MediaLimits.NeedsFile): one GET with client, asking for
// the file's first bytes only (a Range request; a host that ignores it is
// read no further), which tells the file's size, its format and an image's
// width and height. Attachments are read at once, each for at most ten
// seconds. One that cannot be read (the host refuses it, or times out) is
// left as its URL tells it: the platform's own fetch judges it.
func Inspect(ctx context.Context, client *http.Client, limits rules.MediaLimits, media []Media) []rules.Attachment {
	out := Attachments(media)
	var wg sync.WaitGroup
	for i := range out {
		if limits.NeedsFile(out[i]) {
			wg.Go(func() { inspect(ctx, client, &out[i]) })
		}
	}
	wg.Wait()
	return out
}

func inspect(ctx context.Context, client *http.Client, a *rules.Attachment) {
	ctx, cancel := context.WithTimeout(ctx, inspectTimeout)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, a.URL, nil)
	if err != nil {
		return
	}
	limit := int64(inspectOtherBytes)
	if a.Type == MediaImage {
		limit = inspectImageBytes
	}
	req.Header.Set("Range", fmt.Sprintf("bytes=0-%d", limit-1))
	res, err := API{Client: client}.client(Request{Method: http.MethodGet}).Do(req)
	if err != nil {
		return
	}
	defer res.Body.Close()
	switch res.StatusCode {
	case http.StatusOK:
		a.Bytes = max(res.ContentLength, 0)
	case http.StatusPartialContent:
		a.Bytes = rangeTotal(res.Header.Get("Content-Range"))
	default:
		return
	}
	head, _ := io.ReadAll(io.LimitReader(res.Body, limit))
	sniffed, _, _ := mime.ParseMediaType(http.DetectContentType(head))
	declared, _, _ := mime.ParseMediaType(res.Header.Get("Content-Type"))
	// The file's own bytes say what it is better than its host does.
	if a.Format = rules.FormatOfMIME(sniffed); a.Format == "" {
		a.Format = rules.FormatOfMIME(declared)
	}
	if a.Type != MediaImage {
		return
	}
	if cfg, format, err := image.DecodeConfig(bytes.NewReader(head)); err == nil {
		a.Width, a.Height, a.Format = cfg.Width, cfg.Height, format
	}
}

// rangeTotal reads the whole file's size from a Content-Range header
// ("bytes 0-1023/4096"); 0 when it does not say.
func rangeTotal(h string) int64 {
	_, total, ok := strings.Cut(h, "/")
	if !ok {
		return 0
	}
	n, err := strconv.ParseInt(total, 10, 64)
	if err != nil || n < 0 {
		return 0
	}
	return n
}

// Screen is Refuse with a look at the files of post's media: it also
// returns a Permanent error when, as Inspect reads them with client, one
// is in a format, of a size or of an aspect ratio the platform does not
// take; a file that could not be read is left to the platform. Adapters
// whose platform fetches media itself call it before their first call of
// an attempt. The files of a try that continues from recorded progress
// are not looked at again: the platform may already hold the post.
func (i Info) Screen(ctx context.Context, client *http.Client, post Post) error {
	if err := i.Refuse(post); err != nil || post.Progress != "" || len(post.Media) == 0 {
		return err
	}
	if problems := i.Rules.CheckFiles(Inspect(ctx, client, i.Rules.Media, post.Media)); len(problems) > 0 {
		return Errorf(Permanent, "%s: %s", i.Platform, problems[0].Message)
	}
	return nil
}
