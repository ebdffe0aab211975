// Package metrics holds Herald's Prometheus metrics. They are registered on
// controller-runtime's registry, so the manager's metrics endpoint serves
// them next to the controller and workqueue metrics.
package metrics

import (
	"errors"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
)

var (
	// PostsPublished counts deliveries the platform accepted.
	PostsPublished = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_posts_published_total",
		Help: "Deliveries the platform accepted, by platform.",
	}, []string{"platform"})

	// PostsFailed counts deliveries that ended without being published:
	// reason is the delivery's final reason (Permanent, CredentialsRejected,
	// TooLong, SecretNotFound, Missed, Unknown, RetriesExhausted, …).
	PostsFailed = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_posts_failed_total",
		Help: "Deliveries that ended without being published, by platform and reason.",
	}, []string{"platform", "reason"})

	// PublishLateness is the time of the successful platform call minus the
	// post's scheduledAt. Buckets reach from well under a second (the
	// target) to the default maxLateness of 15 minutes.
	PublishLateness = prometheus.NewHistogram(prometheus.HistogramOpts{
		Name:    "herald_publish_lateness_seconds",
		Help:    "Time of the successful platform call minus the post's scheduledAt.",
		Buckets: []float64{0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900},
	})

	// DeliveriesInFlight is the number of platform calls running now.
	DeliveriesInFlight = prometheus.NewGauge(prometheus.GaugeOpts{
		Name: "herald_deliveries_in_flight",
		Help: "Platform calls running now.",
	})

	// PublishRetries counts automatic retries scheduled after a retryable
	// error (or a safe re-send after an interruption), by platform.
	PublishRetries = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_publish_retries_total",
		Help: "Automatic retries scheduled after a retryable error or an interrupted attempt, by platform.",
	}, []string{"platform"})
)

// The MCP and OAuth side, on every replica.
var (
	// MCPCalls counts tool calls by tool (unprefixed, such as create_post)
	// and result: ok; refused (an error the assistant can act on: bad
	// arguments, not found, a limit); failed (Herald could not complete it).
	MCPCalls = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_mcp_calls_total",
		Help: "MCP tool calls, by tool and result (ok, refused, failed).",
	}, []string{"tool", "result"})

	// MCPCallDuration is how long a tool's handler took, by tool.
	MCPCallDuration = prometheus.NewHistogramVec(prometheus.HistogramOpts{
		Name:    "herald_mcp_call_duration_seconds",
		Help:    "Time a tool call took in Herald, by tool.",
		Buckets: []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5},
	}, []string{"tool"})

	// OAuthTokensIssued counts tokens issued, by grant type
	// (authorization_code, refresh_token).
	OAuthTokensIssued = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_oauth_tokens_issued_total",
		Help: "Access tokens issued, by grant type.",
	}, []string{"grant_type"})

	// OAuthRefused counts refused requests by what was refused: a token
	// request (token_request), a bearer token at /mcp (bearer_token), a
	// sign-in (sign_in) or a rate limit (rate_limited).
	OAuthRefused = prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "herald_oauth_requests_refused_total",
		Help: "OAuth requests and bearer tokens refused, by reason.",
	}, []string{"reason"})

	// OAuthGrantsApproved counts consents given.
	OAuthGrantsApproved = prometheus.NewCounter(prometheus.CounterOpts{
		Name: "herald_oauth_grants_approved_total",
		Help: "Connections a person approved on the consent page.",
	})
)

// Collectors are every metric Herald defines.
func Collectors() []prometheus.Collector {
	return []prometheus.Collector{PostsPublished, PostsFailed, PublishLateness, DeliveriesInFlight, PublishRetries,
		MCPCalls, MCPCallDuration, OAuthTokensIssued, OAuthRefused, OAuthGrantsApproved}
}

var registerOnce sync.Once

// Register adds Herald's metrics to controller-runtime's registry. It is
// safe to call more than once (tests start several managers in one
// process); a metric registered already is not an error.
func Register() error {
	var err error
	registerOnce.Do(func() {
		for _, c := range Collectors() {
			if e := ctrlmetrics.Registry.Register(c); e != nil {
				var already prometheus.AlreadyRegisteredError
				if !errors.As(e, &already) {
					err = errors.Join(err, e)
				}
			}
		}
	})
	return err
}
