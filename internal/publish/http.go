package publish

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptrace"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/herald-dev/herald/internal/egress"
)

// defaultMaxBody caps how much of an API answer is read; API answers are
// small, and a misbehaving server must not exhaust memory.
const defaultMaxBody = 4 << 20

// API sends requests to one platform's HTTP API and turns every failure into
// an *Error, so all adapters map statuses, rate limits, timeouts and
// platform error bodies the same way.
type API struct {
	// Platform prefixes every error message.
	Platform Platform
	// Client sends the requests; nil means http.DefaultClient.
	Client *http.Client
	// Secrets are redacted from every error message Do returns.
	Secrets Credentials
	// Decode reads the platform's own error from a non-2xx answer; nil (or
	// an empty Failure.Message) means ErrorMessage(body).
	Decode func(status int, body []byte) Failure
	// Now is the clock used to turn reset timestamps into durations; nil
	// means time.Now.
	Now func() time.Time
}

// Failure is what a platform said about a failed request, read from the
// body by API.Decode.
type Failure struct {
	// Message is the platform's own explanation; empty means ErrorMessage
	// of the body.
	Message string
	// RetryAfter is a wait the platform put in the body (Discord's and
	// Telegram's retry_after); headers take precedence.
	RetryAfter time.Duration
	// Kind overrides the status-code mapping when set (for example X's 403
	// for duplicate content is Permanent, not CredentialsRejected).
	Kind ErrorKind
}

// Request is one HTTP call made through API.Do.
type Request struct {
	// Op names the call in error messages, e.g. "POST /api/v1/statuses".
	// It must not contain a secret (so never the URL of a webhook or a
	// Telegram bot).
	Op string
	// Method and URL say where the request goes.
	Method, URL string
	// Header is sent as given; Do adds Content-Type and Accept.
	Header http.Header
	// JSON, when set, is marshalled as the body.
	JSON any
	// Form, when set (and JSON is not), is the urlencoded body.
	Form url.Values
	// Body and ContentType are the raw body when neither JSON nor Form is set.
	Body        []byte
	ContentType string
	// Idempotent marks a call that cannot act twice (GET and HEAD always
	// are; a POST that carries a key the platform deduplicates by, too): a
	// timeout or a server error after sending it is then Retryable instead
	// of Unknown.
	Idempotent bool
	// Out, when set, receives the JSON of a 2xx answer.
	Out any
	// Upload, when set (and JSON, Form and Body are not), streams the body
	// from a media download; a failure reading the download decides the
	// error.
	Upload *Upload
	// MaxBody caps the answer's size; 0 means 4 MiB.
	MaxBody int64
	// ResumeIncomplete takes a 308 without a Location for an answer, not a
	// failure: a resumable upload's "Resume Incomplete", whose Range says
	// how much arrived.
	ResumeIncomplete bool
}

// Response is a 2xx answer (or a 308 where Request.ResumeIncomplete).
type Response struct {
	// StatusCode is the 2xx status (Mastodon's media answers 200 or 202).
	StatusCode int
	// Header holds the answer's headers (LinkedIn's x-restli-id).
	Header http.Header
	// Body is the whole answer.
	Body []byte
}

// Do sends r and returns the 2xx answer, or an *Error: HTTP statuses are
// mapped by KindForStatus (or Decode), a Retryable answer carries RetryAfter
// from Retry-After or the platform's reset headers, a failure before the
// request was sent is Retryable, and a timeout or reset after it was sent
// is Unknown unless the call is idempotent.
func (a API) Do(ctx context.Context, r Request) (*Response, error) {
	res, err := a.do(ctx, r)
	if err != nil {
		return nil, a.Secrets.redactError(err)
	}
	return res, nil
}

