package publish

import (
	"errors"
	"fmt"
	"net/http"
	"time"
)

// ErrorKind tells the reconciler what a failure means for the delivery. The
// values are CamelCase so they can serve as condition and event reasons.
type ErrorKind string

const (
	// Retryable: nothing was published; try again later (after RetryAfter
	// when set).
	Retryable ErrorKind = "Retryable"
	// Permanent: the platform refused this post (or the configuration is
	// wrong); sending it again unchanged fails the same way.
	Permanent ErrorKind = "Permanent"
	// Unknown: the request may or may not have been published (a timeout
	// or reset after it was sent, or a server error on a request that is
	// not idempotent); send it again only where Info.Resend allows.
	Unknown ErrorKind = "Unknown"
	// CredentialsRejected: the platform refused the profile's credentials;
	// a person has to fix the Secret.
	CredentialsRejected ErrorKind = "CredentialsRejected"
)

// Error is the one error type adapters return. Message never contains a
// credential value.
type Error struct {
	// Kind says whether and when to try again.
	Kind ErrorKind
	// StatusCode is the platform's HTTP status, 0 when there was none.
	StatusCode int
	// RetryAfter is how long the platform asked us to wait, 0 when it did
	// not say.
	RetryAfter time.Duration
	// Message names the platform and the call, then what went wrong, in
	// the platform's words where it gave any.
	Message string
	cause   error
}

// Error returns the message.
func (e *Error) Error() string { return e.Message }

// Unwrap returns the underlying cause (for example context.DeadlineExceeded),
// so errors.Is works through an *Error.
func (e *Error) Unwrap() error { return e.cause }

// Errorf builds an *Error of the given kind; a %w verb in format becomes its
// cause.
func Errorf(kind ErrorKind, format string, args ...any) *Error {
	err := fmt.Errorf(format, args...)
	return &Error{Kind: kind, Message: err.Error(), cause: errors.Unwrap(err)}
}

// KindOf returns the kind of err: "" for nil, the Kind of an *Error in its
// chain, and Unknown for any other error (an unexpected failure could have
// happened after the platform acted, so it is never retried blindly).
func KindOf(err error) ErrorKind {
	if err == nil {
		return ""
	}
	var e *Error
	if errors.As(err, &e) {
		return e.Kind
	}
	return Unknown
}

// IsNotFound reports whether err is a platform's 404: for a deletion, the
// post is gone already.
func IsNotFound(err error) bool {
	var pe *Error
	return errors.As(err, &pe) && pe.StatusCode == http.StatusNotFound
}

// IsRetryable reports whether err says nothing was published and trying
// again later may succeed.
func IsRetryable(err error) bool { return KindOf(err) == Retryable }

// RetryAfter returns how long the platform asked to wait before the next
// try, or 0 when it did not say.
func RetryAfter(err error) time.Duration {
	var e *Error
	if errors.As(err, &e) {
		return e.RetryAfter
	}
	return 0
}
