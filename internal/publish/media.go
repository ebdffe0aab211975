package publish

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"maps"
	"mime"
	"mime/multipart"
	"net/http"
	"net/textproto"
	"net/url"
	"path"
	"slices"
	"strings"
	"sync"

	"github.com/herald-dev/herald/internal/publish/rules"
)

// Download is an attachment being fetched from its media host. It is
// streamed into the platform's upload request, never held whole in
// memory, and reading past its size limit fails. Close it when done.
type Download struct {
	// ContentType is the media type the host sent, or the one implied by
	// the file name or the first bytes.
	ContentType string
	// Filename is the last element of the URL's path, for multipart uploads.
	Filename string
	// Size is the host's Content-Length, or -1 when it sent none.
	Size int64

	platform Platform
	label    string
	limit    int64
	body     io.ReadCloser
	r        *bufio.Reader

	mu   sync.Mutex
	read int64
	err  error // the first failure reading from the host, as an *Error
}

// FetchMedia starts downloading m.URL with the API's client, for platforms
// that need the bytes rather than a link. maxBytes is the platform's
// limit for the file's type: a larger Content-Length is refused before
// anything is read, and a host that sends more than it said fails once
// it passes the limit. The media host is not the platform: any 4xx from it
// is Permanent (never CredentialsRejected), 5xx and failures to connect are
// Retryable. Errors name the URL without its query, which may carry a
// signature.
func (a API) FetchMedia(ctx context.Context, m Media, maxBytes int64) (*Download, error) {
	label := MediaLabel(m.URL)
	if maxBytes <= 0 {
		return nil, Errorf(Permanent, "%s: Herald cannot upload %ss to %s", a.Platform, m.EffectiveType(), a.Platform)
	}
	op := Request{Op: "GET media " + label, Method: http.MethodGet}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, m.URL, nil)
	if err != nil {
		return nil, a.errorf(op, Permanent, "invalid media URL")
	}
	req.Header.Set("Accept", "*/*")
	res, err := a.client(op).Do(req)
	if err != nil {
		return nil, a.Secrets.redactError(a.transportError(op, err, false))
	}
	if res.StatusCode < 200 || res.StatusCode > 299 {
		body, _ := io.ReadAll(io.LimitReader(res.Body, 4096))
		res.Body.Close()
		host := a
		host.Decode = func(status int, _ []byte) Failure {
			// The host's words are not the platform's, and its 401 or 403
			// says nothing of the profile's credentials.
			f := Failure{Message: http.StatusText(status)}
			if KindForStatus(status, true) == CredentialsRejected {
				f.Kind = Permanent
			}
			return f
		}
		return nil, a.Secrets.redactError(host.statusError(op, res.StatusCode, res.Header, body))
	}
	if res.ContentLength > maxBytes {
		res.Body.Close()
		return nil, a.errorf(op, Permanent, "the file is %s; %s accepts at most %s for a %s; use a smaller file",
			byteSize(res.ContentLength), a.Platform, byteSize(maxBytes), m.EffectiveType())
	}
	d := &Download{Filename: "media", Size: res.ContentLength, platform: a.Platform, label: label, limit: maxBytes, body: res.Body}
	d.r = bufio.NewReaderSize(readerFunc(d.readBody), 4096)
	if u, err := url.Parse(m.URL); err == nil && path.Base(u.Path) != "/" && path.Base(u.Path) != "." {
		d.Filename = path.Base(u.Path)
	}
	d.ContentType, _, _ = mime.ParseMediaType(res.Header.Get("Content-Type"))
	if d.ContentType == "" || d.ContentType == "application/octet-stream" {
		d.ContentType = mime.TypeByExtension(path.Ext(d.Filename))
	}
	if d.ContentType == "" {
		head, _ := d.r.Peek(512)
		d.ContentType = http.DetectContentType(head)
	}
	return d, nil
}

// Read streams the file.
func (d *Download) Read(p []byte) (int, error) { return d.r.Read(p) }

// Close ends the download.
func (d *Download) Close() error { return d.body.Close() }

// readBody reads from the host, counting against the limit.
func (d *Download) readBody(p []byte) (int, error) {
	n, err := d.body.Read(p)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.read += int64(n)
	switch {
	case d.read > d.limit:
		d.err = Errorf(Permanent, "%s: GET media %s: the file is larger than %s, the most %s accepts for it; use a smaller file",
			d.platform, d.label, byteSize(d.limit), d.platform)
		return n, d.err
	case err != nil && err != io.EOF:
		d.err = Errorf(Retryable, "%s: GET media %s: reading the file failed: %v", d.platform, d.label, err)
		return n, d.err
	}
	return n, err
}

// failure is what went wrong reading the file, if anything did.
func (d *Download) failure() error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.err
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// byteSize writes n as people read file sizes.
func byteSize(n int64) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return fmt.Sprintf("%d MiB", n>>20)
	case n >= 1000*1000 && n%(1000*1000) == 0:
		return fmt.Sprintf("%d MB", n/(1000*1000))
	case n >= 1000*1000:
		return fmt.Sprintf("%.1f MB", float64(n)/(1000*1000))
	}
	return fmt.Sprintf("%d bytes", n)
}

// MediaLabel returns a media URL fit for messages: scheme, host and path,
// without the query or fragment.
func MediaLabel(raw string) string { return rules.MediaLabel(raw) }

// Upload is a request body streamed from a Download: the file itself, or
// the file as one field of a multipart/form-data body (the upload
// endpoints of Mastodon and X).
type Upload struct {
	File *Download
	// Length, when set, sends only the next Length bytes of File: one
	// chunk of a file uploaded in parts, or the rest of a resumed upload.
	Length int64
	// FormField, when set, names the file's field in a multipart body
	// that also carries Fields.
	FormField string
	Fields    map[string]string
}

// body returns the reader the request sends, its Content-Type and its
// length (-1 when unknown, sent chunked).
func (u *Upload) body() (io.Reader, string, int64) {
	if u.FormField == "" && u.Length > 0 {
		return io.LimitReader(u.File, u.Length), u.File.ContentType, u.Length
	}
	if u.FormField == "" {
		return u.File, u.File.ContentType, u.File.Size
	}
	pr, pw := io.Pipe()
	w := multipart.NewWriter(pw)
	go func() {
		pw.CloseWithError(u.writeMultipart(w))
	}()
	return pr, w.FormDataContentType(), -1
}

func (u *Upload) writeMultipart(w *multipart.Writer) error {
	for _, k := range slices.Sorted(maps.Keys(u.Fields)) {
		if err := w.WriteField(k, u.Fields[k]); err != nil {
			return err
		}
	}
	h := textproto.MIMEHeader{}
	h.Set("Content-Disposition", fmt.Sprintf(`form-data; name=%q; filename=%q`, u.FormField, strings.ReplaceAll(u.File.Filename, `"`, "")))
	h.Set("Content-Type", u.File.ContentType)
	part, err := w.CreatePart(h)
	if err != nil {
		return err
	}
	if _, err := io.Copy(part, u.File); err != nil {
		return err
	}
	return w.Close()
}