func (a API) do(ctx context.Context, r Request) (*Response, error) {
	var (
		body          io.Reader
		contentType   string
		contentLength int64 = -1
	)
	if r.Upload != nil && r.JSON == nil && r.Form == nil && r.Body == nil {
		body, contentType, contentLength = r.Upload.body()
	} else {
		encoded, ct, err := r.encode()
		if err != nil {
			return nil, a.errorf(r, Permanent, "cannot encode the request: %v", err)
		}
		body, contentType, contentLength = bytes.NewReader(encoded), ct, int64(len(encoded))
	}
	req, err := http.NewRequestWithContext(ctx, r.Method, r.URL, body)
	if err != nil {
		// The parse error would quote the URL, which may hold a secret.
		return nil, a.errorf(r, Permanent, "invalid request URL")
	}
	if contentLength >= 0 {
		req.ContentLength = contentLength
	}
	for k, vs := range r.Header {
		req.Header[k] = vs
	}
	if contentType != "" {
		req.Header.Set("Content-Type", contentType)
	}
	if req.Header.Get("Accept") == "" {
		req.Header.Set("Accept", "application/json")
	}
	var sent atomic.Bool
	req = req.WithContext(httptrace.WithClientTrace(req.Context(), &httptrace.ClientTrace{
		WroteHeaders: func() { sent.Store(true) },
	}))
	client := a.client(r)
	res, err := client.Do(req)
	if r.Upload != nil {
		// The platform saw a cut-short file: the download's failure says why.
		if failed := r.Upload.File.failure(); failed != nil {
			if err == nil {
				res.Body.Close()
			}
			return nil, failed
		}
	}
	if err != nil {
		return nil, a.transportError(r, err, sent.Load())
	}
	defer res.Body.Close()
	limit := r.MaxBody
	if limit <= 0 {
		limit = defaultMaxBody
	}
	data, err := io.ReadAll(io.LimitReader(res.Body, limit+1))
	ok := (res.StatusCode >= 200 && res.StatusCode < 300) ||
		(r.ResumeIncomplete && res.StatusCode == http.StatusPermanentRedirect && res.Header.Get("Location") == "")
	switch {
	case err != nil && ok:
		return nil, a.lostAnswer(r, res.StatusCode, fmt.Sprintf("reading the answer failed: %v", err))
	case int64(len(data)) > limit && ok:
		return nil, a.lostAnswer(r, res.StatusCode, fmt.Sprintf("the answer is larger than %d bytes", limit))
	case !ok:
		return nil, a.statusError(r, res.StatusCode, res.Header, data)
	}
	if r.Out != nil && len(bytes.TrimSpace(data)) > 0 {
		if err := json.Unmarshal(data, r.Out); err != nil {
			return nil, a.lostAnswer(r, res.StatusCode, fmt.Sprintf("the answer is not the expected JSON: %v", err))
		}
	}
	return &Response{StatusCode: res.StatusCode, Header: res.Header, Body: data}, nil
}

// client is the API's client, following redirects at most
// egress.MaxRedirects times, to http and https. A 301, 302 or 303 turns a
// POST, PUT or DELETE into a GET, which would report success for a post
// never made or never deleted: such a call stops at it, and it fails as
// Permanent. A 307 or 308 repeats the same request elsewhere, which only a
// call that cannot act twice may follow.
func (a API) client(r Request) *http.Client {
	c := *http.DefaultClient
	if a.Client != nil {
		c = *a.Client
	}
	idempotent, changes := r.idempotent(), r.Method != http.MethodGet && r.Method != http.MethodHead && r.Method != ""
	c.CheckRedirect = func(next *http.Request, via []*http.Request) error {
		if changes && (!idempotent || next.Response == nil ||
			(next.Response.StatusCode != http.StatusTemporaryRedirect && next.Response.StatusCode != http.StatusPermanentRedirect)) {
			return http.ErrUseLastResponse
		}
		return egress.CheckRedirect(next, via)
	}
	return &c
}

func (r Request) encode() ([]byte, string, error) {
	switch {
	case r.JSON != nil:
		b, err := json.Marshal(r.JSON)
		return b, "application/json", err
	case r.Form != nil:
		return []byte(r.Form.Encode()), "application/x-www-form-urlencoded", nil
	}
	return r.Body, r.ContentType, nil
}

func (r Request) idempotent() bool {
	return r.Idempotent || r.Method == http.MethodGet || r.Method == http.MethodHead || r.Method == ""
}

func (a API) errorf(r Request, kind ErrorKind, format string, args ...any) *Error {
	return Errorf(kind, "%s %s: "+format, append([]any{a.Platform, r.Op}, args...)...)
}

// lostAnswer is a 2xx whose body could not be read: the platform acted, but
// we do not know the result, so a non-idempotent call's outcome is Unknown;
// an idempotent one gives the same answer when sent again.
func (a API) lostAnswer(r Request, status int, detail string) error {
	kind := Unknown
	if r.idempotent() {
		kind = Retryable
	}
	e := a.errorf(r, kind, "HTTP %d but %s", status, detail)
	e.StatusCode = status
	return e
}

func (a API) transportError(r Request, err error, sent bool) error {
	// url.Error quotes the URL, which may hold a secret: keep only its cause.
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	switch {
	case errors.Is(err, egress.ErrRefused):
		return a.errorf(r, Permanent, "%w", err)
	case !sent:
		return a.errorf(r, Retryable, "the request was not sent: %w", err)
	case r.idempotent():
		return a.errorf(r, Retryable, "no answer: %w", err)
	}
	return a.errorf(r, Unknown, "no answer after the request was sent, so it may or may not have taken effect: %w", err)
}

