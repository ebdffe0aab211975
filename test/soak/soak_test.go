// Package soak runs the real herald binary as two replicas with leader
// election against one control plane, publishing posts to fakes of an
// idempotent platform (Mastodon), of two without idempotency (Discord,
// Slack) and of one that publishes through media containers (Instagram)
// that fail a share of their calls (429, 500, 502, 504, slow answers,
// answers that never come, some after the post was made), while one replica
// at a time is killed (SIGKILL) or rolled (SIGTERM) and started again. It
// then accounts for every delivery: published once, never twice, none
// lost, every Unknown explained.
//
// make test runs a short soak; make soak runs the full one:
//
//	SOAK_DURATION=3m SOAK_POSTS=1000 SOAK_BURST=500 go test ./test/soak -run TestSoak -v
//
// and again with SOAK_SHARDS=4, where both replicas publish, each its
// share of four namespaces' shards.
package soak

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/controllers"
	"github.com/herald-dev/herald/internal/controlplane"
	"github.com/herald-dev/herald/internal/publish/discord/discordtest"
	"github.com/herald-dev/herald/internal/publish/mastodon/mastodontest"
	"github.com/herald-dev/herald/internal/publish/meta/metatest"
	"github.com/herald-dev/herald/internal/publish/platformtest"
	"github.com/herald-dev/herald/internal/publish/slack/slacktest"
	"github.com/herald-dev/herald/internal/scheme"
	"github.com/herald-dev/herald/internal/shard"
)

// Settings, from the environment.
var (
	duration  = envDuration("SOAK_DURATION", 30*time.Second)
	postCount = envInt("SOAK_POSTS", 120)
	// burstCount bursts of burstSize posts due at one instant each.
	burstCount = envInt("SOAK_BURSTS", 2)
	burstSize  = envInt("SOAK_BURST", 40)
	// shards is the replicas' --publish-shards; with more than one, the
	// profiles and their posts are spread over one namespace per shard, so
	// both replicas publish at once and a kill moves shards.
	shards    = envInt("SOAK_SHARDS", 1)
	faultRate = 0.3
	// callTimeout is the replicas' --publish-timeout; their claims last
	// 2 × (it + 10 s), so a delivery interrupted by SIGKILL waits that long.
	callTimeout = 3 * time.Second
)

func envDuration(key string, def time.Duration) time.Duration {
	if d, err := time.ParseDuration(os.Getenv(key)); err == nil && d > 0 {
		return d
	}
	return def
}

func envInt(key string, def int) int {
	if n, err := strconv.Atoi(os.Getenv(key)); err == nil && n > 0 {
		return n
	}
	return def
}

// platform is one fake and what the soak knows about the calls it got.
type platform struct {
	name    string
	server  *platformtest.Server
	route   string
	text    func(platformtest.Request) string
	profile func(ns, name string) (socialv1alpha1.SocialProfileSpec, map[string]string)

	mu sync.Mutex
	// ambiguous holds the texts of posts one of whose calls got an
	// answer that does not say whether the post was made.
	ambiguous map[string]bool
	// faulted holds the texts of posts one of whose calls was faulted.
	faulted map[string]bool
	faults  map[string]int
}

