package oauth

import (
	"bufio"
	"bytes"
	"context"
	"fmt"
	"strings"

	"golang.org/x/crypto/bcrypt"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// UsersSecretName is the Secret whose key UsersSecretKey holds local users in
// htpasswd format with bcrypt hashes (htpasswd -B).
const (
	UsersSecretName = "herald-users"
	UsersSecretKey  = "htpasswd"
)

// dummyHash is compared against when a user does not exist, so a failed
// login takes as long whether or not the name is known.
var dummyHash, _ = bcrypt.GenerateFromPassword([]byte("not-a-real-password"), bcrypt.DefaultCost)

// EnsureLocalUser creates or replaces user's line in the users Secret with a
// bcrypt hash of password. Pass a direct client (client.New, or the manager's
// APIReader-backed writer), not a cached one: a cached Get on a Secret would
// start a cluster-wide Secret informer.
func EnsureLocalUser(ctx context.Context, c client.Client, namespace, user, password string) error {
	if user == "" || strings.ContainsAny(user, ":\n\r") {
		return fmt.Errorf("oauth: user name %q is empty or contains ':' or a line break; choose a plain name", user)
	}
	if password == "" {
		return fmt.Errorf("oauth: the password for user %q is empty; set one", user)
	}
	hash, err := bcrypt.GenerateFromPassword([]byte(password), bcrypt.DefaultCost)
	if err != nil {
		return fmt.Errorf("oauth: hashing the password for %q: %w (bcrypt accepts at most 72 bytes)", user, err)
	}
	line := user + ":" + string(hash)
	return retry.RetryOnConflict(retry.DefaultRetry, func() error {
		var sec corev1.Secret
		err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: UsersSecretName}, &sec)
		if apierrors.IsNotFound(err) {
			return c.Create(ctx, &corev1.Secret{
				ObjectMeta: metav1.ObjectMeta{Namespace: namespace, Name: UsersSecretName},
				Data:       map[string][]byte{UsersSecretKey: []byte(line + "\n")},
			})
		}
		if err != nil {
			return err
		}
		var out bytes.Buffer
		for _, l := range strings.Split(string(sec.Data[UsersSecretKey]), "\n") {
			if l == "" || strings.HasPrefix(l, user+":") {
				continue
			}
			out.WriteString(l + "\n")
		}
		out.WriteString(line + "\n")
		if sec.Data == nil {
			sec.Data = map[string][]byte{}
		}
		sec.Data[UsersSecretKey] = out.Bytes()
		return c.Update(ctx, &sec)
	})
}

// checkPassword reports whether user is known and whether user/password
// match a line of the users Secret.
func (s *Server) checkPassword(ctx context.Context, user, password string) (known, ok bool, err error) {
	var sec corev1.Secret
	err = s.apiReader.Get(ctx, client.ObjectKey{Namespace: s.cfg.Namespace, Name: UsersSecretName}, &sec)
	if err != nil && !apierrors.IsNotFound(err) {
		return false, false, err
	}
	hash := dummyHash
	found := false
	sc := bufio.NewScanner(bytes.NewReader(sec.Data[UsersSecretKey]))
	for sc.Scan() {
		name, h, ok := strings.Cut(strings.TrimSpace(sc.Text()), ":")
		if ok && name == user {
			hash, found = []byte(h), true
			break
		}
	}
	match := bcrypt.CompareHashAndPassword(hash, []byte(password)) == nil
	return found, found && match, nil
}
