package pds

import (
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"time"

	. "github.com/onsi/ginkgo/v2"
	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/publish"
	"github.com/herald-dev/herald/internal/signin"
	"github.com/herald-dev/herald/mcpserver/oauth"
)

var _ = Describe("connecting a Bluesky account on Herald's page", func() {
	It("finds the account's PDS in the DID document the PDS's createSession returns", func() {
		// Signing in through another name of the server (as through an
		// entryway), the adapter reports the PDS the DID document names.
		alias := strings.Replace(pds.URL, "localhost", "127.0.0.1", 1)
		Expect(alias).NotTo(Equal(pds.URL), "the PDS is served at a localhost URL")
		acct, err := publishers()[publish.Platform("bluesky")].Verify(ctx, publish.Profile{Platform: "bluesky", Endpoint: alias,
			Credentials: publish.Credentials{"identifier": []byte(pds.Handle), "appPassword": []byte(pds.Password)}})
		Expect(err).NotTo(HaveOccurred())
		Expect(acct.ID).To(Equal(pds.DID))
		Expect(acct.Endpoint).To(Equal(strings.TrimRight(pds.URL, "/")))
	})

	It("checks the handle and app password with the PDS's createSession, saves nothing when it refuses, and the saved profile publishes", func() {
		stop, _ := startManager(publishers(), false)
		defer stop()
		const ns, operatorNS, password = "bsky-connect", "herald-system", "pat-password-1"
		for _, n := range []string{ns, operatorNS} {
			Expect(client.IgnoreAlreadyExists(k8sClient.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: n}}))).To(Succeed())
		}
		Expect(oauth.EnsureLocalUser(ctx, k8sClient, operatorNS, "pat", password)).To(Succeed())
		Expect(k8sClient.Create(ctx, &socialv1alpha1.Workspace{ObjectMeta: metav1.ObjectMeta{Name: ns},
			Spec: socialv1alpha1.WorkspaceSpec{DisplayName: "Bluesky connect", Members: []socialv1alpha1.WorkspaceMember{{Subject: "pat", Role: socialv1alpha1.RoleEditor}}}})).To(Succeed())

		herald := httptest.NewUnstartedServer(nil)
		public := "http://" + herald.Listener.Addr().String()
		srv, err := oauth.New(oauth.Config{PublicURL: public, Namespace: operatorNS, DevMode: true,
			Outbound: &http.Client{Timeout: 10 * time.Second, Transport: traffic}, Publishers: publishers()}, k8sClient, k8sClient)
		Expect(err).NotTo(HaveOccurred())
		mux := http.NewServeMux()
		srv.Routes(mux)
		herald.Config.Handler = mux
		herald.Start()
		defer herald.Close()
		page := public + oauth.ConnectPath(ns, "bluesky") + "?" + url.Values{"handle": {pds.Handle}, "pds": {pds.URL}}.Encode()
		connectWith := func(appPassword string) (int, string) {
			status, body, err := signin.Connect(ctx, signin.ConnectOptions{URL: page, Username: "pat", Password: password,
				Fields: url.Values{"handle": {pds.Handle}, "appPassword": {appPassword}, "pds": {pds.URL}, "profile": {"bsky"}}})
			Expect(err).NotTo(HaveOccurred())
			return status, body
		}

		By("a wrong app password: the PDS refuses it and nothing is saved")
		sessions := len(traffic.statuses("com.atproto.server.createSession"))
		status, body := connectWith("wrong-app-password")
		Expect(status).To(Equal(http.StatusBadRequest), body)
		Expect(body).To(ContainSubstring("bluesky did not accept these credentials"))
		// Other profiles' sessions may be made meanwhile: this one's is the 401.
		Expect(traffic.statuses("com.atproto.server.createSession")[sessions:]).To(ContainElement(401))
		err = k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "bsky"}, &socialv1alpha1.SocialProfile{})
		Expect(client.IgnoreNotFound(err)).To(Succeed())
		Expect(err).To(HaveOccurred())

		By("the app password: createSession accepts it, the profile and its Secret are saved")
		status, body = connectWith(pds.Password)
		Expect(status).To(Equal(http.StatusOK), body)
		Expect(body).To(ContainSubstring("as profile bsky."))
		Expect(traffic.statuses("com.atproto.server.createSession")[sessions+1:]).To(ContainElement(200))
		profile := &socialv1alpha1.SocialProfile{}
		Eventually(func(g Gomega) {
			g.Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: "bsky"}, profile)).To(Succeed())
			ready := meta.FindStatusCondition(profile.Status.Conditions, socialv1alpha1.ConditionReady)
			g.Expect(ready).NotTo(BeNil())
			g.Expect(ready.Status).To(Equal(metav1.ConditionTrue), "%s: %s", ready.Reason, ready.Message)
			g.Expect(profile.Status.AccountID).To(Equal(pds.DID))
		}, timeout, interval).Should(Succeed())
		Expect(profile.Spec.Endpoint).To(Equal(pds.URL))
		secret := &corev1.Secret{}
		Expect(k8sClient.Get(ctx, client.ObjectKey{Namespace: ns, Name: profile.Spec.CredentialsSecretRef.Name}, secret)).To(Succeed())
		Expect(string(secret.Data["appPassword"])).To(Equal(pds.Password))
		Expect(secret.OwnerReferences).To(ContainElement(HaveField("UID", profile.UID)))

		By("the connected profile publishes to the PDS")
		before := len(listPosts(Default))
		due := fakeClock.Now().Add(10 * time.Minute)
		post := &socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "hello"},
			Spec: socialv1alpha1.ScheduledPostSpec{Text: "Connected on Herald's page", Profiles: []string{"bsky"}, ScheduledAt: due.Format(time.RFC3339)}}
		Expect(k8sClient.Create(ctx, post)).To(Succeed())
		expectPhase(post, socialv1alpha1.PostScheduled)
		fakeClock.SetTime(due)
		tick(post)
		expectPhase(post, socialv1alpha1.PostPublished)
		Expect(listPosts(Default)).To(HaveLen(before + 1))
	})
})