// chaos makes a faultRate share of calls fail, at random.
func (p *platform) chaos(rng *rand.Rand, mu *sync.Mutex) func(platformtest.Request) *platformtest.Fault {
	return func(r platformtest.Request) *platformtest.Fault {
		mu.Lock()
		roll, kind := rng.Float64(), rng.IntN(8)
		mu.Unlock()
		if roll >= faultRate {
			return nil
		}
		var f platformtest.Fault
		ambiguous := true
		switch kind {
		case 0:
			f, ambiguous = platformtest.Fault{Status: http.StatusTooManyRequests, Header: http.Header{"Retry-After": {"1"}}, Body: "Too many requests"}, false
		case 1:
			f = platformtest.Fault{Status: http.StatusInternalServerError, Body: "Internal Server Error"}
		case 2:
			f = platformtest.Fault{Status: http.StatusBadGateway, Body: "Bad Gateway", After: true} // made, then the gateway failed
		case 3:
			f = platformtest.Fault{Status: http.StatusGatewayTimeout, Body: "Gateway Timeout"}
		case 4:
			f = platformtest.Fault{Status: http.StatusGatewayTimeout, Body: "Gateway Timeout", After: true}
		case 5:
			f, ambiguous = platformtest.Fault{Delay: 1500 * time.Millisecond}, false // slow, but it answers
		case 6:
			f = platformtest.Fault{Hang: true} // never answers: the call times out
		default:
			f = platformtest.Fault{Hang: true, After: true} // made, and the answer never comes
		}
		p.mu.Lock()
		p.faulted[p.text(r)] = true
		if ambiguous {
			p.ambiguous[p.text(r)] = true
		}
		p.mu.Unlock()
		p.mu.Lock()
		p.faults[faultName(f)]++
		p.mu.Unlock()
		return &f
	}
}

// received counts the requests the fake got, by post text, and the
// first time each text arrived.
func (p *platform) received() (map[string]int, map[string]time.Time) {
	counts, first := map[string]int{}, map[string]time.Time{}
	for _, r := range p.server.Find(p.route) {
		t := p.text(r)
		counts[t]++
		if _, ok := first[t]; !ok {
			first[t] = r.At
		}
	}
	return counts, first
}

// formText reads a Mastodon status's text.
func formText(r platformtest.Request) string {
	v, _ := url.ParseQuery(string(r.Body))
	return v.Get("status")
}

// containerText reads the text of the container an Instagram publish names.
func containerText(f *metatest.Fake) func(platformtest.Request) string {
	return func(r platformtest.Request) string {
		v, _ := url.ParseQuery(string(r.Body))
		return f.ContainerText(v.Get("creation_id"))
	}
}

func jsonField(field string) func(platformtest.Request) string {
	return func(r platformtest.Request) string {
		var m map[string]any
		_ = json.Unmarshal(r.Body, &m)
		s, _ := m[field].(string)
		return s
	}
}

// replica is one herald process, started again after each stop.
type replica struct {
	name, bin, kubeconfig, base string
	// args are further flags.
	args   []string
	mu     sync.Mutex
	cmd    *exec.Cmd
	exited chan struct{}
	log    *os.File
}

func (r *replica) start(t *testing.T) {
	r.mu.Lock()
	defer r.mu.Unlock()
	listen := strings.TrimPrefix(r.base, "http://")
	r.cmd = exec.Command(r.bin, "--kubeconfig", r.kubeconfig, "--namespace", "herald-system", "--egress-allow", "127.0.0.0/8",
		"--listen", listen, "--public-url", r.base, "--health-probe-bind-address", "127.0.0.1:0", "--metrics-bind-address", "0",
		"--publish-timeout", callTimeout.String(), "--retry-backoff", "2s", "--zap-log-level", "info")
	r.cmd.Args = append(r.cmd.Args, r.args...)
	r.cmd.Env = append(os.Environ(), "KUBECONFIG=")
	r.cmd.Stdout, r.cmd.Stderr = r.log, r.log
	if err := r.cmd.Start(); err != nil {
		t.Fatalf("starting %s: %v", r.name, err)
	}
	exited := make(chan struct{})
	r.exited = exited
	cmd := r.cmd
	go func() { _ = cmd.Wait(); close(exited) }()
}

// signal stops the replica with sig and waits for it to exit.
func (r *replica) signal(sig syscall.Signal) {
	r.mu.Lock()
	cmd, exited := r.cmd, r.exited
	r.mu.Unlock()
	_ = cmd.Process.Signal(sig)
	select {
	case <-exited:
	case <-time.After(2 * time.Minute):
		_ = cmd.Process.Kill()
		<-exited
	}
}

// namespacePerShard names one namespace in each of n publishing shards.
func namespacePerShard(n int) []string {
	if n <= 1 {
		return []string{"soak"}
	}
	byShard := make([]string, n)
	for k, found := 0, 0; found < n; k++ {
		ns := fmt.Sprintf("soak-%d", k)
		if i := shard.Of(ns, n); byShard[i] == "" {
			byShard[i] = ns
			found++
		}
	}
	return byShard
}

