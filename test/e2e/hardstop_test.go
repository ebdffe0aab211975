package e2e

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	. "github.com/onsi/gomega"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	socialv1alpha1 "github.com/herald-dev/herald/api/v1alpha1"
	"github.com/herald-dev/herald/internal/controlplane"
)

// controlPlanePIDs reads the processes herald recorded for its data folder.
func controlPlanePIDs(g Gomega, dataDir string) map[string]int {
	data, err := os.ReadFile(filepath.Join(dataDir, "controlplane.pids"))
	g.Expect(err).NotTo(HaveOccurred())
	var records []struct {
		Name string `json:"name"`
		PID  int    `json:"pid"`
	}
	g.Expect(json.Unmarshal(data, &records)).To(Succeed())
	pids := map[string]int{}
	for _, r := range records {
		pids[r.Name] = r.PID
	}
	return pids
}

// statFields are the fields of /proc/<pid>/stat after the command name,
// nil when there is no such process.
func statFields(pid int) []string {
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return nil
	}
	s := string(stat)
	return strings.Fields(s[strings.LastIndexByte(s, ')')+1:])
}

// running reports whether pid runs; a zombie ("Z") runs nothing.
func running(pid int) bool {
	fields := statFields(pid)
	return len(fields) > 0 && fields[0] != "Z" && fields[0] != "X"
}

// procStartTime is field 22 of /proc/<pid>/stat.
func procStartTime(g Gomega, pid int) uint64 {
	fields := statFields(pid)
	g.Expect(len(fields)).To(BeNumerically(">", 19), "pid %d runs", pid)
	start, err := strconv.ParseUint(fields[19], 10, 64)
	g.Expect(err).NotTo(HaveOccurred())
	return start
}

// waitReady waits until the demo workspace is Ready.
func waitReady(t *testing.T, g *WithT, h *heraldProcess, dataDir string) client.Client {
	t.Helper()
	var c client.Client
	g.Eventually(func(g Gomega) {
		g.Expect(filepath.Join(dataDir, "kubeconfig")).To(BeAnExistingFile())
		c = kubeClient(g, filepath.Join(dataDir, "kubeconfig"))
		ws := &socialv1alpha1.Workspace{}
		g.Expect(c.Get(context.Background(), client.ObjectKey{Name: "demo"}, ws)).To(Succeed())
		g.Expect(meta.IsStatusConditionTrue(ws.Status.Conditions, socialv1alpha1.ConditionReady)).To(BeTrue())
	}, 90*time.Second, 250*time.Millisecond).Should(Succeed(), "herald output:\n%s", h.out.String())
	return c
}

// orphanEtcd starts etcd on dataDir from a shell that exits at once, so
// etcd outlives its parent without any death signal: what a Herald killed
// before it could stop its control plane, on a system without that
// signal, leaves behind.
func orphanEtcd(t *testing.T, g *WithT, dataDir string) int {
	t.Helper()
	assets, err := controlplane.AssetsDir()
	g.Expect(err).NotTo(HaveOccurred())
	port, peer := freePort(t), freePort(t)
	url := fmt.Sprintf("http://127.0.0.1:%d", port)
	script := fmt.Sprintf(`%s --data-dir=%s --listen-client-urls=%s --advertise-client-urls=%s --listen-peer-urls=http://127.0.0.1:%d --log-level=warn >/dev/null 2>&1 & echo $!`,
		filepath.Join(assets, "etcd"), filepath.Join(dataDir, "etcd"), url, url, peer)
	out, err := exec.Command("sh", "-c", script).Output()
	g.Expect(err).NotTo(HaveOccurred())
	pid, err := strconv.Atoi(strings.TrimSpace(string(out)))
	g.Expect(err).NotTo(HaveOccurred())
	t.Cleanup(func() {
		if running(pid) {
			_ = syscall.Kill(pid, syscall.SIGKILL)
		}
	})
	g.Eventually(func() error {
		resp, err := http.Get(url + "/health")
		if err == nil {
			resp.Body.Close()
		}
		return err
	}, 30*time.Second, 100*time.Millisecond).Should(Succeed(), "the orphaned etcd answers")
	return pid
}

