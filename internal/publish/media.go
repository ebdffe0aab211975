package publish

import (
	"bytes"
	"context"
	"fmt"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"slices"
	"strings"
)

// MaxMediaBytes caps a fetched attachment; it is above every platform's
// video limit that Herald uploads to (Mastodon's 99 MB).
const MaxMediaBytes = 100 << 20

// Download is a fetched attachment.
type Download struct {
	// Data is the file's content.
	Data []byte
	// ContentType is the media type the host sent, or the one implied by
	// the file name or content.
	ContentType string
	// Filename is the last element of the URL's path, for multipart uploads.
	Filename string
}

// FetchMedia downloads m.URL with the API's client, for platforms that need
// the bytes rather than a link. The media host is not the platform: any 4xx
// from it is Permanent (never CredentialsRejected), 5xx and failures to
// connect are Retryable. Errors name the URL without its query, which may
// carry a signature.
func (a API) FetchMedia(ctx context.Context, m Media) (Download, error) {
	media := a
	media.Decode = func(status int, _ []byte) Failure {
		if status >= 400 && status < 500 && KindForStatus(status, true) != Retryable {
			return Failure{Kind: Permanent, Message: http.StatusText(status)}
		}
		return Failure{Message: http.StatusText(status)}
	}
	res, err := media.Do(ctx, Request{
		Op:      "GET media " + MediaLabel(m.URL),
		Method:  http.MethodGet,
		URL:     m.URL,
		Header:  http.Header{"Accept": {"*/*"}},
		MaxBody: MaxMediaBytes,
	})
	if err != nil {
		return Download{}, err
	}
	d := Download{Data: res.Body, Filename: "media"}
	if u, err := url.Parse(m.URL); err == nil && path.Base(u.Path) != "/" && path.Base(u.Path) != "." {
		d.Filename = path.Base(u.Path)
	}
	d.ContentType, _, _ = mime.ParseMediaType(res.Header.Get("Content-Type"))
	if d.ContentType == "" || d.ContentType == "application/octet-stream" {
		d.ContentType = mime.TypeByExtension(path.Ext(d.Filename))
	}
	if d.ContentType == "" {
		d.ContentType = http.DetectContentType(d.Data)
	}
	return d, nil
}

// MediaLabel returns a media URL fit for messages: scheme, host and path,
// without the query or fragment.
func MediaLabel(raw string) string {
	u, err := url.Parse(raw)
	if err != nil {
		return "(invalid URL)"
	}
	u.RawQuery, u.Fragment, u.User = "", "", nil
	return u.String()
}

// Multipart encodes fields and one file part as multipart/form-data and
// returns the body and its Content-Type, for the upload endpoints of
// Mastodon and X.
func Multipart(fields map[string]string, fileField string, file Download) ([]byte, string, error) {
	var buf bytes.Buffer
	w := multipart.NewWriter(&buf)
	for _, k := range slices.Sorted(maps.Keys(fields)) {
		if err := w.WriteField(k, fields[k]); err != nil {
			return nil, "", err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, fileField, strings.ReplaceAll(file.Filename, `"`, "")))
	h.Set("Content-Type", file.ContentType)
	part, err := w.CreatePart(h)
	if err != nil {
		return nil, "", err
	}
	if _, err := part.Write(file.Data); err != nil {
		return nil, "", err
	}
	if err := w.Close(); err != nil {
		return nil, "", err
	}
	return buf.Bytes(), w.FormDataContentType(), nil
}