func freePort(t *testing.T) int {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

func TestSoak(t *testing.T) {
	g := NewWithT(t)
	ctx := context.Background()
	root, err := controlplane.ModuleRoot()
	g.Expect(err).NotTo(HaveOccurred())
	dir := t.TempDir()
	bin := filepath.Join(dir, "herald")
	build := exec.Command("go", "build", "-o", bin, ".")
	build.Dir = root
	out, err := build.CombinedOutput()
	g.Expect(err).NotTo(HaveOccurred(), "%s", out)

	assets, err := controlplane.AssetsDir()
	g.Expect(err).NotTo(HaveOccurred())
	cluster, err := controlplane.Start(filepath.Join(dir, "data"), assets)
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() { _ = cluster.Stop() })
	c, err := client.New(cluster.Config, client.Options{Scheme: scheme.New()})
	g.Expect(err).NotTo(HaveOccurred())
	namespaces := namespacePerShard(shards)
	for _, ns := range append([]string{"herald-system"}, namespaces...) {
		g.Expect(c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})).To(Succeed())
	}

	// The fakes, each failing faultRate of its calls.
	rng, rngMu := rand.New(rand.NewPCG(uint64(time.Now().UnixNano()), 7)), &sync.Mutex{}
	masto, disc, slk, graph := mastodontest.New(t, "soak-token"), discordtest.New(t), slacktest.New(t), metatest.New(t)
	graph.Quota = 1 << 20 // the soak is about faults, not Instagram's quota
	platforms := []*platform{
		{name: "mastodon", server: masto.Server, route: "POST /api/v1/statuses", text: formText,
			profile: func(ns, name string) (socialv1alpha1.SocialProfileSpec, map[string]string) {
				return socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("mastodon"), Handle: "@soak@fake.example", Endpoint: masto.URL},
					map[string]string{"accessToken": masto.Token}
			}},
		{name: "discord", server: disc.Server, route: discordtest.ExecuteRoute, text: jsonField("content"),
			profile: func(ns, name string) (socialv1alpha1.SocialProfileSpec, map[string]string) {
				return socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("discord"), Handle: "Soak"}, map[string]string{"webhookURL": disc.WebhookURL()}
			}},
		{name: "slack", server: slk.Server, route: slacktest.Route, text: jsonField("text"),
			profile: func(ns, name string) (socialv1alpha1.SocialProfileSpec, map[string]string) {
				return socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("slack"), Handle: "#soak"}, map[string]string{"webhookURL": slk.WebhookURL()}
			}},
		// Instagram's faults hit the call that publishes a container: a
		// lost answer there is settled by asking the container.
		{name: "instagram", server: graph.Server, route: "POST /v24.0/" + metatest.IGUserID + "/media_publish", text: containerText(graph),
			profile: func(ns, name string) (socialv1alpha1.SocialProfileSpec, map[string]string) {
				return socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("instagram"), Handle: "@" + metatest.Username},
					map[string]string{"accessToken": metatest.UserToken, "igUserId": metatest.IGUserID}
			}},
	}
	for _, p := range platforms {
		p.ambiguous, p.faulted, p.faults = map[string]bool{}, map[string]bool{}, map[string]int{}
		p.server.Inject(p.route, p.chaos(rng, rngMu))
	}

	// Twenty profiles: six on Mastodon, five each on Discord and Slack,
	// four on Instagram.
	var profiles []string
	platformOf, namespaceOf := map[string]*platform{}, map[string]string{}
	perPlatform := []int{6, 5, 5, 4}
	for i := range 20 {
		p, n := platforms[0], i
		for k, count := range perPlatform {
			if n < count {
				p = platforms[k]
				break
			}
			n -= count
		}
		name := fmt.Sprintf("%s-%02d", p.name, i)
		ns := namespaces[i%len(namespaces)]
		spec, data := p.profile(ns, name)
		g.Expect(c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, StringData: data})).To(Succeed())
		spec.CredentialsSecretRef = &socialv1alpha1.LocalObjectReference{Name: name}
		spec.PostsPerHour = ptr(int32(100000)) // the soak is about faults, not Herald's own rate limits
		g.Expect(c.Create(ctx, &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Spec: spec})).To(Succeed())
		profiles = append(profiles, name)
		platformOf[name], namespaceOf[name] = p, ns
	}

	// Two replicas.
	var replicas []*replica
	for _, name := range []string{"a", "b"} {
		log, err := os.Create(filepath.Join(dir, "herald-"+name+".log"))
		g.Expect(err).NotTo(HaveOccurred())
		r := &replica{name: name, bin: bin, kubeconfig: cluster.KubeconfigPath, base: fmt.Sprintf("http://127.0.0.1:%d", freePort(t)), log: log,
			args: []string{"--platform-api", "instagram=" + graph.URL, "--publish-shards", strconv.Itoa(shards)}}
		r.start(t)
		replicas = append(replicas, r)
	}
	t.Cleanup(func() {
		for _, r := range replicas {
			r.signal(syscall.SIGTERM)
		}
		if t.Failed() {
			for _, r := range replicas {
				data, _ := os.ReadFile(r.log.Name())
				t.Logf("herald %s, last lines:\n%s", r.name, tail(string(data), 60))
			}
		}
	})

	// The posts, due evenly over the soak, each to one profile.
	start := time.Now().Add(15 * time.Second)
	type planned struct {
		name, profile, text string
		due                 time.Time
	}
	var plan []planned
	add := func(name string, i int, due time.Time) {
		p := planned{name: name, profile: profiles[i%len(profiles)], due: due}
		p.text = "soak post " + p.name
		post := &socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Namespace: namespaceOf[p.profile], Name: p.name},
			Spec: socialv1alpha1.ScheduledPostSpec{Text: p.text, Profiles: []string{p.profile}, ScheduledAt: due.UTC().Format(time.RFC3339Nano)}}
		if platformOf[p.profile].name == "instagram" { // Instagram needs a photo, which it fetches itself
			post.Spec.Media = []socialv1alpha1.PostMedia{{URL: "https://cdn.soak.example/" + p.name + ".jpg"}}
		}
		g.Expect(c.Create(ctx, post)).To(Succeed())
		plan = append(plan, p)
	}
	for i := range postCount {
		add(fmt.Sprintf("soak-%04d", i), i, start.Add(time.Duration(int64(duration)*int64(i)/int64(postCount))))
	}
	// Bursts: burstSize posts due at one instant, spread over the soak so
	// that kills and rollouts fall near them.
	for b := range burstCount {
		at := start.Add(time.Duration(int64(duration) * int64(b+1) / int64(burstCount+1)))
		for i := range burstSize {
			add(fmt.Sprintf("burst-%d-%04d", b, i), i, at)
		}
	}

	// The chaos: every 10 to 20 s, one replica is killed or rolled, in
	// turn, and started again at once. (The waits are the workload's
	// schedule, not waits for a condition.)
	type stop struct {
		at   time.Time
		kill bool
	}
	var stops []stop
	for time.Now().Before(start.Add(duration)) {
		time.Sleep(10*time.Second + time.Duration(rand.Int64N(int64(10*time.Second))))
		if !time.Now().Before(start.Add(duration)) {
			break
		}
		r := replicas[len(stops)%2]
		kill := len(stops)%2 == 0
		sig := syscall.SIGTERM
		if kill {
			sig = syscall.SIGKILL
		}
		stops = append(stops, stop{at: time.Now(), kill: kill})
		r.signal(sig)
		r.start(t)
	}

	// Every delivery final.
	final := func(d socialv1alpha1.Delivery) bool {
		return d.Phase != socialv1alpha1.DeliveryPending && d.Phase != socialv1alpha1.DeliveryPublishing && d.Phase != socialv1alpha1.DeliveryRetrying
	}
	deliveries := map[string]socialv1alpha1.Delivery{}
	settle := 3*time.Minute + 2*(callTimeout+10*time.Second)
	g.Eventually(func(g Gomega) {
		list := &socialv1alpha1.ScheduledPostList{}
		g.Expect(c.List(ctx, list)).To(Succeed()) // every soak namespace
		open := 0
		for _, p := range list.Items {
			for _, d := range p.Status.Deliveries {
				deliveries[p.Name] = d
				if !final(d) {
					open++
				}
			}
		}
		g.Expect(deliveries).To(HaveLen(len(plan)))
		g.Expect(open).To(BeZero(), "deliveries not yet final")
	}, settle, time.Second).Should(Succeed())

	// Account for every delivery.
	counts, first := map[string]int{}, map[string]time.Time{}
	for _, p := range platforms {
		c, f := p.received()
		for k, v := range c {
			counts[k] += v
		}
		for k, v := range f {
			first[k] = v
		}
	}
	online := func(p planned) int {
		switch platformOf[p.profile].name {
		case "mastodon":
			return countText(masto.Statuses(), p.text)
		case "instagram":
			return len(graph.PostsWithText(metatest.IGUserID, p.text))
		}
		return messagesMade(platformOf[p.profile], p.text)
	}
	// touchedByKill: a SIGKILL came while the post was being sent, or the
	// post came due while a killed leader's lease ran out (15 s) and the
	// other replica took over.
	touchedByKill := func(p planned) bool {
		for _, s := range stops {
			if s.kill && !s.at.Before(p.due.Add(-20*time.Second)) && s.at.Before(p.due.Add(callTimeout)) {
				return true
			}
		}
		return false
	}
	// claimedAtKill: the delivery's last claim was made within a call's
	// length before a SIGKILL, or it was claimed ahead in the publishing
	// ledger, due within the ledger's window after it (status times are
	// whole seconds).
	claimedAtKill := func(d socialv1alpha1.Delivery) bool {
		if d.LastAttemptAt == nil {
			return false
		}
		for _, s := range stops {
			if s.kill && !d.LastAttemptAt.Time.Before(s.at.Add(-callTimeout-2*time.Second)) && d.LastAttemptAt.Time.Before(s.at.Add(controllers.DefaultLedger.Window+time.Second)) {
				return true
			}
		}
		return false
	}
	var publishedOnce, duplicates, unknownKill, unknownAnswer, unexplained, missed, lost int
	failed, unknownOn := map[string]int{}, map[string]int{}
	var lateness []time.Duration
	type latePost struct {
		planned
		late time.Duration
	}
	var late []latePost
	for _, p := range plan {
		d := deliveries[p.name]
		n := online(p)
		plat := platformOf[p.profile]
		if n > 1 {
			duplicates++
			t.Errorf("%s (%s) is online %d times", p.name, p.profile, n)
		}
		switch d.Phase {
		case socialv1alpha1.DeliveryPublished:
			if n == 0 {
				lost++
				t.Errorf("%s (%s) is Published but the platform has no such post", p.name, p.profile)
				continue
			}
			publishedOnce++
			if !touchedByKill(p) && !plat.wasFaulted(p.text) {
				lateness = append(lateness, first[p.text].Sub(p.due))
				late = append(late, latePost{p, first[p.text].Sub(p.due)})
			}
		case socialv1alpha1.DeliveryUnknown:
			unknownOn[plat.name]++
			switch {
			case plat.isAmbiguous(p.text):
				unknownAnswer++
			case claimedAtKill(d):
				unknownKill++
			default:
				unexplained++
				t.Errorf("%s (%s) is Unknown with no unclear answer and no SIGKILL near it: %s", p.name, p.profile, d.LastError)
			}
		case socialv1alpha1.DeliveryMissed:
			missed++
			if n > 0 {
				lost++
				t.Errorf("%s (%s) is Missed but online", p.name, p.profile)
			}
		default:
			failed[reasonOf(d.LastError)]++
			if n > 0 {
				lost++
				t.Errorf("%s (%s) is %s but online: %s", p.name, p.profile, d.Phase, d.LastError)
			}
		}
	}
	slices.Sort(lateness)
	kills, rolls := 0, 0
	for _, s := range stops {
		if s.kill {
			kills++
		} else {
			rolls++
		}
	}
	report := []string{
		fmt.Sprintf("soak: %d posts over %s plus %d bursts of %d due at one instant, to %d profiles (%d Mastodon, %d Discord, %d Slack, %d Instagram), %.0f%% of calls faulted; %d SIGKILLs and %d SIGTERM rollouts of one of two replicas, %d publishing shards",
			postCount, duration, burstCount, burstSize, len(profiles), perPlatform[0], perPlatform[1], perPlatform[2], perPlatform[3], 100*faultRate, kills, rolls, shards),
		fmt.Sprintf("published once %d | duplicates %d | Unknown %d (%d after an unclear platform answer, %d in flight at a SIGKILL, %d unexplained; by platform %v) | Missed %d | Failed %d %v | lost %d",
			publishedOnce, duplicates, unknownAnswer+unknownKill+unexplained, unknownAnswer, unknownKill, unexplained, unknownOn, missed, sum(failed), failed, lost),
		fmt.Sprintf("lateness of the %d posts no kill or fault touched: p50 %s, p99 %s", len(lateness), percentile(lateness, 50), percentile(lateness, 99)),
	}
	// The latest of them, with the stop before each: what the p99 is made of.
	slices.SortFunc(late, func(a, b latePost) int { return int(b.late - a.late) })
	var latest []string
	for _, l := range late[:min(5, len(late))] {
		before := "no stop before it"
		for _, s := range stops {
			if s.at.Before(l.due) {
				kind := "SIGTERM"
				if s.kill {
					kind = "SIGKILL"
				}
				before = fmt.Sprintf("%s %s before", kind, l.due.Sub(s.at).Round(100*time.Millisecond))
			}
		}
		latest = append(latest, fmt.Sprintf("%s (%s) %s late, %s", l.name, platformOf[l.profile].name, l.late.Round(10*time.Millisecond), before))
	}
	report = append(report, "latest of those: "+strings.Join(latest, "; "))
	for _, p := range platforms {
		report = append(report, fmt.Sprintf("%s faults: %v", p.name, p.faults))
	}
	for _, line := range report {
		fmt.Printf("\nobserved: %s\n", line)
	}
	g.Expect(duplicates).To(BeZero())
	g.Expect(lost).To(BeZero())
	g.Expect(unexplained).To(BeZero())
}