// TestHardStopLeavesNoControlPlane is Herald killed outright (an OOM kill,
// a second Ctrl-C): its etcd and kube-apiserver end with it, and the next
// start comes up with the data kept.
func TestHardStopLeavesNoControlPlane(t *testing.T) {
	g := NewWithT(t)
	bin := buildHerald(t)
	dataDir := t.TempDir()
	first := startHerald(t, bin, dataDir)
	c := waitReady(t, g, first, dataDir)
	marker := &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Name: "survives-kill", Namespace: "demo"}, Data: map[string]string{"run": "first"}}
	g.Expect(c.Create(context.Background(), marker)).To(Succeed())
	pids := controlPlanePIDs(g, dataDir)
	g.Expect(pids).To(HaveKey("etcd"))
	g.Expect(pids).To(HaveKey("kube-apiserver"))
	for name, pid := range pids {
		g.Expect(running(pid)).To(BeTrue(), "%s (pid %d) runs", name, pid)
	}

	g.Expect(first.cmd.Process.Signal(syscall.SIGKILL)).To(Succeed())
	g.Eventually(first.done, 10*time.Second).Should(Receive())
	for name, pid := range pids {
		g.Eventually(func() bool { return running(pid) }, 10*time.Second, 50*time.Millisecond).Should(BeFalse(),
			"%s (pid %d) ends with the herald that started it", name, pid)
	}

	second := startHerald(t, bin, dataDir)
	c = waitReady(t, g, second, dataDir)
	found := &corev1.ConfigMap{}
	g.Expect(c.Get(context.Background(), client.ObjectKeyFromObject(marker), found)).To(Succeed())
	g.Expect(found.Data).To(HaveKeyWithValue("run", "first"))
	g.Expect(second.out.String()).NotTo(ContainSubstring("left running"), "nothing was left to stop")
	pids = controlPlanePIDs(g, dataDir)
	second.stop(g)
	for name, pid := range pids {
		g.Expect(running(pid)).To(BeFalse(), "%s (pid %d) stopped with Ctrl-C", name, pid)
	}
}

// TestLeftoverControlPlane starts herald on a folder where an etcd already
// runs: one recorded as Herald's own is stopped and the start goes on; one
// nobody recorded makes herald stop at once, naming it and how to stop it.
func TestLeftoverControlPlane(t *testing.T) {
	g := NewWithT(t)
	bin := buildHerald(t)
	dataDir := t.TempDir()

	orphan := orphanEtcd(t, g, dataDir)
	record := fmt.Sprintf(`[{"name":"etcd","pid":%d,"startTime":%d}]`, orphan, procStartTime(g, orphan))
	g.Expect(os.WriteFile(filepath.Join(dataDir, "controlplane.pids"), []byte(record), 0o600)).To(Succeed())
	h := startHerald(t, bin, dataDir)
	waitReady(t, g, h, dataDir)
	g.Expect(h.out.String()).To(ContainSubstring("stopped the control plane an earlier Herald left running on this data folder"))
	g.Expect(h.out.String()).To(ContainSubstring(fmt.Sprintf("etcd (pid %d)", orphan)))
	g.Expect(running(orphan)).To(BeFalse())
	h.stop(g)

	foreign := orphanEtcd(t, g, dataDir) // not recorded anywhere
	h = startHerald(t, bin, dataDir)
	var err error
	g.Eventually(h.done, 30*time.Second).Should(Receive(&err), "herald gives up at once, without retrying")
	g.Expect(err).To(HaveOccurred())
	g.Expect(h.out.String()).To(ContainSubstring(fmt.Sprintf("etcd (pid %d) already running on the data folder %s", foreign, dataDir)))
	g.Expect(h.out.String()).To(ContainSubstring(fmt.Sprintf("stop it (kill %d) and start again", foreign)))
	g.Expect(running(foreign)).To(BeTrue(), "a process herald did not start is not herald's to stop")
}