func (a API) statusError(r Request, status int, h http.Header, body []byte) error {
	var f Failure
	if a.Decode != nil {
		f = a.Decode(status, body)
	}
	if f.Message == "" {
		f.Message = ErrorMessage(body)
	}
	if f.Message == "" {
		f.Message = http.StatusText(status)
	}
	kind := f.Kind
	if kind == "" {
		kind = KindForStatus(status, r.idempotent())
	}
	e := a.errorf(r, kind, "HTTP %d: %s", status, f.Message)
	e.StatusCode = status
	if kind == Retryable || kind == Unknown {
		// An ambiguous answer is sent again only where the platform
		// recognises a repeat, and then no sooner than it asked.
		e.RetryAfter = a.retryAfter(status, h, f.RetryAfter)
	}
	return e
}

// KindForStatus maps an HTTP status to an ErrorKind. 401 and 403 mean the
// credentials were refused. 408, 425 and 429 say the request was not
// processed, so it is worth sending again. A 5xx comes after the request
// reached the platform, or a gateway in front of it, which may have acted
// on it before failing: it is Retryable only for a request that cannot act
// twice (idempotent), and Unknown otherwise; an adapter whose platform
// documents a 5xx as "nothing was done" says so in its Decode. Every other
// status (400, 404, 422, …) rejects the request for good.
func KindForStatus(status int, idempotent bool) ErrorKind {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return CredentialsRejected
	case status == http.StatusRequestTimeout || status == http.StatusTooEarly || status == http.StatusTooManyRequests:
		return Retryable
	case status >= 500 && idempotent:
		return Retryable
	case status >= 500:
		return Unknown
	}
	return Permanent
}

// resetHeaders are the rate-limit reset headers platforms document: X's
// x-rate-limit-reset (epoch seconds), Mastodon's X-RateLimit-Reset (ISO
// 8601), Bluesky's RateLimit-Reset (epoch seconds) and Discord's
// X-RateLimit-Reset-After (seconds).
var resetHeaders = []string{"X-Rate-Limit-Reset", "X-RateLimit-Reset-After", "X-RateLimit-Reset", "RateLimit-Reset"}

func (a API) retryAfter(status int, h http.Header, fromBody time.Duration) time.Duration {
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	if d, ok := parseWait(h.Get("Retry-After"), now, true); ok {
		return d
	}
	if fromBody > 0 {
		return fromBody
	}
	if status == http.StatusTooManyRequests {
		for _, name := range resetHeaders {
			if d, ok := parseWait(h.Get(name), now, false); ok {
				return d
			}
		}
	}
	return 0
}

// parseWait reads a wait from a header value: delta seconds (fractions
// allowed), epoch seconds (any number past 2001), an HTTP date
// (Retry-After) or an RFC 3339 time (Mastodon's reset). Past times give 0.
func parseWait(v string, now time.Time, httpDate bool) (time.Duration, bool) {
	v = strings.TrimSpace(v)
	if v == "" {
		return 0, false
	}
	if n, err := strconv.ParseFloat(v, 64); err == nil && !math.IsNaN(n) && !math.IsInf(n, 0) {
		if n > 1e9 {
			sec, frac := math.Modf(n)
			return nonNegative(time.Unix(int64(sec), int64(frac*1e9)).Sub(now)), true
		}
		return nonNegative(time.Duration(n * float64(time.Second))), true
	}
	if t, err := time.Parse(time.RFC3339Nano, v); err == nil {
		return nonNegative(t.Sub(now)), true
	}
	if httpDate {
		if t, err := http.ParseTime(v); err == nil {
			return nonNegative(t.Sub(now)), true
		}
	}
	return 0, false
}

func nonNegative(d time.Duration) time.Duration {
	if d < 0 {
		return 0
	}
	return d
}

// ErrorMessage extracts a platform's error message from a response body:
// from JSON it takes the first of error_description, message, detail,
// description, errors[0].message, error and title (joining a machine code in
// "error" with a human message, as atproto sends both); plain text is
// returned trimmed. Long bodies are cut to 300 characters.
func ErrorMessage(body []byte) string {
	var m map[string]any
	if json.Unmarshal(body, &m) == nil {
		code, _ := m["error"].(string)
		msg := ""
		for _, k := range []string{"error_description", "message", "detail", "description"} {
			if s, ok := m[k].(string); ok && s != "" {
				msg = s
				break
			}
		}
		if errs, ok := m["errors"].([]any); ok && msg == "" && len(errs) > 0 {
			if first, ok := errs[0].(map[string]any); ok {
				msg, _ = first["message"].(string)
			}
		}
		switch {
		case msg != "" && code != "" && code != msg:
			return clip(code + ": " + msg)
		case msg != "":
			return clip(msg)
		case code != "":
			return clip(code)
		}
		if s, ok := m["title"].(string); ok {
			return clip(s)
		}
		return ""
	}
	if !utf8.Valid(body) {
		return ""
	}
	return clip(strings.TrimSpace(string(body)))
}

func clip(s string) string {
	const max = 300
	if utf8.RuneCountInString(s) <= max {
		return s
	}
	return string([]rune(s)[:max]) + "…"
}