// faultName says in words what a fault did.
func faultName(f platformtest.Fault) string {
	var name string
	switch {
	case f.Hang:
		name = "no answer"
	case f.Delay > 0:
		name = "slow"
	default:
		name = strconv.Itoa(f.Status)
	}
	if f.After {
		name += " after posting"
	}
	return name
}

func (p *platform) wasFaulted(text string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.faulted[text]
}

func (p *platform) isAmbiguous(text string) bool {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.ambiguous[text]
}

// messagesMade counts the posts a webhook platform made with text: every
// request that reached the fake's handler (not answered by a fault before
// it) made one.
func messagesMade(p *platform, text string) int {
	n := 0
	for _, r := range p.server.Find(p.route) {
		if p.text(r) == text && r.Handled {
			n++
		}
	}
	return n
}

func countText(texts []string, text string) int {
	n := 0
	for _, t := range texts {
		if t == text {
			n++
		}
	}
	return n
}

func reasonOf(msg string) string {
	if i := strings.IndexAny(msg, ".:;"); i > 0 && i < 60 {
		return msg[:i]
	}
	if len(msg) > 60 {
		return msg[:60]
	}
	return msg
}

func sum(m map[string]int) int {
	n := 0
	for _, v := range m {
		n += v
	}
	return n
}

func percentile(ds []time.Duration, p int) time.Duration {
	if len(ds) == 0 {
		return 0
	}
	i := (len(ds)*p + 99) / 100
	return ds[min(max(i-1, 0), len(ds)-1)].Round(time.Millisecond)
}

func tail(s string, n int) string {
	lines := strings.Split(s, "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}

func ptr[T any](v T) *T { return &v }