// TestSecondRunOnTheSameFolder is `make run` in a second terminal: it says
// that Herald already runs there and where to reach it, and the first keeps
// running.
func TestSecondRunOnTheSameFolder(t *testing.T) {
	g := NewWithT(t)
	bin := buildHerald(t)
	dataDir := t.TempDir()
	first := startHerald(t, bin, dataDir)
	c := waitReady(t, g, first, dataDir)

	second := startHerald(t, bin, dataDir)
	var err error
	g.Eventually(second.done, 30*time.Second).Should(Receive(&err))
	g.Expect(err).To(HaveOccurred())
	g.Expect(second.out.String()).To(ContainSubstring(fmt.Sprintf("Herald is already running on the data folder %s (pid %d", dataDir, first.cmd.Process.Pid)))
	g.Expect(second.out.String()).To(ContainSubstring("its MCP endpoint is " + first.baseURL + "/mcp"))
	g.Expect(c.Get(context.Background(), client.ObjectKey{Name: "demo"}, &socialv1alpha1.Workspace{})).To(Succeed(), "the first still serves")
	first.stop(g)
}

// TestShutdownOverrunNamesWhatRan stops herald while two platform calls
// hang longer than its grace period, one made by a reconcile (a post
// already due) and one by the publishing ledger's dispatcher (a post due
// a few seconds later): the log names both, and the control plane still
// stops.
func TestShutdownOverrunNamesWhatRan(t *testing.T) {
	g := NewWithT(t)
	bin := buildHerald(t)
	dataDir := t.TempDir()

	received, release := make(chan string, 2), make(chan struct{})
	receiver := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		var body struct{ Text string }
		_ = json.NewDecoder(r.Body).Decode(&body)
		select {
		case received <- body.Text:
		default:
		}
		<-release // a receiver that never answers
	})}
	receiverURL := fmt.Sprintf("127.0.0.1:%d", freePort(t))
	ln, err := net.Listen("tcp", receiverURL)
	g.Expect(err).NotTo(HaveOccurred())
	go func() { _ = receiver.Serve(ln) }()
	t.Cleanup(func() { close(release); _ = receiver.Close() })

	h := startHerald(t, bin, dataDir, "--graceful-shutdown-timeout", "2s")
	c := waitReady(t, g, h, dataDir)
	ctx := context.Background()
	g.Expect(c.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: "demo"},
		StringData: map[string]string{"signingSecret": "s3cret"}})).To(Succeed())
	g.Expect(c.Create(ctx, &socialv1alpha1.SocialProfile{ObjectMeta: metav1.ObjectMeta{Name: "hook", Namespace: "demo"},
		Spec: socialv1alpha1.SocialProfileSpec{Platform: socialv1alpha1.Platform("webhook"), Handle: "hook", Endpoint: "http://" + receiverURL,
			CredentialsSecretRef: &socialv1alpha1.LocalObjectReference{Name: "hook"}}})).To(Succeed())
	for name, due := range map[string]time.Time{"stuck": time.Now(), "queued": time.Now().Add(8 * time.Second)} {
		g.Expect(c.Create(ctx, &socialv1alpha1.ScheduledPost{ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: "demo"},
			Spec: socialv1alpha1.ScheduledPostSpec{Text: name, Profiles: []string{"hook"}, ScheduledAt: due.UTC().Format(time.RFC3339)}})).To(Succeed())
	}
	var texts []string
	for range 2 {
		var text string
		g.Eventually(received, 60*time.Second).Should(Receive(&text), "herald calls the receiver:\n%s", h.out.String())
		texts = append(texts, text)
	}
	g.Expect(texts).To(ConsistOf(ContainSubstring("stuck"), ContainSubstring("queued")))

	pids := controlPlanePIDs(g, dataDir)
	g.Expect(h.cmd.Process.Signal(syscall.SIGINT)).To(Succeed())
	g.Eventually(h.done, 60*time.Second).Should(Receive(&err))
	g.Expect(err).To(HaveOccurred(), "a shutdown that gave up is not a clean exit")
	g.Expect(h.out.String()).To(ContainSubstring("shutdown overran its grace period"))
	g.Expect(h.out.String()).To(ContainSubstring("ScheduledPost reconcile of demo/stuck"))
	g.Expect(h.out.String()).To(ContainSubstring("platform call to " + receiverURL + " for demo/queued"))
	g.Expect(h.out.String()).To(ContainSubstring("embedded control plane stopped"))
	for name, pid := range pids {
		g.Expect(running(pid)).To(BeFalse(), "%s (pid %d) stopped", name, pid)
	}
}
